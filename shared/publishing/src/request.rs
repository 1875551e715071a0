//! `POST /v1/calendars/{id}/publish`, shared by the API and the replay of requests spooled
//! while Postgres was down: the same validation (ownership included, through row-level
//! security) whoever runs it.
//!
//! Whole-request refusals (422, nothing written): the selection says nothing, an entry or
//! channel id is not the caller's, a platform's channel is missing (`CHANNEL_NOT_CONNECTED`),
//! ambiguous (`CHANNEL_AMBIGUOUS`) or refused (`CHANNEL_AUTH_INVALID`). A dry run is not
//! refused for a missing or ambiguous channel: it plans the other entries and lists those of
//! that channel in [`Outcome::refused`]. Everything else is per entry: one intent each,
//! `failed` with its reasons when the entry cannot go.

use std::collections::{BTreeMap, HashMap};

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use sqlx::{PgConnection, PgPool};
use uuid::Uuid;

use super::{
    Auth, Checked, Failure, FailureKind, IntentStatus, Mode, Options, Platform, Platforms, Post,
    Timing,
    channels::{self, Unusable, UsableError},
    post::Problem,
};
use almanac_shared::{
    crypto::TokenCipher,
    domain::calendar::CalendarSpec,
    flags::{Flag, Flags},
    jobs::NewJob,
    store::{
        calendars::{self, Publishable},
        publish::{self as store, Due, Intent, NewIntent, channels::Account},
        review as store_review,
    },
};

/// The request's body (also what the spool keeps).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PublishRequest {
    #[serde(default)]
    pub entry_ids: Option<Vec<Uuid>>,
    #[serde(default)]
    pub all: Option<bool>,
    /// Channel ids choosing among several accounts of one platform.
    #[serde(default)]
    pub channels: Option<Vec<Uuid>>,
    #[serde(default)]
    pub mode: Mode,
    #[serde(default = "dry_run_default")]
    pub dry_run: bool,
    #[serde(default)]
    pub when: Timing,
    #[serde(default)]
    pub privacy_level: Option<String>,
}

fn dry_run_default() -> bool {
    true
}

/// What runs a publish request.
pub struct Submit<'a> {
    pub platforms: &'a Platforms,
    /// `PUBLISH_SERVICE_ENABLED` as this process applies it: off for the request's user,
    /// the request is a dry run that asks no platform anything.
    pub flags: &'a Flags,
    /// None without `TOKEN_ENCRYPTION_KEY` (only possible with publishing off).
    pub cipher: Option<&'a TokenCipher>,
    /// The service-role pool, for token refreshes (ownership is checked first, as the user).
    pub pool: &'a PgPool,
    pub now: DateTime<Utc>,
    pub request_id: Option<String>,
    pub spool_id: Option<Uuid>,
}

/// The answer.
#[derive(Debug)]
pub struct Outcome {
    pub dry_run: bool,
    /// `PUBLISH_DISABLED` when the flag made it a dry run.
    pub reason: Option<&'static str>,
    /// One per entry, in the calendar's order (but those in `refused`).
    pub intents: Vec<Intent>,
    /// A dry run's entries whose channel has no account to plan with (none connected, or
    /// several and none chosen): no intent for them.
    pub refused: Vec<RefusedEntry>,
    /// Publish jobs to queue after commit (`when: "now"`).
    pub jobs: Vec<NewJob>,
}

/// The code of an entry its channel's review policy holds: it is not approved at the
/// content it has now. It gets no intent.
pub const REVIEW_REQUIRED: &str = "REVIEW_REQUIRED";

/// An entry a request leaves out, and why: a dry run's `CHANNEL_NOT_CONNECTED` or
/// `CHANNEL_AMBIGUOUS`, any request's `REVIEW_REQUIRED`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RefusedEntry {
    pub entry_id: Uuid,
    /// The entry's channel name.
    pub channel: String,
    pub code: &'static str,
}

/// Why the whole request was refused.
#[derive(Debug)]
pub enum Refusal {
    NotFound(&'static str),
    Unprocessable {
        code: &'static str,
        message: String,
        details: Option<Value>,
    },
    Store(sqlx::Error),
}

impl From<sqlx::Error> for Refusal {
    fn from(error: sqlx::Error) -> Self {
        Refusal::Store(error)
    }
}

impl Refusal {
    fn invalid(code: &'static str, message: impl Into<String>, details: Value) -> Self {
        Refusal::Unprocessable {
            code,
            message: message.into(),
            details: Some(details),
        }
    }

    /// `{code, message, details?}`, as a refused spooled request's intent records it.
    pub fn to_json(&self) -> Value {
        match self {
            Refusal::NotFound(what) => {
                json!({ "code": "NOT_FOUND", "message": format!("{what} not found") })
            }
            Refusal::Unprocessable {
                code,
                message,
                details,
            } => json!({ "code": code, "message": message, "details": details }),
            Refusal::Store(_) => {
                json!({ "code": "STORAGE_FAILED", "message": "the request could not be saved" })
            }
        }
    }

    /// The platform the refusal names, if any.
    pub fn channel(&self) -> Option<String> {
        match self {
            Refusal::Unprocessable {
                details: Some(details),
                ..
            } => details["channel"].as_str().map(str::to_owned),
            _ => None,
        }
    }
}

/// A platform's account for this request, and (dry runs with the flag on) what its
/// read-only checks said.
struct Target {
    account: Account,
    checked: Option<Result<Checked, Failure>>,
}

/// Runs the request as the user of `conn`'s transaction: reads what it names (refusing the
/// whole request when something is not the caller's), settles each platform's account,
/// plans each entry (no I/O: `Plan::entry`), then writes the intents and dispatches those
/// due now.
pub async fn submit(
    run: &Submit<'_>,
    conn: &mut PgConnection,
    user: Uuid,
    calendar_id: Uuid,
    request: &PublishRequest,
) -> Result<Outcome, Refusal> {
    let enabled = run.flags.enabled(Flag::PublishService, user);
    let dry_run = request.dry_run || !enabled;
    let selected = selection(request)?;
    let spec = calendars::request(&mut *conn, calendar_id).await?;
    let Some(spec) = spec else {
        return Err(Refusal::NotFound("calendar"));
    };
    let timezone = CalendarSpec::from_json(&spec)
        .map(|s| s.constraints.timezone)
        .unwrap_or(chrono_tz::UTC);
    let entries =
        calendars::publishable_entries(&mut *conn, calendar_id, selected.as_deref()).await?;
    if let Some(ids) = &selected {
        missing_entries(ids, &entries)?;
    }
    let accounts = store::channels::accounts(&mut *conn, &run.platforms.names()).await?;
    let chosen = request.channels.clone().unwrap_or_default();
    unknown_channels(&chosen, &accounts)?;
    let options = Options {
        mode: request.mode,
        privacy_level: request.privacy_level.clone(),
    };
    // Each platform the entries need: its one account, usable.
    let mut targets: HashMap<Platform, Target> = HashMap::new();
    // A dry run's platforms without an account to plan with, and why.
    let mut unplannable: HashMap<Platform, &'static str> = HashMap::new();
    for entry in &entries {
        let Some(platform) = run.platforms.of_channel(&entry.channel) else {
            continue;
        };
        if targets.contains_key(&platform) || unplannable.contains_key(&platform) {
            continue;
        }
        let account = match pick(run.platforms, &accounts, &chosen, platform) {
            Ok(account) => account,
            Err(Refusal::Unprocessable {
                code: code @ ("CHANNEL_NOT_CONNECTED" | "CHANNEL_AMBIGUOUS"),
                ..
            }) if dry_run => {
                unplannable.insert(platform, code);
                continue;
            }
            Err(refusal) => return Err(refusal),
        };
        let target = settle_target(run, conn, account, enabled, dry_run, &options, entry).await?;
        targets.insert(platform, target);
    }
    let accounts: Vec<Uuid> = targets.values().map(|t| t.account.id).collect();
    let reviewed = store_review::reviewed(&mut *conn, &accounts).await?;
    let mut plan = Plan {
        run,
        request,
        user,
        calendar_id,
        dry_run,
        reviewed,
        timezone: timezone.name(),
        options,
        targets,
        unplannable,
        quota: BTreeMap::new(),
    };
    let planned: Vec<Planned> = entries.iter().map(|entry| plan.entry(entry)).collect();
    let (intents, refused, jobs) = write_planned(conn, request, planned, &chosen).await?;
    for intent in &intents {
        run.platforms.count_outcome(&intent.channel, intent.status);
        tracing::info!(
            requestId = run.request_id.as_deref().unwrap_or(""),
            userId = %user,
            channel = %intent.channel,
            calendarId = %calendar_id,
            runId = intent.run_id.map(|r| r.to_string()).unwrap_or_default(),
            status = intent.status.as_str(),
            intentId = %intent.id,
            code = intent.error.as_ref().and_then(|e| e["code"].as_str()).unwrap_or(""),
            "publish intent recorded"
        );
    }
    Ok(Outcome {
        dry_run,
        reason: (!enabled).then_some("PUBLISH_DISABLED"),
        intents,
        refused,
        jobs,
    })
}

/// Writes what the request planned: each intent (a scheduled one once per entry and
/// channel, its entry naming the channel chosen in `chosen`), the entries it leaves out,
/// and the publish jobs of those asked for now.
async fn write_planned(
    conn: &mut PgConnection,
    request: &PublishRequest,
    planned: Vec<Planned>,
    chosen: &[Uuid],
) -> Result<(Vec<Intent>, Vec<RefusedEntry>, Vec<NewJob>), Refusal> {
    let mut intents = Vec::with_capacity(planned.len());
    let mut refused = Vec::new();
    let mut now_ids = Vec::new();
    for planned in planned {
        let new = match planned {
            Planned::Refused(entry) => {
                refused.push(entry);
                continue;
            }
            Planned::Intent(new) => *new,
        };
        if new.status == IntentStatus::Scheduled {
            if let (Some(entry), Some(account)) = (new.entry_id, new.account)
                && chosen.contains(&account)
            {
                calendars::choose_channel(conn, entry, account).await?;
            }
            let (intent, created) = store::insert_once(conn, &new).await?;
            if created && request.when == Timing::Now {
                now_ids.push(intent.id);
            }
            intents.push(intent);
        } else {
            intents.push(write(conn, &new).await?);
        }
    }
    let jobs = if now_ids.is_empty() {
        Vec::new()
    } else {
        store::dispatch(conn, Due::Ids(&now_ids), now_ids.len() as i64).await?
    };
    Ok((intents, refused, jobs))
}

/// The entries the request selects: `None` for all of them.
fn selection(request: &PublishRequest) -> Result<Option<Vec<Uuid>>, Refusal> {
    match (&request.entry_ids, request.all) {
        (Some(ids), None | Some(false)) if !ids.is_empty() => Ok(Some(ids.clone())),
        (None, Some(true)) => Ok(None),
        _ => Err(Refusal::Unprocessable {
            code: "VALIDATION_FAILED",
            message: "give either a non-empty `entryIds` or `all: true`".into(),
            details: None,
        }),
    }
}

/// Refuses entry ids that are not entries of the calendar.
pub(super) fn missing_entries(ids: &[Uuid], entries: &[Publishable]) -> Result<(), Refusal> {
    let missing: Vec<Uuid> = ids
        .iter()
        .filter(|id| !entries.iter().any(|e| e.id == **id))
        .copied()
        .collect();
    if missing.is_empty() {
        return Ok(());
    }
    Err(Refusal::invalid(
        "ENTRY_NOT_FOUND",
        format!(
            "{} of the entryIds are not entries of this calendar",
            missing.len()
        ),
        json!({ "entryIds": missing }),
    ))
}

/// Refuses chosen channels that are not the caller's.
pub(super) fn unknown_channels(chosen: &[Uuid], accounts: &[Account]) -> Result<(), Refusal> {
    let unknown: Vec<Uuid> = chosen
        .iter()
        .filter(|id| !accounts.iter().any(|a| a.id == **id))
        .copied()
        .collect();
    if unknown.is_empty() {
        return Ok(());
    }
    Err(Refusal::invalid(
        "CHANNEL_NOT_FOUND",
        "some of `channels` are not the caller's channels of a platform Almanac publishes to",
        json!({ "channelIds": unknown }),
    ))
}

/// What the request makes of one entry.
enum Planned {
    /// The intent to write: planned, or failed with its reasons.
    Intent(Box<NewIntent>),
    /// A dry run's entry whose channel has no account to plan with.
    Refused(RefusedEntry),
}

/// The request's planning, once the accounts are settled: pure, entry by entry.
struct Plan<'a> {
    run: &'a Submit<'a>,
    request: &'a PublishRequest,
    user: Uuid,
    calendar_id: Uuid,
    dry_run: bool,
    timezone: &'static str,
    options: Options,
    targets: HashMap<Platform, Target>,
    unplannable: HashMap<Platform, &'static str>,
    /// The accounts a policy asks review on: only an entry approved at its content now
    /// goes to them.
    reviewed: Vec<Uuid>,
    /// Each account's remaining daily quota (Instagram's), spent entry by entry.
    quota: BTreeMap<Uuid, i64>,
}

impl Plan<'_> {
    /// The intent of `entry` (no I/O): its post and the requests it would send, or why it
    /// cannot go (the platform's rules, a passed time, the read-only checks, the quota).
    fn entry(&mut self, entry: &Publishable) -> Planned {
        let (run, request) = (self.run, self.request);
        let mut new = NewIntent {
            user: self.user,
            calendar_id: self.calendar_id,
            entry_id: Some(entry.id),
            run_id: entry.run_id,
            channel: entry.channel.clone(),
            account: None,
            mode: request.mode,
            dry_run: self.dry_run,
            timing: request.when,
            publish_at: match request.when {
                Timing::Scheduled => Some(entry.scheduled_at),
                Timing::Now if self.dry_run => None,
                Timing::Now => Some(run.now),
            },
            timezone: self.timezone.to_owned(),
            status: IntentStatus::Failed,
            payload: json!({}),
            error: None,
            spool_id: run.spool_id,
            request_id: run.request_id.clone(),
            queued: false,
            evergreen_id: None,
        };
        let Some(platform) = run.platforms.of_channel(&entry.channel) else {
            new.error = Some(json!({
                "code": "UNSUPPORTED_CHANNEL",
                "message": format!("no adapter publishes to `{}`: export the calendar instead (ICS, CSV or JSON)", entry.channel),
                "retryable": false,
            }));
            return Planned::Intent(Box::new(new));
        };
        if let Some(code) = self.unplannable.get(&platform) {
            return Planned::Refused(RefusedEntry {
                entry_id: entry.id,
                channel: entry.channel.clone(),
                code,
            });
        }
        let target = &self.targets[&platform];
        if self.reviewed.contains(&target.account.id) && !entry.approved {
            return Planned::Refused(RefusedEntry {
                entry_id: entry.id,
                channel: entry.channel.clone(),
                code: REVIEW_REQUIRED,
            });
        }
        let adapter = run.platforms.registered(platform);
        new.account = Some(target.account.id);
        let post = super::uploads::post(entry, adapter, &run.platforms.media);
        let mut problems = adapter.problems(&post, &self.options);
        if post.first_comment.is_some()
            && adapter.profile().first_comment
            && let Some(missing) =
                super::comment_scope_missing(adapter, target.account.scope.as_deref())
        {
            problems.push(Problem::new(&missing.code, "firstComment", missing.message));
        }
        if request.when == Timing::Scheduled && entry.scheduled_at <= run.now {
            problems.push(Problem::new(
                "SCHEDULE_PASSED",
                "scheduledAt",
                "the entry's time has passed: move the entry, or publish it now",
            ));
        }
        let mut sent_options = self.options.clone();
        let mut failure: Option<Failure> = None;
        if problems.is_empty()
            && let Some(checked) = &target.checked
        {
            match checked {
                Ok(checked) => sent_options = checked.options.clone(),
                Err(refused) => failure = Some(refused.clone()),
            }
            if let Some(remaining) = target_quota(&mut self.quota, target) {
                if *remaining <= 0 {
                    failure.get_or_insert_with(|| adapter.quota_spent());
                }
                *remaining -= 1;
            }
        }
        new.payload = json!({
            "requests": adapter.plan(&target.account.account_id, &post, &sent_options),
            "options": sent_options,
            "post": post,
            "notes": super::uploads::notes(entry, adapter),
        });
        if !problems.is_empty() {
            let first = &problems[0];
            let message = if problems.len() == 1 {
                first.message.clone()
            } else {
                format!(
                    "{} (and {} more problems)",
                    first.message,
                    problems.len() - 1
                )
            };
            // Refused the same way until the entry changes.
            new.error = Some(
                json!({ "code": first.code, "message": message, "problems": problems, "retryable": false }),
            );
        } else if let Some(failure) = failure {
            new.error = Some(failure.to_json());
        } else if self.dry_run {
            new.status = IntentStatus::DryRun;
        } else {
            new.status = IntentStatus::Scheduled;
        }
        Planned::Intent(Box::new(new))
    }
}

/// A dry run replaces the entry and channel's previous one; a refused real one is kept.
async fn write(conn: &mut PgConnection, new: &NewIntent) -> sqlx::Result<Intent> {
    if new.dry_run {
        store::upsert_dry_run(conn, new).await
    } else {
        store::insert(conn, new).await
    }
}

fn target_quota<'a>(quota: &'a mut BTreeMap<Uuid, i64>, target: &Target) -> Option<&'a mut i64> {
    let remaining = target.checked.as_ref()?.as_ref().ok()?.remaining?;
    Some(quota.entry(target.account.id).or_insert(remaining))
}

/// The platform's one account: the chosen one, else the only connected one.
pub(super) fn pick(
    platforms: &Platforms,
    accounts: &[Account],
    chosen: &[Uuid],
    platform: Platform,
) -> Result<Account, Refusal> {
    let of_platform: Vec<&Account> = accounts.iter().filter(|a| a.platform == platform).collect();
    let picked: Vec<&Account> = of_platform
        .iter()
        .filter(|a| chosen.contains(&a.id))
        .copied()
        .collect();
    let candidates: Vec<&Account> = if picked.is_empty() {
        of_platform.into_iter().filter(|a| a.has_token).collect()
    } else {
        picked
    };
    match candidates.as_slice() {
        [one] => Ok((*one).clone()),
        [] => {
            super::auth_missing(Some(platform), "CHANNEL_NOT_CONNECTED");
            Err(Refusal::invalid(
                "CHANNEL_NOT_CONNECTED",
                Unusable::NotConnected.message(platform.as_str()),
                json!({ "channel": platform }),
            ))
        }
        several => Err(Refusal::invalid(
            "CHANNEL_AMBIGUOUS",
            format!(
                "{} {} channels are connected: choose one with `channels`",
                several.len(),
                platforms.label(platform)
            ),
            json!({ "channel": platform, "channelIds": several.iter().map(|a| a.id).collect::<Vec<_>>() }),
        )),
    }
}

/// The account's credentials checked (a refusal is the whole request's): as stored, and
/// with publishing on, as the platform takes them (refreshed when due, an expired
/// Instagram token marking the channel). A dry run with publishing on also runs the
/// platform's read-only checks.
async fn settle_target(
    run: &Submit<'_>,
    conn: &mut PgConnection,
    account: Account,
    enabled: bool,
    dry_run: bool,
    options: &Options,
    entry: &Publishable,
) -> Result<Target, Refusal> {
    let platform = account.platform;
    let refuse = |unusable: Unusable| {
        super::auth_missing(Some(platform), unusable.code());
        Refusal::invalid(
            unusable.code(),
            unusable.message(platform.as_str()),
            json!({ "channel": platform, "channelId": account.id }),
        )
    };
    let (true, Some(cipher)) = (enabled, run.cipher) else {
        // Publishing off: what the stored credentials say, without asking the platform.
        if let Err(unusable) = channels::local_state(conn, run.platforms, account.id).await? {
            return Err(refuse(unusable));
        }
        return Ok(Target {
            account,
            checked: None,
        });
    };
    let post = Post::of_entry(
        entry.id,
        &entry.title,
        &entry.caption,
        "",
        &[],
        &entry.format,
        None,
    );
    let adapter = run.platforms.registered(platform);
    let mut force = false;
    let checked = loop {
        let auth: Auth =
            match channels::usable(run.pool, run.platforms, cipher, account.id, run.now, force)
                .await
            {
                Ok(Ok(auth)) => auth,
                Ok(Err(unusable)) => return Err(refuse(unusable)),
                Err(UsableError::Database(error)) => return Err(Refusal::Store(error)),
                Err(UsableError::Platform(failure)) => break Err(failure),
            };
        if !dry_run {
            // A real publish checks with the platform when it runs.
            return Ok(Target {
                account,
                checked: None,
            });
        }
        let at = crate::Attempt {
            auth: &auth,
            post: &post,
            options,
        };
        match adapter.check(at).await {
            // The token was refused although it looked valid: one refresh, one more check.
            Err(failure) if failure.kind == FailureKind::Auth && !force => force = true,
            Err(failure) if failure.kind == FailureKind::Auth => {
                let mut service = run.pool.acquire().await?;
                channels::needs_reauth(&mut service, account.id, &failure.message).await?;
                return Err(refuse(Unusable::AuthInvalid(failure.message)));
            }
            other => break other,
        }
    };
    let checked = match checked {
        Ok(checked) => counted_quota(run, adapter, (account.id, options.mode), checked).await?,
        refused => refused,
    };
    Ok(Target {
        account,
        checked: Some(checked),
    })
}

/// A dry run's check of a platform whose quota Almanac counts (every user's posts counted,
/// outside the caller's row-level security): refused when its places are all taken now,
/// else the places left (which the request's entries take in turn).
async fn counted_quota(
    run: &Submit<'_>,
    adapter: &dyn super::Adapter,
    (account, mode): (Uuid, super::Mode),
    checked: Checked,
) -> sqlx::Result<Result<Checked, Failure>> {
    let Some(quota) = super::quota::counted(adapter, mode) else {
        return Ok(Ok(checked));
    };
    let window = super::quota::window(&quota, run.now);
    let mut conn = run.pool.acquire().await?;
    let channel = adapter.platform().as_str();
    let counting = super::quota::counting(&quota, channel, Some(account));
    let used = store::quota_used(&mut conn, &counting, window.since, None).await?;
    let left = i64::from(quota.limit) - used;
    if left <= 0 {
        return Ok(Err(super::quota::spent(
            adapter.label(),
            &quota,
            &window,
            run.now,
        )));
    }
    Ok(Ok(Checked {
        remaining: Some(checked.remaining.map_or(left, |r| r.min(left))),
        ..checked
    }))
}
