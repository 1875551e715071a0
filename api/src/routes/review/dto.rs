//! The review routes' wire types: a policy and what it holds, an entry's review, a decision.

use almanac_shared::domain::review::{Decision, Policy, ReviewMode, ReviewStatus, Step};
use almanac_shared::store::review::{PolicyRow, ReviewColumns, Unapproved};
use chrono::{DateTime, Utc};
use poem_openapi::Object;
use uuid::Uuid;

use crate::envelope::Envelope;
use crate::text::Text;

/// A channel's or a workspace's review policy, with who last set it.
#[derive(Debug, Clone, Object)]
#[oai(rename_all = "camelCase")]
pub struct ReviewPolicyView {
    /// `none`: entries publish without review. `always`: only an entry approved at the
    /// content it publishes goes out.
    pub mode: ReviewMode,
    pub steps: Vec<Step>,
    /// The connected channel it is set on; null for the workspace's own (which applies to
    /// every channel without one).
    #[oai(nullable)]
    pub channel_id: Option<Uuid>,
    /// Who set it last (null while it was never set).
    #[oai(nullable)]
    pub updated_by: Option<Uuid>,
    #[oai(nullable)]
    pub updated_at: Option<DateTime<Utc>>,
    /// Scheduled or queued publishes this policy now holds for an approval their entries
    /// do not have: each goes out only once approved, else fails `REVIEW_EXPIRED` at its
    /// time.
    pub needs_approval: Vec<NeedsApproval>,
}

impl ReviewPolicyView {
    pub fn of(row: PolicyRow, channel_id: Option<Uuid>, held: Vec<Unapproved>) -> Self {
        Self {
            mode: row.mode,
            steps: row.steps.0,
            channel_id,
            updated_by: row.updated_by,
            updated_at: row.updated_at,
            needs_approval: held.into_iter().map(NeedsApproval::from).collect(),
        }
    }
}

/// A publish waiting for its entry's approval.
#[derive(Debug, Clone, Object)]
#[oai(rename_all = "camelCase")]
pub struct NeedsApproval {
    pub intent_id: Uuid,
    pub entry_id: Uuid,
    pub channel_id: Uuid,
    #[oai(nullable)]
    pub publish_at: Option<DateTime<Utc>>,
}

crate::from_row!(Unapproved => NeedsApproval {
    intent_id,
    entry_id,
    channel_id,
    publish_at,
});

/// One decision in an entry's review history.
#[derive(Debug, Clone, Object)]
#[oai(rename_all = "camelCase")]
pub struct ReviewDecision {
    /// The step it was made at (from 1).
    pub step: i16,
    /// The member who made it; null for a guest's, through a review link.
    #[oai(nullable)]
    pub by: Option<Uuid>,
    /// The name the guest gave.
    #[oai(nullable)]
    pub guest_name: Option<String>,
    pub decision: Decision,
    #[oai(nullable)]
    pub comment: Option<String>,
    pub at: DateTime<Utc>,
    /// The content version it was made on.
    pub content_version: i32,
}

/// An entry's review, apart from its publishing.
#[derive(Debug, Clone, Object)]
#[oai(rename = "EntryReview", rename_all = "camelCase")]
pub struct ReviewView {
    pub status: ReviewStatus,
    /// The step asked now (from 1) while `in_review`; the one that asked for changes when
    /// `changes_requested`; null otherwise.
    #[oai(nullable)]
    pub step: Option<i16>,
    /// Counts changes of what is published (title, caption, hashtags, call to action,
    /// media); moving the entry keeps it. A decision names the version it was made on.
    pub content_version: i32,
    /// The version approved, while `approved`.
    #[oai(nullable)]
    pub approved_version: Option<i32>,
    /// A policy asks for review before this entry publishes.
    pub required: bool,
    /// The steps of the review asked for (empty before one was).
    pub steps: Vec<Step>,
    #[oai(nullable)]
    pub requested_by: Option<Uuid>,
    #[oai(nullable)]
    pub requested_at: Option<DateTime<Utc>>,
    /// Every decision, oldest first, earlier rounds included.
    pub decisions: Vec<ReviewDecision>,
}

impl From<ReviewColumns> for ReviewView {
    fn from(row: ReviewColumns) -> Self {
        Self {
            status: row.review_status,
            step: row.review_step,
            content_version: row.content_version,
            approved_version: row.approved_version,
            required: row.review_required,
            steps: row.review_steps.0,
            requested_by: row.review_requested_by,
            requested_at: row.review_requested_at,
            decisions: row
                .review_decisions
                .0
                .into_iter()
                .map(|d| ReviewDecision {
                    step: d.step,
                    by: d.by,
                    guest_name: d.guest_name,
                    decision: d.decision,
                    comment: d.comment,
                    at: d.at,
                    content_version: d.content_version,
                })
                .collect(),
        }
    }
}

/// A decision on the current step of an entry's review.
#[derive(Debug, Clone, Object)]
#[oai(rename_all = "camelCase")]
pub struct DecisionBody {
    pub decision: Decision,
    /// Up to 2,000 characters; what to change, when asking for changes.
    #[oai(nullable)]
    pub comment: Option<Text<0, 2000>>,
    /// The entry's `review.contentVersion` as read: a decision on another is 409
    /// `REVIEW_VERSION_CHANGED`.
    #[oai(validator(minimum(value = "1")))]
    pub content_version: i32,
}

/// An entry waiting in review, as the Review page lists it.
#[derive(Debug, Clone, Object)]
#[oai(rename_all = "camelCase")]
pub struct WaitingEntry {
    pub calendar_id: Uuid,
    pub calendar_name: String,
    pub entry_id: Uuid,
    pub title: String,
    pub channel: String,
    pub scheduled_at: DateTime<Utc>,
    /// `in_review` or `changes_requested`.
    pub status: ReviewStatus,
    #[oai(nullable)]
    pub step: Option<i16>,
    /// The name of the step asked now (or that asked for changes).
    #[oai(nullable)]
    pub step_name: Option<String>,
    pub steps: i16,
    #[oai(nullable)]
    pub requested_by: Option<Uuid>,
    #[oai(nullable)]
    pub requested_at: Option<DateTime<Utc>>,
    pub content_version: i32,
    /// The caller may decide it now: an approver of its step who did not ask for it.
    pub yours: bool,
}

/// The workspace's entries in review.
#[derive(Debug, Clone, Object)]
pub struct WaitingList {
    pub items: Vec<WaitingEntry>,
}

/// The policy to set (replacing the one there).
pub type PolicyBody = Policy;

crate::enveloped!(ReviewPolicyView, ReviewView, WaitingList);

pub type WaitingEnvelope = Envelope<WaitingList>;

pub type ReviewPolicyEnvelope = Envelope<ReviewPolicyView>;
pub type ReviewEnvelope = Envelope<ReviewView>;
