//! The frame: the panels drawn from the world's state (the views built from the entities,
//! the top bar, the side panels, the editor and the transport).

use super::router::route;
use super::window::{leave_prompt, sync_zoom};
use super::*;

#[allow(clippy::too_many_arguments)] // a Bevy system: each argument is a system param
pub(super) fn draw(
    mut contexts: EguiContexts,
    mut state: ResMut<UiState>,
    lib: LibraryData,
    mut rec: RecorderData,
    db: Option<Res<Database>>,
    mut imports: MessageWriter<ImportRequested>,
    mut jobs: JobsData,
    mut ed: EditorData,
) -> Result {
    let ctx = contexts.ctx_mut()?;
    let rows: Vec<&crate::library::sql::AudioFileRow> = lib
        .order
        .0
        .iter()
        .filter_map(|e| lib.files.get(*e).ok())
        .map(|f| &f.0)
        .collect();
    let importing = lib.importer.as_ref().map_or(0, |i| i.in_flight());
    let mut intents = Vec::new();
    let status = status_bar::View {
        db_path: db.as_ref().map(|d| d.path().display().to_string()),
        features: crate::build_info::features(),
        files: rows.len(),
        importing,
    };
    let mut root = egui::Ui::new(
        ctx.clone(),
        "verbatim-root".into(),
        egui::UiBuilder::new()
            .layer_id(egui::LayerId::background())
            .max_rect(ctx.viewport_rect()),
    );
    let transcript_of = newest_transcripts(&lib);
    follow_documents(&mut state, &rec, &ed, &transcript_of, &mut intents);
    let recording = rec
        .takes
        .iter()
        .any(|(_, s, ..)| crate::capture::plugin::is_active(s));
    // A file dialog or the settings window has the keyboard: the panels' shortcuts wait.
    let keyboard = !ed.dialogs.is_open() && !state.settings_open;
    egui::Panel::top("bar").show(&mut root, |ui| {
        top_bar(ui, &mut state, ed.editor.doc.as_ref(), recording)
    });
    egui::Panel::bottom("status").show(&mut root, |ui| status_bar::show(ui, &status, &state));
    if !state.notices.is_empty() {
        egui::Panel::bottom("notices").show(&mut root, |ui| status_bar::notices(ui, &mut state));
    }
    let mut job_list: Vec<&TranscriptionJob> = jobs.jobs.iter().collect();
    job_list.sort_by_key(|j| std::cmp::Reverse(j.id));
    egui::Panel::bottom("jobs")
        .resizable(true)
        .default_size(150.0)
        .show(&mut root, |ui| {
            show_jobs(ui, &jobs, &job_list, &mut state, &mut intents)
        });
    egui::Panel::bottom("transport").show(&mut root, |ui| {
        show_transport(ui, &rec, &ed, keyboard, &mut state, &mut intents)
    });
    if !state.layout.library_hidden {
        let shown = egui::Panel::left("library")
            .default_size(state.layout.library_width.unwrap_or(LIBRARY_WIDTH))
            .size_range(LIBRARY_WIDTHS)
            .resizable(true)
            .show(&mut root, |ui| {
                let view = library_panel::View {
                    rows: &rows,
                    loaded: lib.state.loaded,
                    load_error: lib.state.error.as_deref(),
                    importing,
                    job_state: &job_states(&job_list),
                    transcript_of: &transcript_of,
                    search_results: &ed.editor.search_results,
                    speakers: &ed.library_speakers.list,
                };
                library_panel::show(ui, &view, &mut state, &mut intents);
            });
        // Kept in the settings once the user has dragged it away from the default.
        let w = shown.response.rect.width().round();
        state.layout.library_width = ((w - LIBRARY_WIDTH).abs() > 0.5).then_some(w);
    }
    egui::CentralPanel::default().show(&mut root, |ui| {
        if state.layout.main == MainView::Editor && ed.editor.doc.is_some() {
            show_editor(ui, &mut ed, keyboard, &mut state, &mut intents);
        } else {
            show_recorder(ui, &rec, &transcript_of, &mut state, &mut intents);
        }
    });
    if !ctx.egui_wants_keyboard_input()
        && ctx.input(|i| i.modifiers.command && i.key_pressed(egui::Key::Comma))
    {
        state.settings_open = !state.settings_open;
    }
    if state.settings_open {
        show_settings(
            ctx,
            &rec,
            &jobs,
            db.as_deref(),
            recording,
            &mut state,
            &mut intents,
        );
    }
    shortcuts_overlay(ctx, &mut state);
    leave_prompt(ctx, &mut state, &mut ed);
    sync_zoom(ctx, &mut state);
    match ed.dialogs.show(ctx) {
        Some(dialogs::Chosen::Import(paths)) => intents.push(Intent::Import(paths)),
        Some(dialogs::Chosen::Export {
            format,
            words,
            path,
        }) => {
            ed.commands.write(crate::editor::EditorCommand::Export {
                format,
                path,
                words,
            });
        }
        None => {}
    }
    if !intents.is_empty() {
        // Make sure the next frame runs now, so the intent is acted on without waiting for input.
        ctx.request_repaint();
    }
    for intent in intents {
        route(
            intent,
            &mut state,
            &mut imports,
            &mut jobs,
            &mut rec,
            &mut ed,
        );
    }
    Ok(())
}

/// A finished take goes straight to the editor once it has a transcript; a transcript just
/// opened takes the main area, and with none open the recorder has it.
fn follow_documents(
    state: &mut UiState,
    rec: &RecorderData,
    ed: &EditorData,
    transcript_of: &std::collections::HashMap<
        crate::storage::ids::AudioFileId,
        library_panel::FileTranscript,
    >,
    intents: &mut Vec<Intent>,
) {
    let take_file = rec.takes.iter().next().and_then(|(_, s, ..)| s.audio_file);
    let editing = must_ask_before_leaving(&ed.editor, &state.editor);
    if let Some(t) = hand_over(
        take_file,
        &mut state.layout.handed_over,
        transcript_of,
        editing,
    ) {
        intents.push(Intent::OpenTranscript {
            transcript: t,
            segment: None,
        });
    }
    let doc = ed.editor.doc.as_ref().map(|d| d.transcript.id);
    // A speaker's sample asked for: played once its transcript is open.
    if let Some((t, ms)) = state.speakers.hear
        && doc == Some(t)
    {
        state.speakers.hear = None;
        intents.push(Intent::Editor(editor::EditorIntent::Seek {
            ms,
            play: true,
        }));
    }
    if doc != state.layout.shown_doc {
        state.layout.shown_doc = doc;
        // Another file: the timeline shows it whole.
        state.editor.view = None;
        state.layout.main = if doc.is_some() {
            MainView::Editor
        } else {
            MainView::Recorder
        };
    }
}

/// The bar across the top: the library sidebar's switch and what the main area shows (the
/// recorder, with a red dot while a take records, or the open transcript).
pub(super) fn top_bar(
    ui: &mut egui::Ui,
    state: &mut UiState,
    doc: Option<&crate::editor::Doc>,
    recording: bool,
) {
    ui.horizontal(|ui| {
        let shown = !state.layout.library_hidden;
        if ui
            .button("?")
            .on_hover_text("Keyboard shortcuts (?)")
            .clicked()
        {
            state.shortcuts_open = !state.shortcuts_open;
        }
        if ui
            .selectable_label(state.settings_open, "Settings")
            .on_hover_text("Every setting that stays, in one place (Ctrl+,)")
            .clicked()
        {
            state.settings_open = !state.settings_open;
        }
        if ui
            .selectable_label(shown, "☰ Library")
            .on_hover_text(if shown {
                "Hide the library"
            } else {
                "Show the library"
            })
            .clicked()
        {
            state.layout.library_hidden = shown;
        }
        ui.separator();
        let rec_label = if recording {
            egui::RichText::new("⏺ Recorder").color(egui::Color32::from_rgb(230, 70, 70))
        } else {
            egui::RichText::new("Recorder")
        };
        if ui
            .selectable_label(state.layout.main == MainView::Recorder, rec_label)
            .clicked()
        {
            state.layout.main = MainView::Recorder;
        }
        if let Some(d) = doc {
            let name = d
                .transcript
                .title
                .as_deref()
                .unwrap_or(&d.transcript.audio_name);
            if ui
                .selectable_label(
                    state.layout.main == MainView::Editor,
                    format!("Editor: {name}"),
                )
                .on_hover_text(format!(
                    "{name}, version {}{}",
                    d.version.number,
                    if d.session.dirty() {
                        " (unsaved changes)"
                    } else {
                        ""
                    }
                ))
                .clicked()
            {
                state.layout.main = MainView::Editor;
            }
        }
    });
}

/// Each file's newest job, as the library shows it (progress or status).
pub(super) fn job_states(
    job_list: &[&TranscriptionJob],
) -> std::collections::HashMap<crate::storage::ids::AudioFileId, String> {
    let mut job_state = std::collections::HashMap::new();
    for j in job_list.iter().rev() {
        let text = match j.status {
            JobStatus::Running => format!("{:.0}%", j.progress * 100.0),
            s => jobs_panel::status_text(s).to_string(),
        };
        job_state.insert(j.audio_file, text);
    }
    job_state
}

/// Every transcribed file's newest transcript to open, however many jobs there are.
pub(super) fn newest_transcripts(
    lib: &LibraryData,
) -> std::collections::HashMap<crate::storage::ids::AudioFileId, library_panel::FileTranscript> {
    let mut transcript_of = std::collections::HashMap::new();
    for (file, ts) in &lib.transcribed {
        let newest = ts
            .entities()
            .iter()
            .filter_map(|e| lib.transcripts.get(*e).ok())
            .max_by_key(|t| t.0.id)
            .map(|t| library_panel::FileTranscript {
                id: t.0.id,
                versions: t.0.versions,
            });
        if let Some(t) = newest {
            transcript_of.insert(file.0.id, t);
        }
    }
    transcript_of
}

/// The jobs panel's view (also the settings view's model, GPU and vocabulary rows).
pub(super) fn jobs_view<'a>(
    jobs: &'a JobsData,
    job_list: &'a [&'a TranscriptionJob],
    features: &'a [&'static str],
) -> jobs_panel::View<'a> {
    jobs_panel::View {
        jobs: job_list,
        gpu: jobs.settings.gpu,
        model: &jobs.settings.default_model,
        features,
        use_vocabulary: jobs.settings.params.use_vocabulary,
        speakers_after: jobs.settings.speakers_after,
        speaker_model: jobs.shelf.speaker_model,
        installed: &jobs.shelf.installed,
        scanned: jobs.shelf.scanned,
        download: jobs
            .shelf
            .download
            .as_ref()
            .map(|d| (d.name.as_str(), d.progress())),
    }
}

pub(super) fn show_jobs(
    ui: &mut egui::Ui,
    jobs: &JobsData,
    job_list: &[&TranscriptionJob],
    state: &mut UiState,
    intents: &mut Vec<Intent>,
) {
    let features = crate::build_info::features();
    let view = jobs_view(jobs, job_list, &features);
    let mut jobs_ui = std::mem::take(&mut state.jobs);
    jobs_panel::show(ui, &view, &mut jobs_ui, intents);
    state.jobs = jobs_ui;
}

/// The settings window, while open.
pub(super) fn show_settings(
    ctx: &egui::Context,
    rec: &RecorderData,
    jobs: &JobsData,
    db: Option<&Database>,
    recording: bool,
    state: &mut UiState,
    intents: &mut Vec<Intent>,
) {
    let mut open = state.settings_open;
    let features = crate::build_info::features();
    let view_jobs = jobs_view(jobs, &[], &features);
    let view_rec = recorder_panel::View {
        devices: &rec.devices.list,
        devices_listed: rec.devices.listed,
        refreshing: rec.devices.refreshing(),
        device: rec.settings.device.as_deref(),
        take: None,
        live_enabled: rec.live.enabled,
    };
    let settings_file = jobs.kept.as_ref().map(|s| s.dir.join(settings::FILE));
    let view = settings_view::View {
        jobs: &view_jobs,
        recorder: &view_rec,
        recording,
        paths: settings_view::Paths {
            settings_file: settings_file.as_deref(),
            database: db.map(Database::path),
            models: &jobs.settings.models_dir,
        },
    };
    // As tall as what it shows, scrolling only when the window is too short for it.
    let max_h = (ctx.content_rect().height() - 120.0).max(200.0);
    egui::Window::new("Settings")
        .open(&mut open)
        .collapsible(false)
        .resizable(false)
        .default_width(640.0)
        .show(ctx, |ui| {
            egui::ScrollArea::vertical()
                .max_height(max_h)
                .min_scrolled_height(max_h)
                .show(ui, |ui| settings_view::show(ui, &view, state, intents))
        });
    state.settings_open = open && state.settings_open;
}

pub(super) fn show_recorder(
    ui: &mut egui::Ui,
    rec: &RecorderData,
    transcript_of: &std::collections::HashMap<
        crate::storage::ids::AudioFileId,
        library_panel::FileTranscript,
    >,
    state: &mut UiState,
    intents: &mut Vec<Intent>,
) {
    let take = rec
        .takes
        .iter()
        .next()
        .map(
            |(entity, s, stats, levels, spectrum, wave, live)| recorder_panel::TakeView {
                live: live.map(|l| recorder_panel::LiveView {
                    lines: l
                        .committed
                        .iter()
                        .map(|c| (c.piece.text.as_str(), c.bookmarked))
                        .collect(),
                    tail: l.tail_text(),
                    lag_ms: l.lag_ms((s.seconds(stats) * 1000.0) as u64),
                    caption_lag_ms: l.recent_caption_lag_ms(20),
                    steps: l.steps,
                    error: l.error.as_deref(),
                }),
                state: s.state,
                device_name: &s.format.device_name,
                sample_rate: s.format.sample_rate,
                channels: s.format.channels,
                sample_format: &s.format.sample_format,
                path: &s.path,
                stats: &stats.0,
                meters: levels.map_or(&[][..], |l| &l.meters),
                spectrum: spectrum.map(|s| (&s.bands_db[..], &s.axis)),
                spectrogram: rec
                    .texture
                    .as_ref()
                    .filter(|t| t.shown.is_some_and(|(e, _)| e == entity))
                    .map(|t| t.egui),
                pyramid: &wave.pyramid,
                xruns: &wave.xruns,
                gaps: &wave.gaps,
                finished: s.finished.as_ref(),
                audio_file: s.audio_file,
                transcribed: s.audio_file.is_some_and(|f| transcript_of.contains_key(&f)),
                store_error: s.store_error.as_deref(),
            },
        );
    let view = recorder_panel::View {
        devices: &rec.devices.list,
        devices_listed: rec.devices.listed,
        refreshing: rec.devices.refreshing(),
        device: rec.settings.device.as_deref(),
        take,
        live_enabled: rec.live.enabled,
    };
    let mut recorder_ui = std::mem::take(&mut state.recorder);
    recorder_panel::show(ui, &view, &mut recorder_ui, intents);
    state.recorder = recorder_ui;
}

/// The player as the editor and the transport bar see it.
pub(super) fn player_view(ed: &EditorData) -> editor::PlayerView {
    match ed.player.as_ref() {
        Some(p) => editor::PlayerView {
            position_ms: p.position_ms(),
            playing: p.is_playing(),
            speed: p.speed(),
            unavailable: match &p.status {
                crate::playback::PlayerStatus::Unavailable(e) => Some(e.clone()),
                _ => None,
            },
        },
        None => editor::PlayerView {
            position_ms: 0,
            playing: false,
            speed: 1.0,
            unavailable: Some("no player".into()),
        },
    }
}

/// The open version's segment entities as the panels read them.
pub(super) fn open_segments<'a, 'w, 's>(ed: &'a EditorData<'w, 's>) -> OpenSegments<'a, 'w, 's> {
    OpenSegments {
        order: ed.open.single().map_or(&[][..], Segments::entities),
        rows: &ed.segments,
        flagged: ed.flagged.0,
    }
}

/// The transport bar: the open transcript's playback and the take's recording.
pub(super) fn show_transport(
    ui: &mut egui::Ui,
    rec: &RecorderData,
    ed: &EditorData,
    keyboard: bool,
    state: &mut UiState,
    intents: &mut Vec<Intent>,
) {
    let player = ed.editor.doc.as_ref().map(|d| (d, player_view(ed)));
    let segments = open_segments(ed);
    let playback = player.as_ref().map(|(d, p)| transport_bar::Playback {
        player: p,
        duration_ms: d.transcript.duration_ms,
        selected: d
            .selected
            .and_then(|i| segments.row(i))
            .map(|s| (s.start_ms, s.end_ms)),
    });
    let take = rec
        .takes
        .iter()
        .next()
        .map(|(_, s, stats, ..)| (s.state, s.seconds(stats)));
    let view = transport_bar::View {
        playback,
        take,
        keyboard,
    };
    transport_bar::show(ui, &view, &mut state.editor, intents);
}

pub(super) fn show_editor(
    ui: &mut egui::Ui,
    ed: &mut EditorData,
    keyboard: bool,
    state: &mut UiState,
    intents: &mut Vec<Intent>,
) {
    let Some(doc) = ed.editor.doc.as_ref() else {
        return;
    };
    // The spectrogram picture computed last (for this file), as a texture.
    let bands = crate::editor::SPECTROGRAM_BANDS;
    if let Some((v, rgba)) = &ed.spectrogram.image
        && v.file == doc.transcript.audio_file.0
        && ed
            .spectrogram_texture
            .0
            .as_ref()
            .is_none_or(|(shown, _)| shown != v)
        && rgba.len() == v.width as usize * bands * 4
    {
        let image = egui::ColorImage::from_rgba_unmultiplied([v.width as usize, bands], rgba);
        let tex = ui
            .ctx()
            .load_texture("file-spectrogram", image, egui::TextureOptions::LINEAR);
        ed.spectrogram_texture.0 = Some((*v, tex));
    }
    let player = player_view(ed);
    let segments = open_segments(ed);
    let view = editor::View {
        doc,
        segments: &segments,
        compare: ed.editor.compare.as_ref(),
        player,
        peaks: ed.peaks.pyramid.as_ref(),
        spectrogram: ed
            .spectrogram_texture
            .0
            .as_ref()
            .filter(|(v, _)| v.file == doc.transcript.audio_file.0)
            .map(|(v, t)| (t, (v.start_ms, v.span_ms))),
        keyboard,
        finding_speakers: ed
            .speaker_jobs
            .iter()
            .find(|j| j.transcript == doc.transcript.id)
            .map(|j| j.progress.fraction()),
    };
    let mut editor_ui = std::mem::take(&mut state.editor);
    editor::show(ui, &view, &mut editor_ui, intents);
    // Ask for the spectrogram of what the timeline shows now.
    let (start_ms, span_ms) = editor::visible(doc.transcript.duration_ms, editor_ui.view);
    let wanted = crate::editor::SpectrogramView {
        file: doc.transcript.audio_file.0,
        start_ms,
        span_ms,
        width: editor_ui.timeline_px,
    };
    state.editor = editor_ui;
    if ed.spectrogram.wanted != Some(wanted) {
        ed.spectrogram_wanted
            .write(crate::editor::SpectrogramWanted(wanted));
        // The editor takes it in the next frame, which must come without input.
        ui.ctx().request_repaint();
    }
}

/// The shortcuts overlay.
pub(super) fn shortcuts_overlay(ctx: &egui::Context, state: &mut UiState) {
    let typing = ctx.egui_wants_keyboard_input();
    if !typing && ctx.input(|i| i.key_pressed(egui::Key::Questionmark)) {
        state.shortcuts_open = !state.shortcuts_open;
    }
    let mut open = state.shortcuts_open;
    egui::Window::new("Keyboard shortcuts")
        .open(&mut open)
        .collapsible(false)
        .resizable(false)
        .anchor(egui::Align2::CENTER_CENTER, egui::Vec2::ZERO)
        .show(ctx, |ui| {
            egui::Grid::new("shortcuts").striped(true).show(ui, |ui| {
                for (keys, what) in SHORTCUTS {
                    ui.monospace(*keys);
                    ui.label(*what);
                    ui.end_row();
                }
            });
        });
    state.shortcuts_open = open;
}
