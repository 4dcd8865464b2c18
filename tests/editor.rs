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
use verbatim::editor::rows::SegmentList;
use verbatim::editor::segments::{
    OpenVersion, SegmentId, SegmentIndex, SegmentText, SegmentTiming, Segments, TranscriptVersion,
    VersionOf,
};
use verbatim::editor::{CompareDoc, Doc, Editor, EditorCommand, EditorEvent};
use verbatim::headless::{ImportLog, track_imports, update_until};
use verbatim::library::ImportRequested;
use verbatim::library::transcripts::Transcript;
use verbatim::storage::ids::{AudioFileId, TranscriptId, VersionId};
use verbatim::transcript;
use verbatim::transcript::Segment;
use verbatim::transcript::diff::compare;
use verbatim::transcript::edit::{Edit, EditSession};
use verbatim::transcript::export::Format;
use verbatim::transcript::sql::{NewVersion, TranscriptRow, VersionRow, VersionSource};
use verbatim::ui::Intent;
use verbatim::ui::editor::{self as panel, EditorIntent, EditorUi, PlayerView, View};

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
        bookmarks: vec![verbatim::transcribe::live::sql::Bookmark {
            start_ms: 2_000,
            end_ms: 3_500,
            label: "ask not what your country".into(),
        }],
        draft: None,
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

/// The editor panel over `p`'s document, the playhead at 3.5 s.
fn draw(ui: &mut egui::Ui, p: &mut P) {
    draw_rows(ui, p, None, 3_500);
}

/// The editor panel over `p`'s document with these rows (default: the document's own), the
/// playhead at `position_ms`.
fn draw_rows(
    ui: &mut egui::Ui,
    p: &mut P,
    rows: Option<&dyn verbatim::editor::rows::SegmentRows>,
    position_ms: u64,
) {
    let own = SegmentList::of_session(&p.doc.session);
    let view = View {
        doc: &p.doc,
        segments: rows.unwrap_or(&own),
        compare: p.compare.as_ref(),
        player: PlayerView {
            position_ms,
            playing: false,
            speed: 1.0,
            unavailable: None,
        },
        peaks: None,
        spectrogram: None,
        keyboard: p.keyboard,
        finding_speakers: None,
    };
    panel::show(ui, &view, &mut p.ui, &mut p.intents);
}

fn panel(doc: Doc, compare: Option<CompareDoc>) -> P {
    P {
        doc,
        compare,
        ui: EditorUi::default(),
        intents: Vec::new(),
        keyboard: true,
    }
}

fn harness(doc: Doc, compare: Option<CompareDoc>) -> Harness<'static, P> {
    Harness::builder()
        .with_size(egui::vec2(1200.0, 700.0))
        .build_ui_state(draw, panel(doc, compare))
}

/// Space as a keyboard gives it: the key, and the text it types (a field takes the text).
fn press_space<S>(h: &Harness<'static, S>) {
    h.key_down(egui::Key::Space);
    h.event(egui::Event::Text(" ".into()));
    h.key_up(egui::Key::Space);
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
    let d = &h.state().doc;
    assert!(
        got.contains(&EditorIntent::EditText {
            version: d.version.id,
            key: d.session.keys()[0],
            base: "And so, my fellow Americans,".into(),
            text: "And so, my fellow Americans, friends".into()
        }),
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
    // What happened to the row is said once, on the new side.
    assert_eq!(h.query_all_by_label("retimed").count(), 1);
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
    let mut app = common::core_app(dir);
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
    let (t, _) =
        transcript::sql::create_transcript(&tx, audio, None, Some("jfk.wav"), &v, &segs, 0)
            .unwrap();
    tx.commit().unwrap();
    (app, t)
}

/// `app_with_transcript`, with its transcript open in the editor (its current version).
fn opened(dir: &Path) -> (App, TranscriptId, EditorCommand) {
    let (mut app, t) = app_with_transcript(dir);
    let open = EditorCommand::Open {
        transcript: t,
        version: None,
        segment: None,
    };
    send(&mut app, open.clone(), |e| {
        matches!(e, EditorEvent::Opened { .. })
    });
    (app, t, open)
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

/// Issue 27, defect 2: unsaved edits survive a kill. They are written as the transcript's
/// draft as they are made; a new app on the same library offers them at the next open;
/// restored, they are unsaved edits of the version they were made on, and saving them
/// deletes the draft. Undoing back to the saved state deletes it too.
#[test]
fn unsaved_edits_survive_a_kill_and_are_offered_back() {
    let dir = tempfile::tempdir().unwrap();
    let (mut app, t, open) = opened(dir.path());
    let edit = |text: &str| {
        EditorCommand::Edit(Edit::SetText {
            index: 1,
            text: text.into(),
        })
    };
    app.world_mut().write_message(edit("ask not now"));
    let db = dir.path().join("verbatim.db");
    let draft = |db: &Path| {
        let conn = verbatim::storage::open(db).unwrap();
        verbatim::editor::drafts::get(&conn, t).unwrap()
    };
    assert!(update_until(&mut app, Duration::from_secs(30), |_| draft(
        &db
    )
    .is_some_and(|d| d.segments[1].text == "ask not now")));
    // Undone back to what is saved: nothing to keep.
    app.world_mut().write_message(EditorCommand::Undo);
    assert!(update_until(&mut app, Duration::from_secs(30), |_| draft(
        &db
    )
    .is_none()));
    app.world_mut().write_message(EditorCommand::Redo);
    app.world_mut().write_message(edit("ask not, now"));
    assert!(update_until(&mut app, Duration::from_secs(30), |_| draft(
        &db
    )
    .is_some_and(|d| d.segments[1].text == "ask not, now")));
    // Killed: the app goes without closing anything.
    std::mem::forget(app);
    let mut app = common::core_app(dir.path());
    app.init_resource::<Events>().add_systems(Last, collect);
    send(&mut app, open, |e| matches!(e, EditorEvent::Opened { .. }));
    let offered = app
        .world()
        .resource::<Editor>()
        .doc
        .as_ref()
        .unwrap()
        .draft
        .clone();
    let offered = offered.expect("the unsaved edits are offered");
    assert_eq!(offered.base_number, 1);
    assert_eq!(offered.segments[1].text, "ask not, now");
    assert!(
        !app.world().resource::<Editor>().unsaved(),
        "nothing applied unasked"
    );
    send(&mut app, EditorCommand::RestoreDraft, |e| {
        matches!(e, EditorEvent::Opened { .. })
    });
    let doc = app.world().resource::<Editor>().doc.as_ref().unwrap();
    assert!(doc.session.dirty() && doc.draft.is_none());
    assert_eq!(doc.session.segments()[1].text, "ask not, now");
    assert_eq!(segment_entities(&mut app), session_segments(&app));
    assert!(matches!(
        send(&mut app, EditorCommand::Save { note: None }, |e| matches!(
            e,
            EditorEvent::Saved { .. } | EditorEvent::Failed(_) | EditorEvent::Refused(_)
        )),
        EditorEvent::Saved { version: 2, .. }
    ));
    assert!(
        draft(&db).is_none(),
        "saved: the draft is gone with the save"
    );
}

/// Issue 27 (and the lost update of issue 28): a version saved since the edits began (a job,
/// the CLI, another window) is never silently undone by a save built on the old one. The save
/// is refused and the edits stay; "Save on top" is the user's explicit choice.
#[test]
fn a_save_on_a_stale_base_is_refused_and_the_edits_stay() {
    let dir = tempfile::tempdir().unwrap();
    let (mut app, t, _) = opened(dir.path());
    app.world_mut()
        .write_message(EditorCommand::Edit(Edit::SetText {
            index: 1,
            text: "ask not now".into(),
        }));
    app.update();
    // Meanwhile another process saves version 2.
    {
        let mut conn = verbatim::storage::open(&dir.path().join("verbatim.db")).unwrap();
        let tx = conn.transaction().unwrap();
        let mut other = jfk_segs();
        other[3].text = "ask what you can do for your country!".into();
        transcript::sql::add_version(&tx, t, &NewVersion::new(VersionSource::Import), &other, 5)
            .unwrap();
        tx.commit().unwrap();
    }
    let got = send(&mut app, EditorCommand::Save { note: None }, |e| {
        !matches!(e, EditorEvent::Opened { .. })
    });
    assert_eq!(
        got,
        EditorEvent::Stale {
            transcript: t,
            base: 1,
            current: 2
        }
    );
    let doc = app.world().resource::<Editor>().doc.as_ref().unwrap();
    assert!(doc.session.dirty(), "the edits stay");
    assert_eq!(doc.session.segments()[1].text, "ask not now");
    let got = send(&mut app, EditorCommand::SaveOnTop { note: None }, |e| {
        matches!(e, EditorEvent::Saved { .. } | EditorEvent::Failed(_))
    });
    assert_eq!(
        got,
        EditorEvent::Saved {
            transcript: t,
            version: 3
        }
    );
    let conn = verbatim::storage::open(&dir.path().join("verbatim.db")).unwrap();
    let v = transcript::sql::versions(&conn, t).unwrap();
    assert_eq!(
        v[2].based_on,
        Some(v[1].id),
        "on top of the version saved meanwhile"
    );
}

/// Two opens in a row: whatever order the answers come in, the last one asked for is open
/// (an older answer is dropped); a close drops an answer still on its way.
#[test]
fn the_last_open_wins_and_a_close_drops_a_late_answer() {
    let dir = tempfile::tempdir().unwrap();
    let (mut app, t) = app_with_transcript(dir.path());
    {
        let mut conn = verbatim::storage::open(&dir.path().join("verbatim.db")).unwrap();
        let tx = conn.transaction().unwrap();
        let mut two = jfk_segs();
        two[0].text = "version two".into();
        transcript::sql::add_version(&tx, t, &NewVersion::new(VersionSource::Edit), &two, 5)
            .unwrap();
        tx.commit().unwrap();
    }
    for n in [1, 2] {
        app.world_mut().write_message(EditorCommand::Open {
            transcript: t,
            version: Some(n),
            segment: None,
        });
    }
    assert!(update_until(&mut app, Duration::from_secs(30), |w| w
        .resource::<Editor>()
        .doc
        .as_ref()
        .is_some_and(|d| d.version.number == 2)));
    for _ in 0..10 {
        app.update();
    }
    assert_eq!(
        app.world()
            .resource::<Editor>()
            .doc
            .as_ref()
            .unwrap()
            .version
            .number,
        2
    );
    app.world_mut().write_message(EditorCommand::Open {
        transcript: t,
        version: Some(1),
        segment: None,
    });
    app.world_mut().write_message(EditorCommand::Close);
    for _ in 0..30 {
        app.update();
        std::thread::sleep(Duration::from_millis(5));
    }
    assert!(
        app.world().resource::<Editor>().doc.is_none(),
        "closed stays closed"
    );
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
    let vs = transcript::sql::versions(&conn, t).unwrap();
    assert_eq!(vs.len(), 3);
    assert_eq!(
        (vs[1].source, vs[1].note.as_deref()),
        (VersionSource::Edit, Some("fix a word"))
    );
    assert_eq!(vs[1].based_on, Some(vs[0].id));
    assert_eq!(vs[2].source, VersionSource::Rollback);
    assert!(vs[2].is_current);
    let v2 = transcript::sql::segments(&conn, vs[1].id).unwrap();
    assert_eq!(v2[0].text, "And so, my fellow citizens,");
    let v3 = transcript::sql::segments(&conn, vs[2].id).unwrap();
    assert_eq!(v3[0].text, "And so, my fellow Americans,");
    // Version 1 is untouched.
    assert_eq!(
        transcript::sql::segments(&conn, vs[0].id).unwrap()[0].text,
        "And so, my fellow Americans,"
    );
    // "citizens" for "Americans" is a correction, but not a name: nothing learnt.
    assert!(
        verbatim::transcript::vocabulary::vocabulary(&conn)
            .unwrap()
            .is_empty()
    );
}

/// Issue 14, learning from corrections: a name the user put in the place of the model's word
/// is saved into the library's vocabulary with the version; the CLI lists it, gives it as the
/// prompt, removes it (and a removed correction stays removed when made again), adds terms.
#[test]
fn corrected_names_are_learnt_into_the_vocabulary() {
    let dir = tempfile::tempdir().unwrap();
    let (mut app, t, _) = opened(dir.path());
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
    let terms = verbatim::transcript::vocabulary::vocabulary(&conn).unwrap();
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
    assert_eq!(
        verbatim::transcript::vocabulary::vocabulary(&conn)
            .unwrap()
            .len(),
        3
    );
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
    let search = EditorCommand::Search {
        query: "nation".into(),
        speaker: None,
    };
    let ev = send(&mut app, search, any);
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

/// The whole panel over `rows` (no document of its own), at 1200 × 700.
fn rows_harness(rows: Flagged) -> Harness<'static, P> {
    Harness::builder()
        .with_size(egui::vec2(1200.0, 700.0))
        .build_ui_state(
            move |ui, p: &mut P| draw_rows(ui, p, Some(&rows), 0),
            P {
                doc: doc(None),
                compare: None,
                ui: EditorUi::default(),
                intents: Vec::new(),
                keyboard: true,
            },
        )
}

/// Rows with flags, as the segment entities give them to the panel.
struct Flagged(Vec<(Segment, Vec<verbatim::transcript::flags::Flag>)>);

impl verbatim::editor::rows::SegmentRows for Flagged {
    fn len(&self) -> usize {
        self.0.len()
    }

    fn row(&self, i: usize) -> Option<verbatim::editor::rows::SegmentView<'_>> {
        self.0
            .get(i)
            .map(|(s, f)| verbatim::editor::rows::SegmentView {
                key: verbatim::transcript::edit::SegmentKey(i as u64),
                start_ms: s.start_ms,
                end_ms: s.end_ms,
                text: &s.text,
                flags: f,
                words: &[],
                speaker: s.speaker.as_deref(),
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
    let mut h = rows_harness(rows);
    h.run();
    // One mark, for the one flagged segment.
    assert_eq!(h.query_all_by_label("⚠").count(), 1);
    assert!(h.query_by_label("⚠ 1 flagged").is_some());
    // Next flag (F8's button) selects it and moves the playhead there; a zoomed-in timeline
    // brings it into view (issue 27).
    h.state_mut().ui.view = Some((0, 2_000));
    h.get_by_label("Next flag ▶").click();
    h.run();
    let (start, span) = h.state().ui.view.unwrap();
    assert!(
        start <= 5_380 && 5_380 < start + span,
        "{:?}",
        (start, span)
    );
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
    let next = |from, fwd| panel::next_flagged(&rows, from, fwd);
    assert_eq!(next(None, true), Some(0));
    assert_eq!(next(Some(0), true), Some(2));
    assert_eq!(next(Some(1), true), Some(2));
    assert_eq!(next(Some(2), true), Some(0));
    assert_eq!(next(Some(3), false), Some(2));
    assert_eq!(next(Some(2), false), Some(0));
    assert_eq!(next(Some(0), false), Some(2));
    assert_eq!(next(None, false), Some(2));
    let clean = Flagged(jfk_segs().into_iter().map(|s| (s, Vec::new())).collect());
    assert_eq!(panel::next_flagged(&clean, Some(1), true), None);
}

/// Issue 27: F8 moved the playhead to the next flag but left it out of view on a zoomed-in
/// timeline: the view now moves to it (and stays put when it is already in view).
#[test]
fn a_jump_to_a_flag_brings_it_into_the_timelines_view() {
    // Zoomed to 2 s at the start of an 11 s file; the flag at 8.16-10.62 s.
    let v = panel::into_view(11_000, Some((0, 2_000)), (8_160, 10_620)).unwrap();
    assert!(v.0 <= 8_160 && 8_160 < v.0 + v.1, "{v:?}");
    assert_eq!(v.1, 2_000, "the zoom stays");
    assert_eq!(
        panel::into_view(11_000, Some((8_000, 2_000)), (8_160, 9_000)),
        None
    );
    // The whole file shown: nothing to move.
    assert_eq!(panel::into_view(11_000, None, (8_160, 10_620)), None);
    // (Through the panel: `a_flagged_segment_is_marked_in_the_list_with_why`.)
}

/// Issue 27, defect 7: at 1024×700 with the library shown, Save version and Export were off
/// the right edge. The editor's rows wrap: every control is inside the panel down to the
/// main area of a 1024 px window (the library takes 380 px of it).
#[test]
fn the_editors_controls_stay_inside_a_narrow_window() {
    for width in [644.0, 900.0] {
        let mut d = doc(Some(1));
        d.session
            .apply(&Edit::SetText {
                index: 1,
                text: "ask not now".into(),
            })
            .unwrap();
        let mut h = Harness::builder()
            .with_size(egui::vec2(width, 640.0))
            .build_ui_state(draw, panel(d, None));
        h.run();
        for label in [
            "Close",
            "Split at playhead",
            "Merge with next",
            "Delete",
            "Insert after",
            "Undo",
            "Redo",
            "Save version",
            "Export",
            "Re-transcribe selected",
            "Re-transcribe flagged",
        ] {
            let r = h.get_by_label(label).rect();
            assert!(
                r.right() <= width + 0.5 && r.left() >= 0.0,
                "{label} at {r:?} in a panel {width} px wide"
            );
        }
    }
}

/// Issue 15, the timeline: + zooms in around the playhead (as an intent the window applies),
/// Ctrl+wheel over the waveform zooms around the pointer, 0 shows the whole file again; the
/// view stays inside the file and never narrower than 50 ms.
#[test]
fn the_timeline_zooms_with_keys_and_the_wheel_and_stays_in_the_file() {
    use verbatim::ui::editor::{MIN_VIEW_MS, visible, zoomed};
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

// ---------------------------------------------------------------------------------------
// Issue 27: the editor driven as people drive it. A seeded random walk of user actions runs
// through the real panel (egui_kittest) and the real ECS (EditorPlugin over a real database),
// and after every step checks what must always hold.

mod model {
    use super::*;
    use verbatim::editor::flags::FlaggedCount;
    use verbatim::editor::rows::{OpenSegments, SegmentRowData};
    use verbatim::ui::editor_command;

    /// xorshift64*: the walk is the same for the same seed, with no dependency.
    pub struct Rng(u64);

    impl Rng {
        pub fn new(seed: u64) -> Self {
            Self(seed.max(1))
        }
        pub fn next(&mut self) -> u64 {
            self.0 ^= self.0 >> 12;
            self.0 ^= self.0 << 25;
            self.0 ^= self.0 >> 27;
            self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
        }
        pub fn below(&mut self, n: usize) -> usize {
            (self.next() % n.max(1) as u64) as usize
        }
    }

    /// The window as the test drives it: the app, the panel's state, what the panel asked for,
    /// the playhead, and the player's play/pause (the window's player, modelled).
    pub struct World {
        pub app: App,
        pub ui: EditorUi,
        pub intents: Vec<Intent>,
        pub position_ms: u64,
        pub playing: bool,
    }

    pub fn harness(app: App) -> Harness<'static, World> {
        Harness::builder()
            .with_size(egui::vec2(1400.0, 900.0))
            .build_ui_state(
                |ui, w: &mut World| {
                    let world = w.app.world_mut();
                    let mut open = world.query_filtered::<&Segments, With<OpenVersion>>();
                    let order: Vec<Entity> = open
                        .single(world)
                        .map(|s| s.entities().to_vec())
                        .unwrap_or_default();
                    let mut rows_state = world.query::<SegmentRowData>();
                    let world: &bevy::ecs::world::World = world;
                    let rows = rows_state.query(world);
                    let editor = world.resource::<Editor>();
                    let Some(doc) = editor.doc.as_ref() else {
                        ui.label("nothing open");
                        return;
                    };
                    let segments = OpenSegments {
                        order: &order,
                        rows: &rows,
                        flagged: world.resource::<FlaggedCount>().0,
                    };
                    let view = View {
                        doc,
                        segments: &segments,
                        compare: editor.compare.as_ref(),
                        player: PlayerView {
                            position_ms: w.position_ms,
                            playing: w.playing,
                            speed: 1.0,
                            unavailable: None,
                        },
                        peaks: None,
                        spectrogram: None,
                        keyboard: true,
                        finding_speakers: None,
                    };
                    panel::show(ui, &view, &mut w.ui, &mut w.intents);
                },
                World {
                    app,
                    ui: EditorUi::default(),
                    intents: Vec::new(),
                    position_ms: 0,
                    playing: false,
                },
            )
    }

    pub fn doc<'a>(h: &'a Harness<'static, World>) -> &'a Doc {
        h.state()
            .app
            .world()
            .resource::<Editor>()
            .doc
            .as_ref()
            .expect("a transcript is open")
    }

    /// (key, start, end, text) of the session's segments.
    pub fn segs(h: &Harness<'static, World>) -> Vec<(u64, u64, u64, String)> {
        session_segments(&h.state().app)
    }

    /// What leaving asks for: the router's part (the prompt is modelled by the caller).
    #[derive(Debug, Clone, Copy, PartialEq, Eq)]
    pub enum Asked {
        Nothing,
        Close,
    }

    /// Routes what the panel asked for as the window's router does, runs the app until the
    /// editor has acted on it (and a database answer is in), and draws again.
    pub fn settle(h: &mut Harness<'static, World>) -> Asked {
        let mut asked = Asked::Nothing;
        let intents: Vec<Intent> = std::mem::take(&mut h.state_mut().intents);
        let mut waits = false;
        for i in intents {
            let Intent::Editor(e) = i else { continue };
            match e {
                EditorIntent::Seek { ms, .. } => h.state_mut().position_ms = ms,
                EditorIntent::TogglePlay => {
                    let w = h.state_mut();
                    w.playing = !w.playing;
                }
                EditorIntent::Close => asked = Asked::Close,
                e => {
                    waits |= matches!(
                        e,
                        EditorIntent::Save { .. }
                            | EditorIntent::SaveOnTop { .. }
                            | EditorIntent::Rollback(_)
                            | EditorIntent::DiscardEdits
                    );
                    if let Some(c) = editor_command(e) {
                        h.state_mut().app.world_mut().write_message(c);
                    }
                }
            }
        }
        run_app(h, waits);
        asked
    }

    /// Runs the app: a few frames, or (`waits`) until the database has answered.
    pub fn run_app(h: &mut Harness<'static, World>, waits: bool) {
        let app = &mut h.state_mut().app;
        if waits {
            app.world_mut().resource_mut::<Events>().0.clear();
            assert!(update_until(app, Duration::from_secs(30), |w| {
                let ev = &w.resource::<Events>().0;
                // A save is followed by the reload of the new version.
                ev.iter().any(|e| {
                    matches!(
                        e,
                        EditorEvent::Opened { .. }
                            | EditorEvent::Refused(_)
                            | EditorEvent::Failed(_)
                            | EditorEvent::Stale { .. }
                            | EditorEvent::Discarded
                    )
                })
            }));
        }
        for _ in 0..3 {
            app.update();
        }
        h.run();
    }

    pub fn field<'a>(h: &'a Harness<'static, World>) -> Option<egui_kittest::Node<'a>> {
        h.query_all_by_role(egui::accesskit::Role::TextInput)
            .find(|n| n.value().is_some() && n.rect().width() > 300.0)
    }

    /// The selected segment's index, if any.
    pub fn selected(h: &Harness<'static, World>) -> Option<usize> {
        doc(h).selected
    }

    /// Clicks the start time of a row in the list (the label, not the selected row's time
    /// field, which shows the same text).
    pub fn click_time(h: &mut Harness<'static, World>, ms: u64) -> bool {
        let label = verbatim::transcript::export::timestamp(ms, '.');
        let Some(node) = h
            .query_all_by_label(&label)
            .find(|n| n.accesskit_node().role() == egui::accesskit::Role::Label)
        else {
            return false;
        };
        node.click();
        h.run();
        true
    }
}

/// Issue 27, defect 1: after a split, the selected row's field still held the text of the
/// segment that had been at its position; leaving it wrote that text over the new segment.
#[test]
fn a_field_never_writes_a_stale_text_over_another_segment() {
    use model::*;
    let dir = tempfile::tempdir().unwrap();
    let (app, _, _) = opened(dir.path());
    let mut h = harness(app);
    h.run();
    // Select segment 2 (index 1), edit it, Enter.
    click_time(&mut h, 3_270);
    settle(&mut h);
    field(&h).unwrap().click();
    h.run();
    field(&h).unwrap().type_text(" now");
    h.run();
    h.key_press(egui::Key::Enter);
    h.run();
    settle(&mut h);
    assert_eq!(segs(&h)[1].3, "ask not now");
    // Into the field again, Escape out of it, then split segment 1 at the playhead.
    field(&h).unwrap().click();
    h.run();
    h.key_press(egui::Key::Escape);
    h.run();
    settle(&mut h);
    h.state_mut().position_ms = 1_200;
    h.get_by_label("Split at playhead").click();
    h.run();
    settle(&mut h);
    let after = segs(&h);
    assert_eq!(after.len(), 5, "{after:?}");
    // The selection followed its segment (now the third), and the field shows that segment.
    assert_eq!(selected(&h), Some(2));
    let shown = field(&h).unwrap().value().unwrap();
    assert_eq!(
        shown, "ask not now",
        "the field shows the segment it belongs to"
    );
    // The second half of the split segment, selected: its field shows its own text.
    click_time(&mut h, after[1].1);
    settle(&mut h);
    assert_eq!(selected(&h), Some(1));
    assert_eq!(field(&h).unwrap().value().unwrap(), after[1].3);
    // Into the field and out again, without typing: nothing is written.
    field(&h).unwrap().click();
    h.run();
    click_time(&mut h, 8_160);
    settle(&mut h);
    assert_eq!(segs(&h), after, "leaving a field untouched writes nothing");
    assert_eq!(after[2].3, "ask not now");
}

/// Issue 27, defect 3: Enter in another text field (the library's search box, drawn before
/// the editor) split the open transcript; Space in a field typed a space and played; a focused
/// button pressed by Space or Enter also acted as a shortcut.
#[test]
fn keys_typed_into_a_field_are_the_fields() {
    let mut h = Harness::builder()
        .with_size(egui::vec2(1400.0, 800.0))
        .build_ui_state(
            |ui, p: &mut (P, String)| {
                // The search box first, as the library sidebar is drawn before the editor.
                ui.add(egui::TextEdit::singleline(&mut p.1).id_salt("search"));
                draw(ui, &mut p.0);
            },
            (panel(doc(None), None), String::new()),
        );
    h.run();
    let search = h
        .query_all_by_role(egui::accesskit::Role::TextInput)
        .next()
        .unwrap();
    search.click();
    h.run();
    h.query_all_by_role(egui::accesskit::Role::TextInput)
        .next()
        .unwrap()
        .type_text("fellow country");
    h.run();
    press_space(&h);
    h.run();
    h.key_press(egui::Key::Enter);
    h.run();
    let got: Vec<EditorIntent> = editor_intents(&h.state().0)
        .into_iter()
        .filter(|i| !matches!(i, EditorIntent::Typing(_)))
        .collect();
    assert_eq!(
        got,
        [],
        "keys typed into the search box are not editor commands"
    );
    assert_eq!(h.state().1, "fellow country ");
    // With no field focused, Space plays and Enter splits at the playhead (once each).
    press_space(&h);
    h.run();
    h.key_press(egui::Key::Enter);
    h.run();
    assert_eq!(
        editor_intents(&h.state().0),
        [
            EditorIntent::TogglePlay,
            EditorIntent::Edit(Edit::Split {
                index: 1,
                at_ms: 3_500,
                at_char: None
            })
        ]
    );
}

/// Issue 27: the model-based test. Thousands of seeded random user actions (more with
/// VERBATIM_EDITOR_STEPS=N, another walk with VERBATIM_EDITOR_SEED=N) through the real panel
/// and the real ECS, with these checked after every step:
/// - the segment entities are the session's segments (the ECS mirror is exact);
/// - the field shows the selected segment's text unless the user typed into it;
/// - no segment changes without a typed edit or an edit command;
/// - undo then redo gives back the same state;
/// - a save then reopen gives exactly what was on screen (and the database holds it);
/// - leaving with unsaved work (edits or typed text) always asks first.
#[test]
fn the_editor_driven_at_random_keeps_every_invariant() {
    use model::*;
    use verbatim::ui::editor::TextDraft;
    use verbatim::ui::{editor_command, must_ask_before_leaving};
    let steps: usize = std::env::var("VERBATIM_EDITOR_STEPS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(2_000);
    let seed: u64 = std::env::var("VERBATIM_EDITOR_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(27);
    let dir = tempfile::tempdir().unwrap();
    let (app, t, open) = opened(dir.path());
    let db = dir.path().join("verbatim.db");
    let mut h = harness(app);
    h.run();
    let mut rng = Rng::new(seed);
    // The text typed into the field and not yet left (the oracle of typed work).
    let mut typed: Option<(u64, String)> = None;
    let mut counts = std::collections::BTreeMap::<&str, usize>::new();
    for step in 0..steps {
        let before = segs(&h);
        let dirty_before = doc(&h).session.dirty();
        let action = rng.below(16);
        let name;
        // Which change the step may make: None = no segment may change.
        let mut may_change = false;
        match action {
            0 | 1 => {
                name = "select a row";
                let n = before.len().max(1);
                let k = rng.below(n);
                if let Some(s) = before.get(k) {
                    click_time(&mut h, s.1);
                }
                // A click elsewhere leaves the field: typed text goes to its segment.
                may_change = typed.is_some();
            }
            2 => {
                name = "click into the field";
                if let Some(f) = field(&h) {
                    f.click();
                }
                h.run();
            }
            3 | 4 => {
                name = "type";
                if let Some(f) = field(&h).filter(|f| f.is_focused()) {
                    let word = ["now", "then", "friends", "x"][rng.below(4)];
                    f.type_text(&format!(" {word}"));
                    h.run();
                    let key = h.state().ui.draft.as_ref().map(|d| d.key.0).unwrap();
                    let text = h.state().ui.draft.as_ref().unwrap().text.clone();
                    typed = Some((key, text));
                }
            }
            5 => {
                name = "Enter";
                h.key_press(egui::Key::Enter);
                h.run();
                // In a field: leaves it (typed text is given); elsewhere: split at playhead.
                may_change = true;
            }
            6 => {
                name = "Escape";
                h.key_press(egui::Key::Escape);
                h.run();
                // In a field: drops what was typed.
                if field(&h).is_none_or(|f| !f.is_focused()) && typed.is_some() {
                    typed = None;
                }
            }
            7 => {
                name = "Space";
                let focused = field(&h).is_some_and(|f| f.is_focused());
                let playing = h.state().playing;
                press_space(&h);
                h.run();
                settle(&mut h);
                assert_eq!(
                    h.state().playing != playing,
                    !focused,
                    "step {step}: Space plays or pauses, except in a field"
                );
                // In a field, Space types a space (and plays nothing).
                if focused && let Some(d) = h.state().ui.draft.as_ref() {
                    assert!(d.text.contains(' '));
                    typed = Some((d.key.0, d.text.clone()));
                }
            }
            8 => {
                name = "move the playhead";
                let end = before.last().map_or(1, |s| s.2);
                h.state_mut().position_ms = rng.next() % end;
            }
            9 | 10 => {
                let buttons = [
                    "Split at playhead",
                    "Merge with next",
                    "Delete",
                    "Insert after",
                ];
                name = buttons[rng.below(buttons.len())];
                h.get_by_label(name).click();
                h.run();
                may_change = true;
            }
            11 => {
                name = if rng.below(2) == 0 { "Undo" } else { "Redo" };
                h.get_by_label(name).click();
                h.run();
                may_change = true;
            }
            12 => {
                name = "undo then redo";
                let d = &doc(&h).session;
                if d.can_undo() && typed.is_none() {
                    for c in [EditorCommand::Undo, EditorCommand::Redo] {
                        h.state_mut().app.world_mut().write_message(c);
                        run_app(&mut h, false);
                    }
                    assert_eq!(segs(&h), before, "step {step}: undo then redo");
                }
            }
            13 => {
                name = "save";
                if typed.is_none() && doc(&h).session.dirty() {
                    let on_screen = segs(&h);
                    h.get_by_label("Save version").click();
                    h.run();
                    settle(&mut h);
                    let conn = verbatim::storage::open(&db).unwrap();
                    let current = transcript::sql::current_version(&conn, t).unwrap().unwrap();
                    let saved: Vec<String> = transcript::sql::segments(&conn, current.id)
                        .unwrap()
                        .into_iter()
                        .map(|r| r.text)
                        .collect();
                    let shown: Vec<String> = on_screen.iter().map(|s| s.3.clone()).collect();
                    assert_eq!(
                        saved, shown,
                        "step {step}: the saved version is what was shown"
                    );
                    let reopened: Vec<String> = segs(&h).into_iter().map(|s| s.3).collect();
                    assert_eq!(reopened, shown, "step {step}: reopened as saved");
                    assert!(!doc(&h).session.dirty());
                }
                may_change = true;
            }
            14 => {
                name = "close";
                h.get_by_label("Close").click();
                h.run();
                let unsaved = dirty_before || typed.is_some();
                // Typed text not yet left counts; the panel tells the editor it is typing.
                let asked = settle(&mut h);
                assert_eq!(asked, Asked::Close);
                let world = &h.state().app;
                let must_ask =
                    must_ask_before_leaving(world.world().resource::<Editor>(), &h.state().ui);
                assert_eq!(
                    must_ask, unsaved,
                    "step {step}: leaving with unsaved work asks first (and only then)"
                );
                // The user answers: Cancel, Discard or Save (the prompt's three choices).
                match rng.below(3) {
                    0 => {}
                    1 => {
                        h.state_mut().ui.draft = None;
                        typed = None;
                        h.state_mut()
                            .app
                            .world_mut()
                            .write_message(EditorCommand::DiscardEdits);
                        if must_ask {
                            run_app(&mut h, true);
                        }
                        let app = &mut h.state_mut().app;
                        app.world_mut().write_message(EditorCommand::Close);
                        app.world_mut().write_message(open.clone());
                        run_until_open(&mut h);
                    }
                    _ => {
                        // As the prompt's Save does: text still in the field goes in first.
                        if let Some(d) = h.state_mut().ui.draft.take().filter(TextDraft::typed)
                            && let Some(cmd) = editor_command(d.commit())
                        {
                            h.state_mut().app.world_mut().write_message(cmd);
                        }
                        typed = None;
                        if must_ask {
                            h.state_mut()
                                .app
                                .world_mut()
                                .write_message(EditorCommand::Save { note: None });
                            run_app(&mut h, true);
                        }
                    }
                }
                may_change = true;
            }
            15 if rng.below(3) == 0 => {
                // The window's close button: no widget loses the keyboard, so typed text is
                // still in its field, and counts (`close_requested` asks the same question).
                name = "close the window";
                let unsaved = doc(&h).session.dirty() || typed.is_some();
                let must_ask = must_ask_before_leaving(
                    h.state().app.world().resource::<Editor>(),
                    &h.state().ui,
                );
                assert_eq!(
                    must_ask, unsaved,
                    "step {step}: quitting with unsaved work asks first (and only then)"
                );
            }
            _ => {
                name = "F8";
                h.key_press(egui::Key::F8);
                h.run();
            }
        }
        *counts.entry(name).or_default() += 1;
        settle(&mut h);
        let after = segs(&h);
        // The ECS mirror is exact.
        let mirrored = segment_entities(&mut h.state_mut().app);
        assert_eq!(mirrored, after, "step {step} ({name}): entities = session");
        if !may_change {
            assert_eq!(after, before, "step {step} ({name}) changed a segment");
        }
        // Typed text that was left went to its segment (or was refused out loud).
        // (An edit button or undo acts on the segment right after its text is given.)
        let field_focused = field(&h).is_some_and(|f| f.is_focused());
        let acts_on_it = (9..=11).contains(&action);
        if !field_focused && let Some((key, text)) = typed.take() {
            let seg = after.iter().find(|s| s.0 == key);
            if !acts_on_it {
                assert_eq!(
                    seg.map(|s| s.3.as_str()),
                    Some(text.as_str()),
                    "step {step} ({name}): the typed text is kept"
                );
            }
        }
        // The field shows the selected segment's text, unless typed into.
        let typing = h.state().ui.draft.as_ref().is_some_and(TextDraft::typed);
        if let (Some(i), Some(f)) = (selected(&h), field(&h))
            && !typing
            && let Some(s) = after.get(i)
        {
            assert_eq!(
                f.value().as_deref(),
                Some(s.3.as_str()),
                "step {step} ({name}): the field shows the selected segment"
            );
        }
        if let Some(d) = h.state().ui.draft.as_ref()
            && !d.typed()
            && let Some(f) = field(&h)
        {
            let shown = f.value().unwrap_or_default();
            let seg = after.iter().find(|s| s.0 == d.key.0);
            assert_eq!(
                Some(shown.as_str()),
                seg.map(|s| s.3.as_str()),
                "step {step} ({name}): the field reads its own segment"
            );
        }
    }
    eprintln!("{steps} steps (seed {seed}): {counts:?}");
}

/// Runs the app until the transcript is open again.
fn run_until_open(h: &mut Harness<'static, model::World>) {
    let app = &mut h.state_mut().app;
    assert!(update_until(app, Duration::from_secs(30), |w| w
        .resource::<Editor>()
        .doc
        .is_some()));
    for _ in 0..3 {
        app.update();
    }
    h.run();
}

/// A segment's speaker is named in the list, in the speaker's colour, and the same name
/// always has the same colour.
#[test]
fn a_segment_says_who_speaks_in_the_list() {
    let rows = Flagged(
        jfk_segs()
            .into_iter()
            .enumerate()
            .map(|(i, mut s)| {
                s.speaker = Some(if i % 2 == 0 { "Ann Lee" } else { "Bo" }.into());
                (s, Vec::new())
            })
            .collect(),
    );
    let mut h = rows_harness(rows);
    h.run();
    assert!(h.query_all_by_label("Ann Lee").count() >= 1);
    assert!(h.query_all_by_label("Bo").count() >= 1);
    // Filtered to one speaker (the "Speaker: all" menu offers it): only their segments.
    let stamps = |h: &Harness<'_, P>| -> Vec<&str> {
        [
            "00:00:00.320",
            "00:00:03.270",
            "00:00:05.380",
            "00:00:08.160",
        ]
        .into_iter()
        .filter(|t| h.query_by_label(t).is_some())
        .collect()
    };
    assert_eq!(stamps(&h).len(), 4);
    assert!(
        h.query_by_label_contains("Speaker: all").is_some()
            || h.query_by_value("Speaker: all").is_some()
    );
    h.state_mut().ui.speaker_filter = Some("Bo".into());
    h.run();
    assert_eq!(stamps(&h), ["00:00:03.270", "00:00:08.160"]);
    assert!(
        h.query_by_label_contains("Speaker: Bo").is_some()
            || h.query_by_value("Speaker: Bo").is_some()
    );
    // A click on a name offers, in its row, the transcript's other speakers: the segment
    // given to one is an edit.
    h.state_mut().ui.speaker_filter = None;
    h.run();
    h.query_all_by_label("Bo").next().unwrap().click();
    h.run();
    h.query_all_by_role(egui::accesskit::Role::ComboBox)
        .last()
        .unwrap()
        .click();
    h.run();
    h.query_all_by_label("Ann Lee").last().unwrap().click();
    h.run();
    let got = editor_intents(h.state());
    assert!(
        got.contains(&EditorIntent::Edit(Edit::SetSpeaker {
            index: 1,
            speaker: Some("Ann Lee".into())
        })),
        "{got:?}"
    );
    // Renamed everywhere: the name typed, Enter.
    h.state_mut().intents.clear();
    h.query_all_by_label("Bo").next().unwrap().click();
    h.run();
    let field = h
        .query_all_by_role(egui::accesskit::Role::TextInput)
        .last()
        .unwrap();
    field.focus();
    field.type_text("Bob");
    h.run();
    h.key_press(egui::Key::Enter);
    h.run();
    let got = editor_intents(h.state());
    assert!(
        got.contains(&EditorIntent::Edit(Edit::RenameSpeaker {
            from: "Bo".into(),
            to: "Bob".into()
        })),
        "{got:?}"
    );
    use verbatim::ui::editor::speaker_colour;
    assert_eq!(speaker_colour("Ann Lee"), speaker_colour("Ann Lee"));
    assert_ne!(speaker_colour("Ann Lee"), speaker_colour("Bo"));
}

/// "Find speakers" in the window: the open transcript of a real telephone call (both speaker
/// models in the models folder) is diarized on a thread of its own while the app keeps
/// running frames; the speakers arrive as a new version that the editor opens, each segment
/// with its speaker. Asked again while the user has unsaved edits: nothing is reopened under
/// them, the edits stay, and saving them is refused as stale (never built on an old base).
#[test]
fn find_speakers_gives_the_open_transcript_its_speakers_as_a_new_version() {
    let dir = tempfile::tempdir().unwrap();
    let models = dir.path().join("models");
    std::fs::create_dir_all(&models).unwrap();
    let shared = common::manifest_dir().join("../shared/data");
    for f in ["campplus_cn_en_common.pt", "pyannote-segmentation-3.0.bin"] {
        std::fs::copy(shared.join("models/speaker").join(f), models.join(f)).unwrap();
    }
    let mut app = common::core_app(dir.path());
    track_imports(&mut app);
    app.init_resource::<Events>().add_systems(Last, collect);
    app.world_mut()
        .write_message(ImportRequested(shared.join("diarization/sample.wav")));
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
    // Version 1: the call in four segments, one of them across a change of speaker.
    let segs = vec![
        Segment::new(6_700, 12_000, "Hello. Hello. Oh hello."),
        Segment::new(12_200, 14_700, "This is Diane in New Jersey."),
        Segment::new(14_700, 18_000, "Sheila in Texas, originally from Chicago."),
        Segment::new(21_800, 27_000, "Well, there isn't that much difference."),
    ];
    let t = {
        let mut conn = verbatim::storage::open(&dir.path().join("verbatim.db")).unwrap();
        let tx = conn.transaction().unwrap();
        let (t, _) = transcript::sql::create_transcript(
            &tx,
            audio,
            None,
            Some("sample.wav"),
            &NewVersion::new(VersionSource::Model),
            &segs,
            0,
        )
        .unwrap();
        tx.commit().unwrap();
        t
    };
    let open = EditorCommand::Open {
        transcript: t,
        version: None,
        segment: None,
    };
    send(&mut app, open.clone(), |e| {
        matches!(e, EditorEvent::Opened { .. })
    });

    // Started, then cancelled: the job is an entity while it runs (with its progress), it
    // stops, nothing is saved, and it can be started again.
    use verbatim::editor::speakers::SpeakerJob;
    app.world_mut().write_message(EditorCommand::FindSpeakers);
    app.update();
    let running = app
        .world_mut()
        .query::<&SpeakerJob>()
        .iter(app.world())
        .map(|j| j.transcript)
        .collect::<Vec<_>>();
    assert_eq!(running, [t]);
    let got = send(&mut app, EditorCommand::CancelFindSpeakers, |e| {
        matches!(
            e,
            EditorEvent::SpeakersCancelled { .. }
                | EditorEvent::SpeakersFound { .. }
                | EditorEvent::Failed(_)
        )
    });
    assert_eq!(got, EditorEvent::SpeakersCancelled { transcript: t });
    app.update();
    assert_eq!(
        app.world_mut()
            .query::<&SpeakerJob>()
            .iter(app.world())
            .count(),
        0
    );
    {
        let conn = verbatim::storage::open(&dir.path().join("verbatim.db")).unwrap();
        let v = transcript::sql::current_version(&conn, t).unwrap().unwrap();
        assert_eq!(v.number, 1, "nothing saved");
    }

    app.world_mut().resource_mut::<Events>().0.clear();
    app.world_mut().write_message(EditorCommand::FindSpeakers);
    let mut frames = 0u32;
    let mut seen_progress = 0.0f32;
    assert!(update_until(&mut app, Duration::from_secs(300), |w| {
        frames += 1;
        if let Some(j) = w
            .try_query::<&SpeakerJob>()
            .and_then(|mut q| q.iter(w).next().map(|j| j.progress.fraction()))
        {
            seen_progress = seen_progress.max(j);
        }
        w.resource::<Events>()
            .0
            .iter()
            .any(|e| matches!(e, EditorEvent::Opened { version: 2, .. }))
    }));
    // The frames kept coming while the voices were found, and the progress moved.
    assert!(frames > 10, "{frames} frames");
    assert!(seen_progress > 0.3, "progress {seen_progress}");
    let events = app.world().resource::<Events>().0.clone();
    let found = events
        .iter()
        .find_map(|e| match e {
            EditorEvent::SpeakersFound {
                version, speakers, ..
            } => Some((*version, speakers.clone())),
            _ => None,
        })
        .unwrap();
    assert_eq!(found.0, Some(2), "{events:?}");
    assert_eq!(found.1.len(), 2, "{events:?}");
    let world = app.world_mut();
    let mut q = world.query::<(&verbatim::editor::segments::SegmentDetail, &SegmentText)>();
    let said: Vec<(Option<String>, String)> = q
        .iter(world)
        .map(|(d, t)| (d.speaker.clone(), t.0.clone()))
        .collect();
    assert!(said.iter().all(|(s, _)| s.is_some()), "{said:?}");
    let conn = verbatim::storage::open(&dir.path().join("verbatim.db")).unwrap();
    let v2 = transcript::sql::current_version(&conn, t).unwrap().unwrap();
    assert_eq!(v2.number, 2);
    assert_eq!(v2.author.as_deref(), Some("diarization"));

    // Unsaved edits, then the speakers again: found (no new version needed, or a new one),
    // but the document under the edits is not replaced.
    app.world_mut()
        .write_message(EditorCommand::Edit(Edit::SetText {
            index: 0,
            text: "Hello there.".into(),
        }));
    app.update();
    // Another process saves a version meanwhile: the speaker finder must not build on the
    // version it read, and the user's edits are not lost.
    {
        let mut conn = verbatim::storage::open(&dir.path().join("verbatim.db")).unwrap();
        let tx = conn.transaction().unwrap();
        transcript::sql::add_version(
            &tx,
            t,
            &NewVersion::new(VersionSource::Edit),
            &[Segment::new(0, 1_000, "elsewhere")],
            1,
        )
        .unwrap();
        tx.commit().unwrap();
    }
    app.world_mut().resource_mut::<Events>().0.clear();
    app.world_mut().write_message(EditorCommand::FindSpeakers);
    assert!(update_until(&mut app, Duration::from_secs(300), |w| {
        w.resource::<Events>().0.iter().any(|e| {
            matches!(
                e,
                EditorEvent::SpeakersFound { .. } | EditorEvent::Failed(_)
            )
        })
    }));
    let editor = app.world().resource::<verbatim::editor::Editor>();
    assert!(editor.unsaved(), "the edits are kept");
    assert_eq!(editor.doc.as_ref().unwrap().version.number, 2);
    let conn = verbatim::storage::open(&dir.path().join("verbatim.db")).unwrap();
    let now = transcript::sql::current_version(&conn, t).unwrap().unwrap();
    // Version 3 (the other process's) or a version 4 built on it, never one on version 2.
    if now.number == 4 {
        assert_eq!(
            now.based_on,
            Some(transcript::sql::versions(&conn, t).unwrap()[2].id)
        );
    } else {
        assert_eq!(now.number, 3);
    }
    let ev = send(&mut app, EditorCommand::Save { note: None }, |e| {
        matches!(e, EditorEvent::Stale { .. } | EditorEvent::Saved { .. })
    });
    assert!(matches!(ev, EditorEvent::Stale { base: 2, .. }), "{ev:?}");

    // "Find speakers after transcribing": a finished job's transcript gets its speakers
    // when the setting is on, and not when it is off.
    let finished = verbatim::transcribe::JobFinished {
        id: verbatim::storage::ids::JobId(1),
        status: verbatim::transcribe::JobStatus::Completed,
        transcript: Some(t),
        error: None,
    };
    let jobs = |app: &mut App| {
        app.world_mut()
            .query::<&SpeakerJob>()
            .iter(app.world())
            .count()
    };
    app.world_mut()
        .resource_mut::<verbatim::transcribe::TranscribeSettings>()
        .speakers_after = false;
    app.world_mut().write_message(finished.clone());
    app.update();
    app.update();
    assert_eq!(jobs(&mut app), 0);
    app.world_mut()
        .resource_mut::<verbatim::transcribe::TranscribeSettings>()
        .speakers_after = true;
    app.world_mut().resource_mut::<Events>().0.clear();
    app.world_mut().write_message(finished);
    app.update();
    app.update();
    assert_eq!(jobs(&mut app), 1);
    assert!(update_until(&mut app, Duration::from_secs(300), |w| {
        w.resource::<Events>()
            .0
            .iter()
            .any(|e| matches!(e, EditorEvent::SpeakersFound { transcript, .. } if *transcript == t))
    }));
}

/// The speakers panel's rename and merge, headless: the library's speakers are listed (a
/// label once per recording); a rename with nothing unsaved opens the transcript's new
/// version at the same segment; with unsaved edits, the edits stay and the same rename is
/// made to them (undoable), so that saving them on top of the new version keeps both.
#[test]
fn renaming_a_speaker_from_the_panel_follows_into_the_open_transcript() {
    use verbatim::editor::speakers::{LibrarySpeakers, SpeakersCommand};
    let dir = tempfile::tempdir().unwrap();
    // The speaker model in the models folder: a label named after a person is remembered.
    let models = dir.path().join("models");
    std::fs::create_dir_all(&models).unwrap();
    std::fs::copy(
        common::manifest_dir().join("../shared/data/models/speaker/campplus_cn_en_common.pt"),
        models.join("campplus_cn_en_common.pt"),
    )
    .unwrap();
    let (mut app, t) = app_with_transcript(dir.path());
    {
        let mut conn = verbatim::storage::open(&dir.path().join("verbatim.db")).unwrap();
        let tx = conn.transaction().unwrap();
        let mut segs = jfk_segs();
        for (i, s) in segs.iter_mut().enumerate() {
            s.speaker = Some(format!("SPEAKER_0{}", 1 + i % 2));
        }
        transcript::sql::add_version(&tx, t, &NewVersion::new(VersionSource::Edit), &segs, 1)
            .unwrap();
        tx.commit().unwrap();
    }
    send(
        &mut app,
        EditorCommand::Open {
            transcript: t,
            version: None,
            segment: Some(2),
        },
        |e| matches!(e, EditorEvent::Opened { .. }),
    );
    app.world_mut().write_message(SpeakersCommand::List);
    assert!(update_until(&mut app, Duration::from_secs(30), |w| {
        w.resource::<LibrarySpeakers>().list.len() == 2
    }));
    let listed = app.world().resource::<LibrarySpeakers>().list.clone();
    assert!(listed.iter().all(|s| s.only_in == Some(t)), "{listed:?}");

    let rename = |app: &mut App, from: &str, to: &str, then: fn(&EditorEvent) -> bool| {
        app.world_mut().resource_mut::<Events>().0.clear();
        app.world_mut().write_message(SpeakersCommand::Rename {
            from: from.into(),
            to: to.into(),
            scope: Some(t),
        });
        assert!(update_until(app, Duration::from_secs(30), |w| {
            w.resource::<Events>().0.iter().any(then)
        }));
        app.world().resource::<Events>().0.clone()
    };
    // Nothing unsaved: version 3 opens, at the same segment.
    let got = rename(&mut app, "SPEAKER_01", "Ann", |e| {
        matches!(e, EditorEvent::Opened { version: 3, .. })
    });
    assert!(
        got.contains(&EditorEvent::SpeakersChanged {
            from: "SPEAKER_01".into(),
            to: "Ann".into(),
            merged: false,
            versions: 1
        }),
        "{got:?}"
    );
    let doc = app.world().resource::<Editor>().doc.as_ref().unwrap();
    assert_eq!(doc.selected, Some(2));
    assert_eq!(doc.session.segments()[0].speaker.as_deref(), Some("Ann"));
    // Named after a person: her voice is remembered from her segments, on a thread, and the
    // panel's list says so.
    assert!(update_until(&mut app, Duration::from_secs(60), |w| {
        w.resource::<Events>().0.iter().any(|e| {
            matches!(e, EditorEvent::VoiceRemembered { name, windows } if name == "Ann" && *windows > 0)
        })
    }));
    assert!(update_until(&mut app, Duration::from_secs(30), |w| {
        w.resource::<LibrarySpeakers>()
            .list
            .iter()
            .any(|s| s.name == "Ann" && s.remembered)
    }));

    // Unsaved edits: they stay, and get the rename too.
    app.world_mut()
        .write_message(EditorCommand::Edit(Edit::SetText {
            index: 1,
            text: "ask not now".into(),
        }));
    app.update();
    rename(&mut app, "SPEAKER_02", "Bo", |e| {
        matches!(e, EditorEvent::SpeakersChanged { .. })
    });
    for _ in 0..5 {
        app.update();
    }
    let doc = app.world().resource::<Editor>().doc.as_ref().unwrap();
    assert!(doc.session.dirty());
    assert_eq!(doc.version.number, 3, "not reopened under the edits");
    assert_eq!(doc.session.segments()[1].text, "ask not now");
    assert_eq!(doc.session.segments()[1].speaker.as_deref(), Some("Bo"));
    let got = send(&mut app, EditorCommand::Save { note: None }, |e| {
        !matches!(e, EditorEvent::Opened { .. })
    });
    assert!(
        matches!(got, EditorEvent::Stale { current: 4, .. }),
        "{got:?}"
    );
    let got = send(&mut app, EditorCommand::SaveOnTop { note: None }, |e| {
        matches!(e, EditorEvent::Saved { .. } | EditorEvent::Failed(_))
    });
    assert_eq!(
        got,
        EditorEvent::Saved {
            transcript: t,
            version: 5
        }
    );
    let conn = verbatim::storage::open(&dir.path().join("verbatim.db")).unwrap();
    let v = transcript::sql::current_version(&conn, t).unwrap().unwrap();
    let saved: Vec<(String, Option<String>)> = transcript::sql::segments(&conn, v.id)
        .unwrap()
        .into_iter()
        .map(|r| {
            let s = Segment::from(r);
            (s.text, s.speaker)
        })
        .collect();
    assert_eq!(saved[1], ("ask not now".into(), Some("Bo".into())));
    assert_eq!(saved[0].1.as_deref(), Some("Ann"));
    assert_eq!(saved[3].1.as_deref(), Some("Bo"));
}
