//! Quotas Almanac counts itself: a catalogue `quota` whose `source` is `counted` (YouTube's
//! daily uploads) is a figure the platform does not report at run time, so the posts of its
//! platform that went out (or may have) within the window are counted from the ledger
//! (`publish_intents`). A post past the limit waits for the window to turn; it is never
//! failed for it. The count and the mark that a post is being sent are one transaction under
//! one lock per platform (`store::publish::run::IntentRun::mark_sending_within`), so two
//! workers never both take the last place.

use chrono::{DateTime, Days, TimeZone, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::{
    Adapter, Failure, Mode,
    catalogue::{Quota, QuotaCounts, QuotaScope, QuotaSource},
};
use almanac_shared::store::publish::Counting;

/// A counted quota's window around now: from `since`, turning at `until`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Window {
    pub since: DateTime<Utc>,
    pub until: DateTime<Utc>,
}

/// How long a post waits before a moving window is counted again.
const MOVING_RECHECK: chrono::Duration = chrono::Duration::hours(1);

/// The quota of `adapter` that Almanac counts for a post in `mode`, if it has one (a quota
/// of drafts counts drafts only).
pub fn counted(adapter: &dyn Adapter, mode: Mode) -> Option<Quota> {
    adapter.profile().quota.filter(|quota| {
        quota.source == QuotaSource::Counted
            && (quota.counts == QuotaCounts::Posts || mode == Mode::Draft)
    })
}

/// Whose posts `quota` counts for a post of `account` on `channel` (the platform).
pub fn counting<'a>(quota: &Quota, channel: &'a str, account: Option<Uuid>) -> Counting<'a> {
    Counting {
        channel,
        account: account.filter(|_| quota.per == QuotaScope::Account),
        drafts: quota.counts == QuotaCounts::Drafts,
    }
}

/// Why a post cannot go when it is due: the quota it would exceed, in words, and when a
/// place frees.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Problem {
    pub code: String,
    pub message: String,
    pub frees_at: Option<DateTime<Utc>>,
}

/// A counted quota's posts, sent and scheduled, among which new ones are placed.
#[derive(Debug, Clone)]
pub struct Forecast {
    quota: Quota,
    label: &'static str,
    times: Vec<DateTime<Utc>>,
}

impl Forecast {
    pub fn new(quota: Quota, label: &'static str, mut times: Vec<DateTime<Utc>>) -> Self {
        times.sort();
        Self {
            quota,
            label,
            times,
        }
    }

    /// From when the posts counted with one at `at` are.
    pub fn since(quota: &Quota, at: DateTime<Utc>) -> DateTime<Utc> {
        match quota.day_of {
            Some(_) => window(quota, at).since,
            None => at - chrono::Duration::seconds(i64::from(quota.window_secs)),
        }
    }

    /// The counted posts in the window of a post at `at`.
    fn counted_with(&self, at: DateTime<Utc>) -> Vec<DateTime<Utc>> {
        let since = Self::since(&self.quota, at);
        let until = match self.quota.day_of {
            Some(_) => window(&self.quota, at).until,
            None => at + chrono::Duration::nanoseconds(1),
        };
        self.times
            .iter()
            .copied()
            .filter(|t| *t >= since && *t < until)
            .collect()
    }

    /// Takes a place at `at` when there is one; whether it did.
    pub fn take(&mut self, at: DateTime<Utc>) -> bool {
        if self.counted_with(at).len() >= self.quota.limit as usize {
            return false;
        }
        let place = self.times.partition_point(|t| *t <= at);
        self.times.insert(place, at);
        true
    }

    /// Why a post at `at` (already among the times) would exceed the quota, if it would:
    /// those before it in its window fill it.
    pub fn problem(&self, at: DateTime<Utc>) -> Option<Problem> {
        let before: Vec<DateTime<Utc>> = self
            .counted_with(at)
            .into_iter()
            .filter(|t| *t < at)
            .collect();
        let limit = self.quota.limit as usize;
        if before.len() < limit {
            return None;
        }
        let frees_at = match self.quota.day_of {
            Some(_) => window(&self.quota, at).until,
            None => {
                before[before.len() - limit]
                    + chrono::Duration::seconds(i64::from(self.quota.window_secs))
            }
        };
        Some(Problem {
            code: "QUOTA_FULL".into(),
            message: format!(
                "{}: it waits until a place frees",
                full(self.label, &self.quota)
            ),
            frees_at: Some(frees_at),
        })
    }
}

/// Which quota is full, in words.
pub fn full(label: &str, quota: &Quota) -> String {
    let limit = quota.limit;
    match (quota.counts, quota.per) {
        (QuotaCounts::Drafts, _) => format!(
            "{label} holds at most {limit} drafts sent to the account's inbox in 24 hours and not yet posted, and {limit} are there"
        ),
        (QuotaCounts::Posts, QuotaScope::App) => format!(
            "the {limit} {label} posts this Almanac server may make a day are spent; the quota is shared by everyone who publishes through it"
        ),
        (QuotaCounts::Posts, QuotaScope::Account) => {
            format!("the {limit} {label} posts this account may make a day are taken")
        }
    }
}

/// The window `quota` counts at `now`: its zone's calendar day, or the moving
/// `window_secs` before now (counted again after [`MOVING_RECHECK`]).
pub fn window(quota: &Quota, now: DateTime<Utc>) -> Window {
    let Some(zone) = quota.day_of else {
        return Window {
            since: now - chrono::Duration::seconds(i64::from(quota.window_secs)),
            until: now + MOVING_RECHECK,
        };
    };
    let today = now.with_timezone(&zone).date_naive();
    let midnight = |day: chrono::NaiveDate| {
        zone.from_local_datetime(&day.and_hms_opt(0, 0, 0).expect("midnight exists"))
            .earliest()
            .map_or(now, |at| at.with_timezone(&Utc))
    };
    let tomorrow = today.checked_add_days(Days::new(1)).unwrap_or(today);
    Window {
        since: midnight(today),
        until: midnight(tomorrow),
    }
}

/// The refusal of a post past `quota` on the platform called `label`: it waits until the
/// window turns (`window.until`), and says whose quota it is.
pub fn spent(label: &str, quota: &Quota, window: &Window, now: DateTime<Utc>) -> Failure {
    let whose = full(label, quota);
    let wait = (window.until - now).to_std().unwrap_or_default();
    let when = match quota.day_of {
        Some(zone) => format!("midnight {} time", zone.name()),
        None => "a place is free".to_owned(),
    };
    Failure::retryable(
        "DAILY_QUOTA_EXHAUSTED",
        format!("{whose}: this post waits until {when}"),
    )
    .deferred(wait.max(std::time::Duration::from_secs(1)))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pacific() -> Quota {
        Quota {
            per: QuotaScope::App,
            ..Quota::counted_daily(100)
        }
        .by_day_of(chrono_tz::America::Los_Angeles)
    }

    #[test]
    fn a_pacific_day_turns_at_its_midnight_whatever_the_season() {
        // 07:30 UTC on a winter day is still the day before in Los Angeles (UTC-8).
        let winter = window(&pacific(), "2030-01-07T07:30:00Z".parse().unwrap());
        assert_eq!(
            winter.since,
            "2030-01-06T08:00:00Z".parse::<DateTime<Utc>>().unwrap()
        );
        assert_eq!(
            winter.until,
            "2030-01-07T08:00:00Z".parse::<DateTime<Utc>>().unwrap()
        );
        // In summer (UTC-7) midnight is at 07:00 UTC.
        let summer = window(&pacific(), "2030-07-07T07:30:00Z".parse().unwrap());
        assert_eq!(
            summer.since,
            "2030-07-07T07:00:00Z".parse::<DateTime<Utc>>().unwrap()
        );
        // The day clocks go forward is 23 hours long.
        let spring = window(&pacific(), "2030-03-10T12:00:00Z".parse().unwrap());
        assert_eq!(spring.until - spring.since, chrono::Duration::hours(23));
    }

    #[test]
    fn a_spent_shared_quota_says_so_and_waits_for_midnight() {
        let now: DateTime<Utc> = "2030-01-07T20:00:00Z".parse().unwrap();
        let quota = pacific();
        let failure = spent("YouTube", &quota, &window(&quota, now), now);
        assert_eq!(failure.code, "DAILY_QUOTA_EXHAUSTED");
        assert_eq!(
            failure.message,
            "the 100 YouTube posts this Almanac server may make a day are spent; the quota is shared by everyone who publishes through it: this post waits until midnight America/Los_Angeles time"
        );
        assert_eq!(
            failure.retry_after,
            Some(std::time::Duration::from_secs(12 * 3600))
        );
    }
}
