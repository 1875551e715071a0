//! API keys' refusals: an expiry in the past (422), and on every operation a key may
//! call, a key without the scope it names (403 `INSUFFICIENT_SCOPE`): a `read` key for the
//! writes and publishes, a `write` key for the reads. The account's own: a time zone that
//! is not one (422).

use serde_json::json;

use super::Probe;

pub(super) async fn refusals(probe: &Probe) {
    let nowhere = json!({ "displayTimezone": "Mars/Olympus" });
    probe
        .expect(422, probe.call("updateMe", &[]).json(nowhere))
        .await;
    let past = json!({ "name": "probe", "scopes": ["read"], "expiresAt": "2020-01-01T00:00:00Z" });
    probe
        .expect(422, probe.call("createApiKey", &[]).json(past))
        .await;
    let key = |scope: &str| {
        let body = json!({ "name": format!("probe {scope}"), "scopes": [scope] });
        async move {
            let made = probe
                .succeed(201, probe.call("createApiKey", &[]).json(body))
                .await;
            made["data"]["key"].as_str().unwrap().to_owned()
        }
    };
    let (read, write) = (key("read").await, key("write").await);
    for op in &probe.operations {
        let Some(scope) = &op.scope else { continue };
        let key = if scope == "read" { &write } else { &read };
        // A workspace's operations name the key's own (the user's personal one).
        let ids = match op.path.starts_with("/v1/workspaces/{id}") {
            true => vec![probe.user],
            false => Vec::new(),
        };
        let call = Probe::call_to(op, &ids).bearer(key);
        let operation = call.operation.clone();
        let (status, body) = probe.send_to(&probe.address, call).await;
        assert_eq!(status, 403, "{operation}: {body}");
        assert_eq!(body["error"]["code"], "INSUFFICIENT_SCOPE", "{operation}");
        assert_eq!(
            body["error"]["details"]["scope"],
            scope.as_str(),
            "{operation}"
        );
        probe
            .seen
            .borrow_mut()
            .entry(operation)
            .or_default()
            .insert(status);
    }
}
