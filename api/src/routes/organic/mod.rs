//! The organic week (seed 003): the brand library (`brands`: brand profiles and their
//! linked accounts; `items`: trends and creative assets), generation streamed as NDJSON
//! (`generate`), the saved weeks and the user's edits (`weeks`), the drafts of weeks being
//! planned (`drafts`), and the placement object
//! they share (`placement`).
//!
//! The library is owner only (another user's item is 404) and answers plain JSON
//! resources; ids are the client's (`brand_123`) or generated, and reusing one is 409
//! `ID_TAKEN`. What the schema states is 400; what only a rule can judge is 422.

mod brands;
mod drafts;
mod generate;
mod items;
mod placement;
mod weeks;

use almanac_shared::store::user_tx;
use almanac_shared::store::{
    Row,
    organic::{self as store, Library},
};
use poem_openapi::{ApiResponse, payload::Json};
use sqlx::PgConnection;
use uuid::Uuid;

pub use brands::OrganicBrandsApi;
pub use drafts::OrganicDraftsApi;
pub use generate::OrganicGenerateApi;
pub use items::OrganicLibraryApi;
pub use weeks::OrganicWeeksApi;

use crate::{
    error::{ApiError, ApiResult},
    state::AppState,
    text::{Hashtag, Text, strings},
};

type Name = Text<1, 200>;
type LongText = Text<0, 4000>;
type Keyword = Text<1, 100>;

#[derive(ApiResponse)]
pub enum NoContent {
    #[oai(status = 204)]
    Done,
}

#[derive(ApiResponse)]
pub enum Created<T: poem_openapi::types::ToJSON> {
    #[oai(status = 201)]
    Created(Json<T>),
}

fn taken(what: &str, id: &str) -> ApiError {
    ApiError::conflict(
        "ID_TAKEN",
        format!("you already have a {what} with id `{id}`; choose another or omit `id`"),
    )
}

fn trimmed(text: Option<impl Into<String>>) -> Option<String> {
    text.map(Into::into)
        .map(|t| t.trim().to_owned())
        .filter(|t| !t.is_empty())
}

fn unique(items: Vec<String>) -> Vec<String> {
    let mut out: Vec<String> = Vec::with_capacity(items.len());
    for item in items {
        let item = item.trim().to_owned();
        if !item.is_empty() && !out.iter().any(|o| o.eq_ignore_ascii_case(&item)) {
            out.push(item);
        }
    }
    out
}

fn hashtags(raw: Vec<Hashtag<100>>) -> Vec<String> {
    unique(
        strings(raw)
            .into_iter()
            .map(|h| format!("#{}", h.trim().trim_start_matches('#')))
            .collect(),
    )
}

/// The caller's item `id` of `library` in the transaction, or 404 naming `what`.
async fn item<T: Row>(
    conn: &mut PgConnection,
    library: Library,
    id: &str,
    what: &str,
) -> ApiResult<T> {
    store::get(conn, library, id)
        .await?
        .ok_or_else(|| ApiError::not_found(what))
}

/// The caller's item `id` of `library`, or 404 naming `what`.
async fn found<T: Row>(
    state: &AppState,
    user: Uuid,
    library: Library,
    id: &str,
    what: &str,
) -> ApiResult<T> {
    let mut tx = user_tx(&state.pool, user).await?;
    let row = item(&mut tx, library, id, what).await?;
    tx.commit().await?;
    Ok(row)
}

/// The caller's items of `library`.
async fn listed<T: Row>(state: &AppState, user: Uuid, library: Library) -> ApiResult<Vec<T>> {
    let mut tx = user_tx(&state.pool, user).await?;
    let rows = store::list(&mut tx, library).await?;
    tx.commit().await?;
    Ok(rows)
}

/// Deletes the caller's item `id` of `library`, or 404 naming `what`.
async fn deleted(
    state: &AppState,
    user: Uuid,
    library: Library,
    id: &str,
    what: &str,
) -> ApiResult<NoContent> {
    let mut tx = user_tx(&state.pool, user).await?;
    let deleted = store::delete(&mut tx, library, id).await?;
    tx.commit().await?;
    if !deleted {
        return Err(ApiError::not_found(what));
    }
    Ok(NoContent::Done)
}

#[cfg(test)]
mod tests {
    use poem_openapi::{
        registry::{MetaSchemaRef, Registry},
        types::Type,
    };

    /// The `id` pattern the document states for a library item.
    fn documented_id_pattern<T: Type>() -> regex::Regex {
        let mut registry = Registry::new();
        T::register(&mut registry);
        let schema = &registry.schemas[&*T::name()];
        let id = schema
            .properties
            .iter()
            .find(|(name, _)| *name == "id")
            .map(|(_, schema)| schema)
            .expect("an id property");
        let MetaSchemaRef::Inline(id) = id else {
            unreachable!("an inline string schema")
        };
        regex::Regex::new(id.pattern.as_deref().expect("a pattern")).unwrap()
    }

    #[test]
    fn the_documented_id_pattern_is_the_domain_s() {
        use almanac_shared::domain::organic::is_library_id;
        for pattern in [
            documented_id_pattern::<super::brands::CreateBrand>(),
            documented_id_pattern::<super::items::CreateTrend>(),
            documented_id_pattern::<super::items::CreateAsset>(),
        ] {
            for id in [
                "brand_123",
                "trend-101",
                "asset_991",
                "a.b:c",
                &"x".repeat(64),
            ] {
                assert!(pattern.is_match(id) && is_library_id(id), "{id}");
            }
            for id in ["", "a b", "ü", "a/b", &"x".repeat(65)] {
                assert!(!pattern.is_match(id) && !is_library_id(id), "{id}");
            }
        }
    }
}
