//! The window: bevy_egui panels over the ECS. Panels are plain functions of a view, the
//! [`UiState`] and an intent list, so they can be tested without Bevy; the systems here build
//! the views, call the panels and turn intents into messages. The UI never mutates domain
//! components.

pub mod dialogs;
pub mod editor;
mod frame;
pub mod jobs_panel;
pub mod library_panel;
pub mod models;
mod notices;
pub mod recorder_panel;
mod router;
pub mod schedules;
pub mod screenshot;
pub mod settings;
pub mod settings_view;
pub mod speakers_panel;
pub mod status_bar;
mod textures;
pub mod transport_bar;
mod window;

use frame::draw;
use notices::collect_notices;
pub use router::{editor_command, must_ask_before_leaving};
use textures::upload_spectrograms;
use window::{
    close_requested, drop_unchanged_modifiers, file_drops, finish_leaving, keep_awake_while_busy,
    list_devices, log_frames, reserve_ui_core, spawn_camera, wake_on_answers,
};

use std::collections::VecDeque;
use std::path::PathBuf;

use bevy::ecs::system::SystemParam;
use bevy::prelude::*;
use bevy::window::{FileDragAndDrop, RequestRedraw};
use bevy::winit::WinitSettings;
use bevy_egui::{EguiContexts, EguiPlugin, EguiPrimaryContextPass, egui};

use crate::capture::plugin::{
    CaptureSettings, InputDevices, Levels, LiveSpectrum, RecordCommand, RecordRequest,
    RecordingNotice, RecordingSession, Spectrogram, TakeStats, Waveform,
};
use crate::editor::rows::{OpenSegments, SegmentRowData, SegmentRows};
use crate::editor::segments::{OpenVersion, Segments};
use crate::library::{
    AudioFile, ImportFinished, ImportRequested, Importer, LibraryOrder, LibraryState,
};
use crate::storage::plugin::Database;
use crate::transcribe::live::BookmarkLive;
use crate::transcribe::{JobCommand, JobFinished, JobStatus, TranscribeRequest, TranscriptionJob};
use recorder_panel::RecordIntent;

/// What the user asked for in a frame.
#[derive(Debug, Clone, PartialEq)]
pub enum Intent {
    Import(Vec<PathBuf>),
    /// Open the file dialog to pick audio to import.
    BrowseImport,
    Record(RecordIntent),
    Transcribe(crate::storage::ids::AudioFileId),
    Job(crate::transcribe::JobCommand),
    SetGpu(crate::transcribe::GpuPref),
    /// Prime new jobs with the library's vocabulary.
    UseVocabulary(bool),
    /// Find speakers after each transcription.
    SpeakersAfter(bool),
    SetModel(String),
    /// Read the models folder again.
    RescanModels,
    /// Download a catalog model into the models folder.
    DownloadModel(String),
    Editor(editor::EditorIntent),
    /// Open a transcript in the editor (at a segment).
    OpenTranscript {
        transcript: crate::storage::ids::TranscriptId,
        segment: Option<usize>,
    },
    Search(String),
    /// The speakers panel.
    Speakers(speakers_panel::SpeakersIntent),
}

/// How serious a notice is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Level {
    Info,
    Error,
}

/// What a notice is about: a newer notice about the same thing replaces it, and the state
/// it describes clears it when that state is gone (a model installed, a new take started).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum Topic {
    /// The speech model (none installed, one missing, a download).
    Model,
    /// The take: recording, its device, its end.
    Recording,
    /// Transcription jobs.
    Jobs,
    /// The editor: saves, refusals, exports.
    Editor,
    /// Imports into the library.
    Import,
    /// Interrupted recordings recovered at start.
    Recovery,
    #[default]
    Other,
}

/// A message for the user, in the one notice area (above the status bar), until it is
/// dismissed or superseded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Notice {
    pub level: Level,
    pub text: String,
    pub topic: Topic,
}

/// Leaving the open transcript: what the user asked for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Leave {
    /// Open a transcript (at a version, scrolled to a segment).
    Open {
        transcript: crate::storage::ids::TranscriptId,
        version: Option<u32>,
        segment: Option<usize>,
    },
    Close,
    /// Close the window (and the app).
    Quit,
}

/// UI-only state: text being typed, notices, selection.
#[derive(Resource, Debug, Default)]
pub struct UiState {
    /// Leaving the open transcript was asked for while it has unsaved edits: the prompt
    /// (Save as a new version / Discard / Cancel) is open.
    pub leaving: Option<Leave>,
    /// Where to go once the save the prompt asked for is done.
    pub after_save: Option<Leave>,
    /// Leaving was decided (Discard, or saved): carried out by `finish_leaving`.
    pub leave_now: Option<Leave>,
    pub import_path: String,
    pub notices: VecDeque<Notice>,
    pub selected: Option<crate::storage::ids::AudioFileId>,
    pub recorder: recorder_panel::RecorderUi,
    pub jobs: jobs_panel::JobsUi,
    pub editor: editor::EditorUi,
    pub speakers: speakers_panel::SpeakersUi,
    pub search: String,
    pub layout: Layout,
    /// The keyboard shortcuts overlay (`?`).
    pub shortcuts_open: bool,
    /// The settings view (Ctrl+,).
    pub settings_open: bool,
    /// The UI zoom the user set (Ctrl + / Ctrl - / Ctrl 0, on top of the display's scale);
    /// `None`: 100 %.
    pub zoom: Option<f32>,
    /// `zoom` is still to be given to egui (it came from the settings).
    pub zoom_pending: bool,
}

/// Every keyboard shortcut, as the overlay lists them: (keys, what they do).
pub const SHORTCUTS: &[(&str, &str)] = &[
    ("?", "show or hide this list"),
    ("Ctrl+,", "settings"),
    (
        "Ctrl + / Ctrl - / Ctrl 0",
        "zoom the whole window in / out / back to 100 %",
    ),
    ("Esc", "play / pause"),
    ("Ctrl+R", "record a new take / stop the one recording"),
    ("F1 / F2", "back / forward 2 s"),
    ("F3 / F4", "slower / faster"),
    (
        "+ / - / 0",
        "zoom the timeline in / out around the playhead / show the whole file",
    ),
    (
        "Ctrl + wheel, wheel",
        "zoom the timeline around the pointer, scroll it",
    ),
    (
        "Enter",
        "split the segment at the playhead (at the nearest word boundary)",
    ),
    ("Ctrl+M", "merge the selected segment with the next"),
    (
        "Alt+Left / Alt+Right",
        "move the boundary nearest the playhead by 100 ms",
    ),
    ("F8 / Shift+F8", "next / previous flagged segment"),
    ("Ctrl+S", "save a version"),
    ("Ctrl+Z / Ctrl+Shift+Z", "undo / redo"),
    (
        "Tab / Shift+Tab, Space, Enter",
        "move between controls, press one",
    ),
];

/// The library sidebar's width until the user drags it, and the widths it can have.
pub const LIBRARY_WIDTH: f32 = 380.0;
pub const LIBRARY_WIDTHS: std::ops::RangeInclusive<f32> = 240.0..=900.0;
/// The window's size (logical pixels) until the user changes it.
pub const WINDOW_SIZE: (u32, u32) = (1280, 800);

/// Whether a window can be this big (logical pixels), from the command line or the settings.
pub fn window_size_ok((w, h): (u32, u32)) -> bool {
    (200..=10_000).contains(&w) && (200..=10_000).contains(&h)
}

/// What the main area shows.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum MainView {
    #[default]
    Recorder,
    Editor,
}

/// How the window is laid out: the library sidebar (hidden or not), the main area.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Layout {
    pub library_hidden: bool,
    /// The library sidebar's width as the user dragged it (`None`: the default).
    pub library_width: Option<f32>,
    pub main: MainView,
    /// The transcript the main area last switched to (a newly opened one is shown).
    shown_doc: Option<crate::storage::ids::TranscriptId>,
    /// The take already handed to the editor (`hand_over`).
    handed_over: Option<crate::storage::ids::AudioFileId>,
}

/// The transcript a finished take hands to the editor: once per take, as soon as the current
/// take is in the library and has a transcript (its live draft when live transcription ran,
/// else the first job's). Not while the editor has unsaved edits of another transcript (the
/// take is then left in the library, where Open finds it).
pub fn hand_over(
    take_file: Option<crate::storage::ids::AudioFileId>,
    handed: &mut Option<crate::storage::ids::AudioFileId>,
    transcript_of: &std::collections::HashMap<
        crate::storage::ids::AudioFileId,
        library_panel::FileTranscript,
    >,
    editing: bool,
) -> Option<crate::storage::ids::TranscriptId> {
    let file = take_file.filter(|f| *handed != Some(*f))?;
    let t = transcript_of.get(&file)?.id;
    *handed = Some(file);
    (!editing).then_some(t)
}

/// How many notices the area holds at most (the oldest go).
pub const MAX_NOTICES: usize = 4;

impl UiState {
    /// A notice about nothing in particular (several can stand).
    pub fn notify(&mut self, level: Level, text: impl Into<String>) {
        self.notify_about(Topic::Other, level, text);
    }

    /// A notice about `topic`: it replaces the one about the same topic (imports and other
    /// notices about nothing in particular pile up to [`MAX_NOTICES`]).
    pub fn notify_about(&mut self, topic: Topic, level: Level, text: impl Into<String>) {
        let text = text.into();
        if !matches!(topic, Topic::Other | Topic::Import) {
            self.notices.retain(|n| n.topic != topic);
        }
        self.notices.retain(|n| n.text != text);
        self.notices.push_back(Notice { level, text, topic });
        while self.notices.len() > MAX_NOTICES {
            self.notices.pop_front();
        }
    }

    /// What was said about `topic` is over (the state it described is gone).
    pub fn clear_topic(&mut self, topic: Topic) {
        self.notices.retain(|n| n.topic != topic);
    }
}

/// The window and its panels. `screenshot` makes the app take one screenshot of the window
/// once the library is shown, save it as PNG, and exit (the GUI smoke test uses it).
#[derive(Debug, Default, Clone)]
pub struct UiPlugin {
    pub screenshot: Option<PathBuf>,
    /// Start recording from this source at launch (with `screenshot`: the shot is taken
    /// once three seconds are recorded).
    pub record: Option<String>,
    /// Stop that take after this many seconds (with `screenshot`: the shot waits for the
    /// take to be handed to the editor).
    pub record_seconds: Option<f64>,
    /// Open the settings view at launch.
    pub settings_open: bool,
    /// The window's size in logical pixels (default 1280×800).
    pub size: Option<(u32, u32)>,
    /// Open this transcript in the editor at launch, and compare these two versions.
    pub open: Option<(i64, Option<(u32, u32)>)>,
    /// With `open`: the stretch of the file the timeline shows, `(start_ms, span_ms)`.
    pub view: Option<(u64, u64)>,
    /// After each frame, write how many frames have run to this file (`--frame-log`).
    pub frame_log: Option<PathBuf>,
}

/// The editor view to show at launch (`--open-transcript`, `--compare`).
#[derive(Resource, Debug, Clone, Copy)]
struct OpenAtStart {
    transcript: i64,
    compare: Option<(u32, u32)>,
    view: Option<(u64, u64)>,
    sent: u8,
}

fn open_at_start(
    plan: Option<ResMut<OpenAtStart>>,
    editor: Res<crate::editor::Editor>,
    mut ui: ResMut<UiState>,
    mut out: MessageWriter<crate::editor::EditorCommand>,
) {
    let Some(mut plan) = plan else { return };
    match plan.sent {
        0 => {
            out.write(crate::editor::EditorCommand::Open {
                transcript: crate::storage::ids::TranscriptId(plan.transcript),
                version: None,
                segment: Some(1),
            });
            plan.sent = 1;
        }
        1 if editor.doc.is_some() => {
            if let Some((left, right)) = plan.compare {
                out.write(crate::editor::EditorCommand::Compare { left, right });
            }
            plan.sent = 2;
        }
        // A frame later: the editor has taken the main area (and reset the timeline).
        2 => {
            if plan.view.is_some() {
                ui.editor.view = plan.view;
            }
            plan.sent = 3;
        }
        _ => {}
    }
}

impl Plugin for UiPlugin {
    fn build(&self, app: &mut App) {
        app.add_plugins(DefaultPlugins.set(WindowPlugin {
            primary_window: Some(Window {
                title: "Verbatim".into(),
                resolution: self.size.unwrap_or(WINDOW_SIZE).into(),
                ..default()
            }),
            // Closing the window asks first when there are unsaved edits (`close_requested`).
            close_when_requested: false,
            ..default()
        }))
        .add_plugins(EguiPlugin::default())
        .add_plugins(crate::playback::PlaybackPlugin)
        // One core stays with the window (and capture: dispatch reserves another while
        // recording).
        .insert_resource(UiReservesCores)
        .init_resource::<UiState>()
        .init_resource::<models::ModelShelf>()
        .init_resource::<FileSpectrogramTexture>()
        .init_resource::<dialogs::FileDialogs>()
        .add_systems(
            Startup,
            (
                spawn_camera,
                list_devices,
                reserve_ui_core,
                wake_on_answers,
                models::scan_at_start,
            ),
        )
        .add_systems(
            Update,
            (
                file_drops,
                collect_notices,
                close_requested,
                finish_leaving,
                models::update_shelf,
            )
                .chain()
                .in_set(crate::schedule::AppSystems::Apply.of(crate::schedule::Feature::Window)),
        )
        .add_systems(
            Update,
            settings::keep_settings.after(crate::schedule::AppSystems::Persist),
        )
        .add_systems(
            PreUpdate,
            drop_unchanged_modifiers
                .after(bevy_egui::EguiPreUpdateSet::ProcessInput)
                .before(bevy_egui::EguiPreUpdateSet::BeginPass),
        )
        .add_systems(
            Update,
            keep_awake_while_busy.after(crate::schedule::AppSystems::Persist),
        )
        .add_systems(
            Update,
            upload_spectrograms.after(crate::schedule::AppSystems::Analyze),
        )
        .add_systems(EguiPrimaryContextPass, draw);
        app.world_mut().resource_mut::<UiState>().settings_open = self.settings_open;
        if let Some(r) = &self.record {
            app.insert_resource(RecordAtStart(r.clone(), self.record_seconds));
        }
        if let Some((transcript, compare)) = self.open {
            app.insert_resource(OpenAtStart {
                transcript,
                compare,
                view: self.view,
                sent: 0,
            })
            .add_systems(
                Update,
                open_at_start.in_set(
                    crate::schedule::AppSystems::Apply.of(crate::schedule::Feature::Window),
                ),
            );
        }
        if let Some(path) = &self.frame_log {
            app.insert_resource(FrameLog(path.clone()))
                .add_systems(Last, log_frames);
        }
        if let Some(path) = &self.screenshot {
            // The smoke test needs frames to keep coming without input.
            app.insert_resource(WinitSettings::continuous());
            screenshot::plugin(
                app,
                path.clone(),
                self.record.is_some(),
                // A take that stops is shot once the editor has it.
                self.open
                    .map(|(_, c)| c.is_some())
                    .or(self.record_seconds.map(|_| false)),
            );
        } else {
            // Redraw on input and when something changes, not 60 times a second at idle.
            app.insert_resource(WinitSettings::desktop_app());
        }
    }
}

/// Where `--frame-log` writes.
#[derive(Resource)]
struct FrameLog(PathBuf);

#[derive(Resource)]
struct RecordAtStart(String, Option<f64>);

/// The open file's spectrogram as an egui texture, and the view it shows.
#[derive(Resource, Default)]
pub struct FileSpectrogramTexture(Option<(crate::editor::SpectrogramView, egui::TextureHandle)>);

/// The spectrogram of the current take as a Bevy image that egui draws: one image, reused
/// by every take, re-uploaded when the spectrogram changes.
#[derive(Resource)]
struct SpectrogramTexture {
    image: Handle<Image>,
    egui: egui::TextureId,
    shown: Option<(Entity, u64)>,
}

/// Marks the GUI: transcription leaves a core to the window and runs the whole queue.
#[derive(Resource)]
struct UiReservesCores;

/// What the user answers the unsaved-changes prompt.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Answer {
    Save,
    Discard,
    Cancel,
}

/// What the panels read of the library.
#[derive(SystemParam)]
struct LibraryData<'w, 's> {
    files: Query<'w, 's, &'static AudioFile>,
    transcribed: Query<
        'w,
        's,
        (
            &'static AudioFile,
            &'static crate::library::transcripts::Transcripts,
        ),
    >,
    transcripts: Query<'w, 's, &'static crate::library::transcripts::Transcript>,
    order: Res<'w, LibraryOrder>,
    state: Res<'w, LibraryState>,
    importer: Option<Res<'w, Importer>>,
}

/// What the jobs panel reads and changes.
#[derive(SystemParam)]
struct JobsData<'w, 's> {
    jobs: Query<'w, 's, &'static TranscriptionJob>,
    settings: Res<'w, crate::transcribe::TranscribeSettings>,
    shelf: ResMut<'w, models::ModelShelf>,
    /// Where the settings are kept (none in tests and headless runs).
    kept: Option<Res<'w, settings::SettingsStore>>,
    requests: MessageWriter<'w, TranscribeRequest>,
    commands: MessageWriter<'w, JobCommand>,
    changes: MessageWriter<'w, crate::transcribe::SettingsChange>,
}

/// What the editor reads and asks.
#[derive(SystemParam)]
struct EditorData<'w, 's> {
    editor: Res<'w, crate::editor::Editor>,
    /// The open version's segment entities, in time order, and what the panel shows of each.
    open: Query<'w, 's, &'static Segments, With<OpenVersion>>,
    segments: Query<'w, 's, SegmentRowData>,
    flagged: Res<'w, crate::editor::flags::FlaggedCount>,
    peaks: Res<'w, crate::editor::DocPeaks>,
    spectrogram: Res<'w, crate::editor::DocSpectrogram>,
    spectrogram_wanted: MessageWriter<'w, crate::editor::SpectrogramWanted>,
    spectrogram_texture: ResMut<'w, FileSpectrogramTexture>,
    dialogs: ResMut<'w, dialogs::FileDialogs>,
    player: Option<Res<'w, crate::playback::Player>>,
    player_commands: MessageWriter<'w, crate::playback::PlayerCommand>,
    commands: MessageWriter<'w, crate::editor::EditorCommand>,
    speaker_jobs: Query<'w, 's, &'static crate::editor::speakers::SpeakerJob>,
    library_speakers: Res<'w, crate::editor::speakers::LibrarySpeakers>,
    speaker_commands: MessageWriter<'w, crate::editor::speakers::SpeakersCommand>,
}

/// What the recorder panel reads of a take entity.
type TakeItems = (
    Entity,
    &'static RecordingSession,
    &'static TakeStats,
    // Not there while the device opens.
    Option<&'static Levels>,
    Option<&'static LiveSpectrum>,
    &'static Waveform,
    Option<&'static crate::transcribe::live::LiveTranscript>,
);

/// What the recorder panel reads.
#[derive(SystemParam)]
struct RecorderData<'w, 's> {
    takes: Query<'w, 's, TakeItems, With<crate::capture::plugin::CurrentTake>>,
    live: Res<'w, crate::transcribe::live::LiveSettings>,
    live_switch: MessageWriter<'w, crate::transcribe::live::LiveSwitch>,
    texture: Option<Res<'w, SpectrogramTexture>>,
    devices: Res<'w, InputDevices>,
    settings: Res<'w, CaptureSettings>,
    commands: MessageWriter<'w, RecordCommand>,
    bookmarks: MessageWriter<'w, BookmarkLive>,
}

#[cfg(test)]
mod overlay_tests {
    use super::frame::shortcuts_overlay;
    use super::*;

    fn frame(ctx: &egui::Context, state: &mut UiState, events: Vec<egui::Event>) {
        let input = egui::RawInput {
            events,
            ..Default::default()
        };
        let mut out = ctx.run_ui(input, |ui| shortcuts_overlay(ui.ctx(), state));
        // No renderer here: the font atlas upload is dropped on purpose.
        out.textures_delta.clear();
    }

    #[test]
    fn a_finished_take_is_handed_to_the_editor_once_it_has_a_transcript() {
        use crate::storage::ids::{AudioFileId, TranscriptId};
        let mut handed = None;
        let mut of = std::collections::HashMap::new();
        // Recording (not in the library yet), then stored with no transcript yet.
        assert_eq!(hand_over(None, &mut handed, &of, false), None);
        assert_eq!(
            hand_over(Some(AudioFileId(4)), &mut handed, &of, false),
            None
        );
        // Its transcript appears: opened, once.
        of.insert(
            AudioFileId(4),
            library_panel::FileTranscript {
                id: TranscriptId(9),
                versions: 1,
            },
        );
        assert_eq!(
            hand_over(Some(AudioFileId(4)), &mut handed, &of, false),
            Some(TranscriptId(9))
        );
        assert_eq!(
            hand_over(Some(AudioFileId(4)), &mut handed, &of, false),
            None
        );
        // The next take while another transcript has unsaved edits: left in the library.
        of.insert(
            AudioFileId(5),
            library_panel::FileTranscript {
                id: TranscriptId(10),
                versions: 1,
            },
        );
        assert_eq!(
            hand_over(Some(AudioFileId(5)), &mut handed, &of, true),
            None
        );
        assert_eq!(
            hand_over(Some(AudioFileId(5)), &mut handed, &of, false),
            None
        );
    }

    #[test]
    fn question_mark_opens_and_closes_the_shortcuts_overlay() {
        let ctx = egui::Context::default();
        let mut state = UiState::default();
        let press = || {
            vec![egui::Event::Key {
                key: egui::Key::Questionmark,
                physical_key: None,
                pressed: true,
                repeat: false,
                modifiers: egui::Modifiers::SHIFT,
            }]
        };
        frame(&ctx, &mut state, Vec::new());
        assert!(!state.shortcuts_open);
        frame(&ctx, &mut state, press());
        assert!(state.shortcuts_open);
        frame(&ctx, &mut state, press());
        assert!(!state.shortcuts_open);
        assert!(SHORTCUTS.iter().any(|(k, _)| *k == "F8 / Shift+F8"));
    }
}
