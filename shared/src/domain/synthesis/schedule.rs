//! Schedules (seed 004): their days, time and recipients, when one is due, and the pause
//! before a failed scheduled run is tried again.

use chrono::{DateTime, Datelike, NaiveDate, NaiveTime, Utc, Weekday};

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

/// `HH:MM`, 00:00 to 23:59, two digits each.
pub fn parse_time_utc(raw: &str) -> Option<NaiveTime> {
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

/// A valid schedule (seed 004).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScheduleSpec {
    pub enabled: bool,
    /// Day codes in the order given, without repeats.
    pub days: Vec<String>,
    pub time_utc: String,
    pub emails: Vec<String>,
}

impl ScheduleSpec {
    pub fn parse(
        enabled: bool,
        days: &[String],
        time_utc: &str,
        emails: &[String],
    ) -> Result<Self, Invalid> {
        let mut parsed_days: Vec<String> = Vec::new();
        for day in days {
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
        if parse_time_utc(time_utc).is_none() {
            return Err(invalid("time_utc", "must be HH:MM (00:00 to 23:59)"));
        }
        if emails.len() > MAX_EMAILS {
            return Err(invalid("emails", format!("at most {MAX_EMAILS} addresses")));
        }
        let mut parsed_emails: Vec<String> = Vec::new();
        for email in emails {
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
            enabled,
            days: parsed_days,
            time_utc: time_utc.to_owned(),
            emails: parsed_emails,
        })
    }
}

/// Whether a schedule is due at `now`: enabled, today is one of its days, its time has
/// come, and it has not run today.
pub fn is_due(
    enabled: bool,
    days: &[String],
    time_utc: &str,
    last_run_at: Option<DateTime<Utc>>,
    now: DateTime<Utc>,
) -> bool {
    let Some(time) = parse_time_utc(time_utc) else {
        return false;
    };
    enabled
        && days.iter().any(|d| d == day_code(now.weekday()))
        && now.time() >= time
        && last_run_at.is_none_or(|last| last.date_naive() < now.date_naive())
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

    #[test]
    fn schedules_are_validated() {
        let ok = ScheduleSpec::parse(
            true,
            &strings(&["mon", "fri", "mon"]),
            "09:00",
            &strings(&["a@example.com"]),
        )
        .unwrap();
        assert_eq!(ok.days, ["mon", "fri"]);
        let field = |r: Result<ScheduleSpec, Invalid>| r.unwrap_err().field;
        assert_eq!(
            field(ScheduleSpec::parse(
                true,
                &strings(&["monday"]),
                "09:00",
                &[]
            )),
            "days"
        );
        assert_eq!(
            field(ScheduleSpec::parse(true, &[], "9:00", &[])),
            "time_utc"
        );
        assert_eq!(
            field(ScheduleSpec::parse(true, &[], "24:00", &[])),
            "time_utc"
        );
        assert_eq!(
            field(ScheduleSpec::parse(
                true,
                &[],
                "09:00",
                &strings(&["not-an-email"])
            )),
            "emails"
        );
        let four = strings(&["a@x.io", "b@x.io", "c@x.io", "d@x.io"]);
        assert_eq!(
            field(ScheduleSpec::parse(true, &[], "09:00", &four)),
            "emails"
        );
        assert_eq!(
            field(ScheduleSpec::parse(
                true,
                &[],
                "09:00",
                &strings(&["a@x.io", "A@x.io"])
            )),
            "emails"
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
                if is_due(true, &days, &time, last, t) {
                    prop_assert!(days.contains(&day_code(t.weekday()).to_owned()));
                    prop_assert!(t.time() >= parse_time_utc(&time).unwrap());
                    *runs_by_day.entry(t.date_naive()).or_insert(0) += 1;
                    last = Some(t);
                }
                t += chrono::Duration::minutes(step);
            }
            prop_assert!(runs_by_day.values().all(|n| *n == 1));
            prop_assert!(!is_due(false, &days, &time, None, now));
        }

        #[test]
        fn retry_delays_grow_and_stay_bounded(attempts in 0i32..50) {
            let delay = retry_delay(attempts);
            prop_assert!(delay >= chrono::Duration::minutes(5) && delay <= chrono::Duration::hours(2));
            prop_assert!(retry_delay(attempts + 1) >= delay);
        }
    }
}
