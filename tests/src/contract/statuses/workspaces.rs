//! Workspaces' refusals: on every user operation, an `Almanac-Workspace` that is no id
//! (400), one the caller is no member of (404) and, where the operation needs more than a
//! viewer, a viewer's call (403 `ROLE_REQUIRED`); and the workspace operations' own: a
//! personal workspace deleted or invited into (409), the last owner (409), an address that
//! is none (422), an invitation past the rate limit (429), someone else's (403) or used
//! (410).

use serde_json::{Value, json};
use uuid::Uuid;

use super::{Probe, uuid};
use crate::helpers::TestApp;

pub(super) async fn refusals(app: &TestApp, probe: &Probe, user: Uuid) {
    let owner = Uuid::now_v7();
    let team = made_by(app, owner, "Probe team").await;
    sqlx::query(
        "insert into workspace_members (workspace_id, user_id, role) values ($1, $2, 'viewer')",
    )
    .bind(team)
    .bind(user)
    .execute(&app.db)
    .await
    .unwrap();
    for op in &probe.operations {
        let Some(role) = &op.role else { continue };
        let ids: Vec<Uuid> = match op.path.starts_with("/v1/workspaces/{id}") {
            true => vec![team],
            false => Vec::new(),
        };
        let call = || Probe::call_to(op, &ids);
        let (status, body) = send(probe, call().workspace("acme")).await;
        assert_eq!((op.id.as_str(), status), (op.id.as_str(), 400), "{body}");
        assert_eq!(
            body["error"]["details"]["field"], "Almanac-Workspace",
            "{}",
            op.id
        );
        let nobody = Uuid::now_v7().to_string();
        let (status, body) = send(probe, Probe::call_to(op, &[]).workspace(&nobody)).await;
        assert_eq!((op.id.as_str(), status), (op.id.as_str(), 404), "{body}");
        if role != "viewer" {
            let (status, body) = send(probe, call().workspace(&team.to_string())).await;
            assert_eq!((op.id.as_str(), status), (op.id.as_str(), 403), "{body}");
            assert_eq!(body["error"]["code"], "ROLE_REQUIRED", "{}", op.id);
            assert_eq!(body["error"]["details"]["role"], role.as_str(), "{}", op.id);
        }
    }
    own_refusals(app, probe, user).await;
}

/// Sends `call`, recording what it got.
async fn send(probe: &Probe, call: super::Call) -> (u16, Value) {
    let operation = call.operation.clone();
    let (status, body) = probe.send_to(&probe.address, call).await;
    probe
        .seen
        .borrow_mut()
        .entry(operation)
        .or_default()
        .insert(status);
    (status, body)
}

/// A team workspace `owner` makes.
async fn made_by(app: &TestApp, owner: Uuid, name: &str) -> Uuid {
    let (status, made) = app
        .send_json(
            reqwest::Method::POST,
            owner,
            "/v1/workspaces",
            &json!({ "name": name }),
        )
        .await;
    assert_eq!(status, 201, "{made}");
    uuid(&made["data"]["id"])
}

async fn own_refusals(app: &TestApp, probe: &Probe, user: Uuid) {
    // The caller's personal workspace: not deleted, nobody invited.
    probe
        .expect(409, probe.call("deleteWorkspace", &[user]))
        .await;
    probe
        .expect(409, probe.call("createInvitation", &[user]))
        .await;
    // Their own team: its last owner stays one.
    let ours = probe.succeed(201, probe.call("createWorkspace", &[])).await;
    let ours = uuid(&ours["data"]["id"]);
    let demote = probe
        .call("updateMember", &[ours, user])
        .json(json!({ "role": "admin" }));
    probe.expect(409, demote).await;
    probe
        .expect(409, probe.call("removeMember", &[ours, user]))
        .await;
    // An address that is none; then one invitation, and the next past the limit (1).
    let none = json!({ "email": "not an address", "role": "viewer" });
    let call = probe.call("createInvitation", &[ours]).json(none);
    probe.expect(422, call).await;
    probe
        .succeed(201, probe.call("createInvitation", &[ours]))
        .await;
    let again = json!({ "email": "second@example.com", "role": "viewer" });
    let call = probe.call("createInvitation", &[ours]).json(again);
    probe.expect(429, call).await;
    // Invitations kept as digests: one to another address, one accepted already.
    for (token, accepted) in [("a", false), ("b", true)] {
        let token = token.repeat(43);
        sqlx::query(
            "insert into workspace_invitations
                 (id, workspace_id, email, role, digest, invited_by, expires_at, accepted_at)
             values ($1, $2, 'someone@example.com', 'viewer', $3, $4, now() + interval '1 day',
                     case when $5 then now() end)",
        )
        .bind(Uuid::now_v7())
        .bind(ours)
        .bind(&almanac_shared::sign_in::digest(&token)[..])
        .bind(user)
        .bind(accepted)
        .execute(&app.db)
        .await
        .unwrap();
        let status = if accepted { 410 } else { 403 };
        let call = probe
            .call("acceptInvitation", &[])
            .path(format!("/v1/invitations/{token}/accept"));
        probe.expect(status, call).await;
    }
}
