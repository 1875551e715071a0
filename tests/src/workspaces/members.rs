//! Team workspaces and their members: what a member sees, what another workspace's member
//! does not, and a removed member refused at once on every API process, keys included.

use reqwest::Method;
use serde_json::json;
use uuid::Uuid;

use super::{HEADER, Person, app, join, team};
use crate::helpers::outbox::Outbox;

#[tokio::test]
async fn a_team_shares_its_cards_and_sees_nothing_of_another_workspace() {
    let outbox = Outbox::new();
    let app = app(&outbox).await;
    let (ana, bea, cal) = (
        Person::new(&app, "ana"),
        Person::new(&app, "bea"),
        Person::new(&app, "cal"),
    );
    let acme = team(&app, &ana, "Acme").await;
    join(&app, &outbox, acme, &ana, &bea, "editor").await;

    // Ana's workspaces: her personal one first, then Acme; each with her role.
    let (_, listed) = ana
        .call(&app, Method::GET, "/v1/workspaces", None, None)
        .await;
    let items = listed["data"]["items"].as_array().unwrap();
    assert_eq!(items.len(), 2, "{listed}");
    assert_eq!(
        (&items[0]["id"], &items[0]["personal"], &items[0]["role"]),
        (&json!(ana.id), &json!(true), &json!("owner"))
    );
    assert_eq!(
        (&items[1]["name"], &items[1]["members"], &items[1]["role"]),
        (&json!("Acme"), &json!(2), &json!("owner"))
    );

    // A card made in Acme is Acme's: both members see it there, in neither personal one.
    let card = json!({ "front": "Capital of Peru", "back": "Lima" });
    let (status, made) = ana
        .call(&app, Method::POST, "/api/cards", Some(acme), Some(&card))
        .await;
    assert_eq!(status, 201, "{made}");
    let card_id = made["id"].as_str().unwrap().to_owned();
    let count = async |who: &Person, workspace: Option<Uuid>| {
        let (status, cards) = who
            .call(&app, Method::GET, "/api/cards", workspace, None)
            .await;
        assert_eq!(status, 200, "{cards}");
        cards["items"].as_array().unwrap().len()
    };
    assert_eq!(count(&ana, Some(acme)).await, 1);
    assert_eq!(count(&bea, Some(acme)).await, 1);
    assert_eq!(count(&ana, None).await, 0);
    assert_eq!(count(&bea, None).await, 0);

    // An editor edits it by its id, no header needed: the card names its workspace.
    let path = format!("/api/cards/{card_id}");
    let edit = json!({ "card_type": "basic", "front": "Capital of Peru?", "back": "Lima" });
    let (status, edited) = bea
        .call(&app, Method::PATCH, &path, None, Some(&edit))
        .await;
    assert_eq!(status, 200, "{edited}");

    // Cal is no member: the workspace is not found, the card neither.
    let (status, refused) = cal
        .call(&app, Method::GET, "/api/cards", Some(acme), None)
        .await;
    assert_eq!(
        (status, &refused["error"]["code"]),
        (404, &json!("WORKSPACE_NOT_FOUND"))
    );
    let (status, _) = cal
        .call(&app, Method::PATCH, &path, None, Some(&edit))
        .await;
    assert_eq!(status, 404);
    let (status, _) = cal
        .call(&app, Method::DELETE, &path, Some(acme), None)
        .await;
    assert_eq!(status, 404);
    let members = format!("/v1/workspaces/{acme}/members");
    let (status, _) = cal.call(&app, Method::GET, &members, None, None).await;
    assert_eq!(status, 404);

    // A header that is no id is refused, naming the header.
    let answer = app
        .client
        .get(app.url("/api/cards"))
        .bearer_auth(&ana.token)
        .header(super::HEADER, "acme")
        .send()
        .await
        .unwrap();
    assert_eq!(answer.status(), 400);
    let refused: serde_json::Value = answer.json().await.unwrap();
    assert_eq!(refused["error"]["code"], "VALIDATION_FAILED");
    assert_eq!(refused["error"]["details"]["field"], "Almanac-Workspace");
}

#[tokio::test]
async fn a_removed_member_and_their_keys_are_refused_at_once_on_both_api_processes() {
    let outbox = Outbox::new();
    let mut app = app(&outbox).await;
    let second = app.start_api_replica().await;
    let (ana, bea) = (Person::new(&app, "ana"), Person::new(&app, "bea"));
    let acme = team(&app, &ana, "Acme").await;
    join(&app, &outbox, acme, &ana, &bea, "admin").await;
    let (status, key) = bea
        .call(
            &app,
            Method::POST,
            "/v1/api-keys",
            Some(acme),
            Some(&json!({ "name": "ci", "scopes": ["read"] })),
        )
        .await;
    assert_eq!(status, 201, "{key}");
    let key = key["data"]["key"].as_str().unwrap().to_owned();
    for base in [&app.address, &second] {
        let answer = app
            .client
            .get(format!("{base}/api/cards"))
            .bearer_auth(&key)
            .send()
            .await
            .unwrap();
        assert_eq!(answer.status(), 200);
    }

    // The last owner stays one; an owner removes the admin.
    let path = format!("/v1/workspaces/{acme}/members/{}", ana.id);
    let (status, refused) = ana
        .call(
            &app,
            Method::PATCH,
            &path,
            None,
            Some(&json!({ "role": "admin" })),
        )
        .await;
    assert_eq!(
        (status, &refused["error"]["code"]),
        (409, &json!("LAST_OWNER"))
    );
    let path = format!("/v1/workspaces/{acme}/members/{}", bea.id);
    let (status, _) = ana.call(&app, Method::DELETE, &path, None, None).await;
    assert_eq!(status, 204);

    // Her next request, on either process, with her token or her key: refused.
    for base in [&app.address, &second] {
        let answer = app
            .client
            .get(format!("{base}/api/cards"))
            .bearer_auth(&bea.token)
            .header(HEADER, acme.to_string())
            .send()
            .await
            .unwrap();
        assert_eq!(answer.status(), 404, "{base}");
        let answer = app
            .client
            .get(format!("{base}/api/cards"))
            .bearer_auth(&key)
            .send()
            .await
            .unwrap();
        assert_eq!(answer.status(), 401, "{base}");
    }
    let (_, members) = ana
        .call(
            &app,
            Method::GET,
            &format!("/v1/workspaces/{acme}/members"),
            None,
            None,
        )
        .await;
    assert_eq!(
        members["data"]["items"].as_array().unwrap().len(),
        1,
        "{members}"
    );
}
