//! The client review routes' wire types: a review link as its team sees it, and what its
//! guest reads and sends.

use almanac_shared::domain::publish::post::MediaKind;
use almanac_shared::domain::review::{Decision, ReviewStatus};
use almanac_shared::store::review_links::LinkRow;
use chrono::{DateTime, NaiveDate, Utc};
use poem_openapi::{Enum, Object};
use uuid::Uuid;

use crate::envelope::Envelope;
use crate::text::{IsoDate, Text};

/// Whether a review link works.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Enum)]
#[oai(rename = "ReviewLinkStatus", rename_all = "lowercase")]
pub enum LinkStatus {
    Active,
    Expired,
    Revoked,
}

/// A calendar's review link: a secret address showing some of its entries to someone
/// without an account, who may comment and, when allowed, approve.
#[derive(Debug, Clone, Object)]
#[oai(rename_all = "camelCase")]
pub struct ReviewLink {
    pub id: Uuid,
    pub calendar_id: Uuid,
    /// What the team calls it (`For Acme`).
    #[oai(nullable)]
    pub label: Option<String>,
    /// The entries it shows (a range link: those in the range when it was made).
    pub entry_ids: Vec<Uuid>,
    /// The days it was made for, when it was made for a range.
    #[oai(nullable)]
    pub from: Option<NaiveDate>,
    #[oai(nullable)]
    pub to: Option<NaiveDate>,
    /// Its holder may approve or ask for changes at the steps guests decide.
    pub can_approve: bool,
    pub expires_at: DateTime<Utc>,
    pub status: LinkStatus,
    pub created_by: Uuid,
    pub created_at: DateTime<Utc>,
    #[oai(nullable)]
    pub revoked_at: Option<DateTime<Utc>>,
    #[oai(nullable)]
    pub last_used_at: Option<DateTime<Utc>>,
    /// The address to send: shown once, when the link is made (null afterwards).
    #[oai(nullable)]
    pub url: Option<String>,
}

impl ReviewLink {
    pub fn of(row: LinkRow, url: Option<String>, now: DateTime<Utc>) -> Self {
        let status = if row.revoked_at.is_some() {
            LinkStatus::Revoked
        } else if row.expires_at <= now {
            LinkStatus::Expired
        } else {
            LinkStatus::Active
        };
        Self {
            id: row.id,
            calendar_id: row.calendar_id,
            label: row.label,
            entry_ids: row.entry_ids,
            from: row.range_from,
            to: row.range_to,
            can_approve: row.can_approve,
            expires_at: row.expires_at,
            status,
            created_by: row.created_by,
            created_at: row.created_at,
            revoked_at: row.revoked_at,
            last_used_at: row.last_used_at,
            url,
        }
    }
}

/// A calendar's review links, newest first (revoked and expired ones for 30 days).
#[derive(Debug, Clone, Object)]
pub struct ReviewLinkList {
    pub items: Vec<ReviewLink>,
}

/// A review link to make: for some entries (`entryIds`), or for the days `from`-`to`.
#[derive(Debug, Clone, Object)]
#[oai(rename_all = "camelCase")]
pub struct ReviewLinkBody {
    /// The entries to show (of this calendar), 1-200.
    #[oai(validator(min_items = 1, max_items = 200, unique_items))]
    pub entry_ids: Option<Vec<Uuid>>,
    /// The first and last day (`YYYY-MM-DD`, the entries' own dates) whose entries to
    /// show, at most 92 days: the entries there now.
    pub from: Option<IsoDate>,
    pub to: Option<IsoDate>,
    /// When it stops working: later than now, at most 90 days ahead (default 14 days).
    pub expires_at: Option<DateTime<Utc>>,
    /// Whether its holder may approve or ask for changes (where a step lets guests decide).
    #[oai(default)]
    pub can_approve: bool,
    /// What the team calls it, 1-80 characters.
    pub label: Option<Text<1, 80>>,
}

/// An entry as a review link's guest sees it: what would be posted, and its review.
#[derive(Debug, Clone, Object)]
#[oai(rename_all = "camelCase")]
pub struct GuestEntry {
    pub id: Uuid,
    /// The platform it is planned for (`instagram`, `linkedin`, ...).
    pub channel: String,
    pub scheduled_at: DateTime<Utc>,
    /// Its date and time where it is planned.
    pub date: NaiveDate,
    pub time: String,
    pub title: String,
    pub caption: String,
    pub format: String,
    pub hashtags: Vec<String>,
    pub call_to_action: String,
    pub media: Vec<GuestMedia>,
    /// Media hosted elsewhere, when the entry names some by address.
    #[oai(nullable)]
    pub media_url: Option<String>,
    pub review: GuestReview,
    /// Every decision, oldest first.
    pub decisions: Vec<GuestDecision>,
    /// Every comment, oldest first.
    pub comments: Vec<GuestComment>,
}

/// A picture or video of an entry, at an address that works for a while.
#[derive(Debug, Clone, Object)]
#[oai(rename_all = "camelCase")]
pub struct GuestMedia {
    pub kind: MediaKind,
    pub url: String,
    pub alt_text: String,
}

/// An entry's review as its guest sees it.
#[derive(Debug, Clone, Object)]
#[oai(rename_all = "camelCase")]
pub struct GuestReview {
    pub status: ReviewStatus,
    #[oai(nullable)]
    pub step: Option<i16>,
    /// The names of the review's steps, in order.
    pub steps: Vec<String>,
    /// The version to send with a decision.
    pub content_version: i32,
    /// The link's holder may decide now: the link allows it and the step asked now is one
    /// guests decide.
    pub you_may_decide: bool,
}

/// A decision in an entry's review, as its guest sees it.
#[derive(Debug, Clone, Object)]
#[oai(rename_all = "camelCase")]
pub struct GuestDecision {
    pub step: i16,
    #[oai(nullable)]
    pub step_name: Option<String>,
    pub decision: Decision,
    /// The name the decider is shown by (a teammate without a name: null).
    #[oai(nullable)]
    pub by: Option<String>,
    /// Decided by a guest, through a review link.
    pub guest: bool,
    #[oai(nullable)]
    pub comment: Option<String>,
    pub at: DateTime<Utc>,
}

/// A comment, as a review link's guest sees it.
#[derive(Debug, Clone, Object)]
#[oai(rename_all = "camelCase")]
pub struct GuestComment {
    pub id: Uuid,
    /// The name its writer is shown by (a teammate without a name: null).
    #[oai(nullable)]
    pub by: Option<String>,
    /// Written by a guest, through a review link.
    pub guest: bool,
    pub text: String,
    pub at: DateTime<Utc>,
}

/// What a review link shows.
#[derive(Debug, Clone, Object)]
#[oai(rename_all = "camelCase")]
pub struct GuestView {
    pub calendar_name: String,
    #[oai(nullable)]
    pub label: Option<String>,
    pub can_approve: bool,
    pub expires_at: DateTime<Utc>,
    pub entries: Vec<GuestEntry>,
}

/// A guest's decision on an entry's step asked now.
#[derive(Debug, Clone, Object)]
#[oai(rename_all = "camelCase")]
pub struct GuestDecisionBody {
    pub entry_id: Uuid,
    pub decision: Decision,
    /// The guest's name, as the team will see it (1-80 characters).
    pub name: Text<1, 80>,
    /// What to change, when asking for changes (up to 2,000 characters).
    #[oai(nullable)]
    pub comment: Option<Text<0, 2000>>,
    /// The entry's `review.contentVersion` as read: 409 `REVIEW_VERSION_CHANGED` when it
    /// changed since.
    #[oai(validator(minimum(value = "1")))]
    pub content_version: i32,
}

/// A guest's comment on an entry.
#[derive(Debug, Clone, Object)]
#[oai(rename_all = "camelCase")]
pub struct GuestCommentBody {
    pub entry_id: Uuid,
    /// The guest's name, as the team will see it (1-80 characters).
    pub name: Text<1, 80>,
    /// 1-4,000 characters, shown as text.
    pub text: Text<1, 4000>,
}

crate::enveloped!(
    ReviewLink,
    ReviewLinkList,
    GuestView,
    GuestEntry,
    GuestComment
);

pub type ReviewLinkEnvelope = Envelope<ReviewLink>;
pub type ReviewLinkListEnvelope = Envelope<ReviewLinkList>;
pub type GuestViewEnvelope = Envelope<GuestView>;
pub type GuestEntryEnvelope = Envelope<GuestEntry>;
pub type GuestCommentEnvelope = Envelope<GuestComment>;
