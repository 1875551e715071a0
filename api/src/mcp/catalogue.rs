//! The tools as the MCP client sees them: names, titles, what each does, and their input
//! schemas, taken from the operations' own where a tool sends an operation's body
//! (`super::schemas`).

use serde_json::{Map, Value, json};

use super::schemas::{body_of, object, uuid, with};

/// Every tool: name, title, what it does, its input schema and whether it only reads.
pub(crate) fn tools() -> Vec<Value> {
    let ids = |what: &str| json!({ "type": "array", "minItems": 1, "maxItems": 500, "items": uuid(what) });
    let calendar_id = uuid("The calendar's id (`list_calendars`).");
    vec![
        tool(
            "plan_calendar",
            "Plan a content calendar",
            "Generates a content calendar for social channels (the fields of POST /v1/ai/calendar: channels, cadence, start, end, constraints). Sends a progress notification per entry written; returns the run's summary with its calendarId.",
            body_of("generateCalendar"),
            false,
        ),
        tool(
            "list_calendars",
            "List calendars",
            "The caller's calendars, newest first.",
            object(json!({}), &[]),
            true,
        ),
        tool(
            "get_calendar",
            "Get a calendar",
            "One calendar with its saved entries (each with its id, channel, date, time, scheduledAt, title, caption, hashtags), its version and runs.",
            object(json!({ "calendarId": calendar_id }), &["calendarId"]),
            true,
        ),
        tool(
            "update_entry",
            "Edit a calendar entry",
            "Edits one saved entry (the fields of PATCH /v1/calendars/{id}/entries/{entryId}: date and time to move it, title, caption, format, hashtags, callToAction, mediaUrl). The edit is kept through later regenerations.",
            with(
                body_of("editCalendarEntry"),
                json!({ "calendarId": calendar_id, "entryId": uuid("The entry's id (`get_calendar`).") }),
            ),
            false,
        ),
        tool(
            "dry_run_publish",
            "Check what a publish would send",
            "For each entry: what would be sent to its platform (the post and the requests), or why it could not be (no connected account, caption too long, media missing...). Nothing is sent.",
            object(
                json!({ "calendarId": calendar_id, "entryIds": ids("An entry's id.") }),
                &["calendarId", "entryIds"],
            ),
            true,
        ),
        tool(
            "publish",
            "Publish calendar entries",
            "Publishes entries to their platforms, at most once each: now, or scheduled at each entry's time (to post at another time, move the entry with update_entry first: its date and time). idempotencyKey is required: the same key again answers the same intents, whatever happened since. Returns one intent per entry; follow each with get_publish_receipt. On a channel that asks for review only approved entries are published: the others are listed in `refused` with `REVIEW_REQUIRED` (see request_review), and when none is approved the call fails with that code.",
            object(
                json!({
                    "calendarId": calendar_id,
                    "entryIds": ids("An entry's id."),
                    "idempotencyKey": { "type": "string", "pattern": "^[!-~]{1,255}$", "description": "1-255 printable ASCII characters, new for each publish you mean." },
                    "when": { "type": "string", "enum": ["now", "scheduled"], "description": "now (default), or at each entry's scheduledAt." },
                    "channels": { "type": "object", "additionalProperties": uuid("A connected channel's id."), "description": "Which connected account posts a platform's entries, by platform name, when there are several." },
                }),
                &["calendarId", "entryIds", "idempotencyKey"],
            ),
            false,
        ),
        tool(
            "get_publish_receipt",
            "Get a publish's receipt",
            "Where one publish intent stands: published (with the platform's post id), failed (with the reason), unknown (its answer was lost: what is being done to settle it without posting again, and when it is checked next), unconfirmed (what to check before a retry), or scheduled, publishing, cancelled.",
            object(
                json!({ "intentId": uuid("The intent's id, from publish.") }),
                &["intentId"],
            ),
            true,
        ),
        tool(
            "generate_flashcards",
            "Generate flashcards",
            "Suggests flashcards from 1,000-10,000 characters of source text (the fields of POST /api/ai/generations). Waits for the generation and returns its suggestions.",
            body_of("createGeneration"),
            false,
        ),
        tool(
            "plan_organic_week",
            "Plan an organic week",
            "Fills a brand's week with placements (the request of POST /api/organic/generate-calendar). Sends a progress notification per placement; returns the placements, the refusals and the counts.",
            body_of("generateOrganicCalendar"),
            false,
        ),
        tool(
            "list_themes",
            "List themes",
            "The caller's news themes, with their sources.",
            object(json!({}), &[]),
            true,
        ),
        tool(
            "list_channels",
            "List channels",
            "The workspace's connected channels: `[{id, platform, name, handle, accountKind}]`, \
             to name one by `channelId` where a platform has several (`CHANNEL_AMBIGUOUS`).",
            object(json!({}), &[]),
            true,
        ),
        tool(
            "run_synthesis",
            "Write a news synthesis",
            "Writes a synthesis of a theme's sources now, waits for it and returns it.",
            object(
                json!({ "themeId": uuid("The theme's id (`list_themes`).") }),
                &["themeId"],
            ),
            false,
        ),
    ]
    .into_iter()
    .chain(review_tools())
    .collect()
}

/// The review tools: asking for an entry's review, reading where it stands.
fn review_tools() -> Vec<Value> {
    let ids = json!({ "calendarId": uuid("The calendar's id."), "entryId": uuid("The entry's id (`get_calendar`).") });
    vec![
        tool(
            "request_review",
            "Ask for an entry's review",
            "Asks the approvers of the entry's channel (its review policy's first step) to review it: publishing it waits for their approval where the channel asks for review (`REVIEW_REQUIRED`). Asking again while it is in review changes nothing. Returns the review: status, step, contentVersion, decisions.",
            object(ids.clone(), &["calendarId", "entryId"]),
            false,
        ),
        tool(
            "get_review",
            "Get an entry's review",
            "Where the entry's review stands: not_requested, in_review (at which step), changes_requested (with the approvers' comments), approved (at which contentVersion) or expired, with every decision. Only an entry approved at its content now is published on a channel that asks for review.",
            object(ids.clone(), &["calendarId", "entryId"]),
            true,
        ),
    ]
}

fn tool(
    name: &str,
    title: &str,
    description: &str,
    schema: Map<String, Value>,
    read_only: bool,
) -> Value {
    json!({
        "name": name,
        "title": title,
        "description": description,
        "inputSchema": schema,
        "annotations": { "title": title, "readOnlyHint": read_only, "destructiveHint": false, "openWorldHint": name == "publish" },
    })
}
