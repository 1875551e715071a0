//! Bearer authentication: every `/api` and `/v1` endpoint takes a [`BearerAuth`].

use poem::Request;
use poem_openapi::{SecurityScheme, auth::Bearer};
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

async fn check_token(req: &Request, bearer: Bearer) -> poem::Result<AuthUser> {
    let state = req
        .data::<AppState>()
        .expect("AppState is attached to every route");
    match state.jwt.verify(&bearer.token) {
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
