//! The slot grid: publishing dates by cadence x channels x posts per day, each slot with a
//! key that is the same every time the same request is planned, so a regeneration matches
//! its entries to the saved ones and never duplicates them.

use chrono::{DateTime, Datelike, Days, Months, NaiveDate, NaiveTime, TimeZone, Utc};
use serde::{Deserialize, Serialize};

use super::{Cadence, CalendarSpec};

/// One place in the calendar that an entry fills.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Slot {
    /// `YYYY-MM-DD/<channel>/<n>`: the date, the channel and the post's number that day.
    pub key: String,
    pub channel: String,
    /// The local date and time, in the calendar's time zone.
    pub date: NaiveDate,
    pub time: NaiveTime,
    pub scheduled_at: DateTime<Utc>,
}

/// The key of post `n` (from 1) on `date` in `channel`.
pub fn slot_key(date: NaiveDate, channel: &str, n: usize) -> String {
    format!("{date}/{channel}/{n}")
}

impl CalendarSpec {
    /// The days with posts, in order.
    pub fn publishing_dates(&self) -> Vec<NaiveDate> {
        let weekday_ok = |d: &NaiveDate| {
            self.constraints
                .weekdays
                .as_ref()
                .is_none_or(|days| days.contains(&d.weekday()))
        };
        let every_day = || self.start.iter_days().take_while(|d| *d <= self.end);
        let dates: Vec<NaiveDate> = match self.cadence {
            Cadence::Daily => every_day().filter(weekday_ok).collect(),
            Cadence::Weekly if self.constraints.weekdays.is_some() => {
                every_day().filter(weekday_ok).collect()
            }
            Cadence::Weekly => (0..)
                .map_while(|week| self.start.checked_add_days(Days::new(7 * week)))
                .take_while(|d| *d <= self.end)
                .collect(),
            Cadence::Monthly => {
                let first = self.start.with_day(1).expect("day 1 exists");
                (0..)
                    .map_while(|m| first.checked_add_months(Months::new(m)))
                    .take_while(|month| *month <= self.end)
                    .map(|month| {
                        let last = month
                            .checked_add_months(Months::new(1))
                            .and_then(|next| next.pred_opt())
                            .map_or(31, |d| d.day());
                        month
                            .with_day(self.start.day().min(last))
                            .expect("clamped to the month")
                    })
                    .filter(|d| *d >= self.start && *d <= self.end)
                    .collect()
            }
        };
        dates
            .into_iter()
            .filter(|d| !self.constraints.excluded_dates.contains(d))
            .collect()
    }

    pub fn slot_count(&self) -> usize {
        self.publishing_dates().len() * self.channels.len() * self.constraints.posts_per_day
    }

    /// Every slot, by date, then post of the day, then channel in the request's order.
    pub fn slots(&self) -> Vec<Slot> {
        let c = &self.constraints;
        let mut slots = Vec::with_capacity(self.slot_count());
        for date in self.publishing_dates() {
            for post in 0..c.posts_per_day {
                let planned = c.times_of_day[post % c.times_of_day.len()];
                for channel in &self.channels {
                    let time = self
                        .learned_time(channel.as_str(), date, post)
                        .unwrap_or(planned);
                    let scheduled_at = to_utc(c.timezone, date, time);
                    slots.push(Slot {
                        key: slot_key(date, channel.as_str(), post + 1),
                        channel: channel.as_str().to_owned(),
                        date,
                        time,
                        scheduled_at,
                    });
                }
            }
        }
        slots
    }
}

impl CalendarSpec {
    /// Post `post` (from 0) of `channel` on `date` at the channel's learned best times,
    /// when it has them for that weekday.
    fn learned_time(&self, channel: &str, date: NaiveDate, post: usize) -> Option<NaiveTime> {
        let times = &self.learned.get(channel)?[date.weekday().num_days_from_monday() as usize];
        (!times.is_empty()).then(|| times[post % times.len()])
    }
}

/// A local date and time in `tz` as UTC. A time that a daylight-saving change skips is
/// taken an hour later; one it repeats, at its first occurrence.
pub fn to_utc(tz: chrono_tz::Tz, date: NaiveDate, time: NaiveTime) -> DateTime<Utc> {
    let local = date.and_time(time);
    tz.from_local_datetime(&local)
        .earliest()
        .or_else(|| {
            tz.from_local_datetime(&(local + chrono::Duration::hours(1)))
                .earliest()
        })
        .map_or_else(|| local.and_utc(), |t| t.with_timezone(&Utc))
}

#[cfg(test)]
mod tests {
    use std::collections::HashSet;

    use super::*;
    use proptest::prelude::*;
    use serde_json::json;

    fn spec(
        cadence: &str,
        channels: &[&str],
        start: &str,
        end: &str,
        c: serde_json::Value,
    ) -> CalendarSpec {
        let channels: Vec<String> = channels.iter().map(|c| c.to_string()).collect();
        CalendarSpec::parse(&channels, cadence, start, end, Some(&c)).unwrap()
    }

    #[test]
    fn cadences_pick_their_dates() {
        let daily = spec("daily", &["a"], "2026-01-01", "2026-01-30", json!({}));
        assert_eq!(daily.publishing_dates().len(), 30);
        let weekly = spec("weekly", &["a"], "2026-01-01", "2026-01-31", json!({}));
        let days: Vec<u32> = weekly.publishing_dates().iter().map(|d| d.day()).collect();
        assert_eq!(days, [1, 8, 15, 22, 29]);
        let monthly = spec("monthly", &["a"], "2026-01-31", "2026-05-30", json!({}));
        let dates: Vec<String> = monthly
            .publishing_dates()
            .iter()
            .map(|d| d.to_string())
            .collect();
        assert_eq!(
            dates,
            ["2026-01-31", "2026-02-28", "2026-03-31", "2026-04-30"]
        );
        let weekdays = spec(
            "weekly",
            &["a"],
            "2026-01-01",
            "2026-01-14",
            json!({ "weekdays": ["mon", "fri"] }),
        );
        let dates: Vec<String> = weekdays
            .publishing_dates()
            .iter()
            .map(|d| d.to_string())
            .collect();
        assert_eq!(
            dates,
            ["2026-01-02", "2026-01-05", "2026-01-09", "2026-01-12"]
        );
        let excluded = spec(
            "daily",
            &["a"],
            "2026-01-01",
            "2026-01-03",
            json!({ "excludedDates": ["2026-01-02"] }),
        );
        assert_eq!(excluded.publishing_dates().len(), 2);
    }

    #[test]
    fn times_follow_the_time_zone() {
        let s = spec(
            "daily",
            &["tiktok", "instagram"],
            "2026-07-01",
            "2026-07-01",
            json!({ "timesOfDay": ["18:00", "09:30"], "timezone": "Europe/Paris" }),
        );
        let slots = s.slots();
        let keys: Vec<&str> = slots.iter().map(|s| s.key.as_str()).collect();
        assert_eq!(
            keys,
            [
                "2026-07-01/tiktok/1",
                "2026-07-01/instagram/1",
                "2026-07-01/tiktok/2",
                "2026-07-01/instagram/2"
            ]
        );
        assert_eq!(
            slots[0].scheduled_at.to_rfc3339(),
            "2026-07-01T07:30:00+00:00"
        );
        assert_eq!(
            slots[2].scheduled_at.to_rfc3339(),
            "2026-07-01T16:00:00+00:00"
        );
        // 02:30 does not exist in Paris on 2026-03-29.
        let gap = to_utc(
            chrono_tz::Europe::Paris,
            NaiveDate::from_ymd_opt(2026, 3, 29).unwrap(),
            NaiveTime::from_hms_opt(2, 30, 0).unwrap(),
        );
        assert_eq!(gap.to_rfc3339(), "2026-03-29T01:30:00+00:00");
    }

    fn arb_spec() -> impl Strategy<Value = CalendarSpec> {
        (
            prop::sample::select(vec!["daily", "weekly", "monthly"]),
            prop::collection::btree_set("[a-z]{1,6}", 1..4),
            0i64..400,
            0i64..366,
            prop::collection::btree_set(0usize..7, 0..4),
            1u64..4,
        )
            .prop_map(|(cadence, channels, offset, len, weekdays, posts)| {
                let start =
                    NaiveDate::from_ymd_opt(2025, 1, 1).unwrap() + chrono::Duration::days(offset);
                let end = start + chrono::Duration::days(len);
                let names = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"];
                let mut c = json!({ "postsPerDay": posts });
                if !weekdays.is_empty() {
                    c["weekdays"] = json!(weekdays.iter().map(|d| names[*d]).collect::<Vec<_>>());
                }
                let channels: Vec<String> = channels.into_iter().collect();
                CalendarSpec::parse(
                    &channels,
                    cadence,
                    &start.to_string(),
                    &end.to_string(),
                    Some(&c),
                )
                .unwrap()
            })
    }

    proptest! {
        #[test]
        fn the_grid_is_deterministic_unique_and_in_range(spec in arb_spec()) {
            let slots = spec.slots();
            prop_assert_eq!(&slots, &spec.slots());
            prop_assert_eq!(slots.len(), spec.slot_count());
            let keys: HashSet<&str> = slots.iter().map(|s| s.key.as_str()).collect();
            prop_assert_eq!(keys.len(), slots.len(), "keys are unique");
            for slot in &slots {
                prop_assert!(slot.date >= spec.start && slot.date <= spec.end);
                prop_assert!(slot.key.starts_with(&slot.date.to_string()));
                if let Some(days) = &spec.constraints.weekdays && spec.cadence != Cadence::Monthly {
                    prop_assert!(days.contains(&slot.date.weekday()));
                }
            }
            prop_assert!(slots.windows(2).all(|w| w[0].date <= w[1].date), "in date order");
        }

        #[test]
        fn a_longer_range_keeps_every_earlier_key(spec in arb_spec(), extra in 1i64..60) {
            let mut longer = spec.clone();
            longer.end = spec.end + chrono::Duration::days(extra);
            let keys: HashSet<String> = longer.slots().into_iter().map(|s| s.key).collect();
            for slot in spec.slots() {
                prop_assert!(keys.contains(&slot.key), "{} kept", slot.key);
            }
        }
    }
}
