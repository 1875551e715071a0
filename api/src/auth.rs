//! Bearer authentication: every `/api` and `/v1` endpoint takes a [`BearerAuth`].

use poem::Request;
use poem_openapi::{
    SecurityScheme,
    auth::{ApiKey, Bearer},
};
use uuid::Uuid;

use crate::{error::ApiError, state::AppState};

/// The authenticated caller.
#[derive(Debug, Clone, Copy)]
pub struct AuthUser {
    pub id: Uuid,
}

/// `Authorization: Bearer <JWT>`: HS256, `aud = "authenticated"`, `sub` = user id.
#[derive(SecurityScheme)]
#[oai(ty = "bearer", bearer_format = "JWT", checker = "check_token")]
pub struct BearerAuth(pub AuthUser);

/// The same JWT as `?access_token=`, for clients that cannot set headers (a browser's
/// `EventSource`). Accepted only by the event stream.
#[derive(SecurityScheme)]
#[oai(
    ty = "api_key",
    key_name = "access_token",
    key_in = "query",
    checker = "check_query_token"
)]
pub struct QueryTokenAuth(pub AuthUser);

/// Either form of the token.
#[derive(SecurityScheme)]
pub enum StreamAuth {
    Bearer(BearerAuth),
    Query(QueryTokenAuth),
}

impl StreamAuth {
    pub fn user(&self) -> AuthUser {
        match self {
            StreamAuth::Bearer(BearerAuth(user)) | StreamAuth::Query(QueryTokenAuth(user)) => *user,
        }
    }
}

async fn check_token(req: &Request, bearer: Bearer) -> poem::Result<AuthUser> {
    verify(req, &bearer.token)
}

async fn check_query_token(req: &Request, key: ApiKey) -> poem::Result<AuthUser> {
    verify(req, &key.key)
}

fn verify(req: &Request, token: &str) -> poem::Result<AuthUser> {
    let state = req
        .data::<AppState>()
        .expect("AppState is attached to every route");
    match state.jwt.verify(token) {
        Ok(claims) => {
            tracing::Span::current().record("userId", tracing::field::display(claims.sub));
            Ok(AuthUser { id: claims.sub })
        }
        Err(error) => {
            tracing::debug!(error = %error, "token refused");
            Err(
                ApiError::unauthorized("missing, malformed, expired or invalid bearer token")
                    .into(),
            )
        }
    }
}
