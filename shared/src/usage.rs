//! The daily token budget (`AI_WORKSPACE_DAILY_TOKENS`): when a spent one is available again.
//! What AI calls cost each user, per UTC day and job kind, is recorded and read by
//! `store::usage`.

use chrono::{DateTime, Days, Utc};

/// The start of the next UTC day after `now`: when a spent budget is available again.
pub fn resets_at(now: DateTime<Utc>) -> DateTime<Utc> {
    let tomorrow = now.date_naive() + Days::new(1);
    tomorrow.and_hms_opt(0, 0, 0).expect("midnight").and_utc()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn budgets_reset_at_the_next_utc_midnight() {
        let now = "2026-11-23T23:59:59Z".parse::<DateTime<Utc>>().unwrap();
        assert_eq!(resets_at(now).to_rfc3339(), "2026-11-24T00:00:00+00:00");
        let midnight = "2026-11-24T00:00:00Z".parse::<DateTime<Utc>>().unwrap();
        assert_eq!(
            resets_at(midnight).to_rfc3339(),
            "2026-11-25T00:00:00+00:00"
        );
    }
}
