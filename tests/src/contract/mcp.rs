//! The MCP server at `/mcp` (issue 53), driven by the official Python MCP SDK (`mcp`, in
//! its own virtual environment: `deploy/dev/test-deps.sh`) over Streamable HTTP, each call
//! a fresh client as an agent's would be: the tools listed; a calendar planned with progress
//! before the result; a dry run, then the same publish twice with one idempotency key (one
//! intent per entry, each platform called once), through either of two API processes; a
//! receipt that reads `unknown` while a lost answer is being settled, then `published`; a
//! `read` key refused a publish; another user's key seeing nothing of the first's.

use std::{path::PathBuf, time::Duration};

use serde_json::{Value, json};
use uuid::Uuid;

use crate::{
    helpers::{TestApp, eventually, spawn_app},
    publishing::{Entry, setup_plus},
};

/// The Python with the SDK.
fn python() -> PathBuf {
    let home = std::env::var_os("HOME").expect("HOME is set");
    PathBuf::from(home).join(".cache/almanac-mcp-venv/bin/python")
}

/// One MCP request through the SDK (`tests/mcp/call.py`): its answer.
pub(crate) async fn agent(base: &str, token: &str, action: &str, arguments: &Value) -> Value {
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/mcp/call.py");
    let run = tokio::process::Command::new(python())
        .arg(script)
        .arg(format!("{base}/mcp"))
        .arg(action)
        .arg(arguments.to_string())
        .env("ALMANAC_MCP_TOKEN", token)
        .kill_on_drop(true)
        .output();
    let output = tokio::time::timeout(Duration::from_secs(60), run)
        .await
        .unwrap_or_else(|_| panic!("{action} {arguments} had no answer within a minute"))
        .expect("the MCP SDK's Python runs (deploy/dev/test-deps.sh installs it)");
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "{action}: {stdout}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    serde_json::from_str(stdout.lines().last().unwrap_or_default())
        .unwrap_or_else(|e| panic!("{action} printed no JSON ({e}): {stdout}"))
}

/// A tool's structured result, which must not be an error.
async fn tool(base: &str, token: &str, name: &str, arguments: Value) -> Value {
    let answer = agent(base, token, name, &arguments).await;
    assert_ne!(answer["isError"], true, "{name}: {answer}");
    answer
}

async fn key(app: &TestApp, user: Uuid, scopes: &[&str]) -> String {
    app.key_with(user, scopes).await.0
}

#[tokio::test]
async fn an_agent_lists_the_tools_and_plans_a_calendar_with_progress() {
    let app = spawn_app().await;
    let user = Uuid::now_v7();
    let key = key(&app, user, &["read", "write"]).await;
    let tools = agent(&app.address, &key, "tools", &json!({})).await;
    let names: Vec<&str> = tools["tools"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["name"].as_str().unwrap())
        .collect();
    for expected in [
        "plan_calendar",
        "list_calendars",
        "get_calendar",
        "update_entry",
        "dry_run_publish",
        "publish",
        "get_publish_receipt",
        "generate_flashcards",
        "plan_organic_week",
        "list_themes",
        "run_synthesis",
        "request_review",
        "get_review",
    ] {
        assert!(names.contains(&expected), "{expected} in {names:?}");
    }
    let plan = tools["tools"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["name"] == "plan_calendar")
        .unwrap();
    assert!(
        plan["inputSchema"]["properties"]["cadence"].is_object(),
        "{plan}"
    );

    let planned = tool(
        &app.address,
        &key,
        "plan_calendar",
        crate::calendars::request(3, "tea"),
    )
    .await;
    let result = &planned["structuredContent"];
    assert_eq!(result["status"], "succeeded", "{planned}");
    let progress = planned["progressBeforeResult"].as_array().unwrap();
    assert!(
        !progress.is_empty(),
        "progress before the result: {planned}"
    );
    let calendar = result["calendarId"].as_str().unwrap();
    let saved = app.calendar(user, calendar).await;
    let entries = saved["entries"].as_array().unwrap().len();
    assert_eq!(entries as u64, result["entriesWritten"].as_u64().unwrap());
    assert_eq!(progress.len(), entries, "one notification per entry");
    for (n, note) in progress.iter().enumerate() {
        assert_eq!(note["progress"], (n + 1) as f64);
        let message = note["message"].as_str().unwrap();
        let title = message
            .split_once(" written: ")
            .map(|(_, t)| t)
            .unwrap_or_default();
        assert!(!title.is_empty(), "each names its entry: {message}");
    }

    // The calendar as a resource, and through the tools.
    let uri = format!("almanac://calendars/{calendar}");
    let resources = agent(&app.address, &key, "resources", &json!({})).await;
    assert_eq!(
        resources["resources"][0]["uri"],
        uri.as_str(),
        "{resources}"
    );
    let read = agent(&app.address, &key, "read", &json!({ "uri": uri })).await;
    let text: Value = serde_json::from_str(read["contents"][0]["text"].as_str().unwrap()).unwrap();
    assert_eq!(text["entries"].as_array().unwrap().len(), entries);
    let listed = tool(&app.address, &key, "list_calendars", json!({})).await;
    assert_eq!(listed["structuredContent"]["items"][0]["id"], calendar);
}

/// A publish tool's intents, as (channel, intent id), sorted.
fn intents(answer: &Value) -> Vec<(String, String)> {
    let mut intents: Vec<(String, String)> = answer["structuredContent"]["intents"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| {
            (
                i["channel"].as_str().unwrap().to_owned(),
                i["intentId"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    intents.sort();
    intents
}

/// The receipt of intent `id`, through the MCP server at `base`.
async fn receipt(base: String, key: String, id: String) -> Value {
    tool(
        &base,
        &key,
        "get_publish_receipt",
        json!({ "intentId": id }),
    )
    .await["structuredContent"]
        .clone()
}

/// An answer lost on Instagram's side (applied, never answered, not confirmable yet): its
/// receipt says it is settling and will never be sent twice; once the platform shows the
/// post, the next check settles it, without a second post.
async fn a_lost_answer_s_receipt_says_it_is_settling(
    s: &crate::publishing::Setup,
    key: &str,
    replica: &str,
) {
    let calendar = s.calendar.to_string();
    let receipt = |id: String| receipt(replica.to_owned(), key.to_owned(), id);
    let lost = s.entry(Entry::on("instagram", "Oolong at noon")).await;
    s.fake.with(|f| {
        f.drop_after_publish = true;
        f.cannot_confirm = true;
    });
    let sent = tool(
        &s.app.address,
        key,
        "publish",
        json!({ "calendarId": calendar,
        "entryIds": [lost], "idempotencyKey": "agent-run-2" }),
    )
    .await;
    let id = intents(&sent)[0].1.clone();
    let unknown = eventually(
        Duration::from_secs(30),
        "the lost answer read as unknown",
        || async {
            let r = receipt(id.clone()).await;
            (r["status"] == "unknown").then_some(r)
        },
    )
    .await;
    assert_eq!(unknown["final"], false);
    assert_eq!(unknown["postedOnce"], false);
    assert!(
        unknown["detail"]["settling"]
            .as_str()
            .unwrap()
            .contains("never sent a second time"),
        "{unknown}"
    );
    assert!(unknown["detail"]["nextCheckAt"].is_string(), "{unknown}");
    assert!(unknown["detail"]["giveUpAt"].is_string(), "{unknown}");
    s.fake.with(|f| f.cannot_confirm = false);
    let settled = eventually(
        Duration::from_secs(30),
        "the lost answer settled",
        || async {
            let r = receipt(id.clone()).await;
            (r["status"] == "published").then_some(r)
        },
    )
    .await;
    assert_eq!(settled["final"], true);
    assert!(settled["detail"]["postId"].is_string(), "{settled}");
    assert_eq!(
        s.fake.calls_to("/media_publish").len(),
        2,
        "each Instagram post sent once"
    );
    assert_eq!(s.fake.posts().len(), 3);
}

#[tokio::test]
async fn an_agent_publishes_once_with_one_key_through_either_api_and_reads_the_receipts() {
    let mut s = setup_plus(true, [("PUBLISH_CONFIRM_WINDOW_SECS", "120".into())]).await;
    let replica = s.app.start_api_replica().await;
    s.connect_both().await;
    let tiktok = s.entry(Entry::on("tiktok", "Tea at dawn")).await;
    let instagram = s.entry(Entry::on("instagram", "Matcha notes")).await;
    let key = key(&s.app, s.user, &["read", "write", "publish"]).await;
    let calendar = s.calendar.to_string();
    let entries = json!([tiktok, instagram]);

    // Both processes list the same tools.
    for base in [&s.app.address, &replica] {
        let tools = agent(base, &key, "tools", &json!({})).await;
        assert_eq!(tools["tools"].as_array().unwrap().len(), 14, "{base}");
    }

    let checked = tool(
        &s.app.address,
        &key,
        "dry_run_publish",
        json!({ "calendarId": calendar, "entryIds": entries }),
    )
    .await;
    let planned = checked["structuredContent"]["entries"]
        .as_array()
        .unwrap()
        .clone();
    assert_eq!(planned.len(), 2, "{checked}");
    assert!(planned.iter().all(|e| e["ready"] == true), "{checked}");
    assert!(s.fake.posts().is_empty(), "a dry run sends nothing");

    // The same publish twice with one key, through each process: one intent per entry.
    let arguments = json!({ "calendarId": calendar, "entryIds": entries,
        "idempotencyKey": "agent-run-1", "when": "now" });
    let first = tool(&s.app.address, &key, "publish", arguments.clone()).await;
    let again = tool(&replica, &key, "publish", arguments).await;
    assert_eq!(intents(&first).len(), 2, "one intent per entry: {first}");
    assert_eq!(
        intents(&first),
        intents(&again),
        "the same key answers the same intents"
    );
    let receipt = |id: String| receipt(replica.clone(), key.clone(), id);
    for (channel, id) in intents(&first) {
        let published = eventually(
            Duration::from_secs(30),
            &format!("{channel} published"),
            || async {
                let r = receipt(id.clone()).await;
                (r["status"] == "published").then_some(r)
            },
        )
        .await;
        assert_eq!(published["postedOnce"], true);
        assert!(published["detail"]["postId"].is_string(), "{published}");
        // Its address, as the platform gives it: TikTok's names the creator, Instagram's is
        // the media's permalink.
        let url = published["detail"]["url"].as_str().unwrap_or_default();
        let post = published["detail"]["postId"].as_str().unwrap();
        let expected = match channel.as_str() {
            "tiktok" => format!("https://www.tiktok.com/@almanac_test/video/{post}"),
            _ => format!("https://www.instagram.com/p/C{post}/"),
        };
        assert_eq!(url, expected, "{published}");
    }
    let written: i64 = sqlx::query_scalar("select count(*) from publish_intents where not dry_run")
        .fetch_one(&s.app.db)
        .await
        .unwrap();
    assert_eq!(written, 2);
    assert_eq!(
        s.fake.calls_to("/media_publish").len(),
        1,
        "Instagram called once"
    );
    assert_eq!(
        s.fake.calls_to("/video/init/").len(),
        1,
        "TikTok called once"
    );

    a_lost_answer_s_receipt_says_it_is_settling(&s, &key, &replica).await;
}

#[tokio::test]
async fn a_read_key_cannot_publish_and_another_user_sees_nothing() {
    let s = setup_plus(true, []).await;
    s.connect_both().await;
    let entry = s.entry(Entry::on("tiktok", "Scoped")).await;
    let reader = key(&s.app, s.user, &["read"]).await;
    let calendar = s.calendar.to_string();
    let refused = agent(
        &s.app.address,
        &reader,
        "publish",
        &json!({ "calendarId": calendar,
        "entryIds": [entry], "idempotencyKey": "read-key" }),
    )
    .await;
    assert_eq!(refused["isError"], true, "{refused}");
    assert_eq!(
        refused["structuredContent"]["error"]["code"],
        "INSUFFICIENT_SCOPE"
    );
    assert_eq!(
        refused["structuredContent"]["error"]["details"]["scope"],
        "publish"
    );
    assert!(s.fake.all_calls().is_empty(), "nothing reached a platform");
    // A tool checks every scope its calls need before the first: a write-only key cannot
    // read the flashcards back, so none are made (issue 73).
    let writer = key(&s.app, s.user, &["write"]).await;
    let refused = agent(
        &s.app.address,
        &writer,
        "generate_flashcards",
        &json!({ "source_text": crate::helpers::source_text(1500) }),
    )
    .await;
    assert_eq!(
        refused["structuredContent"]["error"]["code"], "INSUFFICIENT_SCOPE",
        "{refused}"
    );
    assert_eq!(
        refused["structuredContent"]["error"]["details"]["scope"],
        "read"
    );
    let generations: i64 = sqlx::query_scalar("select count(*) from ai_generations")
        .fetch_one(&s.app.db)
        .await
        .unwrap();
    assert_eq!(generations, 0, "nothing was done");
    let mine = tool(
        &s.app.address,
        &reader,
        "get_calendar",
        json!({ "calendarId": calendar }),
    )
    .await;
    assert_eq!(
        mine["structuredContent"]["calendar"]["id"],
        calendar.as_str()
    );

    let stranger = key(&s.app, Uuid::now_v7(), &["read", "write", "publish"]).await;
    let listed = tool(&s.app.address, &stranger, "list_calendars", json!({})).await;
    assert_eq!(listed["structuredContent"]["items"], json!([]), "{listed}");
    let theirs = agent(
        &s.app.address,
        &stranger,
        "get_calendar",
        &json!({ "calendarId": calendar }),
    )
    .await;
    assert_eq!(theirs["isError"], true);
    assert_eq!(theirs["structuredContent"]["error"]["code"], "NOT_FOUND");
    let resources = agent(&s.app.address, &stranger, "resources", &json!({})).await;
    assert_eq!(resources["resources"], json!([]), "{resources}");

    // No credentials, or a deleted key: 401 before any MCP message is read.
    let answer = s
        .app
        .client
        .post(s.app.url("/mcp"))
        .header("accept", "application/json, text/event-stream")
        .json(&json!({ "jsonrpc": "2.0", "id": 1, "method": "tools/list" }))
        .send()
        .await
        .unwrap();
    assert_eq!(answer.status(), 401);
    assert!(answer.headers().contains_key("www-authenticate"));
}

#[tokio::test]
async fn the_other_tools_edit_an_entry_make_flashcards_an_organic_week_and_a_synthesis() {
    let app = spawn_app().await;
    let user = Uuid::now_v7();
    let key = key(&app, user, &["read", "write"]).await;
    let base = &app.address;

    an_agent_edits_an_entry_under_its_own_name(&app, &key, user).await;

    let cards = tool(
        base,
        &key,
        "generate_flashcards",
        json!({ "source_text": crate::helpers::source_text(1500) }),
    )
    .await;
    let cards = &cards["structuredContent"];
    assert_eq!(cards["status"], "succeeded", "{cards}");
    let suggestions = cards["suggestions"]["items"].as_array().unwrap();
    assert!(!suggestions.is_empty(), "{cards}");

    crate::organic::library(&app, user).await;
    let week = tool(base, &key, "plan_organic_week", crate::organic::example()).await;
    let placements = week["structuredContent"]["placements"]
        .as_array()
        .unwrap()
        .len();
    assert!(placements > 0, "{week}");
    assert_eq!(week["structuredContent"]["status"], "succeeded", "{week}");
    assert_eq!(
        week["progressBeforeResult"].as_array().unwrap().len(),
        placements
    );

    let (status, theme) = app
        .send_json(
            reqwest::Method::POST,
            user,
            "/api/v1/themes",
            &json!({ "name": "Tea", "sources": [{ "type": "text",
            "value": "Matcha whisked at 80 degrees keeps its sweetness." }] }),
        )
        .await;
    assert_eq!(status, 201, "{theme}");
    let themes = tool(base, &key, "list_themes", json!({})).await;
    let listed = &themes["structuredContent"];
    // A list answers as `result` (structured content is an object).
    let first = listed["result"][0]["id"].as_str().unwrap_or_default();
    assert_eq!(first, theme["id"].as_str().unwrap(), "{themes}");
    let synthesis = tool(
        base,
        &key,
        "run_synthesis",
        json!({ "themeId": theme["id"] }),
    )
    .await;
    assert_eq!(
        synthesis["structuredContent"]["status"], "succeeded",
        "{synthesis}"
    );
    assert!(
        synthesis["structuredContent"]["sections"].is_array(),
        "{synthesis}"
    );
}

/// An agent plans a calendar and edits an entry: the entry names the run's model and
/// prompt, then the agent and its key; the activity names the tool; the review tools answer.
async fn an_agent_edits_an_entry_under_its_own_name(app: &TestApp, key: &str, user: Uuid) {
    let (base, key) = (&app.address, key);
    let planned = tool(
        base,
        key,
        "plan_calendar",
        crate::calendars::request(1, "tea"),
    )
    .await;
    let calendar = planned["structuredContent"]["calendarId"]
        .as_str()
        .unwrap()
        .to_owned();
    let saved = app.calendar(user, &calendar).await;
    let entry = saved["entries"][0]["id"].as_str().unwrap().to_owned();
    // A generated entry names its run's model and the prompt it was made with.
    let made = &saved["entries"][0]["provenance"];
    assert_eq!(made["origin"], "generated", "{made}");
    assert_eq!(made["via"], "worker");
    assert_eq!(made["model"], saved["runs"][0]["model"]);
    assert!(made["model"].is_string(), "{made}");
    assert_eq!(
        (
            made["promptTemplate"].as_str(),
            made["promptVersion"].as_str()
        ),
        (Some("calendar"), Some("v1"))
    );
    assert_eq!(made["editedBy"], Value::Null);
    let edited = tool(
        base,
        key,
        "update_entry",
        json!({ "calendarId": calendar, "entryId": entry, "title": "Edited by an agent" }),
    )
    .await;
    assert_eq!(
        edited["structuredContent"]["title"], "Edited by an agent",
        "{edited}"
    );
    let saved = app.calendar(user, &calendar).await;
    let entry = saved["entries"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["id"] == entry.as_str())
        .unwrap();
    assert_eq!(entry["title"], "Edited by an agent");
    assert_eq!(entry["edited"], true);
    // Its words are now the agent's, on the key's behalf.
    let words = &entry["provenance"];
    assert_eq!(
        (words["via"].as_str(), words["apiKeyName"].as_str()),
        (Some("mcp"), Some("test key")),
        "{words}"
    );
    assert_eq!(words["editedBy"], user.to_string());
    assert_eq!(words["model"], made["model"]);
    // No review asked for on its channel: the agent is told so, and reads where it stands.
    let ids = json!({ "calendarId": calendar, "entryId": entry["id"] });
    let asked = agent(base, key, "request_review", &ids).await;
    assert_eq!(asked["isError"], true, "{asked}");
    assert_eq!(
        asked["structuredContent"]["error"]["code"], "REVIEW_NOT_ENABLED",
        "{asked}"
    );
    let review = tool(base, key, "get_review", ids).await;
    assert_eq!(
        review["structuredContent"]["status"], "not_requested",
        "{review}"
    );
    assert_eq!(review["structuredContent"]["required"], false);
    // The workspace's activity names the agent: the tool, on the key's behalf.
    let recorded: Vec<(String, String, Option<String>, Option<String>)> = sqlx::query_as(
        "select action, actor_kind, tool, key_name from activity
         where actor_id = $1 and target ->> 'entry_id' = $2",
    )
    .bind(user)
    .bind(entry["id"].as_str().unwrap())
    .fetch_all(&app.db)
    .await
    .unwrap();
    assert_eq!(
        recorded,
        [(
            "editCalendarEntry".to_owned(),
            "agent".to_owned(),
            Some("update_entry".to_owned()),
            Some("test key".to_owned())
        )]
    );
}
