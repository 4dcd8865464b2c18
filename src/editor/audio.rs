//! The open file's audio for the timeline: its waveform (a peak pyramid) and the spectrogram
//! of the stretch in view, both computed off the frame.

use std::path::PathBuf;

use bevy::prelude::*;

use super::Editor;
use crate::playback::Player;

/// The waveform of the open transcript's audio (16 kHz mono), built off the frame. The file
/// is decoded once: the same samples feed the peak pyramid and the player.
#[derive(Resource, Default)]
pub struct DocPeaks {
    pub path: Option<PathBuf>,
    pub pyramid: Option<crate::dsp::peaks::PeakPyramid>,
    /// The decoded samples (shared with the player), for the spectrogram.
    pub samples: Option<std::sync::Arc<[f32]>>,
    rx: Option<crossbeam_channel::Receiver<Result<Decoded, PathBuf>>>,
}

/// What a spectrogram picture of the open file shows: a stretch of it, so many pixels wide.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SpectrogramView {
    /// The audio file (a picture of another file is never shown).
    pub file: i64,
    pub start_ms: u64,
    pub span_ms: u64,
    pub width: u32,
}

/// The spectrogram of the stretch of the open file on the timeline, computed off the frame
/// (`dsp::spectrum::view_image`: its cost follows the pixels, not the file) whenever the
/// window asks for another view, and kept until then.
#[derive(Resource, Default)]
pub struct DocSpectrogram {
    /// The view the timeline shows now (the window asks for it: [`SpectrogramWanted`]).
    pub wanted: Option<SpectrogramView>,
    /// The picture: its view and its RGBA rows (highest band first), [`SPECTROGRAM_BANDS`]
    /// of them.
    pub image: Option<(SpectrogramView, std::sync::Arc<Vec<u8>>)>,
    computing: Option<(
        SpectrogramView,
        crossbeam_channel::Receiver<Option<Vec<u8>>>,
    )>,
}

impl DocSpectrogram {
    pub fn busy(&self) -> bool {
        self.computing.is_some()
    }
}

/// Bands (rows) of the file spectrogram, and its frequency range (log axis).
pub const SPECTROGRAM_BANDS: usize = 64;

pub const SPECTROGRAM_HZ: (f32, f32) = (60.0, 8_000.0);

/// The view the timeline shows now: the window sends it when it changes, and the
/// spectrogram of it is computed.
#[derive(Message, Debug, Clone, Copy, PartialEq)]
pub struct SpectrogramWanted(pub SpectrogramView);

pub(super) fn build_spectrogram(
    mut asked: MessageReader<SpectrogramWanted>,
    peaks: Res<DocPeaks>,
    mut spec: ResMut<DocSpectrogram>,
) {
    if let Some(SpectrogramWanted(v)) = asked.read().last()
        && spec.wanted != Some(*v)
    {
        spec.wanted = Some(*v);
    }
    if let Some((view, rx)) = &spec.computing
        && let Ok(done) = rx.try_recv()
    {
        let view = *view;
        spec.computing = None;
        if let Some(img) = done {
            spec.image = Some((view, std::sync::Arc::new(img)));
        }
    }
    let (Some(wanted), Some(samples)) = (spec.wanted, peaks.samples.clone()) else {
        return;
    };
    let have = spec.image.as_ref().map(|(v, ..)| *v);
    if spec.computing.is_some() || have == Some(wanted) || wanted.width == 0 {
        return;
    }
    let (tx, rx) = crossbeam_channel::bounded(1);
    let spawned = std::thread::Builder::new()
        .name("verbatim-spectrogram".into())
        .spawn(move || {
            let ms = |t: u64| (t * 16) as usize;
            let img = crate::dsp::spectrum::LogAxis::new(
                SPECTROGRAM_HZ.0,
                SPECTROGRAM_HZ.1,
                SPECTROGRAM_BANDS,
            )
            .and_then(|axis| {
                crate::dsp::spectrum::view_image(
                    &samples,
                    16_000,
                    (ms(wanted.start_ms), ms(wanted.start_ms + wanted.span_ms)),
                    wanted.width as usize,
                    &axis,
                    512,
                    (-90.0, -20.0),
                )
            });
            if let Err(e) = &img {
                tracing::warn!("cannot draw the spectrogram: {e}");
            }
            let _ = tx.send(img.ok());
        });
    match spawned {
        Ok(_) => spec.computing = Some((wanted, rx)),
        Err(e) => tracing::warn!("cannot start the spectrogram: {e}"),
    }
}

/// A file decoded for the editor.
struct Decoded {
    path: PathBuf,
    samples: std::sync::Arc<[f32]>,
    pyramid: crate::dsp::peaks::PeakPyramid,
}

pub(super) fn build_peaks(
    editor: Res<Editor>,
    mut peaks: ResMut<DocPeaks>,
    player: Option<ResMut<Player>>,
) {
    if let Some(rx) = &peaks.rx
        && let Ok(decoded) = rx.try_recv()
    {
        peaks.rx = None;
        match (decoded, player) {
            (Ok(d), Some(mut pl)) if pl.loaded.as_ref() != Some(&d.path) => {
                peaks.samples = Some(std::sync::Arc::clone(&d.samples));
                pl.load_samples(&d.path, d.samples);
                peaks.pyramid = Some(d.pyramid);
            }
            (Ok(d), _) => {
                peaks.samples = Some(d.samples);
                peaks.pyramid = Some(d.pyramid);
            }
            // The player reads it itself and says why it cannot.
            (Err(path), Some(mut pl)) => pl.load(&path),
            (Err(_), None) => {}
        }
    }
    let Some(doc) = editor.doc.as_ref() else {
        return;
    };
    if peaks.path.as_ref() == Some(&doc.audio_path) {
        return;
    }
    let path = doc.audio_path.clone();
    peaks.path = Some(path.clone());
    peaks.pyramid = None;
    peaks.samples = None;
    let (tx, rx) = crossbeam_channel::bounded(1);
    peaks.rx = Some(rx);
    let spawned = std::thread::Builder::new()
        .name("verbatim-decode".into())
        .spawn(move || {
            let samples: std::sync::Arc<[f32]> = match crate::media::decode::read_all(&path) {
                Ok(s) => s.into(),
                Err(e) => {
                    tracing::warn!("cannot read {} for the waveform: {e}", path.display());
                    let _ = tx.send(Err(path));
                    return;
                }
            };
            let mut pyramid = crate::dsp::peaks::PeakPyramid::new();
            pyramid.push(&samples);
            let _ = tx.send(Ok(Decoded {
                path,
                samples,
                pyramid,
            }));
        });
    if let Err(e) = spawned {
        tracing::warn!("cannot build the waveform: {e}");
    }
}
