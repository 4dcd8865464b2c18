//! Panel tests with egui_kittest: no Bevy, no window. The panels are plain functions of a view,
//! the UI state and an intent list.
#![allow(clippy::unwrap_used, clippy::expect_used)] // tests fail loudly by design

use bevy_egui::egui;
use egui_kittest::Harness;
use egui_kittest::kittest::Queryable;
use verbatim::library::sql::AudioFileRow;
use verbatim::storage::ids::AudioFileId;
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
    job_state: std::collections::HashMap<AudioFileId, String>,
    hits: Vec<verbatim::transcript::sql::SearchHit>,
    speakers: Vec<verbatim::speakers::sql::SpeakerUsage>,
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
                job_state: &p.job_state,
                transcript_of: &Default::default(),
                search_results: &p.hits,
                speakers: &p.speakers,
            };
            library_panel::show(ui, &view, &mut p.state, &mut p.intents);
        },
        Panel {
            rows,
            job_state: Default::default(),
            hits: Vec::new(),
            speakers: Vec::new(),
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
    // The import box is the first text field (the search box follows it).
    h.query_all_by_role(egui::accesskit::Role::TextInput)
        .next()
        .unwrap()
        .click();
    h.run();
    h.query_all_by_role(egui::accesskit::Role::TextInput)
        .next()
        .unwrap()
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
fn browse_opens_the_file_dialog() {
    let mut h = harness(vec![], true);
    h.run();
    h.get_by_label("Browse…").click();
    h.run();
    assert_eq!(h.state().intents, [Intent::BrowseImport]);
}

#[test]
fn import_is_disabled_while_the_box_is_empty() {
    let mut h = harness(vec![], true);
    h.run();
    h.get_by_label("Import").click();
    h.run();
    assert!(h.state().intents.is_empty());
}

/// Issue 27: one notice area. Import errors are shown there (not in the library, where five
/// red lines pushed the files down); a notice is superseded by a newer one about the same
/// thing, cleared when what it describes is over, and dismissed with its ×.
#[test]
fn notices_are_shown_once_superseded_cleared_and_dismissed() {
    use verbatim::ui::{Topic, status_bar};
    let mut h = Harness::new_ui_state(
        |ui, s: &mut UiState| status_bar::notices(ui, s),
        UiState::default(),
    );
    h.state_mut().notify_about(
        Topic::Import,
        Level::Error,
        "notes.txt: unsupported format: no suitable format reader found",
    );
    h.state_mut().notify_about(
        Topic::Model,
        Level::Error,
        "No speech model is installed yet: download base.en",
    );
    h.state_mut().notify_about(
        Topic::Recording,
        Level::Info,
        "Recording stopped: device gone",
    );
    h.run();
    h.get_by_label("notes.txt: unsupported format: no suitable format reader found");
    h.get_by_label("No speech model is installed yet: download base.en");
    // A newer notice about the take replaces the old one.
    h.state_mut().notify_about(
        Topic::Recording,
        Level::Info,
        "Recording finished (96000 frames)",
    );
    h.run();
    assert!(h.query_by_label("Recording stopped: device gone").is_none());
    // A job ran with a model: the missing-model notice is over.
    h.state_mut().clear_topic(Topic::Model);
    h.run();
    assert!(
        h.query_by_label("No speech model is installed yet: download base.en")
            .is_none()
    );
    // Dismissed with its ×: the newest is listed first.
    assert_eq!(h.state().notices.len(), 2);
    h.get_all_by_label("×").next().unwrap().click();
    h.run();
    assert_eq!(h.state().notices.len(), 1);
    assert!(
        h.query_by_label("Recording finished (96000 frames)")
            .is_none()
    );
    // However many notices come, the area keeps a few.
    for i in 0..20 {
        h.state_mut().notify(Level::Error, format!("problem {i}"));
    }
    assert_eq!(h.state().notices.len(), verbatim::ui::MAX_NOTICES);
}

#[test]
fn shows_a_spinner_until_the_library_is_loaded() {
    let mut h = harness(vec![], false);
    h.run_steps(3);
    h.get_by_label("Loading the library…");
}

#[test]
fn transcribe_on_a_row_emits_a_transcribe_intent_and_shows_the_job_state() {
    let mut h = harness(vec![row(7, "jfk.wav", 11_000)], true);
    h.state_mut()
        .job_state
        .insert(AudioFileId(7), "42%".to_string());
    h.run();
    h.get_by_label("42%");
    h.get_by_label("Transcribe").click();
    h.run();
    assert_eq!(h.state().intents, [Intent::Transcribe(AudioFileId(7))]);
}

/// Issue 27: "Transcribe all" queues a job for each file that has no transcript and no job
/// on its way.
#[test]
fn transcribe_all_queues_the_files_without_a_transcript() {
    let mut h = harness(
        vec![
            row(1, "a.wav", 1_000),
            row(2, "b.wav", 1_000),
            row(3, "c.wav", 1_000),
            row(4, "d.wav", 1_000),
        ],
        true,
    );
    h.state_mut()
        .job_state
        .insert(AudioFileId(2), "queued".to_string());
    h.state_mut()
        .job_state
        .insert(AudioFileId(3), "failed".to_string());
    h.run();
    h.get_by_label("Transcribe all not yet transcribed (3)")
        .click();
    h.run();
    assert_eq!(
        h.state().intents,
        [
            Intent::Transcribe(AudioFileId(1)),
            Intent::Transcribe(AudioFileId(3)),
            Intent::Transcribe(AudioFileId(4))
        ]
    );
}

mod jobs {
    use super::*;
    use verbatim::storage::ids::{JobId, TranscriptId};
    use verbatim::transcribe::{GpuPref, JobCommand, JobStatus, TranscriptionJob};
    use verbatim::ui::jobs_panel::{self, JobsUi};

    use egui_kittest::kittest::NodeT;
    use verbatim::transcribe::catalog::Installed;

    struct P {
        jobs: Vec<TranscriptionJob>,
        ui: JobsUi,
        intents: Vec<Intent>,
        model: String,
        installed: Vec<Installed>,
        download: Option<(String, (u64, u64))>,
    }

    fn installed(name: &str, vad: bool) -> Installed {
        Installed {
            name: name.into(),
            path: std::path::PathBuf::from(format!("/models/ggml-{name}.bin")),
            size_bytes: 1_000,
            vad,
            describe: format!("{name} model"),
        }
    }

    fn picker(model: &str, installed: Vec<Installed>) -> Harness<'static, P> {
        Harness::builder()
            .with_size(egui::vec2(1600.0, 400.0))
            .build_ui_state(
                |ui, p: &mut P| {
                    let refs: Vec<&TranscriptionJob> = p.jobs.iter().collect();
                    let view = jobs_panel::View {
                        jobs: &refs,
                        gpu: GpuPref::Auto,
                        model: &p.model,
                        features: &["cpu"],
                        use_vocabulary: false,
                        speakers_after: false,
                        speaker_model: false,
                        installed: &p.installed,
                        scanned: true,
                        download: p.download.as_ref().map(|(n, d)| (n.as_str(), *d)),
                    };
                    jobs_panel::show(ui, &view, &mut p.ui, &mut p.intents);
                },
                P {
                    jobs: Vec::new(),
                    ui: JobsUi::default(),
                    intents: Vec::new(),
                    model: model.into(),
                    installed,
                    download: None,
                },
            )
    }

    fn harness(jobs: Vec<TranscriptionJob>) -> Harness<'static, P> {
        let mut h = picker("base.en", vec![installed("base.en", false)]);
        h.state_mut().jobs = jobs;
        h
    }

    /// Issue 15, a first run that works: the picker lists the installed speech models only
    /// (the voice activity model as what it is, not to be chosen), says when the model asked
    /// for is not there, and choosing one sets it.
    #[test]
    fn the_model_picker_lists_only_installed_models() {
        let mut h = picker(
            "base",
            vec![
                installed("tiny.en", false),
                installed("silero-v6.2.0", true),
            ],
        );
        h.run();
        h.get_by_label("base is not installed");
        let combo = h.get_by_role(egui::accesskit::Role::ComboBox);
        assert_eq!(combo.accesskit_node().value().as_deref(), Some("base"));
        combo.click();
        h.run();
        assert!(h.query_by_label("small.en").is_none());
        assert!(
            h.query_by_label("silero-v6.2.0 (voice detection)")
                .is_some()
        );
        h.get_by_label("tiny.en").click();
        h.run();
        assert_eq!(h.state().intents, [Intent::SetModel("tiny.en".into())]);
    }

    #[test]
    fn with_no_speech_model_the_recommended_one_is_offered_and_its_download_shown() {
        let mut h = picker("base", vec![installed("silero-v6.2.0", true)]);
        h.run();
        let combo = h.get_by_role(egui::accesskit::Role::ComboBox);
        assert_eq!(
            combo.accesskit_node().value().as_deref(),
            Some("none installed")
        );
        h.get_by_label("Download base.en (148 MB)").click();
        h.run();
        assert_eq!(h.state().intents, [Intent::DownloadModel("base.en".into())]);
        h.state_mut().download = Some(("base.en".into(), (74_000_000, 148_000_000)));
        h.run();
        h.get_by_label("base.en: 74 of 148 MB");
        assert!(h.query_by_label("Download base.en (148 MB)").is_none());
    }

    /// A model given by its path (`--model FILE`) outside the models folder is the choice:
    /// shown by its file name, and no download is offered over it.
    #[test]
    fn a_model_given_by_path_is_shown_and_no_download_is_offered() {
        let mut h = picker(
            "/elsewhere/tiny.en-ggml.bin",
            vec![installed("silero-v6.2.0", true)],
        );
        h.run();
        let combo = h.get_by_role(egui::accesskit::Role::ComboBox);
        assert_eq!(
            combo.accesskit_node().value().as_deref(),
            Some("tiny.en-ggml.bin")
        );
        assert!(h.query_by_label("Download base.en (148 MB)").is_none());
    }

    #[test]
    fn shows_progress_backend_and_cancels_a_running_job() {
        let mut running =
            TranscriptionJob::detached(JobId(3), AudioFileId(1), "talk.wav", "base.en");
        running.status = JobStatus::Running;
        running.progress = 0.5;
        running.backend = Some("cpu: 1 thread, AVX2".into());
        running.backend_note = Some("this build has no GPU back-end".into());
        let mut done = TranscriptionJob::detached(JobId(2), AudioFileId(1), "talk.wav", "base.en");
        done.status = JobStatus::Completed;
        done.transcript = Some(TranscriptId(9));
        let mut h = harness(vec![running, done]);
        h.run();
        h.get_by_label("running");
        h.get_by_label("cpu: 1 thread, AVX2 (this build has no GPU back-end)");
        h.get_by_label("transcript #9");
        h.get_by_label("Cancel").click();
        h.run();
        assert_eq!(
            h.state().intents,
            [Intent::Job(JobCommand::Cancel(JobId(3)))]
        );
    }

    #[test]
    fn failed_jobs_show_the_error_and_retry() {
        let mut failed =
            TranscriptionJob::detached(JobId(4), AudioFileId(1), "talk.wav", "base.en");
        failed.status = JobStatus::Failed;
        failed.error = Some("the transcription engine was killed by signal 9 (SIGKILL)".into());
        let mut h = harness(vec![failed]);
        h.run();
        h.get_by_label("the transcription engine was killed by signal 9 (SIGKILL)");
        h.get_by_label("Retry").click();
        h.run();
        assert_eq!(
            h.state().intents,
            [Intent::Job(JobCommand::Retry(JobId(4)))]
        );
    }

    #[test]
    fn the_gpu_switch_emits_a_setting() {
        let mut h = harness(vec![]);
        h.run();
        h.get_by_label("off").click();
        h.run();
        assert_eq!(h.state().intents, [Intent::SetGpu(GpuPref::Off)]);
    }
}

#[test]
fn the_search_box_emits_a_search_and_results_open_the_editor() {
    let mut h = harness(vec![row(1, "jfk.wav", 11_000)], true);
    h.run();
    h.query_all_by_role(egui::accesskit::Role::TextInput)
        .nth(1)
        .unwrap()
        .click();
    h.run();
    h.query_all_by_role(egui::accesskit::Role::TextInput)
        .nth(1)
        .unwrap()
        .type_text("country");
    h.run();
    h.get_by_label("Search").click();
    h.run();
    assert_eq!(h.state().intents, [Intent::Search("country".into())]);
    // A result opens the editor at its segment.
    use verbatim::storage::ids::{SegmentId, TranscriptId, VersionId};
    h.state_mut().intents.clear();
    h.state_mut().hits = vec![verbatim::transcript::sql::SearchHit {
        transcript_id: TranscriptId(4),
        audio_file_id: AudioFileId(1),
        version_id: VersionId(9),
        version_number: 2,
        segment_id: SegmentId(77),
        start_ms: 8_160,
        end_ms: 10_620,
        snippet: "ask what you can do for your [country]".into(),
        segment_index: 3,
        title: Some("jfk.wav".into()),
        speaker: None,
    }];
    h.run();
    h.get_by_label("jfk.wav · v2 · 00:00:08.160 · ask what you can do for your [country]")
        .click();
    h.run();
    assert_eq!(
        h.state().intents,
        [Intent::OpenTranscript {
            transcript: TranscriptId(4),
            segment: Some(3)
        }]
    );
}

/// Issue 15, the transport bar: playback of the open transcript and recording, always there.
mod transport {
    use super::*;
    use verbatim::capture::plugin::TakeState;
    use verbatim::ui::editor::{EditorIntent, EditorUi, PlayerView};
    use verbatim::ui::recorder_panel::RecordIntent;
    use verbatim::ui::transport_bar::{self, Playback};

    struct T {
        player: Option<PlayerView>,
        take: Option<(TakeState, f64)>,
        ui: EditorUi,
        intents: Vec<Intent>,
        keyboard: bool,
    }

    fn bar(width: f32, player: Option<PlayerView>) -> Harness<'static, T> {
        Harness::builder()
            .with_size(egui::vec2(width, 120.0))
            .build_ui_state(
                |ui, t: &mut T| {
                    let view = transport_bar::View {
                        playback: t.player.as_ref().map(|p| Playback {
                            player: p,
                            duration_ms: 60_000,
                            selected: Some((5_000, 8_000)),
                        }),
                        take: t.take,
                        keyboard: t.keyboard,
                    };
                    transport_bar::show(ui, &view, &mut t.ui, &mut t.intents);
                },
                T {
                    player,
                    take: None,
                    ui: EditorUi::default(),
                    intents: Vec::new(),
                    keyboard: true,
                },
            )
    }

    fn at(ms: u64) -> PlayerView {
        PlayerView {
            position_ms: ms,
            playing: false,
            speed: 1.0,
            unavailable: None,
        }
    }

    fn click(h: &mut Harness<'static, T>, label: &str) -> Vec<Intent> {
        h.state_mut().intents.clear();
        h.get_by_label(label).click();
        h.run();
        std::mem::take(&mut h.state_mut().intents)
    }

    #[test]
    fn play_skip_loop_follow_and_record_emit_their_intents() {
        let mut h = bar(1600.0, Some(at(10_000)));
        h.run();
        h.get_by_label("00:00:10.000 / 00:01:00.000");
        let seek = |ms, play| Intent::Editor(EditorIntent::Seek { ms, play });
        assert_eq!(
            click(&mut h, "▶ Play"),
            [Intent::Editor(EditorIntent::TogglePlay)]
        );
        assert_eq!(click(&mut h, "⏩"), [seek(15_000, false)]);
        assert_eq!(click(&mut h, "⏪"), [seek(5_000, false)]);
        assert_eq!(click(&mut h, "⏮"), [seek(0, false)]);
        // Loop repeats the selected segment from its start.
        assert_eq!(
            click(&mut h, "⟲ Loop"),
            [
                Intent::Editor(EditorIntent::Loop(Some((5_000, 8_000)))),
                seek(5_000, true)
            ]
        );
        assert!(h.state().ui.looping);
        assert_eq!(
            click(&mut h, "⟲ Loop"),
            [Intent::Editor(EditorIntent::Loop(None))]
        );
        assert!(!h.state().ui.no_follow);
        click(&mut h, "Follow");
        assert!(h.state().ui.no_follow, "Follow unticked");
        assert_eq!(
            click(&mut h, "⏺ Record"),
            [Intent::Record(RecordIntent::Start)]
        );
        // While a take records: its time, pause and stop; Ctrl+R stops it.
        h.state_mut().take = Some((TakeState::Recording, 3.5));
        h.run();
        h.get_by_label("00:03.5");
        assert_eq!(
            click(&mut h, "⏹ Stop"),
            [Intent::Record(RecordIntent::Stop)]
        );
        h.key_press_modifiers(egui::Modifiers::COMMAND, egui::Key::R);
        h.run();
        assert_eq!(h.state().intents, [Intent::Record(RecordIntent::Stop)]);
    }

    #[test]
    fn with_no_transcript_open_playback_is_greyed_out_and_recording_works() {
        let mut h = bar(1600.0, None);
        h.run();
        assert!(click(&mut h, "▶ Play").is_empty(), "play is disabled");
        assert!(click(&mut h, "⏩").is_empty());
        assert_eq!(
            click(&mut h, "⏺ Record"),
            [Intent::Record(RecordIntent::Start)]
        );
        h.key_press_modifiers(egui::Modifiers::COMMAND, egui::Key::R);
        h.run();
        assert_eq!(h.state().intents, [Intent::Record(RecordIntent::Start)]);
        // Not while a file dialog or the settings window has the keyboard.
        h.state_mut().intents.clear();
        h.state_mut().keyboard = false;
        h.key_press_modifiers(egui::Modifiers::COMMAND, egui::Key::R);
        h.run();
        assert!(h.state().intents.is_empty());
    }

    /// At 1280×800 with the sidebar open the bar is about 900 px wide: every control is
    /// inside it (the bar wraps rather than cutting them off).
    #[test]
    fn a_narrow_bar_wraps_and_cuts_nothing_off() {
        for width in [500.0, 900.0] {
            let mut h = bar(width, Some(at(10_000)));
            h.run();
            for label in ["⏮", "⏪", "▶ Play", "⏩", "⟲ Loop", "Follow", "⏺ Record"] {
                let r = h.get_by_label(label).rect();
                assert!(
                    r.right() <= width + 0.5 && r.left() >= 0.0,
                    "{label} at {r:?} in a bar {width} px wide"
                );
            }
        }
    }
}

/// Issue 15, settings that stay: one view of every kept setting.
mod settings_view {
    use super::*;
    use verbatim::transcribe::GpuPref;
    use verbatim::transcribe::catalog::Installed;
    use verbatim::ui::{jobs_panel, recorder_panel, settings_view};

    struct S {
        state: UiState,
        intents: Vec<Intent>,
        installed: Vec<Installed>,
    }

    fn harness() -> Harness<'static, S> {
        Harness::builder()
            .with_size(egui::vec2(700.0, 700.0))
            .build_ui_state(
                |ui, s: &mut S| {
                    let jobs = jobs_panel::View {
                        jobs: &[],
                        gpu: GpuPref::Auto,
                        model: "tiny.en",
                        features: &["cpu"],
                        use_vocabulary: false,
                        speakers_after: false,
                        speaker_model: false,
                        installed: &s.installed,
                        scanned: true,
                        download: None,
                    };
                    let rec = recorder_panel::View {
                        devices: &[],
                        devices_listed: true,
                        refreshing: false,
                        device: None,
                        take: None,
                        live_enabled: false,
                    };
                    let view = settings_view::View {
                        jobs: &jobs,
                        recorder: &rec,
                        recording: false,
                        paths: settings_view::Paths {
                            settings_file: Some(std::path::Path::new("/data/settings.json")),
                            database: Some(std::path::Path::new("/data/verbatim.db")),
                            models: std::path::Path::new("/data/models"),
                        },
                    };
                    settings_view::show(ui, &view, &mut s.state, &mut s.intents);
                },
                S {
                    state: UiState::default(),
                    intents: Vec::new(),
                    installed: vec![Installed {
                        name: "tiny.en".into(),
                        path: "/data/models/ggml-tiny.en.bin".into(),
                        size_bytes: 77_700_000,
                        vad: false,
                        describe: "tiny.en".into(),
                    }],
                },
            )
    }

    #[test]
    fn every_kept_setting_is_there_and_changes_what_is_kept() {
        let mut h = harness();
        h.run();
        h.get_by_label("/data/settings.json");
        h.get_by_label("/data/models");
        h.get_by_value("tiny.en");
        h.get_by_label("off").click();
        h.run();
        h.get_by_label("Live transcript").click();
        h.run();
        h.get_by_label("Prompt with the vocabulary").click();
        h.run();
        assert_eq!(
            h.state().intents,
            [
                Intent::SetGpu(GpuPref::Off),
                Intent::Record(verbatim::ui::recorder_panel::RecordIntent::SetLive(true)),
                Intent::UseVocabulary(true),
            ]
        );
        // Window settings live in the UI state, which the settings file keeps.
        h.get_by_label("125 %").click();
        h.run();
        h.get_by_label("Show the library sidebar").click();
        h.run();
        h.get_by_label("hidden").click();
        h.run();
        h.get_by_label("Follow the playhead while playing").click();
        h.run();
        {
            let s = &h.state().state;
            assert_eq!(s.zoom, Some(1.25));
            assert!(s.zoom_pending && s.layout.library_hidden && s.editor.no_follow);
            assert_eq!(s.jobs.list_shown, Some(false));
        }
        h.get_by_label("Restore the default layout").click();
        h.run();
        let s = &h.state().state;
        assert_eq!(s.zoom, Some(1.0));
        assert!(!s.layout.library_hidden && !s.editor.no_follow);
        assert_eq!(s.jobs.list_shown, None);
    }
}

/// Every symbol the panels write (⏺, ⏸, ⟲, …) is in egui's fonts: a missing one draws as an
/// empty box. Read from the panels' sources, so a new symbol is checked when it is added, and
/// looked up in the character maps of the fonts egui draws with (egui's own `has_glyph`
/// answers no for symbols its fallback face has).
#[test]
fn every_symbol_the_panels_use_can_be_drawn() {
    use skrifa::MetadataProvider;
    let fonts = [
        epaint_default_fonts::UBUNTU_LIGHT,
        epaint_default_fonts::NOTO_EMOJI_REGULAR,
        epaint_default_fonts::EMOJI_ICON,
    ];
    let drawn = |c: char| {
        fonts.iter().any(|bytes| {
            skrifa::FontRef::new(bytes)
                .map(|f| f.charmap().map(c).is_some())
                .unwrap_or(false)
        })
    };
    let mut missing = Vec::new();
    // Every source file under src/ui, its folders (the editor panel's) included.
    let mut files = Vec::new();
    let mut dirs = vec![std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("src/ui")];
    while let Some(dir) = dirs.pop() {
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                dirs.push(path);
            } else if path.extension().is_some_and(|e| e == "rs") {
                files.push(path);
            }
        }
    }
    assert!(
        files.iter().any(|f| f.ends_with("editor/timeline.rs")),
        "the editor panel's files are read"
    );
    let mut checked = 0;
    for path in files {
        let text = std::fs::read_to_string(&path).unwrap();
        // The symbols inside string literals of code (comments are prose).
        for line in text.lines().filter(|l| !l.trim_start().starts_with("//")) {
            let mut in_string = false;
            for c in line.chars() {
                if c == '"' {
                    in_string = !in_string;
                } else if in_string && !c.is_ascii() {
                    checked += 1;
                    if !drawn(c) {
                        missing.push(format!("{c} (U+{:04X}) in {}", c as u32, path.display()));
                    }
                }
            }
        }
    }
    assert!(checked > 20, "the symbols were found ({checked})");
    missing.sort();
    missing.dedup();
    assert!(missing.is_empty(), "no glyph for: {missing:#?}");
}

/// The speakers panel: people and each recording's labels with their recordings and time;
/// Hear, Rename (the field takes the keyboard with the old name selected: typing replaces
/// it) and Merge (a person, or a label of the same recording) as intents.
#[test]
fn the_speakers_panel_names_hears_and_merges_as_intents() {
    use verbatim::speakers::sql::{Sample, SpeakerUsage};
    use verbatim::storage::ids::TranscriptId;
    use verbatim::ui::speakers_panel::SpeakersIntent;
    let sample = Sample {
        transcript: TranscriptId(2),
        segment_index: 4,
        start_ms: 12_000,
        end_ms: 19_500,
    };
    let who = |name: &str, only_in: Option<i64>| SpeakerUsage {
        name: name.into(),
        only_in: only_in.map(TranscriptId),
        recording: only_in.map(|t| format!("call{t}.wav")),
        remembered: only_in.is_none(),
        windows: if only_in.is_none() { 40 } else { 0 },
        recordings: 1 + u32::from(only_in.is_none()),
        transcripts: 1,
        speaking_ms: 83_000,
        sample: Some(sample),
    };
    let mut h = harness(vec![row(1, "call.wav", 60_000)], true);
    h.state_mut().speakers = vec![
        who("Maeve", None),
        who("SPEAKER_01", Some(2)),
        who("SPEAKER_02", Some(2)),
        who("SPEAKER_01", Some(3)),
    ];
    h.run();
    h.get_by_label("Speakers (4)").click();
    h.run();
    assert!(
        h.query_by_label("2 recordings · 1:23 · voice kept")
            .is_some()
    );
    assert_eq!(h.query_all_by_label("in call2.wav · 1:23").count(), 2);
    h.get_all_by_label("▶ Hear").next().unwrap().click();
    h.run();
    assert_eq!(
        h.state().intents,
        [Intent::Speakers(SpeakersIntent::Hear(sample))]
    );
    h.state_mut().intents.clear();
    // Rename the first label: typing replaces its name at once.
    h.get_all_by_label("Rename…").nth(1).unwrap().click();
    h.run();
    h.run();
    // The third field (after import and search), its old name selected.
    let field = h
        .query_all_by_role(egui::accesskit::Role::TextInput)
        .last()
        .unwrap();
    assert_eq!(field.value().as_deref(), Some("SPEAKER_01"));
    field.type_text("Ed");
    h.run();
    h.get_by_label("Rename").click();
    h.run();
    assert_eq!(
        h.state().intents,
        [Intent::Speakers(SpeakersIntent::Rename {
            from: "SPEAKER_01".into(),
            to: "Ed".into(),
            scope: Some(TranscriptId(2)),
        })]
    );
    h.state_mut().intents.clear();
    // Merge the second label of recording 2: into Maeve or the other label of that
    // recording, never a label of another recording. (Maeve, the only person, has nobody to
    // be merged into: her row has no Merge.)
    assert_eq!(h.query_all_by_label("Merge…").count(), 3);
    h.get_all_by_label("Merge…").nth(1).unwrap().click();
    h.run();
    h.query_all_by_role(egui::accesskit::Role::ComboBox)
        .next()
        .unwrap()
        .click();
    h.run();
    h.run();
    let labels = h.query_all_by_label("SPEAKER_01").count();
    assert_eq!(
        labels, 3,
        "the two rows, and one choice: the label of the same recording"
    );
    h.get_all_by_label("Maeve").last().unwrap().click();
    h.run();
    h.get_by_label("Merge").click();
    h.run();
    assert_eq!(
        h.state().intents,
        [Intent::Speakers(SpeakersIntent::Merge {
            into: "Maeve".into(),
            from: "SPEAKER_02".into(),
            scope: Some(TranscriptId(2)),
        })]
    );
}
