//! The window's model shelf (issue 15, a first run that works): the models folder read off
//! the frame, a model downloaded with its progress from a local HTTP server and then chosen,
//! a download whose checksum is wrong refused with the reason and nothing left behind.
#![allow(clippy::unwrap_used, clippy::expect_used)] // tests fail loudly by design

mod common;

use std::time::{Duration, Instant};

use bevy::ecs::system::RunSystemOnce;
use bevy::prelude::*;
use verbatim::transcribe::TranscribeSettings;
use verbatim::transcribe::download::{Download, sha256_file};
use verbatim::ui::UiState;
use verbatim::ui::models::{ModelShelf, update_shelf};

/// Runs the shelf's system until `done` says so (or 30 s pass).
fn until(world: &mut World, done: impl Fn(&World) -> bool) {
    let start = Instant::now();
    while !done(world) {
        assert!(start.elapsed() < Duration::from_secs(30), "timed out");
        world.run_system_once(update_shelf).unwrap();
        std::thread::sleep(Duration::from_millis(10));
    }
}

#[test]
fn a_model_is_downloaded_with_progress_chosen_and_listed_and_a_bad_one_refused() {
    let home = tempfile::tempdir().unwrap();
    let model = common::whisper::synthetic_model();
    let body = std::fs::read(&model).unwrap();
    let sha = sha256_file(&model).unwrap();
    let (port, _log) = common::http::serve(body.clone(), None);
    let mut world = World::new();
    let settings = TranscribeSettings::new(home.path());
    let dir = settings.models_dir.clone();
    world.insert_resource(settings);
    world.insert_resource(UiState::default());
    let mut shelf = ModelShelf::default();
    shelf.rescan(dir.clone());
    world.insert_resource(shelf);
    until(&mut world, |w| w.resource::<ModelShelf>().scanned);
    assert!(world.resource::<ModelShelf>().speech().next().is_none());
    let notices: Vec<String> = world
        .resource::<UiState>()
        .notices
        .iter()
        .map(|n| n.text.clone())
        .collect();
    assert!(
        notices
            .iter()
            .any(|n| n.contains("No speech model is installed yet")),
        "{notices:?}"
    );

    // A right one: downloaded, chosen for new jobs, and listed.
    let d = Download {
        url: format!("http://127.0.0.1:{port}/ggml-tiny.en.bin"),
        dest: dir.join("ggml-tiny.en.bin"),
        sha256: Some(sha),
        size: Some(body.len() as u64),
        check: verbatim::transcribe::download::Check::Ggml,
    };
    world
        .resource_mut::<ModelShelf>()
        .start("tiny.en", d)
        .unwrap();
    assert!(world.resource::<ModelShelf>().busy());
    let (_, total) = world
        .resource::<ModelShelf>()
        .download
        .as_ref()
        .unwrap()
        .progress();
    assert_eq!(total, body.len() as u64);
    until(&mut world, |w| {
        let s = w.resource::<ModelShelf>();
        s.download.is_none() && !s.busy()
    });
    assert_eq!(
        world.resource::<TranscribeSettings>().default_model,
        "tiny.en"
    );
    let listed: Vec<String> = world
        .resource::<ModelShelf>()
        .speech()
        .map(|m| m.name.clone())
        .collect();
    assert_eq!(listed, ["tiny.en"]);

    // A wrong checksum: refused, said why, and no file or partial file left.
    let d = Download {
        url: format!("http://127.0.0.1:{port}/ggml-base.en.bin"),
        dest: dir.join("ggml-base.en.bin"),
        sha256: Some("0".repeat(64)),
        size: Some(body.len() as u64),
        check: verbatim::transcribe::download::Check::Ggml,
    };
    world
        .resource_mut::<ModelShelf>()
        .start("base.en", d)
        .unwrap();
    until(&mut world, |w| {
        w.resource::<ModelShelf>().download.is_none()
    });
    let last = world
        .resource::<UiState>()
        .notices
        .back()
        .unwrap()
        .text
        .clone();
    assert!(last.contains("Downloading base.en failed"), "{last}");
    assert!(last.contains("SHA-256"), "{last}");
    assert!(!dir.join("ggml-base.en.bin").exists());
    assert!(!dir.join("ggml-base.en.bin.part").exists());
    assert_eq!(
        world.resource::<TranscribeSettings>().default_model,
        "tiny.en"
    );
}
