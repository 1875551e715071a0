//! What LinkedIn reads and says: URNs, a post's commentary in its "little text" format, and
//! its refusals turned into failures a person understands.

use serde_json::Value;

use super::{MEMBER, PAGE};
use crate::{Failure, FailureKind};

/// Whether `urn` names a member or a page (`urn:li:person:<id>`, `urn:li:organization:<id>`).
pub(super) fn valid_urn(urn: &str) -> bool {
    let id = urn
        .strip_prefix(MEMBER)
        .or_else(|| urn.strip_prefix(PAGE))
        .unwrap_or("");
    (1..=100).contains(&id.len())
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
}

/// Whether `id` names a post (`x-restli-id`: a share or a UGC post).
pub(super) fn is_post_urn(id: &str) -> bool {
    id.starts_with("urn:li:share:") || id.starts_with("urn:li:ugcPost:")
}

/// A name as a channel's handle (at most 200 characters).
pub(super) fn short_name(name: &str) -> String {
    name.trim().chars().take(200).collect()
}

/// LinkedIn's "little" text of `text`: its reserved characters escaped, so that they read
/// as themselves, except the `#` that starts a hashtag (kept a hashtag).
pub fn commentary(text: &str) -> String {
    const RESERVED: &str = "\\|{}@[]()<>#*_~";
    let mut out = String::with_capacity(text.len() + 16);
    let mut in_hashtag = false;
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        let word = |c: char| c.is_alphanumeric() || c == '_';
        if c == '#' && chars.peek().copied().is_some_and(word) {
            in_hashtag = true;
            out.push(c);
            continue;
        }
        if in_hashtag && word(c) {
            out.push(c);
            continue;
        }
        in_hashtag = false;
        if RESERVED.contains(c) {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

/// LinkedIn's refusal, in our words, with its status and code.
pub(super) fn refusal(status: u16, body: &Value) -> Failure {
    let input_code = body["errorDetails"]["inputErrors"]
        .as_array()
        .into_iter()
        .flatten()
        .find_map(|e| e["code"].as_str());
    let theirs = body["message"].as_str().unwrap_or("").to_owned();
    let code = input_code
        .or(body["code"].as_str())
        .map(str::to_owned)
        .or_else(|| body["serviceErrorCode"].as_i64().map(|c| c.to_string()));
    let duplicate = input_code == Some("DUPLICATE_POST")
        || (status == 422 && theirs.to_lowercase().contains("duplicate"));
    let (kind, ours, reason) = match status {
        _ if duplicate => (
            FailureKind::Permanent,
            "DUPLICATE_POST",
            "LinkedIn refused the post as a duplicate of a recent post by the same author; it is not sent again: change the text to post it",
        ),
        401 => (
            FailureKind::Auth,
            "CHANNEL_AUTH_INVALID",
            "LinkedIn refused the access token (expired or revoked)",
        ),
        403 => (
            FailureKind::Permanent,
            "PERMISSION_DENIED",
            "LinkedIn did not let this account post as this author (the posting permission, or a page administrator role, is missing); connect it again",
        ),
        429 => (
            FailureKind::Retryable,
            "RATE_LIMITED",
            "LinkedIn's rate limit was reached; retried later",
        ),
        _ => (
            FailureKind::Permanent,
            "PLATFORM_REFUSED",
            "LinkedIn refused the post",
        ),
    };
    let platform_code = match code {
        Some(code) => format!("{status} {code}"),
        None => status.to_string(),
    };
    let message = if theirs.is_empty() {
        format!("{reason} ({platform_code})")
    } else {
        format!("{reason}: {theirs} ({platform_code})")
    };
    Failure::new(kind, ours, message).platform(platform_code)
}

pub(super) fn unavailable(step: &str, reason: &str) -> Failure {
    Failure::retryable(
        "PLATFORM_UNAVAILABLE",
        format!("LinkedIn's {step} did not complete: {reason}"),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn commentary_escapes_little_text_but_keeps_hashtags() {
        assert_eq!(
            commentary("Launch (today) @team *new* #launch_day #2030 # alone ~x"),
            "Launch \\(today\\) \\@team \\*new\\* #launch_day #2030 \\# alone \\~x"
        );
        assert_eq!(
            commentary("a\\b|c{d}[e]<f>"),
            "a\\\\b\\|c\\{d\\}\\[e\\]\\<f\\>"
        );
    }

    #[test]
    fn refusals_say_what_linkedin_meant() {
        let duplicate = refusal(
            422,
            &json!({"status": 422, "message": "Content is a duplicate of urn:li:share:7141138937766391808",
                "errorDetails": {"inputErrors": [{"description": "Duplicate post is detected", "input": {}, "code": "DUPLICATE_POST"}]}}),
        );
        assert_eq!(duplicate.code, "DUPLICATE_POST");
        assert_eq!(duplicate.kind, FailureKind::Permanent);
        assert_eq!(
            duplicate.platform_code.as_deref(),
            Some("422 DUPLICATE_POST")
        );
        let expired = refusal(
            401,
            &json!({"status": 401, "serviceErrorCode": 65601, "code": "REVOKED_ACCESS_TOKEN", "message": "The token used in the request has been revoked by the user"}),
        );
        assert_eq!(expired.kind, FailureKind::Auth);
        assert_eq!(
            expired.platform_code.as_deref(),
            Some("401 REVOKED_ACCESS_TOKEN")
        );
        assert_eq!(refusal(429, &json!({})).kind, FailureKind::Retryable);
        assert_eq!(refusal(403, &json!({})).code, "PERMISSION_DENIED");
    }

    #[test]
    fn authors_are_member_or_page_urns() {
        assert!(valid_urn("urn:li:person:782bbtaQ"));
        assert!(valid_urn("urn:li:organization:2414183"));
        for bad in [
            "urn:li:person:",
            "li_456",
            "urn:li:company:1",
            "urn:li:person:a b",
        ] {
            assert!(!valid_urn(bad), "{bad}");
        }
    }
}
