//! An entry's review through a three-step policy: each step in order, its approvers only,
//! on the content version read; a content edit sends an approval back, a move keeps it.

use reqwest::Method;
use serde_json::json;

use super::Team;

#[tokio::test]
async fn a_three_step_policy_needs_each_step_in_order_from_its_approvers_only() {
    let team = Team::start(&[
        ("writer", "editor"),
        ("second", "editor"),
        ("legal1", "viewer"),
        ("legal2", "viewer"),
        ("admin", "admin"),
        ("viewer", "viewer"),
    ])
    .await;
    let policy = team
        .policy(json!({ "mode": "always", "steps": [
            { "name": "Editor", "approvers": { "roles": ["editor"] }, "required": 1 },
            { "name": "Legal", "approvers": { "userIds": [team.id("legal1"), team.id("legal2")] },
              "required": 2 },
            { "name": "Owner", "approvers": { "roles": ["owner"] } },
        ] }))
        .await;
    assert_eq!(policy["mode"], "always");
    assert_eq!(policy["steps"][2]["required"], 1);
    assert_eq!(policy["needsApproval"], json!([]));
    let entry = team.entry("Matcha, whisked", "2030-01-07T09:00:00Z").await;
    let fresh = team.read(entry).await;
    assert_eq!(fresh["channelId"], serde_json::Value::Null);
    assert_eq!(fresh["review"]["status"], "not_requested");
    assert_eq!(fresh["review"]["required"], true);
    assert_eq!(fresh["review"]["contentVersion"], 1);

    not_approved_goes_nowhere(&team, entry).await;
    through_three_steps(&team, entry).await;
    an_edit_sends_it_back(&team, entry).await;
}

#[tokio::test]
async fn a_policy_is_validated_set_by_admins_and_read_by_every_member() {
    let team = Team::start(&[("writer", "editor"), ("admin", "admin")]).await;
    // Asking for review where no policy asks for it says so.
    let entry = team.entry("No review yet", "2030-01-07T09:00:00Z").await;
    let (status, refused) = team.ask("writer", entry).await;
    assert_eq!(
        (status, refused["error"]["code"].as_str()),
        (409, Some("REVIEW_NOT_ENABLED"))
    );
    let path = format!("/v1/channels/{}/review", team.channel);
    let (status, none) = team.call("writer", Method::GET, &path, None).await;
    assert_eq!(status, 200, "{none}");
    assert_eq!(none["data"]["mode"], "none");
    assert_eq!(none["data"]["updatedBy"], serde_json::Value::Null);
    let policy = super::editors_approve();
    let (status, refused) = team.call("writer", Method::PUT, &path, Some(&policy)).await;
    assert_eq!(
        (status, refused["error"]["code"].as_str()),
        (403, Some("ROLE_REQUIRED"))
    );
    for (bad, field) in [
        (json!({ "mode": "always", "steps": [] }), "steps"),
        (
            json!({ "mode": "always", "steps": [{ "name": "Legal", "approvers": {} }] }),
            "steps[0].approvers",
        ),
        (
            json!({ "mode": "always", "steps": [{ "name": "Client",
                "approvers": { "guests": ["not an address"] } }] }),
            "steps[0].approvers.guests",
        ),
    ] {
        let (status, refused) = team.call("admin", Method::PUT, &path, Some(&bad)).await;
        assert_eq!(status, 422, "{refused}");
        assert_eq!(refused["error"]["details"]["field"], field, "{refused}");
    }
    let four = json!({ "mode": "always", "steps": [
        { "name": "1", "approvers": { "roles": ["editor"] } },
        { "name": "2", "approvers": { "roles": ["editor"] } },
        { "name": "3", "approvers": { "roles": ["editor"] } },
        { "name": "4", "approvers": { "roles": ["editor"] } },
    ] });
    let (status, _) = team.call("admin", Method::PUT, &path, Some(&four)).await;
    assert_eq!(status, 400);
    let (status, set) = team.call("admin", Method::PUT, &path, Some(&policy)).await;
    assert_eq!(status, 200, "{set}");
    assert_eq!(set["data"]["updatedBy"], team.id("admin").to_string());
    assert_eq!(team.ask("writer", entry).await.0, 200);
    // The workspace's own stays unset; the channel's applies to its entries.
    let workspace = format!("/v1/workspaces/{}/review", team.workspace);
    let (status, own) = team.call("writer", Method::GET, &workspace, None).await;
    assert_eq!((status, own["data"]["mode"].as_str()), (200, Some("none")));
    // The workspace's policy applies to a channel without one of its own.
    let (status, _) = team
        .call(
            "owner",
            Method::PUT,
            &workspace,
            Some(&super::editors_approve()),
        )
        .await;
    assert_eq!(status, 200);
    let (status, own) = team.call("writer", Method::GET, &workspace, None).await;
    assert_eq!(
        (status, own["data"]["mode"].as_str()),
        (200, Some("always"))
    );
    // The composer names the entry's channel: one of the workspace's, of its platform.
    let path = format!("/v1/calendars/{}/entries/{entry}", team.calendar);
    let nobody = json!({ "channelId": uuid::Uuid::now_v7() });
    let (status, refused) = team
        .call("writer", Method::PATCH, &path, Some(&nobody))
        .await;
    assert_eq!(status, 422, "{refused}");
    assert_eq!(refused["error"]["details"]["field"], "channelId");
    let chosen = team.edit(entry, json!({ "channelId": team.channel })).await;
    assert_eq!(chosen["channelId"], team.channel.to_string());
}

/// Not approved: the dry run and the publish both say so, and nothing is made or sent.
async fn not_approved_goes_nowhere(team: &Team, entry: uuid::Uuid) {
    for dry_run in [true, false] {
        let (status, answer) = team
            .publish(json!({ "entryIds": [entry], "dryRun": dry_run }))
            .await;
        assert_eq!(status, 200, "{answer}");
        assert_eq!(answer["data"]["intents"], json!([]), "{answer}");
        assert_eq!(answer["data"]["refused"][0]["code"], "REVIEW_REQUIRED");
        assert_eq!(answer["data"]["refused"][0]["entryId"], entry.to_string());
    }
    let intents: i64 = sqlx::query_scalar("select count(*) from publish_intents")
        .fetch_one(&team.s.app.db)
        .await
        .unwrap();
    assert_eq!(intents, 0);
}

/// Asked for, then each step in order, by its approvers only.
async fn through_three_steps(team: &Team, entry: uuid::Uuid) {
    // A decision before review was asked for is refused.
    let (status, early) = team.decide("second", entry, "approve", 1).await;
    assert_eq!(
        (status, early["error"]["code"].as_str()),
        (409, Some("REVIEW_NOT_IN_PROGRESS"))
    );

    let (status, asked) = team.ask("writer", entry).await;
    assert_eq!(status, 200, "{asked}");
    assert_eq!(asked["data"]["status"], "in_review");
    assert_eq!(asked["data"]["step"], 1);
    assert_eq!(asked["data"]["steps"][1]["name"], "Legal");

    // The Review page's list: it waits for the other editors, not for the one who asked.
    for (name, yours) in [("second", true), ("writer", false), ("viewer", false)] {
        let (status, listed) = team.call(name, Method::GET, "/v1/reviews", None).await;
        assert_eq!(status, 200, "{listed}");
        let item = &listed["data"]["items"][0];
        assert_eq!(item["entryId"], entry.to_string());
        assert_eq!(
            (item["stepName"].as_str(), item["steps"].as_i64()),
            (Some("Editor"), Some(3))
        );
        assert_eq!(item["yours"], yours, "{name}");
    }
    // Step 1: the editor who asked may not decide, nor a viewer; another editor may.
    for name in ["writer", "viewer", "legal1"] {
        let (status, refused) = team.decide(name, entry, "approve", 1).await;
        assert_eq!(status, 403, "{name}: {refused}");
        assert_eq!(refused["error"]["code"], "NOT_AN_APPROVER");
    }
    assert_eq!(team.approve("second", entry).await["step"], 2);

    // Step 2 needs both lawyers: the admin is not one of them; one approval keeps it there.
    let (status, refused) = team.decide("admin", entry, "approve", 1).await;
    assert_eq!(
        (status, refused["error"]["code"].as_str()),
        (403, Some("NOT_AN_APPROVER"))
    );
    let one = team.approve("legal1", entry).await;
    assert_eq!(
        (one["status"].as_str(), one["step"].as_i64()),
        (Some("in_review"), Some(2))
    );
    // The same lawyer twice counts once.
    let again = team.approve("legal1", entry).await;
    assert_eq!(again["step"], 2);
    // A decision on another content version than the entry's is refused.
    let (status, stale) = team.decide("legal2", entry, "approve", 2).await;
    assert_eq!(status, 409, "{stale}");
    assert_eq!(stale["error"]["code"], "REVIEW_VERSION_CHANGED");
    assert_eq!(stale["error"]["details"]["contentVersion"], 1);
    assert_eq!(team.approve("legal2", entry).await["step"], 3);
    let approved = team.approve("owner", entry).await;
    assert_eq!(approved["status"], "approved");
    assert_eq!(approved["step"], serde_json::Value::Null);
    assert_eq!(approved["approvedVersion"], 1);
    let steps: Vec<i64> = approved["decisions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["step"].as_i64().unwrap())
        .collect();
    assert_eq!(steps, [1, 2, 2, 3]);
    assert_eq!(approved["decisions"][3]["by"], team.id("owner").to_string());
    assert_eq!(approved["decisions"][3]["comment"], "owner says approve");
}

/// A move keeps the approval; a change of words sends it back, the history kept, and the
/// next round starts over.
async fn an_edit_sends_it_back(team: &Team, entry: uuid::Uuid) {
    // Moving it keeps the approval.
    let moved = team
        .edit(entry, json!({ "date": "2030-01-08", "time": "10:30" }))
        .await;
    assert_eq!(moved["review"]["status"], "approved");
    assert_eq!(moved["review"]["contentVersion"], 1);
    // A change of its words sends it back, the decisions kept.
    let edited = team
        .edit(entry, json!({ "caption": "Matcha, whisked twice" }))
        .await;
    assert_eq!(edited["review"]["status"], "not_requested");
    assert_eq!(edited["review"]["contentVersion"], 2);
    assert_eq!(edited["review"]["approvedVersion"], serde_json::Value::Null);
    assert_eq!(edited["review"]["decisions"].as_array().unwrap().len(), 4);
    let (_, answer) = team
        .publish(json!({ "entryIds": [entry], "dryRun": true }))
        .await;
    assert_eq!(answer["data"]["refused"][0]["code"], "REVIEW_REQUIRED");

    // A new round starts at step 1; a decision on the old version is refused.
    let (_, asked) = team.ask("writer", entry).await;
    assert_eq!(
        (
            asked["data"]["status"].as_str(),
            asked["data"]["step"].as_i64()
        ),
        (Some("in_review"), Some(1))
    );
    let (status, stale) = team.decide("second", entry, "approve", 1).await;
    assert_eq!(
        (status, stale["error"]["code"].as_str()),
        (409, Some("REVIEW_VERSION_CHANGED"))
    );
    // Changes asked for end the round where they were asked.
    let (status, changes) = team.decide("second", entry, "request_changes", 2).await;
    assert_eq!(status, 200, "{changes}");
    assert_eq!(changes["data"]["status"], "changes_requested");
    assert_eq!(changes["data"]["step"], 1);
    assert_eq!(
        changes["data"]["decisions"][4]["decision"],
        "request_changes"
    );
    assert_eq!(changes["data"]["decisions"][4]["contentVersion"], 2);
}
