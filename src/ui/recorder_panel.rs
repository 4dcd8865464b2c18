//! The recorder panel: device picker, record / pause / stop, elapsed time, level meters,
//! waveform (scrolling while recording, zoomable afterwards) with overrun markers, spectrum on
//! a labelled log-frequency axis, spectrogram, and the take's file and counters.

use std::path::Path;

use bevy_egui::egui::{self, Color32, Pos2, Rect, Sense, Stroke, Vec2};

use super::Intent;
use crate::capture::devices::InputDevice;
use crate::capture::plugin::TakeState;
use crate::capture::recorder::{Finished, Progress};
use crate::dsp::meter::Meter;
use crate::dsp::peaks::{MinMax, PeakPyramid};
use crate::dsp::spectrum::LogAxis;
use crate::storage::ids::AudioFileId;

/// What the user asks of the recorder.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RecordIntent {
    Start,
    Pause,
    Resume,
    Stop,
    /// `None`: the default device.
    SelectDevice(Option<String>),
    RefreshDevices,
    /// Transcribe the finished take (its library entry).
    Transcribe(AudioFileId),
    /// Live transcription on or off.
    SetLive(bool),
    /// Bookmark committed live line `n` (a click on it while recording).
    Bookmark(usize),
}

/// What the panel shows.
pub struct View<'a> {
    pub devices: &'a [InputDevice],
    pub devices_listed: bool,
    pub refreshing: bool,
    /// The chosen device (`None`: default).
    pub device: Option<&'a str>,
    pub take: Option<TakeView<'a>>,
    /// Whether live transcription is on.
    pub live_enabled: bool,
}

/// The live transcript of the take.
pub struct LiveView<'a> {
    /// Committed lines (one per live step that committed words): final, never rewritten;
    /// `true`: bookmarked.
    pub lines: Vec<(&'a str, bool)>,
    /// The unconfirmed tail (replaced by every step), shown dimmed after it.
    pub tail: String,
    /// Audio recorded but not transcribed yet.
    pub lag_ms: u64,
    /// The caption lag of the latest committed words (recorded length at commit minus
    /// their end), median of the last 20.
    pub caption_lag_ms: Option<u64>,
    pub steps: u32,
    pub error: Option<&'a str>,
}

/// The current (or last) take.
pub struct TakeView<'a> {
    pub live: Option<LiveView<'a>>,
    pub state: TakeState,
    pub device_name: &'a str,
    pub sample_rate: u32,
    pub channels: u16,
    pub sample_format: &'a str,
    pub path: &'a Path,
    pub stats: &'a Progress,
    pub meters: &'a [Meter],
    pub spectrum: Option<(&'a [f32], &'a LogAxis)>,
    /// The spectrogram texture (a Bevy image updated one column per hop).
    pub spectrogram: Option<egui::TextureId>,
    pub pyramid: &'a PeakPyramid,
    pub xruns: &'a [(u64, u64)],
    /// `(frame, ms)` per pause in the device's deliveries.
    pub gaps: &'a [(u64, u64)],
    pub finished: Option<&'a Finished>,
    pub audio_file: Option<AudioFileId>,
    /// The take has a transcript (its live draft, or a finished job's): it is opened, not
    /// transcribed again from here.
    pub transcribed: bool,
    /// Why the finished take is not in the library (it stays recoverable on disk).
    pub store_error: Option<&'a str>,
}

/// Panel state kept between frames (zoom, scratch).
#[derive(Default)]
pub struct RecorderUi {
    cols: Vec<Option<MinMax>>,
    /// Seconds visible in the waveform after recording (0: the whole take).
    pub zoom_seconds: f32,
    /// Start of the visible part after recording, in seconds.
    pub offset_seconds: f32,
}

impl std::fmt::Debug for RecorderUi {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RecorderUi")
            .field("zoom_seconds", &self.zoom_seconds)
            .field("offset_seconds", &self.offset_seconds)
            .finish_non_exhaustive()
    }
}

/// Seconds of audio the scrolling waveform shows while recording.
const LIVE_SECONDS: f64 = 10.0;
const METER_FLOOR_DB: f32 = -60.0;

pub fn show(ui: &mut egui::Ui, view: &View<'_>, st: &mut RecorderUi, out: &mut Vec<Intent>) {
    ui.heading("Recorder");
    let active = view
        .take
        .as_ref()
        .is_some_and(|t| t.state != TakeState::Finished);
    ui.horizontal_wrapped(|ui| {
        ui.label("Input:");
        device_picker(ui, view, active, out);
        live_checkbox(ui, view.live_enabled, out);
    });
    if view.devices_listed && view.devices.iter().all(|d| d.error.is_some()) {
        ui.colored_label(
            ui.visuals().warn_fg_color,
            "No input device found: connect a microphone, or record the test signal.",
        );
    }

    ui.horizontal(|ui| {
        let take = view.take.as_ref().map(|t| {
            let secs = t.stats.frames_written as f64 / f64::from(t.sample_rate.max(1));
            (t.state, secs)
        });
        record_buttons(ui, take, out);
    });

    let Some(t) = &view.take else {
        ui.weak("Press Record to start a take. Takes are written to disk as they are recorded.");
        return;
    };
    ui.label(format!(
        "{} · {} Hz · {} ch · {}",
        t.device_name, t.sample_rate, t.channels, t.sample_format
    ));
    meters(ui, t.meters);
    ui.add_space(4.0);
    waveform(ui, t, st, active);
    ui.add_space(4.0);
    if let Some((bands, axis)) = t.spectrum {
        spectrum(ui, bands, axis);
    }
    if let Some(texture) = t.spectrogram {
        spectrogram(ui, texture, t.spectrum.map(|(_, axis)| axis));
    }
    ui.add_space(4.0);
    let overrun_text = format!(
        "Overruns: {} ({} frames lost)",
        t.stats.overruns, t.stats.frames_dropped
    );
    if t.stats.overruns > 0 {
        ui.colored_label(ui.visuals().warn_fg_color, overrun_text);
    } else {
        ui.label(overrun_text);
    }
    if !t.gaps.is_empty() {
        let longest = t.gaps.iter().map(|(_, ms)| *ms).max().unwrap_or_default();
        ui.colored_label(
            ui.visuals().warn_fg_color,
            format!(
                "Gaps: {} (the device paused, longest {longest} ms; the take went on)",
                t.gaps.len()
            ),
        )
        .on_hover_text(
            "The audio system delivered nothing for a while (a busy machine starves it), then \
             went on. Amber lines on the waveform mark where.",
        );
    }
    if let Some(l) = &t.live {
        live_lines(ui, l, out);
    }
    ui.label(format!("File: {}", t.path.display()))
        .on_hover_text("Written as it is recorded: header every 250 ms, flushed every second");
    if let Some(f) = t.finished {
        match &f.error {
            Some(e) => ui.colored_label(ui.visuals().error_fg_color, format!("Stopped: {e}")),
            None => ui.label(format!(
                "Finished ({}){}",
                f.reason.as_str(),
                t.audio_file
                    .map(|id| format!(": in the library as #{id}"))
                    .unwrap_or_default()
            )),
        };
        if let Some(e) = t.store_error {
            ui.colored_label(
                ui.visuals().error_fg_color,
                format!(
                    "Not in the library: {e}. The take is kept at {}; it is added at the next start (or `verbatim recover`)",
                    t.path.display()
                ),
            );
        }
        if let Some(id) = t.audio_file
            && !t.transcribed
            && ui.button("Transcribe this take").clicked()
        {
            out.push(Intent::Record(RecordIntent::Transcribe(id)));
        }
    }
}

/// The take's live transcript: how far behind it is, the committed lines (click one to
/// bookmark it) and the tentative tail, dimmed.
fn live_lines(ui: &mut egui::Ui, l: &LiveView<'_>, out: &mut Vec<Intent>) {
    ui.separator();
    ui.horizontal(|ui| {
        ui.strong("Live transcript");
        ui.weak(format!(
            "behind {:.1} s{} · {} steps",
            l.lag_ms as f64 / 1000.0,
            l.caption_lag_ms
                .map(|c| format!(" · caption lag {:.1} s", c as f64 / 1000.0))
                .unwrap_or_default(),
            l.steps
        ))
        .on_hover_text(
            "Committed words are final; the dimmed tail is what the next steps may still change",
        );
    });
    if let Some(e) = l.error {
        ui.colored_label(ui.visuals().error_fg_color, e);
    }
    egui::ScrollArea::vertical()
        .max_height(90.0)
        .stick_to_bottom(true)
        .show(ui, |ui| {
            if l.lines.is_empty() && l.tail.trim().is_empty() {
                ui.weak("(listening…)");
            } else {
                ui.horizontal_wrapped(|ui| {
                    ui.spacing_mut().item_spacing.x = 4.0;
                    for (n, (line, marked)) in l.lines.iter().enumerate() {
                        let text = if *marked {
                            egui::RichText::new(format!("🔖 {line}"))
                                .background_color(ui.visuals().selection.bg_fill)
                        } else {
                            egui::RichText::new(*line)
                        };
                        let r = ui
                            .add(egui::Label::new(text).sense(Sense::click()))
                            .on_hover_text(if *marked {
                                "Bookmarked: the editor shows it on the stored take"
                            } else {
                                "Click to bookmark this line"
                            });
                        if r.clicked() && !marked {
                            out.push(Intent::Record(RecordIntent::Bookmark(n)));
                        }
                    }
                    if !l.tail.trim().is_empty() {
                        ui.label(egui::RichText::new(&l.tail).weak().italics());
                    }
                });
            }
        });
}

/// The input device to record from (not while a take is `active`), and listing them again.
pub fn device_picker(ui: &mut egui::Ui, view: &View<'_>, active: bool, out: &mut Vec<Intent>) {
    let current = view
        .device
        .and_then(|d| {
            view.devices
                .iter()
                .find(|x| x.id == d)
                .map(|x| x.name.as_str())
        })
        .or(view.device)
        .unwrap_or("Default input");
    ui.add_enabled_ui(!active, |ui| {
        egui::ComboBox::from_id_salt("input-device")
            .selected_text(current)
            .width(260.0)
            .show_ui(ui, |ui| {
                if ui
                    .selectable_label(view.device.is_none(), "Default input")
                    .clicked()
                {
                    out.push(Intent::Record(RecordIntent::SelectDevice(None)));
                }
                for d in view.devices.iter().filter(|d| d.error.is_none()) {
                    let label = if d.is_default {
                        format!("{} (default)", d.name)
                    } else {
                        d.name.clone()
                    };
                    if ui
                        .selectable_label(view.device == Some(d.id.as_str()), label)
                        .on_hover_text(&d.id)
                        .clicked()
                    {
                        out.push(Intent::Record(RecordIntent::SelectDevice(Some(
                            d.id.clone(),
                        ))));
                    }
                }
                if ui
                    .selectable_label(view.device == Some("fake:sweep"), "Test signal (sweep)")
                    .clicked()
                {
                    out.push(Intent::Record(RecordIntent::SelectDevice(Some(
                        "fake:sweep".into(),
                    ))));
                }
            });
        if view.refreshing {
            ui.spinner();
        } else if ui
            .small_button("⟳")
            .on_hover_text("List devices again")
            .clicked()
        {
            out.push(Intent::Record(RecordIntent::RefreshDevices));
        }
    });
}

/// Live transcription while recording on or off.
pub fn live_checkbox(ui: &mut egui::Ui, on: bool, out: &mut Vec<Intent>) {
    let mut live = on;
    if ui
        .checkbox(&mut live, "Live transcript")
        .on_hover_text(
            "Captions while recording (the words two passes over the newest audio agree on, \
             every second); the full pass runs when the take ends",
        )
        .changed()
    {
        out.push(Intent::Record(RecordIntent::SetLive(live)));
    }
}

/// Record, pause, resume and stop for the take in `take` (its state and seconds recorded;
/// `None`: no take yet), with the elapsed time: the recorder's and the transport bar's.
pub fn record_buttons(ui: &mut egui::Ui, take: Option<(TakeState, f64)>, out: &mut Vec<Intent>) {
    let mut push = |r: RecordIntent| out.push(Intent::Record(r));
    match take.map(|(s, _)| s) {
        Some(TakeState::Recording) => {
            if ui
                .button("⏸ Pause")
                .on_hover_text("Pause the take")
                .clicked()
            {
                push(RecordIntent::Pause);
            }
            if ui.button("⏹ Stop").on_hover_text("Ctrl+R").clicked() {
                push(RecordIntent::Stop);
            }
        }
        Some(TakeState::Paused) => {
            if ui.button("⏺ Resume").clicked() {
                push(RecordIntent::Resume);
            }
            if ui.button("⏹ Stop").on_hover_text("Ctrl+R").clicked() {
                push(RecordIntent::Stop);
            }
        }
        Some(TakeState::Stopping) => {
            ui.spinner();
            ui.label("Closing the take…");
        }
        Some(TakeState::Starting) => {
            ui.spinner();
            ui.label("Opening the input…");
            if ui.button("⏹ Stop").clicked() {
                push(RecordIntent::Stop);
            }
        }
        None | Some(TakeState::Finished) => {
            let record = egui::Button::new(
                egui::RichText::new("⏺ Record").color(Color32::from_rgb(230, 70, 70)),
            );
            if ui
                .add(record)
                .on_hover_text("Record a new take from the chosen input (Ctrl+R)")
                .clicked()
            {
                push(RecordIntent::Start);
            }
        }
    }
    if let Some((state, secs)) = take {
        ui.monospace(format_elapsed(secs));
        if state == TakeState::Paused {
            ui.label("paused");
        }
    }
}

pub fn format_elapsed(secs: f64) -> String {
    let total = secs.max(0.0);
    let h = (total / 3600.0).floor();
    let m = ((total - h * 3600.0) / 60.0).floor();
    let s = total - h * 3600.0 - m * 60.0;
    if h > 0.0 {
        format!("{h:.0}:{m:02.0}:{s:04.1}")
    } else {
        format!("{m:02.0}:{s:04.1}")
    }
}

fn meters(ui: &mut egui::Ui, meters: &[Meter]) {
    let names = ["L", "R"];
    for (i, m) in meters.iter().enumerate() {
        ui.horizontal(|ui| {
            let name = if meters.len() == 1 {
                "M".to_owned()
            } else {
                names
                    .get(i)
                    .map_or(format!("{}", i + 1), |s| (*s).to_owned())
            };
            ui.monospace(name);
            let (rect, _) = ui.allocate_exact_size(Vec2::new(300.0, 12.0), Sense::hover());
            let p = ui.painter_at(rect);
            p.rect_filled(rect, 2.0, Color32::from_gray(30));
            let x = |db: f32| {
                rect.left()
                    + ((db - METER_FLOOR_DB) / -METER_FLOOR_DB).clamp(0.0, 1.0) * rect.width()
            };
            let level_rect = |db: f32| Rect::from_min_max(rect.min, Pos2::new(x(db), rect.max.y));
            let colour = if m.peak_dbfs > -3.0 {
                Color32::from_rgb(230, 60, 50)
            } else if m.peak_dbfs > -12.0 {
                Color32::from_rgb(230, 200, 60)
            } else {
                Color32::from_rgb(70, 200, 90)
            };
            p.rect_filled(level_rect(m.peak_dbfs), 2.0, colour.gamma_multiply(0.55));
            p.rect_filled(level_rect(m.rms_dbfs), 2.0, colour);
            let hx = x(m.held_peak_dbfs);
            p.line_segment(
                [Pos2::new(hx, rect.top()), Pos2::new(hx, rect.bottom())],
                Stroke::new(2.0, Color32::WHITE),
            );
            ui.monospace(format!("{:>6.1} dBFS", m.peak_dbfs.max(-99.9)));
            let clip = if m.clip {
                egui::RichText::new("CLIP")
                    .color(Color32::WHITE)
                    .background_color(Color32::from_rgb(200, 30, 30))
            } else {
                egui::RichText::new("CLIP").weak()
            };
            ui.label(clip)
                .on_hover_text("Latched when a sample reached full scale");
        });
    }
}

/// One quad per pixel column, from min to max, as a single mesh.
pub fn waveform_mesh(cols: &[Option<MinMax>], rect: Rect, color: Color32, mesh: &mut egui::Mesh) {
    mesh.clear();
    mesh.reserve_triangles(cols.len() * 2);
    mesh.reserve_vertices(cols.len() * 4);
    let mid = rect.center().y;
    let half = rect.height() / 2.0;
    for (x, c) in cols.iter().enumerate() {
        let Some(c) = c else { continue };
        let x0 = rect.left() + x as f32;
        let top = mid - c.max.clamp(-1.0, 1.0) * half;
        let bottom = (mid - c.min.clamp(-1.0, 1.0) * half).max(top + 1.0);
        mesh.add_colored_rect(
            Rect::from_min_max(Pos2::new(x0, top), Pos2::new(x0 + 1.0, bottom)),
            color,
        );
    }
}

fn waveform(ui: &mut egui::Ui, t: &TakeView<'_>, st: &mut RecorderUi, live: bool) {
    let width = ui.available_width().max(100.0);
    let (rect, response) = ui.allocate_exact_size(Vec2::new(width, 90.0), Sense::hover());
    let p = ui.painter_at(rect);
    p.rect_filled(rect, 2.0, Color32::from_gray(20));
    let rate = f64::from(t.sample_rate.max(1));
    let len = t.pyramid.len();
    let px = rect.width().floor().max(1.0) as usize;
    let (start, spp) = if live {
        let window = (LIVE_SECONDS * rate) as u64;
        (len.saturating_sub(window), window as f64 / px as f64)
    } else {
        let total = len as f64 / rate;
        let visible = if st.zoom_seconds <= 0.0 {
            total
        } else {
            f64::from(st.zoom_seconds).min(total)
        };
        let offset = f64::from(st.offset_seconds).clamp(0.0, (total - visible).max(0.0));
        (
            (offset * rate) as u64,
            (visible * rate / px as f64).max(1.0),
        )
    };
    t.pyramid.screen_columns(start, spp, px, &mut st.cols);
    let mut mesh = egui::Mesh::default();
    waveform_mesh(&st.cols, rect, Color32::from_rgb(90, 170, 240), &mut mesh);
    p.add(egui::Shape::mesh(mesh));
    // Overruns: a red line where audio is missing (Ardour's xrun markers); pauses in the
    // device's deliveries in amber.
    let red = Color32::from_rgb(240, 50, 50);
    let amber = Color32::from_rgb(240, 170, 40);
    let marks = t.xruns.iter().map(|(at, _)| (*at, red));
    for (at, colour) in marks.chain(t.gaps.iter().map(|(at, _)| (*at, amber))) {
        let x = (at as f64 - start as f64) / spp;
        if (0.0..px as f64).contains(&x) {
            let x = rect.left() + x as f32;
            p.line_segment(
                [Pos2::new(x, rect.top()), Pos2::new(x, rect.bottom())],
                Stroke::new(1.5, colour),
            );
        }
    }
    response.on_hover_text(if live {
        "The last 10 seconds; red lines mark overruns"
    } else {
        "The whole take (zoom below); red lines mark overruns"
    });
    if !live && len > 0 {
        let total = (len as f64 / rate) as f32;
        ui.horizontal(|ui| {
            ui.label("Zoom:");
            ui.add(
                egui::Slider::new(&mut st.zoom_seconds, 0.0..=total).text("s visible (0 = all)"),
            );
            ui.add(egui::Slider::new(&mut st.offset_seconds, 0.0..=total).text("s from"));
        });
    }
}

fn spectrum(ui: &mut egui::Ui, bands: &[f32], axis: &LogAxis) {
    let width = ui.available_width().max(100.0);
    let (rect, _) = ui.allocate_exact_size(Vec2::new(width, 130.0), Sense::hover());
    let p = ui.painter_at(rect);
    p.rect_filled(rect, 2.0, Color32::from_gray(20));
    let plot = Rect::from_min_max(
        rect.min + Vec2::new(34.0, 4.0),
        rect.max - Vec2::new(4.0, 16.0),
    );
    let (db_min, db_max) = (-120.0f32, 0.0f32);
    let y = |db: f32| {
        plot.bottom() - ((db - db_min) / (db_max - db_min)).clamp(0.0, 1.0) * plot.height()
    };
    let grid = Stroke::new(1.0, Color32::from_gray(50));
    let text = Color32::from_gray(170);
    let font = egui::FontId::proportional(10.0);
    for db in [-120, -100, -80, -60, -40, -20, 0] {
        let yy = y(db as f32);
        p.line_segment(
            [Pos2::new(plot.left(), yy), Pos2::new(plot.right(), yy)],
            grid,
        );
        p.text(
            Pos2::new(plot.left() - 4.0, yy),
            egui::Align2::RIGHT_CENTER,
            format!("{db}"),
            font.clone(),
            text,
        );
    }
    for (hz, label) in [
        (50.0, "50"),
        (100.0, "100"),
        (200.0, "200"),
        (500.0, "500"),
        (1000.0, "1k"),
        (2000.0, "2k"),
        (5000.0, "5k"),
        (10_000.0, "10k"),
        (20_000.0, "20k"),
    ] {
        let pos = axis.position(hz);
        if !(0.0..=1.0).contains(&pos) {
            continue;
        }
        let xx = plot.left() + pos * plot.width();
        p.line_segment(
            [Pos2::new(xx, plot.top()), Pos2::new(xx, plot.bottom())],
            grid,
        );
        p.text(
            Pos2::new(xx, plot.bottom() + 2.0),
            egui::Align2::CENTER_TOP,
            label,
            font.clone(),
            text,
        );
    }
    p.text(
        Pos2::new(plot.left() - 4.0, plot.bottom() + 2.0),
        egui::Align2::RIGHT_TOP,
        "Hz",
        font.clone(),
        text,
    );
    p.text(
        Pos2::new(rect.left() + 2.0, rect.top() + 2.0),
        egui::Align2::LEFT_TOP,
        "dB",
        font,
        text,
    );
    let n = bands.len().max(1);
    let points: Vec<Pos2> = bands
        .iter()
        .enumerate()
        .map(|(i, db)| {
            Pos2::new(
                plot.left() + (i as f32 + 0.5) / n as f32 * plot.width(),
                y(*db),
            )
        })
        .collect();
    p.add(egui::Shape::line(
        points,
        Stroke::new(1.5, Color32::from_rgb(250, 200, 80)),
    ));
}

/// Ticks and labels of a log-frequency axis up the left edge of `rect` (a spectrogram's):
/// each of `marks` inside the axis's range, at its place on it.
pub fn frequency_labels(p: &egui::Painter, rect: Rect, axis: &LogAxis, marks: &[(f32, &str)]) {
    // A label too close to the one drawn before it (a short strip) is left out: labels
    // never overlap, and none is cut by the strip's edges.
    let mut last_y: Option<f32> = None;
    for &(hz, label) in marks {
        if hz <= axis.f_min || hz >= axis.f_max {
            continue;
        }
        let y = rect.bottom() - axis.position(hz) * rect.height();
        if last_y.is_some_and(|l| (l - y).abs() < 12.0)
            || y < rect.top() + 5.0
            || y > rect.bottom() - 5.0
        {
            continue;
        }
        last_y = Some(y);
        p.line_segment(
            [Pos2::new(rect.left(), y), Pos2::new(rect.left() + 6.0, y)],
            Stroke::new(1.0, Color32::from_gray(220)),
        );
        p.text(
            Pos2::new(rect.left() + 8.0, y),
            egui::Align2::LEFT_CENTER,
            label,
            egui::FontId::monospace(10.0),
            Color32::from_gray(230),
        );
    }
}

/// The take's spectrogram, with its frequency axis labelled (the spectrum's log axis).
fn spectrogram(ui: &mut egui::Ui, texture: egui::TextureId, axis: Option<&LogAxis>) {
    let width = ui.available_width().max(100.0);
    let (rect, response) = ui.allocate_exact_size(Vec2::new(width, 128.0), Sense::hover());
    let p = ui.painter_at(rect);
    p.image(
        texture,
        rect,
        Rect::from_min_max(Pos2::ZERO, Pos2::new(1.0, 1.0)),
        Color32::WHITE,
    );
    if let Some(axis) = axis {
        frequency_labels(
            &p,
            rect,
            axis,
            &[
                (100.0, "100 Hz"),
                (1_000.0, "1 kHz"),
                (4_000.0, "4 kHz"),
                (10_000.0, "10 kHz"),
            ],
        );
    }
    response.on_hover_text(match axis {
        Some(a) => format!(
            "Spectrogram: time left to right, {:.0} Hz (bottom) to {:.0} kHz (top), log scale",
            a.f_min,
            a.f_max / 1000.0
        ),
        None => "Spectrogram: time left to right, low to high frequency".into(),
    });
}
