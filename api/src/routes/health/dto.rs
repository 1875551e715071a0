//! The health routes' wire types.

use poem_openapi::{Object, payload::Json};

#[derive(Debug, Clone, Object)]
pub struct Health {
    /// `ok`, or `unavailable` with the failing dependencies.
    pub status: String,
    #[oai(nullable)]
    pub postgres: Option<bool>,
    #[oai(nullable)]
    pub redis: Option<bool>,
}

crate::responses! {
    pub enum ReadyResponse {
        /// Postgres and Redis answer.
        200 => Ready(Json<Health>),
        /// Postgres or Redis does not answer.
        503 => NotReady(Json<Health>),
    }
}
