//! The window: bevy_egui panels over the ECS. Panels are plain functions of a view, the
//! [`UiState`] and an intent list, so they can be tested without Bevy; the systems here build
//! the views, call the panels and turn intents into messages. The UI never mutates domain
//! components.

pub mod dialogs;
pub mod editor_panel;
pub mod jobs_panel;
pub mod library_panel;
pub mod models;
pub mod recorder_panel;
pub mod schedules;
pub mod screenshot;
pub mod settings;
pub mod settings_view;
pub mod status_bar;
pub mod transport_bar;

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
    SetModel(String),
    /// Read the models folder again.
    RescanModels,
    /// Download a catalog model into the models folder.
    DownloadModel(String),
    Editor(editor_panel::EditorIntent),
    /// Open a transcript in the editor (at a segment).
    OpenTranscript {
        transcript: crate::storage::ids::TranscriptId,
        segment: Option<usize>,
    },
    Search(String),
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
    pub editor: editor_panel::EditorUi,
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

/// The shortcuts overlay.
fn shortcuts_overlay(ctx: &egui::Context, state: &mut UiState) {
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

/// Keeps the window's zoom and the user's setting in step.
fn sync_zoom(ctx: &egui::Context, state: &mut UiState) {
    if state.zoom_pending {
        state.zoom_pending = false;
        if let Some(z) = state
            .zoom
            .filter(|z| z.is_finite() && (0.5..=3.0).contains(z))
        {
            ctx.set_zoom_factor(z);
        }
        return;
    }
    let z = ctx.zoom_factor();
    let set = state.zoom.unwrap_or(1.0);
    if (z - set).abs() > 0.001 {
        state.zoom = ((z - 1.0).abs() > 0.001).then_some(z);
    }
}

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

/// bevy_egui 0.42 tells egui the modifier keys' state as an event every frame, changed or
/// not, and egui answers any event with an immediate repaint: each frame asked for the next,
/// and the idle window ran at full speed (measured: 30 frames/s, 167 % CPU under Xvfb). Only
/// a change is passed on.
fn drop_unchanged_modifiers(
    mut inputs: Query<&mut bevy_egui::EguiInput>,
    mut last: Local<Option<egui::Modifiers>>,
) {
    for mut input in &mut inputs {
        let mut seen = *last;
        input.0.events.retain(|e| match e {
            egui::Event::ModifiersChanged(m) => {
                let changed = seen != Some(*m);
                seen = Some(*m);
                changed
            }
            _ => true,
        });
        *last = seen;
    }
}

/// The window sleeps until something happens: the database's answers (a search, a load, a
/// saved version) wake it, so they show at once rather than at the next input.
fn wake_on_answers(
    db: Option<Res<Database>>,
    proxy: Option<Res<bevy::winit::EventLoopProxyWrapper>>,
) {
    if let (Some(db), Some(proxy)) = (db, proxy) {
        let proxy = (**proxy).clone();
        db.set_waker(std::sync::Arc::new(move || {
            let _ = proxy.send_event(bevy::winit::WinitUserEvent::WakeUp);
        }));
    }
}

/// Where `--frame-log` writes.
#[derive(Resource)]
struct FrameLog(PathBuf);

/// Writes `FRAMES LOADED PID` (frames run so far, whether the library is shown, this
/// process): a window at rest runs no frames, so the count stops.
fn log_frames(
    log: Res<FrameLog>,
    frames: Res<bevy::diagnostic::FrameCount>,
    library: Res<LibraryState>,
) {
    let line = format!("{} {} {}\n", frames.0, library.loaded, std::process::id());
    if let Err(e) = std::fs::write(&log.0, line) {
        tracing::warn!("cannot write the frame log {}: {e}", log.0.display());
    }
}

fn spawn_camera(mut commands: Commands) {
    commands.spawn(Camera2d);
}

#[derive(Resource)]
struct RecordAtStart(String, Option<f64>);

fn list_devices(mut cmds: MessageWriter<RecordCommand>, record: Option<Res<RecordAtStart>>) {
    cmds.write(RecordCommand::RefreshDevices);
    if let Some(r) = record {
        match crate::capture::stream::Source::parse(&r.0) {
            Ok(source) => {
                cmds.write(RecordCommand::Start(RecordRequest {
                    source: Some(source),
                    seconds: r.1,
                    ..Default::default()
                }));
            }
            Err(e) => tracing::error!("{e}"),
        }
    }
}

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

fn upload_spectrograms(
    mut commands: Commands,
    grams: Query<(Entity, &Spectrogram), With<crate::capture::plugin::CurrentTake>>,
    texture: Option<ResMut<SpectrogramTexture>>,
    mut images: ResMut<Assets<Image>>,
    mut contexts: EguiContexts,
) {
    use bevy::asset::RenderAssetUsages;
    use bevy::render::render_resource::{Extent3d, TextureDimension, TextureFormat};
    let Some((entity, gram)) = grams.iter().next() else {
        return;
    };
    let fits = |image: &Image| {
        image.width() as usize == gram.columns && image.height() as usize == gram.bands
    };
    if let Some(mut t) = texture {
        if t.shown == Some((entity, gram.generation)) {
            return;
        }
        if let Some(mut image) = images.get_mut(&t.image)
            && fits(&image)
        {
            image.data = Some(gram.rgba.clone());
            t.shown = Some((entity, gram.generation));
            return;
        }
    }
    let size = Extent3d {
        width: gram.columns as u32,
        height: gram.bands as u32,
        depth_or_array_layers: 1,
    };
    let mut image = Image::new_fill(
        size,
        TextureDimension::D2,
        &[0, 0, 0, 255],
        TextureFormat::Rgba8UnormSrgb,
        RenderAssetUsages::all(),
    );
    image.data = Some(gram.rgba.clone());
    let handle = images.add(image);
    let egui = contexts.add_image(bevy_egui::EguiTextureHandle::Strong(handle.clone()));
    commands.insert_resource(SpectrogramTexture {
        image: handle,
        egui,
        shown: Some((entity, gram.generation)),
    });
}

/// Marks the GUI: transcription leaves a core to the window and runs the whole queue.
#[derive(Resource)]
struct UiReservesCores;

fn reserve_ui_core(
    marker: Option<Res<UiReservesCores>>,
    mut settings: ResMut<crate::transcribe::TranscribeSettings>,
) {
    if marker.is_some() {
        settings.reserved_cores = settings.reserved_cores.max(1);
        // The workstation runs the whole queue, jobs from earlier sessions included.
        settings.run_all_pending = true;
    }
}

/// The window redraws only on input when idle; while background work is under way (imports,
/// the first library load) keep frames coming so results show as soon as they arrive.
#[allow(clippy::too_many_arguments)] // a Bevy system: each argument is a system param
fn keep_awake_while_busy(
    importer: Option<Res<Importer>>,
    library: Res<LibraryState>,
    sessions: Query<&RecordingSession>,
    devices: Res<InputDevices>,
    jobs: Query<&TranscriptionJob>,
    shelf: Res<models::ModelShelf>,
    spectrogram: Res<crate::editor::DocSpectrogram>,
    mut redraw: MessageWriter<RequestRedraw>,
) {
    let importing = importer.is_some_and(|i| i.in_flight() > 0);
    let loading = !library.loaded && library.error.is_none();
    let recording = sessions.iter().any(crate::capture::plugin::is_active);
    let transcribing = jobs
        .iter()
        .any(|j| matches!(j.status, JobStatus::Running | JobStatus::Saving));
    if importing
        || loading
        || recording
        || transcribing
        || devices.refreshing()
        || shelf.busy()
        || spectrogram.busy()
    {
        redraw.write(RequestRedraw);
    }
}

/// Files dropped on the window are imported.
fn file_drops(
    mut drops: MessageReader<FileDragAndDrop>,
    mut imports: MessageWriter<ImportRequested>,
) {
    for drop in drops.read() {
        if let FileDragAndDrop::DroppedFile { path_buf, .. } = drop {
            imports.write(ImportRequested(path_buf.clone()));
        }
    }
}

/// The window's close button: the window closes (and the app ends) at once, unless the open
/// transcript has unsaved edits: then the prompt asks first.
fn close_requested(
    mut requests: MessageReader<bevy::window::WindowCloseRequested>,
    editor: Res<crate::editor::Editor>,
    mut state: ResMut<UiState>,
) {
    if requests.read().count() == 0 {
        return;
    }
    if must_ask_before_leaving(&editor, &state.editor) {
        state.leaving = Some(Leave::Quit);
    } else {
        state.leave_now = Some(Leave::Quit);
    }
}

/// Carries out a decided leave (`UiState::leave_now`), and the one waiting for a save
/// (`UiState::after_save`) once the save is done; a refused or failed save cancels it (the
/// edits stay open, and the notice says why).
fn finish_leaving(
    mut events: MessageReader<crate::editor::EditorEvent>,
    mut state: ResMut<UiState>,
    mut out: MessageWriter<crate::editor::EditorCommand>,
    windows: Query<Entity, With<bevy::window::Window>>,
    mut commands: Commands,
) {
    use crate::editor::EditorEvent as E;
    for e in events.read() {
        match e {
            E::Saved { .. } => {
                if let Some(l) = state.after_save.take() {
                    state.leave_now = Some(l);
                }
            }
            E::Refused(_) | E::Failed(_) | E::Stale { .. } => state.after_save = None,
            _ => {}
        }
    }
    let Some(leave) = state.leave_now.take() else {
        return;
    };
    state.editor.draft = None;
    match leave {
        Leave::Open {
            transcript,
            version,
            segment,
        } => {
            out.write(crate::editor::EditorCommand::Open {
                transcript,
                version,
                segment,
            });
        }
        Leave::Close => {
            out.write(crate::editor::EditorCommand::Close);
        }
        Leave::Quit => {
            // The last window closed ends the app (Bevy's exit condition).
            for w in &windows {
                commands.entity(w).despawn();
            }
        }
    }
}

/// What the user answers the unsaved-changes prompt.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Answer {
    Save,
    Discard,
    Cancel,
}

/// Asks before leaving a transcript with unsaved edits: Save as a new version, Discard, or
/// Cancel (as every editor does).
fn leave_prompt(ctx: &egui::Context, state: &mut UiState, ed: &mut EditorData) {
    let Some(leave) = state.leaving else { return };
    let title = ed
        .editor
        .doc
        .as_ref()
        .map(|d| {
            d.transcript
                .title
                .clone()
                .unwrap_or_else(|| d.transcript.audio_name.clone())
        })
        .unwrap_or_default();
    let mut choice = None;
    let modal = egui::Modal::new(egui::Id::new("leave-prompt")).show(ctx, |ui| {
        ui.set_max_width(420.0);
        ui.heading("Unsaved changes");
        ui.label(format!(
            "{title} has edits that are not saved in a version. {}",
            match leave {
                Leave::Quit => "Save them before quitting?",
                Leave::Close => "Save them before closing it?",
                Leave::Open { .. } => "Save them before opening another?",
            }
        ));
        ui.add_space(8.0);
        ui.horizontal(|ui| {
            for (label, answer) in [
                ("Save as a new version", Answer::Save),
                ("Discard", Answer::Discard),
                ("Cancel", Answer::Cancel),
            ] {
                if ui.button(label).clicked() {
                    choice = Some(answer);
                }
            }
        });
    });
    if modal.should_close() && choice.is_none() {
        choice = Some(Answer::Cancel);
    }
    let Some(choice) = choice else { return };
    state.leaving = None;
    use crate::editor::EditorCommand as C;
    match choice {
        Answer::Save => {
            // Text still in the field goes in first, as leaving the field would give it.
            if let Some(d) = state
                .editor
                .draft
                .take()
                .filter(editor_panel::TextDraft::typed)
                && let Some(cmd) = editor_command(d.commit())
            {
                ed.commands.write(cmd);
            }
            let note = std::mem::take(&mut state.editor.note);
            ed.commands.write(C::Save {
                note: Some(note).filter(|n| !n.trim().is_empty()),
            });
            state.after_save = Some(leave);
        }
        Answer::Discard => {
            state.editor.draft = None;
            ed.commands.write(C::DiscardEdits);
            state.leave_now = Some(leave);
        }
        Answer::Cancel => {}
    }
}

/// Leaving the open transcript (another opened, Close, the window closed): at once when
/// nothing is unsaved, else after the prompt. Opening the transcript already open with
/// unsaved edits just moves to the segment (nothing is reloaded over them).
fn leave(state: &mut UiState, ed: &mut EditorData, leave: Leave) {
    if let (
        Leave::Open {
            transcript,
            version: None,
            segment,
        },
        Some(doc),
    ) = (leave, ed.editor.doc.as_ref())
        && doc.transcript.id == transcript
        && must_ask_before_leaving(&ed.editor, &state.editor)
    {
        state.layout.main = MainView::Editor;
        if let Some(i) = segment {
            ed.commands
                .write(crate::editor::EditorCommand::Select(Some(i)));
            state.editor.scroll_to_segment(i);
            if let Some(s) = doc.session.segments().get(i) {
                ed.commands.write(crate::editor::EditorCommand::Seek {
                    ms: s.start_ms,
                    play: false,
                });
            }
        }
        return;
    }
    if must_ask_before_leaving(&ed.editor, &state.editor) {
        state.leaving = Some(leave);
    } else {
        state.leave_now = Some(leave);
    }
}

fn collect_notices(
    mut finished: MessageReader<ImportFinished>,
    mut recording: MessageReader<RecordingNotice>,
    mut jobs_done: MessageReader<JobFinished>,
    mut editor_events: MessageReader<crate::editor::EditorEvent>,
    mut state: ResMut<UiState>,
) {
    use crate::editor::EditorEvent as E;
    for e in editor_events.read() {
        match e {
            E::Saved { version, .. } => {
                state.editor.stale = None;
                state.notify_about(
                    Topic::Editor,
                    Level::Info,
                    format!("Saved as version {version}"),
                )
            }
            E::Refused(m) | E::Failed(m) => {
                state.notify_about(Topic::Editor, Level::Error, m.clone())
            }
            E::Stale { base, current, .. } => {
                state.editor.stale = Some((*base, *current));
            }
            E::Discarded => {
                state.notify_about(Topic::Editor, Level::Info, "Unsaved edits discarded")
            }
            E::Exported(p) => state.notify_about(
                Topic::Editor,
                Level::Info,
                format!("Exported {}", p.display()),
            ),
            E::Opened { .. } | E::Compared | E::Searched(_) | E::Listed(_) => {}
        }
    }
    for j in jobs_done.read() {
        match (&j.status, &j.error) {
            (JobStatus::Failed, Some(e)) => {
                state.notify_about(
                    Topic::Jobs,
                    Level::Error,
                    format!("Transcription job {} failed: {e}", j.id),
                );
            }
            (JobStatus::Completed, _) => {
                // A job ran with a model: what was said about missing models is over.
                state.clear_topic(Topic::Model);
                state.notify_about(
                    Topic::Jobs,
                    Level::Info,
                    format!(
                        "Transcription job {} done: transcript #{}",
                        j.id,
                        j.transcript.map(|t| t.0).unwrap_or_default()
                    ),
                );
            }
            _ => {}
        }
    }
    for n in recording.read() {
        match n {
            RecordingNotice::StartFailed(e) => {
                state.notify_about(
                    Topic::Recording,
                    Level::Error,
                    format!("Cannot record: {e}"),
                );
            }
            RecordingNotice::DeviceError(e) => {
                state.notify_about(Topic::Recording, Level::Error, format!("Input device: {e}"));
            }
            RecordingNotice::Ended { finished, .. } => {
                let secs = finished.progress.frames_written;
                match &finished.error {
                    Some(e) => state.notify_about(
                        Topic::Recording,
                        Level::Error,
                        format!("Recording stopped: {e}"),
                    ),
                    None => state.notify_about(
                        Topic::Recording,
                        Level::Info,
                        format!("Recording finished ({secs} frames)"),
                    ),
                }
            }
            RecordingNotice::Recovered(Ok(list))
                if list
                    .iter()
                    .any(|r| r.status == crate::capture::recovery::RecoveryStatus::Recovered) =>
            {
                let n = list
                    .iter()
                    .filter(|r| r.status == crate::capture::recovery::RecoveryStatus::Recovered)
                    .count();
                state.notify(
                    Level::Info,
                    format!("Recovered {n} interrupted recording(s) into the library"),
                );
            }
            RecordingNotice::Recovered(Err(e)) => {
                state.notify(
                    Level::Error,
                    format!("Cannot recover interrupted recordings: {e}"),
                );
            }
            RecordingNotice::Recovered(Ok(_)) => {}
        }
    }
    for f in finished.read() {
        let level = if f.result.is_ok() {
            Level::Info
        } else {
            Level::Error
        };
        state.notify_about(Topic::Import, level, f.describe());
    }
    for e in crate::schedule::take_system_errors() {
        state.notify(Level::Error, e);
    }
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
    settings: ResMut<'w, crate::transcribe::TranscribeSettings>,
    shelf: ResMut<'w, models::ModelShelf>,
    /// Where the settings are kept (none in tests and headless runs).
    kept: Option<Res<'w, settings::SettingsStore>>,
    requests: MessageWriter<'w, TranscribeRequest>,
    commands: MessageWriter<'w, JobCommand>,
}

/// The editor command an editor intent asks for (`None`: playback, jobs, the view and
/// leaving the document, which the router handles itself). The window's router and the
/// editor's model-based test translate through this one function.
pub fn editor_command(e: editor_panel::EditorIntent) -> Option<crate::editor::EditorCommand> {
    use crate::editor::EditorCommand as C;
    use editor_panel::EditorIntent as I;
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
pub fn must_ask_before_leaving(
    editor: &crate::editor::Editor,
    ui: &editor_panel::EditorUi,
) -> bool {
    editor.unsaved() || editor_panel::typing(ui)
}

fn editor_intent(
    e: editor_panel::EditorIntent,
    player: Option<&crate::playback::Player>,
    out: &mut MessageWriter<crate::editor::EditorCommand>,
) {
    use editor_panel::EditorIntent as I;
    match e {
        I::TogglePlay => {
            if let Some(p) = player {
                p.toggle();
            }
        }
        I::SetSpeed(s) => {
            if let Some(p) = player {
                p.set_speed(s);
            }
        }
        I::Loop(span) => {
            if let Some(p) = player {
                p.set_loop(span);
            }
        }
        e => {
            if let Some(cmd) = editor_command(e) {
                out.write(cmd);
            }
        }
    }
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
    spectrogram: ResMut<'w, crate::editor::DocSpectrogram>,
    spectrogram_texture: ResMut<'w, FileSpectrogramTexture>,
    dialogs: ResMut<'w, dialogs::FileDialogs>,
    player: Option<Res<'w, crate::playback::Player>>,
    commands: MessageWriter<'w, crate::editor::EditorCommand>,
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
    live: ResMut<'w, crate::transcribe::live::LiveSettings>,
    texture: Option<Res<'w, SpectrogramTexture>>,
    devices: Res<'w, InputDevices>,
    settings: ResMut<'w, CaptureSettings>,
    commands: MessageWriter<'w, RecordCommand>,
    bookmarks: MessageWriter<'w, BookmarkLive>,
}

#[allow(clippy::too_many_arguments)] // a Bevy system: each argument is a system param
fn draw(
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
    // A finished take goes straight to the editor once it has a transcript.
    let transcript_of = newest_transcripts(&lib);
    let take_file = rec.takes.iter().next().and_then(|(_, s, ..)| s.audio_file);
    let editing = must_ask_before_leaving(&ed.editor, &state.editor);
    if let Some(t) = hand_over(
        take_file,
        &mut state.layout.handed_over,
        &transcript_of,
        editing,
    ) {
        intents.push(Intent::OpenTranscript {
            transcript: t,
            segment: None,
        });
    }
    // A transcript just opened takes the main area; with none open, the recorder has it.
    let doc = ed.editor.doc.as_ref().map(|d| d.transcript.id);
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

/// The bar across the top: the library sidebar's switch and what the main area shows (the
/// recorder, with a red dot while a take records, or the open transcript).
fn top_bar(
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
fn job_states(
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
fn newest_transcripts(
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
fn jobs_view<'a>(
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
        installed: &jobs.shelf.installed,
        scanned: jobs.shelf.scanned,
        download: jobs
            .shelf
            .download
            .as_ref()
            .map(|d| (d.name.as_str(), d.progress())),
    }
}

fn show_jobs(
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
fn show_settings(
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

fn show_recorder(
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
fn player_view(ed: &EditorData) -> editor_panel::PlayerView {
    match ed.player.as_ref() {
        Some(p) => editor_panel::PlayerView {
            position_ms: p.position_ms(),
            playing: p.is_playing(),
            speed: p.speed(),
            unavailable: match &p.status {
                crate::playback::PlayerStatus::Unavailable(e) => Some(e.clone()),
                _ => None,
            },
        },
        None => editor_panel::PlayerView {
            position_ms: 0,
            playing: false,
            speed: 1.0,
            unavailable: Some("no player".into()),
        },
    }
}

/// The open version's segment entities as the panels read them.
fn open_segments<'a, 'w, 's>(ed: &'a EditorData<'w, 's>) -> OpenSegments<'a, 'w, 's> {
    OpenSegments {
        order: ed.open.single().map_or(&[][..], Segments::entities),
        rows: &ed.segments,
        flagged: ed.flagged.0,
    }
}

/// The transport bar: the open transcript's playback and the take's recording.
fn show_transport(
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

fn show_editor(
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
    let view = editor_panel::View {
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
    };
    let mut editor_ui = std::mem::take(&mut state.editor);
    editor_panel::show(ui, &view, &mut editor_ui, intents);
    // Ask for the spectrogram of what the timeline shows now.
    let (start_ms, span_ms) = editor_panel::visible(doc.transcript.duration_ms, editor_ui.view);
    let wanted = crate::editor::SpectrogramView {
        file: doc.transcript.audio_file.0,
        start_ms,
        span_ms,
        width: editor_ui.timeline_px,
    };
    state.editor = editor_ui;
    if ed.spectrogram.wanted != Some(wanted) {
        ed.spectrogram.wanted = Some(wanted);
    }
}

/// A transcription of a file with the current settings; with no speech model to run, an
/// explanation instead, and the model picker marked.
fn transcribe(
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
fn retranscribe(
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
fn export_dialog(ed: &mut EditorData, format: crate::transcript::export::Format, words: bool) {
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
fn route(
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
        Intent::SetGpu(g) => jobs.settings.gpu = g,
        Intent::UseVocabulary(on) => jobs.settings.params.use_vocabulary = on,
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
        Intent::Editor(editor_panel::EditorIntent::Close) => leave(state, ed, Leave::Close),
        Intent::Editor(editor_panel::EditorIntent::OpenVersion(n)) => {
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
        Intent::Search(q) => {
            ed.commands.write(crate::editor::EditorCommand::Search(q));
        }
        Intent::Editor(editor_panel::EditorIntent::View(v)) => state.editor.view = v,
        Intent::Editor(editor_panel::EditorIntent::Retranscribe { spans, beam }) => {
            retranscribe(jobs, &ed.editor, spans, beam);
        }
        Intent::Editor(editor_panel::EditorIntent::Export(format)) => {
            export_dialog(ed, format, false);
        }
        Intent::Editor(editor_panel::EditorIntent::ExportWords(format)) => {
            export_dialog(ed, format, true);
        }
        Intent::BrowseImport => ed.dialogs.open_import(),
        Intent::Editor(e) => editor_intent(e, ed.player.as_deref(), &mut ed.commands),
        Intent::SetModel(m) => {
            jobs.settings.default_model = m;
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

fn record_intent(
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
        RecordIntent::SelectDevice(d) => rec.settings.device = d,
        RecordIntent::RefreshDevices => {
            rec.commands.write(RecordCommand::RefreshDevices);
        }
        RecordIntent::SetLive(on) => rec.live.enabled = on,
        RecordIntent::Bookmark(piece) => {
            if let Some((session, ..)) = rec.takes.iter().next() {
                rec.bookmarks.write(BookmarkLive { session, piece });
            }
        }
        RecordIntent::Transcribe(id) => transcribe(jobs, state, id),
    }
}

#[cfg(test)]
mod overlay_tests {
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
