//! The tools' runs: each is one or a few calls of this API's own operations ([`Api`]),
//! with the caller's credentials; their errors carry the API's codes. What each takes is
//! `super::catalogue`.

use almanac_shared::api_keys::Scope;
use poem::http::Method;
use serde_json::{Map, Value, json};

use super::{
    api::{Api, Failure},
    progress::Progress,
    receipt,
};
use crate::state::AppState;
use almanac_publishing::request::REVIEW_REQUIRED;

/// Runs tool `name`.
pub(crate) async fn call(
    name: &str,
    args: Map<String, Value>,
    api: &Api<'_>,
    progress: &Progress,
    state: &AppState,
) -> Result<Value, Failure> {
    if let Some(missing) = missing_scope(name, api.scopes()) {
        return Err(Failure {
            status: 403,
            body: json!({
                "code": crate::middleware::keys::INSUFFICIENT_SCOPE,
                "message": format!(
                    "this API key may not use {name}: it needs the `{}` scope",
                    missing.as_str()
                ),
                "details": { "scope": missing.as_str() },
            }),
        });
    }
    let args = Arguments(args);
    match name {
        "plan_calendar" => plan_calendar(api, args.0.into(), progress).await,
        "list_calendars" => data(api.json(Method::GET, "/v1/calendars", None, &[]).await?),
        "get_calendar" => {
            let path = format!("/v1/calendars/{}", args.id("calendarId")?);
            data(api.json(Method::GET, &path, None, &[]).await?)
        }
        "update_entry" => {
            let path = format!(
                "/v1/calendars/{}/entries/{}",
                args.id("calendarId")?,
                args.id("entryId")?
            );
            let changes = args.without(&["calendarId", "entryId"]);
            data(api.json(Method::PATCH, &path, Some(&changes), &[]).await?)
        }
        "dry_run_publish" => dry_run(api, &args).await,
        "publish" => publish(api, &args).await,
        "get_publish_receipt" => {
            let path = format!("/v1/publish-intents/{}", args.id("intentId")?);
            let intent = api.json(Method::GET, &path, None, &[]).await?;
            Ok(receipt::of(&intent["data"], &state.settings.publish))
        }
        "generate_flashcards" => flashcards(api, args.0.into(), progress).await,
        "plan_organic_week" => organic_week(api, args.0.into(), progress).await,
        "list_themes" => api.json(Method::GET, "/api/v1/themes", None, &[]).await,
        "list_channels" => channels(api).await,
        "request_review" => {
            let path = review_path(&args)?;
            data(api.json(Method::POST, &path, None, &[]).await?)
        }
        "get_review" => {
            let path = review_path(&args)?;
            data(api.json(Method::GET, &path, None, &[]).await?)
        }
        "run_synthesis" => synthesis(api, &args, progress).await,
        _ => Err(Failure::invalid(format!("no tool is named {name}"))),
    }
}

/// The operations each tool calls (method and route template): the scopes it needs are
/// theirs, by the API's one rule (`crate::scopes::scope_for`).
const CALLS: [(&str, &[(&str, &str)]); 14] = [
    (
        "plan_calendar",
        &[("POST", "/v1/ai/calendar"), ("GET", "/v1/jobs/{id}")],
    ),
    ("list_calendars", &[("GET", "/v1/calendars")]),
    ("get_calendar", &[("GET", "/v1/calendars/{id}")]),
    (
        "update_entry",
        &[("PATCH", "/v1/calendars/{id}/entries/{entry_id}")],
    ),
    ("dry_run_publish", &[("POST", "/v1/calendars/{id}/publish")]),
    ("publish", &[("POST", "/v1/calendars/{id}/publish")]),
    (
        "get_publish_receipt",
        &[("GET", "/v1/publish-intents/{id}")],
    ),
    (
        "generate_flashcards",
        &[
            ("POST", "/api/ai/generations"),
            ("GET", "/api/ai/generations/{id}"),
        ],
    ),
    (
        "plan_organic_week",
        &[("POST", "/api/organic/generate-calendar")],
    ),
    ("list_themes", &[("GET", "/api/v1/themes")]),
    ("list_channels", &[("GET", "/v1/channels")]),
    (
        "request_review",
        &[("POST", "/v1/calendars/{id}/entries/{entry_id}/review")],
    ),
    (
        "get_review",
        &[("GET", "/v1/calendars/{id}/entries/{entry_id}/review")],
    ),
    (
        "run_synthesis",
        &[
            ("POST", "/api/v1/themes/{id}/syntheses"),
            ("GET", "/api/v1/syntheses/{id}"),
        ],
    ),
];

/// The first scope tool `name`'s calls need that `scopes` (a key's; `None`: a JWT's, all of
/// them) lacks.
fn missing_scope(name: &str, scopes: Option<&[String]>) -> Option<Scope> {
    let scopes = scopes?;
    let (_, calls) = CALLS.iter().find(|(tool, _)| *tool == name)?;
    calls
        .iter()
        .map(|(method, template)| crate::scopes::scope_for(method, template))
        .find(|needed| !scopes.iter().any(|s| s == needed.as_str()))
}

/// The workspace's connected channels, as an agent picks one (`CHANNEL_AMBIGUOUS` names
/// several of a platform): `[{id, platform, name, handle, accountKind}]`.
async fn channels(api: &Api<'_>) -> Result<Value, Failure> {
    let listed = data(api.json(Method::GET, "/v1/channels", None, &[]).await?)?;
    let items = listed["items"].as_array().cloned().unwrap_or_default();
    Ok(Value::Array(
        items
            .iter()
            .map(|channel| {
                let name = match &channel["displayName"] {
                    Value::Null => channel["handle"].clone(),
                    name => name.clone(),
                };
                json!({
                    "id": channel["id"],
                    "platform": channel["platform"],
                    "name": name,
                    "handle": channel["handle"],
                    // Whose name its posts go out under (a member or a page), where the
                    // platform lets a connection choose; null where it posts as itself.
                    "accountKind": channel["authorKind"],
                })
            })
            .collect(),
    ))
}

/// A tool's arguments.
struct Arguments(Map<String, Value>);

impl Arguments {
    /// A required id argument, as a UUID (what the API's paths take).
    fn id(&self, name: &str) -> Result<uuid::Uuid, Failure> {
        self.0
            .get(name)
            .and_then(Value::as_str)
            .and_then(|id| id.parse().ok())
            .ok_or_else(|| Failure::invalid(format!("`{name}` must be an id (a UUID)")))
    }

    fn without(&self, names: &[&str]) -> Value {
        let mut rest = self.0.clone();
        for name in names {
            rest.remove(*name);
        }
        Value::Object(rest)
    }

    fn get(&self, name: &str) -> Value {
        self.0.get(name).cloned().unwrap_or(Value::Null)
    }
}

/// An envelope's `data`.
fn data(answer: Value) -> Result<Value, Failure> {
    Ok(answer["data"].clone())
}

async fn plan_calendar(
    api: &Api<'_>,
    request: Value,
    progress: &Progress,
) -> Result<Value, Failure> {
    let mut entries = 0u32;
    let mut done = Value::Null;
    let mut frames = api
        .ndjson(Method::POST, "/v1/ai/calendar", Some(&request))
        .await?;
    while let Some(frame) = frames.next().await {
        match frame["type"].as_str() {
            Some("entry") => {
                entries += 1;
                // An entry frame is seed 000's envelope: `data` is the entry.
                let title = frame["data"]["title"]
                    .as_str()
                    .unwrap_or_default()
                    .to_owned();
                progress
                    .step(
                        f64::from(entries),
                        None,
                        format!("entry {entries} written: {title}"),
                    )
                    .await;
            }
            Some("done") => done = frame,
            _ => {}
        }
    }
    if done.is_null() {
        return Err(Failure {
            status: 502,
            body: json!({ "code": "STREAM_ENDED", "message": "the calendar's stream ended without its final frame" }),
        });
    }
    // The final frame's `data` is the run's summary.
    let summary = &done["data"];
    Ok(
        json!({ "entriesWritten": entries, "summary": summary, "calendarId": summary["calendarId"], "runId": summary["runId"], "status": summary["status"], "error": done["error"] }),
    )
}

async fn dry_run(api: &Api<'_>, args: &Arguments) -> Result<Value, Failure> {
    let path = format!("/v1/calendars/{}/publish", args.id("calendarId")?);
    let body = json!({ "entryIds": args.get("entryIds"), "dryRun": true });
    let answer = data(api.json(Method::POST, &path, Some(&body), &[]).await?)?;
    let mut entries: Vec<Value> = answer["intents"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|intent| {
            json!({
                "entryId": intent["entryId"],
                "channel": intent["channel"],
                "ready": intent["error"].is_null(),
                "problem": intent["error"],
                "post": intent["payload"]["post"],
                "requests": intent["payload"]["requests"],
            })
        })
        .collect();
    entries.extend(answer["refused"].as_array().into_iter().flatten().map(|refused| {
        json!({ "entryId": refused["entryId"], "channel": refused["channel"], "ready": false,
                "problem": { "code": refused["code"] } })
    }));
    Ok(json!({ "entries": entries, "publishingOff": answer["reason"] == "PUBLISH_DISABLED" }))
}

async fn publish(api: &Api<'_>, args: &Arguments) -> Result<Value, Failure> {
    let path = format!("/v1/calendars/{}/publish", args.id("calendarId")?);
    let key = args.get("idempotencyKey");
    let key = key
        .as_str()
        .ok_or_else(|| Failure::invalid("`idempotencyKey` is required"))?;
    let mut body = json!({ "entryIds": args.get("entryIds"), "dryRun": false });
    for optional in ["when", "channels"] {
        if !args.get(optional).is_null() {
            body[optional] = args.get(optional);
        }
    }
    let headers = [("idempotency-key", key.to_owned())];
    let answer = data(api.json(Method::POST, &path, Some(&body), &headers).await?)?;
    let intents: Vec<Value> = answer["intents"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|i| json!({ "intentId": i["id"], "entryId": i["entryId"], "channel": i["channel"], "status": i["status"], "publishAt": i["publishAt"] }))
        .collect();
    let refused = answer["refused"].as_array().cloned().unwrap_or_default();
    if intents.is_empty()
        && !refused.is_empty()
        && refused.iter().all(|r| r["code"] == REVIEW_REQUIRED)
    {
        // Nothing was made: every entry waits for its approval.
        return Err(Failure {
            status: 409,
            body: json!({
                "code": REVIEW_REQUIRED,
                "message": "these entries' channel asks for review and they are not approved: \
                    ask for their review with request_review, then publish once approved",
                "details": { "entryIds": refused.iter().map(|r| r["entryId"].clone()).collect::<Vec<_>>() },
            }),
        });
    }
    Ok(
        json!({ "intents": intents, "refused": refused, "spooled": answer["spooled"], "next": "follow each intent with get_publish_receipt" }),
    )
}

/// An entry's review route, from the tool's `calendarId` and `entryId`.
fn review_path(args: &Arguments) -> Result<String, Failure> {
    Ok(format!(
        "/v1/calendars/{}/entries/{}/review",
        args.id("calendarId")?,
        args.id("entryId")?
    ))
}

/// Follows job `job`'s events to its end; progress as they come. Its final status.
async fn follow(api: &Api<'_>, job: &str, progress: &Progress) -> Result<Value, Failure> {
    let mut done = Value::Null;
    let mut steps = 0u32;
    let path = format!("/v1/jobs/{job}/events");
    let mut events = api.ndjson(Method::GET, &path, None).await?;
    while let Some(event) = events.next().await {
        match event["type"].as_str() {
            Some("done") => done = event,
            Some("progress") => {
                steps += 1;
                let message = event["data"]["message"]
                    .as_str()
                    .unwrap_or("working")
                    .to_owned();
                progress.step(f64::from(steps), None, message).await;
            }
            _ => {}
        }
    }
    Ok(done)
}

async fn flashcards(api: &Api<'_>, request: Value, progress: &Progress) -> Result<Value, Failure> {
    let made = api
        .json(Method::POST, "/api/ai/generations", Some(&request), &[])
        .await?;
    let (generation, job) = (
        made["generation_id"].as_str().unwrap_or_default(),
        made["job_id"].as_str().unwrap_or_default(),
    );
    follow(api, job, progress).await?;
    let state = api
        .json(
            Method::GET,
            &format!("/api/ai/generations/{generation}"),
            None,
            &[],
        )
        .await?;
    let suggestions = api
        .json(
            Method::GET,
            &format!("/api/ai/generations/{generation}/suggestions"),
            None,
            &[],
        )
        .await?;
    Ok(
        json!({ "generationId": generation, "status": state["status"], "error": state["error"], "suggestions": suggestions }),
    )
}

async fn organic_week(
    api: &Api<'_>,
    request: Value,
    progress: &Progress,
) -> Result<Value, Failure> {
    let (mut placements, mut errors, mut complete) = (Vec::new(), Vec::new(), Value::Null);
    let mut lines = api
        .ndjson(
            Method::POST,
            "/api/organic/generate-calendar",
            Some(&request),
        )
        .await?;
    while let Some(line) = lines.next().await {
        match line["type"].as_str() {
            Some("placement") => {
                let title = line["placement"]["title"]
                    .as_str()
                    .unwrap_or_default()
                    .to_owned();
                placements.push(line);
                progress
                    .step(
                        placements.len() as f64,
                        None,
                        format!("placement {} drafted: {title}", placements.len()),
                    )
                    .await;
            }
            Some("error") => errors.push(line),
            Some("complete") => complete = line,
            _ => {}
        }
    }
    Ok(
        json!({ "status": complete["status"], "jobId": complete["jobId"], "counts": complete["counts"], "placements": placements, "errors": errors }),
    )
}

async fn synthesis(api: &Api<'_>, args: &Arguments, progress: &Progress) -> Result<Value, Failure> {
    let path = format!("/api/v1/themes/{}/syntheses", args.id("themeId")?);
    let made = api.json(Method::POST, &path, None, &[]).await?;
    let (synthesis, job) = (
        made["synthesis_id"].as_str().unwrap_or_default(),
        made["job_id"].as_str().unwrap_or_default(),
    );
    follow(api, job, progress).await?;
    api.json(
        Method::GET,
        &format!("/api/v1/syntheses/{synthesis}"),
        None,
        &[],
    )
    .await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_tool_names_the_calls_its_scopes_come_from() {
        let mut listed: Vec<String> = super::super::catalogue::tools()
            .iter()
            .map(|tool| tool["name"].as_str().unwrap().to_owned())
            .collect();
        listed.sort();
        let mut known: Vec<String> = CALLS.iter().map(|(n, _)| (*n).to_owned()).collect();
        known.sort();
        assert_eq!(listed, known);
        let read = ["read".to_owned()];
        assert_eq!(
            missing_scope("generate_flashcards", Some(&read)),
            Some(Scope::Write)
        );
        let write = ["write".to_owned()];
        assert_eq!(
            missing_scope("generate_flashcards", Some(&write)),
            Some(Scope::Read),
            "it reads the generation back"
        );
        assert_eq!(missing_scope("publish", Some(&write)), Some(Scope::Publish));
        assert_eq!(
            missing_scope("publish", None),
            None,
            "a JWT has every scope"
        );
    }
}
