//! The posts routes' wire types: a post as made and changed, as answered (its shared
//! fields, each network's variant and entry, and what each network will receive), and
//! what a deletion did.

use std::collections::BTreeMap;

use almanac_shared::domain::calendar::{FieldChange, PostField, VariantChange};
use chrono::{DateTime, Utc};
use poem_openapi::{Object, types::MaybeUndefined};
use uuid::Uuid;

use crate::envelope::Envelope;
use crate::routes::saved_calendars::{
    CalendarEntry, CallToAction, Caption, EntryHashtag, FirstComment, Title,
};

/// A post: one text and media for several networks, planned as one entry per channel.
#[derive(Debug, Clone, Object)]
#[oai(rename_all = "camelCase")]
pub struct NewPost {
    /// The shared caption (what every network without a caption variant says).
    pub caption: Caption,
    /// The shared title; when absent, made from the caption's first line (its first
    /// sentence, when that line is long).
    #[oai(nullable)]
    pub title: Option<Title>,
    #[oai(nullable, validator(max_items = 30))]
    pub hashtags: Option<Vec<EntryHashtag>>,
    #[oai(nullable)]
    pub call_to_action: Option<CallToAction>,
    /// Said under the post once it is published, where the network takes a first comment.
    #[oai(nullable)]
    pub first_comment: Option<FirstComment>,
    /// Uploaded media (`POST /v1/media`), in order: at most 35 (the most any platform takes in one post), each the workspace's.
    #[oai(validator(max_items = 35, unique_items))]
    pub media_ids: Vec<Uuid>,
    /// The connected channels (`GET /v1/channels`) it goes to: one entry each.
    #[oai(validator(min_items = 1, max_items = 20, unique_items))]
    pub channel_ids: Vec<Uuid>,
    /// When its entries are planned (in the calendar, shown in its time zone; minutes).
    pub scheduled_at: DateTime<Utc>,
    /// Per channel id (one of `channelIds`): the fields that network says on its own.
    #[oai(nullable)]
    pub variants: Option<BTreeMap<String, VariantPatch>>,
}

/// What a `PATCH` changes: a field left out stays.
#[derive(Debug, Clone, Object)]
#[oai(rename_all = "camelCase")]
pub struct PostPatch {
    #[oai(nullable)]
    pub caption: Option<Caption>,
    /// `null`: made again from the caption (a caption's change alone leaves the title).
    #[oai(nullable)]
    pub title: MaybeUndefined<Title>,
    #[oai(nullable, validator(max_items = 30))]
    pub hashtags: Option<Vec<EntryHashtag>>,
    #[oai(nullable)]
    pub call_to_action: Option<CallToAction>,
    #[oai(nullable)]
    pub first_comment: Option<FirstComment>,
    #[oai(nullable, validator(max_items = 35, unique_items))]
    pub media_ids: Option<Vec<Uuid>>,
    /// Moves every entry not yet published.
    #[oai(nullable)]
    pub scheduled_at: Option<DateTime<Utc>>,
    /// The channels it goes to: one added gets an entry, one left out loses its entry
    /// unless publishing reached it (then it stays).
    #[oai(nullable, validator(min_items = 1, max_items = 20, unique_items))]
    pub channel_ids: Option<Vec<Uuid>>,
    /// Per channel id: each field set is that network's own; `null` drops it (the network
    /// follows the shared value again); a field left out stays as it is.
    #[oai(nullable)]
    pub variants: Option<BTreeMap<String, VariantPatch>>,
}

/// One network's own values: a field set is said by that network instead of the shared
/// one; `null` (in a `PATCH`) drops it.
#[derive(Debug, Clone, Object)]
#[oai(rename_all = "camelCase")]
pub struct VariantPatch {
    #[oai(nullable)]
    pub title: MaybeUndefined<Title>,
    #[oai(nullable)]
    pub caption: MaybeUndefined<Caption>,
    #[oai(nullable)]
    pub hashtags: MaybeUndefined<Vec<EntryHashtag>>,
    #[oai(nullable)]
    pub call_to_action: MaybeUndefined<CallToAction>,
    #[oai(nullable)]
    pub media_ids: MaybeUndefined<Vec<Uuid>>,
    #[oai(nullable)]
    pub first_comment: MaybeUndefined<FirstComment>,
}

fn change<T, U>(value: MaybeUndefined<T>, f: impl FnOnce(T) -> U) -> FieldChange<U> {
    match value {
        MaybeUndefined::Undefined => FieldChange::Keep,
        MaybeUndefined::Null => FieldChange::Drop,
        MaybeUndefined::Value(value) => FieldChange::Set(f(value)),
    }
}

impl From<VariantPatch> for VariantChange {
    fn from(v: VariantPatch) -> Self {
        Self {
            title: change(v.title, |t| t.0),
            caption: change(v.caption, |c| c.0),
            hashtags: change(v.hashtags, crate::text::strings),
            call_to_action: change(v.call_to_action, |c| c.0),
            media_ids: change(v.media_ids, |ids| ids),
            first_comment: change(v.first_comment, |c| c.0),
        }
    }
}

/// A post as it is: its shared fields, each network's variant and entry.
#[derive(Debug, Clone, Object)]
#[oai(rename_all = "camelCase")]
pub struct Post {
    pub id: Uuid,
    pub calendar_id: Uuid,
    pub title: String,
    /// The title was made from the caption (none was given).
    pub title_from_caption: bool,
    pub caption: String,
    pub hashtags: Vec<String>,
    pub call_to_action: String,
    pub first_comment: String,
    pub media_ids: Vec<Uuid>,
    pub scheduled_at: DateTime<Utc>,
    /// The channels of its entries.
    pub channel_ids: Vec<Uuid>,
    /// Per channel id: the fields that network says on its own (absent: it follows the
    /// shared value).
    pub variants: BTreeMap<String, Variant>,
    /// One per channel: what each network publishes, review and publishing included.
    pub entries: Vec<PostEntry>,
    /// Counts every change of the shared fields. The post's `ETag` carries it with each
    /// entry's version: send it as `If-Match`, and a change to any of them since is 412
    /// `EDIT_CONFLICT` naming the entries that changed (`details.entryIds`).
    pub version: i64,
    pub created_by: Uuid,
    pub updated_by: Uuid,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// One network's own values.
#[derive(Debug, Clone, Default, Object)]
#[oai(rename_all = "camelCase")]
pub struct Variant {
    #[oai(skip_serializing_if_is_none)]
    pub title: Option<String>,
    #[oai(skip_serializing_if_is_none)]
    pub caption: Option<String>,
    #[oai(skip_serializing_if_is_none)]
    pub hashtags: Option<Vec<String>>,
    #[oai(skip_serializing_if_is_none)]
    pub call_to_action: Option<String>,
    #[oai(skip_serializing_if_is_none)]
    pub media_ids: Option<Vec<Uuid>>,
    #[oai(skip_serializing_if_is_none)]
    pub first_comment: Option<String>,
}

impl From<almanac_shared::domain::calendar::Variant> for Variant {
    fn from(v: almanac_shared::domain::calendar::Variant) -> Self {
        Self {
            title: v.title,
            caption: v.caption,
            hashtags: v.hashtags,
            call_to_action: v.call_to_action,
            media_ids: v.media_ids,
            first_comment: v.first_comment,
        }
    }
}

/// One network's entry of a post.
#[derive(Debug, Clone, Object)]
#[oai(rename_all = "camelCase")]
pub struct PostEntry {
    pub entry: CalendarEntry,
    /// The fields it says on its own; it follows the post for the others.
    pub overrides: Vec<PostField>,
    /// Publishing reached it: the post's changes and its deletion leave it as it went.
    pub published: bool,
    /// What its network will receive, as a dry run judges it.
    #[oai(nullable)]
    pub sends: Option<Sends>,
}

/// What a network will receive and what its rules refuse in it.
#[derive(Debug, Clone, Object)]
#[oai(rename_all = "camelCase")]
pub struct Sends {
    /// The post's text as the platform shows it (caption, call to action, hashtags).
    pub text: String,
    /// What the platform's rules refuse (a text past its limit, too many hashtags, a
    /// missing medium); empty when it can go as it is.
    pub problems: Vec<SendProblem>,
}

#[derive(Debug, Clone, Object)]
#[oai(rename_all = "camelCase")]
pub struct SendProblem {
    pub code: String,
    /// The entry's field to change.
    pub field: String,
    pub message: String,
}

/// What deleting a post did.
#[derive(Debug, Clone, Object)]
#[oai(rename_all = "camelCase")]
pub struct PostDeleted {
    pub post_id: Uuid,
    /// Its entries deleted (their scheduled publishes cancelled).
    pub deleted: Vec<Uuid>,
    /// Its entries publishing had reached: kept, as they went.
    pub kept: Vec<Uuid>,
}

crate::enveloped!(Post, PostDeleted);

pub type PostEnvelope = Envelope<Post>;
pub type PostDeletedEnvelope = Envelope<PostDeleted>;
