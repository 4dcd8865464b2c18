//! The model live steps run: a q8_0 copy of the user's f16 (or f32) model.
//!
//! A live step's cost is almost all the encoder's (0.35 s of a 0.45 s step for tiny.en on one
//! core), and ggml's q8_0 matrix products are cheaper than f16's: on the 40 s benchmark take
//! the live worker used 0.64-0.67 of a core instead of 0.83-0.89, words were shown 0.5 s
//! sooner (p95 1.5 s against 2.0 s) and the live WER was the same. The whole-take pass that
//! becomes version 2 keeps the model the user chose, so the final words do not change.
//!
//! The copy is made once, off the frame, by `models quantize`'s code, into
//! `<models>/.live/` (the model pickers list the models folder itself, not this), named
//! after the source's size and modification time so a replaced model gets a new copy; older
//! copies of the same model are removed. Until the copy is ready, or when it cannot be made
//! (a model already quantised, a full disk), live steps run the model as it is.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant, UNIX_EPOCH};

use bevy::prelude::*;
use crossbeam_channel::Receiver;

use super::super::quantize::{QuantType, QuantizeError, quantize};
use super::super::{catalog, jobs::TranscribeSettings};
use super::LiveSettings;

/// The folder inside the models folder that holds the live copies.
const LIVE_DIR: &str = ".live";

/// How often the chosen model is looked up on disk while nothing in the settings changed
/// (a model downloaded or replaced under the same name since).
const RECHECK: Duration = Duration::from_secs(2);

/// A source model as it was when looked up: its path, and the name its copy gets (from its
/// size and modification time; `None`: it could not be read).
type Looked = (PathBuf, Option<PathBuf>);

/// What live steps run, per source model.
#[derive(Resource)]
pub struct LiveModel {
    /// The source model and what live steps run for it (`None`: the source itself).
    ready: Option<(Looked, Option<PathBuf>)>,
    /// A copy being made for this source.
    making: Option<(Looked, Receiver<Option<PathBuf>>)>,
    /// When the chosen model was last looked up on disk.
    looked_at: Option<Instant>,
    /// How long a lookup holds while the settings do not change ([`RECHECK`]).
    recheck: Duration,
}

impl Default for LiveModel {
    fn default() -> Self {
        Self {
            ready: None,
            making: None,
            looked_at: None,
            recheck: RECHECK,
        }
    }
}

impl LiveModel {
    /// The model a live step of `source` runs now: its copy once that is ready, else itself.
    pub fn for_step(&self, source: &Path) -> PathBuf {
        match &self.ready {
            Some(((s, _), Some(copy))) if s == source => copy.clone(),
            _ => source.to_path_buf(),
        }
    }
}

/// Where the live copy of `source` goes: named by its stem, size and modification time.
pub fn copy_path(models_dir: &Path, source: &Path) -> Option<PathBuf> {
    let meta = std::fs::metadata(source).ok()?;
    let mtime = meta
        .modified()
        .ok()?
        .duration_since(UNIX_EPOCH)
        .ok()?
        .as_secs();
    let stem = source.file_stem()?.to_string_lossy();
    Some(models_dir.join(LIVE_DIR).join(format!(
        "{stem}-{}-{mtime}-{}.bin",
        meta.len(),
        QuantType::Q8_0.name()
    )))
}

/// The stem of the model a live copy's file name was made from (`None`: not a live copy).
fn copy_of(name: &str) -> Option<&str> {
    let rest = name.strip_suffix(&format!("-{}.bin", QuantType::Q8_0.name()))?;
    let mut parts = rest.rsplitn(3, '-');
    let (mtime, len, stem) = (parts.next()?, parts.next()?, parts.next()?);
    let digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
    (digits(mtime) && digits(len)).then_some(stem)
}

/// Makes (or finds) the live copy of `source`. `Ok(None)`: the model is run as it is (it
/// is quantised already).
pub fn prepare(models_dir: &Path, source: &Path) -> Result<Option<PathBuf>, QuantizeError> {
    let Some(copy) = copy_path(models_dir, source) else {
        return Ok(None);
    };
    if copy.is_file()
        && super::super::model_file::inspect_whisper_file(&copy)
            .is_ok_and(|i| matches!(i.kind, super::super::model_file::ModelKind::Whisper { .. }))
    {
        return Ok(Some(copy));
    }
    let dir = models_dir.join(LIVE_DIR);
    std::fs::create_dir_all(&dir).map_err(|source| QuantizeError::Io {
        what: "create",
        path: dir.clone(),
        source,
    })?;
    match quantize(source, &copy, QuantType::Q8_0) {
        Ok(_) => {}
        Err(QuantizeError::AlreadyQuantized(..)) => return Ok(None),
        Err(e) => return Err(e),
    }
    // Older copies of this model (it was replaced since) go.
    let stem = source.file_stem().map(|s| s.to_string_lossy().into_owned());
    if let (Some(stem), Ok(entries)) = (stem, std::fs::read_dir(&dir)) {
        for entry in entries.flatten() {
            let path = entry.path();
            let name = entry.file_name().to_string_lossy().into_owned();
            if path != copy && copy_of(&name) == Some(stem.as_str()) {
                let _ = std::fs::remove_file(&path);
            }
        }
    }
    Ok(Some(copy))
}

/// While live captions are on, the copy of the chosen model is made once, on its own thread
/// (the system only starts it and reads its answer). The model is looked up on disk when the
/// settings change and otherwise every [`RECHECK`], not every frame.
pub(super) fn prepare_live_model(
    live: Res<LiveSettings>,
    settings: Res<TranscribeSettings>,
    mut model: ResMut<LiveModel>,
) {
    if let Some((source, rx)) = &model.making {
        match rx.try_recv() {
            Ok(copy) => {
                let source = source.clone();
                model.making = None;
                model.ready = Some((source, copy));
            }
            Err(crossbeam_channel::TryRecvError::Empty) => return,
            Err(crossbeam_channel::TryRecvError::Disconnected) => {
                let source = source.clone();
                model.making = None;
                model.ready = Some((source, None));
            }
        }
    }
    if !live.enabled || !live.quantized_copy {
        if model.ready.is_some() {
            model.ready = None;
        }
        return;
    }
    let due = live.is_changed()
        || settings.is_changed()
        || model.looked_at.is_none_or(|t| t.elapsed() >= model.recheck);
    if !due {
        return;
    }
    model.looked_at = Some(Instant::now());
    let Ok(source) = catalog::resolve(&settings.models_dir, &settings.default_model) else {
        return;
    };
    let looked = (source.clone(), copy_path(&settings.models_dir, &source));
    if model.ready.as_ref().is_some_and(|(l, _)| *l == looked) {
        return;
    }
    // Until the new copy is ready, steps run the model itself (the old copy goes once the
    // new one is made).
    model.ready = None;
    let (tx, rx) = crossbeam_channel::bounded(1);
    let dir = settings.models_dir.clone();
    let from = source;
    let spawned = std::thread::Builder::new()
        .name("verbatim-live-model".into())
        .spawn(move || {
            let copy = match prepare(&dir, &from) {
                Ok(copy) => copy,
                Err(e) => {
                    tracing::warn!(
                        "live captions run {} as it is: its q8_0 copy could not be made: {e}",
                        from.display()
                    );
                    None
                }
            };
            if let Some(c) = &copy {
                tracing::info!("live captions run {}", c.display());
            }
            let _ = tx.send(copy);
        });
    match spawned {
        Ok(_) => model.making = Some((looked, rx)),
        Err(e) => {
            tracing::warn!("cannot start making the live model: {e}");
            model.ready = Some((looked, None));
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)] // tests fail loudly by design
mod tests {
    use super::*;

    /// A small f16 model named `name` in `dir`.
    fn model(dir: &Path, name: &str) -> PathBuf {
        let path = dir.join(name);
        crate::transcribe::synthetic::write_model(&path, &Default::default()).unwrap();
        path
    }

    #[test]
    fn a_copy_is_made_once_and_used_only_for_its_source() {
        let dir = tempfile::tempdir().unwrap();
        let source = model(dir.path(), "ggml-test.bin");
        let made = prepare(dir.path(), &source).unwrap().unwrap();
        assert!(made.starts_with(dir.path().join(LIVE_DIR)));
        let info = crate::transcribe::model_file::inspect_whisper_file(&made).unwrap();
        assert!(info.describe().contains("q8_0"), "{}", info.describe());
        let written = std::fs::metadata(&made).unwrap().modified().unwrap();
        // Found, not made again.
        assert_eq!(prepare(dir.path(), &source).unwrap().unwrap(), made);
        assert_eq!(
            std::fs::metadata(&made).unwrap().modified().unwrap(),
            written
        );
        // A quantised model is run as it is.
        assert_eq!(prepare(dir.path(), &made).unwrap(), None);
        // Steps use the copy only for its own source.
        let live = LiveModel {
            ready: Some(((source.clone(), None), Some(made.clone()))),
            ..LiveModel::default()
        };
        assert_eq!(live.for_step(&source), made);
        let other = dir.path().join("other.bin");
        assert_eq!(live.for_step(&other), other);
        assert_eq!(LiveModel::default().for_step(&source), source);
    }

    #[test]
    fn a_replaced_model_gets_a_new_copy_and_the_old_one_goes() {
        let dir = tempfile::tempdir().unwrap();
        let source = model(dir.path(), "ggml-test.bin");
        let first = prepare(dir.path(), &source).unwrap().unwrap();
        // The same name, another file (another modification time).
        let f = std::fs::File::options().write(true).open(&source).unwrap();
        f.set_modified(std::time::SystemTime::now() + std::time::Duration::from_secs(5))
            .unwrap();
        drop(f);
        // Another model whose name starts like this one's keeps its copy.
        let other = model(dir.path(), "ggml-test-v2.bin");
        let others = prepare(dir.path(), &other).unwrap().unwrap();
        let second = prepare(dir.path(), &source).unwrap().unwrap();
        assert!(others.is_file(), "another model's copy was removed");
        assert_eq!(
            copy_of(&others.file_name().unwrap().to_string_lossy()),
            Some("ggml-test-v2")
        );
        assert_ne!(first, second);
        assert!(second.is_file());
        assert!(
            !first.exists(),
            "the copy of the replaced model is left behind"
        );
    }

    /// The system over `models` with live captions on, run until no copy is being made.
    fn settle(app: &mut App) {
        for _ in 0..2_000 {
            app.update();
            if app.world().resource::<LiveModel>().making.is_none() {
                return;
            }
            std::thread::sleep(Duration::from_millis(5));
        }
        panic!("the live copy was not made in 10 s");
    }

    #[test]
    fn the_model_is_looked_up_now_and_then_and_a_replaced_one_gets_its_new_copy() {
        let dir = tempfile::tempdir().unwrap();
        let source = model(dir.path(), "ggml-test.bin");
        let mut settings = TranscribeSettings::new(dir.path());
        settings.models_dir = dir.path().to_path_buf();
        settings.default_model = source.to_string_lossy().into_owned();
        let mut app = App::new();
        app.insert_resource(LiveSettings {
            enabled: true,
            quantized_copy: true,
            ..LiveSettings::default()
        })
        .insert_resource(settings)
        .insert_resource(LiveModel {
            recheck: Duration::from_secs(3_600),
            ..LiveModel::default()
        })
        .add_systems(Update, prepare_live_model);
        settle(&mut app);
        let first = app.world().resource::<LiveModel>().for_step(&source);
        assert_ne!(first, source, "no copy was made");
        // The file is replaced under the same name: between two lookups nothing is read.
        let f = std::fs::File::options().write(true).open(&source).unwrap();
        f.set_modified(std::time::SystemTime::now() + Duration::from_secs(5))
            .unwrap();
        drop(f);
        for _ in 0..10 {
            app.update();
        }
        let live = app.world().resource::<LiveModel>();
        assert!(
            live.making.is_none(),
            "the model was looked up before it was due"
        );
        assert_eq!(live.for_step(&source), first);
        // At the next lookup the replaced model gets a copy of its own, and the old one goes.
        app.world_mut().resource_mut::<LiveModel>().recheck = Duration::ZERO;
        settle(&mut app);
        let second = app.world().resource::<LiveModel>().for_step(&source);
        assert_ne!(second, source, "no copy of the replaced model");
        assert_ne!(
            second, first,
            "steps still run the copy of the replaced model"
        );
        assert!(second.is_file() && !first.exists());
    }

    #[test]
    fn a_copy_that_cannot_be_made_leaves_the_source_in_use() {
        let dir = tempfile::tempdir().unwrap();
        let source = model(dir.path(), "ggml-test.bin");
        // The copies' folder cannot be made: a file is in its place.
        std::fs::write(dir.path().join(LIVE_DIR), b"not a folder").unwrap();
        assert!(prepare(dir.path(), &source).is_err());
    }
}
