//! What Meta's Graph APIs (Instagram's, Threads', and Facebook's) share: their rate-limit
//! refusals (error codes 4, 17, 32 and 613) and how long their usage headers ask a caller to
//! wait (`docs/platforms.md`). A rate-limited publish is deferred to then, not failed.

use std::time::Duration;

use serde_json::Value;

use super::Failure;

/// The Graph API's rate-limit error codes: the app's (4), a user's (17), a page's (32), and
/// a call's own limit (613).
pub const RATE_LIMIT_CODES: [i64; 4] = [4, 17, 32, 613];

/// How long a rate limit is waited for when the usage headers do not say.
const WAIT_UNSAID: Duration = Duration::from_secs(15 * 60);

/// How long the usage headers (`X-Business-Use-Case-Usage`, `X-App-Usage`) ask to wait
/// (`estimated_time_to_regain_access`, minutes), when they say.
pub fn regain_after(headers: &reqwest::header::HeaderMap) -> Option<Duration> {
    ["x-business-use-case-usage", "x-app-usage"]
        .iter()
        .filter_map(|name| headers.get(*name)?.to_str().ok())
        .filter_map(|raw| serde_json::from_str::<Value>(raw).ok())
        .find_map(|usage| {
            let minutes = |v: &Value| v["estimated_time_to_regain_access"].as_u64();
            minutes(&usage).or_else(|| {
                usage
                    .as_object()?
                    .values()
                    .filter_map(Value::as_array)
                    .flatten()
                    .find_map(minutes)
            })
        })
        .map(|minutes| Duration::from_secs((minutes * 60).max(1)))
}

/// The refusal of a call `label`'s rate limit stopped (`platform_code` its code as the
/// intent keeps it, `theirs` the platform's words), deferred for `regain`, else a quarter
/// of an hour.
pub fn rate_limited(
    label: &str,
    platform_code: String,
    theirs: &str,
    regain: Option<Duration>,
) -> Failure {
    let reason = format!("{label}'s rate limit was reached; the post waits until it lifts");
    let message = match theirs.is_empty() {
        true => format!("{reason} ({platform_code})"),
        false => format!("{reason}: {theirs} ({platform_code})"),
    };
    Failure::retryable("RATE_LIMITED", message)
        .platform(platform_code)
        .deferred(regain.unwrap_or(WAIT_UNSAID))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_rate_limit_waits_for_what_the_usage_headers_say() {
        let mut headers = reqwest::header::HeaderMap::new();
        assert_eq!(regain_after(&headers), None);
        headers.insert(
            "x-business-use-case-usage",
            r#"{"1234":[{"type":"threads","call_count":100,"estimated_time_to_regain_access":7}]}"#
                .parse()
                .unwrap(),
        );
        assert_eq!(regain_after(&headers), Some(Duration::from_secs(420)));
        let limited = rate_limited("Threads", "613".into(), "", regain_after(&headers));
        assert_eq!(limited.retry_after, Some(Duration::from_secs(420)));
        assert_eq!(limited.code, "RATE_LIMITED");
        let unsaid = rate_limited(
            "Instagram",
            "4".into(),
            "Application request limit reached",
            None,
        );
        assert_eq!(unsaid.retry_after, Some(WAIT_UNSAID));
        assert!(
            unsaid
                .message
                .ends_with("Application request limit reached (4)")
        );
    }
}
