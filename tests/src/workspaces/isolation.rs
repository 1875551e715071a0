//! A member of one workspace sees nothing of another, on every operation of the served
//! document: a team's resource named by id answers exactly as an id nobody has, naming
//! the team's workspace is 404 `WORKSPACE_NOT_FOUND`, no answer carries the team's
//! content, and the team's rows are as they were.

use std::collections::HashMap;

use reqwest::Method;
use serde_json::{Value, json};
use uuid::Uuid;

use super::{Person, app, call_as, join, team};
use crate::helpers::{TestApp, outbox::Outbox};

/// Written into every text a team's row holds: no answer to an outsider may carry it.
pub(super) const MARK: &str = "Acme-only";

/// The team's brand, trend, asset and placement ids (text ids, unique per workspace).
pub(super) const TEXT_ID: &str = "acme-launch";

/// The team's resources, one of every kind a path names by id.
pub(super) struct Fixture {
    /// The id each path parameter takes, by the segment before it (`calendars` -> the
    /// calendar's id); the segment's own name where two families share a parameter.
    pub(super) by_segment: HashMap<&'static str, String>,
}

impl Fixture {
    /// The template with every parameter filled with the team's ids, or with ids nobody
    /// has (`nobody`); None for a path no outsider could name (an invitation's token).
    pub(super) fn path(&self, template: &str, nobody: bool) -> Option<String> {
        let segments: Vec<&str> = template.split('/').collect();
        let mut filled = Vec::new();
        for (i, segment) in segments.iter().enumerate() {
            if !segment.starts_with('{') {
                filled.push((*segment).to_owned());
                continue;
            }
            let before = segments[i - 1];
            let value = match (*segment, before) {
                ("{token}", _) => return None,
                ("{platform}", _) => "bluesky".to_owned(),
                ("{weekStart}", _) => "2030-01-07".to_owned(),
                ("{email}", _) => "reader@example.com".to_owned(),
                _ if nobody => match before {
                    "brands" | "trends" | "assets" | "placements" => "nobody-s".to_owned(),
                    _ => Uuid::now_v7().to_string(),
                },
                ("{deliveryId}", _) => self.by_segment["webhook-deliveries"].clone(),
                ("{post_id}", _) => self.by_segment["calendar-posts"].clone(),
                _ => self
                    .by_segment
                    .get(before)
                    .unwrap_or_else(|| panic!("{template}: no team id for {segment}"))
                    .clone(),
            };
            filled.push(value);
        }
        Some(filled.join("/"))
    }
}

#[tokio::test]
async fn a_member_of_another_workspace_finds_nothing_of_a_team_on_any_operation() {
    let outbox = Outbox::new();
    let app = app(&outbox).await;
    let (ana, bob) = (Person::new(&app, "ana"), Person::new(&app, "bob"));
    let acme = team(&app, &ana, "Acme").await;
    let bobs = team(&app, &bob, "Bob's").await;
    let fixture = fixture(&app, &outbox, &ana, acme).await;
    let before = rows_of(&app, acme).await;
    let document = app.served_document().await;

    let mut tried = 0;
    for (template, item) in document["paths"].as_object().unwrap() {
        for (method, operation) in item.as_object().unwrap() {
            if operation["x-almanac-role"].is_null() {
                continue;
            }
            let method: Method = method.to_uppercase().parse().unwrap();
            let query = required_query(&document, operation);
            if template.contains('{') {
                let (Some(theirs), Some(nobodys)) =
                    (fixture.path(template, false), fixture.path(template, true))
                else {
                    continue;
                };
                let (theirs, nobodys) = (theirs + &query, nobodys + &query);
                // An organic id is the client's own, unique per workspace: the path
                // acts in the header's workspace, as a list does.
                let by_header = template.starts_with("/api/organic/");
                // The owner finds what the path names: the ids are real (a stream aside,
                // and an email, which only an outbox on disk keeps).
                let kept_elsewhere = template.ends_with("/events")
                    || template.ends_with("/live")
                    || template.ends_with("/email");
                if method == Method::GET && !kept_elsewhere {
                    let (status, read) = ana
                        .call(&app, Method::GET, &theirs, by_header.then_some(acme), None)
                        .await;
                    assert_ne!(status, 404, "the owner reads {theirs}: {read}");
                }
                let body = json!({});
                if by_header {
                    let named =
                        outsider(&app, &bob, method.clone(), &theirs, Some(acme), &body).await;
                    assert_eq!(
                        (named.0, &named.1["error"]["code"]),
                        (404, &json!("WORKSPACE_NOT_FOUND")),
                        "{method} {template} in another's workspace"
                    );
                }
                let foreign = outsider(&app, &bob, method.clone(), &theirs, None, &body).await;
                let unknown = outsider(&app, &bob, method.clone(), &nobodys, None, &body).await;
                assert_eq!(
                    (foreign.0, &foreign.1["error"]["code"]),
                    (unknown.0, &unknown.1["error"]["code"]),
                    "{method} {template}: a team's resource answers as one nobody has"
                );
                if matches!(method, Method::GET | Method::DELETE) {
                    assert_eq!(foreign.0, 404, "{method} {theirs}: {}", foreign.1);
                }
            } else if names_workspace(operation) {
                // Naming the team's workspace is refused; the outsider's own lists hold
                // nothing of the team's.
                let body = json!({});
                let named = outsider(&app, &bob, method.clone(), template, Some(acme), &body).await;
                assert_eq!(
                    (named.0, &named.1["error"]["code"]),
                    (404, &json!("WORKSPACE_NOT_FOUND")),
                    "{method} {template} in another's workspace"
                );
                if method == Method::GET {
                    outsider(&app, &bob, method, template, Some(bobs), &body).await;
                }
            }
            tried += 1;
        }
    }
    assert!(tried > 90, "{tried} operations tried");
    assert_eq!(
        rows_of(&app, acme).await,
        before,
        "the team's rows are untouched"
    );
}

/// `?name=value` for each query parameter the operation requires (its first value).
fn required_query(document: &Value, operation: &Value) -> String {
    let resolve = |value: &Value| match value["$ref"].as_str() {
        Some(pointer) => document.pointer(&pointer[1..]).unwrap().clone(),
        None => value.clone(),
    };
    let pairs: Vec<String> = operation["parameters"]
        .as_array()
        .into_iter()
        .flatten()
        .map(resolve)
        .filter(|p| p["in"] == "query" && p["required"] == true)
        .map(|p| {
            let first = resolve(&p["schema"])["enum"][0].clone();
            format!(
                "{}={}",
                p["name"].as_str().unwrap(),
                first.as_str().unwrap()
            )
        })
        .collect();
    if pairs.is_empty() {
        String::new()
    } else {
        format!("?{}", pairs.join("&"))
    }
}

/// Whether the operation takes the `Almanac-Workspace` header.
fn names_workspace(operation: &Value) -> bool {
    operation["parameters"]
        .as_array()
        .into_iter()
        .flatten()
        .any(|p| p["$ref"] == "#/components/parameters/AlmanacWorkspace")
}

/// `person` tries `method path` (in `workspace`): status and answer, which must carry
/// nothing of the team's.
async fn outsider(
    app: &TestApp,
    person: &Person,
    method: Method,
    path: &str,
    workspace: Option<Uuid>,
    body: &Value,
) -> (u16, Value) {
    let body = (method != Method::GET && method != Method::DELETE).then_some(body);
    let (status, answer) = call_as(app, &person.token, method.clone(), path, workspace, body).await;
    assert!(
        !answer.to_string().contains(MARK),
        "{method} {path} shows the team's content: {answer}"
    );
    (status, answer)
}

/// Every row of `workspace`'s, as text: what an outsider's calls must leave as it was.
async fn rows_of(app: &TestApp, workspace: Uuid) -> Vec<String> {
    let tables: Vec<String> = sqlx::query_scalar(
        "select table_name::text from information_schema.columns
         where table_schema = 'public' and column_name = 'workspace_id'
           and table_name not like 'workspace%' order by 1",
    )
    .fetch_all(&app.db)
    .await
    .unwrap();
    let mut rows = Vec::new();
    for table in tables {
        let of_table: Vec<String> = sqlx::query_scalar(sqlx::AssertSqlSafe(format!(
            "select t::text from {table} t where workspace_id = $1 order by t::text"
        )))
        .bind(workspace)
        .fetch_all(&app.db)
        .await
        .unwrap();
        rows.extend(of_table.into_iter().map(|row| format!("{table}: {row}")));
    }
    rows
}

/// One resource of every family in `workspace`, made by its owner `ana`: the rows a
/// request or a worker would have written, each text carrying [`MARK`]; and a key and an
/// invitation made through the API.
pub(super) async fn fixture(
    app: &TestApp,
    outbox: &Outbox,
    ana: &Person,
    workspace: Uuid,
) -> Fixture {
    let [
        job,
        generation,
        suggestion,
        card,
        calendar,
        entry,
        run,
        theme,
        synthesis,
        delivery,
    ] = [(); 10].map(|_| Uuid::now_v7());
    let [channel, evergreen, intent, media, webhook, webhook_delivery] =
        [(); 6].map(|_| Uuid::now_v7());
    let source = format!("{MARK} {}", "source text ".repeat(100));
    sqlx::query(FIXTURE)
        .bind(ana.id)
        .bind(workspace)
        .bind(MARK)
        .bind(TEXT_ID)
        .bind(&source)
        .bind(job)
        .bind(generation)
        .bind(suggestion)
        .bind(card)
        .bind(calendar)
        .bind(entry)
        .bind(run)
        .bind(theme)
        .bind(synthesis)
        .bind(delivery)
        .bind(channel)
        .bind(evergreen)
        .bind(intent)
        .bind(media)
        .bind(webhook)
        .bind(webhook_delivery)
        .execute(&app.db)
        .await
        .unwrap();
    let (link, comment) = review_rows(app, ana.id, workspace, calendar, entry).await;
    let post = post_rows(app, ana.id, workspace, calendar, channel).await;
    let (status, key) = ana
        .call(
            app,
            Method::POST,
            "/v1/api-keys",
            Some(workspace),
            Some(&json!({ "name": MARK, "scopes": ["read"] })),
        )
        .await;
    assert_eq!(status, 201, "{key}");
    let member = Person::new(app, "eve");
    join(app, outbox, workspace, ana, &member, "editor").await;
    let (status, invited) = ana
        .call(
            app,
            Method::POST,
            &format!("/v1/workspaces/{workspace}/invitations"),
            None,
            Some(&json!({ "email": "later@example.com", "role": "viewer" })),
        )
        .await;
    assert_eq!(status, 201, "{invited}");
    let text = |id: Uuid| id.to_string();
    let by_segment = HashMap::from([
        ("jobs", text(job)),
        ("generations", text(generation)),
        ("suggestions", text(suggestion)),
        ("cards", text(card)),
        ("calendars", text(calendar)),
        ("entries", text(entry)),
        ("review-links", text(link)),
        ("comments", text(comment)),
        ("calendar-posts", text(post)),
        ("runs", text(run)),
        ("themes", text(theme)),
        ("syntheses", text(synthesis)),
        ("deliveries", text(delivery)),
        ("webhook-deliveries", text(webhook_delivery)),
        ("brands", TEXT_ID.to_owned()),
        ("trends", TEXT_ID.to_owned()),
        ("assets", TEXT_ID.to_owned()),
        ("placements", TEXT_ID.to_owned()),
        ("accounts", text(channel)),
        ("channels", text(channel)),
        ("evergreen", text(evergreen)),
        ("publish-intents", text(intent)),
        ("posts", text(intent)),
        ("media", text(media)),
        ("webhooks", text(webhook)),
        ("api-keys", key["data"]["id"].as_str().unwrap().to_owned()),
        ("workspaces", text(workspace)),
        ("members", text(member.id)),
        (
            "invitations",
            invited["data"]["id"].as_str().unwrap().to_owned(),
        ),
    ]);
    Fixture { by_segment }
}

/// A review link to `entry` and a comment on it, by `owner`, each text carrying [`MARK`]:
/// their ids.
async fn review_rows(
    app: &TestApp,
    owner: Uuid,
    workspace: Uuid,
    calendar: Uuid,
    entry: Uuid,
) -> (Uuid, Uuid) {
    let (link, comment) = (Uuid::now_v7(), Uuid::now_v7());
    sqlx::query(
        "with l as (insert into review_links (id, workspace_id, calendar_id, user_id, digest,
                        label, entry_ids, expires_at)
                    values ($1, $4, $5, $3, sha256(convert_to($1::text, 'UTF8')), $6,
                        array[$7::uuid], now() + interval '7 days'))
         insert into entry_comments (id, workspace_id, calendar_id, entry_id, user_id, body)
         values ($2, $4, $5, $7, $3, $6)",
    )
    .bind(link)
    .bind(comment)
    .bind(owner)
    .bind(workspace)
    .bind(calendar)
    .bind(MARK)
    .bind(entry)
    .execute(&app.db)
    .await
    .unwrap();
    (link, comment)
}

/// A post on `channel` with its one entry, by `owner`, its text carrying [`MARK`]: the
/// post's id.
async fn post_rows(
    app: &TestApp,
    owner: Uuid,
    workspace: Uuid,
    calendar: Uuid,
    channel: Uuid,
) -> Uuid {
    let (post, entry) = (Uuid::now_v7(), Uuid::now_v7());
    sqlx::query(
        "with p as (insert into posts (id, workspace_id, calendar_id, user_id, updated_by, title,
                        caption, scheduled_at)
                    values ($1, $4, $5, $3, $3, $6, $6, '2030-01-08 09:00Z'))
         insert into calendar_entries (id, calendar_id, user_id, workspace_id, key, channel,
             channel_id, post_id, local_date, local_time, scheduled_at, title, caption, origin)
         values ($2, $5, $3, $4, 'manual/' || $2, 'bluesky', $7, $1, '2030-01-08', '10:00',
                 '2030-01-08 09:00Z', $6, $6, 'manual')",
    )
    .bind(post)
    .bind(entry)
    .bind(owner)
    .bind(workspace)
    .bind(calendar)
    .bind(MARK)
    .bind(channel)
    .execute(&app.db)
    .await
    .unwrap();
    post
}

/// The rows of [`fixture`]: $1 the owner, $2 the workspace, $3 the mark, $4 the text id,
/// $5 a generation's source, $6.. the uuids in the order [`fixture`] binds them.
const FIXTURE: &str = "with
     j as (insert into jobs (id, user_id, workspace_id, kind, status, payload, max_attempts,
                             fairness_key)
           values ($6, $1, $2, 'generation', 'succeeded', '{}', 3, $2)),
     g as (insert into ai_generations (id, user_id, workspace_id, job_id, source_text,
                                       prompt_version, status)
           values ($7, $1, $2, $6, $5, 'v1', 'succeeded')),
     s as (insert into ai_suggestions (id, user_id, workspace_id, generation_id, position,
                                       front, back)
           values ($8, $1, $2, $7, 0, $3, $3 || ' back')),
     c as (insert into cards (id, user_id, workspace_id, front, back)
           values ($9, $1, $2, $3, $3 || ' back')),
     k as (insert into calendars (id, user_id, workspace_id, name, request)
           values ($10, $1, $2, $3, '{}')),
     e as (insert into calendar_entries (id, calendar_id, user_id, workspace_id, key, channel,
                                         local_date, local_time, scheduled_at, title, origin)
           values ($11, $10, $1, $2, 'manual/' || $11, 'bluesky', '2030-01-07', '09:00',
                   '2030-01-07 09:00Z', $3, 'manual')),
     r as (insert into calendar_runs (id, calendar_id, user_id, workspace_id, version, mode,
                                      request, slots, applies_directly, status)
           values ($12, $10, $1, $2, 1, 'service', '{}', 1, true, 'succeeded')),
     t as (insert into themes (id, user_id, workspace_id, name)
           values ($13, $1, $2, $3)),
     y as (insert into syntheses (id, user_id, workspace_id, theme_id, job_id, origin, status,
                                  title)
           values ($14, $1, $2, $13, $6, 'manual', 'succeeded', $3)),
     d as (insert into email_deliveries (id, user_id, workspace_id, synthesis_id, theme_id,
                                         recipient, message_id)
           values ($15, $1, $2, $14, $13, 'reader@example.com', $3)),
     b as (insert into brand_profiles (user_id, workspace_id, id, name, timezone)
           values ($1, $2, $4, $3, 'Europe/Paris')),
     tr as (insert into organic_trends (user_id, workspace_id, id, kind, title)
            values ($1, $2, $4, 'trend', $3)),
     a as (insert into creative_assets (user_id, workspace_id, id, kind, title)
           values ($1, $2, $4, 'image', $3)),
     p as (insert into platform_accounts (id, user_id, workspace_id, platform, account_id)
           values ($16, $1, $2, 'bluesky', $3)),
     f as (insert into calendar_feeds (calendar_id, user_id, workspace_id, token_digest)
           values ($10, $1, $2, sha256(convert_to($3 || $10, 'UTF8')))),
     sc as (insert into theme_schedules (id, theme_id, user_id, workspace_id, emails,
                                         timezone, time_local)
            values (gen_random_uuid(), $13, $1, $2, jsonb_build_array('reader@example.com'),
                    'Europe/Paris', '08:00')),
     wd as (insert into organic_week_drafts (user_id, workspace_id, brand_id, week_start,
                                             draft)
            values ($1, $2, $4, '2030-01-07', jsonb_build_object('note', $3::text))),
     ba as (insert into brand_accounts (user_id, workspace_id, brand_id, account)
            values ($1, $2, $4, $16)),
     v as (insert into evergreen_collections (id, user_id, workspace_id, name, channel_ids,
                                              entry_ids, min_gap_days, variation)
           values ($17, $1, $2, $3, array[$16], array[$11], 30, 'none')),
     i as (insert into publish_intents (id, user_id, workspace_id, calendar_id, channel, mode,
                                        dry_run, timing, status)
           values ($18, $1, $2, $10, 'bluesky', 'publish', false, 'now', 'failed')),
     m as (insert into media (id, user_id, workspace_id, kind, mime, bytes, object_key,
                              alt_text)
           values ($19, $1, $2, 'photo', 'image/png', 1, 'acme/' || $19, $3)),
     w as (insert into webhook_endpoints (id, user_id, workspace_id, url, events, secret,
                                          description)
           values ($20, $1, $2, 'https://hooks.example.com/' || $3, array['job.succeeded'],
                   '\\x00', $3))
     insert into webhook_deliveries (id, endpoint_id, user_id, workspace_id, event_type, data)
     values ($21, $20, $1, $2, 'job.succeeded', jsonb_build_object('mark', $3::text))";
