//! The crash-safe take writer: header kept current, recovery after an interruption, rollover
//! into part files without a gap. Samples encode their own index, so loss is counted exactly.
#![allow(clippy::unwrap_used, clippy::expect_used)] // tests fail loudly by design

use std::io::Write;
use std::path::Path;

use verbatim::capture::wav::{self, Durability, TakeWriter, WavError};
use verbatim::media::{ProbeLimits, probe_file};

/// Sample `i` of channel `c` carries `i` (exactly representable in f32 below 2^24).
fn frames(from: u64, n: u64, channels: u16) -> Vec<f32> {
    (from..from + n)
        .flat_map(|i| (0..channels).map(move |c| i as f32 + c as f32 * 0.25))
        .collect()
}

fn read_all(path: &Path) -> (hound::WavSpec, Vec<f32>) {
    let mut r = hound::WavReader::open(path).unwrap();
    let spec = r.spec();
    (spec, r.samples::<f32>().map(Result::unwrap).collect())
}

#[test]
fn an_interrupted_take_loses_nothing_that_was_written_once_recovered() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("take.wav");
    let rate = 48_000;
    let mut w = TakeWriter::create(&path, rate, 2, Durability::for_rate(rate)).unwrap();
    let mut written = 0u64;
    while written < 125_000 {
        // 10 ms callbacks.
        w.write(&frames(written, 480, 2)).unwrap();
        written += 480;
        assert!(
            written - w.frames_in_header() < u64::from(rate / 4),
            "header more than 250 ms behind"
        );
        assert!(
            written - w.frames_synced() < u64::from(rate),
            "more than 1 s not synced"
        );
    }
    // The process dies here: no finish().
    drop(w);

    let (_, before) = read_all(&path);
    let lost_ms = (written - before.len() as u64 / 2) * 1000 / u64::from(rate);
    assert!(
        lost_ms <= 250,
        "before recovery the header covers all but {lost_ms} ms"
    );

    let summary = wav::recover(&path).unwrap();
    assert_eq!(summary.frames, written);
    assert_eq!((summary.sample_rate, summary.channels), (rate, 2));
    let (spec, samples) = read_all(&path);
    assert_eq!(
        (spec.sample_rate, spec.channels, spec.bits_per_sample),
        (rate, 2, 32)
    );
    assert_eq!(
        samples,
        frames(0, written, 2),
        "every frame, in order, exactly"
    );
}

#[test]
fn a_torn_last_frame_is_cut_off_by_recovery() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("torn.wav");
    let mut w = TakeWriter::create(&path, 16_000, 1, Durability::for_rate(16_000)).unwrap();
    w.write(&frames(0, 1000, 1)).unwrap();
    drop(w);
    std::fs::OpenOptions::new()
        .append(true)
        .open(&path)
        .unwrap()
        .write_all(&[1, 2, 3])
        .unwrap();
    assert_eq!(wav::recover(&path).unwrap().frames, 1000);
    assert_eq!(read_all(&path).1, frames(0, 1000, 1));
}

#[test]
fn a_finished_take_is_a_valid_float_wav_that_import_reads() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("done.wav");
    let mut w = TakeWriter::create(&path, 44_100, 1, Durability::for_rate(44_100)).unwrap();
    let tone: Vec<f32> = (0..44_100 * 2)
        .map(|i| (i as f32 * 0.05).sin() * 0.5)
        .collect();
    w.write(&tone).unwrap();
    let s = w.finish().unwrap();
    assert_eq!((s.frames, s.parts.len()), (88_200, 1));
    assert_eq!(read_all(&path).1, tone);
    let info = probe_file(&path, &path, &ProbeLimits::default()).unwrap();
    assert_eq!(
        (
            info.container.as_str(),
            info.sample_rate,
            info.channels,
            info.duration_ms
        ),
        ("wav", 44_100, 1, 2000)
    );
    // Storing a take reads what it holds from its header, without decoding: the same as the
    // full probe says.
    assert_eq!(wav::media_info(&path).unwrap(), info);
    // A part whose length no longer matches its header is refused (recovery repairs it).
    let mut f = std::fs::OpenOptions::new()
        .append(true)
        .open(&path)
        .unwrap();
    f.write_all(&[0u8; 3]).unwrap();
    drop(f);
    assert!(matches!(
        wav::media_info(&path),
        Err(WavError::NotATake { .. })
    ));
    let other = dir.path().join("other.wav");
    common_wav(&other);
    assert!(matches!(
        wav::media_info(&other),
        Err(WavError::NotATake { .. })
    ));
}

#[test]
fn long_takes_roll_over_into_part_files_without_a_gap() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("long.wav");
    // A part holds 1000 stereo frames here instead of 4 GiB.
    let small = Durability {
        max_part_bytes: wav::HEADER_BYTES + 1000 * 8,
        ..Durability::for_rate(8000)
    };
    let mut w = TakeWriter::create(&path, 8000, 2, small).unwrap();
    let mut written = 0;
    for n in [1u64, 999, 1, 1500, 333, 666, 2] {
        w.write(&frames(written, n, 2)).unwrap();
        written += n;
    }
    let s = w.finish().unwrap();
    assert_eq!(s.frames, written);
    assert_eq!(
        s.parts,
        (1..=4)
            .map(|n| wav::part_path(&path, n))
            .collect::<Vec<_>>()
    );
    let joined: Vec<f32> = s.parts.iter().flat_map(|p| read_all(p).1).collect();
    assert_eq!(joined, frames(0, written, 2));
    for p in &s.parts[..3] {
        assert_eq!(
            std::fs::metadata(p).unwrap().len(),
            wav::HEADER_BYTES + 8000
        );
    }

    // Interrupted in the middle of the third part: recovery repairs every part.
    let path2 = dir.path().join("cut.wav");
    let mut w = TakeWriter::create(&path2, 8000, 2, small).unwrap();
    w.write(&frames(0, 2500, 2)).unwrap();
    drop(w);
    let r = wav::recover(&path2).unwrap();
    assert_eq!((r.frames, r.parts.len()), (2500, 3));
    let joined: Vec<f32> = r.parts.iter().flat_map(|p| read_all(p).1).collect();
    assert_eq!(joined, frames(0, 2500, 2));
}

#[test]
fn recovery_refuses_files_that_are_not_takes() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("other.wav");
    common_wav(&p);
    assert!(matches!(wav::recover(&p), Err(WavError::NotATake { .. })));
    let short = dir.path().join("short.wav");
    std::fs::write(&short, b"RIFF").unwrap();
    assert!(matches!(
        wav::recover(&short),
        Err(WavError::NotATake { .. })
    ));
    assert!(TakeWriter::create(&dir.path().join("x.wav"), 0, 1, Durability::for_rate(1)).is_err());
    // A take never overwrites an existing file.
    assert!(matches!(
        TakeWriter::create(&p, 8000, 1, Durability::for_rate(8000)),
        Err(WavError::Write { .. })
    ));
}

/// A 16-bit PCM WAV (not a take).
fn common_wav(path: &Path) {
    let spec = hound::WavSpec {
        channels: 1,
        sample_rate: 8000,
        bits_per_sample: 16,
        sample_format: hound::SampleFormat::Int,
    };
    let mut w = hound::WavWriter::create(path, spec).unwrap();
    for i in 0..100 {
        w.write_sample(i as i16).unwrap();
    }
    w.finalize().unwrap();
}
