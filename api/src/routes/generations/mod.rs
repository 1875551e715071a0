//! Flashcard generations (seed 002): submit, then poll; review the suggestions.

mod dto;

pub use dto::*;

use almanac_shared::store::user_tx;
use almanac_shared::trips::{self, Step};
use almanac_shared::workspaces::Actor;
use almanac_shared::{
    domain::{
        RunStatus,
        generation::{self, CardType, GenerationJob, SourceText},
    },
    events::Event,
    jobs::{JobPayload as _, NewJob},
    store::generations::{self, NewGeneration},
};
use poem::web::Data;
use poem_openapi::{OpenApi, param::Header, param::Path, param::Query, payload::Json};
use uuid::Uuid;

use super::{Tag, clamp_limit, paginate};
use crate::{
    auth::UserAuth,
    body::StrictJson,
    error::{Answer, ApiError, ApiResult, can},
    idempotency::{self, Key},
    state::AppState,
    submit::Submit,
};

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
        let accepting = accept(&state, auth.user().actor(), body.0, idempotency_key.0);
        let accepted = trips::scope(GenerationJob::KIND, Step::Submit, accepting).await?;
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
        let mut tx = user_tx(&state.pool, auth.user().actor()).await?;
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
        let mut tx = user_tx(&state.pool, auth.user().actor()).await?;
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
    actor: Actor,
    command: CreateGenerationCommand,
    idempotency_key: Option<String>,
) -> ApiResult<CreateGenerationAccepted> {
    let user = actor.user;
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
                actor,
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
        actor,
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
    actor: Actor,
    source: &SourceText,
    model: Option<&str>,
    prompt_version: &str,
    card_types: &[CardType],
) -> ApiResult<Option<Uuid>> {
    let days = state.settings.ai.generation_dedup_days;
    if days == 0 {
        return Ok(None);
    }
    let mut tx = user_tx(&state.pool, actor).await?;
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
    actor: Actor,
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
    let generation_id = Uuid::now_v7();
    let job = NewJob::new(actor, &GenerationJob { generation_id })
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
    let submission = generations::Submission::new(NewGeneration {
        job: &job,
        generation_id,
        source_text: source.as_str(),
        model: model.as_deref(),
        prompt_version: &prompt_version,
        reused_from,
        card_types: &card_types,
        idempotency: idempotency.map(|key| (key, &accepted)),
    });
    // A reuse asks no AI: it takes no slot of the rate limit. The statement keeps the key
    // with its answer itself (`idempotency` above), so the flow holds the key alone.
    let earlier = Submit::new(state, actor, &state.settings.rate_limits.generations)
        .keyed(SCOPE, idempotency, serde_json::Value::Null)
        .in_one_statement(
            &job,
            &Event::queued(batches),
            reused_from.is_some(),
            state.submissions.statement(submission),
        )
        .await?;
    if let (Some(earlier), Some(key)) = (earlier, idempotency) {
        // The key's first request committed meanwhile: its answer, and its slot stays.
        return idempotency::replay(key, earlier);
    }
    tracing::info!(generation_id = %generation_id, job_id = %job.id, "generation accepted");
    Ok(accepted)
}
