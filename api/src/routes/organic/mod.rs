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

/// The ids clients may give library items (as `domain::organic::is_library_id`).
pub const ID_PATTERN: &str = r"^[A-Za-z0-9_.:-]{1,64}$";

#[derive(ApiResponse)]
pub enum NoContent {
    #[oai(status = 204)]
    Done,
}
