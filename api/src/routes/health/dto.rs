//! The health routes' wire types.

use poem_openapi::{ApiResponse, Object, payload::Json};

#[derive(Debug, Clone, Object)]
pub struct Health {
    /// `ok`, or `unavailable` with the failing dependencies.
    pub status: String,
    #[oai(nullable)]
    pub postgres: Option<bool>,
    #[oai(nullable)]
    pub redis: Option<bool>,
}

#[derive(ApiResponse)]
pub enum ReadyResponse {
    /// Postgres and Redis answer.
    #[oai(status = 200)]
    Ready(Json<Health>),
    /// Postgres or Redis does not answer.
    #[oai(status = 503)]
    NotReady(Json<Health>),
}
