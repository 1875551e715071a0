//! A calendar, live: what its members change and who has it open, as it happens
//! (`crate::relay::live`).

use almanac_shared::store::{calendars as store, user_tx};
use poem::{IntoResponse, Response, web::Data};
use poem_openapi::{
    ApiResponse, OpenApi,
    param::{Header, Path, Query},
    registry::{MetaResponses, Registry},
};
use uuid::Uuid;

use super::Tag;
use crate::{
    auth::StreamAuth,
    error::{Answer, ApiError, can},
    relay::{Framing, live},
    state::AppState,
};

#[derive(Default)]
pub struct CalendarLiveApi;

#[OpenApi(tag = "Tag::Calendars")]
impl CalendarLiveApi {
    /// The calendar's changes and who has it open, as they happen (`text/event-stream`;
    /// `EventSource` resumes it with `Last-Event-ID`). Events: `ready` first
    /// (`{lastEventId}`: read the calendar now, nothing after it is missed);
    /// `entry.changed` (`{calendarId, entryId, change: "added" | "updated" | "deleted",
    /// version, entry, by: {userId, kind, keyName, tool}, action, at}`); `entry.review`
    /// (`{calendarId, entryId, review, by, action, at}`: its review asked for or decided,
    /// the review as it is now); `calendar.changed`
    /// (`{calendarId, action, by, at}`: another change, read the calendar again);
    /// `presence` (`{calendarId, viewers: [{userId, name, email}]}`: the people with it open,
    /// a tab that closes leaving at once, one whose connection died within three
    /// heartbeats); `truncated` (changes after the resumed id are no longer kept: read the
    /// calendar again); `heartbeat`.
    #[oai(
        path = "/v1/calendars/:id/live",
        method = "get",
        operation_id = "streamCalendarLive"
    )]
    async fn live(
        &self,
        state: Data<&AppState>,
        auth: StreamAuth,
        id: Path<Uuid>,
        /// Resume after this event id (as `Last-Event-ID`, which wins when both are given).
        #[oai(validator(minimum(value = "0"), maximum(value = "9007199254740991")))]
        after: Query<Option<u64>>,
        /// The id of the last event the client saw; sent by `EventSource` on reconnect.
        #[oai(
            name = "Last-Event-ID",
            validator(minimum(value = "0"), maximum(value = "9007199254740991"))
        )]
        last_event_id: Header<Option<u64>>,
    ) -> Answer<LiveCalendar, { can::STORED | can::BAD_REQUEST | can::NOT_FOUND }> {
        let user = auth.user();
        let mut tx = user_tx(&state.pool, user.actor()).await?;
        if store::summary(&mut tx, id.0).await?.is_none() {
            return Err(ApiError::not_found("calendar").into());
        }
        tx.commit().await?;
        let after = last_event_id.0.or(after.0).unwrap_or(0);
        let body = live::stream(
            state.relay_deps(),
            state.emitter.clone(),
            id.0,
            user.id,
            after,
        );
        let body =
            poem::Body::from_bytes_stream(futures::StreamExt::map(body, Ok::<_, std::io::Error>));
        Ok(LiveCalendar(body))
    }
}

/// `GET /v1/calendars/{id}/live`'s answer.
pub struct LiveCalendar(poem::Body);

impl ApiResponse for LiveCalendar {
    fn meta() -> MetaResponses {
        MetaResponses {
            responses: vec![Framing::documented_sse(
                "The calendar's live events: `ready`, `entry.changed`, `entry.review`, \
                 `calendar.changed`, `presence`, `truncated`, `heartbeat`, each's data a JSON \
                 object.",
            )],
        }
    }

    fn register(registry: &mut Registry) {
        Framing::register(registry);
    }
}

impl IntoResponse for LiveCalendar {
    fn into_response(self) -> Response {
        Framing::Sse.response(self.0)
    }
}
