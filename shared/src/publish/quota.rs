//! Quotas Almanac counts itself: a catalogue `quota` whose `source` is `counted` (YouTube's
//! daily uploads) is a figure the platform does not report at run time, so the posts of its
//! platform that went out (or may have) within the window are counted from the ledger
//! (`publish_intents`). A post past the limit waits for the window to turn; it is never
//! failed for it. The count and the mark that a post is being sent are one transaction under
//! one lock per platform (`store::publish::run::IntentRun::mark_sending_within`), so two
//! workers never both take the last place.

use chrono::{DateTime, Days, TimeZone, Utc};

use super::{
    Adapter, Failure,
    catalogue::{Quota, QuotaScope, QuotaSource},
};

/// A counted quota's window around now: from `since`, turning at `until`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Window {
    pub since: DateTime<Utc>,
    pub until: DateTime<Utc>,
}

/// How long a post waits before a moving window is counted again.
const MOVING_RECHECK: chrono::Duration = chrono::Duration::hours(1);

/// The quota of `adapter` that Almanac counts, if it has one.
pub fn counted(adapter: &dyn Adapter) -> Option<Quota> {
    adapter
        .profile()
        .quota
        .filter(|quota| quota.source == QuotaSource::Counted)
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
    let whose = match quota.per {
        QuotaScope::App => format!(
            "the {} {label} posts this Almanac server may make a day are spent; the quota is shared by everyone who publishes through it",
            quota.limit
        ),
        QuotaScope::Account => format!(
            "the {} {label} posts this account may make in its window are spent",
            quota.limit
        ),
    };
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
            limit: 100,
            window_secs: 86_400,
            per: QuotaScope::App,
            source: QuotaSource::Counted,
            day_of: Some(chrono_tz::America::Los_Angeles),
        }
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
