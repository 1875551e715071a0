//! A publish's receipt (`get_publish_receipt`): an intent's status as an agent can act on
//! it, whichever status it is. `published` with the platform's post id; `failed` with the
//! reason; `unknown` with what is being done to settle it (read-only checks, nothing sent
//! again) and when it is checked next; `unconfirmed` with what its owner must check before
//! a retry; every other status as it stands. With each, the provenance of what it sends
//! (who made the words, with which model and prompt, on whose key, who approved which
//! version) and, on a channel that asks for review, the hashes approved and sent; and the
//! post's first comment (`sent`, `failed` with why, `unknown`) once its step ran.

use almanac_shared::config::PublishSettings;
use chrono::{DateTime, Utc};
use serde_json::{Value, json};

/// The receipt of `intent` (the API's `PublishIntent`).
pub(crate) fn of(intent: &Value, settings: &PublishSettings) -> Value {
    let status = intent["status"].as_str().unwrap_or_default();
    let channel = intent["channel"].as_str().unwrap_or_default();
    let at = |field: &str| {
        intent[field]
            .as_str()
            .and_then(|t| DateTime::parse_from_rfc3339(t).ok())
            .map(|t| t.with_timezone(&Utc))
    };
    let reason = intent["error"]["message"].clone();
    let (sent_once, explained, detail) = match status {
        "published" => (
            true,
            format!("Published on {channel}, once."),
            json!({ "postId": intent["remotePostId"], "url": intent["postUrl"], "publishedAt": intent["publishedAt"] }),
        ),
        "draft_sent" => (
            true,
            format!(
                "Sent to the {channel} account's drafts, once: its owner finishes the post there."
            ),
            json!({ "remoteId": intent["remoteId"] }),
        ),
        "failed" => (
            false,
            format!(
                "Not published on {channel}: the platform refused it, or it could not be sent."
            ),
            json!({ "code": intent["error"]["code"], "reason": reason }),
        ),
        "unknown" => {
            let since = at("unknownSince").unwrap_or_else(Utc::now);
            let last = at("checkedAt");
            let every = chrono::Duration::from_std(settings.check_interval).unwrap_or_default();
            let window = chrono::Duration::from_std(settings.confirm_window).unwrap_or_default();
            let next = last.unwrap_or(since).max(since) + every;
            (
                false,
                format!(
                    "The answer of {channel} to the publish was lost, so it may or may not be \
                     posted. Almanac is checking with {channel} without posting again; it \
                     becomes published or failed when a check settles it, or unconfirmed if \
                     none does by the give-up time."
                ),
                json!({
                    "settling": "read-only checks of the platform; the post is never sent a second time",
                    "since": since,
                    "lastCheckedAt": last,
                    "nextCheckAt": next,
                    "giveUpAt": since + window,
                }),
            )
        }
        "unconfirmed" => (
            false,
            format!(
                "Almanac could not confirm whether {channel} posted it. Check the account \
                 before retrying (POST /v1/publish-intents/{{id}}/retry), so that it is not \
                 posted twice."
            ),
            json!({ "reason": reason }),
        ),
        "scheduled" => (
            false,
            format!("Waiting to be published on {channel} at its time."),
            json!({ "publishAt": intent["publishAt"] }),
        ),
        "publishing" => (
            false,
            format!("Being published on {channel} now."),
            json!({}),
        ),
        "dry_run" => (
            false,
            "A dry run: nothing was or will be sent.".to_owned(),
            json!({}),
        ),
        _ => (false, format!("{status} on {channel}."), json!({})),
    };
    json!({
        "intentId": intent["id"],
        "calendarId": intent["calendarId"],
        "entryId": intent["entryId"],
        "channel": channel,
        "status": status,
        "final": matches!(status, "published" | "draft_sent" | "failed" | "unconfirmed" | "cancelled" | "dry_run"),
        "postedOnce": sent_once,
        "attempts": intent["attempts"],
        "explanation": explained,
        "detail": detail,
        "provenance": intent["provenance"],
        "approvedHash": intent["approvedHash"],
        "sentHash": intent["sentHash"],
        "firstComment": intent["firstComment"],
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings() -> PublishSettings {
        almanac_shared::Settings::from_lookup(|name| match name {
            "DATABASE_URL" => Some("postgres://x@127.0.0.1/x".into()),
            "JWT_SECRET" => Some("x".repeat(40)),
            "ALMANAC_DEV" => Some("true".into()),
            "PUBLISH_CHECK_INTERVAL_MS" => Some("20000".into()),
            "PUBLISH_CONFIRM_WINDOW_SECS" => Some("1800".into()),
            _ => None,
        })
        .unwrap()
        .publish
    }

    #[test]
    fn an_unknown_publish_says_how_it_settles_and_when_it_is_checked_next() {
        let intent = json!({
            "id": "i", "status": "unknown", "channel": "tiktok", "attempts": 1,
            "unknownSince": "2030-01-01T10:00:00Z", "checkedAt": "2030-01-01T10:01:00Z",
        });
        let receipt = of(&intent, &settings());
        assert_eq!(receipt["status"], "unknown");
        assert_eq!(receipt["final"], false);
        assert_eq!(receipt["postedOnce"], false);
        assert_eq!(receipt["detail"]["nextCheckAt"], "2030-01-01T10:01:20Z");
        assert_eq!(receipt["detail"]["giveUpAt"], "2030-01-01T10:30:00Z");
        assert!(
            receipt["detail"]["settling"]
                .as_str()
                .unwrap()
                .contains("never sent a second time")
        );
    }

    #[test]
    fn a_published_one_names_its_post_and_a_failed_one_its_reason() {
        let published = of(
            &json!({ "id": "i", "status": "published", "channel": "linkedin",
                     "remotePostId": "urn:li:share:1", "publishedAt": "2030-01-01T10:00:00Z",
                     "postUrl": "https://www.linkedin.com/feed/update/urn:li:share:1" }),
            &settings(),
        );
        assert_eq!(published["final"], true);
        assert_eq!(published["postedOnce"], true);
        assert_eq!(published["detail"]["postId"], "urn:li:share:1");
        assert_eq!(
            published["detail"]["url"],
            "https://www.linkedin.com/feed/update/urn:li:share:1"
        );
        let failed = of(
            &json!({ "id": "i", "status": "failed", "channel": "tiktok",
                     "error": { "code": "CAPTION_TOO_LONG", "message": "too long" } }),
            &settings(),
        );
        assert_eq!(failed["detail"]["code"], "CAPTION_TOO_LONG");
        assert_eq!(failed["detail"]["reason"], "too long");
    }

    /// A published post whose first comment failed is still published once, and its
    /// receipt says what became of the comment.
    #[test]
    fn a_receipt_says_what_became_of_the_first_comment() {
        let failed = json!({ "status": "failed", "error": { "code": "COMMENTS_DISABLED",
            "message": "comments are turned off on this video" } });
        let intent = json!({
            "id": "i", "status": "published", "channel": "youtube", "attempts": 1,
            "remotePostId": "vid1", "firstComment": failed,
        });
        let receipt = of(&intent, &settings());
        assert_eq!(receipt["postedOnce"], true);
        assert_eq!(receipt["firstComment"], failed);
        let without = of(
            &json!({ "id": "j", "status": "published", "channel": "tiktok" }),
            &settings(),
        );
        assert_eq!(without["firstComment"], Value::Null);
    }
}
