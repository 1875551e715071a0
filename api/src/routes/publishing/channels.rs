//! Channels: the caller's platform accounts and their connection. Tokens go in (OAuth or
//! import) and never come out.

use almanac_publishing::{
    Adapter, Platform, channels,
    oauth::{self, Tokens},
};
use almanac_shared::crypto::TokenCipher;
use almanac_shared::store::{
    publish::{self as publish_store, channels as store},
    user_tx, workspaces,
};
use almanac_shared::workspaces::Role;
use chrono::{Duration, Utc};
use poem::web::Data;
use poem_openapi::{
    OpenApi,
    param::{Path, Query},
    payload::Json,
};
use uuid::Uuid;

use super::Tag;
use super::dto::*;
use crate::responses::Created;
use crate::{
    auth::UserAuth,
    body::StrictJson,
    error::{Answer, ApiError, ApiResult, ErrorEnvelope, UNAVAILABLE_RETRY_SECS, can},
    state::AppState,
    submit::{Made, Queued, Submit},
};

/// How long a connect's `state` stays valid.
const STATE_TTL: Duration = Duration::minutes(10);

#[derive(Default)]
pub struct ChannelsApi;

#[OpenApi(tag = "Tag::Publishing")]
impl ChannelsApi {
    /// The caller's channels (platform accounts) with their status.
    #[oai(path = "/v1/channels", method = "get", operation_id = "listChannels")]
    async fn list(
        &self,
        state: Data<&AppState>,
        auth: UserAuth,
    ) -> Answer<Json<ChannelListEnvelope>, { can::STORED }> {
        let mut tx = user_tx(&state.pool, auth.user().actor()).await?;
        let rows = store::list(&mut tx).await?;
        tx.commit().await?;
        let items = rows
            .into_iter()
            .map(|row| Channel::described(row, &state.platforms))
            .collect();
        Ok(ChannelListEnvelope::of(ChannelList { items }))
    }

    /// Connect a channel with a token already held (creates the account, or adds
    /// credentials to it).
    #[oai(path = "/v1/channels", method = "post", operation_id = "importChannel")]
    async fn import(
        &self,
        state: Data<&AppState>,
        auth: UserAuth,
        body: StrictJson<ChannelImport>,
    ) -> Answer<Created<ChannelEnvelope>, { can::STORED | can::BODY | can::UNPROCESSABLE }> {
        let body = body.0;
        let platform = state
            .platforms
            .get(&body.platform.0)
            .ok_or_else(|| unknown_platform(&state, &body.platform.0, ApiError::Unprocessable))?;
        let account_id = body.account_id.0.trim().to_owned();
        if let Some(problem) = state
            .platforms
            .registered(platform)
            .account_problem(&account_id)
        {
            return Err(ApiError::Unprocessable(ErrorEnvelope::new(
                "INVALID_ACCOUNT_ID",
                problem,
                Some(serde_json::json!({ "field": "accountId" })),
            ))
            .into());
        }
        let cipher = cipher(&state)?;
        let tokens = Tokens {
            access_token: body.access_token.0,
            refresh_token: body.refresh_token.map(|t| t.0),
            expires_in: body.expires_in,
            refresh_expires_in: body.refresh_expires_in,
            ..Tokens::default()
        };
        let user = auth.user().id;
        let actor = auth.user().actor();
        let mut tx = user_tx(&state.pool, actor).await?;
        let id = channels::store_tokens(
            &mut tx,
            cipher,
            user,
            platform,
            &tokens.account(account_id),
            &tokens,
            Utc::now(),
        )
        .await?;
        let channel = channel(&state, &mut tx, id).await?;
        tx.commit().await?;
        tracing::info!(channel = %platform, channel_id = %id, userId = %user, "channel connected with an imported token");
        Ok(Created::Created(ChannelEnvelope::of(channel)))
    }

    /// Connect a channel of a platform that signs in with credentials (its catalogue
    /// `connect` is `credentials`: Bluesky's handle and app password). They are sent to the
    /// platform once, for a session whose tokens are kept sealed; the password never is.
    /// 422 `CREDENTIALS_REFUSED` when the platform refuses them, 422
    /// `CREDENTIALS_UNSUPPORTED` for a platform that connects through OAuth (`connect`), 409
    /// `PUBLISH_DISABLED` while publishing is off for the caller (nothing is sent).
    #[oai(
        path = "/v1/channels/:platform/credentials",
        method = "post",
        operation_id = "connectChannelWithCredentials"
    )]
    async fn credentials(
        &self,
        state: Data<&AppState>,
        auth: UserAuth,
        /// A platform Almanac publishes to: another is 404 `UNKNOWN_PLATFORM`.
        platform: Path<String>,
        body: StrictJson<ChannelCredentials>,
    ) -> Answer<
        Created<ChannelEnvelope>,
        { can::STORED | can::BODY | can::NOT_FOUND | can::CONFLICT | can::UNPROCESSABLE },
    > {
        let (platform, adapter) = registered(&state, &platform.0)?;
        let cipher = cipher(&state)?;
        let body = body.0;
        let user = auth.user().id;
        let actor = auth.user().actor();
        publishing_on(&state, user)?;
        // No session is opened at the platform when the channel could not be stored.
        user_tx(&state.pool, actor).await?.commit().await?;
        let tokens = adapter
            .sign_in(body.identifier.0.trim(), &body.password)
            .await
            .map_err(|failure| signed_in_refused(platform, failure))?;
        let Some(account_id) = tokens.account_id.clone() else {
            return Err(ApiError::Unavailable(
                ErrorEnvelope::new(
                    "PLATFORM_UNAVAILABLE",
                    format!("{} did not say which account signed in", adapter.label()),
                    None,
                ),
                UNAVAILABLE_RETRY_SECS,
            )
            .into());
        };
        let mut tx = user_tx(&state.pool, actor).await?;
        let account = tokens.account(account_id);
        let id = channels::store_tokens(
            &mut tx,
            cipher,
            user,
            platform,
            &account,
            &tokens,
            Utc::now(),
        )
        .await?;
        let channel = channel(&state, &mut tx, id).await?;
        tx.commit().await?;
        tracing::info!(channel = %platform, channel_id = %id, userId = %user, "channel connected with credentials");
        Ok(Created::Created(ChannelEnvelope::of(channel)))
    }

    /// Start connecting a channel: the URL to send the user to (TikTok with PKCE) and the
    /// `state` the callback will carry.
    #[oai(
        path = "/v1/channels/:platform/connect",
        method = "post",
        operation_id = "connectChannel"
    )]
    async fn connect(
        &self,
        state: Data<&AppState>,
        auth: UserAuth,
        /// A platform Almanac publishes to: another is 404 `UNKNOWN_PLATFORM`.
        platform: Path<String>,
    ) -> Answer<
        Json<ConnectEnvelope>,
        { can::BAD_REQUEST | can::STORED | can::NOT_FOUND | can::UNPROCESSABLE },
    > {
        let (platform, adapter) = registered(&state, &platform.0)?;
        cipher(&state)?;
        let token = oauth::random_token(32);
        let verifier = adapter.uses_pkce().then(|| oauth::random_token(48));
        let challenge = verifier.as_deref().map(oauth::challenge);
        let redirect = oauth::redirect_uri(&state.settings.publish.redirect_base_url, platform);
        let url = adapter
            .authorize_url(&redirect, &token, challenge.as_deref())
            .map_err(|message| {
                almanac_publishing::auth_missing(Some(platform), "OAUTH_NOT_CONFIGURED");
                ApiError::unprocessable("OAUTH_NOT_CONFIGURED", message)
            })?;
        let expires_at = Utc::now() + STATE_TTL;
        let mut tx = user_tx(&state.pool, auth.user().actor()).await?;
        store::start_oauth(&mut tx, &token, platform, verifier.as_deref(), expires_at).await?;
        tx.commit().await?;
        Ok(ConnectEnvelope::of(Connect {
            authorize_url: url,
            state: token,
            expires_at,
        }))
    }

    /// The platform's redirect after the user granted (or refused) access. It completes
    /// nothing: it sends the browser on to the web app (`/app/#/channels/connect` with the
    /// platform, `code`, `state` and any `error`), which posts them to `complete` with the
    /// signed-in user's credentials. (Binding the tokens to whoever opened this link would
    /// let anyone who started a connection get another person's account.)
    #[oai(
        path = "/v1/channels/:platform/callback",
        method = "get",
        operation_id = "channelCallback"
    )]
    async fn callback(
        &self,
        state: Data<&AppState>,
        /// A platform Almanac publishes to: another is 404 `UNKNOWN_PLATFORM`.
        platform: Path<String>,
        /// The authorisation code.
        #[oai(validator(max_length = 2048))]
        code: Query<Option<String>>,
        /// The `state` of `connect`.
        #[oai(name = "state", validator(min_length = 1, max_length = 200))]
        oauth_state: Query<String>,
        /// Set by the platform when the user refused.
        #[oai(validator(max_length = 200))]
        error: Query<Option<String>>,
        #[oai(validator(max_length = 1000))] error_description: Query<Option<String>>,
    ) -> Answer<CallbackRedirect, { can::BAD_REQUEST | can::NOT_FOUND }> {
        let (platform, _) = registered(&state, &platform.0)?;
        let mut location = url::Url::parse("http://app.invalid/app/").expect("a URL");
        location
            .query_pairs_mut()
            .append_pair("platform", platform.as_str())
            .append_pair("state", &oauth_state.0);
        for (key, value) in [
            ("code", code.0),
            ("error", error.0),
            ("error_description", error_description.0),
        ] {
            if let Some(value) = value {
                location.query_pairs_mut().append_pair(key, &value);
            }
        }
        // The app's router reads its own query from the fragment.
        let target = format!(
            "/app/#/channels/connect?{}",
            location.query().unwrap_or_default()
        );
        Ok(CallbackRedirect::SeeOther(target))
    }

    /// Complete connecting a channel: the `code` and `state` the platform's redirect
    /// carried (the web app posts them after the callback). Only the user who started the
    /// connection may complete it: anyone else gets 403 `OAUTH_STATE_NOT_YOURS`, and the
    /// `state` is used up either way, before anything is asked of the platform. The answer
    /// is the connected channel, with `alsoConnected`: the other accounts the grant acts
    /// for (a LinkedIn member's company pages), each connected as a channel of its own.
    /// While publishing is off for the caller it is 409 `PUBLISH_DISABLED`: nothing is
    /// asked of the platform, and the `state` stays usable.
    #[oai(
        path = "/v1/channels/:platform/complete",
        method = "post",
        operation_id = "completeChannel"
    )]
    async fn complete(
        &self,
        state: Data<&AppState>,
        auth: UserAuth,
        /// A platform Almanac publishes to: another is 404 `UNKNOWN_PLATFORM`.
        platform: Path<String>,
        body: StrictJson<ChannelCompletion>,
    ) -> Answer<
        Json<ConnectedEnvelope>,
        {
            can::STORED
                | can::BODY
                | can::NOT_FOUND
                | can::FORBIDDEN
                | can::CONFLICT
                | can::UNPROCESSABLE
        },
    > {
        let (platform, adapter) = registered(&state, &platform.0)?;
        let body = body.0;
        let caller = auth.user().id;
        let cipher = cipher(&state)?;
        publishing_on(&state, caller)?;
        // Single use: taken whatever happens next.
        let taken = store::take_oauth(&state.pool, &body.state).await?;
        let Some((owner, expected, verifier, expires_at)) = taken else {
            return Err(
                state_invalid("unknown or already used `state`: start connecting again").into(),
            );
        };
        if owner.user != caller {
            tracing::warn!(channel = %platform, userId = %caller, "OAuth state completed by another user than the one who started it; refused");
            return Err(ApiError::forbidden(
                "OAUTH_STATE_NOT_YOURS",
                "this connection was started by another account: sign in as the person who started it, and connect again",
                Some(serde_json::json!({ "channel": platform })),
            )
            .into());
        }
        if expected != platform {
            return Err(state_invalid("this `state` was issued for another platform").into());
        }
        if expires_at <= Utc::now() {
            return Err(state_invalid("the `state` expired: start connecting again").into());
        }
        if let Some(refused) = body.error {
            return Err(ApiError::Unprocessable(ErrorEnvelope::new(
                "OAUTH_DENIED",
                format!(
                    "{} did not grant access: {}",
                    adapter.label(),
                    body.error_description.map_or(refused.0, |d| d.0)
                ),
                Some(serde_json::json!({ "channel": platform })),
            ))
            .into());
        }
        let Some(code) = body.code else {
            return Err(ApiError::unprocessable(
                "OAUTH_CODE_MISSING",
                "the platform sent back neither a `code` nor an `error`",
            )
            .into());
        };
        let redirect = oauth::redirect_uri(&state.settings.publish.redirect_base_url, platform);
        let tokens = adapter
            .exchange_code(&redirect, &code.0, verifier.as_deref())
            .await
            .map_err(|failure| {
                if failure.code == "OAUTH_NOT_CONFIGURED" {
                    almanac_publishing::auth_missing(Some(platform), &failure.code);
                }
                if failure.kind == almanac_publishing::FailureKind::Retryable {
                    ApiError::Unavailable(
                        ErrorEnvelope::new("PLATFORM_UNAVAILABLE", failure.message, None),
                        UNAVAILABLE_RETRY_SECS,
                    )
                } else {
                    ApiError::Unprocessable(ErrorEnvelope::new(
                        "OAUTH_EXCHANGE_FAILED",
                        failure.message,
                        Some(serde_json::json!({ "channel": platform, "platformCode": failure.platform_code })),
                    ))
                }
            })?;
        let Some(account_id) = tokens.account_id.clone() else {
            return Err(ApiError::Unprocessable(ErrorEnvelope::new(
                "OAUTH_EXCHANGE_FAILED",
                format!(
                    "{} did not say which account was connected",
                    adapter.label()
                ),
                None,
            ))
            .into());
        };
        let now = Utc::now();
        // The channel joins the workspace the connection was started in, if the caller may
        // still manage its channels.
        let held = workspaces::role(&state.pool, owner.workspace, caller).await?;
        if held.is_none_or(|role| role < Role::Admin) {
            return Err(
                crate::roles::role_required(Role::Admin, held.unwrap_or(Role::Viewer)).into(),
            );
        }
        let mut tx = user_tx(&state.pool, owner).await?;
        let id = channels::store_tokens(
            &mut tx,
            cipher,
            caller,
            platform,
            &tokens.account(account_id),
            &tokens,
            now,
        )
        .await?;
        let channel = channel(&state, &mut tx, id).await?;
        let mut also_connected = Vec::with_capacity(tokens.more_accounts.len());
        for account in &tokens.more_accounts {
            let id =
                channels::store_tokens(&mut tx, cipher, caller, platform, account, &tokens, now)
                    .await?;
            also_connected.push(self::channel(&state, &mut tx, id).await?);
        }
        tx.commit().await?;
        tracing::info!(channel = %platform, channel_id = %id, userId = %caller, also = also_connected.len(), "channel connected");
        Ok(ConnectedEnvelope::of(Connected {
            channel,
            also_connected,
        }))
    }

    /// Disconnect a channel: its tokens are deleted. Scheduled intents on it will fail
    /// with `CHANNEL_NOT_CONNECTED` unless it is connected again first.
    #[oai(
        path = "/v1/channels/:id",
        method = "delete",
        operation_id = "deleteChannel"
    )]
    async fn delete(
        &self,
        state: Data<&AppState>,
        auth: UserAuth,
        id: Path<Uuid>,
    ) -> Answer<ChannelDeleted, { can::BAD_REQUEST | can::STORED | can::NOT_FOUND }> {
        let mut tx = user_tx(&state.pool, auth.user().actor()).await?;
        if !store::disconnect(&mut tx, id.0).await? {
            return Err(ApiError::not_found("channel").into());
        }
        tx.commit().await?;
        Ok(ChannelDeleted::Deleted)
    }

    /// Retry, once each, the publishes a refused authorisation failed
    /// (`CHANNEL_AUTH_INVALID`), once the channel is connected again (409
    /// `CHANNEL_NOT_CONNECTED` before). `unknown` and `unconfirmed` intents are never
    /// retried here (they may be published already: check the account, then retry each by
    /// itself); they come back in `skipped` with the reason, as do other failures.
    #[oai(
        path = "/v1/channels/:id/retry-failed",
        method = "post",
        operation_id = "retryChannelFailures"
    )]
    async fn retry_failed(
        &self,
        state: Data<&AppState>,
        auth: UserAuth,
        id: Path<Uuid>,
    ) -> Answer<RetriedAccepted, { can::BAD_REQUEST | can::STORED | can::NOT_FOUND | can::CONFLICT }>
    {
        let user = auth.user().id;
        let actor = auth.user().actor();
        let mut making = Submit::unlimited(&state, actor).making_unkeyed().await?;
        let written = async {
            let channel = store::find(making.tx(), id.0).await?;
            let channel = channel.ok_or_else(|| ApiError::not_found("channel"))?;
            if channel.status != "connected" {
                return Err(ApiError::conflict(
                    "CHANNEL_NOT_CONNECTED",
                    format!(
                        "the channel is {}: connect it again first, then retry what failed",
                        channel.status.replace('_', " ")
                    ),
                ));
            }
            let outcomes = publish_store::retry_auth_failures(making.tx(), id.0).await?;
            let retried: Vec<Uuid> = outcomes
                .iter()
                .filter(|o| o.retried)
                .map(|o| o.id)
                .collect();
            let publishing = state
                .flags
                .enabled(almanac_shared::flags::Flag::PublishService, user);
            let jobs = match !retried.is_empty() && publishing {
                true => {
                    let due = publish_store::Due::Ids(&retried);
                    publish_store::dispatch(making.tx(), due, retried.len() as i64).await?
                }
                false => Vec::new(),
            };
            let skipped = outcomes
                .iter()
                .filter(|o| !o.retried)
                .map(|o| SkippedIntent {
                    intent_id: o.id,
                    reason: skip_reason(o).to_owned(),
                })
                .collect();
            Ok(Made {
                kept: serde_json::Value::Null,
                jobs: jobs.iter().map(|job| Queued::of(job, 1)).collect(),
                answer: Retried { retried, skipped },
            })
        }
        .await;
        let answer = making.commit(written).await?.unkeyed()?;
        tracing::info!(channel_id = %id.0, retried = answer.retried.len(), "failed publishes of a reconnected channel retried");
        Ok(RetriedAccepted::Accepted(RetriedEnvelope::of(answer)))
    }
}

/// Why `retry-failed` left an intent alone.
fn skip_reason(outcome: &publish_store::AuthRetry) -> &'static str {
    match (outcome.status.as_str(), outcome.code.as_deref()) {
        ("unknown" | "unconfirmed", _) => "NOT_CONFIRMED",
        (_, Some("CHANNEL_AUTH_INVALID")) => "SUPERSEDED",
        _ => "NOT_AN_AUTH_FAILURE",
    }
}

fn cipher(state: &AppState) -> ApiResult<&TokenCipher> {
    if state.cipher.is_none() {
        almanac_publishing::auth_missing(None, "TOKEN_STORE_UNCONFIGURED");
    }
    state.cipher_or("channels cannot be connected")
}

/// The registered platform named `name` and its adapter, or 404 `UNKNOWN_PLATFORM`.
fn registered<'a>(state: &'a AppState, name: &str) -> ApiResult<(Platform, &'a dyn Adapter)> {
    let platform = state
        .platforms
        .get(name)
        .ok_or_else(|| unknown_platform(state, name, ApiError::NotFound))?;
    Ok((platform, state.platforms.registered(platform)))
}

/// `name` is no platform Almanac publishes to: `status` (404 for a path, 422 for a body)
/// with `UNKNOWN_PLATFORM` and the platforms it does publish to.
fn unknown_platform(
    state: &AppState,
    name: &str,
    status: fn(Json<ErrorEnvelope>) -> ApiError,
) -> ApiError {
    let names = state.platforms.names();
    status(ErrorEnvelope::new(
        "UNKNOWN_PLATFORM",
        format!(
            "Almanac does not publish to `{name}`: it publishes to {}",
            names.join(", ")
        ),
        Some(serde_json::json!({ "platforms": names })),
    ))
}

/// A sign-in the platform refused (422 with its code and the platform's own), or could not
/// answer now (503).
fn signed_in_refused(platform: Platform, failure: almanac_publishing::Failure) -> ApiError {
    if failure.kind == almanac_publishing::FailureKind::Retryable {
        return ApiError::Unavailable(
            ErrorEnvelope::new("PLATFORM_UNAVAILABLE", failure.message, None),
            UNAVAILABLE_RETRY_SECS,
        );
    }
    let field = (failure.code == "CREDENTIALS_REFUSED").then_some("password");
    ApiError::Unprocessable(ErrorEnvelope::new(
        &failure.code,
        failure.message,
        Some(serde_json::json!({
            "channel": platform,
            "field": field,
            "platformCode": failure.platform_code,
        })),
    ))
}

/// A `state` that names no authorisation in progress (unknown, used, expired, another
/// platform's): 422, the request being well-formed.
fn state_invalid(message: &str) -> ApiError {
    ApiError::unprocessable("OAUTH_STATE_INVALID", message)
}

async fn channel(state: &AppState, conn: &mut sqlx::PgConnection, id: Uuid) -> ApiResult<Channel> {
    let row = store::get(conn, id).await?;
    Ok(Channel::described(row, &state.platforms))
}

/// 409 `PUBLISH_DISABLED` while publishing is off for `user` (`PUBLISH_SERVICE_ENABLED` or
/// its rollout): connecting calls the platform, and nothing does then.
fn publishing_on(state: &AppState, user: Uuid) -> Result<(), ApiError> {
    if state
        .flags
        .enabled(almanac_shared::flags::Flag::PublishService, user)
    {
        return Ok(());
    }
    Err(ApiError::conflict(
        "PUBLISH_DISABLED",
        "publishing is switched off for now, so no channel can be connected; try again once it is back on",
    ))
}
