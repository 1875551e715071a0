//! What an organic run reads and writes (seed 003): the user's library and saved week as
//! the worker reads them, and how it saves what it produced. The worker is the service
//! role, so every statement names the user.

use chrono::{DateTime, NaiveDate, NaiveTime, Utc};
use serde_json::Value;
use sqlx::{PgConnection, PgPool, types::Json};
use uuid::Uuid;

use crate::domain::organic::{
    creative::Asset,
    plan::{Brand, Library, SavedPlacement, Trend},
    schedule::Window,
};

/// An organic job's first step, in its claim's statement (`store::jobs::claim`): the run
/// becomes `running`; its request comes back with the placements an earlier attempt already
/// produced.
pub const START: &str = "update organic_runs r set status = 'running',
        started_at = coalesce(r.started_at, now())
    from claimed where r.id = (claimed.payload ->> 'run_id')::uuid
    returning claimed.id as claimed_job, r.id, r.user_id, r.brand_id, r.week_start, r.request,
        (select coalesce(jsonb_agg(i.placement_id), '[]'::jsonb) from organic_run_items i
         where i.run_id = r.id) as done_ids";

/// How many trends and assets a run reads at most.
const LIBRARY_MAX: i64 = 2_000;

/// The run's user, brand and week.
#[derive(Debug, Clone)]
pub struct RunRef {
    pub id: Uuid,
    pub user_id: Uuid,
    pub workspace_id: Uuid,
    pub brand_id: String,
    pub week_start: NaiveDate,
    pub timezone: String,
}

/// What a run reads before planning: the brand with its workspace's trends and assets
/// (`None` when the brand is gone) and the workspace's saved placements of the week. The
/// four reads go out at once, on connections of their own.
pub async fn inputs(
    pool: &PgPool,
    workspace: Uuid,
    brand: &str,
    week: NaiveDate,
) -> sqlx::Result<(Option<Library>, Vec<SavedPlacement>)> {
    type BrandRow = (
        String,
        String,
        Option<String>,
        Option<String>,
        Vec<String>,
        NaiveTime,
        NaiveTime,
    );
    let brand = sqlx::query_as::<_, BrandRow>(
        "select id, name, voice, guidance, hashtags, window_start, window_end
         from brand_profiles where workspace_id = $1 and id = $2",
    )
    .bind(workspace)
    .bind(brand)
    .fetch_optional(pool);
    let trends = sqlx::query_as::<_, Trend>(
        "select id, kind, title, description, keywords, priority from organic_trends
         where workspace_id = $1 order by priority desc, id limit $2",
    )
    .bind(workspace)
    .bind(LIBRARY_MAX)
    .fetch_all(pool);
    let assets = sqlx::query_as::<_, Asset>(
        "select id, kind, title, tags from creative_assets where workspace_id = $1 order by id limit $2",
    )
    .bind(workspace)
    .bind(LIBRARY_MAX)
    .fetch_all(pool);
    let (brand, trends, assets, saved) =
        tokio::try_join!(brand, trends, assets, saved_week(pool, workspace, week))?;
    let library = brand.map(
        |(id, name, voice, guidance, hashtags, start, end)| Library {
            brand: Brand {
                id,
                name,
                voice,
                guidance,
                hashtags,
                window: Window { start, end },
            },
            trends,
            assets,
        },
    );
    Ok((library, saved))
}

/// The workspace's saved placements of the week, across its brands.
async fn saved_week(
    pool: &PgPool,
    workspace: Uuid,
    week: NaiveDate,
) -> sqlx::Result<Vec<SavedPlacement>> {
    type Row = (
        String,
        String,
        String,
        Option<String>,
        DateTime<Utc>,
        bool,
        Json<Value>,
    );
    let rows: Vec<Row> = sqlx::query_as(
        "select brand_id, placement_id, platform, account_id, scheduled_at, edited, placement
         from organic_placements where workspace_id = $1 and week_start = $2",
    )
    .bind(workspace)
    .bind(week)
    .fetch_all(pool)
    .await?;
    Ok(rows
        .into_iter()
        .map(
            |(brand_id, placement_id, platform, account, scheduled_at, edited, placement)| {
                SavedPlacement {
                    brand_id,
                    placement_id,
                    account: account.map(|a| (platform, a)),
                    scheduled_at,
                    edited,
                    placement: placement.0,
                }
            },
        )
        .collect())
}

/// What a run produced for one placement.
#[derive(Debug, Clone)]
pub enum Outcome {
    /// A drafted placement, saved into the week.
    Placed {
        placement: Value,
        platform: String,
        account_id: Option<String>,
        scheduled_at: DateTime<Utc>,
        adjusted: bool,
        auto: bool,
    },
    /// An edited placement kept as it was (the saved row stays untouched).
    Kept,
    Failed,
}

/// Saves a batch of outcomes: each drafted placement's row in the week (replacing the
/// copy saved under its `placementId`) and the run's record of every outcome, which a
/// retried attempt reads to skip them; written once however often a job runs.
pub async fn save_outcomes(
    conn: &mut PgConnection,
    run: &RunRef,
    outcomes: &[(String, Outcome)],
) -> sqlx::Result<()> {
    let mut ids = Vec::with_capacity(outcomes.len());
    let mut kinds = Vec::with_capacity(outcomes.len());
    let mut adjusted = Vec::with_capacity(outcomes.len());
    let mut auto = Vec::with_capacity(outcomes.len());
    for (id, outcome) in outcomes {
        ids.push(id.as_str());
        let (kind, moved, filled) = match outcome {
            Outcome::Placed { adjusted, auto, .. } => ("placement", *adjusted, *auto),
            Outcome::Kept => ("placement", false, false),
            Outcome::Failed => ("error", false, false),
        };
        kinds.push(kind);
        adjusted.push(moved);
        auto.push(filled);
    }
    sqlx::query(
        "insert into organic_run_items (run_id, user_id, placement_id, outcome, adjusted, auto)
         select $1, $2, * from unnest($3::text[], $4::text[], $5::bool[], $6::bool[])
         on conflict (run_id, placement_id) do nothing",
    )
    .bind(run.id)
    .bind(run.user_id)
    .bind(&ids)
    .bind(&kinds)
    .bind(&adjusted)
    .bind(&auto)
    .execute(&mut *conn)
    .await?;
    let placed: Vec<_> = outcomes
        .iter()
        .filter_map(|(id, outcome)| match outcome {
            Outcome::Placed {
                placement,
                platform,
                account_id,
                scheduled_at,
                ..
            } => Some((
                id.as_str(),
                placement,
                platform.as_str(),
                account_id.as_deref(),
                *scheduled_at,
            )),
            _ => None,
        })
        .collect();
    if placed.is_empty() {
        return Ok(());
    }
    let ids: Vec<&str> = placed.iter().map(|p| p.0).collect();
    let placements: Vec<Json<&Value>> = placed.iter().map(|p| Json(p.1)).collect();
    let platforms: Vec<&str> = placed.iter().map(|p| p.2).collect();
    let accounts: Vec<Option<&str>> = placed.iter().map(|p| p.3).collect();
    let times: Vec<DateTime<Utc>> = placed.iter().map(|p| p.4).collect();
    sqlx::query(
        "insert into organic_placements (user_id, brand_id, week_start, placement_id, platform,
             account_id, scheduled_at, timezone, placement, run_id)
         select $1, $2, $3, p.id, p.platform, p.account, p.at, $4, p.placement, $5
         from unnest($6::text[], $7::text[], $8::text[], $9::timestamptz[], $10::jsonb[])
             as p (id, platform, account, at, placement)
         on conflict (workspace_id, brand_id, week_start, placement_id) do update set
             platform = excluded.platform, account_id = excluded.account_id,
             scheduled_at = excluded.scheduled_at, timezone = excluded.timezone,
             placement = excluded.placement, run_id = excluded.run_id, edited = false,
             edited_at = null, updated_at = now()",
    )
    .bind(run.user_id)
    .bind(&run.brand_id)
    .bind(run.week_start)
    .bind(&run.timezone)
    .bind(run.id)
    .bind(&ids)
    .bind(&platforms)
    .bind(&accounts)
    .bind(&times)
    .bind(&placements)
    .execute(conn)
    .await?;
    Ok(())
}

/// Ends the run with `status` and returns its summary (the job's result).
pub async fn finish_run(conn: &mut PgConnection, run: Uuid, status: &str) -> sqlx::Result<Value> {
    sqlx::query("update organic_runs set status = $2, finished_at = now() where id = $1")
        .bind(run)
        .bind(status)
        .execute(&mut *conn)
        .await?;
    sqlx::query_scalar("select organic_run_summary($1)")
        .bind(run)
        .fetch_one(conn)
        .await
}
