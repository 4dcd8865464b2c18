//! GUI smoke test: the real window, under Xvfb in `make test`, with a screenshot taken through
//! Bevy's screenshot API. The picture is kept in `target/test-artifacts/gui-library.png`.
#![allow(clippy::unwrap_used, clippy::expect_used)] // tests fail loudly by design

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

fn artifacts() -> PathBuf {
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("../test-artifacts");
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// Opens the window with `args` and `--screenshot`, checks it exited cleanly and saved a PNG
/// named `name` in the artifacts; returns its path, bytes and the app's log.
fn screenshot(data: &Path, args: &[&str], name: &str) -> (PathBuf, Vec<u8>, String) {
    let shot = artifacts().join(name);
    let _ = std::fs::remove_file(&shot);
    let out = Command::new(env!("CARGO_BIN_EXE_verbatim"))
        .arg("--data-dir")
        .arg(data)
        .args(args)
        .arg("--screenshot")
        .arg(&shot)
        .output()
        .unwrap();
    let log = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(
        out.status.success(),
        "the window failed ({}):\n{log}",
        out.status
    );
    let png = std::fs::read(&shot).unwrap();
    assert!(png.starts_with(b"\x89PNG"), "not a PNG");
    (shot, png, log)
}

/// Copies a model file into a library's models folder as `name`.
fn install_model(data: &Path, model: &Path, name: &str) {
    let models = data.join("models");
    std::fs::create_dir_all(&models).unwrap();
    std::fs::copy(model, models.join(name)).unwrap();
}

/// A new library with the voice activity model in its models folder.
fn library_with_vad() -> tempfile::TempDir {
    let data = tempfile::tempdir().unwrap();
    install_model(
        data.path(),
        &common::whisper::vad_model(),
        "ggml-silero-v6.2.0.bin",
    );
    data
}

/// True (with the reason printed) when no window can open here.
fn no_display() -> bool {
    let none =
        std::env::var_os("DISPLAY").is_none() && std::env::var_os("WAYLAND_DISPLAY").is_none();
    if none {
        eprintln!(
            "skipped: no display. `make test` runs the suite under Xvfb; or run `xvfb-run -a cargo test --test gui`"
        );
    }
    none
}

#[test]
fn window_opens_and_shows_the_library() {
    if no_display() {
        return;
    }
    let exe = env!("CARGO_BIN_EXE_verbatim");
    let data = tempfile::tempdir().unwrap();
    let mut files = vec![
        common::fixture("jfk-1s.flac"),
        common::fixture("tone-stereo-44k.ogg"),
    ];
    let speech = common::speech_dir();
    if speech.exists() {
        files.push(speech.join("jfk.wav"));
        files.push(speech.join("sense_and_sensibility_01_austen_64kb-0870.wav"));
    }
    let status = Command::new(exe)
        .arg("--data-dir")
        .arg(data.path())
        .arg("import")
        .args(&files)
        .status()
        .unwrap();
    assert!(status.success());

    let (shot, png, _) = screenshot(data.path(), &[], "gui-library.png");
    assert!(
        png.len() > 10_000,
        "suspiciously small screenshot ({} bytes)",
        png.len()
    );
    eprintln!("screenshot: {}", shot.display());
}

/// Issue 15, a first run that works and settings that stay: a library whose models folder
/// holds tiny.en but not the default `base` starts with tiny.en chosen (and keeps that
/// choice in `settings.json`); settings written there are applied at the next start (the
/// window writes nothing back when nothing differs); a damaged file is set aside and the
/// window still opens.
#[test]
fn a_first_run_picks_an_installed_model_and_the_settings_stay() {
    if no_display() {
        return;
    }
    let data = tempfile::tempdir().unwrap();
    install_model(
        data.path(),
        &common::whisper::synthetic_model(),
        "ggml-tiny.en.bin",
    );
    let file = data.path().join("settings.json");
    screenshot(data.path(), &[], "gui-first-run.png");
    let kept: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&file).unwrap()).unwrap();
    assert_eq!(kept["model"], "tiny.en", "{kept}");

    let chosen = serde_json::json!({
        "model": "tiny.en",
        "gpu": "off",
        "use_vocabulary": true,
        "live": true,
        "input_device": "pulse",
        "last_transcript": 99,
        "library_hidden": true,
        "jobs_list_shown": false,
        "ui_zoom": 1.25,
        "last_folder": "/home/me/talks",
        "no_follow": true,
        "window_size": [1400, 900],
        "library_width": 300.0
    });
    let text = serde_json::to_string_pretty(&chosen).unwrap();
    std::fs::write(&file, &text).unwrap();
    let (_, png, _) = screenshot(data.path(), &[], "gui-settings-kept.png");
    assert_eq!(
        png_size(&png),
        (1400, 900),
        "the window opened at its kept size"
    );
    let after: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&file).unwrap()).unwrap();
    assert_eq!(after, chosen, "every setting was applied, so none changed");

    std::fs::write(&file, "{ damaged").unwrap();
    let (_, _, log) = screenshot(data.path(), &[], "gui-settings-damaged.png");
    assert!(log.contains("set aside"), "{log}");
    assert!(data.path().join("settings.json.bad").is_file());
}

#[test]
fn the_recorder_panel_shows_a_sweep_being_recorded() {
    if no_display() {
        return;
    }
    let data = tempfile::tempdir().unwrap();
    // Records the fake sweep from launch; the shot is taken after 3 s of it.
    let (shot, _, log) = screenshot(
        data.path(),
        &["--record-at-start", "fake:sweep"],
        "gui-recorder.png",
    );
    // The spectrogram alone brings hundreds of colours; a panel without it has far fewer.
    assert!(log.contains("distinct colours"), "{log}");
    let colours: usize = log
        .split("screenshot saved")
        .nth(1)
        .and_then(|s| s.split('(').nth(1))
        .and_then(|s| s.split(' ').next())
        .and_then(|n| n.parse().ok())
        .unwrap();
    assert!(
        colours > 1000,
        "{colours} colours: is the spectrogram drawn?"
    );
    // Closing the window closed the take and stored it before the database stopped.
    let conn = verbatim::storage::open(&data.path().join("verbatim.db")).unwrap();
    let sessions = verbatim::capture::sql::list_recording_sessions(&conn, None).unwrap();
    assert_eq!(sessions.len(), 1);
    assert_eq!(sessions[0].status, "complete");
    assert!(sessions[0].audio_file_id.is_some());
    eprintln!("screenshot: {}", shot.display());
}

#[test]
fn live_transcript_appears_while_recording_speech() {
    if no_display() {
        return;
    }
    let data = library_with_vad();
    let jfk = common::speech_dir().join("jfk.wav");
    let model = common::whisper::synthetic_model();
    // The shot waits for the first live window's text (the app fails if it never comes).
    let (shot, _, log) = screenshot(
        data.path(),
        &[
            "--model",
            model.to_str().unwrap(),
            "--live",
            "--record-at-start",
            &format!("fake:clip:{}", jfk.display()),
        ],
        "gui-live.png",
    );
    assert!(log.contains("screenshot saved"), "{log}");
    eprintln!("screenshot: {}", shot.display());
}

#[test]
fn the_editor_and_the_compare_view_with_a_real_clip() {
    if no_display() {
        return;
    }
    let data = tempfile::tempdir().unwrap();
    let run = |args: &[&str]| {
        let out = Command::new(env!("CARGO_BIN_EXE_verbatim"))
            .arg("--data-dir")
            .arg(data.path())
            .args(args)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    };
    let jfk = common::speech_dir().join("jfk.wav");
    let model = common::whisper::synthetic_model();
    run(&[
        "transcribe",
        jfk.to_str().unwrap(),
        "--model",
        model.to_str().unwrap(),
        "--no-vad",
    ]);
    let srt = data.path().join("v2.srt");
    std::fs::write(&srt, "1\n00:00:00,320 --> 00:00:02,270\nAnd so, my fellow Americans,\n\n2\n00:00:03,270 --> 00:00:04,410\nask not\n\n3\n00:00:05,380 --> 00:00:07,680\nwhat your country can do for you,\n\n4\n00:00:08,160 --> 00:00:10,620\nask what you can do for your country.\n").unwrap();
    run(&["import", srt.to_str().unwrap(), "--transcript", "1"]);
    let srt = data.path().join("v3.srt");
    std::fs::write(&srt, "1\n00:00:00,300 --> 00:00:02,270\nAnd so, my fellow citizens,\n\n2\n00:00:03,270 --> 00:00:04,410\nask not\n\n3\n00:00:05,380 --> 00:00:07,680\nwhat your country can do for you —\n\n4\n00:00:08,160 --> 00:00:10,620\nask what you can do for your country.\n").unwrap();
    run(&["import", srt.to_str().unwrap(), "--transcript", "1"]);
    // The shots wait for the editor (and its waveform), then for the comparison.
    let (shot, _, _) = screenshot(data.path(), &["--open-transcript", "1"], "gui-editor.png");
    eprintln!("screenshot: {}", shot.display());
    let (shot, _, _) = screenshot(
        data.path(),
        &["--open-transcript", "1", "--compare", "2:3"],
        "gui-compare.png",
    );
    eprintln!("screenshot: {}", shot.display());
}

/// Issue 15: a finished take goes straight to the editor. Four seconds of a clip recorded
/// with live captions on; the shot waits until the editor has the take's transcript (the
/// window fails if it never gets it), and that transcript is the take's live draft.
#[test]
fn a_finished_take_is_handed_to_the_editor() {
    if no_display() {
        return;
    }
    let data = library_with_vad();
    let jfk = common::speech_dir().join("jfk.wav");
    // Real words, so the live draft has text to become a version.
    let Some(model) = common::speech::real_model_or_skip() else {
        return;
    };
    let (shot, _, log) = screenshot(
        data.path(),
        &[
            "--model",
            model.to_str().unwrap(),
            "--live",
            "--record-at-start",
            &format!("fake:clip:{}", jfk.display()),
            "--record-seconds",
            "4",
        ],
        "gui-hand-over.png",
    );
    assert!(log.contains("screenshot saved"), "{log}");
    let conn = verbatim::storage::open(&data.path().join("verbatim.db")).unwrap();
    let (source, audio): (String, i64) = conn
        .query_row(
            "SELECT v.source, t.audio_file_id FROM transcript_versions v JOIN transcripts t \
             ON t.id = v.transcript_id WHERE v.number = 1",
            [],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .unwrap();
    assert_eq!(source, "live", "version 1 is the live draft");
    let take: Option<i64> = conn
        .query_row("SELECT audio_file_id FROM recording_sessions", [], |r| {
            r.get(0)
        })
        .unwrap();
    assert_eq!(take, Some(audio), "the transcript is the take's");
    eprintln!("screenshot: {}", shot.display());
}

/// Issue 15: the window at 1280×800 and at 1920×1080 with a transcript open, and zoomed in
/// to 2 s of it: each shot has the window's size (the panels' own tests check that rows wrap
/// rather than cut controls off).
#[test]
fn the_editor_lays_out_at_1280x800_and_1920x1080() {
    if no_display() {
        return;
    }
    let data = tempfile::tempdir().unwrap();
    let jfk = common::speech_dir().join("jfk.wav");
    let model = common::whisper::synthetic_model();
    let o = common::verbatim(
        data.path(),
        &[
            "transcribe",
            jfk.to_str().unwrap(),
            "--model",
            model.to_str().unwrap(),
            "--no-vad",
        ],
    );
    assert!(o.status.success(), "{}", common::text(&o));
    for (size, view, name) in [
        ("1280x800", None, "gui-editor-1280x800.png"),
        ("1920x1080", None, "gui-editor-1920x1080.png"),
        ("1280x800", Some("7000:2000"), "gui-editor-zoomed.png"),
    ] {
        let mut args = vec!["--open-transcript", "1", "--window-size", size];
        if let Some(v) = view {
            args.extend(["--timeline-view", v]);
        }
        let (shot, png, _) = screenshot(data.path(), &args, name);
        let (w, h) = png_size(&png);
        let (ew, eh) = size.split_once('x').unwrap();
        assert_eq!(
            (w.to_string(), h.to_string()),
            (ew.to_string(), eh.to_string()),
            "{name}"
        );
        eprintln!("screenshot: {}", shot.display());
    }
}

/// A PNG's width and height (its IHDR chunk).
fn png_size(png: &[u8]) -> (u32, u32) {
    let be = |b: &[u8]| u32::from_be_bytes([b[0], b[1], b[2], b[3]]);
    (be(&png[16..20]), be(&png[20..24]))
}

#[test]
fn without_a_display_the_app_says_so_and_points_to_the_cli() {
    let exe = env!("CARGO_BIN_EXE_verbatim");
    let data = tempfile::tempdir().unwrap();
    let out = Command::new(exe)
        .arg("--data-dir")
        .arg(data.path())
        .env_remove("DISPLAY")
        .env_remove("WAYLAND_DISPLAY")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("no display found") && err.contains("verbatim import"),
        "{err}"
    );
}

#[test]
fn devices_lists_inputs_as_json_even_without_a_sound_card() {
    let out = Command::new(env!("CARGO_BIN_EXE_verbatim"))
        .args(["devices", "--json"])
        .env("VERBATIM_HOME", tempfile::tempdir().unwrap().path())
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    for d in v.as_array().unwrap() {
        assert!(
            d["id"].as_str().unwrap().contains(':'),
            "ids are host:device: {d}"
        );
    }
}

/// The frames the window has run and its process id, from its `--frame-log` (`None` until
/// the library is shown).
fn frames_run(log: &Path) -> Option<(u64, u32)> {
    let text = std::fs::read_to_string(log).ok()?;
    let mut fields = text.split_whitespace();
    let frames = fields.next()?.parse().ok()?;
    let loaded = fields.next()? == "true";
    let pid = fields.next()?.parse().ok()?;
    loaded.then_some((frames, pid))
}

/// CPU seconds a process has used (user + system), from /proc.
fn cpu_seconds(pid: u32) -> f64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap();
    // The fields after the command name (which is in parentheses and may hold spaces).
    let fields: Vec<&str> = stat[stat.rfind(')').unwrap() + 2..].split(' ').collect();
    let ticks: f64 = fields[11].parse::<f64>().unwrap() + fields[12].parse::<f64>().unwrap();
    let hz = Command::new("getconf")
        .arg("CLK_TCK")
        .output()
        .ok()
        .and_then(|o| {
            String::from_utf8_lossy(&o.stdout)
                .trim()
                .parse::<f64>()
                .ok()
        })
        .unwrap_or(100.0);
    ticks / hz
}

#[test]
fn the_idle_window_renders_no_frames_and_sleeps() {
    use std::time::{Duration, Instant};
    if no_display() {
        return;
    }
    let exe = env!("CARGO_BIN_EXE_verbatim");
    let data = tempfile::tempdir().unwrap();
    let status = Command::new(exe)
        .arg("--data-dir")
        .arg(data.path())
        .arg("import")
        .arg(common::fixture("jfk-1s.flac"))
        .status()
        .unwrap();
    assert!(status.success());
    let log = data.path().join("frames.txt");
    // A display of its own where xvfb-run is there: the other tests' windows opening and
    // closing on a shared one send this window events, and events rightly wake it.
    let own_display = Command::new("xvfb-run")
        .arg("--help")
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .status()
        .is_ok();
    let mut command = if own_display {
        let mut c = Command::new("xvfb-run");
        c.args(["-a", "-s", "-screen 0 1280x800x24"]).arg(exe);
        c
    } else {
        Command::new(exe)
    };
    let mut app = command
        .arg("--data-dir")
        .arg(data.path())
        .arg("--frame-log")
        .arg(&log)
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let started = Instant::now();
    // The window first, so xvfb-run (when used) ends and takes its X server with it.
    let stop = |app: &mut std::process::Child, pid: Option<u32>| {
        if let Some(pid) = pid {
            let _ = Command::new("kill").arg(pid.to_string()).status();
            let asked = Instant::now();
            while app.try_wait().ok().flatten().is_none()
                && asked.elapsed() < Duration::from_secs(10)
            {
                std::thread::sleep(Duration::from_millis(50));
            }
        }
        let _ = app.kill();
        let _ = app.wait();
    };
    let mut last = None;
    let mut steady_since = Instant::now();
    // Wait for the library, then for the start-up frames (device listing, fonts) to end.
    let (f0, pid) = loop {
        let now = frames_run(&log);
        if now != last {
            last = now;
            steady_since = Instant::now();
        }
        if let Some(seen) = last
            && steady_since.elapsed() > Duration::from_millis(1500)
        {
            break seen;
        }
        if started.elapsed() > Duration::from_secs(60) {
            stop(&mut app, last.map(|(_, p)| p));
            panic!("the library was not shown, or frames never stopped, within 60 s: {last:?}");
        }
        std::thread::sleep(Duration::from_millis(100));
    };
    let idle = Duration::from_secs(8);
    let c0 = cpu_seconds(pid);
    std::thread::sleep(idle);
    let (f1, _) = frames_run(&log).unwrap();
    let c1 = cpu_seconds(pid);
    let alive = app.try_wait().unwrap().is_none();
    stop(&mut app, Some(pid));
    assert!(alive, "the window exited by itself");
    let frames = f1 - f0;
    let share = (c1 - c0) / idle.as_secs_f64();
    eprintln!(
        "idle window: {frames} frames and {:.2} % of a core in {} s",
        share * 100.0,
        idle.as_secs()
    );
    // At rest the window only wakes for its 5 s timer (at most two frames in 8 s).
    assert!(
        frames <= 3,
        "{frames} frames rendered in {idle:?} of idling"
    );
    assert!(
        share < 0.02,
        "the idle window used {:.1} % of a core",
        share * 100.0
    );
}

/// Bevy's system-order ambiguity check over the window app's schedules (the headless frame
/// has its own in `tests/ecs.rs`): no Verbatim system touches data another system touches in
/// an undefined order. It found `close_takes_on_exit` racing the window's exit check.
#[test]
fn the_window_app_has_no_system_order_ambiguities() {
    if no_display() {
        return;
    }
    let data = tempfile::tempdir().unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_verbatim"))
        .arg("--data-dir")
        .arg(data.path())
        .arg("--check-schedules")
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success() && stdout.contains("0 ambiguous pairs"),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
}
