//! The router: the panels' intents translated into the messages the owning plugins apply.
//! It changes no feature's state itself (settings, the input device, the live switch, the
//! player and the spectrogram are each applied by their plugin); only the window's own
//! state (what is open, the notices, the model shelf, the file dialogs) changes here.

use crate::transcribe::SettingsChange;

use super::window::leave;
use super::*;

/// The editor command an editor intent asks for (`None`: playback, jobs, the view and
/// leaving the document, which the router handles itself). The window's router and the
/// editor's model-based test translate through this one function.
pub fn editor_command(e: editor::EditorIntent) -> Option<crate::editor::EditorCommand> {
    use crate::editor::EditorCommand as C;
    use editor::EditorIntent as I;
    Some(match e {
        I::Seek { ms, play } => C::Seek { ms, play },
        I::Select(i) => C::Select(i),
        I::Edit(edit) => C::Edit(edit),
        I::EditText {
            version,
            key,
            base,
            text,
        } => C::EditText {
            version,
            key,
            base,
            text,
        },
        I::Typing(on) => C::Typing(on),
        I::Undo => C::Undo,
        I::Redo => C::Redo,
        I::Save { note } => C::Save { note },
        I::SaveOnTop { note } => C::SaveOnTop { note },
        I::RestoreDraft => C::RestoreDraft,
        I::DiscardEdits => C::DiscardEdits,
        I::Rollback(n) => C::Rollback { to: n },
        I::Compare { left, right } => C::Compare { left, right },
        I::CloseCompare => C::CloseCompare,
        I::FindSpeakers => C::FindSpeakers,
        I::CancelFindSpeakers => C::CancelFindSpeakers,
        // The player, the file dialog (`route`), jobs, leaving the document and the
        // panel's own view.
        I::TogglePlay
        | I::SetSpeed(_)
        | I::Loop(_)
        | I::Export(_)
        | I::ExportWords(_)
        | I::Retranscribe { .. }
        | I::View(_)
        | I::Close
        | I::OpenVersion(_) => return None,
    })
}

/// Whether leaving the open document now would drop work: the prompt must ask first.
pub fn must_ask_before_leaving(editor: &crate::editor::Editor, ui: &editor::EditorUi) -> bool {
    editor.unsaved() || editor::typing(ui)
}

pub(super) fn editor_intent(
    e: editor::EditorIntent,
    player: &mut MessageWriter<crate::playback::PlayerCommand>,
    out: &mut MessageWriter<crate::editor::EditorCommand>,
) {
    use crate::playback::PlayerCommand as P;
    use editor::EditorIntent as I;
    match e {
        I::TogglePlay => {
            player.write(P::TogglePlay);
        }
        I::SetSpeed(s) => {
            player.write(P::SetSpeed(s));
        }
        I::Loop(span) => {
            player.write(P::Loop(span));
        }
        e => {
            if let Some(cmd) = editor_command(e) {
                out.write(cmd);
            }
        }
    }
}

/// A transcription of a file with the current settings; with no speech model to run, an
/// explanation instead, and the model picker marked.
pub(super) fn transcribe(
    jobs: &mut JobsData,
    state: &mut UiState,
    audio_file: crate::storage::ids::AudioFileId,
) {
    let model = &jobs.settings.default_model;
    if jobs.shelf.scanned && !jobs.shelf.has(model) && !std::path::Path::new(model).is_file() {
        state.notify_about(
            Topic::Model,
            Level::Error,
            if jobs.shelf.speech().next().is_none() {
                format!(
                    "Nothing to transcribe with: no speech model is installed. Download {} \
                     under Transcription jobs (or run `verbatim models download {}`).",
                    crate::transcribe::catalog::RECOMMENDED,
                    crate::transcribe::catalog::RECOMMENDED
                )
            } else {
                format!("Model {model} is not installed: pick one under Transcription jobs.")
            },
        );
        state.jobs.attention = true;
        return;
    }
    jobs.requests.write(TranscribeRequest {
        audio_file,
        model: None,
        gpu: None,
        params: None,
        token: 0,
        into: None,
        redo: None,
        new_transcript: false,
    });
}

/// Spans of the open transcript transcribed again with the current settings (and this beam
/// width, no text before a span as context): one job for them all, repairing the open version
/// into one new version.
pub(super) fn retranscribe(
    jobs: &mut JobsData,
    editor: &crate::editor::Editor,
    spans: Vec<(u64, u64)>,
    beam: Option<u32>,
) {
    let Some(doc) = editor.doc.as_ref() else {
        return;
    };
    let Some(redo) = crate::transcribe::jobs::Redo::spans(Some(doc.version.id), &spans) else {
        return;
    };
    let params = crate::transcribe::DecodeParams {
        beam_size: beam,
        carry_context: false,
        ..jobs.settings.params.clone()
    };
    jobs.requests.write(TranscribeRequest {
        audio_file: doc.transcript.audio_file,
        model: None,
        gpu: None,
        params: Some(params),
        token: 0,
        into: Some(doc.transcript.id),
        redo: Some(redo),
        new_transcript: false,
    });
}

/// Asks where the open version's export goes, suggesting `NAME.vN[.words].EXT`.
pub(super) fn export_dialog(
    ed: &mut EditorData,
    format: crate::transcript::export::Format,
    words: bool,
) {
    let Some(d) = ed.editor.doc.as_ref() else {
        return;
    };
    let stem = std::path::Path::new(&d.transcript.audio_name)
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_else(|| format!("transcript-{}", d.transcript.id));
    let name = format!(
        "{stem}.v{}{}.{}",
        d.version.number,
        if words { ".words" } else { "" },
        format.code()
    );
    ed.dialogs.open_export(format, words, &name);
}

/// Sends an intent to the feature that acts on it.
pub(super) fn route(
    intent: Intent,
    state: &mut UiState,
    imports: &mut MessageWriter<ImportRequested>,
    jobs: &mut JobsData,
    rec: &mut RecorderData,
    ed: &mut EditorData,
) {
    match intent {
        Intent::Import(paths) => {
            for p in paths {
                imports.write(ImportRequested(p));
            }
        }
        Intent::Transcribe(id) => transcribe(jobs, state, id),
        Intent::Job(c) => {
            jobs.commands.write(c);
        }
        Intent::SetGpu(g) => {
            jobs.changes.write(SettingsChange::Gpu(g));
        }
        Intent::UseVocabulary(on) => {
            jobs.changes.write(SettingsChange::UseVocabulary(on));
        }
        Intent::SpeakersAfter(on) => {
            jobs.changes.write(SettingsChange::SpeakersAfter(on));
        }
        Intent::OpenTranscript {
            transcript,
            segment,
        } => leave(
            state,
            ed,
            Leave::Open {
                transcript,
                version: None,
                segment,
            },
        ),
        Intent::Editor(editor::EditorIntent::Close) => leave(state, ed, Leave::Close),
        Intent::Editor(editor::EditorIntent::OpenVersion(n)) => {
            if let Some(transcript) = ed.editor.doc.as_ref().map(|d| d.transcript.id) {
                leave(
                    state,
                    ed,
                    Leave::Open {
                        transcript,
                        version: Some(n),
                        segment: None,
                    },
                );
            }
        }
        Intent::Speakers(s) => {
            use crate::editor::speakers::SpeakersCommand as C;
            use speakers_panel::SpeakersIntent as I;
            match s {
                I::Rename { from, to, scope } => {
                    ed.speaker_commands.write(C::Rename { from, to, scope });
                }
                I::Merge { into, from, scope } => {
                    ed.speaker_commands.write(C::Merge { into, from, scope });
                }
                I::Hear(sample) => {
                    state.speakers.hear = Some((sample.transcript, sample.start_ms));
                    leave(
                        state,
                        ed,
                        Leave::Open {
                            transcript: sample.transcript,
                            version: None,
                            segment: Some(sample.segment_index),
                        },
                    );
                }
            }
        }
        Intent::Search(q) => {
            ed.commands.write(crate::editor::EditorCommand::Search {
                query: q,
                speaker: None,
            });
        }
        Intent::Editor(editor::EditorIntent::View(v)) => state.editor.view = v,
        Intent::Editor(editor::EditorIntent::Retranscribe { spans, beam }) => {
            retranscribe(jobs, &ed.editor, spans, beam);
        }
        Intent::Editor(editor::EditorIntent::Export(format)) => {
            export_dialog(ed, format, false);
        }
        Intent::Editor(editor::EditorIntent::ExportWords(format)) => {
            export_dialog(ed, format, true);
        }
        Intent::BrowseImport => ed.dialogs.open_import(),
        Intent::Editor(e) => editor_intent(e, &mut ed.player_commands, &mut ed.commands),
        Intent::SetModel(m) => {
            jobs.changes.write(SettingsChange::DefaultModel(m));
            state.jobs.attention = false;
            state.clear_topic(Topic::Model);
        }
        Intent::RescanModels => {
            let dir = jobs.settings.models_dir.clone();
            jobs.shelf.rescan(dir);
        }
        Intent::DownloadModel(name) => {
            let dir = jobs.settings.models_dir.clone();
            if let Err(e) = jobs.shelf.start_download(&name, &dir) {
                state.notify_about(
                    Topic::Model,
                    Level::Error,
                    format!("Cannot download {name}: {e}"),
                );
            }
        }
        Intent::Record(r) => record_intent(r, state, jobs, rec),
    }
}

pub(super) fn record_intent(
    r: RecordIntent,
    state: &mut UiState,
    jobs: &mut JobsData,
    rec: &mut RecorderData,
) {
    match r {
        RecordIntent::Start => {
            state.recorder = recorder_panel::RecorderUi::default();
            // The last take's end is old news.
            state.clear_topic(Topic::Recording);
            rec.commands
                .write(RecordCommand::Start(RecordRequest::default()));
        }
        RecordIntent::Pause => {
            rec.commands.write(RecordCommand::Pause);
        }
        RecordIntent::Resume => {
            rec.commands.write(RecordCommand::Resume);
        }
        RecordIntent::Stop => {
            rec.commands.write(RecordCommand::Stop);
        }
        RecordIntent::SelectDevice(d) => {
            rec.commands.write(RecordCommand::SelectDevice(d));
        }
        RecordIntent::RefreshDevices => {
            rec.commands.write(RecordCommand::RefreshDevices);
        }
        RecordIntent::SetLive(on) => {
            rec.live_switch
                .write(crate::transcribe::live::LiveSwitch(on));
        }
        RecordIntent::Bookmark(piece) => {
            if let Some((session, ..)) = rec.takes.iter().next() {
                rec.bookmarks.write(BookmarkLive { session, piece });
            }
        }
        RecordIntent::Transcribe(id) => transcribe(jobs, state, id),
    }
}
