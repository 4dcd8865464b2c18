//! Audio in for whisper: decode (WAV, FLAC, MP3, Ogg Vorbis), downmix and resample to 16 kHz
//! mono, streamed in bounded pieces.
#![allow(clippy::unwrap_used, clippy::expect_used)] // tests fail loudly by design

mod common;

use verbatim::media::decode::{Pcm16k, read_all};

/// Frequency from zero crossings.
fn frequency(samples: &[f32], rate: f32) -> f32 {
    let crossings = samples
        .windows(2)
        .filter(|w| w[0] <= 0.0 && w[1] > 0.0)
        .count();
    crossings as f32 * rate / samples.len() as f32
}

#[test]
fn resamples_44k_stereo_to_16k_mono_exactly() {
    let dir = tempfile::tempdir().unwrap();
    let wav = dir.path().join("tone.wav");
    common::write_wav(&wav, 44_100, 2, 16, false, 2.0);
    let pcm = read_all(&wav).unwrap();
    assert_eq!(pcm.len(), 32_000, "2 s at 16 kHz");
    let body = &pcm[1600..30_400];
    let f = frequency(body, 16_000.0);
    assert!((f - 440.0).abs() < 2.0, "{f} Hz");
    let peak = body.iter().fold(0f32, |m, s| m.max(s.abs()));
    assert!((peak - 0.5).abs() < 0.02, "peak {peak}");
}

#[test]
fn sixteen_khz_input_passes_through_unchanged() {
    let jfk = common::speech_dir().join("jfk.wav");
    let pcm = read_all(&jfk).unwrap();
    assert_eq!(pcm.len(), 176_000);
    let mut r = hound::WavReader::open(&jfk).unwrap();
    let first: Vec<f32> = r
        .samples::<i16>()
        .take(1000)
        .map(|s| f32::from(s.unwrap()) / 32768.0)
        .collect();
    for (a, b) in pcm.iter().zip(first) {
        assert!((a - b).abs() < 1e-6);
    }
}

#[test]
fn compressed_formats_decode_to_the_right_length() {
    for name in [
        "jfk-1s.flac",
        "jfk-1s.mp3",
        "jfk-1s.ogg",
        "tone-stereo-44k.ogg",
    ] {
        let path = common::fixture(name);
        let mut stream = Pcm16k::open(&path).unwrap();
        let expected = stream.expected_samples();
        let mut out = Vec::new();
        while stream.read(&mut out, 4096).unwrap() > 0 {}
        let energy: f32 = out.iter().map(|s| s * s).sum::<f32>() / out.len() as f32;
        assert!(energy > 1e-5, "{name} decoded to silence");
        if let Some(e) = expected {
            let diff = (out.len() as i64 - e as i64).abs();
            assert!(
                diff <= 1200,
                "{name}: {} samples, header says {e}",
                out.len()
            );
        }
    }
}

#[test]
fn streaming_in_small_pieces_equals_reading_at_once() {
    let dir = tempfile::tempdir().unwrap();
    let wav = dir.path().join("tone.wav");
    common::write_wav(&wav, 48_000, 1, 24, false, 1.3);
    let whole = read_all(&wav).unwrap();
    let mut s = Pcm16k::open(&wav).unwrap();
    let mut pieces = Vec::new();
    while s.read(&mut pieces, 777).unwrap() > 0 {}
    assert_eq!(whole, pieces);
    assert_eq!(s.position() as usize, whole.len());
}

#[test]
fn unreadable_audio_is_a_clear_error() {
    let dir = tempfile::tempdir().unwrap();
    let bad = dir.path().join("bad.wav");
    std::fs::write(&bad, b"RIFF....WAVEjunkjunkjunk").unwrap();
    let e = Pcm16k::open(&bad).unwrap_err().to_string();
    assert!(e.contains("cannot open the audio file"), "{e}");
    let e = Pcm16k::open(&dir.path().join("missing.wav"))
        .unwrap_err()
        .to_string();
    assert!(e.contains("missing.wav"), "{e}");
}
