//! A channel's posting slots (issue 57): `GET` and `PUT /v1/channels/{id}/slots`, the weekly
//! times its queue fills, in the zone they are read in. Owner only; another user's channel
//! is 404.

use almanac_shared::{
    domain::{
        analytics::top_hours,
        publish::slots::{Slot, Slots},
    },
    store::{analytics, publish::channels as store, user_tx},
};
use chrono::{NaiveTime, Weekday as Day};
use poem::web::Data;
use poem_openapi::{Enum, Object, OpenApi, param::Path, payload::Json};
use uuid::Uuid;

use super::Tag;
use crate::{
    auth::UserAuth,
    body::StrictJson,
    envelope::Envelope,
    error::{Answer, ApiError, ApiResult, can},
    state::AppState,
    text::{ClockTime, Text},
};

/// A day of the week.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Enum)]
#[oai(rename_all = "lowercase")]
pub enum Weekday {
    Mon,
    Tue,
    Wed,
    Thu,
    Fri,
    Sat,
    Sun,
}

impl Weekday {
    fn day(self) -> Day {
        match self {
            Self::Mon => Day::Mon,
            Self::Tue => Day::Tue,
            Self::Wed => Day::Wed,
            Self::Thu => Day::Thu,
            Self::Fri => Day::Fri,
            Self::Sat => Day::Sat,
            Self::Sun => Day::Sun,
        }
    }

    pub(crate) fn of(day: Day) -> Self {
        match day {
            Day::Mon => Self::Mon,
            Day::Tue => Self::Tue,
            Day::Wed => Self::Wed,
            Day::Thu => Self::Thu,
            Day::Fri => Self::Fri,
            Day::Sat => Self::Sat,
            Day::Sun => Self::Sun,
        }
    }
}

/// One weekly slot: a weekday and a time of day in the slots' zone.
#[derive(Debug, Clone, Object)]
pub struct PostingSlot {
    pub weekday: Weekday,
    /// `HH:MM`, 24-hour.
    pub time: ClockTime,
}

/// A channel's posting slots, sorted from Monday, each once.
#[derive(Debug, Clone, Object)]
pub struct ChannelSlots {
    /// The IANA time zone the slots are read in (`UTC` until set).
    pub timezone: String,
    pub slots: Vec<PostingSlot>,
    /// While it has none: the best hour of each weekday by its best times
    /// (`GET /v1/channels/{id}/best-times`), for new slots to start from. Empty once it has
    /// slots.
    pub suggested: Vec<PostingSlot>,
}

/// The slots to keep, replacing the channel's.
#[derive(Debug, Clone, Object)]
pub struct ChannelSlotsBody {
    /// An IANA time zone (`Europe/Madrid`): the slots' times are its own, across its clock
    /// changes.
    pub timezone: Text<1, 64>,
    /// At most 168 (`SLOTS_MAX`); a slot given twice is kept once.
    #[oai(validator(max_items = 168))]
    pub slots: Vec<PostingSlot>,
}

crate::enveloped!(ChannelSlots);

pub type ChannelSlotsEnvelope = Envelope<ChannelSlots>;

impl From<&Slots> for ChannelSlots {
    fn from(slots: &Slots) -> Self {
        Self {
            timezone: slots.timezone.name().to_owned(),
            slots: slots
                .slots()
                .iter()
                .map(|slot| PostingSlot {
                    weekday: Weekday::of(slot.weekday),
                    time: ClockTime(slot.time.format("%H:%M").to_string()),
                })
                .collect(),
            suggested: Vec::new(),
        }
    }
}

/// The best hour of each weekday, Monday first, as slots.
fn suggested(best: &analytics::BestTimes) -> Vec<PostingSlot> {
    [
        Day::Mon,
        Day::Tue,
        Day::Wed,
        Day::Thu,
        Day::Fri,
        Day::Sat,
        Day::Sun,
    ]
    .into_iter()
    .filter_map(|day| {
        let hour = *top_hours(&best.cells, day, 1).first()?;
        Some(PostingSlot {
            weekday: Weekday::of(day),
            time: ClockTime(format!("{hour:02}:00")),
        })
    })
    .collect()
}

/// The body's slots, or which field is wrong and why (422).
fn slots_of(body: &ChannelSlotsBody) -> ApiResult<Slots> {
    let zone = body.timezone.0.trim();
    let timezone = zone.parse::<chrono_tz::Tz>().map_err(|_| {
        ApiError::unprocessable_field("timezone", format!("`{zone}` is not an IANA time zone"))
    })?;
    let slots = body
        .slots
        .iter()
        .enumerate()
        .map(|(i, slot)| {
            let time = NaiveTime::parse_from_str(&slot.time.0, "%H:%M").map_err(|_| {
                ApiError::unprocessable_field(&format!("slots[{i}].time"), "must be HH:MM")
            })?;
            Ok(Slot {
                weekday: slot.weekday.day(),
                time,
            })
        })
        .collect::<ApiResult<Vec<_>>>()?;
    Ok(Slots::new(timezone, slots))
}

#[derive(Default)]
pub struct SlotsApi;

#[OpenApi(tag = "Tag::Publishing")]
impl SlotsApi {
    /// A channel's posting slots: the weekly times its queue fills.
    #[oai(
        path = "/v1/channels/:id/slots",
        method = "get",
        operation_id = "getChannelSlots"
    )]
    async fn get(
        &self,
        state: Data<&AppState>,
        auth: UserAuth,
        id: Path<Uuid>,
    ) -> Answer<Json<ChannelSlotsEnvelope>, { can::BAD_REQUEST | can::STORED | can::NOT_FOUND }>
    {
        let mut tx = user_tx(&state.pool, auth.user().actor()).await?;
        let kept = store::slots(&mut tx, id.0).await?;
        let (timezone, slots) = kept.ok_or_else(|| ApiError::not_found("channel"))?;
        let slots = Slots::from_stored(&timezone, &slots.0)
            .unwrap_or_else(|| Slots::new(chrono_tz::UTC, Vec::new()));
        let mut view = ChannelSlots::from(&slots);
        if view.slots.is_empty()
            && let Some(best) = analytics::best_times(&mut tx, id.0).await?
        {
            view.suggested = suggested(&best);
        }
        tx.commit().await?;
        Ok(ChannelSlotsEnvelope::of(view))
    }

    /// Sets a channel's posting slots (all of them, replacing those it had), in an IANA time
    /// zone: 422 naming the field when the zone or a time is not one.
    #[oai(
        path = "/v1/channels/:id/slots",
        method = "put",
        operation_id = "setChannelSlots"
    )]
    async fn put(
        &self,
        state: Data<&AppState>,
        auth: UserAuth,
        id: Path<Uuid>,
        body: StrictJson<ChannelSlotsBody>,
    ) -> Answer<
        Json<ChannelSlotsEnvelope>,
        { can::STORED | can::BODY | can::NOT_FOUND | can::UNPROCESSABLE },
    > {
        let slots = slots_of(&body.0)?;
        let mut tx = user_tx(&state.pool, auth.user().actor()).await?;
        let kept = store::set_slots(&mut tx, id.0, slots.timezone.name(), &slots.stored()).await?;
        if !kept {
            return Err(ApiError::not_found("channel").into());
        }
        tx.commit().await?;
        Ok(ChannelSlotsEnvelope::of(ChannelSlots::from(&slots)))
    }
}
