//! Flashcard generations (seed 002): submit, then poll; review the suggestions.

use almanac_shared::store::user_tx;
use almanac_shared::trips::{self, Step};
use almanac_shared::{
    domain::{
        RunStatus,
        generation::{self, CardType, GenerationJob, SourceText},
    },
    events::Event,
    jobs::{JobKind, NewJob},
    store::generations::{self, Generation, NewGeneration},
};
use chrono::{DateTime, Utc};
use poem::web::Data;
use poem_openapi::{
    ApiResponse, Object, OpenApi, param::Header, param::Path, param::Query, payload::Json,
};
use serde::Serialize;
use serde_json::Value;
use uuid::Uuid;

use super::{Tag, clamp_limit, paginate};
use crate::{
    auth::UserAuth,
    body::StrictJson,
    error::{Answer, ApiError, ApiResult, can},
    idempotency::{self, Key},
    rate_limit,
    state::AppState,
    text::Text,
};

/// `CreateAIGenerationCommand` of seed 002.
#[derive(Debug, Clone, Object, Serialize)]
pub struct CreateGenerationCommand {
    /// 1,000 characters once trimmed, 10,000 as sent.
    pub source_text: Text<{ generation::SOURCE_MIN_CHARS }, { generation::SOURCE_MAX_CHARS }>,
    /// Model id to use instead of the configured default.
    #[oai(nullable, validator(pattern = r"^[A-Za-z0-9._:@/-]{1,100}$"))]
    pub model: Option<String>,
    /// Prompt template version; `v1` when absent.
    #[oai(nullable, validator(pattern = "^v1$"))]
    pub prompt_version: Option<String>,
    /// `false`: ask the AI even when the same source text (with the same prompt version
    /// and model) was generated in the last `GENERATION_DEDUP_DAYS` days. By default such a
    /// request reuses that generation's suggestions, at no AI cost (`reused_from`).
    #[oai(nullable)]
    pub reuse: Option<bool>,
    /// The kinds of cards to write: `basic` (a question and its answer) and `cloze` (an
    /// enumeration or a definition with its parts hidden as `{{c1::...}}`, one card per
    /// list); `["basic"]` when absent.
    #[oai(nullable, validator(min_items = 1, max_items = 2, unique_items))]
    pub card_types: Option<Vec<CardType>>,
}

#[derive(Debug, Clone, Object, Serialize, serde::Deserialize)]
pub struct CreateGenerationAccepted {
    pub generation_id: Uuid,
    // An enum field goes undescribed: poem-openapi would wrap its `$ref` in an `allOf`,
    // which generated clients cannot read. The type's own description says it.
    pub status: RunStatus,
    /// The job in the ledger (`GET /v1/jobs/{id}`).
    pub job_id: Uuid,
    /// The earlier generation of the same source text whose still-proposed suggestions
    /// this one lists (the same suggestions, not copies); the AI is not asked again, and
    /// neither the rate limit nor the token budget is spent. Null when the AI is asked.
    #[oai(nullable)]
    #[serde(default)]
    pub reused_from: Option<Uuid>,
}

#[derive(ApiResponse)]
pub enum CreateGenerationResponse {
    /// Accepted: the generation runs in the background; poll `GET /api/ai/generations/{id}`.
    #[oai(status = 202)]
    Accepted(Json<CreateGenerationAccepted>),
}

#[derive(Debug, Clone, Object)]
pub struct SuggestionCounts {
    pub total: i64,
    pub proposed: i64,
    pub accepted: i64,
    pub rejected: i64,
    /// Suggestions the AI made that were left out: the same as one of the caller's cards,
    /// or as another suggestion of this generation (case, punctuation and spacing aside).
    pub duplicates_skipped: i64,
}

/// `AIGenerationDTO`: a generation with its outcome and suggestion counts.
#[derive(Debug, Clone, Object)]
pub struct GenerationDto {
    pub id: Uuid,
    pub status: RunStatus,
    /// Present on the single-generation view, omitted in lists.
    #[oai(skip_serializing_if_is_none)]
    #[oai(nullable)]
    pub source_text: Option<String>,
    #[oai(nullable)]
    pub model: Option<String>,
    pub prompt_version: String,
    /// The kinds of cards asked for (`basic`, `cloze`).
    pub card_types: Vec<CardType>,
    #[oai(nullable)]
    pub tokens_input: Option<i32>,
    #[oai(nullable)]
    pub tokens_output: Option<i32>,
    #[oai(nullable)]
    pub cost_usd: Option<f64>,
    /// Attribution: provider, model, latency, prompt version, attempts.
    #[oai(nullable)]
    pub ai_metadata: Option<Value>,
    /// Why the generation failed, when it did.
    #[oai(nullable)]
    pub error: Option<Value>,
    pub job_id: Uuid,
    /// The earlier generation whose suggestions this one lists (see `reused_from` of the
    /// submit's answer).
    #[oai(nullable)]
    pub reused_from: Option<Uuid>,
    pub suggestions: SuggestionCounts,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl From<Generation> for GenerationDto {
    fn from(r: Generation) -> Self {
        Self {
            id: r.id,
            status: r.status,
            source_text: r.source_text,
            model: r.model,
            prompt_version: r.prompt_version,
            card_types: r.card_types,
            tokens_input: r.tokens_input,
            tokens_output: r.tokens_output,
            cost_usd: r.cost_usd,
            ai_metadata: r.ai_metadata.map(|j| j.0),
            error: r.error.map(|j| j.0),
            job_id: r.job_id,
            reused_from: r.reused_from,
            suggestions: SuggestionCounts {
                total: r.total,
                proposed: r.proposed,
                accepted: r.accepted,
                rejected: r.rejected,
                duplicates_skipped: r.duplicates_skipped,
            },
            created_at: r.created_at,
            updated_at: r.updated_at,
        }
    }
}

#[derive(Debug, Clone, Object)]
pub struct GenerationList {
    pub items: Vec<GenerationDto>,
    /// Pass as `cursor` to get the next page; null on the last page.
    #[oai(nullable)]
    pub next_cursor: Option<Uuid>,
}

#[derive(Default)]
pub struct GenerationsApi;

#[OpenApi(tag = "Tag::Generations")]
impl GenerationsApi {
    /// Submit source text for flashcard generation.
    ///
    /// Answers 202 at once; a worker generates the suggestions. Send an
    /// `Idempotency-Key` to make retries safe: the same key and body within 24 h replays
    /// the first answer, the same key with another body is 422.
    #[oai(
        path = "/api/ai/generations",
        method = "post",
        operation_id = "createGeneration"
    )]
    async fn create(
        &self,
        state: Data<&AppState>,
        auth: UserAuth,
        body: StrictJson<CreateGenerationCommand>,
        /// 1-255 printable ASCII characters.
        #[oai(name = "Idempotency-Key", validator(pattern = "^[!-~]{1,255}$"))]
        idempotency_key: Header<Option<String>>,
    ) -> Answer<
        CreateGenerationResponse,
        { can::STORED | can::BODY | can::UNPROCESSABLE | can::TOO_MANY_REQUESTS },
    > {
        let accepting = accept(&state, auth.user().id, body.0, idempotency_key.0);
        let accepted = trips::scope(JobKind::Generation, Step::Submit, accepting).await?;
        Ok(CreateGenerationResponse::Accepted(Json(accepted)))
    }

    /// The caller's generations, newest first.
    #[oai(
        path = "/api/ai/generations",
        method = "get",
        operation_id = "listGenerations"
    )]
    async fn list(
        &self,
        state: Data<&AppState>,
        auth: UserAuth,
        /// Page size, 1-100 (default 20).
        #[oai(validator(minimum(value = "0"), maximum(value = "4294967295")))]
        limit: Query<Option<u32>>,
        /// `next_cursor` of the previous page.
        cursor: Query<Option<Uuid>>,
    ) -> Answer<Json<GenerationList>, { can::STORED | can::BAD_REQUEST }> {
        let limit = clamp_limit(limit.0);
        let mut tx = user_tx(&state.pool, auth.user().id).await?;
        let rows = generations::list(&mut tx, cursor.0, i64::from(limit) + 1).await?;
        tx.commit().await?;
        let (rows, next_cursor) = paginate(rows, limit, |r| r.id);
        Ok(Json(GenerationList {
            items: rows.into_iter().map(Into::into).collect(),
            next_cursor,
        }))
    }

    /// One generation with its status, usage and suggestion counts.
    #[oai(
        path = "/api/ai/generations/:id",
        method = "get",
        operation_id = "getGeneration"
    )]
    async fn get(
        &self,
        state: Data<&AppState>,
        auth: UserAuth,
        id: Path<Uuid>,
    ) -> Answer<Json<GenerationDto>, { can::BAD_REQUEST | can::STORED | can::NOT_FOUND }> {
        let mut tx = user_tx(&state.pool, auth.user().id).await?;
        let row = generations::get(&mut tx, id.0).await?;
        tx.commit().await?;
        Ok(row
            .map(|r| Json(r.into()))
            .ok_or_else(|| ApiError::not_found("generation"))?)
    }
}

/// A generation's request, checked, replayed (an `Idempotency-Key` used before) or
/// submitted: the steps of `createGeneration`, counted as the job's submit (`trips`).
async fn accept(
    state: &AppState,
    user: Uuid,
    command: CreateGenerationCommand,
    idempotency_key: Option<String>,
) -> ApiResult<CreateGenerationAccepted> {
    let source = SourceText::parse(&command.source_text)
        .map_err(|e| ApiError::invalid_field("source_text", e.to_string()))?;
    let model = command
        .model
        .as_deref()
        .map(generation::parse_model)
        .transpose()
        .map_err(|e| ApiError::invalid_field("model", e))?;
    let prompt_version = generation::parse_prompt_version(
        command
            .prompt_version
            .as_deref()
            .unwrap_or(generation::DEFAULT_PROMPT_VERSION),
    )
    .map_err(|e| ApiError::invalid_field("prompt_version", e))?;

    let idempotency = idempotency::from_header(idempotency_key, &command)?;
    if let Some(key) = &idempotency
        && let Some(earlier) = idempotency::earlier(&state.pool, user, SCOPE, key).await?
    {
        return idempotency::replay(key, earlier);
    }
    let mut card_types = command.card_types.clone().unwrap_or_default();
    card_types.sort_by_key(|t| *t as u8);
    card_types.dedup();
    if card_types.is_empty() {
        card_types.push(CardType::Basic);
    }
    let reused_from = match command.reuse {
        Some(false) => None,
        _ => {
            reusable(
                state,
                user,
                &source,
                model.as_deref(),
                &prompt_version,
                &card_types,
            )
            .await?
        }
    };
    submit(
        state,
        user,
        Submitted {
            source,
            model,
            prompt_version,
            card_types,
            reused_from,
        },
        idempotency.as_ref(),
    )
    .await
}

/// A request as checked: what the generation is made of.
struct Submitted {
    source: SourceText,
    model: Option<String>,
    prompt_version: String,
    card_types: Vec<CardType>,
    reused_from: Option<Uuid>,
}

/// `Idempotency-Key`'s endpoint name.
const SCOPE: &str = "generations";

/// The caller's earlier generation this request can reuse, if reuse is on.
async fn reusable(
    state: &AppState,
    user: Uuid,
    source: &SourceText,
    model: Option<&str>,
    prompt_version: &str,
    card_types: &[CardType],
) -> ApiResult<Option<Uuid>> {
    let days = state.settings.ai.generation_dedup_days;
    if days == 0 {
        return Ok(None);
    }
    let mut tx = user_tx(&state.pool, user).await?;
    let earlier = generations::reusable(
        &mut tx,
        source.as_str(),
        prompt_version,
        model,
        card_types,
        days,
    )
    .await?;
    tx.commit().await?;
    Ok(earlier)
}

/// Checks the rate limit, then writes the generation, its job and its idempotency key in
/// one statement, then hands the job to the queue. When the key turns out to have been
/// used meanwhile (a concurrent retry), nothing is written and the earlier answer is
/// replayed.
async fn submit(
    state: &AppState,
    user: Uuid,
    submitted: Submitted,
    idempotency: Option<&Key>,
) -> ApiResult<CreateGenerationAccepted> {
    let Submitted {
        source,
        model,
        prompt_version,
        card_types,
        reused_from,
    } = submitted;
    // A reuse asks no AI: it takes no slot of the rate limit.
    let slot = match reused_from {
        None => Some(
            rate_limit::take(
                state,
                &state.settings.rate_limits.generations,
                user,
                idempotency,
            )
            .await?,
        ),
        Some(_) => None,
    };
    let generation_id = Uuid::now_v7();
    let job = NewJob::new(user, &GenerationJob { generation_id })
        .with_request_id(crate::envelope::current_request_id());
    let accepted = CreateGenerationAccepted {
        generation_id,
        status: RunStatus::Pending,
        job_id: job.id,
        reused_from,
    };
    let batches = match reused_from {
        None => generation::batches(source.as_str()).len() as u64,
        Some(_) => 1,
    };
    // The job's first event goes before its commit: from the commit on, a worker may claim
    // the job and speak on its stream, and nothing may come before `queued`. Should the
    // statement write nothing, the stream of a job that never was expires unread.
    state
        .emitter
        .emit_first_or_log(job.id, &Event::queued(batches))
        .await;
    let submission = generations::Submission::new(
        user,
        NewGeneration {
            job: &job,
            generation_id,
            source_text: source.as_str(),
            model: model.as_deref(),
            prompt_version: &prompt_version,
            reused_from,
            card_types: &card_types,
            idempotency: idempotency.map(|key| (key, &accepted)),
        },
    );
    let written = state.submissions.statement(submission).await;
    match (written, idempotency) {
        (Ok(None), _) => {}
        // The key's first request committed meanwhile: its answer, and its slot stays.
        (Ok(Some(earlier)), Some(key)) => return idempotency::replay(key, earlier),
        (Ok(Some(_)), None) => {
            return Err(ApiError::internal(anyhow::anyhow!(
                "create_generation answered an earlier request though none had a key"
            )));
        }
        (Err(error), _) => {
            // Nothing was created (as far as the client will know), so the attempt does
            // not count against the user's limit.
            if let Some(slot) = slot {
                slot.refund(state).await;
            }
            return Err(crate::submit::job_write_failed(state, &job, error).await);
        }
    }
    state.queue.push_or_log(job.kind, job.id, None).await;
    tracing::info!(generation_id = %generation_id, job_id = %job.id, "generation accepted");
    Ok(accepted)
}
