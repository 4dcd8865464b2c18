//! The headless app: `App` + `MinimalPlugins` + `CorePlugin`, as the CLI builds it.
#![allow(clippy::unwrap_used, clippy::expect_used)] // tests fail loudly by design

mod common;

use std::time::Duration;

use bevy::prelude::*;
use common::fixture;
use verbatim::headless::{ImportLog, track_imports, update_until};
use verbatim::library;
use verbatim::library::sql::NewAudioFile;
use verbatim::library::{AudioFile, ImportRequested, Importer, LibraryOrder, LibraryState};
use verbatim::storage::{self};
use verbatim::transcript;

const WAIT: Duration = Duration::from_secs(60);

fn row(n: u8, name: &str) -> NewAudioFile {
    let sha = format!("{n:02x}").repeat(32);
    NewAudioFile {
        stored_path: format!("audio/{}/{sha}.wav", &sha[..2]),
        sha256: sha,
        original_name: name.into(),
        original_path: None,
        size_bytes: 10,
        container: "wav".into(),
        codec: "pcm_s16le".into(),
        duration_ms: 1000,
        sample_rate: 16000,
        channels: 1,
    }
}

fn names(app: &mut App) -> Vec<String> {
    let world = app.world_mut();
    let mut v: Vec<String> = world
        .query::<&AudioFile>()
        .iter(world)
        .map(|f| f.0.original_name.clone())
        .collect();
    v.sort();
    v
}

fn ordered(app: &mut App) -> Vec<String> {
    let world = app.world();
    world
        .resource::<LibraryOrder>()
        .0
        .iter()
        .map(|e| world.get::<AudioFile>(*e).unwrap().0.original_name.clone())
        .collect()
}

#[test]
fn core_plugin_boots_loads_the_library_and_imports_through_the_writer() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let db_path = data.join("verbatim.db");
    {
        let conn = storage::open(&db_path).unwrap();
        library::sql::insert_audio_file(&conn, &row(1, "monday.wav"), 1).unwrap();
        library::sql::insert_audio_file(&conn, &row(2, "tuesday.wav"), 2).unwrap();
    }
    let mut app = common::core_app(&data);
    track_imports(&mut app);

    assert!(
        update_until(&mut app, WAIT, |w| w.resource::<LibraryState>().loaded),
        "library never loaded"
    );
    assert_eq!(names(&mut app), ["monday.wav", "tuesday.wav"]);
    // The display order (newest first) is ready in the same frame.
    let order: Vec<String> = ordered(&mut app);
    assert_eq!(order, ["tuesday.wav", "monday.wav"]);
    // Each file entity carries a Name for inspectors and logs.
    let world = app.world_mut();
    assert_eq!(world.query::<(&Name, &AudioFile)>().iter(world).count(), 2);

    // An import intent goes importer thread -> writer thread -> entity + message.
    app.world_mut()
        .write_message(ImportRequested(fixture("jfk-1s.ogg")));
    assert!(
        update_until(&mut app, WAIT, |w| w.resource::<ImportLog>().0.len() == 1),
        "import never finished"
    );
    let done = app.world().resource::<ImportLog>().0[0].clone();
    let imported = done.result.clone().unwrap();
    assert!(imported.created);
    app.update();
    assert_eq!(names(&mut app), ["jfk-1s.ogg", "monday.wav", "tuesday.wav"]);
    assert_eq!(
        ordered(&mut app)[0],
        "jfk-1s.ogg",
        "the newest file comes first"
    );
    assert!(
        done.describe().starts_with("imported "),
        "{}",
        done.describe()
    );

    // The same content again: the existing entry, no new entity.
    let copy = dir.path().join("copy.ogg");
    std::fs::copy(fixture("jfk-1s.ogg"), &copy).unwrap();
    // A bad file in the same frame: its own error, the good one unaffected.
    let bad = dir.path().join("bad.mp3");
    std::fs::write(&bad, b"not audio at all").unwrap();
    app.world_mut().write_message(ImportRequested(copy));
    app.world_mut().write_message(ImportRequested(bad.clone()));
    assert!(update_until(&mut app, WAIT, |w| w
        .resource::<ImportLog>()
        .0
        .len()
        == 3));
    assert_eq!(app.world().resource::<Importer>().in_flight(), 0);
    let log = &app.world().resource::<ImportLog>().0;
    let again = log.iter().find(|f| f.source.ends_with("copy.ogg")).unwrap();
    assert_eq!(again.result.as_ref().unwrap().row.id, imported.row.id);
    assert!(!again.result.as_ref().unwrap().created);
    let failed = log.iter().find(|f| f.source == bad).unwrap();
    assert!(
        failed.describe().contains("bad.mp3: unsupported format"),
        "{}",
        failed.describe()
    );
    app.update();
    assert_eq!(names(&mut app).len(), 3);

    // What the ECS shows is what the database holds.
    drop(app);
    let conn = storage::open(&db_path).unwrap();
    assert_eq!(library::sql::list_audio_files(&conn).unwrap().len(), 3);
}

#[test]
fn frame_sets_run_in_order() {
    use verbatim::schedule::AppSystems;
    #[derive(Resource, Default)]
    struct Order(Vec<AppSystems>);
    let dir = tempfile::tempdir().unwrap();
    let mut app = common::core_app(dir.path());
    app.init_resource::<Order>();
    for set in [
        AppSystems::Persist,
        AppSystems::Apply,
        AppSystems::Ingest,
        AppSystems::Dispatch,
        AppSystems::Analyze,
    ] {
        app.add_systems(
            Update,
            (move |mut o: ResMut<Order>| o.0.push(set)).in_set(set),
        );
    }
    app.update();
    assert_eq!(
        app.world().resource::<Order>().0,
        [
            AppSystems::Ingest,
            AppSystems::Analyze,
            AppSystems::Dispatch,
            AppSystems::Apply,
            AppSystems::Persist
        ]
    );
}

/// Bevy's system-order ambiguity check over the app's frame: two systems that touch the
/// same data in an undefined order are an error, so what a frame does never depends on the
/// executor's luck.
#[test]
fn the_frame_has_no_system_order_ambiguities() {
    use bevy::ecs::schedule::{LogLevel, ScheduleBuildSettings};
    let dir = tempfile::tempdir().unwrap();
    let mut app = common::core_app(dir.path());
    app.world_mut().schedule_scope(Update, |world, update| {
        update.set_build_settings(ScheduleBuildSettings {
            ambiguity_detection: LogLevel::Error,
            ..Default::default()
        });
        if let Err(e) = update.initialize(world) {
            panic!("{}", e.to_string(update.graph(), world));
        }
    });
    // And the frame runs.
    app.update();
}

/// Every transcribed file has its transcript entity, related to the file's entity, however
/// many jobs there are (here: 250 files with a transcript each and no job at all, where the
/// job list the library used to derive "has a transcript" from holds 200).
#[test]
fn every_transcript_is_an_entity_related_to_its_file() {
    use verbatim::library::transcripts::{Transcript, TranscriptOf, Transcripts};
    use verbatim::transcript::Segment;
    use verbatim::transcript::sql::{NewVersion, VersionSource};
    let dir = tempfile::tempdir().unwrap();
    let db_path = dir.path().join("verbatim.db");
    {
        let mut conn = storage::open(&db_path).unwrap();
        let tx = conn.transaction().unwrap();
        for n in 0..250u32 {
            let mut file = row(0, &format!("file {n}"));
            file.sha256 = format!("{n:064x}");
            file.stored_path = format!("audio/x/{}.wav", file.sha256);
            let (file_row, _) = library::sql::insert_audio_file(&tx, &file, 1).unwrap();
            let id = file_row.id;
            let seg = Segment::new(0, 500, format!("words of {n}"));
            let version = NewVersion::new(VersionSource::Model);
            transcript::sql::create_transcript(&tx, id, None, None, &version, &[seg], 2).unwrap();
        }
        tx.commit().unwrap();
    }
    let mut app = common::core_app(dir.path());
    let linked = |w: &mut World| w.query_filtered::<(), With<TranscriptOf>>().iter(w).count();
    assert!(
        update_until(&mut app, WAIT, |w| linked(w) == 250),
        "transcripts linked: {}",
        linked(app.world_mut())
    );
    let world = app.world_mut();
    let mut files = world.query::<(&AudioFile, &Transcripts)>();
    let pairs: Vec<_> = files
        .iter(world)
        .map(|(f, ts)| (f.0.id, ts.entities().to_vec()))
        .collect();
    assert_eq!(pairs.len(), 250, "every file has its transcripts");
    for (file, ts) in pairs {
        assert_eq!(ts.len(), 1);
        let t = world.get::<Transcript>(ts[0]).unwrap();
        assert_eq!(t.0.audio_file, file, "related to its own file");
    }
}

/// The window's router changes no feature's state itself: it sends messages, and each
/// feature applies its own (the job settings, the input device, the live switch, the
/// timeline's spectrogram view) in the next frame.
#[test]
fn each_feature_applies_the_changes_the_window_asks_for() {
    use verbatim::capture::plugin::{CaptureSettings, RecordCommand};
    use verbatim::editor::{DocSpectrogram, SpectrogramView, SpectrogramWanted};
    use verbatim::transcribe::live::{LiveSettings, LiveSwitch};
    use verbatim::transcribe::{GpuPref, SettingsChange, TranscribeSettings};
    let dir = tempfile::tempdir().unwrap();
    let mut app = common::core_app(dir.path());
    app.update();
    let before = app.world().resource::<TranscribeSettings>().clone();
    let live_before = app.world().resource::<LiveSettings>().enabled;
    assert_ne!(before.gpu, GpuPref::Off);
    assert_ne!(before.default_model, "base.en");
    assert_eq!(app.world().resource::<CaptureSettings>().device, None);
    let view = SpectrogramView {
        file: 1,
        start_ms: 2_000,
        span_ms: 5_000,
        width: 640,
    };
    let w = app.world_mut();
    w.write_message(SettingsChange::Gpu(GpuPref::Off));
    w.write_message(SettingsChange::UseVocabulary(!before.params.use_vocabulary));
    w.write_message(SettingsChange::DefaultModel("base.en".into()));
    w.write_message(RecordCommand::SelectDevice(Some("sine:440".into())));
    w.write_message(LiveSwitch(!live_before));
    w.write_message(SpectrogramWanted(view));
    app.update();
    let w = app.world();
    let after = w.resource::<TranscribeSettings>();
    assert_eq!(after.gpu, GpuPref::Off);
    assert_eq!(after.params.use_vocabulary, !before.params.use_vocabulary);
    assert_eq!(after.default_model, "base.en");
    assert_eq!(
        w.resource::<CaptureSettings>().device.as_deref(),
        Some("sine:440")
    );
    assert_eq!(w.resource::<LiveSettings>().enabled, !live_before);
    assert_eq!(w.resource::<DocSpectrogram>().wanted, Some(view));
    // Choosing the device does not start a take.
    let mut takes = app
        .world_mut()
        .query::<&verbatim::capture::plugin::RecordingSession>();
    assert_eq!(takes.iter(app.world()).count(), 0);
}

/// The player applies the editor's play, speed and loop requests itself.
#[test]
fn the_player_applies_what_the_window_asks() {
    use verbatim::playback::{PlaybackPlugin, Player, PlayerCommand};
    let mut app = App::new();
    app.add_plugins(PlaybackPlugin);
    app.update();
    assert!(!app.world().resource::<Player>().is_playing());
    app.world_mut().write_message(PlayerCommand::SetSpeed(1.5));
    app.world_mut()
        .write_message(PlayerCommand::Loop(Some((1_000, 2_000))));
    app.world_mut().write_message(PlayerCommand::TogglePlay);
    app.update();
    let p = app.world().resource::<Player>();
    assert!(p.is_playing());
    assert_eq!(p.speed(), 1.5);
    app.world_mut().write_message(PlayerCommand::TogglePlay);
    app.update();
    assert!(!app.world().resource::<Player>().is_playing());
}
