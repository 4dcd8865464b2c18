//! The real-time path: callback conversion, the SPSC ring, overrun accounting, the fake device.
#![allow(clippy::unwrap_used, clippy::expect_used)] // tests fail loudly by design

use std::time::Duration;

use assert_no_alloc::{AllocDisabler, assert_no_alloc, reset_violation_count, violation_count};
use verbatim::capture::fake::{FakeDevice, Signal, generate};
use verbatim::capture::ring::ring;
use verbatim::capture::wav::{Durability, TakeWriter};
use verbatim::dsp::meter;

#[global_allocator]
static ALLOCATOR: AllocDisabler = AllocDisabler;

#[test]
fn the_callback_path_never_allocates() {
    let (mut sink, mut reader) = ring(48_000, 2, 1024);
    let i16_buffer: Vec<i16> = (0..2048).map(|i| (i * 13) as i16).collect();
    let u8_buffer: Vec<u8> = (0..=255).collect();
    let mut fake = FakeDevice::new(
        Signal::Sweep {
            from_hz: 50.0,
            to_hz: 8000.0,
            seconds: 2.0,
        },
        48_000,
        2,
        480,
    );
    let mut out = vec![0.0f32; 8192];
    reset_violation_count();
    assert_no_alloc(|| {
        for _ in 0..50 {
            sink.push(&i16_buffer);
            sink.push(&u8_buffer);
            // Larger than the scratch: converted in pieces, still no allocation.
            sink.push(&[0.25f64; 4096][..]);
            fake.callback(&mut sink);
            reader.read(&mut out);
        }
    });
    assert_eq!(violation_count(), 0, "the callback path allocated");
}

#[test]
fn samples_of_every_format_arrive_as_f32() {
    let (mut sink, mut reader) = ring(64, 1, 16);
    sink.push(&[i16::MIN, 0, i16::MAX]);
    sink.push(&[0u16, 32768, 65535]);
    sink.push(&[-1.0f64, 0.5]);
    let mut out = [0.0f32; 8];
    assert_eq!(reader.read(&mut out), 8);
    assert_eq!(out[0], -1.0);
    assert_eq!(out[1], 0.0);
    assert!((out[2] - 1.0).abs() < 1e-4);
    assert_eq!(out[3], -1.0);
    assert_eq!(out[4], 0.0);
    assert!((out[5] - 1.0).abs() < 1e-4);
    assert_eq!(&out[6..], &[-1.0, 0.5]);
}

#[test]
fn a_stalled_reader_causes_counted_overruns_and_never_split_frames() {
    let (mut sink, mut reader) = ring(1000, 2, 512);
    let mut dev = FakeDevice::new(Signal::Ramp, 16_000, 2, 300);
    for _ in 0..4 {
        dev.callback(&mut sink); // 1200 frames into a 1000-frame ring
    }
    let c = sink.counters().snapshot();
    assert_eq!(c.frames_delivered, 1200);
    assert_eq!(c.overruns, 1);
    assert_eq!(c.frames_dropped, 200);
    assert_eq!(
        c.last_overrun_at, 900,
        "the overrun happened in the callback that started at frame 900"
    );
    let mut out = vec![0.0f32; 4000];
    let n = reader.read(&mut out);
    assert_eq!(n, 2000, "exactly the 1000 frames that fit");
    let mut expected = vec![0.0f32; 2000];
    generate(Signal::Ramp, 16_000, 2, 0, &mut expected);
    assert_eq!(
        &out[..n],
        &expected[..],
        "what fit arrives in order, both channels of every frame"
    );
}

#[test]
fn the_reader_sleeps_when_the_ring_is_empty_and_returns_on_timeout() {
    let (_sink, mut reader) = ring(100, 1, 10);
    let mut out = [0.0f32; 10];
    let t = std::time::Instant::now();
    assert_eq!(
        reader.read_blocking(
            &mut out,
            Duration::from_millis(5),
            Duration::from_millis(30)
        ),
        0
    );
    assert!(t.elapsed() >= Duration::from_millis(30));
}

#[test]
fn fake_signals_have_the_levels_they_claim() {
    let mut buf = vec![0.0f32; 48_000];
    generate(Signal::Silence, 48_000, 1, 0, &mut buf);
    assert_eq!(meter::measure(&buf).peak_dbfs, verbatim::dsp::FLOOR_DB);
    generate(Signal::Clipping { hz: 440.0 }, 48_000, 1, 0, &mut buf);
    assert!(meter::measure(&buf).clipped_samples > 1000);
    generate(
        Signal::Sine {
            hz: 1000.0,
            amplitude: 0.5,
        },
        48_000,
        1,
        0,
        &mut buf,
    );
    assert!((meter::measure(&buf).peak_dbfs + 6.02).abs() < 0.05);
    generate(Signal::Noise { amplitude: 0.5 }, 48_000, 1, 0, &mut buf);
    let l = meter::measure(&buf);
    assert!(l.peak_dbfs < -6.0 && l.peak_dbfs > -6.1, "{}", l.peak_dbfs);
    // Uniform noise of amplitude a has RMS a/sqrt(3): -10.79 dBFS for 0.5.
    assert!((l.rms_dbfs + 10.79).abs() < 0.2, "{}", l.rms_dbfs);
}

#[test]
fn device_to_ring_to_disk_keeps_every_frame() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("take.wav");
    // The ring holds the whole take, so the test cannot overrun however slow the machine.
    let (mut sink, mut reader) = ring(64_000, 1, 160);
    let mut dev = FakeDevice::new(Signal::Ramp, 16_000, 1, 160);
    let done = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let producer_done = std::sync::Arc::clone(&done);
    let writer_thread = std::thread::spawn(move || {
        let mut w = TakeWriter::create(&path, 16_000, 1, Durability::for_rate(16_000)).unwrap();
        let mut buf = vec![0.0f32; 4096];
        loop {
            let finished = producer_done.load(std::sync::atomic::Ordering::Acquire);
            let n = reader.read_blocking(
                &mut buf,
                Duration::from_millis(2),
                Duration::from_millis(20),
            );
            w.write(&buf[..n]).unwrap();
            if n == 0 && finished {
                break;
            }
        }
        (w.finish().unwrap(), path)
    });
    for _ in 0..200 {
        dev.callback(&mut sink); // 2 s of audio in 10 ms callbacks
        std::thread::sleep(Duration::from_micros(200));
    }
    done.store(true, std::sync::atomic::Ordering::Release);
    let (summary, path) = writer_thread.join().unwrap();
    assert_eq!(sink.counters().snapshot().overruns, 0);
    assert_eq!(summary.frames, 32_000);
    let samples: Vec<f32> = hound::WavReader::open(&path)
        .unwrap()
        .samples::<f32>()
        .map(Result::unwrap)
        .collect();
    let mut expected = vec![0.0f32; 32_000];
    generate(Signal::Ramp, 16_000, 1, 0, &mut expected);
    assert_eq!(samples, expected);
}
