//! Every refusal the OpenAPI document lists for an operation is one the server gives: for
//! each (operation, status >= 400) pair of the document, a request here gets exactly that
//! status, and a pair no request produced fails the test. The other direction (no status
//! the document leaves out) is the fuzzer's `status_code_conformance`, and every test's:
//! a debug build panics when a handler refuses with a status its operation does not list.
//! The organic week's own refusals are in `organic`.

mod api_keys;
mod client_review;
pub(crate) mod media;
pub(crate) mod organic;
mod posts;
mod publishing;
mod review;
mod webhooks;
mod workspaces;

use std::{
    cell::RefCell,
    collections::{BTreeMap, BTreeSet},
};

use reqwest::Method;
use serde_json::{Value, json};
use uuid::Uuid;

use crate::helpers::{TestApp, TestOptions, admin_url, eventually, source_text, spawn_app_with};

/// An operation as the document describes it.
struct Operation {
    id: String,
    method: Method,
    path: String,
    refusals: BTreeSet<u16>,
    takes_body: bool,
    /// A query parameter whose value must parse (an integer, a UUID, an enum).
    typed_query: Option<String>,
    /// The scope an API key needs for it (`x-almanac-scope`).
    scope: Option<String>,
    /// The role a member needs for it (`x-almanac-role`): a user operation.
    role: Option<String>,
}

fn operations() -> Vec<Operation> {
    let spec: Value = serde_yaml::from_str(&almanac_api::openapi_yaml()).unwrap();
    let mut operations = Vec::new();
    for (path, item) in spec["paths"].as_object().unwrap() {
        for (method, operation) in item.as_object().unwrap() {
            let typed_query = operation["parameters"]
                .as_array()
                .into_iter()
                .flatten()
                .find(|p| {
                    let schema = &p["schema"];
                    p["in"] == "query"
                        && (schema["type"] == "integer"
                            || schema["format"] == "uuid"
                            || schema.get("$ref").is_some()
                            || schema.get("enum").is_some())
                })
                .map(|p| p["name"].as_str().unwrap().to_owned());
            operations.push(Operation {
                id: operation["operationId"].as_str().unwrap().to_owned(),
                method: method.to_ascii_uppercase().parse().unwrap(),
                path: path.clone(),
                refusals: operation["responses"]
                    .as_object()
                    .unwrap()
                    .keys()
                    .map(|status| status.parse().unwrap())
                    .filter(|status| *status >= 400)
                    .collect(),
                takes_body: operation.get("requestBody").is_some(),
                typed_query,
                scope: operation["x-almanac-scope"].as_str().map(str::to_owned),
                role: operation["x-almanac-role"].as_str().map(str::to_owned),
            });
        }
    }
    operations
}

/// A body each operation accepts (ids in it name nothing yet).
pub(crate) fn valid_body(operation: &str) -> Value {
    match operation {
        "createGeneration" => json!({ "source_text": source_text(1500) }),
        "reviewSuggestion" => json!({ "card_type": "basic", "status": "accepted" }),
        "createCard" => json!({ "front": "Front", "back": "Back" }),
        "updateCard" => json!({ "card_type": "basic", "front": "Front", "back": "Back" }),
        "generateCalendar" => calendar_request("2027-03-01", "2027-03-02"),
        "editCalendarEntry" => json!({ "title": "A title" }),
        "renameCalendar" => json!({ "name": "Spring plan" }),
        "addCalendarEntry" => {
            json!({ "channel": "instagram", "date": "2027-03-01", "title": "A title" })
        }
        "acceptCalendarChanges" => json!({ "all": true }),
        "createTheme" | "updateTheme" => {
            json!({ "name": "Tea", "sources": [{ "type": "text", "value": "Green tea news." }] })
        }
        "upsertSchedule" => {
            json!({ "enabled": true, "days": ["mon"], "time_utc": "09:00", "emails": ["a@example.com"] })
        }
        "createBrand" | "updateBrand" => json!({ "name": "Leafy", "timezone": "UTC" }),
        "linkBrandAccount" => json!({ "platform": "instagram", "accountId": "ig_probe" }),
        "createTrend" | "updateTrend" => {
            json!({ "kind": "trend", "title": "Swaps", "keywords": ["eco"] })
        }
        "createAsset" | "updateAsset" => json!({ "kind": "image", "title": "A", "tags": ["eco"] }),
        "generateOrganicCalendar" | "generateOrganicCalendarUpstream" => {
            organic::request("probe_brand", None)
        }
        "editOrganicPlacement" => json!({ "caption": "New words" }),
        "saveOrganicWeekDraft" => json!({ "placements": [] }),
        "addOrganicWeekToCalendar" => json!({}),
        "publishCalendar" => json!({ "all": true }),
        "importChannel" => {
            json!({ "platform": "tiktok", "accountId": "probe", "accessToken": "probe-token" })
        }
        "setFlag" => json!({ "state": "off", "note": "probe" }),
        "completeChannel" => json!({ "state": "probe", "code": "probe" }),
        "setChannelSlots" => {
            json!({ "timezone": "Europe/Madrid", "slots": [{ "weekday": "mon", "time": "09:00" }] })
        }
        "queueEntries" => json!({ "calendarId": Uuid::now_v7(), "entryIds": [Uuid::now_v7()] }),
        "shuffleQueue" => json!({ "channelId": Uuid::now_v7(), "seed": 7 }),
        "packQueue" | "pauseChannelQueue" | "resumeChannelQueue" => {
            json!({ "channelId": Uuid::now_v7() })
        }
        "swapQueue" => {
            json!({ "channelId": Uuid::now_v7(), "entryIds": [Uuid::now_v7(), Uuid::now_v7()] })
        }
        "removeFromQueue" => json!({ "channelId": Uuid::now_v7(), "entryIds": [Uuid::now_v7()] }),
        "createEvergreen" => json!({ "name": "Probe", "channelIds": [Uuid::now_v7()],
            "entryIds": [Uuid::now_v7()], "minGapDays": 7, "variation": "none" }),
        "updateEvergreen" => json!({ "paused": true }),
        "connectChannelWithCredentials" => {
            json!({ "identifier": "probe.bsky.social", "password": crate::helpers::fake_platforms::APP_PASSWORD })
        }
        "createWebhook" => {
            json!({ "url": "https://hooks.example.com/in", "events": ["job.failed"] })
        }
        "updateWebhook" => json!({ "enabled": false }),
        "createApiKey" => json!({ "name": "probe", "scopes": ["read"] }),
        "updateMe" => json!({ "name": "Probe" }),
        "createWorkspace" | "updateWorkspace" => json!({ "name": "Probe team" }),
        "updateMember" => json!({ "role": "editor" }),
        "createInvitation" => json!({ "email": "guest@example.com", "role": "viewer" }),
        "setChannelReview" | "setWorkspaceReview" => json!({ "mode": "none" }),
        "decideEntryReview" => json!({ "decision": "approve", "contentVersion": 1 }),
        "createReviewLink" => json!({ "entryIds": [Uuid::now_v7()] }),
        "createPost" => json!({ "caption": "A post", "mediaIds": [],
            "channelIds": [Uuid::now_v7()], "scheduledAt": "2027-03-01T09:00:00Z" }),
        "updatePost" => json!({ "caption": "Changed" }),
        "updateMedia" => json!({ "altText": "A cat asleep", "tags": ["cats"] }),
        "decideReviewLinkEntry" => json!({ "entryId": Uuid::now_v7(), "decision": "approve",
            "name": "Anna", "contentVersion": 1 }),
        "commentReviewLinkEntry" => {
            json!({ "entryId": Uuid::now_v7(), "name": "Anna", "text": "Lovely" })
        }
        "addEntryComment" | "editEntryComment" => json!({ "text": "Looks good" }),
        "markNotificationsRead" => json!({}),
        // A user nobody is, so the probes act on nothing.
        "consoleRetry" | "consoleCancel" => json!({ "workspace": Uuid::new_v4(), "dryRun": true }),
        other => panic!("no valid body for {other}: add one"),
    }
}

fn calendar_request(start: &str, end: &str) -> Value {
    json!({ "channels": ["instagram"], "cadence": "daily", "start": start, "end": end })
}

/// The query an operation needs (its required parameters), with a valid value.
fn valid_query(operation: &str) -> &'static str {
    match operation {
        "exportCards" => "?format=csv",
        "exportCalendar" => "?format=json",
        "exportOrganicWeek" => "?format=ics",
        "channelCallback" => "?code=probe&state=probe",
        _ => "",
    }
}

/// The operation's path with `ids` (see `fill`) and the query it needs.
fn target(operation: &Operation, ids: &[Uuid]) -> String {
    fill(&operation.path, ids) + valid_query(&operation.id)
}

/// For each path and query parameter of `op`: its name and a target with `a%00b` in it.
fn with_nul(op: &Operation) -> Vec<(String, String)> {
    let spec: Value = serde_yaml::from_str(&almanac_api::openapi_yaml()).unwrap();
    let method = op.method.as_str().to_ascii_lowercase();
    let parameters = spec["paths"][&op.path][&method]["parameters"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    let valid = target(op, &[]);
    let (path, query) = valid.split_once('?').unwrap_or((&valid, ""));
    let template: Vec<&str> = op.path.split('/').collect();
    parameters
        .iter()
        .filter_map(|parameter| {
            let name = parameter["name"].as_str()?.to_owned();
            let poisoned = match parameter["in"].as_str()? {
                "path" => {
                    let segments: Vec<String> = path
                        .split('/')
                        .zip(&template)
                        .map(|(segment, t)| {
                            if *t == format!("{{{name}}}") {
                                "a%00b".to_owned()
                            } else {
                                segment.to_owned()
                            }
                        })
                        .collect();
                    let query = if query.is_empty() {
                        String::new()
                    } else {
                        format!("?{query}")
                    };
                    segments.join("/") + &query
                }
                "query" => {
                    let kept: Vec<&str> = query
                        .split('&')
                        .filter(|pair| !pair.is_empty() && !pair.starts_with(&format!("{name}=")))
                        .collect();
                    let mut pairs = kept.join("&");
                    if !pairs.is_empty() {
                        pairs.push('&');
                    }
                    format!("{path}?{pairs}{name}=a%00b")
                }
                _ => return None,
            };
            Some((name, poisoned))
        })
        .collect()
}

/// The path with each `{param}` replaced by the next of `ids` (random ones after those).
fn fill(template: &str, ids: &[Uuid]) -> String {
    let mut ids = ids
        .iter()
        .copied()
        .chain(std::iter::repeat_with(Uuid::new_v4));
    template
        .split('/')
        .map(|segment| {
            if segment == "{weekStart}" {
                "2027-03-01".to_owned()
            } else if segment == "{platform}" {
                "tiktok".to_owned()
            } else if segment == "{name}" {
                "PUBLISH_SERVICE_ENABLED".to_owned()
            } else if segment == "{kind}" {
                "generation".to_owned()
            } else if segment == "{file}" {
                // A feed's address as this server makes them (nobody's, here).
                format!("{}.ics", "A".repeat(43))
            } else if segment == "{email}" {
                "probe@example.com".to_owned()
            } else if segment == "{media_token}" {
                // A media address this server could have made, for media nobody has.
                let secret = almanac_shared::crypto::TokenKey::parse(PROBE_TOKEN_KEY).unwrap();
                let key = almanac_shared::media::MediaUrlKey::derive(secret.bytes());
                let expires = chrono::Utc::now() + chrono::Duration::hours(1);
                key.token(
                    ids.next().unwrap(),
                    almanac_shared::media::Copy::Original,
                    expires,
                )
            } else if segment == "{token}" && template.starts_with("/review/") {
                // A review link's token as this server makes them (nobody's, here).
                "B".repeat(43)
            } else if segment == "{token}" {
                // An unsubscribe link this server could have sent, for a schedule nobody has.
                let key = almanac_shared::unsubscribe::UnsubscribeKey::from_secret(
                    crate::helpers::JWT_SECRET,
                );
                let expires = chrono::Utc::now().date_naive() + chrono::Days::new(30);
                key.token(ids.next().unwrap(), "probe@example.com", expires)
            } else if segment.starts_with('{') {
                ids.next().unwrap().to_string()
            } else {
                segment.to_owned()
            }
        })
        .collect::<Vec<_>>()
        .join("/")
}

const FORM: &str = "application/x-www-form-urlencoded";
/// The probed app's `TOKEN_ENCRYPTION_KEY` (base64 of 32 bytes), which media addresses are
/// signed with.
const PROBE_TOKEN_KEY: &str = "cHJvYmUta2V5LXByb2JlLWtleS1wcm9iZS1rZXktMzI=";
const ONE_CLICK: &[u8] = b"List-Unsubscribe=One-Click";

enum Payload {
    None,
    Json(Value),
    Raw(&'static str, Vec<u8>),
}

/// One request to an operation: by default as the user, with the operation's valid body.
struct Call {
    operation: String,
    method: Method,
    path: String,
    payload: Payload,
    anonymous: bool,
    /// An admin operation called with the user's token instead of the service role's.
    by_user: bool,
    idempotency_key: Option<&'static str>,
    /// Another bearer than the user's token (an API key).
    bearer: Option<String>,
    /// `Almanac-Workspace`, as sent.
    workspace: Option<String>,
    /// `If-Match`, as sent.
    if_match: Option<&'static str>,
}

impl Call {
    fn by_user(mut self) -> Self {
        self.by_user = true;
        self
    }

    fn json(self, body: Value) -> Self {
        self.with(Payload::Json(body))
    }

    fn with(mut self, payload: Payload) -> Self {
        self.payload = payload;
        self
    }

    fn anonymous(mut self) -> Self {
        self.anonymous = true;
        self
    }

    fn path(mut self, path: String) -> Self {
        self.path = path;
        self
    }

    fn key(mut self, key: &'static str) -> Self {
        self.idempotency_key = Some(key);
        self
    }

    fn bearer(mut self, bearer: &str) -> Self {
        self.bearer = Some(bearer.to_owned());
        self
    }

    fn workspace(mut self, workspace: &str) -> Self {
        self.workspace = Some(workspace.to_owned());
        self
    }

    fn if_match(mut self, tag: &'static str) -> Self {
        self.if_match = Some(tag);
        self
    }
}

/// The operations, one user's token (the service role's for the admin operations), and
/// the (operation, status) pairs that occurred.
struct Probe {
    client: reqwest::Client,
    address: String,
    operations: Vec<Operation>,
    token: String,
    admin_token: String,
    /// Whom `token` names.
    user: Uuid,
    seen: RefCell<BTreeMap<String, BTreeSet<u16>>>,
}

impl Probe {
    fn operation(&self, id: &str) -> &Operation {
        self.operations.iter().find(|o| o.id == id).unwrap()
    }

    /// A call to operation `id` with `ids` in its path.
    fn call(&self, id: &str, ids: &[Uuid]) -> Call {
        Self::call_to(self.operation(id), ids)
    }

    fn call_to(operation: &Operation, ids: &[Uuid]) -> Call {
        Call {
            operation: operation.id.clone(),
            method: operation.method.clone(),
            path: target(operation, ids),
            payload: match (operation.takes_body, operation.id.as_str()) {
                // RFC 8058's one-click POST is a form, not JSON.
                (true, "unsubscribe") => Payload::Raw(FORM, ONE_CLICK.to_vec()),
                (true, "uploadMedia") => Payload::Raw(media::MULTIPART, media::picture()),
                (true, "setMediaPoster") => Payload::Raw("image/jpeg", media::frame()),
                (true, id) => Payload::Json(valid_body(id)),
                (false, _) => Payload::None,
            },
            anonymous: false,
            by_user: false,
            idempotency_key: None,
            bearer: None,
            workspace: None,
            if_match: None,
        }
    }

    /// Sends `call` to the API at `base`; returns the status and the body.
    async fn send_to(&self, base: &str, call: Call) -> (u16, Value) {
        let mut request = self
            .client
            .request(call.method, format!("{base}{}", call.path))
            .header("accept", "application/json");
        if let Some(workspace) = &call.workspace {
            request = request.header("almanac-workspace", workspace.as_str());
        }
        if let Some(tag) = call.if_match {
            request = request.header("if-match", tag);
        }
        if let Some(bearer) = &call.bearer {
            request = request.bearer_auth(bearer);
        } else if !call.anonymous {
            let admin = call.path.starts_with("/admin/") && !call.by_user;
            request = request.bearer_auth(if admin {
                &self.admin_token
            } else {
                &self.token
            });
        }
        if let Some(key) = call.idempotency_key {
            request = request.header("Idempotency-Key", key);
        }
        request = match call.payload {
            Payload::None => request,
            Payload::Json(body) => request.json(&body),
            Payload::Raw(content_type, bytes) => request
                .header(reqwest::header::CONTENT_TYPE, content_type)
                .body(bytes),
        };
        let response = request.send().await.expect("request sent");
        let status = response.status().as_u16();
        (status, response.json().await.unwrap_or(Value::Null))
    }

    /// Sends `call`, which must succeed with `status`; returns the body.
    async fn succeed(&self, status: u16, call: Call) -> Value {
        let (got, body) = self.send_to(&self.address, call).await;
        assert_eq!(got, status, "{body}");
        body
    }

    async fn expect(&self, status: u16, call: Call) {
        self.expect_at(&self.address, status, call).await;
    }

    /// Sends `call` to `base`, asserts it gets `status`, and records the pair.
    async fn expect_at(&self, base: &str, status: u16, call: Call) {
        let operation = call.operation.clone();
        let (got, body) = self.send_to(base, call).await;
        assert_eq!(got, status, "{operation}: {body}");
        self.seen
            .borrow_mut()
            .entry(operation)
            .or_default()
            .insert(got);
    }

    /// The documented refusals no request produced.
    fn unproduced(&self) -> Vec<String> {
        let none = BTreeSet::new();
        let seen = self.seen.borrow();
        self.operations
            .iter()
            .flat_map(|op| {
                let seen = seen.get(&op.id).unwrap_or(&none);
                op.refusals
                    .iter()
                    .filter(|status| !seen.contains(status))
                    .map(|status| format!("{} {status}", op.id))
                    .collect::<Vec<_>>()
            })
            .collect()
    }
}

/// API replicas whose database refuses them (a role without any privilege: 500) or is not
/// there (503): the role (dropped at the end) and each replica with its status.
async fn broken_replicas(app: &mut TestApp) -> (String, Vec<(String, u16)>) {
    let role = format!("nobody_{}", Uuid::new_v4().simple());
    let admin = sqlx::PgPool::connect(&admin_url()).await.unwrap();
    sqlx::query(sqlx::AssertSqlSafe(format!("create role {role} login")))
        .execute(&admin)
        .await
        .unwrap();
    let server: sqlx::postgres::PgConnectOptions = admin_url().parse().unwrap();
    let (host, port, db) = (server.get_host(), server.get_port(), app.db_name.clone());
    let mut replicas = Vec::new();
    for (url, status) in [
        (format!("postgres://{role}@{host}:{port}/{db}"), 500),
        (format!("postgres://{role}@{host}:1/{db}"), 503),
    ] {
        let mut settings = app.settings.clone();
        settings.database_url = almanac_shared::config::Secret::new(url);
        // A database nobody answers at is 503 once the wait for a connection is over: a
        // short wait, since every operation is asked there.
        if status == 503 {
            settings.database_acquire_timeout = std::time::Duration::from_millis(50);
        }
        // Publishing on: connecting a channel reaches the database (off, it is 409 first).
        settings.publish.enabled = true;
        replicas.push((app.start_api_replica_with(settings).await, status));
    }
    (role, replicas)
}

/// The refusals every operation of `op`'s shape gives: no token; a value of a typed query
/// parameter that does not parse; a body that is not JSON, too large (past `limit`), or
/// not JSON's type; a database that refuses the API, or is down; a NUL in a parameter; ids
/// nobody has; an admin operation called by a user.
async fn refusals_of_its_shape(
    probe: &Probe,
    op: &Operation,
    replicas: &[(String, u16)],
    limit: usize,
) {
    let call = || Probe::call_to(op, &[]);
    // A workspace's own operations act in the workspace they name: the caller's personal
    // one, for the refusals of a body or a query.
    let in_own = match op.path.starts_with("/v1/workspaces/{id}") {
        true => vec![probe.user],
        false => Vec::new(),
    };
    let body_call = || Probe::call_to(op, &in_own);
    if op.refusals.contains(&401) {
        probe.expect(401, call().anonymous()).await;
    }
    if let Some(name) = &op.typed_query {
        let query = format!("{}?{name}=nope", fill(&op.path, &in_own));
        probe.expect(400, call().path(query)).await;
    }
    if op.id == "uploadMedia" {
        media::body_refusals(probe).await;
    } else if op.id == "setMediaPoster" {
        media::poster_body_refusals(probe, limit).await;
    } else if op.takes_body && !op.path.starts_with("/review/") {
        // A review link's body is read once its link is known (`client_review`).
        let form = op.id == "unsubscribe";
        let broken = match form {
            true => Payload::Raw(FORM, b"x=1".to_vec()),
            false => Payload::Raw("application/json", b"{\"x\":".to_vec()),
        };
        probe.expect(400, body_call().with(broken)).await;
        let kind = if form { FORM } else { "application/json" };
        let huge = Payload::Raw(kind, vec![b' '; limit + 1]);
        probe.expect(413, body_call().with(huge)).await;
        let text = match form {
            true => ONE_CLICK.to_vec(),
            false => valid_body(&op.id).to_string().into_bytes(),
        };
        probe
            .expect(415, body_call().with(Payload::Raw("text/plain", text)))
            .await;
    }
    for (replica, status) in replicas {
        // Publishing spools a request while Postgres is down (202), and a calendar
        // answers the legacy dry run: their 503 needs Redis down too (`publishing`).
        if ["publishCalendar", "generateCalendar"].contains(&op.id.as_str()) && *status == 503 {
            continue;
        }
        if op.refusals.contains(status) {
            probe.expect_at(replica, *status, call()).await;
        }
    }
    // A NUL in any path or query parameter: 400 naming it, before anything is read.
    for (name, path) in with_nul(op) {
        let (status, body) = probe
            .send_to(&probe.address, call().path(path.clone()))
            .await;
        assert_eq!(status, 400, "{} {path}: {body}", op.id);
        assert_eq!(
            body["error"]["details"]["field"],
            name.as_str(),
            "{}: {body}",
            op.id
        );
        probe
            .seen
            .borrow_mut()
            .entry(op.id.clone())
            .or_default()
            .insert(400);
    }
    // A platform without an adapter is probed in `publishing`, a flag or a queue
    // nobody has below.
    if op.refusals.contains(&404)
        && op.path.contains('{')
        && !op.path.contains("{platform}")
        && !op.path.contains("{name}")
        && !op.path.contains("{kind}")
    {
        probe.expect(404, call()).await;
    }
    // The admin operations refuse a user's token.
    if op.refusals.contains(&403) && op.path.starts_with("/admin/") {
        probe.expect(403, call().by_user()).await;
        if op.path.contains("{name}") {
            let path = call()
                .path
                .replace("PUBLISH_SERVICE_ENABLED", "NO_SUCH_FLAG");
            probe.expect(404, call().path(path)).await;
        }
        if op.path.contains("{kind}") {
            let path = call().path.replace("generation", "no_such_kind");
            probe.expect(404, call().path(path)).await;
        }
    }
}

/// 422: values each valid alone that a rule refuses (a calendar that ends before it
/// starts, a date no calendar has, an accept that names nothing), and the syntheses
/// family's invalid values.
async fn rule_refusals(probe: &Probe) {
    let backwards = calendar_request("2027-03-02", "2027-03-01");
    let call = probe.call("generateCalendar", &[]).json(backwards);
    probe.expect(422, call).await;
    let mut impossible = valid_body("addCalendarEntry");
    impossible["date"] = json!("2027-02-30");
    let call = probe.call("addCalendarEntry", &[]).json(impossible);
    probe.expect(422, call).await;
    let call = probe.call("acceptCalendarChanges", &[]).json(json!({}));
    probe.expect(422, call).await;
    for (id, body) in [
        ("createTheme", json!({ "name": 5 })),
        ("updateTheme", json!({ "name": 5 })),
        (
            "upsertSchedule",
            json!({ "enabled": true, "days": ["someday"], "time_utc": "09:00", "emails": [] }),
        ),
    ] {
        probe.expect(422, probe.call(id, &[]).json(body)).await;
    }
}

/// 409: a card that is another card's (the same sides, case and punctuation aside), made
/// or edited so.
async fn duplicate_cards_conflict(probe: &Probe) {
    let card = json!({ "front": "Probe card", "back": "Once" });
    let first = probe
        .succeed(201, probe.call("createCard", &[]).json(card))
        .await;
    let again = json!({ "front": "probe card!", "back": "once" });
    probe
        .expect(409, probe.call("createCard", &[]).json(again))
        .await;
    let other = json!({ "front": "Another probe card", "back": "Twice" });
    let second = probe
        .succeed(201, probe.call("createCard", &[]).json(other))
        .await;
    let call = probe
        .call("updateCard", &[uuid(&second["id"])])
        .json(json!({ "card_type": "basic", "front": first["front"], "back": first["back"] }));
    probe.expect(409, call).await;
}

/// A calendar's feed fetched past its limit (1 here): 429.
async fn a_feed_past_its_limit(probe: &Probe, calendar_id: Uuid) {
    let feed = probe
        .succeed(201, probe.call("createCalendarFeed", &[calendar_id]))
        .await;
    let address = feed["data"]["url"].as_str().unwrap();
    let document = || {
        let file = address.split_once("/feeds/").unwrap().1;
        probe
            .call("getCalendarFeedDocument", &[])
            .path(format!("/feeds/{file}"))
            .anonymous()
    };
    probe.succeed(200, document()).await;
    probe.expect(429, document()).await;
}

/// A flag set for users naming none; a bulk action whose filter names nothing, without
/// `all`; a usage period that does not parse or is no date; a regeneration of a calendar
/// nobody has.
async fn refusals_of_a_few_operations(probe: &Probe) {
    let call = probe.call("setFlag", &[]).json(json!({ "state": "users" }));
    probe.expect(422, call).await;
    // A bulk action whose filter names nothing, without `all`.
    for id in ["consoleRetry", "consoleCancel"] {
        let call = probe.call(id, &[]).json(json!({ "dryRun": true }));
        probe.expect(422, call).await;
    }
    let call = probe
        .call("getUsage", &[])
        .path("/v1/usage?from=yesterday".into());
    probe.expect(400, call).await;
    let call = probe
        .call("getUsage", &[])
        .path("/v1/usage?from=2026-02-30".into());
    probe.expect(422, call).await;
    let mut regenerate = valid_body("generateCalendar");
    regenerate["calendarId"] = json!(Uuid::new_v4());
    let call = probe.call("generateCalendar", &[]).json(regenerate);
    probe.expect(404, call).await;
}

/// Once the worker has written a generation's suggestions: one accepted cannot then be
/// rejected (409).
async fn an_accepted_suggestion_is_not_rejected(
    app: &TestApp,
    probe: &Probe,
    user: Uuid,
    generation: &Value,
) {
    let suggestions = app
        .suggestions(user, uuid(&generation["generation_id"]))
        .await;
    let suggestion = uuid(&suggestions[0]["id"]);
    probe
        .succeed(200, probe.call("reviewSuggestion", &[suggestion]))
        .await;
    let call = probe
        .call("reviewSuggestion", &[suggestion])
        .json(json!({ "card_type": "basic", "status": "rejected" }));
    probe.expect(409, call).await;
}

/// 429: past each per-user limit (1 generation, 2 calendar runs, 1 synthesis); the runs
/// that were taken end.
async fn past_each_per_user_limit(
    app: &TestApp,
    probe: &Probe,
    user: Uuid,
    (calendar_id, run_id): (Uuid, Uuid),
) {
    let other = json!({ "source_text": source_text(1502) });
    probe
        .expect(429, probe.call("createGeneration", &[]).json(other))
        .await;
    let second = probe
        .succeed(202, probe.call("generateCalendar", &[]))
        .await;
    probe.expect(429, probe.call("generateCalendar", &[])).await;
    let call = probe.call("continueCalendarRun", &[calendar_id, run_id]);
    probe.expect(429, call).await;
    let theme = probe.succeed(201, probe.call("createTheme", &[])).await;
    let synthesize = || probe.call("createSynthesis", &[uuid(&theme["id"])]);
    let synthesis = probe.succeed(202, synthesize()).await;
    probe.expect(429, synthesize()).await;
    for job in [uuid(&second["data"]["jobId"]), uuid(&synthesis["job_id"])] {
        wait_succeeded(app, user, job).await;
    }
}

#[tokio::test]
async fn every_documented_refusal_occurs() {
    let mut app = spawn_app_with(TestOptions {
        worker: false,
        env: probed_settings(),
        ..Default::default()
    })
    .await;
    // The webhook test the 429 probe needs first is queued for an endpoint nobody answers.
    app.expect_unfinished_jobs();
    let user = Uuid::new_v4();
    let limit = app.settings.max_body_bytes;

    let (role, replicas) = broken_replicas(&mut app).await;

    let probe = Probe {
        client: app.client.clone(),
        address: app.address.clone(),
        operations: operations(),
        token: app.token(user),
        admin_token: app.service_token(),
        user,
        seen: RefCell::default(),
    };

    for op in &probe.operations {
        refusals_of_its_shape(&probe, op, &replicas, limit).await;
    }
    refusals_of_a_few_operations(&probe).await;

    // 422: values each valid alone that a rule refuses, and the syntheses family's
    // invalid values.
    let generation = probe
        .succeed(202, probe.call("createGeneration", &[]).key("probe-key"))
        .await;
    let other = json!({ "source_text": source_text(1501) });
    let call = probe
        .call("createGeneration", &[])
        .json(other)
        .key("probe-key");
    probe.expect(422, call).await;
    rule_refusals(&probe).await;

    // 409 while a calendar run waits for a worker: a second run, and accepting the first's
    // changes before it has ended.
    let calendar = probe
        .succeed(202, probe.call("generateCalendar", &[]))
        .await;
    let run = &calendar["data"];
    let (calendar_id, run_id) = (uuid(&run["calendarId"]), uuid(&run["runId"]));
    probe.expect(409, probe.call("generateCalendar", &[])).await;
    let call = probe.call("acceptCalendarChanges", &[calendar_id, run_id]);
    probe.expect(409, call).await;
    let call = probe.call("continueCalendarRun", &[calendar_id, run_id]);
    probe.expect(409, call).await;

    // Once the worker has run them: a rejected accepted suggestion, a finished job
    // cancelled, an entry moved to a date no calendar has.
    app.start_worker().await;
    let calendar_job = uuid(&run["jobId"]);
    for job in [uuid(&generation["job_id"]), calendar_job] {
        wait_succeeded(&app, user, job).await;
    }
    an_accepted_suggestion_is_not_rejected(&app, &probe, user, &generation).await;
    duplicate_cards_conflict(&probe).await;
    probe
        .expect(409, probe.call("cancelJob", &[calendar_job]))
        .await;
    // A job older than the retention (its id says so): gone.
    let expired = crate::jobs::retention::id_of_days_ago(365);
    for operation in ["getJob", "streamJobEvents", "cancelJob"] {
        probe.expect(410, probe.call(operation, &[expired])).await;
    }
    let (_, detail) = app
        .get_json(user, &format!("/v1/calendars/{calendar_id}"))
        .await;
    let entry = uuid(&detail["data"]["entries"][0]["id"]);
    let call = probe
        .call("editCalendarEntry", &[calendar_id, entry])
        .json(json!({ "date": "2027-02-30" }));
    probe.expect(422, call).await;
    // A version nobody read (they start at 1): a change made since.
    let call = probe.call("editCalendarEntry", &[calendar_id, entry]);
    probe.expect(412, call.if_match("\"0\"")).await;
    let call = probe.call("renameCalendar", &[calendar_id]);
    probe.expect(412, call.if_match("\"0\"")).await;
    review::refusals(&probe, user, calendar_id, entry).await;
    client_review::refusals(&app, &probe, calendar_id, entry, limit).await;
    posts::refusals(&app, &probe, user, calendar_id).await;

    past_each_per_user_limit(&app, &probe, user, (calendar_id, run_id)).await;
    a_feed_past_its_limit(&probe, calendar_id).await;
    let admin = sqlx::PgPool::connect(&admin_url()).await.unwrap();
    sqlx::query(sqlx::AssertSqlSafe(format!("drop role {role}")))
        .execute(&admin)
        .await
        .ok();

    organic::refusals(&mut app, &probe, user).await;
    publishing::refusals(&mut app, &probe, user).await;
    webhooks::refusals(&probe).await;
    api_keys::refusals(&probe).await;
    media::refusals(&app, &probe, user).await;
    workspaces::refusals(&app, &probe, user).await;

    let unproduced = probe.unproduced();
    assert!(
        unproduced.is_empty(),
        "documented refusals no request produced (add a probe, or stop documenting them): {unproduced:?}"
    );
}

/// The probed app's settings: each rate limit low enough to reach, a key for tokens, a
/// platform's client.
fn probed_settings() -> Vec<(&'static str, String)> {
    vec![
        ("GENERATION_RATE_LIMIT", "1".into()),
        ("CALENDAR_RATE_LIMIT", "2".into()),
        ("SYNTHESIS_RATE_LIMIT", "1".into()),
        ("ORGANIC_RATE_LIMIT", "2".into()),
        ("PUBLISH_RATE_LIMIT", "12".into()),
        ("FEED_RATE_LIMIT", "1".into()),
        ("WEBHOOK_TEST_RATE_LIMIT", "1".into()),
        ("INVITATION_RATE_LIMIT", "1".into()),
        ("REVIEW_LINK_RATE_LIMIT", "30".into()),
        ("TOKEN_ENCRYPTION_KEY", PROBE_TOKEN_KEY.into()),
        ("TIKTOK_CLIENT_KEY", "probe-client".into()),
        ("TIKTOK_CLIENT_SECRET", "probe-secret".into()),
    ]
}

fn uuid(value: &Value) -> Uuid {
    value
        .as_str()
        .unwrap_or_else(|| panic!("not an id: {value}"))
        .parse()
        .unwrap()
}

async fn wait_succeeded(app: &TestApp, user: Uuid, job: Uuid) {
    let status = eventually(
        std::time::Duration::from_secs(30),
        "the job to end",
        || async {
            let (_, view) = app.get_json(user, &format!("/v1/jobs/{job}")).await;
            let status = view["data"]["status"].as_str()?.to_owned();
            (!matches!(status.as_str(), "pending" | "running")).then_some(status)
        },
    )
    .await;
    assert_eq!(status, "succeeded", "job {job}");
}
