//! The workspaces' wire types.

use almanac_shared::{
    store::workspaces::{InvitationRow, MemberRow, WorkspaceRow},
    workspaces::Role,
};
use chrono::{DateTime, Utc};
use poem_openapi::Object;
use uuid::Uuid;

use crate::{envelope::Envelope, routes::me::Language, text::Text};

/// A workspace, as one of its members sees it.
#[derive(Debug, Clone, Object)]
#[oai(rename_all = "camelCase")]
pub struct Workspace {
    /// Send it as `Almanac-Workspace` to list or create in this workspace. A personal
    /// workspace's id is its person's.
    pub id: Uuid,
    pub name: String,
    /// The person's own workspace, made with their account: it cannot be deleted, and
    /// nobody else joins it.
    pub personal: bool,
    /// The language of the emails its invitations send.
    pub language: Language,
    /// The caller's role here.
    pub role: Role,
    /// How many members it has.
    pub members: i64,
    pub created_at: DateTime<Utc>,
}

impl From<WorkspaceRow> for Workspace {
    fn from(row: WorkspaceRow) -> Self {
        Self {
            id: row.id,
            name: row.name,
            personal: row.personal,
            language: Language::of(&row.language).unwrap_or(Language::En),
            role: row.role,
            members: row.members,
            created_at: row.created_at,
        }
    }
}

#[derive(Debug, Clone, Object)]
pub struct WorkspaceList {
    /// The caller's personal workspace first, then the others by name.
    pub items: Vec<Workspace>,
}

/// A team workspace to make; the caller is its owner.
#[derive(Debug, Clone, Object)]
#[oai(rename_all = "camelCase")]
pub struct NewWorkspace {
    /// 1-80 characters (spaces at either end not counted).
    pub name: Text<1, 80>,
    /// The language of its invitations' emails (default: English).
    pub language: Option<Language>,
}

/// What changes; a field left out stays.
#[derive(Debug, Clone, Object)]
#[oai(rename_all = "camelCase")]
pub struct WorkspacePatch {
    pub name: Option<Text<1, 80>>,
    pub language: Option<Language>,
}

/// A member of a workspace.
#[derive(Debug, Clone, Object)]
#[oai(rename_all = "camelCase")]
pub struct Member {
    pub user_id: Uuid,
    /// Their address; null for someone who only ever called with a token that carried none.
    #[oai(nullable)]
    pub email: Option<String>,
    /// Their name; null: not set.
    #[oai(nullable)]
    pub name: Option<String>,
    pub role: Role,
    /// When they joined.
    pub joined_at: DateTime<Utc>,
}

impl From<MemberRow> for Member {
    fn from(row: MemberRow) -> Self {
        Self {
            user_id: row.user_id,
            email: row.email,
            name: row.name,
            role: row.role,
            joined_at: row.created_at,
        }
    }
}

#[derive(Debug, Clone, Object)]
pub struct MemberList {
    /// Owners first, then admins, editors and viewers, each by name.
    pub items: Vec<Member>,
}

/// A member's new role.
#[derive(Debug, Clone, Object)]
pub struct MemberPatch {
    /// An admin grants at most `admin`; only an owner grants or removes `owner`.
    pub role: Role,
}

/// An invitation waiting to be accepted.
#[derive(Debug, Clone, Object)]
#[oai(rename_all = "camelCase")]
pub struct Invitation {
    pub id: Uuid,
    pub email: String,
    /// The role the invited person gets on accepting.
    pub role: Role,
    /// The member who sent it.
    pub invited_by: Uuid,
    pub created_at: DateTime<Utc>,
    /// After this the link no longer works (`INVITATION_TTL_DAYS`).
    pub expires_at: DateTime<Utc>,
}

impl From<InvitationRow> for Invitation {
    fn from(row: InvitationRow) -> Self {
        Self {
            id: row.id,
            email: row.email,
            role: row.role,
            invited_by: row.invited_by,
            created_at: row.created_at,
            expires_at: row.expires_at,
        }
    }
}

#[derive(Debug, Clone, Object)]
pub struct InvitationList {
    /// The invitations neither accepted, revoked nor expired, newest first.
    pub items: Vec<Invitation>,
}

/// Whom to invite, as what.
#[derive(Debug, Clone, Object)]
pub struct NewInvitation {
    /// The address the link is emailed to; only a person signed in with it can accept.
    pub email: Text<3, 320>,
    /// An admin invites at most as `admin`; only an owner invites an `owner`.
    pub role: Role,
}

/// An invitation accepted: the workspace joined.
#[derive(Debug, Clone, Object)]
pub struct Joined {
    pub workspace: Workspace,
}

crate::enveloped!(
    Workspace,
    WorkspaceList,
    MemberList,
    Member,
    Invitation,
    InvitationList,
    Joined
);

pub type WorkspaceEnvelope = Envelope<Workspace>;
pub type WorkspaceListEnvelope = Envelope<WorkspaceList>;
pub type MemberEnvelope = Envelope<Member>;
pub type MemberListEnvelope = Envelope<MemberList>;
pub type InvitationEnvelope = Envelope<Invitation>;
pub type InvitationListEnvelope = Envelope<InvitationList>;
pub type JoinedEnvelope = Envelope<Joined>;
