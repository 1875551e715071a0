//! `POST /v1/calendars/{id}/runs/{runId}/continue`: a plan that ended before every slot was
//! written (seed 000's timeout, a failure) is completed by a new run that asks the AI only
//! for the slots the calendar lacks and saves them straight into it.

use std::collections::HashSet;

use almanac_shared::{
    domain::calendar::CalendarSpec,
    store::calendars::{self as store, Fills},
};
use poem::{Request, web::Data};
use poem_openapi::{OpenApi, param::Path};
use sqlx::{Postgres, Transaction};
use uuid::Uuid;

use super::{AnswerAs, CalendarResponse, launch, run_job};
use crate::{
    auth::UserAuth,
    error::{Answer, ApiError, ApiResult, can},
    routes::Tag,
    state::AppState,
    submit::Submit,
};

#[derive(Default)]
pub struct ContinueApi;

#[OpenApi(tag = "Tag::Calendars")]
impl ContinueApi {
    /// Continue a run that ended before writing every slot (`timeout`, `failed`,
    /// `cancelled`).
    ///
    /// No body. A new run, with its own `runId`, version and `CALENDAR_TIMEOUT_SECS`
    /// deadline, asks the AI only for the slots the calendar lacks (an entry deleted by
    /// hand stays deleted) and saves each entry straight into the calendar as it comes:
    /// there is nothing to accept, and its `diff` lists only `added`. Answered as `POST
    /// /v1/ai/calendar` is: the run's stream, or 202 with `Prefer: respond-async` or an
    /// `Accept` asking only for JSON. 409 `RUN_NOT_FINISHED` while the run is generating,
    /// `RUN_SUPERSEDED` when a later run of the calendar exists (continue that one),
    /// `RUN_NOT_CONTINUABLE` for a regeneration (it proposes changes: regenerate again),
    /// `CALENDAR_COMPLETE` when every slot already has an entry, and
    /// `GENERATION_IN_PROGRESS` (with its `runId`) while another generation of the user
    /// runs.
    #[oai(
        path = "/v1/calendars/:id/runs/:run_id/continue",
        method = "post",
        operation_id = "continueCalendarRun"
    )]
    async fn continue_run(
        &self,
        request: &Request,
        state: Data<&AppState>,
        auth: UserAuth,
        id: Path<Uuid>,
        run_id: Path<Uuid>,
    ) -> Answer<
        CalendarResponse,
        {
            can::STORED | can::BAD_REQUEST | can::NOT_FOUND | can::CONFLICT | can::TOO_MANY_REQUESTS
        },
    > {
        let answer_as = AnswerAs::negotiated(request);
        let user = auth.user().id;
        let answer = start(&state, user, id.0, run_id.0, answer_as).await?;
        Ok(answer.preferred(answer_as == AnswerAs::AsyncPreferred))
    }
}

async fn start(
    state: &AppState,
    user: Uuid,
    calendar_id: Uuid,
    run_id: Uuid,
    answer_as: AnswerAs,
) -> Result<CalendarResponse, ApiError> {
    let (new_run, job) = run_job(user);
    let limit = &state.settings.rate_limits.calendars;
    let mut open = Submit::new(state, user, limit)
        .open(job)
        .await?
        .open()
        .await?;
    match continued(open.tx(), calendar_id, run_id).await {
        Ok(spec) => {
            let fills = Fills::Continuation {
                id: calendar_id,
                continues: run_id,
            };
            launch(state, open, new_run, Ok(fills), &spec, answer_as.framing()).await
        }
        Err(refused) => Err(open.refuse(refused).await),
    }
}

/// The run to continue, checked (ended, the latest, filling the calendar, with slots left):
/// the request the new run repeats.
async fn continued(
    tx: &mut Transaction<'static, Postgres>,
    calendar_id: Uuid,
    run_id: Uuid,
) -> ApiResult<CalendarSpec> {
    let run = store::run_to_continue(tx, calendar_id, run_id)
        .await?
        .ok_or_else(|| ApiError::not_found("run"))?;
    if !run.status.is_final() {
        return Err(ApiError::conflict(
            "RUN_NOT_FINISHED",
            "this run is still generating; continue it once it has ended",
        ));
    }
    if !run.latest {
        return Err(ApiError::conflict(
            "RUN_SUPERSEDED",
            "a later run of this calendar exists; continue the latest one",
        ));
    }
    if !run.applies_directly {
        return Err(ApiError::conflict(
            "RUN_NOT_CONTINUABLE",
            "this run proposed changes to the calendar rather than filling it; regenerate to cover the rest",
        ));
    }
    let spec = CalendarSpec::from_json(&run.request.0).map_err(|e| {
        ApiError::internal(anyhow::anyhow!("a stored request no longer parses: {e}"))
    })?;
    let filled: HashSet<String> = store::filled_keys(tx, calendar_id)
        .await?
        .into_iter()
        .collect();
    let missing = spec
        .slots()
        .iter()
        .filter(|slot| !filled.contains(&slot.key))
        .count();
    if missing == 0 {
        return Err(ApiError::conflict(
            "CALENDAR_COMPLETE",
            "every slot of this calendar already has an entry; there is nothing to continue",
        ));
    }
    tracing::info!(%calendar_id, continues = %run_id, missing, "continuing a calendar run");
    Ok(spec)
}
