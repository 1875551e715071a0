//! Which [`Role`] each user operation needs in the workspace it acts in, by method and route
//! template: the one rule both the OpenAPI document (`x-almanac-role`, written by
//! `crate::contract`) and the check (`crate::middleware::workspace`, reading the document
//! through the route table) follow:
//!
//! - `viewer`: every `GET` or `HEAD`, making a workspace, accepting an invitation, a
//!   person's own account (`PATCH /v1/me`: their language and time zone) and a decision on
//!   an entry's review (its step names who may decide);
//! - `owner`: renaming or deleting a workspace;
//! - `admin`: every other operation on the workspace's members, invitations and review
//!   policy, its channels (connecting, credentials, slots, review policy, disconnecting),
//!   webhooks, calendar feeds and API keys;
//! - `editor`: every other operation (creating, editing, generating, scheduling and
//!   publishing).

use almanac_shared::workspaces::Role;

/// The extension of the OpenAPI document naming the role an operation needs.
pub const ROLE_EXTENSION: &str = "x-almanac-role";

/// The code of a request whose person's role in the workspace is short of the operation's.
pub const ROLE_REQUIRED: &str = "ROLE_REQUIRED";

/// 403 `ROLE_REQUIRED`: the role the member holds and the one the operation needs
/// (`details.role`).
pub fn role_required(needed: Role, held: Role) -> crate::error::ApiError {
    crate::error::ApiError::forbidden(
        ROLE_REQUIRED,
        format!(
            "your role in this workspace ({}) does not allow this: it needs {} or above",
            held.as_str(),
            needed.as_str()
        ),
        Some(serde_json::json!({ "role": needed.as_str() })),
    )
}

/// Where a workspace's members and invitations are managed.
pub const WORKSPACES: &str = "/v1/workspaces";

/// Accepting an invitation: `POST /v1/invitations/{token}/accept`.
pub const INVITATIONS: &str = "/v1/invitations";

/// The person's own account, whatever workspace the app acts in.
pub const ME: &str = "/v1/me";

/// The families whose every write is an admin's.
const ADMINS: [&str; 2] = ["/v1/webhooks", "/v1/api-keys"];

/// The role the operation `method` `template` needs.
pub fn role_for(method: &str, template: &str) -> Role {
    let under = |family: &str| {
        template
            .strip_prefix(family)
            .is_some_and(|rest| rest.is_empty() || rest.starts_with('/'))
    };
    let segments: Vec<&str> = template.trim_matches('/').split('/').collect();
    if method.eq_ignore_ascii_case("GET") || method.eq_ignore_ascii_case("HEAD") {
        return Role::Viewer;
    }
    // An approver may hold any role: the review's step names who decides
    // (`crate::routes::review`).
    if template == WORKSPACES
        || template == ME
        || under(INVITATIONS)
        || under(NOTIFICATIONS)
        || is_decision(template)
        || is_comment(template)
    {
        return Role::Viewer;
    }
    if under(WORKSPACES) {
        return match segments.get(3) {
            None => Role::Owner,
            Some(_) => Role::Admin,
        };
    }
    let channel_write = under("/v1/channels")
        && !template.ends_with("/retry-failed")
        && !template.ends_with("/best-times");
    let feed = segments.len() == 4 && segments[1] == "calendars" && segments[3] == "feed";
    if ADMINS.iter().any(|family| under(family)) || channel_write || feed {
        Role::Admin
    } else {
        Role::Editor
    }
}

/// A decision on an entry's review: a person's, whatever their role (the step names its
/// approvers), never a key's.
/// A person's notifications (`/v1/notifications`): theirs, whatever their role.
pub const NOTIFICATIONS: &str = "/v1/notifications";

/// Writing on an entry's comments: any member may comment (a viewer too); each changes
/// only their own (the route checks).
fn is_comment(template: &str) -> bool {
    let template = template.trim_end_matches('/');
    template.ends_with("/comments") || template.ends_with("/comments/{comment_id}")
}

fn is_decision(path: &str) -> bool {
    path.trim_end_matches('/').ends_with("/review/decisions")
}

/// Whether an API key is refused (401) on `method` `path` whatever its scopes: managing
/// members, invitations and roles, making or deleting a workspace, so a leaked key can never
/// let someone in; reading the workspace's activity, which names every key; and deciding on
/// an entry's review, which only a person does.
pub fn refuses_keys(method: &str, path: &str) -> bool {
    let segments: Vec<&str> = path.trim_end_matches('/').split('/').collect();
    let in_workspaces = segments.get(1..3) == Some(&["v1", "workspaces"][..]);
    let in_invitations = segments.get(1..3) == Some(&["v1", "invitations"][..]);
    let notifications = segments.get(1..3) == Some(&["v1", "notifications"][..]);
    in_invitations
        || notifications
        || is_decision(path)
        || (in_workspaces
            && match segments.len() {
                3 => method.eq_ignore_ascii_case("POST"),
                4 => method.eq_ignore_ascii_case("DELETE"),
                _ => matches!(segments[4], "members" | "invitations" | "activity"),
            })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn viewers_read_editors_write_admins_manage_owners_own() {
        let cases = [
            ("GET", "/v1/calendars/{id}", Role::Viewer),
            ("GET", "/v1/workspaces/{id}/members", Role::Viewer),
            ("POST", "/v1/workspaces", Role::Viewer),
            ("POST", "/v1/invitations/{token}/accept", Role::Viewer),
            ("PATCH", "/v1/me", Role::Viewer),
            (
                "POST",
                "/v1/calendars/{id}/entries/{entry_id}/review/decisions",
                Role::Viewer,
            ),
            (
                "POST",
                "/v1/calendars/{id}/entries/{entry_id}/review",
                Role::Editor,
            ),
            ("PUT", "/v1/channels/{id}/review", Role::Admin),
            (
                "POST",
                "/v1/calendars/{id}/entries/{entry_id}/comments",
                Role::Viewer,
            ),
            (
                "PATCH",
                "/v1/calendars/{id}/entries/{entry_id}/comments/{comment_id}",
                Role::Viewer,
            ),
            ("POST", "/v1/notifications/read", Role::Viewer),
            ("POST", "/v1/calendars/{id}/review-links", Role::Editor),
            (
                "DELETE",
                "/v1/calendars/{id}/review-links/{link_id}",
                Role::Editor,
            ),
            ("PUT", "/v1/workspaces/{id}/review", Role::Admin),
            (
                "PATCH",
                "/v1/calendars/{id}/entries/{entry_id}",
                Role::Editor,
            ),
            ("POST", "/v1/calendars/{id}/publish", Role::Editor),
            ("POST", "/v1/queue", Role::Editor),
            ("POST", "/v1/channels/{id}/retry-failed", Role::Editor),
            ("PUT", "/v1/channels/{id}/slots", Role::Admin),
            ("POST", "/v1/channels/{platform}/connect", Role::Admin),
            ("DELETE", "/v1/channels/{id}", Role::Admin),
            ("POST", "/v1/webhooks", Role::Admin),
            ("POST", "/v1/api-keys", Role::Admin),
            ("PUT", "/v1/calendars/{id}/feed", Role::Admin),
            ("POST", "/v1/workspaces/{id}/invitations", Role::Admin),
            ("PATCH", "/v1/workspaces/{id}/members/{userId}", Role::Admin),
            ("PATCH", "/v1/workspaces/{id}", Role::Owner),
            ("DELETE", "/v1/workspaces/{id}", Role::Owner),
        ];
        for (method, template, role) in cases {
            assert_eq!(role_for(method, template), role, "{method} {template}");
        }
    }

    #[test]
    fn keys_never_let_anyone_in() {
        for (method, path) in [
            ("POST", "/v1/workspaces"),
            (
                "DELETE",
                "/v1/workspaces/0191f0f0-0000-7000-8000-000000000000",
            ),
            (
                "GET",
                "/v1/workspaces/0191f0f0-0000-7000-8000-000000000000/members",
            ),
            (
                "POST",
                "/v1/workspaces/0191f0f0-0000-7000-8000-000000000000/invitations",
            ),
            ("POST", "/v1/invitations/abc/accept"),
            ("GET", "/v1/notifications"),
            ("POST", "/v1/notifications/read"),
            (
                "POST",
                "/v1/calendars/0191f0f0-0000-7000-8000-000000000000/entries/0191f0f0-0000-7000-8000-000000000001/review/decisions",
            ),
        ] {
            assert!(refuses_keys(method, path), "{method} {path}");
        }
        for (method, path) in [
            ("GET", "/v1/workspaces"),
            (
                "PATCH",
                "/v1/workspaces/0191f0f0-0000-7000-8000-000000000000",
            ),
            ("GET", "/v1/calendars"),
            ("DELETE", "/v1/workspacesx/1"),
        ] {
            assert!(!refuses_keys(method, path), "{method} {path}");
        }
    }
}
