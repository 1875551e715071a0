//! Workspaces, their members and invitations (`workspaces`, `workspace_members`,
//! `workspace_invitations`). Only the API's own connection reads them (row-level security
//! with no policy for a person): every statement names the member it acts for, and the
//! API checks the role before calling it. A personal workspace (its id is its person's) is
//! made on first sight ([`ensure_personal`]); its person is its owner without a lookup.

use chrono::{DateTime, Utc};
use sqlx::{AssertSqlSafe, PgPool};
use uuid::Uuid;

use crate::workspaces::Role;

/// A workspace as one of its members sees it.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct WorkspaceRow {
    pub id: Uuid,
    pub name: String,
    pub personal: bool,
    pub language: String,
    pub role: Role,
    pub members: i64,
    pub created_at: DateTime<Utc>,
}

const WORKSPACE_COLUMNS: &str = "w.id, w.name, w.personal, w.language, m.role, \
     (select count(*) from workspace_members c where c.workspace_id = w.id) as members, \
     w.created_at";

/// A table whose rows a route names by id, and so whose row tells the workspace a request
/// acts in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Resource {
    Calendar,
    Job,
    Card,
    Generation,
    Suggestion,
    Theme,
    Synthesis,
    Channel,
    Evergreen,
    PublishIntent,
    Media,
    Webhook,
    ApiKey,
}

impl Resource {
    fn table(self) -> &'static str {
        match self {
            Resource::Calendar => "calendars",
            Resource::Job => "jobs",
            Resource::Card => "cards",
            Resource::Generation => "ai_generations",
            Resource::Suggestion => "ai_suggestions",
            Resource::Theme => "themes",
            Resource::Synthesis => "syntheses",
            Resource::Channel => "platform_accounts",
            Resource::Evergreen => "evergreen_collections",
            Resource::PublishIntent => "publish_intents",
            Resource::Media => "media",
            Resource::Webhook => "webhook_endpoints",
            Resource::ApiKey => "api_keys",
        }
    }
}

/// The workspace the row `id` of `resource` is in, with `user`'s role there (`None`: not a
/// member); `None` when there is no such row. One statement.
pub async fn resource(
    pool: &PgPool,
    resource: Resource,
    id: Uuid,
    user: Uuid,
) -> sqlx::Result<Option<(Uuid, Option<Role>)>> {
    sqlx::query_as(AssertSqlSafe(format!(
        "select r.workspace_id,
                case when r.workspace_id = $2 then 'owner' else m.role end
         from {} r
         left join workspace_members m on m.workspace_id = r.workspace_id and m.user_id = $2
         where r.id = $1",
        resource.table()
    )))
    .bind(id)
    .bind(user)
    .fetch_optional(pool)
    .await
}

/// `user`'s role in `workspace`, if they are a member (the owner of their personal one
/// without a lookup).
pub async fn role(pool: &PgPool, workspace: Uuid, user: Uuid) -> sqlx::Result<Option<Role>> {
    if workspace == user {
        return Ok(Some(Role::Owner));
    }
    sqlx::query_scalar(
        "select role from workspace_members where workspace_id = $1 and user_id = $2",
    )
    .bind(workspace)
    .bind(user)
    .fetch_optional(pool)
    .await
}

/// Makes `user`'s personal workspace if they have none (named after them, else
/// "Personal").
pub async fn ensure_personal(pool: &PgPool, user: Uuid) -> sqlx::Result<()> {
    sqlx::query(
        "with made as (
             insert into workspaces (id, name, personal, language, created_by)
             select $1, coalesce((select name from users where id = $1), 'Personal'), true,
                    coalesce((select language from users where id = $1), 'en'), $1
             on conflict (id) do nothing
             returning id
         )
         insert into workspace_members (workspace_id, user_id, role)
         select id, id, 'owner' from made
         on conflict do nothing",
    )
    .bind(user)
    .execute(pool)
    .await
    .map(drop)
}

/// The workspaces `user` is a member of, personal first, then by name.
pub async fn of_member(pool: &PgPool, user: Uuid) -> sqlx::Result<Vec<WorkspaceRow>> {
    sqlx::query_as(AssertSqlSafe(format!(
        "select {WORKSPACE_COLUMNS} from workspace_members m
         join workspaces w on w.id = m.workspace_id
         where m.user_id = $1
         order by w.personal desc, lower(w.name), w.id"
    )))
    .bind(user)
    .fetch_all(pool)
    .await
}

/// `workspace` as `user` (a member) sees it.
pub async fn one(pool: &PgPool, workspace: Uuid, user: Uuid) -> sqlx::Result<Option<WorkspaceRow>> {
    sqlx::query_as(AssertSqlSafe(format!(
        "select {WORKSPACE_COLUMNS} from workspace_members m
         join workspaces w on w.id = m.workspace_id
         where m.workspace_id = $1 and m.user_id = $2"
    )))
    .bind(workspace)
    .bind(user)
    .fetch_optional(pool)
    .await
}

/// Makes a team workspace with `user` its owner.
pub async fn create(
    pool: &PgPool,
    id: Uuid,
    name: &str,
    language: &str,
    user: Uuid,
) -> sqlx::Result<()> {
    sqlx::query(
        "with made as (
             insert into workspaces (id, name, personal, language, created_by)
             values ($1, $2, false, $3, $4)
             returning id
         )
         insert into workspace_members (workspace_id, user_id, role, added_by)
         select id, $4, 'owner', $4 from made",
    )
    .bind(id)
    .bind(name)
    .bind(language)
    .bind(user)
    .execute(pool)
    .await
    .map(drop)
}

/// Renames `workspace` and sets its language (each when given).
pub async fn update(
    pool: &PgPool,
    workspace: Uuid,
    name: Option<&str>,
    language: Option<&str>,
) -> sqlx::Result<()> {
    sqlx::query(
        "update workspaces set name = coalesce($2, name), language = coalesce($3, language),
             updated_at = now()
         where id = $1",
    )
    .bind(workspace)
    .bind(name)
    .bind(language)
    .execute(pool)
    .await
    .map(drop)
}

/// Deletes the team workspace `workspace` and everything in it (`delete_workspace`: every
/// table with a `workspace_id`). A personal workspace is never deleted here.
pub async fn delete(pool: &PgPool, workspace: Uuid) -> sqlx::Result<bool> {
    let mut tx = pool.begin().await?;
    let personal: Option<bool> =
        sqlx::query_scalar("select personal from workspaces where id = $1 for update")
            .bind(workspace)
            .fetch_optional(&mut *tx)
            .await?;
    if personal != Some(false) {
        return Ok(false);
    }
    sqlx::query("select delete_workspace($1)")
        .bind(workspace)
        .execute(&mut *tx)
        .await?;
    tx.commit().await?;
    Ok(true)
}

/// A member as the others see them.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct MemberRow {
    pub user_id: Uuid,
    pub email: Option<String>,
    pub name: Option<String>,
    pub role: Role,
    pub created_at: DateTime<Utc>,
}

/// The members of `workspace`, owners first, then by name or address.
pub async fn members(pool: &PgPool, workspace: Uuid) -> sqlx::Result<Vec<MemberRow>> {
    sqlx::query_as(
        "select m.user_id, coalesce(u.email, c.email) as email, u.name, m.role, m.created_at
         from workspace_members m
         left join users u on u.id = m.user_id
         left join user_contacts c on c.user_id = m.user_id
         where m.workspace_id = $1
         order by case m.role when 'owner' then 0 when 'admin' then 1 when 'editor' then 2
                  else 3 end, lower(coalesce(u.name, u.email, c.email, '')), m.user_id",
    )
    .bind(workspace)
    .fetch_all(pool)
    .await
}

/// Why a change to a member was not made.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MemberChange {
    Done,
    /// No such member.
    NotAMember,
    /// It would leave the workspace without an owner.
    LastOwner,
}

/// Gives `user` the role `role` in `workspace` (or removes them, when `None`), unless that
/// leaves it without an owner. The owners are locked first, so two owners demoting each
/// other at once cannot both succeed. Removing a member deletes their API keys and
/// notifications there and revokes the review links they made.
pub async fn change_member(
    pool: &PgPool,
    workspace: Uuid,
    user: Uuid,
    role: Option<Role>,
) -> sqlx::Result<MemberChange> {
    let mut tx = pool.begin().await?;
    let owners: Vec<Uuid> = sqlx::query_scalar(
        "select user_id from workspace_members where workspace_id = $1 and role = 'owner'
         order by user_id for update",
    )
    .bind(workspace)
    .fetch_all(&mut *tx)
    .await?;
    let current: Option<Role> = sqlx::query_scalar(
        "select role from workspace_members where workspace_id = $1 and user_id = $2
         for update",
    )
    .bind(workspace)
    .bind(user)
    .fetch_optional(&mut *tx)
    .await?;
    let Some(current) = current else {
        return Ok(MemberChange::NotAMember);
    };
    if current == Role::Owner && role != Some(Role::Owner) && owners.len() <= 1 {
        return Ok(MemberChange::LastOwner);
    }
    match role {
        Some(role) => {
            sqlx::query(
                "update workspace_members set role = $3, updated_at = now()
                 where workspace_id = $1 and user_id = $2",
            )
            .bind(workspace)
            .bind(user)
            .bind(role)
            .execute(&mut *tx)
            .await?;
        }
        None => {
            sqlx::query(
                "with gone as (
                     delete from workspace_members where workspace_id = $1 and user_id = $2
                 ), keys as (
                     delete from api_keys where workspace_id = $1 and user_id = $2
                 ), links as (
                     update review_links set revoked_at = now()
                     where workspace_id = $1 and user_id = $2 and revoked_at is null
                 )
                 delete from notifications where workspace_id = $1 and user_id = $2",
            )
            .bind(workspace)
            .bind(user)
            .execute(&mut *tx)
            .await?;
        }
    }
    tx.commit().await?;
    Ok(MemberChange::Done)
}

/// An invitation as a workspace's members see it.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct InvitationRow {
    pub id: Uuid,
    pub workspace_id: Uuid,
    pub email: String,
    pub role: Role,
    pub invited_by: Uuid,
    pub created_at: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
}

const INVITATION_COLUMNS: &str =
    "id, workspace_id, email, role, invited_by, created_at, expires_at";

/// Whether the address `email` (lower-case) is a member of `workspace` already (by its
/// verified address or the one its token carries).
pub async fn is_member_address(pool: &PgPool, workspace: Uuid, email: &str) -> sqlx::Result<bool> {
    sqlx::query_scalar(
        "select exists (
             select 1 from workspace_members m
             left join users u on u.id = m.user_id
             left join user_contacts c on c.user_id = m.user_id
             where m.workspace_id = $1 and (u.email = $2 or lower(c.email) = $2))",
    )
    .bind(workspace)
    .bind(email)
    .fetch_one(pool)
    .await
}

/// Keeps an invitation of `email` to `workspace` as `role` (the link's digest only); an
/// open invitation to the same address is revoked by it.
pub async fn invite(
    pool: &PgPool,
    invitation: &InvitationRow,
    digest: &[u8; 32],
) -> sqlx::Result<()> {
    let mut tx = pool.begin().await?;
    sqlx::query(
        "update workspace_invitations set revoked_at = now()
         where workspace_id = $1 and email = $2 and accepted_at is null and revoked_at is null",
    )
    .bind(invitation.workspace_id)
    .bind(&invitation.email)
    .execute(&mut *tx)
    .await?;
    sqlx::query(
        "insert into workspace_invitations
             (id, workspace_id, email, role, digest, invited_by, created_at, expires_at)
         values ($1, $2, $3, $4, $5, $6, $7, $8)",
    )
    .bind(invitation.id)
    .bind(invitation.workspace_id)
    .bind(&invitation.email)
    .bind(invitation.role)
    .bind(&digest[..])
    .bind(invitation.invited_by)
    .bind(invitation.created_at)
    .bind(invitation.expires_at)
    .execute(&mut *tx)
    .await?;
    tx.commit().await
}

/// The open invitations (neither accepted, revoked nor expired) of `workspace`, newest
/// first.
pub async fn invitations(pool: &PgPool, workspace: Uuid) -> sqlx::Result<Vec<InvitationRow>> {
    sqlx::query_as(AssertSqlSafe(format!(
        "select {INVITATION_COLUMNS} from workspace_invitations
         where workspace_id = $1 and accepted_at is null and revoked_at is null
           and expires_at > now()
         order by created_at desc, id"
    )))
    .bind(workspace)
    .fetch_all(pool)
    .await
}

/// Revokes the open invitation `id` of `workspace`; whether there was one.
pub async fn revoke(pool: &PgPool, workspace: Uuid, id: Uuid) -> sqlx::Result<bool> {
    let done = sqlx::query(
        "update workspace_invitations set revoked_at = now()
         where id = $1 and workspace_id = $2 and accepted_at is null and revoked_at is null",
    )
    .bind(id)
    .bind(workspace)
    .execute(pool)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// What accepting an invitation came to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Acceptance {
    /// `user` is a member now (or was already, keeping the higher of the two roles).
    Joined {
        workspace: Uuid,
        role: Role,
    },
    /// The invitation is for another address.
    NotYours,
    Used,
    Revoked,
    Expired,
    Unknown,
}

/// Accepts the invitation whose digest this is for `user`, whose addresses (verified, and
/// the token's) are `emails`: once, while open and unexpired, and only for its address.
pub async fn accept(
    pool: &PgPool,
    digest: &[u8; 32],
    user: Uuid,
    emails: &[String],
) -> sqlx::Result<Acceptance> {
    let mut tx = pool.begin().await?;
    type Found = (Uuid, Uuid, String, Role, bool, bool, bool);
    let found: Option<Found> = sqlx::query_as(
        "select id, workspace_id, email, role, accepted_at is not null,
                revoked_at is not null, expires_at <= now()
         from workspace_invitations where digest = $1 for update",
    )
    .bind(&digest[..])
    .fetch_optional(&mut *tx)
    .await?;
    let Some((id, workspace, email, role, accepted, revoked, expired)) = found else {
        return Ok(Acceptance::Unknown);
    };
    if accepted {
        return Ok(Acceptance::Used);
    }
    if revoked {
        return Ok(Acceptance::Revoked);
    }
    if expired {
        return Ok(Acceptance::Expired);
    }
    if !emails.iter().any(|mine| mine.eq_ignore_ascii_case(&email)) {
        return Ok(Acceptance::NotYours);
    }
    let role: Role = sqlx::query_scalar(
        "with joined as (
             insert into workspace_members (workspace_id, user_id, role, added_by)
             values ($1, $2, $3, (select invited_by from workspace_invitations where id = $4))
             on conflict (workspace_id, user_id) do update
                 set role = case
                     when array_position(array['viewer','editor','admin','owner'], excluded.role)
                        > array_position(array['viewer','editor','admin','owner'],
                                         workspace_members.role)
                     then excluded.role else workspace_members.role end,
                     updated_at = now()
             returning role
         ), used as (
             update workspace_invitations set accepted_at = now(), accepted_by = $2
             where id = $4
         )
         select role from joined",
    )
    .bind(workspace)
    .bind(user)
    .bind(role)
    .bind(id)
    .fetch_one(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(Acceptance::Joined { workspace, role })
}

/// The addresses of `user`: their verified one, and the one their token carries.
pub async fn addresses(pool: &PgPool, user: Uuid) -> sqlx::Result<Vec<String>> {
    sqlx::query_scalar(
        "select email from users where id = $1 and email is not null
         union select lower(email) from user_contacts where user_id = $1",
    )
    .bind(user)
    .fetch_all(pool)
    .await
}
