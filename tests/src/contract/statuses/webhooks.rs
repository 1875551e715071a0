//! Webhooks' refusals: a URL deliveries cannot use (422; the tests' servers allow private
//! networks, so a scheme other than http(s) here), an event type nobody sends (422), a test
//! or a redelivery to a disabled endpoint (409), and past the user's limit of tests and
//! redeliveries (429; `WEBHOOK_TEST_RATE_LIMIT` is 1 here).

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
    let paused = json!({ "enabled": false });
    probe
        .succeed(200, probe.call("updateWebhook", &[id]).json(paused))
        .await;
    probe.expect(409, probe.call("testWebhook", &[id])).await;
    let delivery = uuid::Uuid::now_v7();
    probe
        .expect(409, probe.call("redeliverWebhookDelivery", &[id, delivery]))
        .await;
    let enabled = json!({ "enabled": true });
    probe
        .succeed(200, probe.call("updateWebhook", &[id]).json(enabled))
        .await;
    probe.succeed(202, probe.call("testWebhook", &[id])).await;
    probe.expect(429, probe.call("testWebhook", &[id])).await;
    probe
        .expect(429, probe.call("redeliverWebhookDelivery", &[id, delivery]))
        .await;
}
