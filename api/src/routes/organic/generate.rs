//! `POST /api/organic/generate-calendar` (seed 003), also at `POST /generate-calendar`,
//! the seed's upstream path: the request is checked whole (every problem listed), the
//! brand and the accounts it names are the caller's, then the run is written with its job
//! and the answer is the job's NDJSON stream (SSE on `Accept: text/event-stream`).

use almanac_shared::jobs::JobRecord;
use almanac_shared::store::jobs as ledger;
use std::collections::BTreeSet;

use almanac_shared::workspaces::Actor;
use almanac_shared::{
    domain::organic::{OrganicJob, OrganicSpec, SeedPlatform},
    events::Event,
    jobs::{JobPayload as _, NewJob},
    store::organic::{self as store, NewRun},
};
use poem::{Body, IntoResponse, Request, Response, web::Data};
use poem_openapi::{
    ApiResponse, OpenApi,
    param::Header,
    registry::{MetaHeader, MetaResponses, Registry},
    types::Type,
};
use serde_json::{Value, json};
use sqlx::{Postgres, Transaction};
use uuid::Uuid;

use super::dto::*;
use crate::{
    auth::UserAuth,
    body::ListedJson,
    error::{Answer, ApiError, ApiResult, ErrorEnvelope, can},
    idempotency::{self, Earlier, Key},
    relay::{self, Framing, Vocabulary},
    routes::Tag,
    state::AppState,
    submit::{Opened, Submit},
};

/// The answer: the job's event stream.
pub struct GenerateResponse {
    framing: Framing,
    job: Uuid,
    body: Body,
}

impl ApiResponse for GenerateResponse {
    fn meta() -> MetaResponses {
        let mut stream = Framing::documented(
            "The generation's events, one JSON object a line (`application/x-ndjson`, the \
             default) or as server-sent events (`Accept: text/event-stream`).",
            "OrganicEvent",
        );
        stream.headers.push(MetaHeader {
            name: "X-Job-Id".into(),
            description: Some("The generation's job.".into()),
            required: true,
            deprecated: false,
            schema: Uuid::schema_ref(),
        });
        MetaResponses {
            responses: vec![stream],
        }
    }

    fn register(registry: &mut Registry) {
        OrganicEvent::register(registry);
        crate::relay::Framing::register(registry);
    }
}

impl IntoResponse for GenerateResponse {
    fn into_response(self) -> Response {
        let mut response = self.framing.response(self.body);
        response.headers_mut().insert(
            "x-job-id",
            self.job
                .to_string()
                .parse()
                .expect("a uuid is a header value"),
        );
        response
    }
}

/// What a generation can be refused with.
const REFUSALS: u32 = can::STORED
    | can::BODY
    | can::FORBIDDEN
    | can::NOT_FOUND
    | can::CONFLICT
    | can::UNPROCESSABLE
    | can::TOO_MANY_REQUESTS;

#[derive(Default)]
pub struct OrganicGenerateApi;

#[OpenApi(tag = "Tag::Organic")]
impl OrganicGenerateApi {
    /// Fill a week with placements, streamed as they are drafted (seed 003).
    ///
    /// Each seeded placement (and, with `schedulePreset`, each auto-filled one, and the
    /// newsletter) becomes a `placement` line or an `error` line naming its
    /// `placementId`; two posts of one account closer than `ORGANIC_MIN_GAP_MINUTES` (30)
    /// are moved to the nearest later free time that day inside the brand's posting
    /// window (5-minute steps, `schedule.adjusted: true`). Placements are saved per
    /// (brand, week, `placementId`): a regeneration replaces the ones it names and keeps
    /// the others; one you edited is kept (`edited: true`) unless
    /// `options.overwriteEdited`. With `options.learnFromResults` (by default once you have
    /// 10 measured posts on the week's platforms), the AI is shown each platform's three
    /// best and three worst recent posts, and `complete` names them (`learnedFrom: {best,
    /// worst}`). The last line is `complete`. The job can be followed
    /// again, resumed or cancelled at `/v1/jobs/{jobId}`. One generation per brand at a
    /// time (409 `ORGANIC_GENERATION_IN_PROGRESS`).
    #[oai(
        path = "/api/organic/generate-calendar",
        method = "post",
        operation_id = "generateOrganicCalendar"
    )]
    async fn generate(
        &self,
        request: &Request,
        state: Data<&AppState>,
        auth: UserAuth,
        body: ListedJson<GenerateCalendarRequest>,
        /// Retrying with the same key and body streams the first request's job again
        /// (within 24 h); the same key with another body is 422. 1-255 printable ASCII.
        #[oai(name = "Idempotency-Key", validator(pattern = "^[!-~]{1,255}$"))]
        idempotency_key: Header<Option<String>>,
    ) -> Answer<GenerateResponse, REFUSALS> {
        Ok(generate(
            request,
            &state,
            auth.user().actor(),
            &body.0,
            idempotency_key.0,
        )
        .await?)
    }

    /// `POST /api/organic/generate-calendar` at the seed's upstream path, so a proxy's
    /// `ORGANIC_SERVICE_BASE_URL` can point at Almanac.
    #[oai(
        path = "/generate-calendar",
        method = "post",
        operation_id = "generateOrganicCalendarUpstream"
    )]
    async fn generate_upstream(
        &self,
        request: &Request,
        state: Data<&AppState>,
        auth: UserAuth,
        body: ListedJson<GenerateCalendarRequest>,
        /// Retrying with the same key and body streams the first request's job again
        /// (within 24 h); the same key with another body is 422. 1-255 printable ASCII.
        #[oai(name = "Idempotency-Key", validator(pattern = "^[!-~]{1,255}$"))]
        idempotency_key: Header<Option<String>>,
    ) -> Answer<GenerateResponse, REFUSALS> {
        Ok(generate(
            request,
            &state,
            auth.user().actor(),
            &body.0,
            idempotency_key.0,
        )
        .await?)
    }
}

/// `Idempotency-Key`'s endpoint name (both paths are one endpoint).
const SCOPE: &str = "organic";

async fn generate(
    request: &Request,
    state: &AppState,
    actor: Actor,
    body: &Value,
    idempotency_key: Option<String>,
) -> ApiResult<GenerateResponse> {
    let spec = OrganicSpec::parse(body, state.settings.organic.max_placements)
        .map_err(|problems| ApiError::problems(&problems))?;
    let framing = match Framing::requested(request) {
        Some(Framing::Sse) => Framing::Sse,
        _ => Framing::Ndjson,
    };
    let key = idempotency::from_header(idempotency_key, body)?;
    let run_id = Uuid::now_v7();
    let job = NewJob::new(actor, &OrganicJob { run_id })
        .with_request_id(crate::envelope::current_request_id());
    let job_id = job.id;
    let limit = &state.settings.rate_limits.organic;
    let answer = json!({ "jobId": job_id, "runId": run_id });
    let submit = Submit::new(state, actor, limit).keyed(SCOPE, key.as_ref(), answer);
    let mut open = match submit.open(job).await? {
        Opened::Earlier(earlier) => {
            let key = key
                .as_ref()
                .expect("only a keyed request meets an earlier one");
            return replay(state, key, earlier, framing).await;
        }
        opened => opened.open().await?,
    };
    let written = async {
        let stored = learn_from_results(open.tx(), &spec, body).await?;
        write_run(open.tx(), job_id, run_id, &spec, &stored).await
    }
    .await;
    open.commit(written).await?;
    tracing::info!(runId = %run_id, job_id = %job_id, brand_id = %spec.brand_id, week_start = %spec.week_start, "organic run accepted");
    Ok(stream(state, job_id, None, framing))
}

/// The request as the run keeps it: with `learnedFrom`, the caller's best and worst recent
/// posts on the week's platforms, when the week learns from them (`options.learnFromResults`;
/// by default once they have 10 measured posts there).
async fn learn_from_results(
    tx: &mut Transaction<'static, Postgres>,
    spec: &OrganicSpec,
    body: &Value,
) -> ApiResult<Value> {
    use almanac_shared::{domain::analytics, store::analytics as measured};
    let mut platforms: Vec<&str> = spec
        .platform_account_ids
        .keys()
        .chain(spec.seeds.iter().map(|seed| &seed.platform))
        .chain(spec.options.preferred_platforms.iter())
        .map(|platform| platform.as_str())
        .collect();
    platforms.sort_unstable();
    platforms.dedup();
    let mut stored = body.clone();
    if spec.options.learn == Some(false) || platforms.is_empty() {
        return Ok(stored);
    }
    let rated = measured::rated_posts(tx, &platforms, chrono::Utc::now()).await?;
    if let Some(learned) = analytics::to_learn_from(spec.options.learn, rated)
        && stored.is_object()
    {
        stored["learnedFrom"] = serde_json::to_value(learned).unwrap_or_default();
    }
    Ok(stored)
}

/// The stream of `job` from its first event (`ended`: its ledger row, if it has ended).
fn stream(
    state: &AppState,
    job: Uuid,
    ended: Option<JobRecord>,
    framing: Framing,
) -> GenerateResponse {
    let body = relay::relay(
        state.relay_deps(),
        job,
        0,
        ended,
        (framing, Vocabulary::Organic),
        ("/api/organic/generate-calendar", OrganicJob::KIND),
        None,
    );
    GenerateResponse {
        framing,
        job,
        body: Body::from_bytes_stream(futures::StreamExt::map(body, Ok::<_, std::io::Error>)),
    }
}

/// A retried request answered with its first request's job, from the first event.
async fn replay(
    state: &AppState,
    key: &Key,
    earlier: Earlier,
    framing: Framing,
) -> ApiResult<GenerateResponse> {
    let first: Value = idempotency::replay(key, earlier)?;
    let job = first["jobId"]
        .as_str()
        .and_then(|id| id.parse::<Uuid>().ok())
        .ok_or_else(|| {
            ApiError::internal(anyhow::anyhow!("an idempotent answer without its job"))
        })?;
    let record = ledger::fetch(&state.pool, job).await?;
    let ended = record.filter(|r| r.status.is_final());
    metrics::counter!("idempotent_replays_total", "scope" => SCOPE).increment(1);
    Ok(stream(state, job, ended, framing))
}

/// The run's rows: the brand and the accounts the request names are the caller's (404,
/// 403), and no other run of the brand is going (409); with the job's first event.
async fn write_run(
    tx: &mut Transaction<'static, Postgres>,
    job_id: Uuid,
    run_id: Uuid,
    spec: &OrganicSpec,
    body: &Value,
) -> ApiResult<((), Event)> {
    super::brands::brand(tx, &spec.brand_id).await?;
    let linked = store::brand_accounts(tx, &spec.brand_id).await?;
    let linked: BTreeSet<(SeedPlatform, &str)> = linked
        .iter()
        .map(|a| (a.platform, a.account_id.as_str()))
        .collect();
    let unlinked: Vec<Value> = spec
        .named_accounts()
        .iter()
        .filter(|(p, a)| !linked.contains(&(*p, a.as_str())))
        .map(|(p, a)| json!({ "platform": p, "accountId": a }))
        .collect();
    if !unlinked.is_empty() {
        return Err(ApiError::forbidden(
            "ACCOUNT_NOT_LINKED",
            format!(
                "{} account(s) the request names are not linked to brand `{}`: link them with \
                 POST /api/organic/brands/{{id}}/accounts",
                unlinked.len(),
                spec.brand_id
            ),
            Some(json!({ "accounts": unlinked })),
        ));
    }
    let run = NewRun {
        id: run_id,
        brand: &spec.brand_id,
        week_start: spec.week_start,
        job_id,
        request: body,
    };
    if !store::insert_run(tx, run).await? {
        let active = store::active_run(tx, &spec.brand_id).await?;
        metrics::counter!("organic_runs_refused_total", "reason" => "in_progress").increment(1);
        let details = active.map(|(run, job, week)| {
            json!({ "runId": run, "jobId": job, "weekStart": week, "brandProfileId": spec.brand_id })
        });
        return Err(ApiError::Conflict(ErrorEnvelope::new(
            "ORGANIC_GENERATION_IN_PROGRESS",
            format!(
                "a generation for brand `{}` is still running; follow or cancel its job (in \
                 details) first",
                spec.brand_id
            ),
            details,
        )));
    }
    let first = Event::progress(
        0,
        spec.seeds.len() as u64,
        "analyzing",
        "queued: waiting for a worker",
    );
    Ok(((), first))
}
