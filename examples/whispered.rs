//! Whispered and quiet speech among loud speech (issue 30, item 1): does the VAD drop words
//! that whisper can transcribe? `scripts/bench-whispered.sh` builds this and runs it.
//!
//! Three files are built in a work folder from the shared clips (loud speech) and sentences
//! spoken by espeak-ng's whisper voices at 0 to -21 dB, with pauses of room tone and of
//! digital silence between them: two tuning files (`en+whisper`) and a held-out file
//! (`en-gb+whisperf`, other sentences, other levels and order) that no threshold was tuned on,
//! and the 177 s long recording of the real-speech tests (no whispers: nothing may get worse).
//! Each is transcribed by `verbatim transcribe` with its defaults (VAD on), with `--no-vad`
//! (whisper hears everything), and by faster-whisper float32 and int8 without VAD when
//! `BENCH_PYTHON` names a python that has it. WER is over the whole file
//! (`verbatim::transcript::wer`); "whispered" counts the words inside the whispered
//! sentences' spans (Verbatim's JSON word times, 0.5 s slack) against those sentences.
//!
//! Environment: `BENCH_MODEL` (ggml model, default the shared tiny.en), `BENCH_THREADS`
//! (default 2), `BENCH_PYTHON`, `BENCH_VERBATIM` (the CLI, default next to this example),
//! `BENCH_OUT` (where the markdown table is written too), `BENCH_KEEP` (a folder to keep the
//! files in).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::print_stdout)]

#[allow(dead_code)] // shared with the tests, which use all of it
#[path = "../tests/common/speech.rs"]
mod speech;

use std::path::{Path, PathBuf};
use std::process::Command;

use speech::{Noise, RATE};
use verbatim::transcript::wer::{WordErrors, word_errors};

/// One part of a file.
enum Part {
    /// Shared clip `i` (of `speech::clips()`) at this gain (dB).
    Loud(usize, f32),
    /// A sentence in the set's whisper voice at this gain (dB) over espeak-ng's level.
    Whisper(&'static str, f32),
    /// A pause of this many seconds: room tone (true) or digital silence.
    Pause(f32, bool),
}

struct SetSpec {
    name: &'static str,
    voice: &'static str,
    parts: &'static [Part],
}

use Part::{Loud, Pause, Whisper};

/// Harvard sentences (IEEE 1969, public domain).
const SETS: &[SetSpec] = &[
    SetSpec {
        name: "tuning A",
        voice: "en+whisper",
        parts: &[
            Pause(1.0, true),
            Loud(0, 0.0),
            Pause(3.0, true),
            Whisper("The birch canoe slid on the smooth planks.", 0.0),
            Pause(2.0, true),
            Loud(1, 0.0),
            Pause(1.5, true),
            Whisper("Glue the sheet to the dark blue background.", -6.0),
            Pause(3.0, false),
            Loud(3, 0.0),
            Pause(4.0, true),
            Whisper("It is easy to tell the depth of a well.", -12.0),
            Pause(2.0, true),
            Loud(4, -6.0),
            Pause(2.0, true),
            Whisper("These days a chicken leg is a rare dish.", -20.0),
            Pause(2.0, true),
        ],
    },
    SetSpec {
        name: "tuning B",
        voice: "en+whisper",
        parts: &[
            Pause(0.5, true),
            Loud(2, 0.0),
            Pause(1.0, true),
            Whisper("Rice is often served in round bowls.", -3.0),
            Pause(2.0, true),
            Whisper("The juice of lemons makes fine punch.", -10.0),
            Pause(5.0, true),
            Loud(5, 0.0),
            Pause(2.5, true),
            Whisper("The box was thrown beside the parked truck.", -16.0),
            Pause(2.0, true),
        ],
    },
    SetSpec {
        name: "held-out",
        voice: "en-gb+whisperf",
        parts: &[
            Pause(1.5, true),
            Loud(5, 0.0),
            Pause(2.0, true),
            Whisper("The hogs were fed chopped corn and garbage.", -4.0),
            Pause(3.0, true),
            Loud(0, -6.0),
            Pause(1.2, true),
            Whisper("Four hours of steady work faced us.", -9.0),
            Pause(2.5, false),
            Loud(1, 0.0),
            Pause(6.0, true),
            Whisper("A large size in stockings is hard to sell.", -15.0),
            Pause(1.5, true),
            Whisper("The boy was there when the sun rose.", -21.0),
            Pause(2.0, true),
        ],
    },
];

/// A built file: its path, its whole reference, and each whispered sentence's span (ms).
struct Built {
    name: &'static str,
    path: PathBuf,
    seconds: f64,
    reference: String,
    whispered: Vec<(u64, u64, &'static str)>,
}

fn env_or(key: &str, default: &str) -> String {
    std::env::var(key).unwrap_or_else(|_| default.to_string())
}

/// espeak-ng saying `sentence` in `voice`, at 16 kHz (the app's own decoder resamples).
fn speak(dir: &Path, voice: &str, sentence: &str, n: usize) -> Vec<f32> {
    let path = dir.join(format!("espeak-{n}.wav"));
    let o = Command::new("espeak-ng")
        .args(["-v", voice, "-s", "150", "-w"])
        .arg(&path)
        .arg(sentence)
        .output()
        .expect("espeak-ng (scripts/system-packages.sh test installs it)");
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    verbatim::media::decode::read_all(&path).unwrap()
}

fn build(dir: &Path, spec: &SetSpec, seed: u64) -> Built {
    let clips = speech::clips();
    let mut noise = Noise::new(seed);
    let ms = |n: usize| n as u64 * 1000 / u64::from(RATE);
    let gain = |db: f32| 10f32.powf(db / 20.0);
    let (mut out, mut reference, mut whispered) = (Vec::<f32>::new(), Vec::new(), Vec::new());
    for (n, part) in spec.parts.iter().enumerate() {
        match *part {
            Loud(i, db) => {
                let clip = &clips[i];
                out.extend(speech::read_wav(&clip.path).iter().map(|s| s * gain(db)));
                reference.push(clip.reference.clone());
            }
            Whisper(sentence, db) => {
                let start = out.len();
                let voice = speak(dir, spec.voice, sentence, n);
                out.extend(voice.iter().map(|s| s * gain(db)));
                whispered.push((ms(start), ms(out.len()), sentence));
                reference.push(sentence.to_string());
            }
            Pause(s, tone) => {
                let k = (s * RATE as f32) as usize;
                if tone {
                    out.extend(speech::room_tone(k, &mut noise));
                } else {
                    out.resize(out.len() + k, 0.0);
                }
            }
        }
    }
    let path = dir.join(format!("{}.wav", spec.name.replace(' ', "-")));
    speech::write_wav(&path, &out);
    Built {
        name: spec.name,
        path,
        seconds: out.len() as f64 / f64::from(RATE),
        reference: reference.join(" "),
        whispered,
    }
}

/// What one tool heard on one file: the text, and the words with times when it gives them.
struct Heard {
    text: String,
    words: Option<Vec<(u64, u64, String)>>,
}

fn verbatim_exe() -> PathBuf {
    if let Ok(p) = std::env::var("BENCH_VERBATIM") {
        return PathBuf::from(p);
    }
    let exe = std::env::current_exe().unwrap();
    exe.parent().unwrap().parent().unwrap().join("verbatim")
}

fn verbatim(file: &Path, model: &Path, threads: &str, extra: &[&str], work: &Path) -> Heard {
    let home = work.join(format!("home-{}", extra.join("")));
    let _ = std::fs::remove_dir_all(&home);
    let out = home.join("out");
    let o = Command::new(verbatim_exe())
        .arg("--data-dir")
        .arg(&home)
        .arg("transcribe")
        .arg(file)
        .arg("--model")
        .arg(model)
        .args(["--threads", threads, "--export", "json", "--out"])
        .arg(&out)
        .args(extra)
        .env("VERBATIM_HOME", &home)
        .output()
        .unwrap();
    assert!(
        o.status.success(),
        "verbatim failed: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    let stem = file.file_stem().unwrap().to_string_lossy();
    let doc: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join(format!("{stem}.json"))).unwrap())
            .unwrap();
    let segments = doc["segments"].as_array().cloned().unwrap_or_default();
    let text = segments
        .iter()
        .filter_map(|s| s["text"].as_str())
        .collect::<Vec<_>>()
        .join(" ");
    let words = speech::json_words(&doc);
    Heard {
        text,
        words: Some(words),
    }
}

fn faster(
    python: &str,
    compute: &str,
    threads: &str,
    files: &[PathBuf],
    work: &Path,
) -> Vec<Heard> {
    let threads = threads.parse().unwrap_or(2);
    let out = work.join(format!("fw-{compute}.json"));
    speech::faster_whisper(python, compute, threads, files, &out)
        .into_iter()
        .map(|text| Heard { text, words: None })
        .collect()
}

/// The words inside the whispered spans against the whispered sentences.
fn whispered_errors(built: &Built, words: &[(u64, u64, String)]) -> WordErrors {
    built
        .whispered
        .iter()
        .map(|&(a, b, sentence)| word_errors(sentence, &speech::words_within(words, a, b)))
        .fold(WordErrors::default(), |x, y| x + y)
}

/// One file's errors for one tool: the whole file, and the whispered spans when timed.
type Cell = (WordErrors, Option<WordErrors>);

fn pct(e: WordErrors) -> String {
    format!("{:.1} %", e.rate() * 100.0)
}

fn main() {
    let model = std::env::var("BENCH_MODEL").map_or_else(
        |_| speech::shared_data().join("models/tiny.en-ggml.bin"),
        PathBuf::from,
    );
    let threads = env_or("BENCH_THREADS", "2");
    let keep = std::env::var("BENCH_KEEP").ok().map(PathBuf::from);
    let temp = tempfile::tempdir().unwrap();
    let work = keep.clone().unwrap_or_else(|| temp.path().to_path_buf());
    std::fs::create_dir_all(&work).unwrap();
    let mut built: Vec<Built> = SETS
        .iter()
        .enumerate()
        .map(|(i, s)| build(&work, s, 11 + i as u64))
        .collect();
    // The long recording of the real-speech tests (no whispers): what the second look must
    // leave as it is.
    let long = speech::long_file(&work);
    built.push(Built {
        name: "long recording",
        path: long.path.clone(),
        seconds: long.duration_ms as f64 / 1000.0,
        reference: long
            .placed
            .iter()
            .map(|p| p.reference.as_str())
            .collect::<Vec<_>>()
            .join(" "),
        whispered: Vec::new(),
    });

    let mut rows: Vec<(String, Vec<Cell>)> = Vec::new();
    for (label, extra) in [
        ("Verbatim (VAD on, default)", &[][..]),
        ("Verbatim --no-vad", &["--no-vad"][..]),
    ] {
        let mut cells = Vec::new();
        for b in &built {
            let heard = verbatim(&b.path, &model, &threads, extra, &work);
            eprintln!("{label} / {}: {}", b.name, heard.text);
            let e = word_errors(&b.reference, &heard.text);
            cells.push((e, heard.words.as_ref().map(|w| whispered_errors(b, w))));
        }
        rows.push((label.to_string(), cells));
    }
    if let Ok(python) = std::env::var("BENCH_PYTHON") {
        let files: Vec<PathBuf> = built.iter().map(|b| b.path.clone()).collect();
        for compute in ["float32", "int8"] {
            let heard = faster(&python, compute, &threads, &files, &work);
            let cells = built
                .iter()
                .zip(&heard)
                .map(|(b, h)| {
                    eprintln!("faster-whisper {compute} / {}: {}", b.name, h.text);
                    (word_errors(&b.reference, &h.text), None)
                })
                .collect();
            rows.push((format!("faster-whisper {compute}, no VAD"), cells));
        }
    }

    let mut table = format!(
        "{}, {threads} threads; WER over the whole file (whispered: over the whispered sentences' spans)\n\n| tool |",
        model.file_name().unwrap().to_string_lossy()
    );
    for b in &built {
        table += &format!(
            " {} ({:.0} s, {} whispered) |",
            b.name,
            b.seconds,
            b.whispered.len()
        );
    }
    table += "\n|---|";
    table += &"---:|".repeat(built.len());
    table += "\n";
    for (label, cells) in &rows {
        table += &format!("| {label} |");
        for (e, w) in cells {
            match w {
                Some(w) if w.reference_words > 0 => {
                    table += &format!(" {} (whispered {}) |", pct(*e), pct(*w));
                }
                _ => table += &format!(" {} |", pct(*e)),
            }
        }
        table += "\n";
    }
    println!("{table}");
    if let Ok(out) = std::env::var("BENCH_OUT") {
        std::fs::write(out, &table).unwrap();
    }
}
