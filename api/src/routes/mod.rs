//! The HTTP resources, one module each.

pub mod admin;
pub mod analytics;
pub mod api_keys;
pub mod calendar_generation;
pub mod cards;
pub mod client_review;
pub mod comments;
pub mod generations;
pub mod health;
pub mod jobs;
pub mod me;
pub mod media;
pub mod notifications;
pub mod organic;
pub mod platforms;
pub mod posts;
pub mod publishing;
pub mod review;
pub mod saved_calendars;
pub mod schedules;
pub mod suggestions;
pub mod themes;
pub mod unsubscribe;
pub mod usage;
pub mod webhooks;
pub mod workspaces;

use poem_openapi::Tags;

#[derive(Tags)]
pub enum Tag {
    /// Flashcard generation from source text (seed 002).
    Generations,
    /// Content calendars (seed 000): generation with streaming, versioned runs,
    /// regeneration diffs, manual edits and export. Persistence: a calendar has versioned
    /// runs (`CalendarRun`: request, status, latency, tokens, model, error, diff counts),
    /// each holding the entries it generated; the calendar's saved entries
    /// (`CalendarEntry`) are the first run's, then whatever the user accepted, edited
    /// (flagged `edited`), added by hand or deleted (kept as a tombstone so that no
    /// regeneration brings it back); a regeneration's proposed changes
    /// (`CalendarChange`) wait for the user's accept.
    Calendars,
    /// News syntheses (seed 004): themes and sources, generated syntheses, per-theme
    /// schedules and their email deliveries.
    Syntheses,
    /// The organic week (seed 003): the brand library (brand profiles, linked platform
    /// accounts, trends/questions/events, creative assets), placement generation streamed
    /// as NDJSON, and the saved weeks.
    Organic,
    /// Publishing (seed 001): connected TikTok and Instagram channels (tokens encrypted at
    /// rest, never returned), and publish intents: dry run by default, then scheduled at
    /// the entry's time or now, published at most once, each with what happened to it.
    Publishing,
    /// Flashcards: manual ones and accepted suggestions.
    Cards,
    /// Webhooks: endpoints that receive the caller's events (jobs finished, publishes,
    /// channels needing attention), signed as the Standard Webhooks specification says; the
    /// secret is shown once, at creation and at each rotation.
    Webhooks,
    /// Personal API keys for scripts, CI jobs and agents: made with scopes (`read`,
    /// `write`, `publish`), shown once, revoked by deleting them. Managed with your own
    /// sign-in only.
    ApiKeys,
    /// Media: pictures and videos uploaded once (streamed to the media store), named by
    /// calendar entries (`mediaIds`) and fetched by the platforms from signed addresses.
    Media,
    /// The job ledger: the status of any background job.
    Jobs,
    /// The caller's AI usage: tokens and cost by day and kind, and the daily token budget
    /// (`AI_WORKSPACE_DAILY_TOKENS`; a spent budget answers 429 `BUDGET_EXCEEDED` to every
    /// submission until the next UTC midnight).
    Usage,
    /// What worked: published posts' numbers read back from their platforms (1 hour, 24
    /// hours and 7 days after publishing, and on demand), each channel's totals against
    /// the period before, and its best times to post, learned from its own posts.
    Analytics,
    /// The caller's account: the address they sign in to the web app with (proven by a used
    /// sign-in link or a verified single sign-on email), their name, language and time
    /// zone.
    Account,
    /// Workspaces: a team's shared calendars, channels, keys and limits. Every person has a
    /// personal workspace (its id is theirs); team workspaces have members with roles
    /// (`owner`, `admin`, `editor`, `viewer`; each operation names the one it needs in
    /// `x-almanac-role`) and take people in by emailed invitation. Lists and creations act
    /// in the workspace `Almanac-Workspace` names, else the personal one; an operation on
    /// one resource, in the resource's.
    Workspaces,
    /// Review before publishing: a channel's or the workspace's policy (`none`, or
    /// `always` with up to three steps of approvers), an entry's review asked for by an
    /// editor and decided step by step, and the gate: with review on, only an entry
    /// approved at the content it publishes goes out. Clients review through a secret link
    /// without an account (`/review/{token}`); members comment beside an entry.
    Review,
    /// Liveness and readiness.
    Operations,
    /// The operator's runtime feature flags (seed 001): `CALENDAR_SERVICE_ENABLED` and
    /// `PUBLISH_SERVICE_ENABLED` on, off, or on for listed users, with their history. A
    /// `service_role` JWT or `ADMIN_TOKEN`.
    Admin,
}

pub const DEFAULT_PAGE: u32 = 20;
pub const MAX_PAGE: u32 = 100;

pub fn clamp_limit(limit: Option<u32>) -> u32 {
    limit.unwrap_or(DEFAULT_PAGE).clamp(1, MAX_PAGE)
}

/// Keyset pagination: `rows` were fetched with `limit + 1`; returns the page and the
/// cursor of the next one.
pub fn paginate<T, K>(mut rows: Vec<T>, limit: u32, key: impl Fn(&T) -> K) -> (Vec<T>, Option<K>) {
    let next = if rows.len() > limit as usize {
        rows.truncate(limit as usize);
        rows.last().map(key)
    } else {
        None
    };
    (rows, next)
}
