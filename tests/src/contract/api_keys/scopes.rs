//! Every user operation of the generated document takes an API key and names the scope it
//! needs, by the rule of issue 53 (written here again, from its text): `read` for a `GET`
//! or `HEAD`; `publish` for every other operation on channels, publish intents, the queue
//! and evergreen posts, and `POST /v1/calendars/{id}/publish`; `write` for the rest. Keys
//! are never taken by `/v1/api-keys`. Then a key of each scope calls every operation: the
//! operations of its scope take it, every other one answers 403 `INSUFFICIENT_SCOPE`
//! naming the scope it needs.

use reqwest::Method;
use serde_json::Value;
use uuid::Uuid;

use crate::helpers::{TestOptions, spawn_app_with};

fn expected_scope(method: &str, path: &str) -> &'static str {
    if method == "get" || method == "head" {
        return "read";
    }
    let publishing = [
        "/v1/channels",
        "/v1/publish-intents",
        "/v1/queue",
        "/v1/evergreen",
    ]
    .iter()
    .any(|family| path == *family || path.starts_with(&format!("{family}/")));
    let segments: Vec<&str> = path.split('/').collect();
    let publishes_a_calendar =
        method == "post" && matches!(segments.as_slice(), ["", "v1", "calendars", _, "publish"]);
    if publishing || publishes_a_calendar {
        "publish"
    } else {
        "write"
    }
}

/// A value for a path parameter that the operation's own checks would take.
fn parameter(name: &str) -> String {
    match name {
        "platform" => "tiktok".into(),
        "weekStart" => "2030-01-07".into(),
        "email" => "reader@example.com".into(),
        _ => Uuid::now_v7().to_string(),
    }
}

fn schemes(operation: &Value) -> Vec<String> {
    operation["security"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(Value::as_object)
        .flat_map(|requirement| requirement.keys().cloned())
        .collect()
}

#[tokio::test]
async fn every_user_operation_names_its_scope_and_keys_are_held_to_it() {
    let app = spawn_app_with(TestOptions {
        worker: false,
        ..Default::default()
    })
    .await;
    let document = app.served_document().await;
    let scheme = &document["components"]["securitySchemes"]["ApiKeyAuth"];
    assert_eq!(scheme["type"], "http");
    assert_eq!(scheme["scheme"], "bearer");
    assert_eq!(scheme["bearerFormat"], "alm_…");

    let mut operations = Vec::new();
    for (path, item) in document["paths"].as_object().unwrap() {
        for (method, operation) in item.as_object().unwrap() {
            let schemes = schemes(operation);
            if !schemes.iter().any(|s| s == "BearerAuth") {
                assert!(
                    !schemes.iter().any(|s| s == "ApiKeyAuth"),
                    "{method} {path}"
                );
                continue;
            }
            if path.starts_with("/v1/api-keys")
                || almanac_api::roles::refuses_keys(&method.to_ascii_uppercase(), path)
            {
                assert!(
                    !schemes.iter().any(|s| s == "ApiKeyAuth"),
                    "{method} {path}"
                );
                assert!(
                    operation.get("x-almanac-scope").is_none(),
                    "{method} {path}"
                );
                continue;
            }
            assert!(
                schemes.iter().any(|s| s == "ApiKeyAuth"),
                "{method} {path} takes no API key"
            );
            let scope = expected_scope(method, path);
            assert_eq!(
                operation["x-almanac-scope"], scope,
                "{method} {path}'s x-almanac-scope"
            );
            assert!(
                operation["responses"].get("403").is_some(),
                "{method} {path} documents no 403"
            );
            operations.push((method.to_uppercase(), path.clone(), scope));
        }
    }
    assert!(
        operations.len() >= 85,
        "{} user operations",
        operations.len()
    );
    for scope in ["read", "write", "publish"] {
        assert!(operations.iter().any(|(_, _, s)| *s == scope), "{scope}");
    }

    let user = Uuid::now_v7();
    let parameters = regex::Regex::new(r"\{([^}]+)\}").unwrap();
    for key_scope in ["read", "write", "publish"] {
        let (key, _) = app.key_with(user, &[key_scope]).await;
        for (method, template, needed) in &operations {
            // A workspace's operations name the key's own (the user's personal one).
            let path = parameters.replace_all(template, |c: &regex::Captures| {
                match template.starts_with("/v1/workspaces/{id}") && &c[1] == "id" {
                    true => user.to_string(),
                    false => parameter(&c[1]),
                }
            });
            let method = Method::from_bytes(method.as_bytes()).unwrap();
            let (status, answer) = app
                .with_key(method.clone(), &app.address, &path, &key, None)
                .await;
            let refused_for_scope =
                status == 403 && answer["error"]["code"] == "INSUFFICIENT_SCOPE";
            if key_scope == *needed {
                assert!(
                    status != 401 && !refused_for_scope,
                    "a {key_scope} key on {method} {template}: {status} {answer}"
                );
            } else {
                assert!(
                    refused_for_scope,
                    "a {key_scope} key on {method} {template} ({needed}): {status} {answer}"
                );
                assert_eq!(answer["error"]["details"]["scope"], *needed);
            }
        }
    }
}
