//! `GET /v1/usage`: the caller's AI usage, tokens and cost by UTC day and job kind, where
//! they stand against the daily budget (`AI_WORKSPACE_DAILY_TOKENS`), and their jobs waiting and
//! running by kind and lane.

mod dto;

pub use dto::*;

use almanac_shared::store::user_tx;
use almanac_shared::{
    jobs::{JobKind, Lane},
    store, usage,
};
use chrono::Utc;
use poem::web::Data;
use poem_openapi::{OpenApi, param::Query, payload::Json};

use super::Tag;
use crate::{
    auth::UserAuth,
    envelope::Envelope,
    error::{Answer, can},
    state::AppState,
    text::IsoDate,
};

/// The longest period one report covers.
const MAX_DAYS: u64 = 366;
/// The period when none is given: the last 30 days, today included.
const DEFAULT_DAYS: u64 = 30;

#[derive(Default)]
pub struct UsageApi;

#[OpenApi(tag = "Tag::Usage")]
impl UsageApi {
    /// The caller's AI usage: tokens and cost by UTC day and job kind from `from` to `to`
    /// (inclusive; default the last 30 days, at most 366; an impossible date or period is
    /// 422), and today's standing against the daily token budget.
    #[oai(path = "/v1/usage", method = "get", operation_id = "getUsage")]
    async fn get(
        &self,
        state: Data<&AppState>,
        auth: UserAuth,
        /// First UTC day (`YYYY-MM-DD`).
        from: Query<Option<IsoDate>>,
        /// Last UTC day (`YYYY-MM-DD`).
        to: Query<Option<IsoDate>>,
    ) -> Answer<Json<Envelope<UsageReport>>, { can::STORED | can::BAD_REQUEST | can::UNPROCESSABLE }>
    {
        let now = Utc::now();
        let (from, to) =
            IsoDate::period(&from.0, &to.0, now.date_naive(), (DEFAULT_DAYS, MAX_DAYS))?;
        let user = auth.user().id;
        let actor = auth.user().actor();
        let mut tx = user_tx(&state.pool, actor).await?;
        let rows = store::usage::report(&mut *tx, user, from, to).await?;
        let used = store::usage::today(&mut *tx, user).await?;
        let unfinished = store::jobs::unfinished(&mut *tx, Some(user)).await?;
        tx.commit().await?;
        let jobs = JobKind::BUILT_IN
            .iter()
            .flat_map(|&kind| Lane::ALL.iter().map(move |&lane| (kind, lane)))
            .map(|(kind, lane)| {
                let (queued, running) = unfinished
                    .iter()
                    .find(|count| (count.kind, count.lane) == (kind, lane))
                    .map_or((0, 0), |count| (count.pending, count.running));
                UsageJobs {
                    kind,
                    lane,
                    queued,
                    running,
                }
            })
            .collect();
        let days: Vec<UsageDay> = rows
            .into_iter()
            .map(|row| UsageDay {
                day: row.day,
                kind: row.kind,
                calls: row.calls,
                tokens_input: row.tokens_input,
                tokens_output: row.tokens_output,
                tokens: row.tokens_input + row.tokens_output,
                cost_usd: row.cost_usd,
            })
            .collect();
        let totals = UsageTotals {
            calls: days.iter().map(|d| i64::from(d.calls)).sum(),
            tokens_input: days.iter().map(|d| d.tokens_input).sum(),
            tokens_output: days.iter().map(|d| d.tokens_output).sum(),
            tokens: days.iter().map(|d| d.tokens).sum(),
            cost_usd: days.iter().map(|d| d.cost_usd).sum(),
        };
        let limit = state.settings.ai.workspace_daily_tokens;
        Ok(Envelope::of(UsageReport {
            from,
            to,
            days,
            totals,
            today: UsageToday {
                tokens: used,
                limit,
                remaining: limit.map(|limit| limit.saturating_sub(used.max(0) as u64)),
                resets_at: usage::resets_at(now),
            },
            jobs,
        }))
    }
}
