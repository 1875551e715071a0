//! Edits that never overwrite a teammate's silently: a calendar's or an entry's version is
//! its `ETag` (`"<version>"`), and a `PATCH` carrying `If-Match` changes it only at that
//! version; at another, 412 `EDIT_CONFLICT` says what it is now, who changed it and when.
//! Without `If-Match` (the seed's clients) the last write wins, as before.

use almanac_shared::store::{calendars::Stamp, users};
use serde_json::{Map, Value, json};

use crate::{
    error::{ApiError, ErrorEnvelope},
    state::AppState,
};

/// The code of a `PATCH` whose `If-Match` names an older version.
pub const EDIT_CONFLICT: &str = "EDIT_CONFLICT";

/// The `ETag` of `version`.
pub fn etag(version: i64) -> String {
    format!("\"{version}\"")
}

/// Whether `If-Match` admits `version`: `*`, or a list holding its tag. A weak tag
/// (`W/"3"`) never does: `If-Match` compares strongly (RFC 9110, 13.1.1).
pub fn admits(header: &str, version: i64) -> bool {
    let tag = etag(version);
    header
        .split(',')
        .map(str::trim)
        .any(|given| given == "*" || given == tag)
}

/// 412 `EDIT_CONFLICT`: `what` (`"entry"`, `"calendar"`) changed since the version the
/// caller read; `details.current` is it as it is now, `changedBy` who changed it last
/// (`{userId, name, email}`) and `changedAt` when.
pub async fn conflict(state: &AppState, what: &str, stamp: Stamp, current: Value) -> ApiError {
    let changed = |who: &str| {
        format!(
            "this {what} was changed by {who} since you read it (it is now at version {}); \
             read it again, or send its current version as If-Match to replace their change",
            stamp.version
        )
    };
    conflict_with(state, changed, stamp, current, Map::new()).await
}

/// 412 `EDIT_CONFLICT` as [`conflict`] says it, the message made by `say` from who changed
/// it last (`stamp`), `more` added to the details.
pub async fn conflict_with(
    state: &AppState,
    say: impl FnOnce(&str) -> String,
    stamp: Stamp,
    current: Value,
    more: Map<String, Value>,
) -> ApiError {
    let (name, email) = users::shown_as(&state.pool, stamp.updated_by)
        .await
        .unwrap_or_default();
    let who = name
        .clone()
        .or(email.clone())
        .unwrap_or_else(|| "a teammate".into());
    let mut details = json!({
        "current": current,
        "changedBy": { "userId": stamp.updated_by, "name": name, "email": email },
        "changedAt": stamp.updated_at.to_rfc3339(),
    });
    if let Some(details) = details.as_object_mut() {
        details.extend(more);
    }
    ApiError::PreconditionFailed(ErrorEnvelope::new(EDIT_CONFLICT, say(&who), Some(details)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn if_match_compares_strongly() {
        assert!(admits("\"3\"", 3));
        assert!(admits("\"1\", \"3\"", 3));
        assert!(admits("*", 7));
        assert!(!admits("\"2\"", 3));
        assert!(!admits("W/\"3\"", 3));
        assert!(!admits("3", 3));
        assert!(!admits("", 3));
    }
}
