//! Personal API keys (`docs/api-keys.md`): made, listed and deleted by their owner with
//! their own sign-in (a JWT or the web app's session; never a key). The key is shown once,
//! when it is made; Postgres keeps its digest. Deleting a key revokes it at once, on every
//! API process (`crate::middleware::keys` looks each key up).

mod dto;

pub use dto::*;

use almanac_shared::{
    api_keys,
    store::{api_keys as store, user_tx},
};
use chrono::Utc;
use poem::web::Data;
use poem_openapi::{OpenApi, param::Path};
use uuid::Uuid;

use super::Tag;
use crate::responses::{Created, NoContent};
use crate::{
    auth::PersonalAuth,
    body::StrictJson,
    error::{Answer, ApiError, can},
    state::AppState,
};

#[derive(Default)]
pub struct ApiKeysApi;

#[OpenApi(tag = "Tag::ApiKeys")]
impl ApiKeysApi {
    /// The caller's API keys (never the keys themselves).
    #[oai(path = "/v1/api-keys", method = "get", operation_id = "listApiKeys")]
    async fn list(
        &self,
        state: Data<&AppState>,
        auth: PersonalAuth,
    ) -> Answer<poem_openapi::payload::Json<ApiKeyListEnvelope>, { can::STORED }> {
        let mut tx = user_tx(&state.pool, auth.user().actor()).await?;
        let items = store::list(&mut tx).await?;
        tx.commit().await?;
        Ok(ApiKeyListEnvelope::of(ApiKeyList {
            items: items.into_iter().map(Into::into).collect(),
        }))
    }

    /// Make a key. The answer carries the `key`, shown this once. At most 50 per user (422
    /// `API_KEY_LIMIT`); an `expiresAt` in the past is 422 `VALIDATION_FAILED`.
    #[oai(path = "/v1/api-keys", method = "post", operation_id = "createApiKey")]
    async fn create(
        &self,
        state: Data<&AppState>,
        auth: PersonalAuth,
        body: StrictJson<NewApiKey>,
    ) -> Answer<Created<ApiKeyWithSecretEnvelope>, { can::STORED | can::BODY | can::UNPROCESSABLE }>
    {
        let body = body.0;
        let name = body.name.0.trim();
        if body.expires_at.is_some_and(|at| at <= Utc::now()) {
            return Err(ApiError::unprocessable_field("expiresAt", "must be in the future").into());
        }
        // Kept in the scopes' own order (read, write, publish), each once.
        let mut scopes = body.scopes.clone();
        scopes.sort();
        scopes.dedup();
        let scopes: Vec<String> = scopes.iter().map(|s| s.as_str().to_owned()).collect();
        let user = auth.user().id;
        let actor = auth.user().actor();
        let id = Uuid::now_v7();
        let key = api_keys::new_key();
        let prefix = api_keys::prefix(&key);
        let mut tx = user_tx(&state.pool, actor).await?;
        if store::count_for_adding(&mut tx, actor.workspace).await? >= store::MAX_KEYS {
            return Err(ApiError::unprocessable(
                "API_KEY_LIMIT",
                format!(
                    "at most {} API keys per workspace: delete one you no longer use first",
                    store::MAX_KEYS
                ),
            )
            .into());
        }
        let api_key: ApiKey = store::insert(
            &mut tx,
            store::NewKey {
                id,
                user_id: user,
                name,
                digest: &api_keys::digest(&key),
                prefix: &prefix,
                scopes: &scopes,
                expires_at: body.expires_at,
            },
        )
        .await?
        .into();
        tx.commit().await?;
        tracing::info!(apiKeyId = %id, userId = %user, "API key made");
        Ok(Created::Created(ApiKeyWithSecretEnvelope::of(
            ApiKeyWithSecret { api_key, key },
        )))
    }

    /// Delete (revoke) a key: every API process refuses it from this answer on.
    #[oai(
        path = "/v1/api-keys/:id",
        method = "delete",
        operation_id = "deleteApiKey"
    )]
    async fn delete(
        &self,
        state: Data<&AppState>,
        auth: PersonalAuth,
        id: Path<Uuid>,
    ) -> Answer<NoContent, { can::BAD_REQUEST | can::STORED | can::NOT_FOUND }> {
        let mut tx = user_tx(&state.pool, auth.user().actor()).await?;
        if !store::delete(&mut tx, id.0).await? {
            return Err(ApiError::not_found("API key").into());
        }
        tx.commit().await?;
        tracing::info!(apiKeyId = %id.0, "API key deleted");
        Ok(NoContent::Done)
    }
}
