//! A job's round trips by step, read from the processes' `job_round_trips_total{kind,
//! step, store}` (counted by the code that makes them: `almanac_shared::trips`), for the
//! generation jobs the phases submit.

use std::collections::BTreeMap;

use almanac_shared::trips::Step;
use almanac_tests::processes::{Service, round_trips};

/// Round trips of generation jobs so far, by step and store, summed over processes.
#[derive(Default)]
pub struct Trips(BTreeMap<(String, String), f64>);

impl Trips {
    /// What `services` have counted so far (nothing from a build that does not count).
    pub async fn read(services: &[&Service]) -> anyhow::Result<Self> {
        Ok(Self(round_trips(services, "generation").await?))
    }

    /// What was counted since `before`.
    pub fn since(mut self, before: &Self) -> Self {
        for (key, value) in &before.0 {
            *self.0.entry(key.clone()).or_default() -= value;
        }
        self
    }

    /// `  round trips per <unit>: ...` for `n` units: each step's Postgres statements and
    /// Redis commands, and their sums.
    pub fn per(&self, n: usize, unit: &str) -> String {
        if self.0.is_empty() {
            return format!("  round trips per {unit}: not counted by this build");
        }
        let each = |step: &str, store: &str| {
            self.0
                .get(&(step.to_owned(), store.to_owned()))
                .copied()
                .unwrap_or_default()
                / n.max(1) as f64
        };
        let mut lines = vec![format!(
            "  round trips per {unit} (postgres statements + redis commands):"
        )];
        let (mut postgres, mut redis) = (0.0, 0.0);
        for step in Step::ALL {
            let (p, r) = (
                each(step.as_str(), "postgres"),
                each(step.as_str(), "redis"),
            );
            postgres += p;
            redis += r;
            lines.push(format!("    {:<8} {p:>5.2} + {r:>5.2}", step.as_str()));
        }
        lines.push(format!("    {:<8} {postgres:>5.2} + {redis:>5.2}", "all"));
        lines.join("\n")
    }
}
