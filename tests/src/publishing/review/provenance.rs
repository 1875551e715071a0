//! Provenance on entries and receipts: the key's name for an entry made through the API,
//! the agent for an MCP publish, each approver with the version approved; and an agent's
//! publish of an unapproved entry answers `REVIEW_REQUIRED`.

use reqwest::Method;
use serde_json::{Value, json};

use super::{Team, editors_approve};
use crate::contract::mcp::agent;

#[tokio::test]
async fn a_receipt_names_the_key_the_agent_and_each_approver_with_the_version_approved() {
    let team = Team::start(&[("writer", "editor"), ("second", "editor")]).await;
    team.policy(editors_approve()).await;
    let made = json!({ "name": "Zapier", "scopes": ["read", "write", "publish"] });
    let (status, key) = team
        .call("owner", Method::POST, "/v1/api-keys", Some(&made))
        .await;
    assert_eq!(status, 201, "{key}");
    let key = key["data"]["key"].as_str().unwrap().to_owned();

    // An entry made with the key says so.
    let path = format!("/v1/calendars/{}/entries", team.calendar);
    let body = json!({ "channel": "tiktok", "date": "2030-01-08", "time": "10:00",
        "title": "Launch day", "caption": "Made by a script",
        "mediaUrl": "https://cdn.example.com/media/launch.mp4" });
    let (status, entry) =
        crate::workspaces::call_as(&team.s.app, &key, Method::POST, &path, None, Some(&body)).await;
    assert_eq!(status, 201, "{entry}");
    let made = &entry["data"]["provenance"];
    assert_eq!(made["origin"], "manual");
    assert_eq!(
        (made["via"].as_str(), made["apiKeyName"].as_str()),
        (Some("api"), Some("Zapier"))
    );
    let entry_id = entry["data"]["id"].as_str().unwrap().to_owned();

    // An agent's publish of it, unapproved, is refused and makes nothing.
    let base = &team.s.app.address;
    let publish = json!({ "calendarId": team.calendar, "entryIds": [entry_id],
        "idempotencyKey": "agent-publish-1" });
    let refused = agent(base, &key, "publish", &publish).await;
    assert_eq!(refused["isError"], true, "{refused}");
    assert_eq!(
        refused["structuredContent"]["error"]["code"],
        "REVIEW_REQUIRED"
    );
    let ids = json!({ "calendarId": team.calendar, "entryId": entry_id });
    let asked = agent(base, &key, "request_review", &ids).await;
    assert_eq!(asked["structuredContent"]["status"], "in_review", "{asked}");
    let approved = team.approve("second", entry_id.parse().unwrap()).await;
    assert_eq!(approved["status"], "approved");

    // Approved, the agent's publish goes; its receipt says who approved which version.
    let mut publish = publish;
    publish["idempotencyKey"] = json!("agent-publish-2");
    let published = agent(base, &key, "publish", &publish).await;
    assert_ne!(published["isError"], true, "{published}");
    let intent = published["structuredContent"]["intents"][0]["intentId"]
        .as_str()
        .unwrap()
        .to_owned();
    team.s.settled(&intent, "published").await;
    let receipt = agent(
        base,
        &key,
        "get_publish_receipt",
        &json!({ "intentId": intent }),
    )
    .await;
    let receipt = &receipt["structuredContent"];
    assert_eq!(receipt["status"], "published", "{receipt}");
    assert_eq!(receipt["sentHash"], receipt["approvedHash"]);
    assert!(receipt["sentHash"].is_string(), "{receipt}");
    let provenance = &receipt["provenance"];
    assert_eq!(provenance["apiKeyName"], "Zapier", "{provenance}");
    let approvals = &provenance["review"]["approvals"];
    assert_eq!(approvals.as_array().map(Vec::len), Some(1), "{provenance}");
    assert_eq!(approvals[0]["by"], team.id("second").to_string());
    assert_eq!(approvals[0]["stepName"], "Editor");
    assert_eq!(approvals[0]["contentVersion"], 1);
    assert_eq!(
        provenance["review"]["approvedHash"],
        receipt["approvedHash"]
    );

    // The receipt is what went out: an edit after leaves it as it was.
    team.edit(
        entry_id.parse().unwrap(),
        json!({ "caption": "Changed after" }),
    )
    .await;
    let kept = team.s.intent(&intent).await;
    assert_eq!(kept["provenance"]["review"]["approvals"], *approvals);
    assert_eq!(kept["provenance"]["via"], Value::from("api"));
    let now = team.read(entry_id.parse().unwrap()).await;
    assert_eq!(now["provenance"]["review"]["status"], "not_requested");
    assert_eq!(now["provenance"]["via"], "api");
    assert_eq!(now["provenance"]["apiKeyName"], Value::Null);
}

#[tokio::test]
async fn a_generated_entry_s_publish_names_the_model_and_prompt_that_wrote_it() {
    let team = Team::start(&[]).await;
    let request = json!({ "channels": ["tiktok"], "cadence": "daily", "start": "2030-02-04",
        "end": "2030-02-05" });
    let (status, made) = team
        .call("owner", Method::POST, "/v1/ai/calendar", Some(&request))
        .await;
    assert_eq!(status, 202, "{made}");
    let calendar = made["data"]["calendarId"].as_str().unwrap().to_owned();
    let path = format!("/v1/calendars/{calendar}");
    let generated = crate::helpers::eventually(
        std::time::Duration::from_secs(30),
        "the calendar to be generated",
        || async {
            let (_, read) = team.call("owner", Method::GET, &path, None).await;
            (read["data"]["runs"][0]["status"] == "succeeded").then_some(read["data"].clone())
        },
    )
    .await;
    let model = generated["runs"][0]["model"].clone();
    assert!(model.is_string(), "{generated}");
    let publish = json!({ "all": true, "dryRun": true });
    let (status, answer) = team
        .call(
            "owner",
            Method::POST,
            &format!("{path}/publish"),
            Some(&publish),
        )
        .await;
    assert_eq!(status, 200, "{answer}");
    let intent = answer["data"]["intents"][0]["id"].as_str().unwrap();
    // The receipt (the intent as read) names what wrote the words.
    let receipt = team.s.intent(intent).await;
    let provenance = &receipt["provenance"];
    assert_eq!(provenance["origin"], "generated", "{receipt}");
    assert_eq!(provenance["via"], "worker");
    assert_eq!(provenance["model"], model);
    assert_eq!(provenance["promptTemplate"], "calendar");
    assert_eq!(provenance["promptVersion"], "v1");
    assert_eq!(provenance["review"]["status"], "not_requested");
}
