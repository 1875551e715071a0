//! What a calendar request learns from the caller's results (issue 58), read in the
//! transaction that writes its run.

use sqlx::{Acquire, Postgres, Transaction};

use crate::{domain::analytics, domain::calendar::CalendarSpec, store};

/// Without `constraints.timesOfDay`, the channels that name exactly one of the caller's
/// connected channels with a history of their own post at its best hours
/// (`store::analytics::learned_times`), the others at 09:00; with `learnFromResults` (by
/// default, once the caller has 10 measured posts on the channels), the AI is shown each
/// channel's best and worst recent posts. A store that cannot be read leaves the request as
/// it would be without results. It reads in the caller's transaction `tx` (the submit's own:
/// no second connection per request), under a savepoint that a failed read rolls back.
pub async fn learn_from_results(tx: &mut Transaction<'static, Postgres>, spec: &mut CalendarSpec) {
    let channels: Vec<&str> = spec.channels.iter().map(|c| c.as_str()).collect();
    let (zone, per_day) = (spec.constraints.timezone, spec.constraints.posts_per_day);
    let times_given = spec.constraints.times_given;
    let read = async {
        let mut savepoint = tx.begin().await?;
        let times = match times_given {
            true => Default::default(),
            false => {
                store::analytics::learned_times(&mut savepoint, &channels, zone, per_day).await?
            }
        };
        let rated =
            store::analytics::rated_posts(&mut savepoint, &channels, chrono::Utc::now()).await?;
        savepoint.commit().await?;
        Ok::<_, sqlx::Error>((times, rated))
    };
    let (times, rated) = match read.await {
        Ok(read) => read,
        Err(error) => {
            tracing::warn!(%error, "the caller's results could not be read; planning without them");
            return;
        }
    };
    spec.learned = times;
    spec.learned_from = analytics::to_learn_from(spec.constraints.learn, rated);
}
