//! Store benchmarks: inserting a 10,000-segment transcript version in one transaction, and a
//! full-text query over 10,000 segments.
#![allow(clippy::unwrap_used, clippy::expect_used)] // tests fail loudly by design

use criterion::{BatchSize, Criterion, criterion_group, criterion_main};
use std::hint::black_box;
use verbatim::library;
use verbatim::library::sql::NewAudioFile;
use verbatim::storage::ids::TranscriptId;
use verbatim::storage::{self};
use verbatim::transcript;
use verbatim::transcript::Segment;
use verbatim::transcript::sql::{NewVersion, VersionSource};

mod common;

fn segments(n: usize) -> Vec<Segment> {
    common::segments(n, 12, 0x9e37_79b9_7f4a_7c15)
}

fn setup(dir: &std::path::Path) -> (rusqlite::Connection, TranscriptId) {
    let mut conn = storage::open(&dir.join("bench.db")).unwrap();
    let tx = conn.transaction().unwrap();
    let (a, _) = library::sql::insert_audio_file(
        &tx,
        &NewAudioFile {
            sha256: "ab".repeat(32),
            original_name: "talk.wav".into(),
            original_path: None,
            stored_path: "audio/ab/x.wav".into(),
            size_bytes: 1,
            container: "wav".into(),
            codec: "pcm_s16le".into(),
            duration_ms: 30_000_000,
            sample_rate: 16000,
            channels: 1,
        },
        1,
    )
    .unwrap();
    let (t, _) = transcript::sql::create_transcript(
        &tx,
        a.id,
        None,
        None,
        &NewVersion::new(VersionSource::Model),
        &[],
        1,
    )
    .unwrap();
    tx.commit().unwrap();
    (conn, t)
}

/// FTS5 over 100,000 segments (ten 10,000-segment versions, all searched).
fn fts_100k(c: &mut Criterion) {
    let dir = tempfile::tempdir().unwrap();
    let (mut conn, t) = setup(dir.path());
    let tx = conn.transaction().unwrap();
    for _ in 0..10 {
        transcript::sql::add_version(
            &tx,
            t,
            &NewVersion::new(VersionSource::Edit),
            &segments(10_000),
            2,
        )
        .unwrap();
    }
    tx.commit().unwrap();
    let mut group = c.benchmark_group("store");
    group.sample_size(20);
    group.bench_function(
        "FTS query over 100k segments (2 terms + prefix, top 50)",
        |b| {
            b.iter(|| {
                black_box(
                    transcript::sql::search(&conn, "dashwood norl", None, false, 50)
                        .unwrap()
                        .len(),
                )
            })
        },
    );
    group.bench_function("FTS query over 100k segments (rare term, all hits)", |b| {
        b.iter(|| {
            black_box(
                transcript::sql::search(&conn, "sussex estate residence", None, false, 100_000)
                    .unwrap()
                    .len(),
            )
        })
    });
    group.finish();
}

fn insert_10k_segments(c: &mut Criterion) {
    let segs = segments(10_000);
    let dir = tempfile::tempdir().unwrap();
    let (mut conn, t) = setup(dir.path());
    let mut group = c.benchmark_group("store");
    group.sample_size(10);
    group.bench_function(
        "insert 10k segments (one transaction, WAL file db, FTS triggers)",
        |b| {
            b.iter_batched(
                || (),
                |_| {
                    let tx = conn.transaction().unwrap();
                    transcript::sql::add_version(
                        &tx,
                        t,
                        &NewVersion::new(VersionSource::Edit),
                        black_box(&segs),
                        2,
                    )
                    .unwrap();
                    tx.commit().unwrap();
                },
                BatchSize::PerIteration,
            )
        },
    );
    group.finish();
}

fn fts_query_10k(c: &mut Criterion) {
    let dir = tempfile::tempdir().unwrap();
    let (mut conn, t) = setup(dir.path());
    let tx = conn.transaction().unwrap();
    transcript::sql::add_version(
        &tx,
        t,
        &NewVersion::new(VersionSource::Edit),
        &segments(10_000),
        2,
    )
    .unwrap();
    tx.commit().unwrap();
    let mut group = c.benchmark_group("store");
    group.bench_function("FTS query over 10k segments (2 terms, top 50)", |b| {
        b.iter(|| {
            let hits =
                transcript::sql::search(&conn, black_box("fellow dashw"), None, true, 50).unwrap();
            black_box(hits)
        })
    });
    group.bench_function("FTS query over 10k segments (rare term, all hits)", |b| {
        b.iter(|| {
            black_box(
                transcript::sql::search(
                    &conn,
                    black_box("norland sussex estate"),
                    None,
                    true,
                    10_000,
                )
                .unwrap(),
            )
        })
    });
    group.finish();
}

criterion_group!(benches, insert_10k_segments, fts_query_10k, fts_100k);
criterion_main!(benches);
