//! Which [`Scope`] an API key needs for each user operation, by method and route template,
//! the one rule both the OpenAPI document (`x-almanac-scope`, written by
//! `crate::contract`) and the key's check (`crate::middleware::keys`, reading the document
//! through the route table) follow:
//!
//! - `read`: every `GET` or `HEAD`;
//! - `publish`: every other operation on channels (`/v1/channels` and below), publish
//!   intents, the posting queue and evergreen posts, and `POST /v1/calendars/{id}/publish`
//!   (a dry run included);
//! - `write`: every other operation.
//!
//! Keys are refused (401) on `/v1/api-keys` (a key cannot manage keys), `/app/*` (nor open a
//! browser session) and `/admin/*`.

use almanac_shared::api_keys::Scope;

/// The extension of the OpenAPI document naming the scope an operation needs of a key.
pub const SCOPE_EXTENSION: &str = "x-almanac-scope";

/// The families whose every write is a `publish`.
const PUBLISHING: [&str; 4] = [
    "/v1/channels",
    "/v1/publish-intents",
    "/v1/queue",
    "/v1/evergreen",
];

/// The scope the operation `method` `template` needs of a key.
pub fn scope_for(method: &str, template: &str) -> Scope {
    if method.eq_ignore_ascii_case("GET") || method.eq_ignore_ascii_case("HEAD") {
        return Scope::Read;
    }
    let in_family = |family: &str| {
        template
            .strip_prefix(family)
            .is_some_and(|rest| rest.is_empty() || rest.starts_with('/'))
    };
    let publishes_a_calendar = template.starts_with("/v1/calendars/")
        && template.ends_with("/publish")
        && template.matches('/').count() == 4;
    if PUBLISHING.iter().any(|family| in_family(family)) || publishes_a_calendar {
        Scope::Publish
    } else {
        Scope::Write
    }
}

/// The operations that take a person's own credentials only: managing keys.
pub const KEYS_PATH: &str = "/v1/api-keys";

/// Whether a request to `path` is refused when it carries an API key, whatever the key.
pub fn refuses_keys(path: &str) -> bool {
    let under = |root: &str| {
        path.strip_prefix(root)
            .is_some_and(|rest| rest.is_empty() || rest.starts_with('/'))
    };
    under(KEYS_PATH) || under("/app") || under("/admin")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_publishes_and_writes() {
        let cases = [
            ("GET", "/v1/calendars/{id}", Scope::Read),
            ("HEAD", "/v1/channels", Scope::Read),
            ("GET", "/v1/publish-intents/{id}", Scope::Read),
            ("POST", "/v1/channels", Scope::Publish),
            ("POST", "/v1/channels/{platform}/connect", Scope::Publish),
            ("DELETE", "/v1/channels/{id}", Scope::Publish),
            ("POST", "/v1/publish-intents/{id}/retry", Scope::Publish),
            ("POST", "/v1/queue", Scope::Publish),
            ("PATCH", "/v1/evergreen/{id}", Scope::Publish),
            ("POST", "/v1/calendars/{id}/publish", Scope::Publish),
            ("POST", "/v1/calendars/{id}/entries", Scope::Write),
            (
                "PATCH",
                "/v1/calendars/{id}/entries/{entry_id}",
                Scope::Write,
            ),
            ("POST", "/v1/channelsx", Scope::Write),
            ("POST", "/v1/ai/calendar", Scope::Write),
            ("DELETE", "/api/cards/{id}", Scope::Write),
            ("POST", "/v1/jobs/{id}/cancel", Scope::Write),
        ];
        for (method, template, scope) in cases {
            assert_eq!(scope_for(method, template), scope, "{method} {template}");
        }
    }

    #[test]
    fn keys_never_reach_keys_the_app_or_admin() {
        for path in [
            "/v1/api-keys",
            "/v1/api-keys/0191f0f0-0000-7000-8000-000000000000",
            "/app",
            "/app/",
            "/app/session",
            "/app/config.json",
            "/admin/flags",
        ] {
            assert!(refuses_keys(path), "{path}");
        }
        for path in [
            "/v1/api-keysx",
            "/application",
            "/v1/calendars",
            "/administer",
        ] {
            assert!(!refuses_keys(path), "{path}");
        }
    }
}
