//! The organic week (seed 003): the brand library (`brands`: brand profiles and their
//! linked accounts; `items`: trends and creative assets), generation streamed as NDJSON
//! (`generate`), the saved weeks and the user's edits (`weeks`), the drafts of weeks being
//! planned (`drafts`), and their wire types, the placement object they share among them
//! (`dto`).
//!
//! The library is owner only (another user's item is 404) and answers plain JSON
//! resources; ids are the client's (`brand_123`) or generated, and reusing one is 409
//! `ID_TAKEN`. What the schema states is 400; what only a rule can judge is 422.

mod brands;
mod calendar;
mod drafts;
mod dto;
mod generate;
mod items;
mod weeks;

pub use dto::*;

use almanac_shared::store::organic::{self as store, Item, Library};
use almanac_shared::store::user_tx;
use almanac_shared::workspaces::Actor;
use sqlx::PgConnection;

pub use brands::OrganicBrandsApi;
pub use drafts::OrganicDraftsApi;
pub use generate::OrganicGenerateApi;
pub use items::OrganicLibraryApi;
pub use weeks::OrganicWeeksApi;

use crate::responses::NoContent;
use crate::{
    error::{ApiError, ApiResult},
    state::AppState,
    text::{Hashtag, strings},
};

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

/// The caller's library item `id` (read as `T`) in the transaction, or 404 naming `what`.
async fn item<T: Item>(conn: &mut PgConnection, id: &str, what: &str) -> ApiResult<T> {
    store::get(conn, id)
        .await?
        .ok_or_else(|| ApiError::not_found(what))
}

/// The caller's library item `id` (read as `R`) as `T`, or 404 naming `what`.
async fn found<R: Item, T: From<R>>(
    state: &AppState,
    actor: Actor,
    id: &str,
    what: &str,
) -> ApiResult<T> {
    let mut tx = user_tx(&state.pool, actor).await?;
    let row: R = item(&mut tx, id, what).await?;
    tx.commit().await?;
    Ok(row.into())
}

/// The caller's items of the library `R` is read from, as `T`.
async fn listed<R: Item, T: From<R>>(state: &AppState, actor: Actor) -> ApiResult<Vec<T>> {
    let mut tx = user_tx(&state.pool, actor).await?;
    let rows: Vec<R> = store::list(&mut tx).await?;
    tx.commit().await?;
    Ok(rows.into_iter().map(Into::into).collect())
}

/// Deletes the caller's item `id` of `library`, or 404 naming `what`.
async fn deleted(
    state: &AppState,
    actor: Actor,
    library: Library,
    id: &str,
    what: &str,
) -> ApiResult<NoContent> {
    let mut tx = user_tx(&state.pool, actor).await?;
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
            documented_id_pattern::<super::CreateBrand>(),
            documented_id_pattern::<super::CreateTrend>(),
            documented_id_pattern::<super::CreateAsset>(),
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
