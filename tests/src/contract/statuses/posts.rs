//! Posts' refusals (`docs/posts.md`): a channel that is not the workspace's, a variant for a
//! channel the post does not go to (422), and a change made on a post read before another
//! change (412).

use serde_json::json;
use uuid::Uuid;

use super::Probe;
use crate::helpers::TestApp;

pub(super) async fn refusals(app: &TestApp, probe: &Probe, user: Uuid, calendar: Uuid) {
    probe
        .expect(422, probe.call("createPost", &[calendar]))
        .await;
    let channel = Uuid::now_v7();
    sqlx::query(
        "insert into platform_accounts (id, user_id, workspace_id, platform, account_id)
         values ($1, $2, $2, 'bluesky', 'did:plc:probe')",
    )
    .bind(channel)
    .bind(user)
    .execute(&app.db)
    .await
    .unwrap();
    let body = json!({ "caption": "Probe", "mediaIds": [], "channelIds": [channel],
        "scheduledAt": "2027-03-01T09:00:00Z" });
    let made = probe
        .succeed(201, probe.call("createPost", &[calendar]).json(body))
        .await;
    let post: Uuid = made["data"]["id"].as_str().unwrap().parse().unwrap();
    let ids = [calendar, post];
    let stranger = json!({ "variants": { Uuid::now_v7().to_string(): { "caption": "x" } } });
    probe
        .expect(422, probe.call("updatePost", &ids).json(stranger))
        .await;
    // A version nobody read (they start at 1): a change made since.
    let call = probe.call("updatePost", &ids).if_match("\"0\"");
    probe.expect(412, call).await;
    probe.succeed(200, probe.call("deletePost", &ids)).await;
}
