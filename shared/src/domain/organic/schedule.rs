//! When each placement goes out: the time of day a local time belongs to, and conflict
//! shifting. Two posts of one account closer than the minimum gap would compete with each
//! other (auto-schedulers never put two posts of a profile within 30 minutes), so the
//! later one moves to the nearest later free time that same local day, inside the brand's
//! posting window, in 5-minute steps. Scheduling needs only times, so it is decided before
//! anything is drafted, and it is deterministic: placements are taken by time, then id.

use std::collections::HashMap;

use chrono::{DateTime, Duration, NaiveTime, Utc};
use chrono_tz::Tz;

/// The step a shifted placement moves by.
pub const STEP_MINUTES: i64 = 5;

crate::text_enum! {
    /// The part of the day a local time is in (`schedule.timeOfDay`).
    pub enum TimeOfDay in "lowercase" {
        /// 05:00-11:59.
        Morning,
        /// 12:00-16:59.
        Afternoon,
        /// 17:00-20:59.
        Evening,
        /// 21:00-04:59.
        Night,
    }
}

impl TimeOfDay {
    pub fn of(local: NaiveTime) -> Self {
        use chrono::Timelike;
        match local.hour() {
            5..=11 => TimeOfDay::Morning,
            12..=16 => TimeOfDay::Afternoon,
            17..=20 => TimeOfDay::Evening,
            _ => TimeOfDay::Night,
        }
    }
}

/// A brand's posting window, in its local time; both ends included.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Window {
    pub start: NaiveTime,
    pub end: NaiveTime,
}

impl Default for Window {
    /// 07:00-22:00.
    fn default() -> Self {
        Self {
            start: NaiveTime::from_hms_opt(7, 0, 0).expect("valid"),
            end: NaiveTime::from_hms_opt(22, 0, 0).expect("valid"),
        }
    }
}

impl Window {
    pub fn contains(&self, local: NaiveTime) -> bool {
        self.start <= local && local <= self.end
    }
}

/// The account a placement posts with: `(platform, account id)`.
pub type AccountKey = (String, String);

/// A placement that wants a time.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Wanted {
    pub id: String,
    /// None for a placement that posts with no account (the newsletter): it conflicts
    /// with nothing.
    pub account: Option<AccountKey>,
    pub at: DateTime<Utc>,
}

/// Where a placement landed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Placed {
    At {
        at: DateTime<Utc>,
        adjusted: bool,
    },
    /// No free time was left that day inside the window.
    NoFreeSlot,
}

/// Gives each of `wanted` its time (in the same order), keeping `gap` between the posts of
/// each account, including the `fixed` ones (saved placements that stay where they are).
pub fn shift(
    wanted: &[Wanted],
    fixed: &[(AccountKey, DateTime<Utc>)],
    gap: Duration,
    window: Window,
    tz: Tz,
) -> Vec<Placed> {
    let mut taken: HashMap<&AccountKey, Vec<DateTime<Utc>>> = HashMap::new();
    for (account, at) in fixed {
        taken.entry(account).or_default().push(*at);
    }
    let mut order: Vec<usize> = (0..wanted.len()).collect();
    order.sort_by(|&a, &b| (wanted[a].at, &wanted[a].id).cmp(&(wanted[b].at, &wanted[b].id)));
    let mut placed = vec![Placed::NoFreeSlot; wanted.len()];
    for i in order {
        let item = &wanted[i];
        let Some(account) = &item.account else {
            placed[i] = Placed::At {
                at: item.at,
                adjusted: false,
            };
            continue;
        };
        let times = taken.entry(account).or_default();
        let free = |t: DateTime<Utc>| times.iter().all(|o| (t - *o).abs() >= gap);
        let outcome = if free(item.at) {
            Placed::At {
                at: item.at,
                adjusted: false,
            }
        } else {
            let day = item.at.with_timezone(&tz).date_naive();
            (1..)
                .map(|k| item.at + Duration::minutes(STEP_MINUTES * k))
                .take_while(|t| t.with_timezone(&tz).date_naive() == day)
                .find(|t| window.contains(t.with_timezone(&tz).time()) && free(*t))
                .map_or(Placed::NoFreeSlot, |at| Placed::At { at, adjusted: true })
        };
        if let Placed::At { at, .. } = outcome {
            times.push(at);
        }
        placed[i] = outcome;
    }
    placed
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::{NaiveDate, TimeZone};
    use chrono_tz::{America::Los_Angeles, Europe::Berlin};
    use proptest::prelude::*;

    fn utc(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
    }

    fn want(id: &str, account: &str, at: &str) -> Wanted {
        Wanted {
            id: id.into(),
            account: Some(("instagram".into(), account.into())),
            at: utc(at),
        }
    }

    #[test]
    fn the_seed_s_slot_is_morning_in_los_angeles() {
        let local = utc("2026-01-26T17:00:00Z").with_timezone(&Los_Angeles);
        assert_eq!(TimeOfDay::of(local.time()), TimeOfDay::Morning);
        let at = |h, m| TimeOfDay::of(NaiveTime::from_hms_opt(h, m, 0).unwrap());
        assert_eq!(at(4, 59), TimeOfDay::Night);
        assert_eq!(at(5, 0), TimeOfDay::Morning);
        assert_eq!(at(11, 59), TimeOfDay::Morning);
        assert_eq!(at(12, 0), TimeOfDay::Afternoon);
        assert_eq!(at(17, 0), TimeOfDay::Evening);
        assert_eq!(at(20, 59), TimeOfDay::Evening);
        assert_eq!(at(21, 0), TimeOfDay::Night);
    }

    #[test]
    fn three_posts_at_one_minute_become_thirty_minutes_apart() {
        let wanted = [
            want("c", "ig", "2026-01-27T17:00:00Z"),
            want("a", "ig", "2026-01-27T17:00:00Z"),
            want("b", "ig", "2026-01-27T17:00:00Z"),
            want("other", "ig2", "2026-01-27T17:00:00Z"),
        ];
        let placed = shift(
            &wanted,
            &[],
            Duration::minutes(30),
            Window::default(),
            Los_Angeles,
        );
        let at = |s| Placed::At {
            at: utc(s),
            adjusted: true,
        };
        assert_eq!(
            placed[1],
            Placed::At {
                at: utc("2026-01-27T17:00:00Z"),
                adjusted: false
            }
        );
        assert_eq!(placed[2], at("2026-01-27T17:30:00Z"));
        assert_eq!(placed[0], at("2026-01-27T18:00:00Z"));
        assert_eq!(
            placed[3],
            Placed::At {
                at: utc("2026-01-27T17:00:00Z"),
                adjusted: false
            }
        );
    }

    #[test]
    fn fixed_posts_are_avoided_and_a_full_day_has_no_slot() {
        let fixed = [(
            ("instagram".to_owned(), "ig".to_owned()),
            utc("2026-01-27T17:10:00Z"),
        )];
        let placed = shift(
            &[want("a", "ig", "2026-01-27T17:00:00Z")],
            &fixed,
            Duration::minutes(30),
            Window::default(),
            Los_Angeles,
        );
        assert_eq!(
            placed[0],
            Placed::At {
                at: utc("2026-01-27T17:40:00Z"),
                adjusted: true
            }
        );
        // 21:50 local, window to 22:00: 22:00 is taken by the fixed post's gap.
        let fixed = [(
            ("instagram".to_owned(), "ig".to_owned()),
            utc("2026-01-28T05:50:00Z"),
        )];
        let placed = shift(
            &[want("late", "ig", "2026-01-28T05:50:00Z")],
            &fixed,
            Duration::minutes(30),
            Window::default(),
            Los_Angeles,
        );
        assert_eq!(placed[0], Placed::NoFreeSlot);
    }

    #[test]
    fn daylight_saving_days_keep_the_local_day_and_window() {
        // Berlin springs forward on 2026-03-29 at 02:00: local 01:55 is followed by 03:00.
        let window = Window {
            start: NaiveTime::from_hms_opt(0, 0, 0).unwrap(),
            end: NaiveTime::from_hms_opt(23, 59, 0).unwrap(),
        };
        let at = Berlin
            .from_local_datetime(
                &NaiveDate::from_ymd_opt(2026, 3, 29)
                    .unwrap()
                    .and_hms_opt(1, 50, 0)
                    .unwrap(),
            )
            .unwrap()
            .with_timezone(&Utc);
        let wanted = [
            Wanted {
                id: "a".into(),
                account: Some(("x".into(), "y".into())),
                at,
            },
            Wanted {
                id: "b".into(),
                account: Some(("x".into(), "y".into())),
                at,
            },
        ];
        let placed = shift(&wanted, &[], Duration::minutes(30), window, Berlin);
        let Placed::At {
            at: moved,
            adjusted: true,
        } = placed[1]
        else {
            panic!("{placed:?}")
        };
        assert_eq!(moved - at, Duration::minutes(30));
        assert_eq!(
            moved.with_timezone(&Berlin).time(),
            NaiveTime::from_hms_opt(3, 20, 0).unwrap()
        );
    }

    fn zones() -> impl Strategy<Value = Tz> {
        prop::sample::select(vec![
            chrono_tz::UTC,
            Los_Angeles,
            Berlin,
            chrono_tz::Australia::Lord_Howe,
            chrono_tz::Asia::Kathmandu,
            chrono_tz::America::Santiago,
        ])
    }

    proptest! {
        #[test]
        fn shifting_keeps_the_gap_the_day_and_the_window_whatever_the_order(
            tz in zones(),
            day in 0u64..365,
            items in prop::collection::vec((0usize..3, 0i64..(24 * 12), 0usize..4), 1..25),
            gap in 0i64..90,
            start_h in 0u32..12,
            len_h in 1u32..12,
        ) {
            let date = NaiveDate::from_ymd_opt(2026, 1, 1).unwrap() + chrono::Days::new(day);
            let base = super::super::super::calendar::to_utc(tz, date, NaiveTime::MIN);
            let wanted: Vec<Wanted> = items
                .iter()
                .enumerate()
                .map(|(i, (account, step, _))| Wanted {
                    id: format!("p{i}"),
                    account: Some(("instagram".into(), format!("acct{account}"))),
                    at: base + Duration::minutes(STEP_MINUTES * step),
                })
                .filter(|w| w.at.with_timezone(&tz).date_naive() == date)
                .collect();
            let window = Window {
                start: NaiveTime::from_hms_opt(start_h, 0, 0).unwrap(),
                end: NaiveTime::from_hms_opt((start_h + len_h).min(23), 0, 0).unwrap(),
            };
            let gap = Duration::minutes(gap);
            let placed = shift(&wanted, &[], gap, window, tz);
            let mut reversed = wanted.clone();
            reversed.reverse();
            let mut again = shift(&reversed, &[], gap, window, tz);
            again.reverse();
            prop_assert_eq!(&placed, &again);
            let mut times: Vec<(String, DateTime<Utc>)> = Vec::new();
            for (w, p) in wanted.iter().zip(&placed) {
                if let Placed::At { at, adjusted } = p {
                    prop_assert_eq!(*adjusted, *at != w.at);
                    prop_assert!(*at >= w.at);
                    prop_assert_eq!(at.with_timezone(&tz).date_naive(), date);
                    if *adjusted {
                        prop_assert!(window.contains(at.with_timezone(&tz).time()));
                        prop_assert_eq!((*at - w.at).num_minutes() % STEP_MINUTES, 0);
                    }
                    times.push((w.account.clone().unwrap().1, *at));
                }
            }
            for (i, (a, t)) in times.iter().enumerate() {
                for (b, u) in &times[i + 1..] {
                    prop_assert!(a != b || (*t - *u).abs() >= gap, "{a} {t} {u}");
                }
            }
        }
    }
}
