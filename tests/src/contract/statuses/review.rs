//! Review's refusals (`docs/review.md`): a policy that cannot be met (422), review asked for
//! where no policy asks for it, a decision on an entry not in review or on another content
//! version (409), and a decision by the person who asked for the review (403).

use serde_json::json;
use uuid::Uuid;

use super::Probe;

pub(super) async fn refusals(probe: &Probe, user: Uuid, calendar: Uuid, entry: Uuid) {
    let unmet = json!({ "mode": "always", "steps": [] });
    let call = probe
        .call("setChannelReview", &[Uuid::now_v7()])
        .json(unmet.clone());
    probe.expect(422, call).await;
    let call = probe.call("setWorkspaceReview", &[user]).json(unmet);
    probe.expect(422, call).await;
    // No policy yet: nothing to ask for, nothing to decide.
    let ids = [calendar, entry];
    probe
        .expect(409, probe.call("requestEntryReview", &ids))
        .await;
    probe
        .expect(409, probe.call("decideEntryReview", &ids))
        .await;
    // The caller's own workspace asks its owner; the caller asks, so may not decide.
    let owners = json!({ "mode": "always", "steps": [
        { "name": "Owner", "approvers": { "roles": ["owner"] } }
    ] });
    let call = probe.call("setWorkspaceReview", &[user]).json(owners);
    probe.succeed(200, call).await;
    probe
        .succeed(200, probe.call("requestEntryReview", &ids))
        .await;
    probe
        .expect(403, probe.call("decideEntryReview", &ids))
        .await;
    let call = probe
        .call("setWorkspaceReview", &[user])
        .json(json!({ "mode": "none" }));
    probe.succeed(200, call).await;
}
