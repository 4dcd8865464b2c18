//! `verbatim models`: the catalog, downloads, checks, quantisation, paths.

use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::Context;
use clap::Subcommand;
use serde::Serialize;

use super::transcribe::emit_line;
use crate::paths::DataDir;
use crate::transcribe::{catalog, download, model_file};

#[derive(Debug, Subcommand)]
pub enum ModelsCommand {
    /// The standard models: name, size, SHA-256, and whether it is downloaded.
    List {
        #[arg(long)]
        json: bool,
    },
    /// Download a model by name (or from a URL), resuming a partial download, checking its
    /// SHA-256.
    Download {
        #[arg(value_name = "NAME|URL")]
        name: String,
        /// The SHA-256 a URL download must have.
        #[arg(long, value_name = "HEX")]
        sha256: Option<String>,
    },
    /// Check a model file: format, hyper-parameters, every tensor, size, known checksum.
    Verify {
        #[arg(value_name = "PATH")]
        path: PathBuf,
        #[arg(long)]
        json: bool,
    },
    /// Print the models folder, or where a model is.
    Path {
        #[arg(value_name = "NAME")]
        name: Option<String>,
    },
    /// Quantise a whisper model with ggml's own quantisation (as whisper.cpp's quantize
    /// tool does): smaller, faster to load, faster to decode on the CPU. q8_0 keeps the
    /// f16 model's accuracy; q5/q4 trade words for size.
    Quantize {
        /// The f16 (or f32) model: a name (`verbatim models list`) or a path.
        #[arg(value_name = "IN")]
        input: String,
        /// The quantised file (default: beside the input, named with the type).
        #[arg(value_name = "OUT")]
        output: Option<PathBuf>,
        /// q8_0, q5_1, q5_0 or q4_0.
        #[arg(long = "type", default_value = "q8_0", value_name = "TYPE")]
        ty: String,
    },
    /// Write the test suite's synthetic model (tiny, random weights) to PATH.
    #[command(hide = true)]
    Synth {
        #[arg(value_name = "PATH")]
        path: PathBuf,
    },
}

pub(super) fn models(data: &DataDir, cmd: ModelsCommand) -> anyhow::Result<ExitCode> {
    let dir = catalog::models_dir(data.root());
    match cmd {
        ModelsCommand::List { json } => list(&dir, json),
        ModelsCommand::Download { name, sha256 } => download(&dir, &name, sha256),
        ModelsCommand::Verify { path, json } => verify(&path, json),
        ModelsCommand::Quantize { input, output, ty } => quantize(&dir, &input, output, &ty),
        ModelsCommand::Synth { path } => {
            crate::transcribe::synthetic::write_model(&path, &Default::default())
                .with_context(|| format!("cannot write {}", path.display()))?;
            emit_line(&model_file::inspect(&path)?.describe())?;
            Ok(ExitCode::SUCCESS)
        }
        ModelsCommand::Path { name } => {
            match name {
                None => emit_line(&dir.display().to_string())?,
                Some(n) => emit_line(&catalog::resolve(&dir, &n)?.display().to_string())?,
            }
            Ok(ExitCode::SUCCESS)
        }
    }
}

/// The standard models: name, kind, size, SHA-256, whether downloaded.
fn list(dir: &Path, json: bool) -> anyhow::Result<ExitCode> {
    #[derive(Serialize)]
    struct Row {
        name: &'static str,
        kind: &'static str,
        size_bytes: u64,
        sha256: &'static str,
        english_only: bool,
        url: String,
        downloaded: Option<PathBuf>,
    }
    let rows: Vec<Row> = catalog::MODELS
        .iter()
        .map(|m| {
            let p = dir.join(m.file_name());
            Row {
                name: m.name,
                kind: match m.kind {
                    catalog::Kind::Whisper => "whisper",
                    catalog::Kind::Vad => "vad",
                },
                size_bytes: m.size_bytes,
                sha256: m.sha256,
                english_only: m.english_only,
                url: catalog::download_url(m),
                downloaded: p.is_file().then_some(p),
            }
        })
        .chain(catalog::SPEAKER_MODELS.iter().map(|m| {
            let p = dir.join(m.file);
            Row {
                name: m.name,
                kind: "speaker",
                size_bytes: m.size_bytes,
                sha256: m.sha256,
                english_only: false,
                url: catalog::speaker_download_url(m),
                downloaded: p.is_file().then_some(p),
            }
        }))
        .collect();
    if json {
        emit_line(&serde_json::to_string_pretty(&rows)?)?;
    } else {
        emit_line(&format!("models folder: {}", dir.display()))?;
        emit_line(&format!(
            "{:<22} {:<8} {:>10}  {:<10} {}",
            "name", "kind", "size", "", "sha256"
        ))?;
        for r in rows {
            emit_line(&format!(
                "{:<22} {:<8} {:>7.1} MB  {:<10} {}",
                r.name,
                match (r.kind, r.english_only) {
                    ("vad", _) => "vad",
                    ("speaker", _) => "speaker",
                    (_, true) => "english",
                    _ => "multi",
                },
                r.size_bytes as f64 / 1e6,
                if r.downloaded.is_some() {
                    "downloaded"
                } else {
                    ""
                },
                r.sha256
            ))?;
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// A model by catalog name (its SHA-256 checked) or from a URL, resumed where a partial
/// download stopped; nothing is fetched when the file is there and matches.
fn download(dir: &Path, name: &str, sha256: Option<String>) -> anyhow::Result<ExitCode> {
    let d = if name.starts_with("http://") || name.starts_with("https://") {
        let file = download::url_file_name(name).context("the URL names no file")?;
        download::Download {
            url: name.to_owned(),
            dest: dir.join(file),
            sha256,
            size: None,
            check: download::Check::Ggml,
        }
    } else if let Some(k) = catalog::find_speaker(name) {
        download::Download {
            url: catalog::speaker_download_url(k),
            dest: dir.join(k.file),
            sha256: Some(sha256.unwrap_or_else(|| k.sha256.to_string())),
            size: Some(k.size_bytes),
            check: if k.file == crate::speakers::CAMPLUS_FILE {
                download::Check::CamPlus
            } else {
                download::Check::Segmentation
            },
        }
    } else {
        let k = catalog::find(name).with_context(|| {
            format!("unknown model {name:?}; `verbatim models list` shows the names")
        })?;
        download::Download {
            url: catalog::download_url(k),
            dest: dir.join(k.file_name()),
            sha256: Some(sha256.unwrap_or_else(|| k.sha256.to_string())),
            size: Some(k.size_bytes),
            check: download::Check::Ggml,
        }
    };
    if d.dest.is_file() {
        let have = download::sha256_file(&d.dest)?;
        if d.sha256
            .as_deref()
            .is_none_or(|s| s.eq_ignore_ascii_case(&have))
        {
            emit_line(&format!("already downloaded: {}", d.dest.display()))?;
            return Ok(ExitCode::SUCCESS);
        }
    }
    let tty = std::io::stderr().is_terminal();
    let bar = indicatif::ProgressBar::new(0).with_style(
        indicatif::ProgressStyle::with_template(
            "{bar:30} {bytes}/{total_bytes} {bytes_per_sec} ETA {eta}",
        )
        .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
    );
    if !tty {
        bar.set_draw_target(indicatif::ProgressDrawTarget::hidden());
    }
    let result = download::download(&d, |done, total| {
        if let Some(t) = total {
            bar.set_length(t);
        }
        bar.set_position(done);
    });
    bar.finish_and_clear();
    let got = result?;
    if got.resumed_from > 0 {
        emit_line(&format!("resumed at {} bytes", got.resumed_from))?;
    }
    emit_line(&format!(
        "downloaded {} ({} bytes, sha256 {})",
        got.path.display(),
        got.bytes,
        got.sha256
    ))?;
    Ok(ExitCode::SUCCESS)
}

/// A model file checked: its format, every tensor, its SHA-256 against the published ones.
fn verify(path: &Path, json: bool) -> anyhow::Result<ExitCode> {
    let info = match model_file::inspect(path) {
        Ok(i) => i,
        Err(e) => {
            eprintln!("verbatim: {e}");
            return Ok(ExitCode::FAILURE);
        }
    };
    let sha = download::sha256_file(path)?;
    let known = catalog::by_sha256(&sha);
    let name_match = path
        .file_name()
        .and_then(|n| catalog::find(&n.to_string_lossy()));
    if json {
        #[derive(Serialize)]
        struct V<'a> {
            #[serde(flatten)]
            info: &'a model_file::ModelInfo,
            sha256: &'a str,
            known_as: Option<&'static str>,
        }
        emit_line(&serde_json::to_string_pretty(&V {
            info: &info,
            sha256: &sha,
            known_as: known.map(|k| k.name),
        })?)?;
    } else {
        emit_line(&format!("{}: ok, {}", path.display(), info.describe()))?;
        emit_line(&format!("sha256 {sha}"))?;
        match (known, name_match) {
            (Some(k), _) => emit_line(&format!("matches the published {} model", k.name))?,
            (None, Some(k)) => {
                eprintln!(
                    "warning: named like the {} model but its SHA-256 differs from the published {}",
                    k.name, k.sha256
                );
                return Ok(ExitCode::FAILURE);
            }
            (None, None) => {
                emit_line("not one of the published models (a custom or converted model)")?
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// A whisper model quantised with ggml's own quantisation.
fn quantize(
    dir: &Path,
    input: &str,
    output: Option<PathBuf>,
    ty: &str,
) -> anyhow::Result<ExitCode> {
    use crate::transcribe::quantize::{self, QuantType};
    let qt = QuantType::parse(ty)
        .with_context(|| format!("--type {ty:?}: use one of q8_0, q5_1, q5_0, q4_0"))?;
    let input = catalog::resolve(dir, input)?;
    let output = output.unwrap_or_else(|| {
        let stem = input
            .file_stem()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_else(|| "model".into());
        let stem = stem.trim_end_matches("-f16").trim_end_matches("-f32");
        input.with_file_name(format!("{stem}-{}.bin", qt.name()))
    });
    if output.exists() {
        anyhow::bail!(
            "{} exists already; remove it or name another output file",
            output.display()
        );
    }
    let started = std::time::Instant::now();
    let r = quantize::quantize(&input, &output, qt)?;
    emit_line(&format!(
        "{}: {} of {} tensors quantised to {}, {:.1} MB -> {:.1} MB in {:.1} s",
        output.display(),
        r.quantized,
        r.tensors,
        qt.name(),
        r.bytes_in as f64 / 1e6,
        r.bytes_out as f64 / 1e6,
        started.elapsed().as_secs_f64()
    ))?;
    emit_line(&model_file::inspect(&output)?.describe())?;
    Ok(ExitCode::SUCCESS)
}
