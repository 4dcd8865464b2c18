//! Import: every supported format, dedup, and every kind of bad input.
#![allow(clippy::unwrap_used, clippy::expect_used)] // tests fail loudly by design

mod common;

use std::path::Path;

use common::{files_under, fixture, speech_dir, write_wav};
use rusqlite::Connection;
use verbatim::library;
use verbatim::library::import::{self, AudioStore, ImportError, Imported};
use verbatim::media::{ProbeError, ProbeLimits};
use verbatim::storage::writer::{apply_batch, command};
use verbatim::storage::{self};

struct Lib {
    dir: tempfile::TempDir,
    store: AudioStore,
    conn: Connection,
}

impl Lib {
    fn new() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let store = AudioStore::new(dir.path().join("data"));
        let conn = storage::open(&dir.path().join("data/verbatim.db")).unwrap();
        Self { dir, store, conn }
    }

    fn import(&mut self, path: &Path) -> Result<Imported, ImportError> {
        self.import_with(path, &ProbeLimits::default())
    }

    fn import_with(&mut self, path: &Path, limits: &ProbeLimits) -> Result<Imported, ImportError> {
        let staged = import::stage(path, &self.store, limits)?;
        assert!(staged.staged_path().exists());
        let (tx, rx) = std::sync::mpsc::channel();
        let store = self.store.clone();
        apply_batch(
            &mut self.conn,
            vec![command(
                move |c, effects| import::commit_in(c, &store, staged, effects),
                move |r| tx.send(r).unwrap(),
            )],
        );
        rx.recv().unwrap()
    }

    fn stored_files(&self) -> Vec<std::path::PathBuf> {
        files_under(&self.store.data_dir().join("audio"))
    }

    fn rows(&self) -> usize {
        library::sql::list_audio_files(&self.conn).unwrap().len()
    }

    fn tmp(&self, name: &str) -> std::path::PathBuf {
        self.dir.path().join(name)
    }
}

fn check_stored(lib: &Lib, imported: &Imported, source: &Path) {
    let stored = lib.store.absolute(&imported.row.stored_path);
    let bytes = std::fs::read(&stored).unwrap();
    assert_eq!(
        bytes,
        std::fs::read(source).unwrap(),
        "the stored copy is the source byte for byte"
    );
    use sha2::Digest;
    assert_eq!(
        format!("{:x}", sha2::Sha256::digest(&bytes)),
        imported.row.sha256
    );
    assert!(imported.row.stored_path.contains(&imported.row.sha256));
}

#[test]
fn imports_wav_in_several_sample_formats() {
    let mut lib = Lib::new();
    for (name, rate, ch, bits, float) in [
        ("s16-mono-16k.wav", 16000, 1, 16, false),
        ("s24-stereo-48k.wav", 48000, 2, 24, false),
        ("f32-stereo-44k.wav", 44100, 2, 32, true),
    ] {
        let path = lib.tmp(name);
        write_wav(&path, rate, ch, bits, float, 1.25);
        let got = lib.import(&path).unwrap();
        assert!(got.created);
        let r = &got.row;
        assert_eq!(
            (r.container.as_str(), r.sample_rate, r.channels),
            ("wav", rate, ch),
            "{name}"
        );
        assert_eq!(r.duration_ms, 1250, "{name}");
        assert!(r.codec.starts_with("pcm"), "{name}: {}", r.codec);
        assert_eq!(r.original_name, name);
        check_stored(&lib, &got, &path);
    }
    assert_eq!(lib.rows(), 3);
}

#[test]
fn imports_flac_mp3_and_ogg_vorbis() {
    let mut lib = Lib::new();
    for (name, container, codec, rate, ch, ms) in [
        ("jfk-1s.flac", "flac", "flac", 16000, 1, 1000),
        ("jfk-1s.mp3", "mp3", "mp3", 16000, 1, 1000),
        ("jfk-1s.ogg", "ogg", "vorbis", 16000, 1, 1000),
        ("tone-stereo-44k.ogg", "ogg", "vorbis", 44100, 2, 500),
    ] {
        let got = lib
            .import(&fixture(name))
            .unwrap_or_else(|e| panic!("{name}: {e}"));
        let r = &got.row;
        assert_eq!(r.container, container, "{name}");
        assert_eq!(r.codec, codec, "{name}");
        assert_eq!((r.sample_rate, r.channels), (rate, ch), "{name}");
        // Lossy codecs pad the last frame; within 60 ms of the true length.
        assert!(
            r.duration_ms.abs_diff(ms) <= 60,
            "{name}: {} ms",
            r.duration_ms
        );
        let ext = Path::new(&r.stored_path)
            .extension()
            .unwrap()
            .to_str()
            .unwrap();
        assert_eq!(
            ext,
            Path::new(name).extension().unwrap().to_str().unwrap(),
            "{name}"
        );
        check_stored(&lib, &got, &fixture(name));
    }
}

#[test]
fn imports_the_real_speech_clips() {
    let dir = speech_dir();
    if !dir.exists() {
        eprintln!(
            "skipped: {} not found (the shared speech clips)",
            dir.display()
        );
        return;
    }
    let mut lib = Lib::new();
    let got = lib.import(&dir.join("jfk.wav")).unwrap();
    assert_eq!(got.row.duration_ms, 11000);
    assert_eq!(
        got.row.sha256,
        "59dfb9a4acb36fe2a2affc14bacbee2920ff435cb13cc314a08c13f66ba7860e"
    );
    let got = lib
        .import(&dir.join("sense_and_sensibility_01_austen_64kb-0880.wav"))
        .unwrap();
    assert!(
        got.row.duration_ms.abs_diff(2990) <= 10,
        "{}",
        got.row.duration_ms
    );
}

#[test]
fn importing_the_same_content_twice_returns_the_existing_entry() {
    let mut lib = Lib::new();
    let first = lib.import(&fixture("jfk-1s.flac")).unwrap();
    let copy = lib.tmp("another name.flac");
    std::fs::copy(fixture("jfk-1s.flac"), &copy).unwrap();
    let second = lib.import(&copy).unwrap();
    assert!(!second.created);
    assert_eq!(first.row, second.row);
    assert_eq!(lib.rows(), 1);
    assert_eq!(
        lib.stored_files().len(),
        1,
        "one stored copy, no staged leftovers: {:?}",
        lib.stored_files()
    );
}

/// Imports `path` expecting an error; checks that nothing was written.
fn refused(lib: &mut Lib, path: &Path) -> ImportError {
    let before = lib.rows();
    let err = lib.import(path).expect_err("should be refused");
    assert_eq!(lib.rows(), before, "no row for {}", path.display());
    assert!(
        lib.stored_files().is_empty(),
        "nothing stored or staged for {}: {:?}",
        path.display(),
        lib.stored_files()
    );
    err
}

#[test]
fn refuses_missing_paths_directories_and_empty_files() {
    let mut lib = Lib::new();
    let missing = lib.tmp("nope.wav");
    assert_eq!(
        refused(&mut lib, &missing),
        ImportError::Probe(ProbeError::NotFound)
    );
    let d = lib.tmp("a-directory.wav");
    std::fs::create_dir(&d).unwrap();
    assert_eq!(
        refused(&mut lib, &d),
        ImportError::Probe(ProbeError::IsDirectory)
    );
    let e = lib.tmp("empty.wav");
    std::fs::write(&e, b"").unwrap();
    assert_eq!(refused(&mut lib, &e), ImportError::Probe(ProbeError::Empty));
}

#[test]
fn refuses_unsupported_files() {
    let mut lib = Lib::new();
    let txt = lib.tmp("notes.txt");
    std::fs::write(&txt, "this is a text file, not audio\n".repeat(100)).unwrap();
    let err = refused(&mut lib, &txt);
    assert!(
        matches!(err, ImportError::Probe(ProbeError::Unsupported(_))),
        "{err}"
    );
    assert!(err.to_string().starts_with("unsupported format"), "{err}");

    let png = lib.tmp("picture.png");
    std::fs::write(
        &png,
        b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR\0\0\0\x01\0\0\0\x01\x08\x06\0\0\0\x1f\x15\xc4\x89",
    )
    .unwrap();
    assert!(matches!(
        refused(&mut lib, &png),
        ImportError::Probe(ProbeError::Unsupported(_))
    ));

    // Random bytes dressed up as a WAV.
    let noise = lib.tmp("noise.wav");
    let bytes: Vec<u8> = (0..4096u32)
        .map(|i| (i.wrapping_mul(2654435761) >> 13) as u8)
        .collect();
    std::fs::write(&noise, bytes).unwrap();
    refused(&mut lib, &noise);
}

#[test]
fn refuses_truncated_files() {
    let mut lib = Lib::new();
    let wav = lib.tmp("cut.wav");
    write_wav(&wav, 16000, 1, 16, false, 2.0);
    let len = std::fs::metadata(&wav).unwrap().len();
    let f = std::fs::OpenOptions::new().write(true).open(&wav).unwrap();
    f.set_len(len / 2).unwrap();
    drop(f);
    let err = refused(&mut lib, &wav);
    assert!(
        matches!(
            err,
            ImportError::Probe(ProbeError::Truncated {
                expected: 32000,
                ..
            })
        ),
        "{err}"
    );
    assert!(err.to_string().contains("truncated"), "{err}");

    // A header with no audio after it.
    let header_only = lib.tmp("header-only.wav");
    std::fs::write(
        &header_only,
        &std::fs::read(lib.tmp("cut.wav")).unwrap()[..44],
    )
    .unwrap();
    refused(&mut lib, &header_only);

    let flac = std::fs::read(fixture("jfk-1s.flac")).unwrap();
    let cut = lib.tmp("cut.flac");
    std::fs::write(&cut, &flac[..flac.len() / 2]).unwrap();
    let err = refused(&mut lib, &cut);
    assert!(
        matches!(
            err,
            ImportError::Probe(ProbeError::Truncated { .. } | ProbeError::Corrupt(_))
        ),
        "{err}"
    );
}

#[test]
fn refuses_corrupt_files() {
    let mut lib = Lib::new();
    // Damage the middle of a FLAC stream: its frames fail their CRCs.
    let mut flac = std::fs::read(fixture("jfk-1s.flac")).unwrap();
    let n = flac.len();
    for b in &mut flac[n / 4..n - 64] {
        *b ^= 0x5a;
    }
    let bad = lib.tmp("damaged.flac");
    std::fs::write(&bad, flac).unwrap();
    let err = refused(&mut lib, &bad);
    assert!(
        matches!(
            err,
            ImportError::Probe(ProbeError::Corrupt(_) | ProbeError::Truncated { .. })
        ),
        "{err}"
    );

    // An Ogg file whose pages are garbage after the first ones.
    let mut ogg = std::fs::read(fixture("jfk-1s.ogg")).unwrap();
    let n = ogg.len();
    for b in &mut ogg[200..n] {
        *b = b.wrapping_mul(31).wrapping_add(7);
    }
    let bad = lib.tmp("damaged.ogg");
    std::fs::write(&bad, ogg).unwrap();
    refused(&mut lib, &bad);
}

#[test]
fn refuses_known_crashers_of_the_decoder_without_crashing() {
    let mut lib = Lib::new();
    for (name, bytes) in verbatim_crashers() {
        let path = lib.tmp(name);
        std::fs::write(&path, &bytes).unwrap();
        let err = refused(&mut lib, &path);
        eprintln!("{name}: {err}");
    }
}

/// Tiny hostile inputs of the kinds symphonia has crashed on (kept in the fuzz corpus too).
fn verbatim_crashers() -> Vec<(&'static str, Vec<u8>)> {
    let mut id3 = b"ID3\x04\x00\x00\x00\x00\x00\x17".to_vec();
    id3.extend_from_slice(&[0xff; 23]);
    let mut xing = vec![0xff, 0xfb, 0x90, 0xc4];
    xing.extend_from_slice(&[0u8; 17]);
    xing.extend_from_slice(b"Xing\x00\x00\x00\x03\x00\x00\x00\x00\x00\x00\x00\x00\x00");
    let mut huge = b"RIFF\xff\xff\xff\xffWAVEfmt \x10\x00\x00\x00\x01\x00\xff\x00\x80\xbb\x00\x00\x00\xee\x02\x00\xff\x03\x10\x00data\xff\xff\xff\xff".to_vec();
    huge.extend_from_slice(&[0u8; 64]);
    vec![
        ("id3-only.mp3", id3),
        ("xing-zero-frames.mp3", xing),
        ("255-channels.wav", huge),
    ]
}

#[test]
fn refuses_files_over_the_size_and_duration_caps() {
    let mut lib = Lib::new();
    let wav = lib.tmp("long.wav");
    write_wav(&wav, 8000, 1, 16, false, 3.0);
    let small = ProbeLimits {
        max_bytes: 1000,
        ..ProbeLimits::default()
    };
    let err = lib.import_with(&wav, &small).unwrap_err();
    assert!(
        matches!(
            err,
            ImportError::Probe(ProbeError::TooLarge { limit: 1000, .. })
        ),
        "{err}"
    );
    let short = ProbeLimits {
        max_seconds: 2,
        ..ProbeLimits::default()
    };
    let err = lib.import_with(&wav, &short).unwrap_err();
    assert!(
        matches!(
            err,
            ImportError::Probe(ProbeError::TooLong { limit: 2, .. })
        ),
        "{err}"
    );
    assert_eq!(lib.rows(), 0);
    assert!(lib.stored_files().is_empty());
}

#[test]
fn a_failed_database_write_leaves_no_file_behind() {
    let mut lib = Lib::new();
    // Make the insert fail: a trigger standing in for a full disk or a broken database.
    lib.conn
        .execute_batch("CREATE TEMP TRIGGER fail BEFORE INSERT ON audio_files BEGIN SELECT RAISE(ABORT, 'disk is full'); END;")
        .unwrap();
    let err = lib.import(&fixture("jfk-1s.ogg")).unwrap_err();
    assert!(
        matches!(&err, ImportError::Database(m) if m.contains("disk is full")),
        "{err}"
    );
    assert_eq!(lib.rows(), 0);
    assert!(lib.stored_files().is_empty(), "{:?}", lib.stored_files());
}

#[test]
fn stale_staged_files_are_cleaned_at_start_and_running_imports_are_not() {
    let lib = Lib::new();
    let staging = lib.store.staging_dir();
    std::fs::create_dir_all(&staging).unwrap();
    let old = std::time::SystemTime::now() - std::time::Duration::from_secs(3600);
    let write = |name: &str| {
        let p = staging.join(name);
        std::fs::write(&p, b"half a file").unwrap();
        let f = std::fs::File::options().write(true).open(&p).unwrap();
        f.set_modified(old).unwrap();
        (p, f)
    };
    let (crashed, f) = write("import-crashed");
    drop(f);
    // An import still running in another process holds its staged file's lock.
    let (running, held) = write("import-running");
    held.lock().unwrap();
    // One just created may not be locked yet.
    let young = staging.join("import-young");
    std::fs::write(&young, b"just started").unwrap();
    lib.store.clean_staging();
    assert!(!crashed.exists(), "a crash's leftover stays");
    assert!(running.exists(), "a running import's file was deleted");
    assert!(young.exists(), "a brand-new staged file was deleted");
    drop(held);
    lib.store.clean_staging();
    assert!(!running.exists());
    std::fs::remove_file(&young).unwrap();
    assert!(lib.stored_files().is_empty());
}
