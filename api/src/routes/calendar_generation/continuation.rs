//! `POST /v1/calendars/{id}/runs/{runId}/continue`: a plan that ended before every slot was
//! written (seed 000's timeout, a failure) is completed by a new run that asks the AI only
//! for the slots the calendar lacks and saves them straight into it; a regeneration that
//! reached the time limit, by one that asks for the slots its proposal lacks and adds them
//! to that proposal.

use std::collections::HashSet;

use almanac_shared::workspaces::Actor;
use almanac_shared::{
    domain::calendar::CalendarSpec,
    jobs::JobStatus,
    store::calendars::{self as store, Fills},
};
use poem::{Request, web::Data};
use poem_openapi::{OpenApi, param::Path};
use sqlx::{Postgres, Transaction};
use uuid::Uuid;

use super::{CalendarResponse, launch, run_job};
use crate::relay::AnswerAs;
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
    /// `cancelled`), or a regeneration that reached the time limit (`timeout`).
    ///
    /// No body. A new run, with its own `runId`, version and `CALENDAR_TIMEOUT_SECS`
    /// deadline, asks the AI only for the slots still missing. A first run's continuation
    /// takes the slots the calendar lacks (an entry deleted by hand stays deleted) and
    /// saves each entry straight into the calendar as it comes: there is nothing to
    /// accept, and its `diff` lists only `added`. A regeneration's continuation takes the
    /// slots its proposal lacks and adds their changes to that same proposal (its
    /// `proposalRunId`; `GET` and `accept` read it through either run); its `diff` counts
    /// only what it added, and once every slot is written the proposal also proposes
    /// removing the saved entries the request no longer covers. Answered as `POST
    /// /v1/ai/calendar` is: the run's stream, or 202 with `Prefer: respond-async` or an
    /// `Accept` asking only for JSON. 409 `RUN_NOT_FINISHED` while the run is generating,
    /// `RUN_SUPERSEDED` when a later run of the calendar exists (continue that one),
    /// `RUN_NOT_CONTINUABLE` for a regeneration that did not end `timeout` or whose
    /// proposal was partly or wholly accepted (regenerate again), `CALENDAR_COMPLETE` when
    /// every slot is already written, and `GENERATION_IN_PROGRESS` (with its `runId`)
    /// while another generation of the user runs.
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
        let actor = auth.user().actor();
        let answer = start(&state, actor, id.0, run_id.0, answer_as).await?;
        Ok(answer.preferred(answer_as == AnswerAs::AsyncPreferred))
    }
}

async fn start(
    state: &AppState,
    actor: Actor,
    calendar_id: Uuid,
    run_id: Uuid,
    answer_as: AnswerAs,
) -> Result<CalendarResponse, ApiError> {
    let (new_run, job) = run_job(actor);
    let limit = &state.settings.rate_limits.calendars;
    let mut open = Submit::new(state, actor, limit)
        .open(job)
        .await?
        .open()
        .await?;
    match continued(open.tx(), calendar_id, run_id).await {
        Ok((spec, proposal)) => {
            let fills = Fills::Continuation {
                id: calendar_id,
                continues: run_id,
                proposal,
            };
            launch(state, open, new_run, Ok(fills), &spec, answer_as.framing()).await
        }
        Err(refused) => Err(open.refuse(refused).await),
    }
}

/// The run to continue, checked (ended, the latest, with slots left; a regeneration only
/// when it reached the time limit and nothing of its proposal was accepted): the request
/// the new run repeats, and the proposal it adds to (a regeneration's).
async fn continued(
    tx: &mut Transaction<'static, Postgres>,
    calendar_id: Uuid,
    run_id: Uuid,
) -> ApiResult<(CalendarSpec, Option<Uuid>)> {
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
    if run.proposal.is_some() && run.status != JobStatus::Timeout {
        return Err(ApiError::conflict(
            "RUN_NOT_CONTINUABLE",
            format!(
                "this regeneration ended {} rather than at the time limit; regenerate to try again",
                run.status.as_str()
            ),
        ));
    }
    if run.accepted {
        return Err(ApiError::conflict(
            "RUN_NOT_CONTINUABLE",
            "changes of this regeneration were already accepted; regenerate to cover the rest",
        ));
    }
    let spec = CalendarSpec::from_json(&run.request.0).map_err(|e| {
        ApiError::internal(anyhow::anyhow!("a stored request no longer parses: {e}"))
    })?;
    let written: HashSet<String> = match run.proposal {
        Some(proposal) => store::proposal_keys(tx, proposal).await?,
        None => store::filled_keys(tx, calendar_id).await?,
    }
    .into_iter()
    .collect();
    let missing = spec
        .slots()
        .iter()
        .filter(|slot| !written.contains(&slot.key))
        .count();
    if missing == 0 {
        return Err(ApiError::conflict(
            "CALENDAR_COMPLETE",
            match run.proposal {
                Some(_) => {
                    "this regeneration's proposal already covers every slot; review and accept it"
                }
                None => {
                    "every slot of this calendar already has an entry; there is nothing to continue"
                }
            },
        ));
    }
    tracing::info!(%calendar_id, continues = %run_id, missing, "continuing a calendar run");
    Ok((spec, run.proposal))
}
