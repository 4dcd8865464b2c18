//! `verbatim record` and `verbatim recover` as a user runs them: a recording killed with
//! SIGKILL and recovered, a recording that fills the disk (a file-size limit), and real capture
//! through PulseAudio (a null sink fed by `paplay`, recorded through ALSA's PulseAudio plugin):
//! correlation with the source, and the device vanishing mid-take.
#![allow(clippy::unwrap_used, clippy::expect_used)] // tests fail loudly by design

mod common;

use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

const EXE: &str = env!("CARGO_BIN_EXE_verbatim");

type Lines = std::io::Lines<BufReader<std::process::ChildStdout>>;

/// Reads `--report` lines ("captured N synced N delivered N") until at least `frames` are
/// captured; returns the last count.
fn wait_captured(lines: &mut Lines, frames: u64) -> u64 {
    loop {
        let line = lines.next().expect("the recorder ended early").unwrap();
        let captured: u64 = line.split(' ').nth(1).unwrap().parse().unwrap();
        if captured >= frames {
            return captured;
        }
    }
}

/// The `--json` summary printed after the `--report` lines.
fn summary_after_reports(lines: Lines) -> serde_json::Value {
    let json = lines
        .map(Result::unwrap)
        .skip_while(|l| !l.starts_with('{'))
        .collect::<Vec<_>>()
        .join("\n");
    serde_json::from_str(&json).unwrap()
}

fn recorded(json: &serde_json::Value) -> (PathBuf, hound::WavSpec, Vec<f32>) {
    let path = PathBuf::from(json["file"].as_str().unwrap());
    let r = hound::WavReader::open(&path).unwrap();
    let spec = r.spec();
    let samples = r.into_samples::<f32>().map(Result::unwrap).collect();
    (path, spec, samples)
}

#[test]
fn a_take_killed_with_sigkill_is_recovered_with_at_most_250_ms_lost() {
    let data = tempfile::tempdir().unwrap();
    let mut child = Command::new(EXE)
        .arg("--data-dir")
        .arg(data.path())
        .args(["record", "--device", "fake:ramp:48000:2", "--report"])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let reported = wait_captured(&mut lines, 2 * 48_000);
    // SIGKILL: no handler, no flush, no header update.
    child.kill().unwrap();
    child.wait().unwrap();

    let out = Command::new(EXE)
        .arg("--data-dir")
        .arg(data.path())
        .args(["recover", "--json"])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let sessions = v["sessions"].as_array().unwrap();
    assert_eq!(sessions.len(), 1, "{v}");
    let s = &sessions[0];
    assert_eq!(s["status"], "recovered", "{v}");
    let frames = s["frames"].as_u64().unwrap();
    assert!(
        frames + 12_000 >= reported,
        "recovered {frames} frames, the child reported {reported} captured"
    );
    // The stored copy is a valid WAV whose every sample is its own frame index: no gap, no
    // garbage, nothing reordered.
    let stored = s["imported"][0]["row"]["stored_path"].as_str().unwrap();
    let r = hound::WavReader::open(data.path().join(stored)).unwrap();
    assert_eq!(u64::from(r.duration()), frames);
    for (i, x) in r.into_samples::<f32>().enumerate() {
        let want = (i / 2) as f32 / 16_777_216.0;
        assert_eq!(x.unwrap(), want, "sample {i}");
    }
    // Recovering again finds nothing; the library lists the take.
    let again = Command::new(EXE)
        .arg("--data-dir")
        .arg(data.path())
        .args(["recover"])
        .output()
        .unwrap();
    assert!(String::from_utf8_lossy(&again.stdout).contains("No interrupted recordings"));
}

#[test]
fn a_full_disk_ends_the_take_cleanly_with_everything_written() {
    if Command::new("bash").arg("--version").output().is_err() {
        eprintln!("skipped: needs bash for `ulimit -f`");
        return;
    }
    let data = tempfile::tempdir().unwrap();
    let out_wav = data.path().join("take.wav");
    // A 3,000 KiB file-size limit is a disk that fills 3 MiB in (16 s of 48 kHz stereo f32
    // would be 6 MiB). SIGXFSZ is ignored so writes fail with EFBIG, as on a full disk.
    let script = format!(
        "trap '' XFSZ; ulimit -f 3000; exec '{EXE}' --data-dir '{}' record --device fake:sine:48000:2 --seconds 16 --out '{}' --json",
        data.path().display(),
        out_wav.display()
    );
    let out = Command::new("bash").arg("-c").arg(script).output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("stopped early"), "{stderr}");
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["stop_reason"], "disk_full", "{v}");
    let frames = v["frames"].as_u64().unwrap();
    // Everything up to the limit, whole frames only, in a valid file.
    let limit_frames = (3000 * 1024 - 44) / 8;
    assert!(
        frames > limit_frames - 48_000 && frames <= limit_frames,
        "{frames}"
    );
    let r = hound::WavReader::open(&out_wav).unwrap();
    assert_eq!(u64::from(r.duration()), frames);
    let conn = verbatim::storage::open(&data.path().join("verbatim.db")).unwrap();
    let s = verbatim::capture::sql::list_recording_sessions(&conn, None).unwrap();
    assert_eq!(s[0].status, "complete");
    assert_eq!(
        s[0].stop_reason,
        Some(verbatim::capture::sql::StopReason::DiskFull)
    );
    assert!(s[0].error.as_deref().unwrap().contains("disk is full"));
}

/// A private PulseAudio server with one null sink, killed on drop.
struct Pulse {
    child: Child,
    runtime: tempfile::TempDir,
}

impl Pulse {
    /// `None` (with the reason printed) when PulseAudio is not installed.
    fn start() -> Option<Self> {
        if Command::new("pulseaudio")
            .arg("--version")
            .output()
            .is_err()
        {
            eprintln!(
                "skipped: PulseAudio is not installed (`scripts/system-packages.sh test` installs it; `make test` runs it)"
            );
            return None;
        }
        let runtime = tempfile::tempdir().unwrap();
        let child = Command::new("pulseaudio")
            .args([
                "-n",
                "--daemonize=no",
                "--exit-idle-time=-1",
                "--disallow-exit",
                "--load=module-native-protocol-unix",
                "--load=module-null-sink sink_name=vnull rate=48000 channels=2",
            ])
            .env("XDG_RUNTIME_DIR", runtime.path())
            .env("HOME", runtime.path())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let p = Pulse { child, runtime };
        let start = Instant::now();
        while !p.pactl(&["info"]) {
            assert!(
                start.elapsed() < Duration::from_secs(10),
                "PulseAudio did not start"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        assert!(p.pactl(&["set-default-source", "vnull.monitor"]));
        Some(p)
    }

    fn env(&self, c: &mut Command) {
        c.env("XDG_RUNTIME_DIR", self.runtime.path()).env(
            "PULSE_SERVER",
            format!(
                "unix:{}",
                self.runtime.path().join("pulse/native").display()
            ),
        );
    }

    fn pactl(&self, args: &[&str]) -> bool {
        let mut c = Command::new("pactl");
        self.env(&mut c);
        c.args(args)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success())
    }
}

impl Drop for Pulse {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Normalised cross-correlation of `b` against `a` at `lag`.
fn correlation_at(a: &[f32], b: &[f32], lag: usize, step: usize) -> f64 {
    let n = a.len().min(b.len().saturating_sub(lag));
    let (mut ab, mut aa, mut bb) = (0.0f64, 0.0f64, 0.0f64);
    for i in (0..n).step_by(step) {
        let (x, y) = (f64::from(a[i]), f64::from(b[i + lag]));
        ab += x * y;
        aa += x * x;
        bb += y * y;
    }
    ab / (aa.sqrt() * bb.sqrt()).max(1e-12)
}

/// The best normalised cross-correlation of `b` against `a` over lags `0..max_lag`: a coarse
/// search every 4 lags, then every lag around the best.
fn best_correlation(a: &[f32], b: &[f32], max_lag: usize) -> (f64, usize) {
    let max_lag = max_lag.min(b.len());
    let coarse = (0..max_lag)
        .step_by(4)
        .map(|lag| (correlation_at(a, b, lag, 3), lag))
        .fold((f64::MIN, 0), |m, x| if x.0 > m.0 { x } else { m });
    (coarse.1.saturating_sub(4)..(coarse.1 + 5).min(max_lag))
        .map(|lag| (correlation_at(a, b, lag, 1), lag))
        .fold((f64::MIN, 0), |m, x| if x.0 > m.0 { x } else { m })
}

#[test]
fn real_capture_through_pulseaudio_matches_the_source() {
    let Some(pulse) = Pulse::start() else { return };
    let jfk = common::speech_dir().join("jfk.wav");
    if !jfk.exists() {
        eprintln!("skipped: {} is missing", jfk.display());
        return;
    }
    let data = tempfile::tempdir().unwrap();
    let out_wav = data.path().join("capture.wav");
    let mut rec = Command::new(EXE);
    pulse.env(&mut rec);
    let mut rec = rec
        .arg("--data-dir")
        .arg(data.path())
        .args([
            "record",
            "--device",
            "alsa:pulse",
            "--seconds",
            "14",
            "--json",
            "--report",
            "--out",
        ])
        .arg(&out_wav)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    // Play once audio flows (a PulseAudio stream can take a second or two to start).
    let mut lines = BufReader::new(rec.stdout.take().unwrap()).lines();
    wait_captured(&mut lines, 1);
    let mut play = Command::new("paplay");
    pulse.env(&mut play);
    let played = play.args(["-d", "vnull"]).arg(&jfk).status().unwrap();
    assert!(played.success());
    let v = summary_after_reports(lines);
    let status = rec.wait().unwrap();
    assert!(status.success());
    let (_, spec, samples) = recorded(&v);
    assert_eq!(spec.sample_rate, 48_000);
    // Left channel, 48 kHz → 16 kHz: a 3-tap box filter then every third sample (the source
    // is 16 kHz, so it holds nothing above 8 kHz to alias).
    let ch = usize::from(spec.channels);
    let left: Vec<f32> = samples.iter().step_by(ch).copied().collect();
    let down: Vec<f32> = left
        .chunks_exact(3)
        .map(|c| (c[0] + c[1] + c[2]) / 3.0)
        .collect();
    let source: Vec<f32> = hound::WavReader::open(&jfk)
        .unwrap()
        .into_samples::<i16>()
        .map(|s| f32::from(s.unwrap()) / 32768.0)
        .collect();
    // Search lags up to 4 s (the recorder started 1.5 s before playback).
    let (c, lag) = best_correlation(&source, &down, 4 * 16_000);
    eprintln!("normalised cross-correlation {c:.3} at a lag of {lag} samples");
    assert!(c >= 0.9, "correlation {c:.3} at lag {lag}");
}

#[test]
fn the_device_vanishing_mid_take_leaves_a_valid_file_and_a_marked_session() {
    let Some(pulse) = Pulse::start() else { return };
    let data = tempfile::tempdir().unwrap();
    let mut rec = Command::new(EXE);
    pulse.env(&mut rec);
    let mut rec = rec
        .arg("--data-dir")
        .arg(data.path())
        .args(["record", "--device", "alsa:pulse", "--json", "--report"])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(rec.stdout.take().unwrap()).lines();
    let captured = wait_captured(&mut lines, 48_000);
    let unplugged = Instant::now();
    assert!(pulse.pactl(&["unload-module", "module-null-sink"]));
    let v = summary_after_reports(lines);
    let status = rec.wait().unwrap();
    let took = unplugged.elapsed();
    assert_eq!(
        status.code(),
        Some(1),
        "the user is told the take ended early"
    );
    assert_eq!(v["stop_reason"], "device_lost", "{v}");
    let frames = v["frames"].as_u64().unwrap();
    assert!(frames >= captured, "{frames} < {captured}");
    let (_, _, samples) = recorded(&v);
    assert_eq!(samples.len() as u64, frames * 2);
    let conn = verbatim::storage::open(&data.path().join("verbatim.db")).unwrap();
    let s = verbatim::capture::sql::list_recording_sessions(&conn, None).unwrap();
    assert_eq!(s[0].status, "complete");
    assert_eq!(
        s[0].stop_reason,
        Some(verbatim::capture::sql::StopReason::DeviceLost)
    );
    // PulseAudio (through ALSA) reports nothing when its source goes: the deliveries stop,
    // and after `DEVICE_GONE` (3 s) of nothing the device counts as gone (a shorter pause is
    // a gap and the take goes on). Then the close; the whole command, library copy included,
    // ends within a few seconds more even on a loaded machine.
    eprintln!("the recorder ended {took:?} after the device vanished");
    assert!(took < Duration::from_secs(10), "{took:?}");
}
