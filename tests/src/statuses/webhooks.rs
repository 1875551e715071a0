//! Webhooks' refusals: a URL deliveries cannot use (422; the tests' servers allow private
//! networks, so a scheme other than http(s) here), an event type nobody sends (422).

use serde_json::json;

use super::{Probe, uuid};

pub(super) async fn refusals(probe: &Probe) {
    let refused = json!({ "url": "ftp://hooks.example.com/in", "events": ["job.failed"] });
    probe
        .expect(422, probe.call("createWebhook", &[]).json(refused))
        .await;
    let created = probe.succeed(201, probe.call("createWebhook", &[])).await;
    let id = uuid(&created["data"]["id"]);
    let unknown = json!({ "events": ["job.started"] });
    probe
        .expect(422, probe.call("updateWebhook", &[id]).json(unknown))
        .await;
}
