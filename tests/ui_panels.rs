//! Panel tests with egui_kittest: no Bevy, no window. The panels are plain functions of a view,
//! the UI state and an intent list.
#![allow(clippy::unwrap_used, clippy::expect_used)] // tests fail loudly by design

use bevy_egui::egui;
use egui_kittest::Harness;
use egui_kittest::kittest::Queryable;
use verbatim::storage::ids::AudioFileId;
use verbatim::storage::repo::AudioFileRow;
use verbatim::ui::library_panel::{self, View};
use verbatim::ui::{Intent, Level, UiState};

fn row(id: i64, name: &str, ms: u64) -> AudioFileRow {
    AudioFileRow {
        id: AudioFileId(id),
        sha256: format!("{id:064x}"),
        original_name: name.into(),
        original_path: Some(format!("/home/me/{name}")),
        stored_path: format!("audio/00/{id:064x}.wav"),
        size_bytes: 352_078,
        container: "wav".into(),
        codec: "pcm_s16le".into(),
        duration_ms: ms,
        sample_rate: 16000,
        channels: 1,
        created_at: 1_763_680_000_000,
    }
}

struct Panel {
    rows: Vec<AudioFileRow>,
    loaded: bool,
    state: UiState,
    intents: Vec<Intent>,
}

fn harness(rows: Vec<AudioFileRow>, loaded: bool) -> Harness<'static, Panel> {
    Harness::new_ui_state(
        |ui, p: &mut Panel| {
            let refs: Vec<&AudioFileRow> = p.rows.iter().collect();
            let view = View {
                rows: &refs,
                loaded: p.loaded,
                load_error: None,
                importing: 0,
            };
            library_panel::show(ui, &view, &mut p.state, &mut p.intents);
        },
        Panel {
            rows,
            loaded,
            state: UiState::default(),
            intents: Vec::new(),
        },
    )
}

#[test]
fn lists_every_file_with_duration_format_and_size() {
    let mut h = harness(
        vec![row(1, "jfk.wav", 11_000), row(2, "meeting.wav", 3_723_000)],
        true,
    );
    h.run();
    h.get_by_label("jfk.wav");
    h.get_by_label("meeting.wav");
    h.get_by_label("11.0 s");
    h.get_by_label("1:02:03");
    assert_eq!(
        h.query_all_by_label("WAV · pcm_s16le · 16 kHz · mono")
            .count(),
        2
    );
    assert_eq!(h.query_all_by_label("352.1 KB").count(), 2);
}

#[test]
fn typing_a_path_and_pressing_import_emits_an_import_intent() {
    let mut h = harness(vec![], true);
    h.run();
    h.get_by_label("The library is empty. Import audio above, drop files on the window, or run `verbatim import FILE...`.");
    h.get_by_role(egui::accesskit::Role::TextInput).click();
    h.run();
    h.get_by_role(egui::accesskit::Role::TextInput)
        .type_text("/tmp/talk.flac");
    h.run();
    assert_eq!(h.state().state.import_path, "/tmp/talk.flac");
    h.get_by_label("Import").click();
    h.run();
    assert_eq!(
        h.state().intents,
        [Intent::Import(vec!["/tmp/talk.flac".into()])]
    );
    assert!(
        h.state().state.import_path.is_empty(),
        "the box is cleared after an import"
    );
}

#[test]
fn import_is_disabled_while_the_box_is_empty() {
    let mut h = harness(vec![], true);
    h.run();
    h.get_by_label("Import").click();
    h.run();
    assert!(h.state().intents.is_empty());
}

#[test]
fn import_errors_are_shown_in_the_panel() {
    let mut h = harness(vec![], true);
    h.state_mut().state.notify(
        Level::Error,
        "notes.txt: unsupported format: no suitable format reader found",
    );
    h.run();
    h.get_by_label("notes.txt: unsupported format: no suitable format reader found");
}

#[test]
fn shows_a_spinner_until_the_library_is_loaded() {
    let mut h = harness(vec![], false);
    h.run_steps(3);
    h.get_by_label("Loading the library…");
}
