//! No API key in any log line: the real `almanac-api` binary, logging JSON at `debug`,
//! while a key is made, used (on the API and the MCP server), used in the query string,
//! sent where keys are refused, pasted as the app's sign-in token and deleted.

use reqwest::Method;
use serde_json::{Value, json};
use uuid::Uuid;

use almanac_shared::auth::JwtKeys;
use almanac_tests::processes::Service;

use crate::helpers::{JWT_SECRET, admin_url, drop_database, fresh_database, redis_url};

/// The MCP server reads the key from the same header; a tool's calls to the API are
/// logged under the MCP request's id.
async fn the_mcp_server_takes_it_and_logs_a_tool_s_calls(
    http: &reqwest::Client,
    api: &Service,
    key: &str,
) {
    let mcp = http
        .post(api.url("/mcp"))
        .bearer_auth(key)
        .header("accept", "application/json, text/event-stream")
        .json(
            &json!({ "jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {
            "protocolVersion": "2025-06-18", "capabilities": {},
            "clientInfo": { "name": "log test", "version": "1" } } }),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(mcp.status(), 200);
    let call = http
        .post(api.url("/mcp"))
        .bearer_auth(key)
        .header("accept", "application/json, text/event-stream")
        .header("mcp-protocol-version", "2025-06-18")
        .header("x-request-id", "req-mcp-tool")
        .json(&json!({ "jsonrpc": "2.0", "id": 2, "method": "tools/call",
            "params": { "name": "list_calendars", "arguments": {} } }))
        .send()
        .await
        .unwrap();
    assert_eq!(call.status(), 200);
    let answer = call.text().await.unwrap();
    assert!(answer.contains("\"isError\":false"), "{answer}");
}

/// The API's log (`text`) tells the key's life and its requests, the MCP tool's under the
/// MCP request's id, and never holds the key (`key`) nor a part of it.
fn the_log_holds_the_key_s_life_and_never_the_key(text: &str, key: &str) {
    let secret = &key["alm_".len()..];
    assert!(
        text.lines().count() > 20,
        "the API logged its requests at debug:\n{text}"
    );
    assert!(
        text.contains("API key made") && text.contains("request by API key"),
        "the key's life is logged (without the key)"
    );
    let tool_calls: Vec<Value> = text
        .lines()
        .filter_map(|line| serde_json::from_str::<Value>(line).ok())
        .filter(|line| line["requestId"] == "req-mcp-tool")
        .collect();
    assert!(
        tool_calls
            .iter()
            .any(|line| line.to_string().contains("/v1/calendars")),
        "the tool's call of GET /v1/calendars carries the MCP request's id: {tool_calls:?}"
    );
    for (number, line) in text.lines().enumerate() {
        assert!(
            !line.contains(secret) && !line.contains(&secret[8..24]),
            "line {number} holds the key: {line}"
        );
    }
}

#[tokio::test]
async fn no_key_reaches_a_log_line() {
    let (db_name, _db) = fresh_database().await;
    let env = [
        (
            "DATABASE_URL",
            almanac_shared::db::with_database(&admin_url(), &db_name),
        ),
        ("REDIS_URL", redis_url()),
        (
            "REDIS_PREFIX",
            format!("keys{}", &Uuid::new_v4().simple().to_string()[..10]),
        ),
        ("JWT_SECRET", JWT_SECRET.into()),
        ("ALMANAC_DEV", "true".into()),
        ("RUST_LOG", "debug".into()),
    ];
    let dir = std::env::temp_dir().join(format!("almanac-key-logs-{}", Uuid::new_v4()));
    std::fs::create_dir_all(&dir).unwrap();
    let log = dir.join("api.log");
    let mut api = Service::logged(false, &env, &log).await.unwrap();

    let http = reqwest::Client::new();
    let token = JwtKeys::new(JWT_SECRET).mint(Uuid::now_v7(), 600);
    let send = |method: Method, path: &str, bearer: &str, body: Option<Value>| {
        let mut request = http
            .request(method, api.url(path))
            .bearer_auth(bearer)
            .header("accept", "application/json");
        if let Some(body) = body {
            request = request.json(&body);
        }
        request.send()
    };
    let made = send(
        Method::POST,
        "/v1/api-keys",
        &token,
        Some(json!({ "name": "logged", "scopes": ["read"] })),
    )
    .await
    .unwrap();
    assert_eq!(made.status(), 201);
    let made: Value = made.json().await.unwrap();
    let key = made["data"]["key"].as_str().unwrap().to_owned();
    let id = made["data"]["id"].as_str().unwrap().to_owned();

    let calls = [
        (Method::GET, "/v1/calendars".to_owned(), 200),
        (Method::POST, "/v1/calendars/x/entries".to_owned(), 403),
        (Method::GET, "/v1/api-keys".to_owned(), 401),
        (Method::GET, "/app/session".to_owned(), 401),
        (Method::GET, "/admin/flags".to_owned(), 401),
    ];
    for (method, path, status) in calls {
        let answer = send(method, &path, &key, None).await.unwrap();
        assert_eq!(answer.status(), status, "{path}");
    }
    the_mcp_server_takes_it_and_logs_a_tool_s_calls(&http, &api, &key).await;
    let in_query = http
        .get(api.url(&format!(
            "/v1/jobs/{}/events?access_token={key}",
            Uuid::now_v7()
        )))
        .send()
        .await
        .unwrap();
    assert_eq!(in_query.status(), 401);
    let pasted = http
        .post(api.url("/app/session"))
        .json(&json!({ "token": key }))
        .send()
        .await
        .unwrap();
    assert_eq!(pasted.status(), 401);
    let deleted = send(Method::DELETE, &format!("/v1/api-keys/{id}"), &token, None)
        .await
        .unwrap();
    assert_eq!(deleted.status(), 204);
    let revoked = send(Method::GET, "/v1/calendars", &key, None)
        .await
        .unwrap();
    assert_eq!(revoked.status(), 401);

    api.signal_term().unwrap();
    assert!(api.exited().await.unwrap(), "the API stops cleanly");
    the_log_holds_the_key_s_life_and_never_the_key(&std::fs::read_to_string(&log).unwrap(), &key);
    let _ = std::fs::remove_dir_all(&dir);
    drop_database(&db_name).await;
}
