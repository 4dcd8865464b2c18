//! The transcript core without the ECS: edits and their validation, undo/redo, the version
//! comparison, export golden files, export -> import round trips (proptest), bad imports.
#![allow(clippy::unwrap_used, clippy::expect_used)] // tests fail loudly by design

mod common;

use proptest::prelude::*;
use verbatim::transcript::Segment;
use verbatim::transcript::diff::{Kind, compare};
use verbatim::transcript::edit::{Edit, EditError, EditSession, apply, validate};
use verbatim::transcript::export::{Format, Meta, render};
use verbatim::transcript::import::{ImportError, parse};

fn segs() -> Vec<Segment> {
    vec![
        Segment::new(0, 2_000, "And so, my fellow Americans,"),
        Segment::new(2_500, 5_000, "ask not what your country can do for you"),
        Segment::new(5_000, 8_000, "ask what you can do for your country."),
    ]
}

#[test]
fn edits_apply_and_keep_the_list_valid() {
    let s = segs();
    let split = apply(
        &s,
        &Edit::Split {
            index: 1,
            at_ms: 3_500,
            at_char: None,
        },
        11_000,
    )
    .unwrap();
    assert_eq!(split.len(), 4);
    assert_eq!((split[1].start_ms, split[1].end_ms), (2_500, 3_500));
    assert_eq!((split[2].start_ms, split[2].end_ms), (3_500, 5_000));
    assert_eq!(
        format!("{} {}", split[1].text, split[2].text),
        "ask not what your country can do for you"
    );
    let merged = apply(&split, &Edit::Merge { index: 1 }, 11_000).unwrap();
    assert_eq!(merged, s);
    let cut = apply(
        &s,
        &Edit::Split {
            index: 0,
            at_ms: 1_000,
            at_char: Some(7),
        },
        11_000,
    )
    .unwrap();
    assert_eq!(cut[0].text, "And so,");
    assert_eq!(cut[1].text, "my fellow Americans,");
    let nudged = apply(
        &s,
        &Edit::Nudge {
            at_ms: 2_450,
            delta_ms: 100,
        },
        11_000,
    )
    .unwrap();
    assert_eq!(nudged[1].start_ms, 2_600);
    // A shared boundary moves for both segments.
    let shared = apply(
        &s,
        &Edit::Nudge {
            at_ms: 5_000,
            delta_ms: -600,
        },
        11_000,
    )
    .unwrap();
    assert_eq!((shared[1].end_ms, shared[2].start_ms), (4_400, 4_400));
    let inserted = apply(
        &s,
        &Edit::Insert {
            after: Some(0),
            text: "(applause)".into(),
        },
        11_000,
    )
    .unwrap();
    assert_eq!((inserted[1].start_ms, inserted[1].end_ms), (2_000, 2_500));
    assert_eq!(
        apply(&s, &Edit::Delete { index: 2 }, 11_000).unwrap().len(),
        2
    );
}

#[test]
fn invalid_edits_are_refused_with_a_reason() {
    let s = segs();
    let cases = [
        (
            Edit::SetTimes {
                index: 1,
                start_ms: 1_500,
                end_ms: 4_000,
            },
            "overlap segment 0 (500 ms)",
        ),
        (
            Edit::SetTimes {
                index: 1,
                start_ms: 4_000,
                end_ms: 3_000,
            },
            "end (3000 ms) before it starts",
        ),
        (
            Edit::SetTimes {
                index: 2,
                start_ms: 5_000,
                end_ms: 12_000,
            },
            "after the audio (11000 ms)",
        ),
        (
            Edit::SetText {
                index: 0,
                text: "  ".into(),
            },
            "no text",
        ),
        (
            Edit::Split {
                index: 0,
                at_ms: 2_000,
                at_char: None,
            },
            "not inside it",
        ),
        (Edit::Merge { index: 2 }, "nothing to merge"),
        (Edit::Delete { index: 9 }, "does not exist"),
        (
            Edit::Nudge {
                at_ms: 2_000,
                delta_ms: 600,
            },
            "overlap",
        ),
    ];
    for (edit, want) in cases {
        let err = apply(&s, &edit, 11_000).unwrap_err().to_string();
        assert!(err.contains(want), "{edit:?}: {err}");
    }
    assert_eq!(
        validate(&[Segment::new(5, 1, "x")], 0),
        Err(EditError::EndBeforeStart {
            index: 0,
            start_ms: 5,
            end_ms: 1
        })
    );
}

#[test]
fn undo_redo_and_dirty() {
    let mut e = EditSession::new(segs(), 11_000);
    assert!(!e.dirty() && !e.can_undo());
    e.apply(&Edit::SetText {
        index: 0,
        text: "And so my fellow Americans".into(),
    })
    .unwrap();
    assert!(e.dirty());
    assert!(e.apply(&Edit::Delete { index: 7 }).is_err());
    assert!(e.undo());
    assert!(!e.dirty());
    assert!(e.redo());
    assert_eq!(e.segments()[0].text, "And so my fellow Americans");
    e.mark_saved();
    assert!(!e.dirty());
    assert_eq!(e.segment_at(2_600), Some(1));
    assert_eq!(e.segment_at(0), Some(0));
}

#[test]
fn compare_aligns_by_time_and_marks_words() {
    let left = segs();
    let mut right = segs();
    right[0].text = "And so my fellow citizens,".into(); // "so," -> "so", Americans -> citizens
    right[1].start_ms = 2_400; // timing
    right[2].text = "ask what you can do for your country, now.".into();
    let c = compare(&left, &right);
    assert_eq!(c.rows.len(), 3);
    assert!(c.rows[1].timing_changed && !c.rows[1].text_changed);
    let changed: Vec<&str> = c.rows[0]
        .right_spans
        .iter()
        .filter(|s| s.kind == Kind::Changed)
        .map(|s| s.text.trim())
        .collect();
    assert!(
        changed.iter().any(|t| t.contains("citizens")),
        "{:?}",
        c.rows[0]
    );
    assert_eq!(c.summary.left_words, 22);
    assert_eq!(c.summary.timing_changes, 1);
    assert_eq!(c.summary.rows_changed, 2);
    assert!(
        c.summary.wer > 0.0 && c.summary.wer < 0.3,
        "{:?}",
        c.summary
    );

    // A split on the right lines up with the one segment on the left.
    let split = apply(
        &left,
        &Edit::Split {
            index: 1,
            at_ms: 3_000,
            at_char: None,
        },
        0,
    )
    .unwrap();
    let c = compare(&left, &split);
    assert_eq!(c.rows.len(), 3);
    assert_eq!(c.rows[1].left, vec![1]);
    assert_eq!(c.rows[1].right, vec![1, 2]);
    assert!(!c.rows[1].text_changed);
    assert_eq!(c.summary.wer, 0.0);
    // Inserted and deleted segments stand alone.
    let c = compare(&left[..2], &left);
    assert_eq!(c.rows[2].left, Vec::<usize>::new());
    assert!(
        c.rows[2]
            .right_spans
            .iter()
            .all(|s| s.kind == Kind::Inserted)
    );
}

fn tricky() -> Vec<Segment> {
    vec![
        Segment::new(0, 1_500, "Hello, \"world\" — it's 5 > 3 & 2 < 4"),
        Segment::new(1_500, 3_250, "two lines\nsecond --> line"),
        Segment::new(3_600_000, 3_601_001, "naïve café, 日本語, ünïcödé"),
    ]
}

fn meta() -> Meta<'static> {
    Meta {
        title: "tricky.wav",
        transcript_id: 7,
        version: 3,
        model: Some("base.en"),
    }
}

#[test]
fn exports_match_the_golden_files() {
    let dir = common::manifest_dir().join("tests/golden");
    for f in Format::ALL {
        let got = render(f, &meta(), &tricky());
        let path = dir.join(format!("tricky.{}", f.code()));
        if std::env::var_os("UPDATE_GOLDEN").is_some() {
            std::fs::write(&path, &got).unwrap();
        }
        let want = std::fs::read_to_string(&path)
            .unwrap_or_else(|_| panic!("{} missing: run with UPDATE_GOLDEN=1", path.display()));
        assert_eq!(got, want, "{} differs", path.display());
    }
}

#[test]
fn srt_and_vtt_follow_their_specs() {
    let srt = render(Format::Srt, &meta(), &tricky());
    assert!(srt.starts_with("1\n00:00:00,000 --> 00:00:01,500\n"));
    assert!(srt.contains("\n3\n01:00:00,000 --> 01:00:01,001\n"));
    let vtt = render(Format::Vtt, &meta(), &tricky());
    assert!(vtt.starts_with("WEBVTT\n\n00:00:00.000 --> 00:00:01.500\n"));
    assert!(vtt.contains("second --&gt; line"), "{vtt}");
    assert!(vtt.contains("5 &gt; 3 &amp; 2 &lt; 4"), "{vtt}");
    let csv = render(Format::Csv, &meta(), &tricky());
    assert!(
        csv.contains("\"Hello, \"\"world\"\" — it's 5 > 3 & 2 < 4\""),
        "{csv}"
    );
}

fn same_cues(a: &[Segment], b: &[Segment]) {
    assert_eq!(a.len(), b.len());
    for (x, y) in a.iter().zip(b) {
        assert_eq!(
            (x.start_ms, x.end_ms, x.text.as_str()),
            (y.start_ms, y.end_ms, y.text.as_str())
        );
    }
}

#[test]
fn tricky_text_survives_every_round_trip() {
    for f in [Format::Srt, Format::Vtt, Format::Json] {
        let back = parse(f, &render(f, &meta(), &tricky())).unwrap();
        same_cues(&tricky(), &back);
    }
}

#[test]
fn malformed_imports_get_clear_errors() {
    let cases: [(Format, &str, &str); 10] = [
        // An hour count that wrapped the u64 multiplication to 1 s before (the probe's
        // finding), one past u64 and one past SQLite's integer: refused with the line.
        (
            Format::Srt,
            "1\n144115188075855872:00:01,000 --> 144115188075855872:00:02,000\nhi\n",
            "line 2: a time is out of range",
        ),
        (
            Format::Srt,
            "1\n00:00:01,000 --> 99999999999999999999:00:02,000\nhi\n",
            "line 2: a time is out of range",
        ),
        (
            Format::Vtt,
            "WEBVTT\n\n2562047788016:00:00.000 --> 2562047788016:00:01.000\nhi\n",
            "line 3: a time is out of range",
        ),
        (
            Format::Srt,
            "1\n00:00:01,000 -> 00:00:02,000\nhi\n",
            "line 2: expected a timing line",
        ),
        (
            Format::Srt,
            "one\n00:00:01,000 --> 00:00:02,000\nhi\n",
            "line 1: expected a cue number",
        ),
        (
            Format::Srt,
            "1\n00:00:03,000 --> 00:00:02,000\nhi\n",
            "ends before it starts",
        ),
        (
            Format::Srt,
            "1\n00:00:01,000 --> 00:00:02,000\n",
            "a cue without text",
        ),
        (
            Format::Vtt,
            "00:00:01.000 --> 00:00:02.000\nhi\n",
            "starts with the line WEBVTT",
        ),
        (
            Format::Json,
            "{\"segments\": [{\"start_ms\": -1}]}",
            "whole number of ms",
        ),
        (Format::Json, "{\"segments\": [", "line 1"),
    ];
    for (f, text, want) in cases {
        let err = parse(f, text).unwrap_err().to_string();
        assert!(err.contains(want), "{f:?} {text:?}: {err}");
    }
    assert_eq!(
        parse(Format::Srt, "\n\n"),
        Err(ImportError::Invalid("the file holds no segments".into()))
    );
    assert!(parse(Format::Txt, "x").is_err());
    // VTT extras are skipped: header text, NOTE blocks, cue ids, settings.
    let vtt = "WEBVTT - a title\n\nNOTE a comment\nspanning lines\n\nid-1\n00:01.000 --> 00:02.500 align:start\nhi &amp; bye\n";
    let s = parse(Format::Vtt, vtt).unwrap();
    assert_eq!(
        (s[0].start_ms, s[0].end_ms, s[0].text.as_str()),
        (1_000, 2_500, "hi & bye")
    );
}

/// Canonical cue text: lines without surrounding spaces, none empty.
fn text_strategy() -> impl Strategy<Value = String> {
    let line = "[a-zA-Z0-9 ,.'\"!?&<>—éüß日本-]{1,30}"
        .prop_map(|l| l.trim().to_string())
        .prop_filter("a line with text", |l| !l.is_empty());
    prop::collection::vec(line, 1..3).prop_map(|lines| lines.join("\n"))
}

fn segments_strategy() -> impl Strategy<Value = Vec<Segment>> {
    prop::collection::vec(
        (0u64..5_000, 1u64..10_000, text_strategy(), any::<bool>()),
        1..20,
    )
    .prop_map(|parts| {
        let mut t = 0;
        parts
            .into_iter()
            .map(|(gap, len, text, arrow)| {
                let start = t + gap;
                t = start + len;
                Segment::new(start, t, if arrow { format!("{text} --> x") } else { text })
            })
            .collect()
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(200))]
    #[test]
    fn export_then_import_gives_the_same_segments(segs in segments_strategy()) {
        for f in [Format::Srt, Format::Vtt, Format::Json] {
            let back = parse(f, &render(f, &meta(), &segs)).unwrap();
            prop_assert_eq!(back.len(), segs.len());
            for (x, y) in segs.iter().zip(&back) {
                prop_assert_eq!((x.start_ms, x.end_ms, &x.text), (y.start_ms, y.end_ms, &y.text));
            }
        }
    }
}

/// jfk's first segment with word times as the model gives them.
fn timed() -> Segment {
    use verbatim::transcript::words::Word;
    let mut s = Segment::new(300, 2_300, "And so, my fellow Americans,");
    s.set_words(&[
        Word::timed(320, 600, "And", Some(0.95)),
        Word::timed(600, 900, "so,", Some(0.9)),
        Word::timed(1_100, 1_300, "my", Some(0.97)),
        Word::timed(1_300, 1_700, "fellow", Some(0.3)),
        Word::timed(1_750, 2_270, "Americans,", Some(0.99)),
    ]);
    s.no_speech = Some(0.01);
    s.avg_logprob = Some(-0.2);
    s
}

fn spans(s: &Segment) -> Vec<Option<(u64, u64)>> {
    s.words().iter().map(|w| w.span()).collect()
}

/// Issue 14: words survive editing. A text edit keeps the times of the words it left alone
/// and of a word put in the place of one (a correction), marks the others untimed; the
/// model's segment-wide signals are forgotten; timing edits clip the words; split and merge
/// share them out and join them.
#[test]
fn words_survive_text_timing_split_and_merge_edits() {
    let s = vec![timed(), Segment::new(3_000, 4_400, "ask not")];
    let edited = apply(
        &s,
        &Edit::SetText {
            index: 0,
            text: "And so, my dear fellow Americans!".into(),
        },
        11_000,
    )
    .unwrap();
    let words = edited[0].words();
    let texts: Vec<&str> = words.iter().map(|w| w.text.as_str()).collect();
    assert_eq!(texts, ["And", "so,", "my", "dear", "fellow", "Americans!"]);
    assert_eq!(
        spans(&edited[0]),
        [
            Some((320, 600)),
            Some((600, 900)),
            Some((1_100, 1_300)),
            None,
            Some((1_300, 1_700)),
            Some((1_750, 2_270)),
        ]
    );
    assert_eq!(
        words[4].p,
        Some(0.3),
        "an untouched word keeps its probability"
    );
    assert_eq!((edited[0].no_speech, edited[0].avg_logprob), (None, None));

    // A correction of one word keeps its time.
    let fixed = apply(
        &s,
        &Edit::SetText {
            index: 0,
            text: "And so, my yellow Americans,".into(),
        },
        11_000,
    )
    .unwrap();
    let w = fixed[0].words();
    assert_eq!(
        (w[3].text.as_str(), w[3].span(), w[3].p),
        ("yellow", Some((1_300, 1_700)), None)
    );

    // New bounds clip the words: "And" falls outside, "so," is cut at the new start.
    let moved = apply(
        &s,
        &Edit::SetTimes {
            index: 0,
            start_ms: 700,
            end_ms: 2_300,
        },
        11_000,
    )
    .unwrap();
    assert_eq!(spans(&moved[0])[0], None);
    assert_eq!(spans(&moved[0])[1], Some((700, 900)));

    // Split with no cursor: at the word boundary nearest the time (1000 ms is in the gap
    // between "so," and "my"; 1050 is not a boundary, the cut moves to 1000).
    let split = apply(
        &s,
        &Edit::Split {
            index: 0,
            at_ms: 1_050,
            at_char: None,
        },
        11_000,
    )
    .unwrap();
    assert_eq!(split[0].text, "And so,");
    assert_eq!(split[1].text, "my fellow Americans,");
    assert_eq!((split[0].end_ms, split[1].start_ms), (1_000, 1_000));
    assert_eq!(split[0].words().len(), 2);
    assert_eq!(spans(&split[1])[0], Some((1_100, 1_300)));
    // Inside a word ("fellow", 1300-1700): the nearer boundary, after it (1725).
    let mid = apply(
        &s,
        &Edit::Split {
            index: 0,
            at_ms: 1_650,
            at_char: None,
        },
        11_000,
    )
    .unwrap();
    assert_eq!(mid[0].text, "And so, my fellow");
    assert_eq!(mid[0].end_ms, 1_725);

    // Merge joins the words; the side without times adds its words untimed.
    let merged = apply(&s, &Edit::Merge { index: 0 }, 11_000).unwrap();
    let w = merged[0].words();
    assert_eq!(w.len(), 7);
    assert_eq!(w[4].span(), Some((1_750, 2_270)));
    assert_eq!((w[5].text.as_str(), w[5].span()), ("ask", None));
}

/// Issue 14: words export in JSON and as word-level SRT (a cue per word) and VTT (timestamp
/// tags), and come back on import: JSON and VTT with their times, untimed words untimed.
#[test]
fn word_times_export_and_import_back() {
    use verbatim::transcript::export::render_words;
    let mut edited = apply(
        &[timed()],
        &Edit::SetText {
            index: 0,
            text: "And so, my dear fellow Americans,".into(),
        },
        11_000,
    )
    .unwrap();
    edited.push(Segment::new(3_000, 4_400, "ask not"));

    let json = render(Format::Json, &meta(), &edited);
    let back = parse(Format::Json, &json).unwrap();
    assert_eq!(back[0].words(), edited[0].words(), "{json}");
    assert!(json.contains(r#""text": "dear""#), "{json}");

    let vtt = render_words(Format::Vtt, &meta(), &edited);
    assert!(
        vtt.contains(
            "00:00:00.300 --> 00:00:02.300\n<00:00:00.320>And <00:00:00.600>so, \
             <00:00:01.100>my dear <00:00:01.300>fellow <00:00:01.750>Americans,\n"
        ),
        "{vtt}"
    );
    assert!(
        vtt.contains("00:00:03.000 --> 00:00:04.400\nask not\n"),
        "{vtt}"
    );
    let back = parse(Format::Vtt, &vtt).unwrap();
    assert_eq!(back[0].text, "And so, my dear fellow Americans,");
    assert_eq!(
        spans(&back[0]),
        [
            Some((320, 600)),
            Some((600, 1_100)),
            Some((1_100, 1_300)),
            None,
            Some((1_300, 1_750)),
            Some((1_750, 2_300)),
        ],
        "each timed word runs to the next one's start"
    );
    assert_eq!(back[1].words_json, None);

    let srt = render_words(Format::Srt, &meta(), &edited);
    assert!(
        srt.starts_with(
            "1\n00:00:00,320 --> 00:00:00,600\nAnd\n\n2\n00:00:00,600 --> 00:00:00,900\nso,\n\n\
             3\n00:00:01,100 --> 00:00:01,300\nmy dear\n\n"
        ),
        "{srt}"
    );
    let cues = parse(Format::Srt, &srt).unwrap();
    assert_eq!(
        cues.len(),
        6,
        "five timed words, then the segment without words"
    );
    assert_eq!(cues[5].text, "ask not");
    // Without word times the word-level forms are the plain ones.
    let plain = [Segment::new(0, 1_000, "no words")];
    for f in [Format::Srt, Format::Vtt] {
        assert_eq!(render_words(f, &meta(), &plain), render(f, &meta(), &plain));
    }
}

#[test]
fn vtt_timestamp_tags_out_of_order_or_outside_the_cue_are_dropped() {
    let vtt = "WEBVTT\n\n00:00:01.000 --> 00:00:03.000\n\
               one <00:00:02.000>two <00:00:01.500>three <00:00:09.000>four &amp;five\n";
    let s = parse(Format::Vtt, vtt).unwrap();
    assert_eq!(s[0].text, "one two three four &five");
    assert_eq!(
        spans(&s[0]),
        [Some((1_000, 2_000)), Some((2_000, 3_000)), None, None, None]
    );
    // Untimed words in JSON are accepted; half a time is not.
    let ok = r#"{"segments":[{"start_ms":0,"end_ms":900,"text":"a b","words":[{"text":"a","start_ms":0,"end_ms":400},{"text":"b"}]}]}"#;
    assert_eq!(
        spans(&parse(Format::Json, ok).unwrap()[0]),
        [Some((0, 400)), None]
    );
    let bad = r#"{"segments":[{"start_ms":0,"end_ms":900,"text":"a","words":[{"text":"a","start_ms":0}]}]}"#;
    let err = parse(Format::Json, bad).unwrap_err().to_string();
    assert!(err.contains("a start or an end but not both"), "{err}");
}

/// Issue 27, defect 9: a split was shown as an unchanged row, a moved boundary that made two
/// segments overlap reported "0 timing changes", and a changed comma counted as a word error.
#[test]
fn compare_shows_splits_merges_and_retimes_and_scores_normalised_words() {
    use verbatim::transcript::diff::Structure;
    let left = segs();
    let split = apply(
        &left,
        &Edit::Split {
            index: 1,
            at_ms: 3_000,
            at_char: None,
        },
        0,
    )
    .unwrap();
    let c = compare(&left, &split);
    assert_eq!(c.rows[1].structure, Structure::Split);
    assert!(c.rows[1].changed(), "a split is a change");
    assert_eq!(c.summary.splits, 1);
    assert!(c.describe().contains("1 split"), "{}", c.describe());
    // The other way round it is a merge.
    let c = compare(&split, &left);
    assert_eq!(c.summary.merges, 1);
    assert!(c.describe().contains("1 merge"), "{}", c.describe());
    // A boundary moved so far that the segments overlap the other side's neighbours: the row
    // holds two segments a side, and the retime is still counted.
    let mut moved = left.clone();
    moved[0].end_ms = 2_900;
    moved[1].start_ms = 2_950;
    let c = compare(&left, &moved);
    let retimed: Vec<_> = c.rows.iter().filter(|r| r.timing_changed).collect();
    assert_eq!(retimed.len(), 1, "{:?}", c.rows);
    assert_eq!(retimed[0].left.len(), 2);
    assert_eq!(c.summary.timing_changes, 1);
    assert!(c.describe().contains("1 retimed"), "{}", c.describe());
    // A comma is shown as a text change but is no word error.
    let mut comma = left.clone();
    comma[0].text = comma[0].text.replace(',', "");
    assert_ne!(comma[0].text, left[0].text);
    let c = compare(&left, &comma);
    assert!(c.rows[0].text_changed);
    assert_eq!(c.summary.wer, 0.0, "{:?}", c.summary);
}

#[test]
fn a_typed_time_reads_as_a_clock_or_seconds() {
    use verbatim::transcript::export::{parse_clock, timestamp};
    assert_eq!(parse_clock("00:00:03.270"), Some(3_270));
    assert_eq!(parse_clock("1:02.5"), Some(62_500));
    assert_eq!(parse_clock("12,25"), Some(12_250));
    assert_eq!(parse_clock(" 7 "), Some(7_000));
    assert_eq!(parse_clock(&timestamp(3_723_004, '.')), Some(3_723_004));
    for bad in ["", "x", "1:2:3:4", "-1", "00:61.0", "nan", "1e400"] {
        assert_eq!(parse_clock(bad), None, "{bad}");
    }
}

/// Issue 28, finding 9: WebVTT markup was stored as literal text, and a cue with 10,001
/// timestamp tags was accepted. The markup is read as WebVTT defines it: the voice's name is
/// the segment's speaker, styling tags go, YouTube-style word timing is read, and the word
/// limit is JSON's.
#[test]
fn webvtt_markup_is_read_not_stored() {
    let vtt = "WEBVTT\n\n\
        00:00:01.000 --> 00:00:04.000\n<v Roger Bingham>We are in New York City</v>\n\n\
        00:00:04.000 --> 00:00:08.000\n<v.loud Neil deGrasse Tyson>Hi &amp; <i>welcome</i></v>\n\n\
        00:00:08.000 --> 00:00:12.000\n<c.yellow>yellow</c> <b>bold</b> <u>under</u> <lang en-GB>colour</lang> <ruby>漢<rt>kan</rt></ruby>\n\n\
        00:00:12.000 --> 00:00:14.000\n<00:00:12.500><c> so</c><00:00:13.000><c> it</c><00:00:13.500><c> goes</c>\n";
    let segs = parse(Format::Vtt, vtt).unwrap();
    assert_eq!(segs[0].text, "We are in New York City");
    assert_eq!(segs[0].speaker.as_deref(), Some("Roger Bingham"));
    assert_eq!(segs[1].text, "Hi & welcome");
    assert_eq!(segs[1].speaker.as_deref(), Some("Neil deGrasse Tyson"));
    assert_eq!(segs[2].text, "yellow bold under colour 漢kan");
    assert_eq!(segs[2].speaker, None);
    assert_eq!(segs[3].text, "so it goes");
    let words = segs[3].words();
    let times: Vec<Option<u64>> = words.iter().map(|w| w.span().map(|s| s.0)).collect();
    assert_eq!(times, [Some(12_500), Some(13_000), Some(13_500)]);
    // 10,001 timed words in one cue: refused, with the line, like JSON's 10,000.
    let mut cue = String::from("WEBVTT\n\n00:00:00.000 --> 00:59:00.000\n");
    for i in 0..10_001u64 {
        cue.push_str(&format!(
            "<{}>w ",
            verbatim::transcript::export::timestamp(i * 100, '.')
        ));
    }
    let e = parse(Format::Vtt, &cue).unwrap_err().to_string();
    assert!(
        e.contains("more than 10000 words") && e.contains("line 4"),
        "{e}"
    );
}

/// A conversation's segments with their speakers, and one without.
fn spoken() -> Vec<Segment> {
    let mut a = Segment::new(0, 1_500, "Hello there.");
    a.speaker = Some("Ann Lee".into());
    let mut b = Segment::new(1_500, 3_250, "Hi <Ann> & co.");
    b.speaker = Some("Bo".into());
    let c = Segment::new(4_000, 5_000, "Nobody said who.");
    vec![a, b, c]
}

/// Every format carries the speakers: WebVTT's voice tag, `Name: ` in SRT and text, a field
/// in JSON and CSV, RTTM's turns; VTT and JSON give them back on import.
#[test]
fn exports_carry_speakers_and_vtt_and_json_bring_them_back() {
    let segs = spoken();
    let vtt = render(Format::Vtt, &meta(), &segs);
    assert!(vtt.contains("\n<v Ann Lee>Hello there.\n"), "{vtt}");
    assert!(vtt.contains("\n<v Bo>Hi &lt;Ann&gt; &amp; co.\n"), "{vtt}");
    assert!(vtt.contains("\nNobody said who.\n"), "{vtt}");
    let srt = render(Format::Srt, &meta(), &segs);
    assert!(srt.contains("\nAnn Lee: Hello there.\n"), "{srt}");
    assert!(srt.contains("\nNobody said who.\n"), "{srt}");
    let txt = render(Format::Txt, &meta(), &segs);
    assert_eq!(
        txt,
        "Ann Lee: Hello there.\nBo: Hi <Ann> & co.\nNobody said who.\n"
    );
    let csv = render(Format::Csv, &meta(), &segs);
    assert!(
        csv.starts_with("start_ms,end_ms,text,confidence,speaker\n"),
        "{csv}"
    );
    assert!(csv.contains("\n0,1500,Hello there.,,Ann Lee\n"), "{csv}");
    assert!(csv.contains("\n4000,5000,Nobody said who.,,\n"), "{csv}");
    let json: serde_json::Value =
        serde_json::from_str(&render(Format::Json, &meta(), &segs)).unwrap();
    assert_eq!(json["segments"][0]["speaker"], "Ann Lee");
    assert_eq!(json["segments"][2]["speaker"], serde_json::Value::Null);
    // RTTM: one turn per segment with a speaker, names without spaces, the file's stem.
    let rttm = render(Format::Rttm, &meta(), &segs);
    assert_eq!(
        rttm,
        "SPEAKER tricky 1 0.000 1.500 <NA> <NA> Ann_Lee <NA> <NA>\n\
         SPEAKER tricky 1 1.500 1.750 <NA> <NA> Bo <NA> <NA>\n"
    );
    let turns = verbatim::speakers::read_rttm(&rttm).unwrap();
    assert_eq!(turns.len(), 2);
    for f in [Format::Vtt, Format::Json] {
        let back = parse(f, &render(f, &meta(), &segs)).unwrap();
        let who: Vec<Option<&str>> = back.iter().map(|s| s.speaker.as_deref()).collect();
        assert_eq!(who, [Some("Ann Lee"), Some("Bo"), None], "{f:?}");
        let text: Vec<&str> = back.iter().map(|s| s.text.as_str()).collect();
        assert_eq!(
            text,
            ["Hello there.", "Hi <Ann> & co.", "Nobody said who."],
            "{f:?}"
        );
    }
    // With word times: the segment's first word cue says who speaks.
    let mut timed = segs[0].clone();
    timed.set_words(&[
        verbatim::transcript::words::Word::timed(0, 600, "Hello", None),
        verbatim::transcript::words::Word::timed(700, 1_400, "there.", None),
    ]);
    let srt = verbatim::transcript::export::render_words(Format::Srt, &meta(), &[timed.clone()]);
    assert!(srt.contains("\nAnn Lee: Hello\n"), "{srt}");
    assert!(srt.contains("\nthere.\n"), "{srt}");
    let vtt = verbatim::transcript::export::render_words(Format::Vtt, &meta(), &[timed]);
    assert!(
        vtt.contains("\n<v Ann Lee>Hello <00:00:00.700>there.\n"),
        "{vtt}"
    );
    // A JSON speaker that is not a name is refused with the segment.
    let bad = r#"{"segments":[{"start_ms":0,"end_ms":5,"text":"x","speaker":7}]}"#;
    assert!(
        parse(Format::Json, bad)
            .unwrap_err()
            .to_string()
            .contains("speaker")
    );
    // RTTM is an export only.
    assert!(parse(Format::Rttm, &rttm).is_err());
}

/// A segment given to another speaker, and a speaker renamed throughout (or merged into a
/// name already there): edits like the others, undone and redone, each segment keeping its
/// key and its words; a rename of nobody or to nothing is refused.
#[test]
fn speakers_are_reassigned_and_renamed_as_edits() {
    let mut list = spoken();
    list[2].speaker = Some("Ann Lee".into());
    let mut e = EditSession::new(list, 10_000);
    let keys = e.keys().to_vec();
    e.apply(&Edit::SetSpeaker {
        index: 1,
        speaker: Some(" Ann Lee ".into()),
    })
    .unwrap();
    let who = |e: &EditSession| -> Vec<Option<String>> {
        e.segments().iter().map(|s| s.speaker.clone()).collect()
    };
    assert_eq!(
        who(&e),
        [
            Some("Ann Lee".into()),
            Some("Ann Lee".into()),
            Some("Ann Lee".into())
        ]
    );
    assert!(e.dirty());
    e.apply(&Edit::RenameSpeaker {
        from: "Ann Lee".into(),
        to: "Ann".into(),
    })
    .unwrap();
    assert_eq!(
        who(&e),
        [Some("Ann".into()), Some("Ann".into()), Some("Ann".into())]
    );
    assert_eq!(e.keys(), keys.as_slice(), "every segment keeps its key");
    assert_eq!(e.segments()[1].text, "Hi <Ann> & co.");
    assert!(e.undo());
    assert!(e.undo());
    assert_eq!(
        who(&e),
        [
            Some("Ann Lee".into()),
            Some("Bo".into()),
            Some("Ann Lee".into())
        ]
    );
    assert!(e.redo());
    // Nobody said, and the edits that cannot be.
    e.apply(&Edit::SetSpeaker {
        index: 0,
        speaker: None,
    })
    .unwrap();
    assert_eq!(e.segments()[0].speaker, None);
    assert_eq!(
        e.apply(&Edit::RenameSpeaker {
            from: "Bo".into(),
            to: "Ann".into()
        }),
        Err(EditError::NoSuchSpeaker("Bo".into()))
    );
    assert_eq!(
        e.apply(&Edit::RenameSpeaker {
            from: "Ann Lee".into(),
            to: "  ".into()
        }),
        Err(EditError::EmptySpeaker)
    );
    assert!(
        e.apply(&Edit::SetSpeaker {
            index: 9,
            speaker: None
        })
        .is_err()
    );
}
