//! No duplicate cards (issue 36): a card's sides compared as a reader would (NFKC,
//! case-folded, punctuation and spacing aside) are one card per user. Creating, editing or
//! accepting into one answers 409 `DUPLICATE_CARD` naming it; a generation leaves out what
//! duplicates a card and says how many; the migration merges the duplicates already there.

use reqwest::Method;
use serde_json::{Value, json};
use uuid::Uuid;

use crate::helpers::{TestApp, drop_database, migrated_before, source_text, spawn_app};

async fn create(app: &TestApp, user: Uuid, front: &str, back: &str) -> (u16, Value) {
    app.send_json(
        Method::POST,
        user,
        "/api/cards",
        &json!({ "front": front, "back": back }),
    )
    .await
}

#[tokio::test]
async fn the_same_card_twice_is_refused_naming_the_first() {
    let app = spawn_app().await;
    let user = Uuid::now_v7();
    let (status, first) = create(&app, user, "Capital of France?", "Paris").await;
    assert_eq!(status, 201, "{first}");
    let first_id = first["id"].as_str().unwrap();
    for (front, back) in [
        ("capital of  FRANCE", "Paris!"),
        ("Capital of France ?", " paris."),
        ("ＣＡＰＩＴＡＬ of France?", "Paris"),
    ] {
        let (status, refused) = create(&app, user, front, back).await;
        assert_eq!(status, 409, "{front}: {refused}");
        assert_eq!(refused["error"]["code"], "DUPLICATE_CARD");
        assert_eq!(refused["error"]["details"]["cardId"], first_id);
    }
    // Another answer, or another user's card, is another card.
    let (status, lyon) = create(&app, user, "Capital of France?", "Lyon").await;
    assert_eq!(status, 201);
    assert_eq!(
        create(&app, Uuid::now_v7(), "Capital of France?", "Paris")
            .await
            .0,
        201
    );
    // "2 + 2" and "2 - 2" differ by a symbol, not punctuation.
    assert_eq!(create(&app, user, "2 + 2", "4").await.0, 201);
    assert_eq!(create(&app, user, "2 - 2", "0").await.0, 201);

    // An edit into the first card is refused; the card keeps its sides.
    let lyon_id = lyon["id"].as_str().unwrap();
    let path = format!("/api/cards/{lyon_id}");
    let (status, refused) = app
        .send_json(
            Method::PATCH,
            user,
            &path,
            &json!({ "card_type": "basic", "back": "PARIS" }),
        )
        .await;
    assert_eq!(status, 409, "{refused}");
    assert_eq!(refused["error"]["details"]["cardId"], first_id);
    let (status, tagged) = app
        .send_json(
            Method::PATCH,
            user,
            &path,
            &json!({ "card_type": "basic", "tags": ["geo"] }),
        )
        .await;
    assert_eq!(status, 200, "{tagged}");
    assert_eq!(tagged["back"], "Lyon");
    let (_, cards) = app.get_json(user, "/api/cards").await;
    assert_eq!(cards["items"].as_array().unwrap().len(), 4);
}

#[tokio::test]
async fn a_generation_skips_what_the_user_has_and_accepting_a_duplicate_is_refused() {
    let app = spawn_app().await;
    let user = Uuid::now_v7();
    let first = app.submit(user).await;
    app.wait_finished(user, first).await;
    let suggestions = app.suggestions(user, first).await;
    assert!(suggestions.len() >= 3);
    for suggestion in &suggestions {
        let id = suggestion["id"].as_str().unwrap();
        let (status, accepted) = app
            .send_json(
                Method::PATCH,
                user,
                &format!("/api/ai/suggestions/{id}"),
                &json!({ "card_type": "basic", "status": "accepted" }),
            )
            .await;
        assert_eq!(status, 200, "{accepted}");
    }
    let cards = suggestions.len();

    // An overlapping text: the AI answers the same cards, all of them the user's already.
    let response = app
        .post_generation(user, &json!({ "source_text": source_text(1600) }))
        .await;
    assert_eq!(response.status(), 202);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["status"], "pending");
    let second: Uuid = body["generation_id"].as_str().unwrap().parse().unwrap();
    let finished = app.wait_finished(user, second).await;
    assert_eq!(finished["status"], "succeeded", "{finished}");
    assert_eq!(finished["suggestions"]["total"], 0, "{finished}");
    assert_eq!(finished["suggestions"]["duplicates_skipped"], cards as i64);
    let (_, listed) = app.get_json(user, "/api/cards?limit=100").await;
    assert_eq!(listed["items"].as_array().unwrap().len(), cards);

    // A suggestion accepted, edited into a card the user has: refused, left proposed.
    let other =
        "Mitochondria release most of a cell's energy. Ribosomes build proteins from amino acids. "
            .repeat(15);
    let response = app
        .post_generation(user, &json!({ "source_text": other }))
        .await;
    assert_eq!(response.status(), 202);
    let body: Value = response.json().await.unwrap();
    let third: Uuid = body["generation_id"].as_str().unwrap().parse().unwrap();
    app.wait_finished(user, third).await;
    let (status, mine) = create(&app, user, "A card of my own", "Mine").await;
    assert_eq!(status, 201);
    let proposed = app.suggestions(user, third).await;
    let id = proposed[0]["id"].as_str().unwrap();
    let path = format!("/api/ai/suggestions/{id}");
    let (status, refused) = app
        .send_json(
            Method::PATCH,
            user,
            &path,
            &json!({ "card_type": "basic", "status": "accepted", "front": "a card of my own!", "back": "mine" }),
        )
        .await;
    assert_eq!(status, 409, "{refused}");
    assert_eq!(refused["error"]["code"], "DUPLICATE_CARD");
    assert_eq!(refused["error"]["details"]["cardId"], mine["id"]);
    let after = app.suggestions(user, third).await;
    assert_eq!(after[0]["status"], "proposed");
}

/// The duplicates a database holds when the migration comes are merged into the oldest
/// card of each, with every tag; other users' cards and distinct cards are left alone.
#[tokio::test]
async fn the_migration_merges_existing_duplicates_into_the_oldest() {
    let (name, db) = migrated_before("card keys").await;
    let (alice, bob) = (Uuid::now_v7(), Uuid::now_v7());
    let mut ids = Vec::new();
    for (user, front, back, tags, days) in [
        (alice, "Capital of France?", "Paris", vec!["geo"], 3),
        (
            alice,
            "capital of france",
            "Paris!",
            vec!["europe", "geo"],
            2,
        ),
        (alice, "CAPITAL OF FRANCE?", "paris", vec!["capitals"], 1),
        (alice, "2 + 2", "4", vec![], 1),
        (bob, "Capital of France?", "Paris", vec!["mine"], 1),
    ] {
        let id = Uuid::now_v7();
        sqlx::query(
            "insert into cards (id, user_id, front, back, tags, created_at)
             values ($1, $2, $3, $4, $5, now() - make_interval(days => $6))",
        )
        .bind(id)
        .bind(user)
        .bind(front)
        .bind(back)
        .bind(tags)
        .bind(days)
        .execute(&db)
        .await
        .unwrap();
        ids.push(id);
    }
    almanac_shared::db::migrate(&db).await.unwrap();
    let left: Vec<(Uuid, Uuid, String, Vec<String>)> =
        sqlx::query_as("select id, user_id, front, tags from cards order by user_id, created_at")
            .fetch_all(&db)
            .await
            .unwrap();
    let alice_cards: Vec<_> = left.iter().filter(|c| c.1 == alice).collect();
    assert_eq!(alice_cards.len(), 2, "{left:?}");
    assert_eq!(alice_cards[0].0, ids[0], "the oldest is kept");
    assert_eq!(alice_cards[0].3, ["capitals", "europe", "geo"]);
    assert_eq!(alice_cards[1].2, "2 + 2");
    let bob_cards: Vec<_> = left.iter().filter(|c| c.1 == bob).collect();
    assert_eq!(bob_cards.len(), 1);
    assert_eq!(bob_cards[0].3, ["mine"]);
    db.close().await;
    drop_database(&name).await;
}

/// Cards made before an upgrade are still found by their keys: the keys stored when the card
/// keys migration came (its functions) are those the current functions give, for texts
/// mixing every kind of space, case, compatibility form and punctuation.
#[tokio::test]
async fn the_keys_stored_are_those_the_current_functions_give() {
    let (name, db) = migrated_before("card keys").await;
    const PIECES: &[&str] = &[
        " ", "  ", "\t", "\n", "\r", "\u{b}", "\u{c}", "\u{a0}", "\u{2003}", "\u{3000}",
        "\u{200b}", "\u{85}", "\u{1680}", "\u{2028}", "\u{feff}", "a", "B", "é", "É", "ß", "ﬁ",
        "Σ", "ς", "İ", "½", "①", "Ａ", ".", ",", "!", "?", "-", "+", "$", "€", "«", "»", "…", "、",
        "—", "\u{301}", "e", "Z", "9", "'", "\"", "{{c1::", "}}", "word",
    ];
    let mut state = 0x2545_f491_4f6c_dd1d_u64;
    let mut next = move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    };
    let texts: Vec<String> = (0..3000)
        .map(|_| {
            let len = 1 + next() % 24;
            (0..len)
                .map(|_| PIECES[(next() % PIECES.len() as u64) as usize])
                .collect()
        })
        .collect();
    let (user, n) = (Uuid::now_v7(), texts.len());
    sqlx::query(
        "insert into cards (id, user_id, front, back)
         select gen_random_uuid(), $1, t, 'x' from unnest($2::text[]) as t",
    )
    .bind(user)
    .bind(&texts)
    .execute(&db)
    .await
    .unwrap();
    almanac_shared::db::migrate(&db).await.unwrap();
    let (kept, differing): (i64, i64) = sqlx::query_as(
        "select count(*), count(*) filter (where key is distinct from card_type_key(card_type, front, back))
         from cards",
    )
    .fetch_one(&db)
    .await
    .unwrap();
    assert!(kept > 2000 && kept as usize <= n, "{kept} of {n}");
    assert_eq!(
        differing, 0,
        "cards whose stored key the functions no longer give"
    );
    db.close().await;
    drop_database(&name).await;
}
