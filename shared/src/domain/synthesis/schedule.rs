//! Schedules (seed 004): their days, time and recipients, when one is due, and the pause
//! before a failed scheduled run is tried again.

use chrono::{DateTime, Datelike, NaiveDate, NaiveTime, TimeZone, Utc, Weekday};
use chrono_tz::Tz;

use crate::domain::{Invalid, invalid};

pub const MAX_EMAILS: usize = 3;
/// Failed scheduled runs are tried again at most this many times a day.
pub const MAX_SCHEDULED_ATTEMPTS_PER_DAY: i32 = 4;

/// A schedule's day: `mon`..`sun`.
pub fn parse_day(raw: &str) -> Option<Weekday> {
    Some(match raw {
        "mon" => Weekday::Mon,
        "tue" => Weekday::Tue,
        "wed" => Weekday::Wed,
        "thu" => Weekday::Thu,
        "fri" => Weekday::Fri,
        "sat" => Weekday::Sat,
        "sun" => Weekday::Sun,
        _ => return None,
    })
}

pub fn day_code(day: Weekday) -> &'static str {
    match day {
        Weekday::Mon => "mon",
        Weekday::Tue => "tue",
        Weekday::Wed => "wed",
        Weekday::Thu => "thu",
        Weekday::Fri => "fri",
        Weekday::Sat => "sat",
        Weekday::Sun => "sun",
    }
}

/// `HH:MM`, 00:00 to 23:59, two digits each: a schedule's time, UTC or local.
pub fn parse_time_of_day(raw: &str) -> Option<NaiveTime> {
    let bytes = raw.as_bytes();
    if bytes.len() != 5 || bytes[2] != b':' {
        return None;
    }
    NaiveTime::parse_from_str(raw, "%H:%M").ok()
}

/// An email address a mail server accepts (RFC 5321 syntax, at most 254 characters).
pub fn parse_email(raw: &str) -> Option<String> {
    let address = raw.trim();
    (address.len() <= 254 && address.parse::<lettre::Address>().is_ok()).then(|| address.to_owned())
}

/// A schedule as its owner sent it, before it is checked.
#[derive(Debug, Clone, Copy)]
pub struct ScheduleInput<'a> {
    pub enabled: bool,
    pub days: &'a [String],
    pub time_utc: Option<&'a str>,
    pub timezone: Option<&'a str>,
    pub time_local: Option<&'a str>,
    pub emails: &'a [String],
    pub send_when_empty: bool,
}

/// A valid schedule (seed 004, and local times).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScheduleSpec {
    pub enabled: bool,
    /// Day codes in the order given, without repeats; local days with a `timezone`.
    pub days: Vec<String>,
    /// `HH:MM`: UTC without a `timezone` (seed 004's `time_utc`), else local (`time_local`).
    pub time: String,
    pub timezone: Option<Tz>,
    pub emails: Vec<String>,
    /// Mail a short "nothing new" digest when every item was sent already.
    pub send_when_empty: bool,
}

/// An IANA time zone name (`Europe/Paris`), as the tz database spells it.
pub fn parse_timezone(raw: &str) -> Option<Tz> {
    raw.parse().ok()
}

impl ScheduleSpec {
    /// With a `timezone`, `time_local` is the time and `time_utc` is ignored; without one,
    /// `time_utc` is (seed 004).
    pub fn parse(input: ScheduleInput<'_>) -> Result<Self, Invalid> {
        let mut parsed_days: Vec<String> = Vec::new();
        for day in input.days {
            if parse_day(day).is_none() {
                return Err(invalid(
                    "days",
                    format!("`{day}` is not one of mon, tue, wed, thu, fri, sat, sun"),
                ));
            }
            if !parsed_days.contains(day) {
                parsed_days.push(day.clone());
            }
        }
        let (time, timezone) = match (input.timezone, input.time_local) {
            (Some(zone), local) => {
                let zone = parse_timezone(zone).ok_or_else(|| {
                    invalid(
                        "timezone",
                        format!("`{zone}` is not a time zone name such as Europe/Paris"),
                    )
                })?;
                let local = local
                    .ok_or_else(|| invalid("time_local", "is required with a timezone (HH:MM)"))?;
                if parse_time_of_day(local).is_none() {
                    return Err(invalid("time_local", "must be HH:MM (00:00 to 23:59)"));
                }
                (local, Some(zone))
            }
            (None, Some(_)) => {
                return Err(invalid(
                    "time_local",
                    "needs a timezone; without one, give time_utc",
                ));
            }
            (None, None) => match input.time_utc {
                Some(time) if parse_time_of_day(time).is_some() => (time, None),
                Some(_) => return Err(invalid("time_utc", "must be HH:MM (00:00 to 23:59)")),
                None => {
                    return Err(invalid(
                        "time_utc",
                        "is required without a timezone (HH:MM, UTC)",
                    ));
                }
            },
        };
        if input.emails.len() > MAX_EMAILS {
            return Err(invalid("emails", format!("at most {MAX_EMAILS} addresses")));
        }
        let mut parsed_emails: Vec<String> = Vec::new();
        for email in input.emails {
            let address = parse_email(email)
                .ok_or_else(|| invalid("emails", format!("`{email}` is not a valid address")))?;
            if parsed_emails
                .iter()
                .any(|e| e.eq_ignore_ascii_case(&address))
            {
                return Err(invalid("emails", format!("`{email}` is listed twice")));
            }
            parsed_emails.push(address);
        }
        Ok(Self {
            enabled: input.enabled,
            days: parsed_days,
            time: time.to_owned(),
            timezone,
            emails: parsed_emails,
            send_when_empty: input.send_when_empty,
        })
    }
}

/// The `HH:MM` (UTC) at which a schedule of local `time` in `zone` falls on the local day
/// of `now`: what `time_utc` says of a zoned schedule.
pub fn utc_time_today(zone: Tz, time: &str, now: DateTime<Utc>) -> Option<String> {
    let time = parse_time_of_day(time)?;
    let today = now.with_timezone(&zone).date_naive();
    Some(occurrence(zone, today, time).format("%H:%M").to_string())
}

/// When a schedule's `time` falls on `date` in `zone`: the first instant whose local time
/// is at or after it. A time the clocks skip (spring forward) comes when they resume (02:30
/// on such a day in Paris is 03:00); a time that occurs twice (fall back) comes at its
/// first occurrence.
pub fn occurrence(zone: Tz, date: NaiveDate, time: NaiveTime) -> DateTime<Utc> {
    let local = date.and_time(time);
    // A gap lasts hours at most; a whole day is skipped only where the date itself does not
    // exist locally (Samoa, 2011-12-30), when the day after is the first valid instant.
    (0..=2 * 24 * 60)
        .find_map(|minute| {
            zone.from_local_datetime(&(local + chrono::Duration::minutes(minute)))
                .earliest()
        })
        .map_or_else(|| local.and_utc(), |t| t.with_timezone(&Utc))
}

/// Whether a schedule is due at `now`: enabled, and on one of its `days` (in `zone`, UTC
/// without one) its `time` has come and it has not run that day. Without a zone this is
/// seed 004's rule exactly. With one, the days are local days, and a time that a clock
/// change pushes past midnight (a gap at the day's end) still runs, once, on the next day.
pub fn is_due(
    enabled: bool,
    days: &[String],
    time: &str,
    zone: Option<Tz>,
    last_run_at: Option<DateTime<Utc>>,
    now: DateTime<Utc>,
) -> bool {
    let Some(time) = parse_time_of_day(time) else {
        return false;
    };
    let zone = zone.unwrap_or(Tz::UTC);
    let today = now.with_timezone(&zone).date_naive();
    let local_day = |t: DateTime<Utc>| t.with_timezone(&zone).date_naive();
    let listed = |day: NaiveDate| days.iter().any(|d| d == day_code(day.weekday()));
    let yesterday = today.pred_opt().unwrap_or(today);
    let spilled = occurrence(zone, yesterday, time);
    let spilled = (listed(yesterday) && local_day(spilled) == today).then_some(spilled);
    let due_from_yesterday =
        spilled.is_some_and(|at| at <= now && last_run_at.is_none_or(|last| last < at));
    // Today's own run: not if it ran today, except for yesterday's pushed into today.
    let occurs = occurrence(zone, today, time);
    let due_today = listed(today)
        && occurs <= now
        && last_run_at.is_none_or(|last| {
            local_day(last) < today || spilled.is_some_and(|at| last >= at && last < occurs)
        });
    enabled && (due_today || due_from_yesterday)
}

/// The first instant at or after `after` at which the schedule is due (`is_due`, enabled,
/// its last run as given); none when it never is (no days). The rule turns true only at an
/// occurrence of its time, so the next listed local days' occurrences are all it reads.
pub fn next_due(
    days: &[String],
    time: &str,
    zone: Option<Tz>,
    last_run_at: Option<DateTime<Utc>>,
    after: DateTime<Utc>,
) -> Option<DateTime<Utc>> {
    let due = |at: DateTime<Utc>| is_due(true, days, time, zone, last_run_at, at);
    if due(after) {
        return Some(after);
    }
    let clock_time = parse_time_of_day(time)?;
    let tz = zone.unwrap_or(Tz::UTC);
    let today = after.with_timezone(&tz).date_naive();
    // From yesterday (its occurrence may have spilled into today) to a week and a day on.
    let yesterday = today.pred_opt()?;
    (0..10)
        .filter_map(|i| yesterday.checked_add_days(chrono::Days::new(i)))
        .map(|day| occurrence(tz, day, clock_time))
        .filter(|at| *at > after)
        .find(|at| due(*at))
}

/// The start of the day after `now`'s in `zone` (UTC without one): when a schedule's
/// attempts of the day are spent, the next may start then.
pub fn next_day_start(zone: Option<Tz>, now: DateTime<Utc>) -> DateTime<Utc> {
    let tz = zone.unwrap_or(Tz::UTC);
    let tomorrow = now
        .with_timezone(&tz)
        .date_naive()
        .succ_opt()
        .unwrap_or(NaiveDate::MAX);
    occurrence(tz, tomorrow, NaiveTime::MIN)
}

/// The day a schedule is on at `now`: local with a `zone`, else UTC.
pub fn schedule_day(zone: Option<Tz>, now: DateTime<Utc>) -> NaiveDate {
    now.with_timezone(&zone.unwrap_or(Tz::UTC)).date_naive()
}

/// The pause before a failed scheduled run is tried again: 5 minutes, doubling, at most
/// 2 hours.
pub fn retry_delay(attempts_today: i32) -> chrono::Duration {
    let minutes = 5i64 << attempts_today.clamp(1, 6).saturating_sub(1);
    chrono::Duration::minutes(minutes.min(120))
}

/// `2026-W47`.
pub fn iso_week(date: NaiveDate) -> String {
    let week = date.iso_week();
    format!("{}-W{:02}", week.year(), week.week())
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn strings(items: &[&str]) -> Vec<String> {
        items.iter().map(|s| s.to_string()).collect()
    }

    fn spec(
        days: &[&str],
        time_utc: Option<&str>,
        zone: Option<(&str, Option<&str>)>,
        emails: &[&str],
    ) -> Result<ScheduleSpec, Invalid> {
        ScheduleSpec::parse(ScheduleInput {
            enabled: true,
            days: &strings(days),
            time_utc,
            timezone: zone.map(|(zone, _)| zone),
            time_local: zone.and_then(|(_, time)| time),
            emails: &strings(emails),
            send_when_empty: false,
        })
    }

    #[test]
    fn schedules_are_validated() {
        let ok = spec(
            &["mon", "fri", "mon"],
            Some("09:00"),
            None,
            &["a@example.com"],
        )
        .unwrap();
        assert_eq!(ok.days, ["mon", "fri"]);
        assert_eq!((ok.time.as_str(), ok.timezone), ("09:00", None));
        let field = |r: Result<ScheduleSpec, Invalid>| r.unwrap_err().field;
        assert_eq!(field(spec(&["monday"], Some("09:00"), None, &[])), "days");
        for time in ["9:00", "24:00", "09:00:00"] {
            assert_eq!(field(spec(&[], Some(time), None, &[])), "time_utc");
        }
        assert_eq!(field(spec(&[], None, None, &[])), "time_utc");
        assert_eq!(
            field(spec(&[], Some("09:00"), None, &["not-an-email"])),
            "emails"
        );
        let four = ["a@x.io", "b@x.io", "c@x.io", "d@x.io"];
        assert_eq!(field(spec(&[], Some("09:00"), None, &four)), "emails");
        assert_eq!(
            field(spec(&[], Some("09:00"), None, &["a@x.io", "A@x.io"])),
            "emails"
        );
        // A zone makes the local time the schedule's; `time_utc` is then ignored.
        let paris = spec(
            &["mon"],
            Some("not a time"),
            Some(("Europe/Paris", Some("08:00"))),
            &[],
        )
        .unwrap();
        assert_eq!(
            (paris.time.as_str(), paris.timezone),
            ("08:00", Some(chrono_tz::Europe::Paris))
        );
        assert_eq!(
            field(spec(&[], None, Some(("Europe/Paris", None)), &[])),
            "time_local"
        );
        assert_eq!(
            field(spec(&[], None, Some(("Europe/Paris", Some("8h"))), &[])),
            "time_local"
        );
        for zone in ["Paris", "europe/paris", "Mars/Olympus_Mons", ""] {
            assert_eq!(
                field(spec(&[], None, Some((zone, Some("08:00"))), &[])),
                "timezone",
                "{zone}"
            );
        }
        let local_only = ScheduleSpec::parse(ScheduleInput {
            enabled: true,
            days: &[],
            time_utc: None,
            timezone: None,
            time_local: Some("08:00"),
            emails: &[],
            send_when_empty: false,
        });
        assert_eq!(field(local_only), "time_local");
    }

    #[test]
    fn a_zoned_schedule_answers_todays_utc_time() {
        let paris = chrono_tz::Europe::Paris;
        assert_eq!(
            utc_time_today(paris, "08:00", utc("2027-01-15T12:00:00Z")).as_deref(),
            Some("07:00")
        );
        assert_eq!(
            utc_time_today(paris, "08:00", utc("2027-07-15T12:00:00Z")).as_deref(),
            Some("06:00")
        );
        // Late on 27 March UTC it is already the 28th in Paris, the day clocks go forward.
        assert_eq!(
            utc_time_today(paris, "02:30", utc("2027-03-27T23:30:00Z")).as_deref(),
            Some("01:00")
        );
    }

    #[test]
    fn weeks_are_iso_weeks() {
        assert_eq!(
            iso_week(NaiveDate::from_ymd_opt(2026, 11, 21).unwrap()),
            "2026-W47"
        );
        assert_eq!(
            iso_week(NaiveDate::from_ymd_opt(2027, 1, 1).unwrap()),
            "2026-W53"
        );
    }

    fn arb_now() -> impl Strategy<Value = DateTime<Utc>> {
        (0i64..3_000_000)
            .prop_map(|minutes| DateTime::from_timestamp(1_800_000_000 + minutes * 60, 0).unwrap())
    }

    /// The instants at which a scheduler ticking every `step` minutes from `from` to `to`
    /// starts the schedule (each start marks it, as the scheduler does).
    fn runs(
        days: &[&str],
        time: &str,
        zone: Tz,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
        step: i64,
    ) -> Vec<DateTime<Utc>> {
        let days = strings(days);
        let (mut last, mut runs, mut t) = (None, Vec::new(), from);
        while t < to {
            if is_due(true, &days, time, Some(zone), last, t) {
                runs.push(t);
                last = Some(t);
            }
            t += chrono::Duration::minutes(step);
        }
        runs
    }

    fn utc(raw: &str) -> DateTime<Utc> {
        raw.parse().unwrap()
    }

    const EVERY_DAY: &[&str] = &["mon", "tue", "wed", "thu", "fri", "sat", "sun"];

    #[test]
    fn a_paris_morning_digest_follows_the_clocks_of_paris() {
        let paris = chrono_tz::Europe::Paris;
        let days = strings(EVERY_DAY);
        // 08:00 in Paris is 07:00Z in winter and 06:00Z in summer.
        for (before, at) in [
            ("2027-01-15T06:59:00Z", "2027-01-15T07:00:00Z"),
            ("2027-07-15T05:59:00Z", "2027-07-15T06:00:00Z"),
        ] {
            assert!(!is_due(
                true,
                &days,
                "08:00",
                Some(paris),
                None,
                utc(before)
            ));
            assert!(is_due(true, &days, "08:00", Some(paris), None, utc(at)));
        }
        // Once a day, every day, across both changes of 2027 (28 March, 31 October).
        for (from, to, expected) in [
            (
                "2027-03-26T00:00:00Z",
                "2027-03-31T00:00:00Z",
                [
                    "2027-03-26T07:00:00Z",
                    "2027-03-27T07:00:00Z",
                    "2027-03-28T06:00:00Z",
                    "2027-03-29T06:00:00Z",
                    "2027-03-30T06:00:00Z",
                ],
            ),
            (
                "2027-10-29T00:00:00Z",
                "2027-11-03T00:00:00Z",
                [
                    "2027-10-29T06:00:00Z",
                    "2027-10-30T06:00:00Z",
                    "2027-10-31T07:00:00Z",
                    "2027-11-01T07:00:00Z",
                    "2027-11-02T07:00:00Z",
                ],
            ),
        ] {
            let runs = runs(EVERY_DAY, "08:00", paris, utc(from), utc(to), 1);
            assert_eq!(runs, expected.map(utc));
        }
        // 02:30 does not exist on 28 March: it runs once, at 03:00 local (01:00Z).
        let spring = runs(
            EVERY_DAY,
            "02:30",
            paris,
            utc("2027-03-27T00:00:00Z"),
            utc("2027-03-28T12:00:00Z"),
            1,
        );
        assert_eq!(
            spring,
            [utc("2027-03-27T01:30:00Z"), utc("2027-03-28T01:00:00Z")]
        );
        // 02:30 happens twice on 31 October: it runs at the first (00:30Z), once.
        let autumn = runs(
            EVERY_DAY,
            "02:30",
            paris,
            utc("2027-10-30T00:00:00Z"),
            utc("2027-10-31T12:00:00Z"),
            1,
        );
        assert_eq!(
            autumn,
            [utc("2027-10-30T00:30:00Z"), utc("2027-10-31T00:30:00Z")]
        );
        // The days are Paris's: a Monday 00:30 digest runs on Sunday 22:30Z in summer.
        let monday = runs(
            &["mon"],
            "00:30",
            paris,
            utc("2027-07-04T00:00:00Z"),
            utc("2027-07-06T00:00:00Z"),
            1,
        );
        assert_eq!(monday, [utc("2027-07-04T22:30:00Z")]);
    }

    /// The instants (to the hour) at which `zone`'s offset changed in 2027.
    fn changes_2027(zone: Tz) -> Vec<DateTime<Utc>> {
        use chrono::Offset;
        let start = utc("2027-01-01T00:00:00Z");
        let offset = |t: DateTime<Utc>| t.with_timezone(&zone).offset().fix();
        (1..365 * 24)
            .map(|h| start + chrono::Duration::hours(h))
            .filter(|t| offset(*t) != offset(*t - chrono::Duration::hours(1)))
            .collect()
    }

    fn arb_zone() -> impl Strategy<Value = Tz> {
        prop::sample::select(vec![
            chrono_tz::Europe::Paris,
            chrono_tz::America::New_York,
            chrono_tz::America::Sao_Paulo,
            chrono_tz::America::Santiago,
            chrono_tz::Australia::Lord_Howe,
            chrono_tz::Pacific::Apia,
            chrono_tz::Asia::Kolkata,
            chrono_tz::Africa::Casablanca,
            chrono_tz::UTC,
        ])
    }

    proptest! {
        #[test]
        fn a_schedule_is_due_at_most_once_a_day(
            now in arb_now(),
            days in prop::collection::vec(prop::sample::select(vec!["mon", "tue", "wed", "thu", "fri", "sat", "sun"]), 0..7),
            hour in 0u32..24, minute in 0u32..60, step in 1i64..240,
        ) {
            let days: Vec<String> = days.into_iter().map(str::to_owned).collect();
            let time = format!("{hour:02}:{minute:02}");
            let mut last = None;
            let mut runs_by_day = std::collections::HashMap::new();
            let mut t = now;
            // A day and a half of ticks: each run marks the schedule, as the scheduler does.
            while t < now + chrono::Duration::hours(36) {
                if is_due(true, &days, &time, None, last, t) {
                    prop_assert!(days.contains(&day_code(t.weekday()).to_owned()));
                    prop_assert!(t.time() >= parse_time_of_day(&time).unwrap());
                    *runs_by_day.entry(t.date_naive()).or_insert(0) += 1;
                    last = Some(t);
                }
                t += chrono::Duration::minutes(step);
            }
            prop_assert!(runs_by_day.values().all(|n| *n == 1));
            prop_assert!(!is_due(false, &days, &time, None, None, now));
        }

        /// Without a zone the rule is seed 004's, unchanged: today (UTC) is one of the days,
        /// the time has come, and the schedule has not run today.
        #[test]
        fn without_a_zone_the_rule_is_the_seeds(
            now in arb_now(),
            ago in proptest::option::of(0i64..3 * 24 * 60),
            days in prop::collection::vec(prop::sample::select(EVERY_DAY.to_vec()), 0..7),
            hour in 0u32..24, minute in 0u32..60,
        ) {
            let last = ago.map(|minutes| now - chrono::Duration::minutes(minutes));
            let days: Vec<String> = days.into_iter().map(str::to_owned).collect();
            let time = format!("{hour:02}:{minute:02}");
            let seed = days.iter().any(|d| d == day_code(now.weekday()))
                && now.time() >= parse_time_of_day(&time).unwrap()
                && last.is_none_or(|l| l.date_naive() < now.date_naive());
            prop_assert_eq!(is_due(true, &days, &time, None, last, now), seed);
            prop_assert_eq!(is_due(true, &days, &time, Some(Tz::UTC), last, now), seed);
        }

        #[test]
        fn retry_delays_grow_and_stay_bounded(attempts in 0i32..50) {
            let delay = retry_delay(attempts);
            prop_assert!(delay >= chrono::Duration::minutes(5) && delay <= chrono::Duration::hours(2));
            prop_assert!(retry_delay(attempts + 1) >= delay);
        }
    }

    proptest! {
        // Each case ticks every minute for four days.
        #![proptest_config(ProptestConfig::with_cases(48))]

        /// `next_due` is the first minute a scheduler ticking every minute would find the
        /// schedule due, in any zone, around its clock changes, after any last run.
        #[test]
        fn the_next_due_instant_is_the_first_the_rule_says_is_due(
            zone in arb_zone(),
            pick in 0usize..100, before in 0i64..72, ago in proptest::option::of(0i64..3 * 24 * 60),
            days in prop::collection::vec(prop::sample::select(EVERY_DAY.to_vec()), 0..3),
            hour in 0u32..24, minute in 0u32..60,
        ) {
            let changes = changes_2027(zone);
            let after = match changes.get(pick % changes.len().max(1)) {
                Some(change) => *change - chrono::Duration::hours(before),
                None => utc("2027-01-01T00:00:00Z") + chrono::Duration::hours(pick as i64 * 83),
            };
            let last = ago.map(|minutes| after - chrono::Duration::minutes(minutes));
            let days = strings(&days);
            let time = format!("{hour:02}:{minute:02}");
            let ticked = (0..9 * 24 * 60)
                .map(|m| after + chrono::Duration::minutes(m))
                .find(|t| is_due(true, &days, &time, Some(zone), last, *t));
            prop_assert_eq!(next_due(&days, &time, Some(zone), last, after), ticked, "{} in {}", time, zone);
        }

        /// In any zone, over four days around one of its clock changes of 2027 (a random
        /// time of the year where it has none), a scheduler ticking every minute runs each
        /// listed local day once, at its occurrence; never twice, never skipped.
        #[test]
        fn a_zoned_schedule_runs_once_on_each_of_its_days(
            zone in arb_zone(),
            pick in 0usize..100, before in 0i64..72,
            days in prop::collection::vec(prop::sample::select(EVERY_DAY.to_vec()), 1..7),
            hour in 0u32..24, minute in 0u32..60,
        ) {
            let changes = changes_2027(zone);
            let from = match changes.get(pick % changes.len().max(1)) {
                Some(change) => *change - chrono::Duration::hours(before),
                None => utc("2027-01-01T00:00:00Z") + chrono::Duration::hours(pick as i64 * 83),
            };
            let to = from + chrono::Duration::days(4);
            let time = format!("{hour:02}:{minute:02}");
            let days: Vec<&str> = days.into_iter().collect();
            let runs = runs(&days, &time, zone, from, to, 1);
            let first_day = from.with_timezone(&zone).date_naive();
            let wanted: Vec<DateTime<Utc>> = (0..6)
                .filter_map(|i| first_day.checked_add_days(chrono::Days::new(i)))
                .filter(|day| days.contains(&day_code(day.weekday())))
                .map(|day| occurrence(zone, day, parse_time_of_day(&time).unwrap()))
                .filter(|at| *at > from && *at < to)
                .collect();
            // The first tick may run a day whose time had come before the window.
            let runs: Vec<_> = runs.into_iter().filter(|r| *r > from).collect();
            prop_assert_eq!(&runs, &wanted, "{} in {}", time, zone);
        }
    }
}
