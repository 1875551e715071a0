//! Flashcards in Anki (issue 36), checked with Anki's own library (`anki` from PyPI, in the
//! virtual environment `make test-deps` makes): the apkg imports into a fresh collection,
//! and after a review in Anki and an edit in Almanac, a second export imported again
//! updates the note in place and keeps the review.

use reqwest::Method;
use serde_json::{Value, json};
use uuid::Uuid;

use crate::helpers::{TestApp, spawn_app};

/// Anki's Python: `ALMANAC_ANKI_PYTHON`, or the one `make test-deps` installs.
fn anki_python() -> String {
    std::env::var("ALMANAC_ANKI_PYTHON").unwrap_or_else(|_| {
        let home = std::env::var("HOME").unwrap_or_default();
        format!("{home}/.cache/almanac-anki-venv/bin/python")
    })
}

/// Imports `apkg` into the collection at `collection` (made if new) the way Anki's
/// "Import" does for a package (notes updated when the package's are newer, scheduling
/// not taken from the package), answers "Good" to the first due card of the deck when
/// `review`, and reports the collection: its decks and every note with its cards' reviews.
const IMPORT: &str = r#"
import json, sys
from anki.collection import Collection, ImportAnkiPackageRequest, ImportAnkiPackageOptions
from anki.import_export_pb2 import ImportAnkiPackageUpdateCondition as Update

collection, package, review = sys.argv[1], sys.argv[2], sys.argv[3] == "review"
col = Collection(collection)
newer = Update.IMPORT_ANKI_PACKAGE_UPDATE_CONDITION_IF_NEWER
col.import_anki_package(ImportAnkiPackageRequest(package_path=package,
    options=ImportAnkiPackageOptions(update_notes=newer, update_notetypes=newer,
        with_scheduling=False, merge_notetypes=True)))
if review:
    col.decks.select(col.decks.id_for_name("Almanac"))
    card = col.sched.getCard()
    col.sched.answerCard(card, 3)
notes = []
for nid in col.find_notes(""):
    note = col.get_note(nid)
    cards = sorted(note.cards(), key=lambda c: c.ord)
    notes.append({
        "guid": note.guid,
        "notetype": note.note_type()["name"],
        "fields": list(note.fields),
        "tags": sorted(note.tags),
        "decks": sorted({col.decks.name(c.did) for c in cards}),
        "reps": sum(c.reps for c in cards),
        "reviews": sum(col.db.scalar("select count() from revlog where cid = ?", c.id) for c in cards),
        "question": [c.question() for c in cards],
    })
col.close()
print(json.dumps(sorted(notes, key=lambda n: n["guid"])))
"#;

/// Runs [`IMPORT`]; the notes it reports.
fn import(collection: &std::path::Path, package: &[u8], review: bool) -> Vec<Value> {
    let apkg = collection.with_extension(format!("{}.apkg", Uuid::new_v4()));
    std::fs::write(&apkg, package).unwrap();
    let output = std::process::Command::new(anki_python())
        .args(["-c", IMPORT])
        .arg(collection)
        .arg(&apkg)
        .arg(if review { "review" } else { "look" })
        .output()
        .expect("Anki's Python runs (`make test-deps` installs it)");
    let _ = std::fs::remove_file(&apkg);
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    serde_json::from_slice(&output.stdout).unwrap()
}

async fn export(app: &TestApp, user: Uuid, format: &str) -> (String, String, Vec<u8>) {
    let response = app
        .client
        .get(app.url(&format!("/api/cards/export?format={format}")))
        .bearer_auth(app.token(user))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let header = |name: &str| response.headers()[name].to_str().unwrap().to_owned();
    let (kind, disposition) = (header("content-type"), header("content-disposition"));
    (kind, disposition, response.bytes().await.unwrap().to_vec())
}

async fn card(app: &TestApp, user: Uuid, front: &str, back: &str, tags: &[&str]) -> String {
    let (status, card) = app
        .send_json(
            Method::POST,
            user,
            "/api/cards",
            &json!({ "front": front, "back": back, "tags": tags }),
        )
        .await;
    assert_eq!(status, 201, "{card}");
    card["id"].as_str().unwrap().to_owned()
}

#[tokio::test]
async fn an_edited_card_exported_again_updates_its_anki_note_and_keeps_its_review() {
    let app = spawn_app().await;
    let user = Uuid::now_v7();
    let capital = card(
        &app,
        user,
        "Capital of France?",
        "Paris",
        &["geo", "europe"],
    )
    .await;
    let sum = card(&app, user, "2 + 2", "4", &[]).await;
    // Made a minute ago: the edit below is a later second, as Anki tells edits apart.
    sqlx::query("update cards set updated_at = updated_at - interval '1 minute'")
        .execute(&app.db)
        .await
        .unwrap();
    let guid = |id: &str| format!("almanac-{}", id.replace('-', ""));

    let (kind, disposition, first) = export(&app, user, "apkg").await;
    assert_eq!(kind, "application/zip");
    assert_eq!(disposition, "attachment; filename=\"almanac.apkg\"");
    let collection = std::env::temp_dir().join(format!("almanac-anki-{}.anki2", Uuid::new_v4()));
    let notes = import(&collection, &first, true);
    assert_eq!(notes.len(), 2, "{notes:?}");
    let note = notes.iter().find(|n| n["guid"] == guid(&capital)).unwrap();
    assert_eq!(note["notetype"], "Almanac Basic");
    assert_eq!(note["fields"], json!(["Capital of France?", "Paris"]));
    assert_eq!(note["tags"], json!(["europe", "geo"]));
    assert_eq!(note["decks"], json!(["Almanac"]));
    assert!(
        note["question"][0]
            .as_str()
            .unwrap()
            .contains("Capital of France?")
    );
    let reviewed: Vec<&Value> = notes.iter().filter(|n| n["reviews"] == 1).collect();
    assert_eq!(reviewed.len(), 1, "one card reviewed: {notes:?}");
    let reviewed = [&capital, &sum]
        .into_iter()
        .find(|id| reviewed[0]["guid"] == guid(id))
        .unwrap()
        .clone();

    // Edited in Almanac, exported and imported again: the same notes, the new text, the
    // review kept.
    let (status, _) = app
        .send_json(
            Method::PATCH,
            user,
            &format!("/api/cards/{reviewed}"),
            &json!({ "card_type": "basic", "back": "Edited in Almanac" }),
        )
        .await;
    assert_eq!(status, 200);
    let (_, _, second) = export(&app, user, "apkg").await;
    let again = import(&collection, &second, false);
    assert_eq!(again.len(), 2, "no copies: {again:?}");
    let updated = again.iter().find(|n| n["guid"] == guid(&reviewed)).unwrap();
    assert_eq!(updated["fields"][1], "Edited in Almanac");
    assert_eq!(updated["reviews"], 1, "the review is kept: {updated}");
    assert_eq!(updated["reps"], 1);
    let _ = std::fs::remove_file(&collection);

    // The CSV names the same GUIDs, so Anki's text import updates the same notes.
    let (kind, _, csv) = export(&app, user, "csv").await;
    assert!(kind.starts_with("text/csv"));
    let csv = String::from_utf8(csv).unwrap();
    assert!(csv.starts_with(
        "#separator:comma\n#html:false\n#guid column:1\n#notetype column:2\n#columns:GUID,Notetype,Front,Back,Tags\n#tags column:5\n"
    ), "{csv}");
    assert!(
        csv.contains(&format!("{},Basic,Capital of France?,", guid(&capital))),
        "{csv}"
    );
}

/// Cloze cards (issue 36): a generation asked for cloze cards proposes them (the offline
/// provider answers them too); accepted, and written by hand, they export as Anki's cloze
/// notes, one card per cloze number, which Anki renders with their parts hidden.
#[tokio::test]
async fn cloze_cards_from_a_generation_and_by_hand_render_as_clozes_in_anki() {
    let app = spawn_app().await;
    let user = Uuid::now_v7();
    let response = app
        .post_generation(
            user,
            &json!({ "source_text": crate::helpers::source_text(1500), "card_types": ["cloze"] }),
        )
        .await;
    assert_eq!(response.status(), 202);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["status"], "pending");
    let generation: Uuid = body["generation_id"].as_str().unwrap().parse().unwrap();
    let finished = app.wait_finished(user, generation).await;
    assert_eq!(finished["card_types"], json!(["cloze"]));
    let suggestions = app.suggestions(user, generation).await;
    assert!(!suggestions.is_empty());
    for suggestion in &suggestions {
        assert_eq!(suggestion["card_type"], "cloze", "{suggestion}");
        assert!(suggestion["front"].as_str().unwrap().contains("{{c1::"));
        assert_eq!(suggestion["back"], "");
    }
    let first = suggestions[0]["id"].as_str().unwrap();
    let (status, accepted) = app
        .send_json(
            Method::PATCH,
            user,
            &format!("/api/ai/suggestions/{first}"),
            &json!({ "card_type": "cloze", "status": "accepted" }),
        )
        .await;
    assert_eq!(status, 200, "{accepted}");
    let (status, card) = app
        .send_json(
            Method::POST,
            user,
            "/api/cards",
            &json!({ "card_type": "cloze", "back": "",
                "front": "Leaves need {{c1::light}}, {{c2::water}} and {{c3::carbon dioxide}}." }),
        )
        .await;
    assert_eq!(status, 201, "{card}");
    assert_eq!(card["card_type"], "cloze");
    // A cloze without a hidden part, or a basic card without a back, is refused.
    for body in [
        json!({ "card_type": "cloze", "front": "Nothing hidden", "back": "" }),
        json!({ "front": "A question", "back": "" }),
    ] {
        let (status, refused) = app.send_json(Method::POST, user, "/api/cards", &body).await;
        assert_eq!(status, 400, "{refused}");
    }

    let (_, _, package) = export(&app, user, "apkg").await;
    let collection = std::env::temp_dir().join(format!("almanac-anki-{}.anki2", Uuid::new_v4()));
    let notes = import(&collection, &package, false);
    let _ = std::fs::remove_file(&collection);
    assert_eq!(notes.len(), 2, "{notes:?}");
    let by_hand = notes
        .iter()
        .find(|n| n["fields"][0].as_str().unwrap().starts_with("Leaves need"))
        .unwrap();
    assert_eq!(by_hand["notetype"], "Almanac Cloze");
    let questions: Vec<&str> = by_hand["question"]
        .as_array()
        .unwrap()
        .iter()
        .map(|q| q.as_str().unwrap())
        .collect();
    assert_eq!(
        questions.len(),
        3,
        "one card per cloze number: {questions:?}"
    );
    // Card 1 hides "light" and shows the rest; card 3 hides "carbon dioxide".
    assert!(questions[0].contains("class=\"cloze\""), "{}", questions[0]);
    assert!(questions[0].contains("[...]") && !questions[0].contains(">light<"));
    assert!(questions[0].contains("water") && questions[0].contains("carbon dioxide"));
    assert!(questions[2].contains("light") && !questions[2].contains("carbon dioxide"));
    let generated = notes.iter().find(|n| n != &by_hand).unwrap();
    assert_eq!(generated["notetype"], "Almanac Cloze");
    assert!(generated["question"][0].as_str().unwrap().contains("[...]"));
}
