//! Invitations: emailed to an address, accepted once and only by a person signed in with
//! it; revoked or expired ones refused; rate limited; never sent or accepted with a key.

use reqwest::Method;
use serde_json::{Value, json};

use super::{JOIN, Person, app_with, call_as, team};
use crate::helpers::outbox::Outbox;

/// The error code of an answer.
fn code(answer: &Value) -> &Value {
    &answer["error"]["code"]
}

#[tokio::test]
async fn an_invitation_is_accepted_once_by_its_own_address_and_not_when_revoked_or_expired() {
    let outbox = Outbox::new();
    let app = app_with(&outbox, &[("INVITATION_RATE_LIMIT", "5")]).await;
    let (ana, bea, cal, dan) = (
        Person::new(&app, "ana"),
        Person::new(&app, "bea"),
        Person::new(&app, "cal"),
        Person::new(&app, "dan"),
    );
    let acme = team(&app, &ana, "Acme").await;
    let invitations = format!("/v1/workspaces/{acme}/invitations");
    let invite = async |email: &str, role: &str| {
        let body = json!({ "email": email, "role": role });
        ana.call(&app, Method::POST, &invitations, None, Some(&body))
            .await
    };
    let (status, sent) = invite(&bea.email.to_uppercase(), "editor").await;
    assert_eq!(status, 201, "{sent}");
    assert_eq!(
        sent["data"]["email"], bea.email,
        "addresses are kept lower-case"
    );
    let token = outbox.token(&bea.email, 1, JOIN).await;
    let accept = format!("/v1/invitations/{token}/accept");

    // Cal holds the link, but it was sent to Bea.
    let (status, refused) = cal.call(&app, Method::POST, &accept, None, None).await;
    assert_eq!(
        (status, code(&refused)),
        (403, &json!("INVITATION_NOT_YOURS"))
    );
    // Bea accepts it, once.
    let (status, joined) = bea.call(&app, Method::POST, &accept, None, None).await;
    assert_eq!(status, 200, "{joined}");
    assert_eq!(joined["data"]["workspace"]["id"], json!(acme));
    assert_eq!(joined["data"]["workspace"]["role"], "editor");
    let (status, refused) = bea.call(&app, Method::POST, &accept, None, None).await;
    assert_eq!((status, code(&refused)), (410, &json!("INVITATION_USED")));
    // A member's address is not invited again; a personal workspace invites nobody.
    let (status, refused) = invite(&bea.email, "viewer").await;
    assert_eq!(
        (status, &refused["error"]["details"]["field"]),
        (422, &json!("email"))
    );
    let personal = format!("/v1/workspaces/{}/invitations", ana.id);
    let body = json!({ "email": dan.email, "role": "viewer" });
    let (status, refused) = ana
        .call(&app, Method::POST, &personal, None, Some(&body))
        .await;
    assert_eq!(
        (status, code(&refused)),
        (409, &json!("WORKSPACE_PERSONAL"))
    );

    // Revoked: Dan's link stops working.
    let (_, sent) = invite(&dan.email, "viewer").await;
    let (_, open) = ana.call(&app, Method::GET, &invitations, None, None).await;
    assert_eq!(open["data"]["items"].as_array().unwrap().len(), 1, "{open}");
    let revoke = format!("{invitations}/{}", sent["data"]["id"].as_str().unwrap());
    let (status, _) = ana.call(&app, Method::DELETE, &revoke, None, None).await;
    assert_eq!(status, 204);
    let token = outbox.token(&dan.email, 1, JOIN).await;
    let accept = format!("/v1/invitations/{token}/accept");
    let (status, refused) = dan.call(&app, Method::POST, &accept, None, None).await;
    assert_eq!(
        (status, code(&refused)),
        (410, &json!("INVITATION_REVOKED"))
    );

    // Expired: Cal's, once its time is up.
    invite(&cal.email, "viewer").await;
    let token = outbox.token(&cal.email, 1, JOIN).await;
    sqlx::query(
        "update workspace_invitations set expires_at = now() - interval '1 second'
         where email = $1",
    )
    .bind(&cal.email)
    .execute(&app.db)
    .await
    .unwrap();
    let accept = format!("/v1/invitations/{token}/accept");
    let (status, refused) = cal.call(&app, Method::POST, &accept, None, None).await;
    assert_eq!(
        (status, code(&refused)),
        (410, &json!("INVITATION_EXPIRED"))
    );
    let (status, _) = cal
        .call(&app, Method::GET, "/api/cards", Some(acme), None)
        .await;
    assert_eq!(status, 404, "Cal never joined");
}

#[tokio::test]
async fn invitations_are_an_admins_rate_limited_and_refuse_keys() {
    let outbox = Outbox::new();
    let app = app_with(&outbox, &[("INVITATION_RATE_LIMIT", "3")]).await;
    let ana = Person::new(&app, "ana");
    let bea = Person::new(&app, "bea");
    let acme = team(&app, &ana, "Acme").await;
    super::join(&app, &outbox, acme, &ana, &bea, "editor").await;
    let invitations = format!("/v1/workspaces/{acme}/invitations");
    let body = |n: usize| json!({ "email": format!("guest{n}@example.com"), "role": "viewer" });

    // An editor invites nobody.
    let (status, refused) = bea
        .call(&app, Method::POST, &invitations, None, Some(&body(0)))
        .await;
    assert_eq!((status, code(&refused)), (403, &json!("ROLE_REQUIRED")));
    assert_eq!(refused["error"]["details"]["role"], "admin");

    // An owner's key, even one with every scope, is refused: 401.
    let (_, key) = ana
        .call(
            &app,
            Method::POST,
            "/v1/api-keys",
            Some(acme),
            Some(&json!({ "name": "all", "scopes": ["read", "write", "publish"] })),
        )
        .await;
    let key = key["data"]["key"].as_str().unwrap();
    let (status, _) = call_as(&app, key, Method::POST, &invitations, None, Some(&body(0))).await;
    assert_eq!(status, 401);
    let (status, _) = call_as(&app, key, Method::GET, &invitations, None, None).await;
    assert_eq!(status, 401);

    // Ana sent one already (Bea's): two more, then 429.
    for n in 1..=2 {
        let (status, sent) = ana
            .call(&app, Method::POST, &invitations, None, Some(&body(n)))
            .await;
        assert_eq!(status, 201, "{sent}");
    }
    let (status, refused) = ana
        .call(&app, Method::POST, &invitations, None, Some(&body(3)))
        .await;
    assert_eq!((status, code(&refused)), (429, &json!("RATE_LIMITED")));
    assert_eq!(outbox.to("guest3@example.com").len(), 0);
}
