//! A job's round trips by step, read from the processes' `job_round_trips_total{kind,
//! step, store}` (counted by the code that makes them: `almanac_shared::trips`), for the
//! generation jobs the phases submit.

use almanac_shared::trips::{Step, Store};
use almanac_tests::processes::{RoundTrips, Service};

/// What `services` have counted so far for generations.
pub async fn read(services: &[&Service]) -> anyhow::Result<RoundTrips> {
    RoundTrips::read(services, "generation").await
}

/// `  round trips per <unit>: ...` for `n` units: each step's Postgres statements and Redis
/// commands, and their sums.
pub fn per(trips: &RoundTrips, n: usize, unit: &str) -> String {
    if trips.is_empty() {
        return format!("  round trips per {unit}: not counted by this build");
    }
    let mut lines = vec![format!(
        "  round trips per {unit} (postgres statements + redis commands):"
    )];
    let (mut postgres, mut redis) = (0.0, 0.0);
    for step in Step::ALL {
        let (p, r) = (
            trips.per_job(step, Store::Postgres, n),
            trips.per_job(step, Store::Redis, n),
        );
        postgres += p;
        redis += r;
        lines.push(format!("    {:<8} {p:>5.2} + {r:>5.2}", step.as_str()));
    }
    lines.push(format!("    {:<8} {postgres:>5.2} + {redis:>5.2}", "all"));
    lines.join("\n")
}
