//! Review before publishing (docs/review.md): a channel's or a workspace's policy, an
//! entry's review as it moves through the policy's steps, and who may decide at a step.

use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::{Invalid, invalid};
use crate::workspaces::Role;

/// At most this many steps in a policy.
pub const STEPS_MAX: usize = 3;

crate::text_enum! {
    /// Whether entries need an approval before they are published.
    #[derive(Default)]
    #[oai(rename = "ReviewMode")]
    pub enum ReviewMode in "lowercase" {
        /// Publishing as without review.
        #[default]
        None,
        /// Every entry, approved at the version it publishes.
        Always,
    }
}

crate::text_enum! {
    /// Where an entry's review stands.
    #[oai(rename = "EntryReviewStatus")]
    pub enum ReviewStatus in "snake_case" {
        NotRequested,
        InReview,
        ChangesRequested,
        Approved,
        /// Its time came before it was approved: it was not published.
        Expired,
    }
}

crate::text_enum! {
    /// An approver's decision.
    #[oai(rename = "ReviewDecisionKind")]
    pub enum Decision in "snake_case" {
        Approve,
        RequestChanges,
    }
}

crate::text_enum! {
    /// What a notification is about.
    #[oai(rename = "NotificationKind")]
    pub enum NotificationKind in "snake_case" {
        /// A comment mentions you.
        Mention,
        /// An entry waits for your decision (you approve at the step asked now).
        ReviewRequested,
        /// A review you asked for was approved...
        Approved,
        /// ...or sent back with changes asked for...
        ChangesRequested,
        /// ...or its entry's time came before it was approved.
        Expired,
        /// A guest commented, through a review link you made or on an entry whose review
        /// you asked for.
        Commented,
    }
}

crate::text_enum! {
    /// What made an entry (or a publish): a generation, a person by hand, an imported
    /// organic week, an automatic post, or an evergreen collection's repeat.
    #[oai(rename = "ProvenanceOrigin")]
    pub enum Origin in "lowercase" {
        Generated,
        Manual,
        Import,
        Autopost,
        Evergreen,
    }
}

crate::text_enum! {
    /// How a change came in: the web app, the API (a token or a key), an agent over MCP,
    /// or a worker (a generation).
    #[oai(rename = "ProvenanceVia")]
    pub enum Via in "lowercase" {
        App,
        Api,
        Mcp,
        Worker,
    }
}

/// Where an entry's words come from, and who vouched for them: what made it, how, with
/// which model and prompt, on whose key, who last edited it, and its review.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, poem_openapi::Object)]
#[serde(rename_all = "camelCase")]
#[oai(rename_all = "camelCase")]
pub struct Provenance {
    pub origin: Origin,
    /// Null for an entry made before Almanac recorded it.
    #[oai(nullable)]
    pub via: Option<Via>,
    /// The AI provider and model of a generated entry's run.
    #[oai(nullable)]
    pub provider: Option<String>,
    #[oai(nullable)]
    pub model: Option<String>,
    /// The prompt template and its version (`calendar`, `v1`) of a generated entry.
    #[oai(nullable)]
    pub prompt_template: Option<String>,
    #[oai(nullable)]
    pub prompt_version: Option<String>,
    /// The name the API key had when it made the entry.
    #[oai(nullable)]
    pub api_key_name: Option<String>,
    /// The member who last edited it by hand, once it was.
    #[oai(nullable)]
    pub edited_by: Option<Uuid>,
    pub review: ProvenanceReview,
}

/// The review part of a provenance.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, poem_openapi::Object)]
#[serde(rename_all = "camelCase")]
#[oai(rename_all = "camelCase")]
pub struct ProvenanceReview {
    pub status: ReviewStatus,
    #[oai(nullable)]
    pub approved_version: Option<i32>,
    /// The hash of the content approved (see the publish intent's `approvedHash`).
    #[oai(nullable)]
    pub approved_hash: Option<String>,
    /// Each approval of the round that approved it, by step.
    pub approvals: Vec<Approval>,
}

/// One approver's approval.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, poem_openapi::Object)]
#[serde(rename_all = "camelCase")]
#[oai(rename = "ProvenanceApproval", rename_all = "camelCase")]
pub struct Approval {
    pub step: i16,
    #[oai(nullable)]
    pub step_name: Option<String>,
    /// The member who approved; null for a guest (through a review link).
    #[oai(nullable)]
    pub by: Option<Uuid>,
    /// The name the guest gave.
    #[oai(nullable)]
    #[serde(default)]
    pub guest_name: Option<String>,
    pub at: chrono::DateTime<chrono::Utc>,
    /// The content version they approved.
    pub content_version: i32,
}

/// Who may decide at a step: members holding one of `roles`, the members named in
/// `userIds`, and guests by email address (who decide through a review link).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, poem_openapi::Object)]
#[serde(rename_all = "camelCase", default)]
#[oai(rename = "ReviewApprovers", rename_all = "camelCase")]
pub struct Approvers {
    /// Members with one of these roles.
    #[oai(default, validator(max_items = 4, unique_items))]
    pub roles: Vec<Role>,
    /// These members (`GET /v1/workspaces/{id}/members`).
    #[oai(default, validator(max_items = 50, unique_items))]
    pub user_ids: Vec<Uuid>,
    /// People outside the workspace, by email address (a client's review link).
    #[oai(default, validator(max_items = 20, unique_items))]
    pub guests: Vec<String>,
}

/// One step of a policy.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, poem_openapi::Object)]
#[serde(rename_all = "camelCase")]
#[oai(rename = "ReviewStep", rename_all = "camelCase")]
pub struct Step {
    /// What the step is (`Legal`, `Client`), 1-60 characters.
    #[oai(validator(min_length = 1, max_length = 60))]
    pub name: String,
    pub approvers: Approvers,
    /// How many of its approvers must approve (1 when absent).
    #[oai(
        default = "one",
        validator(minimum(value = "1"), maximum(value = "10"))
    )]
    #[serde(default = "one")]
    pub required: u8,
}

fn one() -> u8 {
    1
}

/// A channel's or a workspace's review policy.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, poem_openapi::Object)]
#[serde(rename_all = "camelCase")]
#[oai(rename = "ReviewPolicy", rename_all = "camelCase")]
pub struct Policy {
    pub mode: ReviewMode,
    /// In order, at most 3; `always` needs at least one.
    #[oai(default, validator(max_items = 3))]
    pub steps: Vec<Step>,
}

impl Policy {
    /// The policy's own rules beyond its fields' types: `always` has steps, each step can
    /// be approved by someone, guests are email addresses, names are not blank.
    pub fn validate(&self) -> Result<(), Invalid> {
        if self.steps.len() > STEPS_MAX {
            return Err(invalid("steps", "at most 3 steps"));
        }
        if self.mode == ReviewMode::Always && self.steps.is_empty() {
            return Err(invalid(
                "steps",
                "a review that is always asked for needs at least one step",
            ));
        }
        for (i, step) in self.steps.iter().enumerate() {
            let field = |name: &str| format!("steps[{i}].{name}");
            if step.name.trim().is_empty() {
                return Err(invalid(field("name"), "must not be blank"));
            }
            let approvers = &step.approvers;
            if approvers.roles.is_empty()
                && approvers.user_ids.is_empty()
                && approvers.guests.is_empty()
            {
                return Err(invalid(
                    field("approvers"),
                    "name at least one role, member or guest who approves",
                ));
            }
            if let Some(bad) = approvers.guests.iter().find(|g| !is_email(g)) {
                return Err(invalid(
                    field("approvers.guests"),
                    format!("`{bad}` is not an email address"),
                ));
            }
            if approvers.roles.is_empty()
                && approvers.guests.is_empty()
                && usize::from(step.required) > approvers.user_ids.len()
            {
                return Err(invalid(
                    field("required"),
                    "more approvals than the step names approvers",
                ));
            }
        }
        Ok(())
    }
}

fn is_email(text: &str) -> bool {
    let Some((local, domain)) = text.split_once('@') else {
        return false;
    };
    text.len() <= 254
        && !local.is_empty()
        && domain.contains('.')
        && !domain.starts_with('.')
        && !domain.ends_with('.')
        && !text.chars().any(|c| c.is_whitespace() || c.is_control())
}

/// A member as a step's approvers see them.
#[derive(Debug, Clone, Copy)]
pub struct Member {
    pub id: Uuid,
    pub role: Role,
}

impl Step {
    /// Whether `member` is one of the step's approvers.
    pub fn admits(&self, member: Member) -> bool {
        self.approvers.roles.contains(&member.role) || self.approvers.user_ids.contains(&member.id)
    }

    /// Whether guests decide at the step (through a review link that allows it).
    pub fn admits_guests(&self) -> bool {
        !self.approvers.guests.is_empty()
    }
}

/// Step `step` (from 1) of `steps`.
pub fn step_at(steps: &[Step], step: i16) -> Option<&Step> {
    usize::try_from(step - 1).ok().and_then(|i| steps.get(i))
}

/// Whether `member` may decide at `step` of a review `requested_by` asked for: one of the
/// step's approvers, never the person who asked.
pub fn may_decide(step: &Step, requested_by: Option<Uuid>, member: Member) -> bool {
    requested_by != Some(member.id) && step.admits(member)
}

/// What an approval does to a review at `step` (from 1) of `steps`, given how many distinct
/// approvals that step has now (this one included).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Advance {
    /// The step needs more approvals.
    Stay,
    /// The next step is asked.
    Next(i16),
    /// Every step approved.
    Approved,
}

/// The review's next place after an approval at `step`.
pub fn advance(steps: &[Step], step: i16, approvals: usize) -> Advance {
    let Some(current) = step_at(steps, step) else {
        return Advance::Approved;
    };
    if approvals < usize::from(current.required.max(1)) {
        Advance::Stay
    } else if usize::try_from(step).is_ok_and(|s| s >= steps.len()) {
        Advance::Approved
    } else {
        Advance::Next(step + 1)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn step(name: &str, roles: Vec<Role>, required: u8) -> Step {
        Step {
            name: name.into(),
            approvers: Approvers {
                roles,
                ..Approvers::default()
            },
            required,
        }
    }

    #[test]
    fn a_review_goes_through_each_step_with_its_count_of_approvals() {
        let steps = vec![
            step("Editor", vec![Role::Editor], 1),
            step("Legal", vec![Role::Admin], 2),
            step("Owner", vec![Role::Owner], 1),
        ];
        assert_eq!(advance(&steps, 1, 1), Advance::Next(2));
        assert_eq!(advance(&steps, 2, 1), Advance::Stay);
        assert_eq!(advance(&steps, 2, 2), Advance::Next(3));
        assert_eq!(advance(&steps, 3, 1), Advance::Approved);
    }

    #[test]
    fn a_policy_says_what_is_wrong_with_it() {
        let always = |steps| Policy {
            mode: ReviewMode::Always,
            steps,
        };
        assert_eq!(always(vec![]).validate().unwrap_err().field, "steps");
        assert_eq!(
            always(vec![step(" ", vec![Role::Admin], 1)])
                .validate()
                .unwrap_err()
                .field,
            "steps[0].name"
        );
        assert_eq!(
            always(vec![step("Legal", vec![], 1)])
                .validate()
                .unwrap_err()
                .field,
            "steps[0].approvers"
        );
        let mut guest = step("Client", vec![], 1);
        guest.approvers.guests = vec!["not an address".into()];
        assert_eq!(
            always(vec![guest]).validate().unwrap_err().field,
            "steps[0].approvers.guests"
        );
        let mut two = step("Pair", vec![], 2);
        two.approvers.user_ids = vec![Uuid::nil()];
        assert_eq!(
            always(vec![two]).validate().unwrap_err().field,
            "steps[0].required"
        );
        assert!(Policy::default().validate().is_ok());
    }

    #[test]
    fn roles_and_named_members_approve_and_no_one_else() {
        let someone = Uuid::now_v7();
        let mut legal = step("Legal", vec![Role::Admin], 1);
        legal.approvers.user_ids = vec![someone];
        assert!(legal.admits(Member {
            id: Uuid::now_v7(),
            role: Role::Admin
        }));
        assert!(legal.admits(Member {
            id: someone,
            role: Role::Viewer
        }));
        assert!(!legal.admits(Member {
            id: Uuid::now_v7(),
            role: Role::Owner
        }));
    }
}
