//! The standard ggml models: names, where to get them, their size and SHA-256, and where
//! they live on this machine.

use std::path::{Path, PathBuf};

use serde::Serialize;

/// whisper.cpp's models on Hugging Face, pinned to one revision so the checksums hold.
pub const WHISPER_BASE_URL: &str =
    "https://huggingface.co/ggerganov/whisper.cpp/resolve/5359861c739e955e79d9a303bcbc70fb988958b1";
/// whisper.cpp's Silero VAD models.
pub const VAD_BASE_URL: &str = "https://huggingface.co/ggml-org/whisper-vad/resolve/main";

/// The default speech model (small enough for any machine, multilingual).
pub const DEFAULT_MODEL: &str = "base";
/// The default voice activity model.
pub const DEFAULT_VAD: &str = "silero-v6.2.0";

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Kind {
    Whisper,
    Vad,
}

/// One downloadable model.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct KnownModel {
    pub name: &'static str,
    pub kind: Kind,
    pub size_bytes: u64,
    pub sha256: &'static str,
    pub english_only: bool,
}

impl KnownModel {
    /// The file name on disk (and on the server).
    pub fn file_name(&self) -> String {
        format!("ggml-{}.bin", self.name)
    }

    pub fn url(&self) -> String {
        let base = match self.kind {
            Kind::Whisper => WHISPER_BASE_URL,
            Kind::Vad => VAD_BASE_URL,
        };
        format!("{base}/{}", self.file_name())
    }
}

const fn w(name: &'static str, size_bytes: u64, sha256: &'static str) -> KnownModel {
    KnownModel {
        name,
        kind: Kind::Whisper,
        size_bytes,
        sha256,
        english_only: false,
    }
}

const fn en(name: &'static str, size_bytes: u64, sha256: &'static str) -> KnownModel {
    KnownModel {
        name,
        kind: Kind::Whisper,
        size_bytes,
        sha256,
        english_only: true,
    }
}

/// Sizes and SHA-256 as published (Git LFS object ids) at [`WHISPER_BASE_URL`]'s revision.
pub const MODELS: &[KnownModel] = &[
    w(
        "tiny",
        77_691_713,
        "be07e048e1e599ad46341c8d2a135645097a538221678b7acdd1b1919c6e1b21",
    ),
    w(
        "tiny-q5_1",
        32_152_673,
        "818710568da3ca15689e31a743197b520007872ff9576237bda97bd1b469c3d7",
    ),
    w(
        "tiny-q8_0",
        43_537_433,
        "c2085835d3f50733e2ff6e4b41ae8a2b8d8110461e18821b09a15c40c42d1cca",
    ),
    en(
        "tiny.en",
        77_704_715,
        "921e4cf8686fdd993dcd081a5da5b6c365bfde1162e72b08d75ac75289920b1f",
    ),
    en(
        "tiny.en-q5_1",
        32_166_155,
        "c77c5766f1cef09b6b7d47f21b546cbddd4157886b3b5d6d4f709e91e66c7c2b",
    ),
    en(
        "tiny.en-q8_0",
        43_550_795,
        "5bc2b3860aa151a4c6e7bb095e1fcce7cf12c7b020ca08dcec0c6d018bb7dd94",
    ),
    w(
        "base",
        147_951_465,
        "60ed5bc3dd14eea856493d334349b405782ddcaf0028d4b5df4088345fba2efe",
    ),
    w(
        "base-q5_1",
        59_707_625,
        "422f1ae452ade6f30a004d7e5c6a43195e4433bc370bf23fac9cc591f01a8898",
    ),
    w(
        "base-q8_0",
        81_768_585,
        "c577b9a86e7e048a0b7eada054f4dd79a56bbfa911fbdacf900ac5b567cbb7d9",
    ),
    en(
        "base.en",
        147_964_211,
        "a03779c86df3323075f5e796cb2ce5029f00ec8869eee3fdfb897afe36c6d002",
    ),
    en(
        "base.en-q5_1",
        59_721_011,
        "4baf70dd0d7c4247ba2b81fafd9c01005ac77c2f9ef064e00dcf195d0e2fdd2f",
    ),
    en(
        "base.en-q8_0",
        81_781_811,
        "a4d4a0768075e13cfd7e19df3ae2dbc4a68d37d36a7dad45e8410c9a34f8c87e",
    ),
    w(
        "small",
        487_601_967,
        "1be3a9b2063867b937e64e2ec7483364a79917e157fa98c5d94b5c1fffea987b",
    ),
    w(
        "small-q5_1",
        190_085_487,
        "ae85e4a935d7a567bd102fe55afc16bb595bdb618e11b2fc7591bc08120411bb",
    ),
    w(
        "small-q8_0",
        264_464_607,
        "49c8fb02b65e6049d5fa6c04f81f53b867b5ec9540406812c643f177317f779f",
    ),
    en(
        "small.en",
        487_614_201,
        "c6138d6d58ecc8322097e0f987c32f1be8bb0a18532a3f88f734d1bbf9c41e5d",
    ),
    en(
        "small.en-q5_1",
        190_098_681,
        "bfdff4894dcb76bbf647d56263ea2a96645423f1669176f4844a1bf8e478ad30",
    ),
    en(
        "small.en-q8_0",
        264_477_561,
        "67a179f608ea6114bd3fdb9060e762b588a3fb3bd00c4387971be4d177958067",
    ),
    w(
        "medium",
        1_533_763_059,
        "6c14d5adee5f86394037b4e4e8b59f1673b6cee10e3cf0b11bbdbee79c156208",
    ),
    w(
        "medium-q5_0",
        539_212_467,
        "19fea4b380c3a618ec4723c3eef2eb785ffba0d0538cf43f8f235e7b3b34220f",
    ),
    w(
        "medium-q8_0",
        823_369_779,
        "42a1ffcbe4167d224232443396968db4d02d4e8e87e213d3ee2e03095dea6502",
    ),
    en(
        "medium.en",
        1_533_774_781,
        "cc37e93478338ec7700281a7ac30a10128929eb8f427dda2e865faa8f6da4356",
    ),
    en(
        "medium.en-q5_0",
        539_225_533,
        "76733e26ad8fe1c7a5bf7531a9d41917b2adc0f20f2e4f5531688a8c6cd88eb0",
    ),
    en(
        "medium.en-q8_0",
        823_382_461,
        "43fa2cd084de5a04399a896a9a7a786064e221365c01700cea4666005218f11c",
    ),
    w(
        "large-v2",
        3_094_623_691,
        "9a423fe4d40c82774b6af34115b8b935f34152246eb19e80e376071d3f999487",
    ),
    w(
        "large-v2-q5_0",
        1_080_732_091,
        "3a214837221e4530dbc1fe8d734f302af393eb30bd0ed046042ebf4baf70f6f2",
    ),
    w(
        "large-v2-q8_0",
        1_656_129_691,
        "fef54e6d898246a65c8285bfa83bd1807e27fadf54d5d4e81754c47634737e8c",
    ),
    w(
        "large-v3",
        3_095_033_483,
        "64d182b440b98d5203c4f9bd541544d84c605196c4f7b845dfa11fb23594d1e2",
    ),
    w(
        "large-v3-q5_0",
        1_081_140_203,
        "d75795ecff3f83b5faa89d1900604ad8c780abd5739fae406de19f23ecd98ad1",
    ),
    w(
        "large-v3-turbo",
        1_624_555_275,
        "1fc70f774d38eb169993ac391eea357ef47c88757ef72ee5943879b7e8e2bc69",
    ),
    w(
        "large-v3-turbo-q5_0",
        574_041_195,
        "394221709cd5ad1f40c46e6031ca61bce88931e6e088c188294c6d5a55ffa7e2",
    ),
    w(
        "large-v3-turbo-q8_0",
        874_188_075,
        "317eb69c11673c9de1e1f0d459b253999804ec71ac4c23c17ecf5fbe24e259a1",
    ),
    // whisper.cpp's Silero v6.2.0 conversion (the copy its own tests use).
    KnownModel {
        name: "silero-v6.2.0",
        kind: Kind::Vad,
        size_bytes: 885_098,
        sha256: "2aa269b785eeb53a82983a20501ddf7c1d9c48e33ab63a41391ac6c9f7fb6987",
        english_only: false,
    },
];

/// The default voice activity model, compiled into the binary (885 KB, MIT; see
/// `assets/models/README.md`), so voice activity detection works on a fresh install.
pub const BUNDLED_VAD: &[u8] = include_bytes!("../../assets/models/ggml-silero-v6.2.0.bin");

/// The default VAD model's file in `models_dir`, written there from [`BUNDLED_VAD`] when it
/// is missing. A file already there is used as it is (the model manager may have replaced
/// it). When the models folder cannot be written, the bundled copy goes to the temporary
/// folder instead; `None` only when neither can be written.
pub fn default_vad(models_dir: &Path) -> Option<PathBuf> {
    let name =
        find(DEFAULT_VAD).map_or_else(|| format!("ggml-{DEFAULT_VAD}.bin"), KnownModel::file_name);
    let in_models = models_dir.join(&name);
    if in_models.is_file() {
        return Some(in_models);
    }
    let install = |dir: &Path| -> std::io::Result<PathBuf> {
        std::fs::create_dir_all(dir)?;
        let target = dir.join(&name);
        if target
            .metadata()
            .is_ok_and(|m| m.len() == BUNDLED_VAD.len() as u64)
        {
            return Ok(target);
        }
        let mut tmp = tempfile::NamedTempFile::new_in(dir)?;
        std::io::Write::write_all(&mut tmp, BUNDLED_VAD)?;
        tmp.as_file().sync_all()?;
        tmp.persist(&target).map_err(|e| e.error)?;
        Ok(target)
    };
    match install(models_dir) {
        Ok(p) => Some(p),
        Err(e) => {
            let fallback = std::env::temp_dir().join("verbatim-models");
            tracing::warn!(
                "cannot install the bundled voice activity model in {} ({e}); using {}",
                models_dir.display(),
                fallback.display()
            );
            install(&fallback)
                .inspect_err(|e| {
                    tracing::error!("cannot write the bundled voice activity model anywhere: {e}")
                })
                .ok()
        }
    }
}

/// A known model by name (`tiny.en`, `ggml-tiny.en.bin` and `silero-v6.2.0` all work).
pub fn find(name: &str) -> Option<&'static KnownModel> {
    let n = name
        .trim()
        .trim_start_matches("ggml-")
        .trim_end_matches(".bin");
    MODELS.iter().find(|m| m.name.eq_ignore_ascii_case(n))
}

/// The known model a file is, judged by its SHA-256.
pub fn by_sha256(sha: &str) -> Option<&'static KnownModel> {
    MODELS.iter().find(|m| m.sha256.eq_ignore_ascii_case(sha))
}

/// `<data>/models`, unless `VERBATIM_MODELS` names another folder.
pub fn models_dir(data_dir: &Path) -> PathBuf {
    std::env::var_os("VERBATIM_MODELS")
        .map(PathBuf::from)
        .unwrap_or_else(|| data_dir.join("models"))
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ResolveError {
    #[error("model file {0} does not exist")]
    NoFile(PathBuf),
    /// There, but not a file a model can be read from (`/dev/zero`, a folder, a FIFO).
    #[error("{path} is {what}, not a model file")]
    NotAFile { path: PathBuf, what: &'static str },
    #[error("model {name} is not downloaded yet: run `verbatim models download {name}`")]
    NotDownloaded { name: String },
    #[error(
        "unknown model {0:?}: give a path to a ggml .bin file, or a name from `verbatim models list`"
    )]
    Unknown(String),
}

/// A `--model` value (a name or a path) as a file on disk.
pub fn resolve(models_dir: &Path, model: &str) -> Result<PathBuf, ResolveError> {
    let as_path = Path::new(model);
    let looks_like_path = model.contains(std::path::MAIN_SEPARATOR) || model.ends_with(".bin");
    if looks_like_path || as_path.is_file() {
        if as_path.is_file() {
            return Ok(as_path.to_path_buf());
        }
        // "ggml-tiny.bin" may also be a name.
        if let Some(k) = find(model) {
            let p = models_dir.join(k.file_name());
            if p.is_file() {
                return Ok(p);
            }
        }
        if let Ok(meta) = std::fs::metadata(as_path) {
            return Err(ResolveError::NotAFile {
                path: as_path.to_path_buf(),
                what: crate::paths::file_kind(&meta),
            });
        }
        return Err(ResolveError::NoFile(as_path.to_path_buf()));
    }
    let Some(k) = find(model) else {
        return Err(ResolveError::Unknown(model.to_string()));
    };
    let p = models_dir.join(k.file_name());
    if p.is_file() {
        Ok(p)
    } else {
        Err(ResolveError::NotDownloaded {
            name: k.name.to_string(),
        })
    }
}

/// Where a known model is downloaded from: its published URL, or the same file under
/// `VERBATIM_MODEL_BASE_URL` (a mirror, or a local server in tests).
pub fn download_url(k: &KnownModel) -> String {
    match std::env::var("VERBATIM_MODEL_BASE_URL") {
        Ok(base) if !base.is_empty() => format!("{}/{}", base.trim_end_matches('/'), k.file_name()),
        _ => k.url(),
    }
}

/// A speaker model, as its makers publish it: the file keeps the published name (with
/// `pyannote-` before Hugging Face's `pytorch_model.bin`, which names nothing).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct SpeakerModel {
    pub name: &'static str,
    /// The file name in the models folder: where `verbatim diarize` looks for it.
    pub file: &'static str,
    pub url: &'static str,
    pub size_bytes: u64,
    pub sha256: &'static str,
    /// What it is for, and what its source asks of the user.
    pub note: &'static str,
}

/// The speaker models diarization uses.
pub const SPEAKER_MODELS: &[SpeakerModel] = &[
    SpeakerModel {
        name: "campplus",
        file: crate::speakers::CAMPLUS_FILE,
        url: "https://modelscope.cn/models/iic/speech_campplus_sv_zh_en_16k-common_advanced/resolve/master/campplus_cn_en_common.pt",
        size_bytes: 28_044_640,
        sha256: "92f29b94e6948786a26778c9e302525d185bb08c8b9f5252ed98776902840199",
        note: "3D-Speaker's CAM++ voiceprints (Apache-2.0), from ModelScope",
    },
    SpeakerModel {
        name: "segmentation-3.0",
        file: crate::speakers::segmentation::SEGMENTATION_FILE,
        url: "https://huggingface.co/pyannote/segmentation-3.0/resolve/main/pytorch_model.bin",
        size_bytes: 5_905_440,
        sha256: "da85c29829d4002daedd676e012936488234d9255e65e86dfab9bec6b1729298",
        note: "pyannote's speech, overlap and speaker-change model (MIT), from Hugging Face: \
               a gated repository (accept its conditions once, then set HF_TOKEN)",
    },
];

/// A speaker model by name.
pub fn find_speaker(name: &str) -> Option<&'static SpeakerModel> {
    SPEAKER_MODELS
        .iter()
        .find(|m| m.name.eq_ignore_ascii_case(name.trim()))
}

/// Where a speaker model is downloaded from: its published URL, or the same file under
/// `VERBATIM_MODEL_BASE_URL`.
pub fn speaker_download_url(k: &SpeakerModel) -> String {
    match std::env::var("VERBATIM_MODEL_BASE_URL") {
        Ok(base) if !base.is_empty() => format!("{}/{}", base.trim_end_matches('/'), k.file),
        _ => k.url.to_owned(),
    }
}

/// The model a new user is offered first: English, small enough to fetch quickly, and
/// accurate enough to be worth it.
pub const RECOMMENDED: &str = "base.en";

/// Which installed model is picked when the one asked for is not there, best first.
const PREFERENCE: &[&str] = &[
    "base.en",
    "base",
    "small.en",
    "small",
    "tiny.en",
    "tiny",
    "medium.en",
    "medium",
    "large-v3-turbo",
    "large-v3",
];

/// A model file in the models folder.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Installed {
    /// What to ask for it by: its catalog name when the file has a catalog file name, else
    /// its path.
    pub name: String,
    pub path: PathBuf,
    pub size_bytes: u64,
    /// A voice activity model (not one to transcribe with).
    pub vad: bool,
    /// What the file is, in words ("whisper tiny.en, f16, 77.7 MB").
    pub describe: String,
}

/// The model files in `models_dir` that load (judged by their headers), by name; files that
/// are not ggml models (a partial download, anything else) are left out.
pub fn installed(models_dir: &Path) -> Vec<Installed> {
    let Ok(entries) = std::fs::read_dir(models_dir) else {
        return Vec::new();
    };
    let mut out: Vec<Installed> = entries
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|x| x == "bin") && p.is_file())
        .filter_map(|path| {
            let info = super::model_file::inspect(&path).ok()?;
            let vad = matches!(info.kind, super::model_file::ModelKind::Vad { .. });
            let file = path.file_name()?.to_string_lossy().into_owned();
            let name = find(&file)
                .filter(|k| k.file_name() == file)
                .map_or_else(|| path.display().to_string(), |k| k.name.to_string());
            Some(Installed {
                name,
                size_bytes: info.size_bytes,
                vad,
                describe: info.describe(),
                path,
            })
        })
        .collect();
    out.sort_by(|a, b| (a.vad, &a.name).cmp(&(b.vad, &b.name)));
    out
}

/// The speech model to use when `wanted` is not installed: the best of [`PREFERENCE`] that
/// is, else the first speech model there. `None`: no speech model is installed.
pub fn pick<'a>(installed: &'a [Installed], wanted: &str) -> Option<&'a Installed> {
    let speech = || installed.iter().filter(|m| !m.vad);
    speech()
        .find(|m| m.name == wanted)
        .or_else(|| {
            PREFERENCE
                .iter()
                .find_map(|n| speech().find(|m| m.name == *n))
        })
        .or_else(|| speech().next())
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    /// Issue 28, finding 11: `models quantize /dev/zero` said the file "does not exist".
    #[test]
    fn a_model_path_that_is_not_a_file_says_what_it_is() {
        let dir = tempfile::tempdir().unwrap();
        let e = resolve(dir.path(), "/dev/zero").unwrap_err();
        assert_eq!(
            e.to_string(),
            "/dev/zero is a character device, not a model file"
        );
        let folder = dir.path().join("x.bin");
        std::fs::create_dir(&folder).unwrap();
        let e = resolve(dir.path(), folder.to_str().unwrap()).unwrap_err();
        assert!(
            e.to_string().ends_with("is a folder, not a model file"),
            "{e}"
        );
        let gone = dir.path().join("gone.bin");
        assert_eq!(
            resolve(dir.path(), gone.to_str().unwrap()).unwrap_err(),
            ResolveError::NoFile(gone)
        );
    }

    #[test]
    fn installed_models_are_read_off_their_headers_and_the_best_is_picked() {
        let dir = tempfile::tempdir().unwrap();
        assert!(installed(dir.path()).is_empty());
        assert_eq!(pick(&[], "base"), None);
        std::fs::write(dir.path().join("ggml-silero-v6.2.0.bin"), BUNDLED_VAD).unwrap();
        let spec = crate::transcribe::synthetic::SynthSpec::default();
        crate::transcribe::synthetic::write_model(&dir.path().join("ggml-tiny.en.bin"), &spec)
            .unwrap();
        crate::transcribe::synthetic::write_model(&dir.path().join("my-model.bin"), &spec).unwrap();
        // Not models: a partial download, a text file named .bin.
        std::fs::write(dir.path().join("ggml-base.en.bin.part"), b"half").unwrap();
        std::fs::write(dir.path().join("notes.bin"), b"not a model").unwrap();
        let found = installed(dir.path());
        let names: Vec<(&str, bool)> = found.iter().map(|m| (m.name.as_str(), m.vad)).collect();
        let custom = dir.path().join("my-model.bin").display().to_string();
        assert_eq!(
            names,
            [
                (custom.as_str(), false),
                ("tiny.en", false),
                ("silero-v6.2.0", true)
            ]
        );
        // "base" is not there: tiny.en is preferred to an unknown file; a VAD never.
        assert_eq!(
            pick(&found, "base").map(|m| m.name.as_str()),
            Some("tiny.en")
        );
        assert_eq!(
            pick(&found, &custom).map(|m| m.name.as_str()),
            Some(custom.as_str())
        );
        assert_eq!(pick(&found[2..], "base"), None);
    }
}
