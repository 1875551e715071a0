//! Themes and their syntheses (seed 004); schedules and deliveries are in `schedules`.
//! Owner only; the bodies are seed 004's documented shapes; invalid values are 422.

mod dto;

pub use dto::*;

use almanac_shared::store::user_tx;
use almanac_shared::workspaces::Actor;
use almanac_shared::{
    domain::{
        RunStatus,
        synthesis::{SynthesisJob, ThemeSpec},
    },
    events::Event,
    jobs::NewJob,
    store::themes::{self, ThemeRow},
};
use poem::web::Data;
use poem_openapi::{OpenApi, param::Path, payload::Json};
use sqlx::PgConnection;
use uuid::Uuid;

use super::Tag;
use crate::responses::{Created, NoContent};
use crate::{
    auth::UserAuth,
    body::StrictJson422,
    error::{Answer, ApiError, ApiResult, can},
    state::AppState,
    submit::Submit,
};

fn theme_spec(
    name: &str,
    description: Option<&str>,
    sources: &[ThemeSource],
) -> ApiResult<ThemeSpec> {
    let pairs: Vec<(String, String)> = sources
        .iter()
        .map(|s| (s.kind.clone(), s.value.clone()))
        .collect();
    ThemeSpec::parse(name, description, &pairs).map_err(ApiError::semantically_invalid)
}

/// The caller's theme, or 404.
pub(super) async fn theme(conn: &mut PgConnection, id: Uuid) -> ApiResult<ThemeRow> {
    themes::get(conn, id)
        .await?
        .ok_or_else(|| ApiError::not_found("theme"))
}

#[derive(Default)]
pub struct ThemesApi;

#[OpenApi(tag = "Tag::Syntheses")]
impl ThemesApi {
    /// Create a theme with its sources.
    #[oai(path = "/api/v1/themes", method = "post", operation_id = "createTheme")]
    async fn create(
        &self,
        state: Data<&AppState>,
        auth: UserAuth,
        body: StrictJson422<CreateTheme>,
    ) -> Answer<Created<Theme>, { can::STORED | can::BODY | can::UNPROCESSABLE }> {
        let body = body.0;
        let spec = theme_spec(
            &body.name,
            body.description.as_deref(),
            body.sources.as_deref().unwrap_or_default(),
        )?;
        let mut tx = user_tx(&state.pool, auth.user().actor()).await?;
        let row: ThemeRow = themes::create(&mut tx, &spec).await?;
        tx.commit().await?;
        Ok(Created::Created(Json(row.into())))
    }

    /// The caller's themes, newest first.
    #[oai(path = "/api/v1/themes", method = "get", operation_id = "listThemes")]
    async fn list(
        &self,
        state: Data<&AppState>,
        auth: UserAuth,
    ) -> Answer<Json<Vec<Theme>>, { can::STORED }> {
        let mut tx = user_tx(&state.pool, auth.user().actor()).await?;
        let rows: Vec<ThemeRow> = themes::list(&mut tx).await?;
        tx.commit().await?;
        Ok(Json(rows.into_iter().map(Into::into).collect()))
    }

    #[oai(path = "/api/v1/themes/:id", method = "get", operation_id = "getTheme")]
    async fn get(
        &self,
        state: Data<&AppState>,
        auth: UserAuth,
        id: Path<Uuid>,
    ) -> Answer<Json<Theme>, { can::BAD_REQUEST | can::STORED | can::NOT_FOUND }> {
        let mut tx = user_tx(&state.pool, auth.user().actor()).await?;
        let row = theme(&mut tx, id.0).await?;
        tx.commit().await?;
        Ok(Json(row.into()))
    }

    /// Change a theme's name, description or sources (given sources replace the old).
    #[oai(
        path = "/api/v1/themes/:id",
        method = "patch",
        operation_id = "updateTheme"
    )]
    async fn update(
        &self,
        state: Data<&AppState>,
        auth: UserAuth,
        id: Path<Uuid>,
        body: StrictJson422<UpdateTheme>,
    ) -> Answer<Json<Theme>, { can::STORED | can::BODY | can::NOT_FOUND | can::UNPROCESSABLE }>
    {
        let body = body.0;
        let mut tx = user_tx(&state.pool, auth.user().actor()).await?;
        let current: Theme = theme(&mut tx, id.0).await?.into();
        let description = match &body.description {
            Some(d) => Some(d.as_str()),
            None => current.description.as_deref(),
        };
        let spec = theme_spec(
            body.name.as_deref().unwrap_or(&current.name),
            description,
            body.sources.as_deref().unwrap_or(&current.sources),
        )?;
        let row: ThemeRow = themes::update(&mut tx, id.0, &spec).await?;
        tx.commit().await?;
        Ok(Json(row.into()))
    }

    /// Delete a theme with its schedule, syntheses and delivery records.
    #[oai(
        path = "/api/v1/themes/:id",
        method = "delete",
        operation_id = "deleteTheme"
    )]
    async fn delete(
        &self,
        state: Data<&AppState>,
        auth: UserAuth,
        id: Path<Uuid>,
    ) -> Answer<NoContent, { can::BAD_REQUEST | can::STORED | can::NOT_FOUND }> {
        let mut tx = user_tx(&state.pool, auth.user().actor()).await?;
        let deleted = themes::delete(&mut tx, id.0).await?;
        tx.commit().await?;
        if !deleted {
            return Err(ApiError::not_found("theme").into());
        }
        Ok(NoContent::Done)
    }

    /// Generate a synthesis of the theme now: 202 with the job, whose events
    /// (`GET /v1/jobs/{job_id}/events`) are `progress {step, message, percent}` then `done`.
    #[oai(
        path = "/api/v1/themes/:id/syntheses",
        method = "post",
        operation_id = "createSynthesis"
    )]
    async fn synthesize(
        &self,
        state: Data<&AppState>,
        auth: UserAuth,
        id: Path<Uuid>,
    ) -> Answer<
        SynthesisStarted,
        { can::BAD_REQUEST | can::STORED | can::NOT_FOUND | can::TOO_MANY_REQUESTS },
    > {
        let accepted = start_synthesis(&state, auth.user().actor(), id.0).await?;
        Ok(SynthesisStarted::Accepted(Json(accepted)))
    }

    /// The theme's syntheses, newest first.
    #[oai(
        path = "/api/v1/themes/:id/syntheses",
        method = "get",
        operation_id = "listSyntheses"
    )]
    async fn syntheses(
        &self,
        state: Data<&AppState>,
        auth: UserAuth,
        id: Path<Uuid>,
    ) -> Answer<Json<Vec<SynthesisView>>, { can::BAD_REQUEST | can::STORED | can::NOT_FOUND }> {
        let mut tx = user_tx(&state.pool, auth.user().actor()).await?;
        theme(&mut tx, id.0).await?;
        let rows = themes::syntheses(&mut tx, id.0).await?;
        tx.commit().await?;
        Ok(Json(rows.into_iter().map(Into::into).collect()))
    }

    #[oai(
        path = "/api/v1/syntheses/:id",
        method = "get",
        operation_id = "getSynthesis"
    )]
    async fn synthesis(
        &self,
        state: Data<&AppState>,
        auth: UserAuth,
        id: Path<Uuid>,
    ) -> Answer<Json<SynthesisView>, { can::BAD_REQUEST | can::STORED | can::NOT_FOUND }> {
        let mut tx = user_tx(&state.pool, auth.user().actor()).await?;
        let row = themes::synthesis(&mut tx, id.0).await?;
        tx.commit().await?;
        Ok(row
            .map(|row| Json(row.into()))
            .ok_or_else(|| ApiError::not_found("synthesis"))?)
    }
}

/// Writes a manual synthesis of `theme_id` and its job, then queues the job.
async fn start_synthesis(
    state: &AppState,
    actor: Actor,
    theme_id: Uuid,
) -> ApiResult<SynthesisAccepted> {
    let synthesis_id = Uuid::now_v7();
    let job = NewJob::new(actor, &SynthesisJob { synthesis_id })
        .with_request_id(crate::envelope::current_request_id());
    let limit = &state.settings.rate_limits.syntheses;
    let mut open = Submit::new(state, actor, limit)
        .open(job)
        .await?
        .open()
        .await?;
    let job_id = open.job().id;
    let written = async {
        theme(open.tx(), theme_id).await?;
        themes::create_manual_synthesis(open.tx(), synthesis_id, theme_id, job_id).await?;
        let accepted = SynthesisAccepted {
            job_id,
            synthesis_id,
            status: RunStatus::Pending,
        };
        Ok((accepted, Event::queued(100)))
    }
    .await;
    open.commit(written).await
}
