//! The organic week (seed 003): the brand library (`library`), generation streamed as
//! NDJSON (`generate`), the saved weeks and the user's edits (`weeks`), and the placement
//! object they share (`placement`).

mod generate;
mod library;
mod placement;
mod weeks;

use poem_openapi::ApiResponse;

pub use generate::OrganicGenerateApi;
pub use library::OrganicLibraryApi;
pub use weeks::OrganicWeeksApi;

#[derive(ApiResponse)]
pub enum NoContent {
    #[oai(status = 204)]
    Done,
}
