//! `GET /v1/platforms`: the platforms Almanac publishes to, each as its adapter describes
//! it (`almanac_publishing::catalogue`). The web app's `/app/config.json` answers
//! the same objects ([`items`]), for the page before sign-in.

pub mod dto;

use poem::web::Data;
use poem_openapi::{OpenApi, payload::Json};

use super::Tag;
use crate::{
    auth::UserAuth,
    envelope::Envelope,
    error::{Answer, can},
    state::AppState,
};
use dto::{PlatformDto, PlatformList};

/// The registered platforms' entries, by name.
pub fn items(state: &AppState) -> Vec<PlatformDto> {
    state
        .platforms
        .catalogue()
        .into_iter()
        .map(Into::into)
        .collect()
}

#[derive(Default)]
pub struct PlatformsApi;

#[OpenApi(tag = "Tag::Publishing")]
impl PlatformsApi {
    /// The platforms Almanac publishes to: each one's name, label and colour, how an
    /// account connects, whose name a post may go out under, the media it takes, and the
    /// limits on a post's text, hashtags and mentions. A client ignores fields it does
    /// not know: later versions add some.
    #[oai(path = "/v1/platforms", method = "get", operation_id = "listPlatforms")]
    async fn list(
        &self,
        state: Data<&AppState>,
        _auth: UserAuth,
    ) -> Answer<Json<Envelope<PlatformList>>, { can::UNAUTHORIZED }> {
        Ok(Envelope::of(PlatformList {
            items: items(&state),
        }))
    }
}
