//! The editor: panel tests with egui_kittest (no Bevy), the EditorPlugin headless (save,
//! rollback, refused edits, import as a version, export with history, search), and the CLI.
#![allow(clippy::unwrap_used, clippy::expect_used)] // tests fail loudly by design

mod common;

use std::path::{Path, PathBuf};
use std::time::Duration;

use bevy::prelude::*;
use bevy_egui::egui;
use egui_kittest::Harness;
use egui_kittest::kittest::{NodeT, Queryable};
use verbatim::CorePlugin;
use verbatim::cli::{ImportLog, headless_app, track_imports, update_until};
use verbatim::editor::segments::{
    OpenVersion, SegmentId, SegmentIndex, SegmentList, SegmentText, SegmentTiming, Segments,
    TranscriptVersion, VersionOf,
};
use verbatim::editor::{CompareDoc, Doc, Editor, EditorCommand, EditorEvent};
use verbatim::library::ImportRequested;
use verbatim::library::import::AudioStore;
use verbatim::library::transcripts::Transcript;
use verbatim::storage::ids::{AudioFileId, TranscriptId, VersionId};
use verbatim::storage::repo::{self, NewVersion, TranscriptRow, VersionRow, VersionSource};
use verbatim::storage::writer::DbWriter;
use verbatim::transcript::Segment;
use verbatim::transcript::diff::compare;
use verbatim::transcript::edit::{Edit, EditSession};
use verbatim::transcript::export::Format;
use verbatim::ui::Intent;
use verbatim::ui::editor_panel::{self, EditorIntent, EditorUi, PlayerView, View};

fn jfk_segs() -> Vec<Segment> {
    vec![
        Segment::new(320, 2_270, "And so, my fellow Americans,"),
        Segment::new(3_270, 4_410, "ask not"),
        Segment::new(5_380, 7_680, "what your country can do for you,"),
        Segment::new(8_160, 10_620, "ask what you can do for your country."),
    ]
}

fn version(n: u32, current: bool) -> VersionRow {
    VersionRow {
        id: VersionId(i64::from(n)),
        transcript_id: TranscriptId(1),
        number: n,
        source: if n == 1 {
            VersionSource::Model
        } else {
            VersionSource::Edit
        },
        based_on: None,
        model: Some("base.en".into()),
        author: None,
        note: None,
        created_at: 1_763_680_000_000,
        is_current: current,
        segment_count: 4,
    }
}

fn doc(selected: Option<usize>) -> Doc {
    Doc {
        transcript: TranscriptRow {
            id: TranscriptId(1),
            audio_file: AudioFileId(1),
            title: Some("jfk.wav".into()),
            current_version: VersionId(2),
            job: None,
            created_at: 0,
            audio_name: "jfk.wav".into(),
            audio_path: "audio/x.wav".into(),
            duration_ms: 11_000,
            versions: 2,
        },
        versions: vec![version(1, false), version(2, true)],
        version: version(2, true),
        session: EditSession::new(jfk_segs(), 11_000),
        audio_path: PathBuf::from("/nonexistent.wav"),
        focus: None,
        selected,
        bookmarks: vec![verbatim::storage::repo::Bookmark {
            start_ms: 2_000,
            end_ms: 3_500,
            label: "ask not what your country".into(),
        }],
    }
}

struct P {
    doc: Doc,
    compare: Option<CompareDoc>,
    ui: EditorUi,
    intents: Vec<Intent>,
    /// The keyboard is the editor's (no dialog over it).
    keyboard: bool,
}

fn harness(doc: Doc, compare: Option<CompareDoc>) -> Harness<'static, P> {
    Harness::builder()
        .with_size(egui::vec2(1200.0, 700.0))
        .build_ui_state(
            |ui, p: &mut P| {
                let segments = SegmentList::new(p.doc.session.segments());
                let view = View {
                    doc: &p.doc,
                    segments: &segments,
                    compare: p.compare.as_ref(),
                    player: PlayerView {
                        position_ms: 3_500,
                        playing: false,
                        speed: 1.0,
                        unavailable: None,
                    },
                    peaks: None,
                    spectrogram: None,
                    keyboard: p.keyboard,
                };
                editor_panel::show(ui, &view, &mut p.ui, &mut p.intents);
            },
            P {
                doc,
                compare,
                ui: EditorUi::default(),
                intents: Vec::new(),
                keyboard: true,
            },
        )
}

/// The primary button going down (`true`) or up at `pos`.
fn button(pos: egui::Pos2, pressed: bool) -> egui::Event {
    egui::Event::PointerButton {
        pos,
        button: egui::PointerButton::Primary,
        pressed,
        modifiers: egui::Modifiers::NONE,
    }
}

fn editor_intents(p: &P) -> Vec<EditorIntent> {
    p.intents
        .iter()
        .filter_map(|i| match i {
            Intent::Editor(e) => Some(e.clone()),
            _ => None,
        })
        .collect()
}

#[test]
fn clicking_a_segment_selects_it_and_seeks_there() {
    let mut h = harness(doc(None), None);
    h.run();
    h.get_by_label("what your country can do for you,").click();
    h.run();
    assert_eq!(
        editor_intents(h.state()),
        [
            EditorIntent::Select(Some(2)),
            EditorIntent::Seek {
                ms: 5_380,
                play: true
            }
        ]
    );
}

/// Issue 14: a segment with word times shows its words one by one; a click on a word seeks
/// to it (without selecting the segment, so the words stay in view), an unsure word says its
/// probability, and "Re-transcribe selected" asks for the segment's span.
#[test]
fn clicking_a_word_seeks_to_it() {
    use verbatim::transcript::words::Word;
    let mut segs = jfk_segs();
    segs[0].set_words(&[
        Word::timed(320, 600, "And", Some(0.95)),
        Word::timed(600, 900, "so,", Some(0.9)),
        Word::timed(1_100, 1_300, "my", Some(0.97)),
        Word::timed(1_300, 1_700, "fellow", Some(0.2)),
        Word::timed(1_750, 2_270, "Americans,", Some(0.99)),
    ]);
    let mut d = doc(None);
    d.session = EditSession::new(segs, 11_000);
    let mut h = harness(d, None);
    h.run();
    h.get_by_label("fellow").click();
    h.run();
    assert_eq!(
        editor_intents(h.state()),
        [EditorIntent::Seek {
            ms: 1_300,
            play: true
        }]
    );
    // Segments without words are still one label.
    assert!(h.query_by_label("ask not").is_some());
    h.state_mut().intents.clear();
    h.state_mut().doc.selected = Some(1);
    h.run();
    h.get_by_label("Re-transcribe selected").click();
    h.run();
    assert_eq!(
        editor_intents(h.state()),
        [EditorIntent::Retranscribe {
            spans: vec![(3_270, 4_410)],
            beam: Some(5)
        }]
    );
}

#[test]
fn editing_the_selected_segment_and_saving_emit_intents() {
    let mut h = harness(doc(Some(0)), None);
    h.run();
    h.query_all_by_value("And so, my fellow Americans,")
        .find(|n| n.accesskit_node().role() == egui::accesskit::Role::TextInput)
        .expect("the text field of the selected segment")
        .click();
    h.run();
    let field = h
        .query_all_by_value("And so, my fellow Americans,")
        .find(|n| n.accesskit_node().role() == egui::accesskit::Role::TextInput)
        .unwrap();
    field.type_text(" friends");
    h.run();
    // Leaving the field commits the edit.
    h.get_by_label("ask not").click();
    h.run();
    let got = editor_intents(h.state());
    assert!(
        got.contains(&EditorIntent::Edit(Edit::SetText {
            index: 0,
            text: "And so, my fellow Americans, friends".into()
        })),
        "{got:?}"
    );
    // With unsaved edits, Save version emits a save.
    let mut d = doc(None);
    d.session
        .apply(&Edit::SetText {
            index: 1,
            text: "ask not now".into(),
        })
        .unwrap();
    let mut h = harness(d, None);
    h.run();
    h.get_by_label("Save version").click();
    h.run();
    assert_eq!(
        editor_intents(h.state()),
        [EditorIntent::Save { note: None }]
    );
}

#[test]
fn the_compare_view_renders_the_diff_spans_and_seeks() {
    let left = jfk_segs();
    let mut right = jfk_segs();
    right[0].text = "And so, my fellow citizens,".into();
    right[0].start_ms = 300;
    let cmp = CompareDoc {
        left: version(1, false),
        right: version(2, true),
        result: compare(&left, &right),
        left_segs: left,
        right_segs: right,
    };
    let mut h = harness(doc(None), Some(cmp));
    h.run();
    h.get_by_label("And so, my fellow Americans,");
    h.get_by_label("And so, my fellow citizens,");
    assert_eq!(h.query_all_by_label("⏱ timing").count(), 2);
    h.get_by_label_contains("WER 4.5%");
    h.get_by_label("And so, my fellow citizens,").click();
    h.run();
    assert_eq!(
        editor_intents(h.state()),
        [EditorIntent::Seek {
            ms: 300,
            play: true
        }]
    );
}

// ---------------------------------------------------------------------------------------------
// EditorPlugin, headless

#[derive(Resource, Default)]
struct Events(Vec<EditorEvent>);

fn collect(mut r: MessageReader<EditorEvent>, mut out: ResMut<Events>) {
    out.0.extend(r.read().cloned());
}

/// An app with jfk.wav imported and a transcript (version 1: `jfk_segs`).
fn app_with_transcript(dir: &Path) -> (App, TranscriptId) {
    let store = AudioStore::new(dir);
    let writer = DbWriter::spawn(&dir.join("verbatim.db")).unwrap();
    let mut app = headless_app(CorePlugin::new(writer, store));
    track_imports(&mut app);
    app.init_resource::<Events>().add_systems(Last, collect);
    app.world_mut()
        .write_message(ImportRequested(common::speech_dir().join("jfk.wav")));
    assert!(update_until(&mut app, Duration::from_secs(30), |w| !w
        .resource::<ImportLog>()
        .0
        .is_empty()));
    let audio = app.world().resource::<ImportLog>().0[0]
        .result
        .as_ref()
        .unwrap()
        .row
        .id;
    let mut conn = verbatim::storage::open(&dir.join("verbatim.db")).unwrap();
    let tx = conn.transaction().unwrap();
    let segs: Vec<Segment> = jfk_segs();
    let mut v = NewVersion::new(VersionSource::Model);
    v.model = Some("base.en".into());
    let (t, _) = repo::create_transcript(&tx, audio, None, Some("jfk.wav"), &v, &segs, 0).unwrap();
    tx.commit().unwrap();
    (app, t)
}

fn send(app: &mut App, cmd: EditorCommand, done: impl Fn(&EditorEvent) -> bool) -> EditorEvent {
    app.world_mut().resource_mut::<Events>().0.clear();
    app.world_mut().write_message(cmd);
    let mut got = None;
    assert!(update_until(app, Duration::from_secs(30), |w| {
        got = w.resource::<Events>().0.iter().find(|e| done(e)).cloned();
        got.is_some()
    }));
    got.unwrap()
}

fn any(_: &EditorEvent) -> bool {
    true
}

/// The open version's segment entities, in their order: (key, start, end, text).
fn segment_entities(app: &mut App) -> Vec<(u64, u64, u64, String)> {
    let world = app.world_mut();
    let mut open = world.query_filtered::<&Segments, With<OpenVersion>>();
    let Ok(order) = open.single(world).map(|s| s.entities().to_vec()) else {
        return Vec::new();
    };
    order
        .iter()
        .map(|e| {
            let id = world.get::<SegmentId>(*e).unwrap().0.0;
            let t = world.get::<SegmentTiming>(*e).unwrap();
            let text = world.get::<SegmentText>(*e).unwrap().0.clone();
            (id, t.start_ms, t.end_ms, text)
        })
        .collect()
}

/// The same, as the open session has them.
fn session_segments(app: &App) -> Vec<(u64, u64, u64, String)> {
    let doc = app.world().resource::<Editor>().doc.as_ref().unwrap();
    doc.session
        .keys()
        .iter()
        .zip(doc.session.segments())
        .map(|(k, s)| (k.0, s.start_ms, s.end_ms, s.text.clone()))
        .collect()
}

#[test]
fn save_creates_a_version_and_rollback_another() {
    let dir = tempfile::tempdir().unwrap();
    let (mut app, t) = app_with_transcript(dir.path());
    let open = EditorCommand::Open {
        transcript: t,
        version: None,
        segment: Some(1),
    };
    assert!(matches!(
        send(&mut app, open, any),
        EditorEvent::Opened { version: 1, .. }
    ));
    // Nothing to save yet; an overlapping edit is refused and changes nothing.
    assert!(matches!(
        send(&mut app, EditorCommand::Save { note: None }, any),
        EditorEvent::Refused(m) if m.contains("no changes")
    ));
    let bad = EditorCommand::Edit(Edit::SetTimes {
        index: 1,
        start_ms: 2_000,
        end_ms: 4_000,
    });
    assert!(matches!(send(&mut app, bad, any), EditorEvent::Refused(m) if m.contains("overlap")));
    // The open version's segments are entities, in order, and its versions too.
    assert_eq!(segment_entities(&mut app).len(), jfk_segs().len());
    assert_eq!(segment_entities(&mut app), session_segments(&app));
    let versions = app
        .world_mut()
        .query::<&TranscriptVersion>()
        .iter(app.world())
        .count();
    assert_eq!(versions, 1);
    app.world_mut()
        .write_message(EditorCommand::Edit(Edit::SetText {
            index: 0,
            text: "And so, my fellow citizens,".into(),
        }));
    app.update();
    let mirrored = segment_entities(&mut app);
    assert_eq!(mirrored[0].3, "And so, my fellow citizens,");
    assert_eq!(mirrored, session_segments(&app));
    // A split, then undo: the entities follow, the first half keeps its key.
    app.world_mut()
        .write_message(EditorCommand::Edit(Edit::Split {
            index: 1,
            at_ms: 4_000,
            at_char: None,
        }));
    app.update();
    let split = segment_entities(&mut app);
    assert_eq!(split.len(), jfk_segs().len() + 1);
    assert_eq!(split[1].0, mirrored[1].0);
    assert_eq!(split, session_segments(&app));
    app.world_mut().write_message(EditorCommand::Undo);
    app.update();
    assert_eq!(segment_entities(&mut app), mirrored);
    let saved = send(
        &mut app,
        EditorCommand::Save {
            note: Some("fix a word".into()),
        },
        |e| matches!(e, EditorEvent::Saved { .. }),
    );
    assert_eq!(
        saved,
        EditorEvent::Saved {
            transcript: t,
            version: 2
        }
    );
    // The editor reloads: version 2 is open and current.
    assert!(update_until(&mut app, Duration::from_secs(10), |w| w
        .resource::<Editor>()
        .doc
        .as_ref()
        .is_some_and(|d| d.version.number == 2 && !d.session.dirty())));
    let rolled = send(&mut app, EditorCommand::Rollback { to: 1 }, |e| {
        matches!(e, EditorEvent::Saved { .. })
    });
    assert_eq!(
        rolled,
        EditorEvent::Saved {
            transcript: t,
            version: 3
        }
    );
    // Reloaded: three version entities, related to the transcript's entity (which the
    // transcripts reload made after the save), the third one open.
    assert!(update_until(&mut app, Duration::from_secs(10), |w| {
        let doc_v3 = w
            .resource::<Editor>()
            .doc
            .as_ref()
            .is_some_and(|d| d.version.number == 3);
        let linked = w
            .try_query::<(&TranscriptVersion, &VersionOf)>()
            .map_or(0, |mut q| q.iter(w).count());
        doc_v3 && linked == 3
    }));
    let world = app.world_mut();
    let owner = world
        .query::<(Entity, &Transcript)>()
        .iter(world)
        .find(|(_, tr)| tr.0.id == t)
        .map(|(e, _)| e)
        .unwrap();
    let mut related: Vec<u32> = world
        .query::<(&TranscriptVersion, &VersionOf)>()
        .iter(world)
        .filter(|(_, of)| of.0 == owner)
        .map(|(v, _)| v.0.number)
        .collect();
    related.sort();
    assert_eq!(related, [1, 2, 3]);
    assert_eq!(segment_entities(&mut app), session_segments(&app));
    drop(app);

    let conn = verbatim::storage::open(&dir.path().join("verbatim.db")).unwrap();
    let vs = repo::versions(&conn, t).unwrap();
    assert_eq!(vs.len(), 3);
    assert_eq!(
        (vs[1].source, vs[1].note.as_deref()),
        (VersionSource::Edit, Some("fix a word"))
    );
    assert_eq!(vs[1].based_on, Some(vs[0].id));
    assert_eq!(vs[2].source, VersionSource::Rollback);
    assert!(vs[2].is_current);
    let v2 = repo::segments(&conn, vs[1].id).unwrap();
    assert_eq!(v2[0].text, "And so, my fellow citizens,");
    let v3 = repo::segments(&conn, vs[2].id).unwrap();
    assert_eq!(v3[0].text, "And so, my fellow Americans,");
    // Version 1 is untouched.
    assert_eq!(
        repo::segments(&conn, vs[0].id).unwrap()[0].text,
        "And so, my fellow Americans,"
    );
    // "citizens" for "Americans" is a correction, but not a name: nothing learnt.
    assert!(repo::vocabulary(&conn).unwrap().is_empty());
}

/// Issue 14, learning from corrections: a name the user put in the place of the model's word
/// is saved into the library's vocabulary with the version; the CLI lists it, gives it as the
/// prompt, removes it (and a removed correction stays removed when made again), adds terms.
#[test]
fn corrected_names_are_learnt_into_the_vocabulary() {
    let dir = tempfile::tempdir().unwrap();
    let (mut app, t) = app_with_transcript(dir.path());
    let open = EditorCommand::Open {
        transcript: t,
        version: None,
        segment: None,
    };
    send(&mut app, open, |e| matches!(e, EditorEvent::Opened { .. }));
    let correct = |app: &mut App, text: &str| {
        app.world_mut()
            .write_message(EditorCommand::Edit(Edit::SetText {
                index: 0,
                text: text.into(),
            }));
        app.update();
        let saved = send(app, EditorCommand::Save { note: None }, |e| {
            matches!(e, EditorEvent::Saved { .. })
        });
        assert!(matches!(saved, EditorEvent::Saved { .. }));
        assert!(update_until(app, Duration::from_secs(10), |w| w
            .resource::<Editor>()
            .doc
            .as_ref()
            .is_some_and(|d| !d.session.dirty())));
    };
    correct(&mut app, "And so, my fellow Bostonians,");
    let home = dir.path();
    let conn = verbatim::storage::open(&home.join("verbatim.db")).unwrap();
    let terms = repo::vocabulary(&conn).unwrap();
    assert_eq!(terms.len(), 1, "{terms:?}");
    assert_eq!(
        (
            terms[0].term.as_str(),
            terms[0].replaced.as_deref(),
            terms[0].source.as_str(),
            terms[0].transcript_id
        ),
        ("Bostonians", Some("Americans"), "correction", Some(t))
    );
    let (ok, out) = verbatim(home, &["vocabulary"]);
    assert!(
        ok && out.contains("Bostonians") && out.contains("Americans"),
        "{out}"
    );
    let (ok, out) = verbatim(home, &["vocabulary", "prompt"]);
    assert!(ok && out.trim() == "Bostonians.", "{out}");
    let (ok, out) = verbatim(home, &["vocabulary", "add", "Dashwood", "Marianne"]);
    assert!(ok && out.contains("2 term(s) added"), "{out}");
    let (ok, out) = verbatim(home, &["vocabulary", "remove", "bostonians"]);
    assert!(ok && out.contains("1 term(s) removed"), "{out}");
    let (ok, out) = verbatim(home, &["vocabulary", "remove", "nothing-like-it"]);
    assert!(!ok && out.contains("0 term(s) removed"), "{out}");
    // Made again (another word, then the correction once more): stays removed; going back to
    // the model's word is not a correction to learn either.
    correct(&mut app, "And so, my fellow citizens,");
    correct(&mut app, "And so, my fellow Bostonians,");
    correct(&mut app, "And so, my fellow Americans,");
    let (ok, out) = verbatim(home, &["vocabulary", "--json"]);
    assert!(ok, "{out}");
    let listed: Vec<serde_json::Value> = serde_json::from_str(&out).unwrap();
    let names: Vec<&str> = listed.iter().filter_map(|r| r["term"].as_str()).collect();
    assert_eq!(names.len(), 2, "{out}");
    assert!(
        names.contains(&"Dashwood") && names.contains(&"Marianne"),
        "{out}"
    );
    let (ok, out) = verbatim(home, &["vocabulary", "add", "Bostonians"]);
    assert!(ok && out.contains("1 term(s) added"), "{out}");
    assert_eq!(repo::vocabulary(&conn).unwrap().len(), 3);
}

#[test]
fn import_export_and_search_through_the_editor() {
    let dir = tempfile::tempdir().unwrap();
    let (mut app, t) = app_with_transcript(dir.path());
    let mut segs = jfk_segs();
    segs[3].text = "ask what you can do for your nation.".into();
    let ev = send(
        &mut app,
        EditorCommand::ImportVersion {
            transcript: t,
            segments: segs,
            note: "imported from fix.srt".into(),
        },
        any,
    );
    assert_eq!(
        ev,
        EditorEvent::Saved {
            transcript: t,
            version: 2
        }
    );
    let ev = send(
        &mut app,
        EditorCommand::Open {
            transcript: t,
            version: Some(1),
            segment: None,
        },
        any,
    );
    assert!(matches!(ev, EditorEvent::Opened { version: 1, .. }));
    let out = dir.path().join("v1.srt");
    let ev = send(
        &mut app,
        EditorCommand::Export {
            format: Format::Srt,
            path: out.clone(),
            words: false,
        },
        any,
    );
    assert!(matches!(ev, EditorEvent::Exported(_)));
    assert!(
        std::fs::read_to_string(&out)
            .unwrap()
            .contains("your country.")
    );
    let ev = send(&mut app, EditorCommand::Search("nation".into()), any);
    assert_eq!(ev, EditorEvent::Searched(1));
    let hit = app.world().resource::<Editor>().search_results[0].clone();
    assert_eq!(
        (hit.transcript_id, hit.version_number, hit.segment_index),
        (t, 2, 3)
    );
    for _ in 0..5 {
        app.update();
    }
    drop(app);
    let conn = verbatim::storage::open(&dir.path().join("verbatim.db")).unwrap();
    let (n, format): (i64, String) = conn
        .query_row("SELECT COUNT(*), MAX(format) FROM exports", [], |r| {
            Ok((r.get(0)?, r.get(1)?))
        })
        .unwrap();
    assert_eq!((n, format.as_str()), (1, "srt"));
}

// ---------------------------------------------------------------------------------------------
// CLI

fn verbatim(home: &Path, args: &[&str]) -> (bool, String) {
    let o = common::verbatim(home, args);
    (o.status.success(), common::text(&o))
}

/// A data directory with jfk.wav's transcript (version 1: `jfk_segs`) and the SRT `srt`
/// written as `name` and imported through the CLI; the directory, the transcript's id and the
/// import's success and output.
fn with_imported_srt(name: &str, srt: &str) -> (tempfile::TempDir, String, bool, String) {
    let dir = tempfile::tempdir().unwrap();
    let (app, t) = app_with_transcript(dir.path());
    drop(app);
    let file = dir.path().join(name);
    std::fs::write(&file, srt).unwrap();
    let id = t.0.to_string();
    let (ok, out) = verbatim(
        dir.path(),
        &["import", file.to_str().unwrap(), "--transcript", &id],
    );
    (dir, id, ok, out)
}

#[test]
fn cli_versions_diff_rollback_export_import_search() {
    let (dir, id, ok, out) = with_imported_srt(
        "fixed.srt",
        "1\n00:00:00,320 --> 00:00:02,270\nAnd so, my fellow citizens,\n\n2\n00:00:03,270 --> 00:00:04,410\nask not\n",
    );
    let home = dir.path();
    assert!(
        ok && out.contains("version 2 imported (2 segments)"),
        "{out}"
    );
    let (ok, out) = verbatim(home, &["versions", &id]);
    assert!(
        ok && out.contains("* v2") && out.contains("imported from fixed.srt"),
        "{out}"
    );
    let (ok, out) = verbatim(home, &["diff", &id, "--from", "1", "--to", "2"]);
    assert!(ok, "{out}");
    assert!(
        out.contains("<Americans,>") && out.contains("<citizens,>"),
        "{out}"
    );
    assert!(
        out.contains("[-what your country can do for you,-]"),
        "{out}"
    );
    let (ok, out) = verbatim(home, &["rollback", &id, "--to", "1"]);
    assert!(
        ok && out.contains("version 3 (a copy of version 1)"),
        "{out}"
    );
    let file = home.join("out.vtt");
    let (ok, out) = verbatim(
        home,
        &[
            "export",
            &id,
            "--version",
            "2",
            "--format",
            "vtt",
            "--out",
            file.to_str().unwrap(),
        ],
    );
    assert!(ok, "{out}");
    assert!(
        std::fs::read_to_string(&file)
            .unwrap()
            .starts_with("WEBVTT\n\n00:00:00.320 --> 00:00:02.270\nAnd so, my fellow citizens,")
    );
    let (ok, out) = verbatim(home, &["search", "americans", "--json"]);
    assert!(ok, "{out}");
    let hits: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(
        hits[0]["version_number"], 3,
        "the current version (the rollback) is searched"
    );
    let bad = home.join("bad.vtt");
    std::fs::write(&bad, "00:00:01.000 --> 00:00:02.000\nno header\n").unwrap();
    let (ok, out) = verbatim(
        home,
        &["import", bad.to_str().unwrap(), "--transcript", &id],
    );
    assert!(!ok && out.contains("starts with the line WEBVTT"), "{out}");
    let beyond = home.join("beyond.srt");
    std::fs::write(&beyond, "1\n00:00:10,000 --> 00:00:20,000\ntoo long\n").unwrap();
    let (ok, out) = verbatim(
        home,
        &["import", beyond.to_str().unwrap(), "--transcript", &id],
    );
    assert!(!ok && out.contains("after the audio (11000 ms)"), "{out}");
}

// ---------------------------------------------------------------------------------------------
// Playback: the callback's work, without a device

#[test]
fn playback_advances_seeks_loops_changes_speed_and_stops_at_the_end() {
    use std::sync::atomic::Ordering;
    use verbatim::playback::{Cursor, Shared, fill};
    let samples: Vec<f32> = (0..16_000).map(|i| i as f32 / 16_000.0).collect(); // 1 s ramp
    let shared = Shared::default();
    let mut cursor = Cursor::default();
    let mut out = vec![0f32; 4_800 * 2]; // 0.1 s of 48 kHz stereo
    // Paused: silence, no movement.
    fill(&mut out, 2, 48_000, &samples, &shared, &mut cursor);
    assert!(out.iter().all(|s| *s == 0.0));
    assert_eq!(shared.position.load(Ordering::Acquire), 0);
    shared.playing.store(true, Ordering::Release);
    fill(&mut out, 2, 48_000, &samples, &shared, &mut cursor);
    assert_eq!(shared.position.load(Ordering::Acquire), 1_600);
    assert_eq!(out[0], out[1], "both channels carry the sample");
    assert!((out[out.len() - 1] - 1_599.667 / 16_000.0).abs() < 1e-4);
    // Seek, then 2x speed.
    shared.seek_to.store(8_000, Ordering::Release);
    shared.speed_milli.store(2_000, Ordering::Relaxed);
    fill(&mut out, 2, 48_000, &samples, &shared, &mut cursor);
    assert_eq!(shared.position.load(Ordering::Acquire), 11_200);
    // A loop over 0.5-0.6 s keeps the position inside it.
    shared.speed_milli.store(1_000, Ordering::Relaxed);
    shared.seek_to.store(8_000, Ordering::Release);
    shared.loop_start.store(8_000, Ordering::Relaxed);
    shared.loop_end.store(9_600, Ordering::Relaxed);
    for _ in 0..5 {
        fill(&mut out, 2, 48_000, &samples, &shared, &mut cursor);
        let p = shared.position.load(Ordering::Acquire);
        assert!((8_000..9_600).contains(&p), "{p}");
    }
    // Past the end it stops and says so.
    shared.loop_end.store(0, Ordering::Relaxed);
    shared.seek_to.store(15_000, Ordering::Release);
    fill(&mut out, 2, 48_000, &samples, &shared, &mut cursor);
    assert!(!shared.playing.load(Ordering::Acquire));
    assert_eq!(shared.position.load(Ordering::Acquire), 16_000);
}

/// An app with only the editor's segment mirror, and a doc of `n` segments open.
fn mirror_app(n: usize) -> App {
    let mut app = App::new();
    app.add_plugins(MinimalPlugins)
        .init_resource::<Editor>()
        .add_plugins(verbatim::editor::segments::plugin)
        .add_systems(Update, verbatim::editor::segments::mirror)
        .init_resource::<Touched>()
        .add_systems(PostUpdate, count_touched);
    let segs: Vec<Segment> = (0..n as u64)
        .map(|i| Segment::new(i * 1_000, i * 1_000 + 900, format!("segment {i}")))
        .collect();
    let mut d = doc(None);
    d.session = EditSession::new(segs, n as u64 * 1_000);
    app.world_mut().resource_mut::<Editor>().doc = Some(d);
    app.update();
    app
}

fn edit(app: &mut App, e: Edit) {
    let mut editor = app.world_mut().resource_mut::<Editor>();
    editor.doc.as_mut().unwrap().session.apply(&e).unwrap();
}

/// How many segment texts the last frame wrote (spawned or changed).
#[derive(Resource, Default)]
struct Touched(usize);

fn count_touched(q: Query<(), Changed<SegmentText>>, mut t: ResMut<Touched>) {
    t.0 = q.iter().count();
}

fn touched(app: &App) -> usize {
    app.world().resource::<Touched>().0
}

#[test]
fn an_edit_of_one_of_10000_segments_touches_one_entity() {
    let mut app = mirror_app(10_000);
    assert_eq!(segment_entities(&mut app).len(), 10_000);
    assert_eq!(app.world().resource::<SegmentIndex>().len(), 10_000);
    // Everything is new once.
    assert_eq!(touched(&app), 10_000);
    let before = segment_entities(&mut app);

    edit(
        &mut app,
        Edit::SetText {
            index: 5_000,
            text: "edited".into(),
        },
    );
    app.update();
    assert_eq!(touched(&app), 1);
    let after = segment_entities(&mut app);
    assert_eq!(after[5_000].3, "edited");
    assert_eq!(after[5_000].0, before[5_000].0);
    assert_eq!(after, session_segments(&app));

    // A split spawns one entity in place; a merge of it despawns it; the rest is untouched.
    edit(
        &mut app,
        Edit::Split {
            index: 7_000,
            at_ms: 7_000_450,
            at_char: None,
        },
    );
    app.update();
    assert_eq!(touched(&app), 2);
    assert_eq!(segment_entities(&mut app), session_segments(&app));
    assert_eq!(app.world().resource::<SegmentIndex>().len(), 10_001);
    edit(&mut app, Edit::Merge { index: 7_000 });
    app.update();
    assert_eq!(touched(&app), 1);
    assert_eq!(segment_entities(&mut app), session_segments(&app));
    assert_eq!(app.world().resource::<SegmentIndex>().len(), 10_000);

    // Several changes in one frame (edit, split of the edited one, undo, redo) land in order.
    {
        let mut editor = app.world_mut().resource_mut::<Editor>();
        let s = &mut editor.doc.as_mut().unwrap().session;
        s.apply(&Edit::SetText {
            index: 3,
            text: "three".into(),
        })
        .unwrap();
        s.apply(&Edit::Split {
            index: 3,
            at_ms: 3_450,
            at_char: None,
        })
        .unwrap();
        s.apply(&Edit::Delete { index: 0 }).unwrap();
        assert!(s.undo());
        assert!(s.undo());
        assert!(s.redo());
        s.apply(&Edit::Insert {
            after: Some(9_000),
            text: "new".into(),
        })
        .unwrap();
    }
    app.update();
    assert_eq!(segment_entities(&mut app), session_segments(&app));
    let n = app
        .world()
        .resource::<Editor>()
        .doc
        .as_ref()
        .unwrap()
        .session
        .segments()
        .len();
    assert_eq!(app.world().resource::<SegmentIndex>().len(), n);

    // Closing the editor despawns them.
    app.world_mut().resource_mut::<Editor>().doc = None;
    app.update();
    assert!(segment_entities(&mut app).is_empty());
    assert!(app.world().resource::<SegmentIndex>().is_empty());
}

#[test]
fn segments_are_flagged_where_they_look_wrong_and_a_correction_clears_its_flag() {
    use verbatim::editor::flags::{Rules, SegmentFlags, flag_segments};
    use verbatim::transcript::flags::FlagKind;
    let mut app = App::new();
    app.add_plugins(MinimalPlugins)
        .init_resource::<Editor>()
        .init_resource::<Rules>()
        .add_plugins(verbatim::editor::segments::plugin)
        .add_systems(
            Update,
            (verbatim::editor::segments::mirror, flag_segments).chain(),
        );
    let segs = vec![
        Segment::new(0, 3_000, "And so my fellow Americans,"),
        Segment::new(3_000, 6_000, "thank you thank you thank you thank you"),
        Segment::new(6_000, 6_400, "ask not what your country can do for you"),
        Segment::new(6_400, 30_000, "ask what"),
        Segment::new(30_000, 33_000, "you can do for your country."),
    ];
    let mut d = doc(None);
    d.session = EditSession::new(segs, 40_000);
    app.world_mut().resource_mut::<Editor>().doc = Some(d);
    app.update();
    let flagged = |app: &mut App| -> Vec<Vec<FlagKind>> {
        let order: Vec<Entity> = {
            let world = app.world_mut();
            let mut open = world.query_filtered::<&Segments, With<OpenVersion>>();
            open.single(world).unwrap().entities().to_vec()
        };
        order
            .iter()
            .map(|e| {
                app.world()
                    .get::<SegmentFlags>(*e)
                    .unwrap()
                    .0
                    .iter()
                    .map(|f| f.kind)
                    .collect()
            })
            .collect()
    };
    assert_eq!(
        flagged(&mut app),
        vec![
            vec![],
            vec![FlagKind::Repetition],
            vec![FlagKind::TooFast],
            vec![FlagKind::TooLong],
            vec![],
        ]
    );
    // Correcting the loop clears its flag; the others keep theirs.
    edit(
        &mut app,
        Edit::SetText {
            index: 1,
            text: "thank you".into(),
        },
    );
    app.update();
    assert_eq!(
        flagged(&mut app),
        vec![
            vec![],
            vec![],
            vec![FlagKind::TooFast],
            vec![FlagKind::TooLong],
            vec![],
        ]
    );
}

/// `verbatim flags ID [--version N] [--json]`: a crafted version with a loop, text over-fast
/// for its span and a span far too long for its words is flagged exactly there; version 1
/// (jfk.wav as spoken) has no flag.
#[test]
fn cli_flags_lists_where_a_version_looks_wrong() {
    let (dir, id, ok, out) = with_imported_srt(
        "crafted.srt",
        "1\n00:00:00,000 --> 00:00:02,000\nAnd so, my fellow Americans,\n\n\
         2\n00:00:02,000 --> 00:00:02,400\nask not what your country can do for you,\n\n\
         3\n00:00:02,400 --> 00:00:05,000\nthank you thank you thank you thank you\n\n\
         4\n00:00:05,000 --> 00:00:11,000\nask\n",
    );
    assert!(ok, "{out}");
    let home = dir.path();
    let (ok, out) = verbatim(home, &["flags", &id, "--json"]);
    assert!(ok, "{out}");
    let json_start = out.find('[').unwrap();
    let flags: serde_json::Value = serde_json::from_str(&out[json_start..]).unwrap();
    let got: Vec<(u64, u64, String)> = flags
        .as_array()
        .unwrap()
        .iter()
        .map(|f| {
            assert!(!f["detail"].as_str().unwrap().is_empty());
            (
                f["start_ms"].as_u64().unwrap(),
                f["end_ms"].as_u64().unwrap(),
                f["kind"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    assert_eq!(
        got,
        [
            (2_000, 2_400, "too_fast".to_owned()),
            (2_400, 5_000, "repetition".to_owned()),
            (5_000, 11_000, "too_long".to_owned()),
        ]
    );
    let (ok, out) = verbatim(home, &["flags", &id, "--version", "1"]);
    assert!(
        ok && out.contains("No flags: 4 segments look right."),
        "{out}"
    );
}

/// Rows with flags, as the segment entities give them to the panel.
struct Flagged(Vec<(Segment, Vec<verbatim::transcript::flags::Flag>)>);

impl verbatim::editor::segments::SegmentRows for Flagged {
    fn len(&self) -> usize {
        self.0.len()
    }

    fn row(&self, i: usize) -> Option<verbatim::editor::segments::SegmentView<'_>> {
        self.0
            .get(i)
            .map(|(s, f)| verbatim::editor::segments::SegmentView {
                start_ms: s.start_ms,
                end_ms: s.end_ms,
                text: &s.text,
                flags: f,
                words: &[],
            })
    }
}

#[test]
fn a_flagged_segment_is_marked_in_the_list_with_why() {
    use verbatim::transcript::flags::{Flag, FlagKind};
    let rows = Flagged(
        jfk_segs()
            .into_iter()
            .enumerate()
            .map(|(i, s)| {
                let f = if i == 2 {
                    vec![Flag {
                        kind: FlagKind::TooFast,
                        detail: "33 characters in 0.40 s".into(),
                    }]
                } else {
                    Vec::new()
                };
                (s, f)
            })
            .collect(),
    );
    let mut h = Harness::builder()
        .with_size(egui::vec2(1200.0, 700.0))
        .build_ui_state(
            move |ui, p: &mut P| {
                let view = View {
                    doc: &p.doc,
                    segments: &rows,
                    compare: None,
                    player: PlayerView {
                        position_ms: 0,
                        playing: false,
                        speed: 1.0,
                        unavailable: None,
                    },
                    peaks: None,
                    spectrogram: None,
                    keyboard: p.keyboard,
                };
                editor_panel::show(ui, &view, &mut p.ui, &mut p.intents);
            },
            P {
                doc: doc(None),
                compare: None,
                ui: EditorUi::default(),
                intents: Vec::new(),
                keyboard: true,
            },
        );
    h.run();
    // One mark, for the one flagged segment.
    assert_eq!(h.query_all_by_label("⚠").count(), 1);
    assert!(h.query_by_label("⚠ 1 flagged").is_some());
    // Next flag (F8's button) selects it and moves the playhead there.
    h.get_by_label("Next flag ▶").click();
    h.run();
    let got = editor_intents(h.state());
    assert!(got.contains(&EditorIntent::Select(Some(2))), "{got:?}");
    assert!(
        got.contains(&EditorIntent::Seek {
            ms: 5_380,
            play: false
        }),
        "{got:?}"
    );
    // Only flagged segments: the list holds that one.
    assert!(h.query_by_label("00:00:00.320").is_some());
    h.get_by_label("Only flagged segments").click();
    h.run();
    assert!(h.state().ui.flagged_only);
    assert!(h.query_by_label("00:00:00.320").is_none());
    assert!(h.query_by_label("00:00:05.380").is_some());
    // The flags lane: what is wrong shows on hover, a click selects the segment.
    h.state_mut().intents.clear();
    let flags = h.state().ui.timeline_rects.unwrap().flags;
    let at = egui::pos2(
        flags.left() + flags.width() * 6_500.0 / 11_000.0,
        flags.center().y,
    );
    h.event(egui::Event::PointerMoved(at));
    for _ in 0..60 {
        h.step();
    }
    h.run();
    assert!(h.query_by_label("⚠ 33 characters in 0.40 s").is_some());
    for pressed in [true, false] {
        h.event(button(at, pressed));
        h.run();
    }
    assert_eq!(editor_intents(h.state()), [EditorIntent::Select(Some(2))]);
}

/// Next/previous flag from any place, wrapping around; none when nothing is flagged.
#[test]
fn next_and_previous_flag_wrap_around() {
    use verbatim::transcript::flags::{Flag, FlagKind};
    let flag = || {
        vec![Flag {
            kind: FlagKind::TooLong,
            detail: String::new(),
        }]
    };
    let rows = Flagged(
        jfk_segs()
            .into_iter()
            .enumerate()
            .map(|(i, s)| (s, if i == 0 || i == 2 { flag() } else { Vec::new() }))
            .collect(),
    );
    let next = |from, fwd| editor_panel::next_flagged(&rows, from, fwd);
    assert_eq!(next(None, true), Some(0));
    assert_eq!(next(Some(0), true), Some(2));
    assert_eq!(next(Some(1), true), Some(2));
    assert_eq!(next(Some(2), true), Some(0));
    assert_eq!(next(Some(3), false), Some(2));
    assert_eq!(next(Some(2), false), Some(0));
    assert_eq!(next(Some(0), false), Some(2));
    assert_eq!(next(None, false), Some(2));
    let clean = Flagged(jfk_segs().into_iter().map(|s| (s, Vec::new())).collect());
    assert_eq!(editor_panel::next_flagged(&clean, Some(1), true), None);
}

/// Issue 15, the timeline: + zooms in around the playhead (as an intent the window applies),
/// Ctrl+wheel over the waveform zooms around the pointer, 0 shows the whole file again; the
/// view stays inside the file and never narrower than 50 ms.
#[test]
fn the_timeline_zooms_with_keys_and_the_wheel_and_stays_in_the_file() {
    use verbatim::ui::editor_panel::{MIN_VIEW_MS, visible, zoomed};
    let mut h = harness(doc(None), None);
    h.run();
    h.key_press(egui::Key::Plus);
    h.run();
    // Playhead at 3.5 s of 11 s: half the span, 3.5 s still where it was on screen.
    assert_eq!(
        editor_intents(h.state()),
        [EditorIntent::View(Some((1_750, 5_500)))]
    );
    h.state_mut().intents.clear();
    h.key_press(egui::Key::Num0);
    h.run();
    assert_eq!(editor_intents(h.state()), [EditorIntent::View(None)]);
    // Ctrl+wheel over the waveform (egui reports it as zoom).
    h.state_mut().intents.clear();
    let wave = egui::pos2(600.0, 110.0);
    h.event(egui::Event::PointerMoved(wave));
    h.run();
    h.event(egui::Event::Zoom(2.0));
    h.run();
    let got = editor_intents(h.state());
    assert!(
        matches!(got.as_slice(), [EditorIntent::View(Some((_, 5_500)))]),
        "{got:?}"
    );

    assert_eq!(visible(11_000, None), (0, 11_000));
    assert_eq!(visible(11_000, Some((10_900, 1_000))), (10_000, 1_000));
    assert_eq!(visible(11_000, Some((5_000, 1))), (5_000, MIN_VIEW_MS));
    let mut v = (0, 11_000);
    for _ in 0..40 {
        v = zoomed(11_000, v, 0.5, 5_000);
    }
    assert_eq!(v.1, MIN_VIEW_MS);
    assert!(v.0 <= 5_000 && 5_000 <= v.0 + v.1, "{v:?}");
    assert_eq!(zoomed(11_000, v, 1e9, 5_000), (0, 11_000));
}

/// Issue 15, the segment lane: a click on a segment's block selects it; its edge dragged
/// there sets its times (the waveform's edges drag the same way).
#[test]
fn the_segment_lane_selects_and_its_edges_drag() {
    let mut h = harness(doc(None), None);
    h.run();
    let lane = h.state().ui.timeline_rects.unwrap().segments;
    let x = |ms: f32| lane.left() + lane.width() * ms / 11_000.0;
    let y = lane.center().y;
    // "what your country can do for you," runs 5.38-7.68 s.
    h.event(egui::Event::PointerMoved(egui::pos2(x(6_500.0), y)));
    h.run();
    h.event(button(egui::pos2(x(6_500.0), y), true));
    h.run();
    h.event(button(egui::pos2(x(6_500.0), y), false));
    h.run();
    assert_eq!(editor_intents(h.state()), [EditorIntent::Select(Some(2))]);
    h.state_mut().intents.clear();
    // Its start edge, grabbed and moved to 5 s.
    let from = egui::pos2(x(5_380.0), y);
    let to = egui::pos2(x(5_000.0), y);
    h.event(egui::Event::PointerMoved(from));
    h.run();
    h.event(button(from, true));
    h.run();
    for k in 1..=5 {
        h.event(egui::Event::PointerMoved(
            from + (to - from) * (k as f32 / 5.0),
        ));
        h.run();
    }
    h.event(button(to, false));
    h.run();
    let got = editor_intents(h.state());
    match got.as_slice() {
        [
            EditorIntent::Edit(Edit::SetTimes {
                index: 2,
                start_ms,
                end_ms: 7_680,
            }),
        ] => assert!(start_ms.abs_diff(5_000) <= 20, "{start_ms}"),
        _ => panic!("{got:?}"),
    }
}

/// While a file dialog or the settings window has the keyboard, the editor's shortcuts wait
/// (the export dialog's Enter must not split a segment, nor its Escape start playback); a
/// click on the spectrogram seeks like one on the waveform.
#[test]
fn shortcuts_wait_while_a_dialog_has_the_keyboard_and_the_spectrogram_seeks() {
    let mut h = harness(doc(None), None);
    h.state_mut().keyboard = false;
    h.run();
    for key in [
        egui::Key::Enter,
        egui::Key::Escape,
        egui::Key::F2,
        egui::Key::Plus,
    ] {
        h.key_press(key);
        h.run();
    }
    assert_eq!(editor_intents(h.state()), []);
    h.state_mut().keyboard = true;
    h.run();
    h.key_press(egui::Key::Escape);
    h.run();
    assert_eq!(editor_intents(h.state()), [EditorIntent::TogglePlay]);
    h.state_mut().intents.clear();
    // The spectrogram sits under the word lane, as wide as the waveform.
    let lanes = h.state().ui.timeline_rects.unwrap();
    let at = egui::pos2(
        lanes.wave.left() + lanes.wave.width() * 6_000.0 / 11_000.0,
        lanes.words.bottom() + 20.0,
    );
    h.event(egui::Event::PointerMoved(at));
    h.run();
    for pressed in [true, false] {
        h.event(button(at, pressed));
        h.run();
    }
    match editor_intents(h.state()).as_slice() {
        [EditorIntent::Seek { ms, play: false }] => {
            assert!(ms.abs_diff(6_000) <= 20, "{ms}")
        }
        got => panic!("{got:?}"),
    }
}
