//! Workspaces (`docs/workspaces.md`): a team's shared calendars, channels, keys and limits.
//! Every person has a personal workspace (its id is theirs; made on first sight); they make
//! team workspaces, invite people by email ([`invitations`]) and give each member a role.
//! The role each operation needs is checked before the handler runs
//! (`crate::middleware::workspace`, by `x-almanac-role`); what depends on the member
//! changed (granting `owner`, the last owner) is checked here.

pub mod activity;
mod dto;
pub mod invitations;

pub use dto::*;

use almanac_shared::{
    store::workspaces::{self as store, MemberChange},
    workspaces::Role,
};
use poem::web::Data;
use poem_openapi::{OpenApi, param::Path, payload::Json};
use uuid::Uuid;

use super::{Tag, me::Language};
use crate::{
    auth::{AuthUser, PersonalAuth, UserAuth},
    body::StrictJson,
    error::{Answer, ApiError, ApiResult, can},
    responses::{Created, NoContent},
    roles::role_required,
    state::AppState,
};

/// The code of an operation a personal workspace does not allow.
pub const WORKSPACE_PERSONAL: &str = "WORKSPACE_PERSONAL";

/// The code of a change that would leave a workspace without an owner.
pub const LAST_OWNER: &str = "LAST_OWNER";

#[derive(Default)]
pub struct WorkspacesApi;

#[OpenApi(tag = "Tag::Workspaces")]
impl WorkspacesApi {
    /// The workspaces the caller is a member of, with their role in each: their personal
    /// one first.
    #[oai(
        path = "/v1/workspaces",
        method = "get",
        operation_id = "listWorkspaces"
    )]
    async fn list(
        &self,
        state: Data<&AppState>,
        auth: UserAuth,
    ) -> Answer<Json<WorkspaceListEnvelope>, { can::STORED }> {
        let caller = auth.user();
        let items = match auth {
            // A key sees the one workspace it acts in.
            UserAuth::Key(_) => store::one(&state.pool, caller.workspace, caller.id)
                .await?
                .into_iter()
                .collect(),
            _ => {
                store::ensure_personal(&state.pool, caller.id).await?;
                store::of_member(&state.pool, caller.id).await?
            }
        };
        Ok(WorkspaceListEnvelope::of(WorkspaceList {
            items: items.into_iter().map(Into::into).collect(),
        }))
    }

    /// Make a team workspace; the caller is its owner.
    #[oai(
        path = "/v1/workspaces",
        method = "post",
        operation_id = "createWorkspace"
    )]
    async fn create(
        &self,
        state: Data<&AppState>,
        auth: PersonalAuth,
        body: StrictJson<NewWorkspace>,
    ) -> Answer<Created<WorkspaceEnvelope>, { can::STORED | can::BODY }> {
        let caller = auth.user();
        let body = body.0;
        let id = Uuid::now_v7();
        let language = body.language.unwrap_or(Language::En).code();
        store::ensure_personal(&state.pool, caller.id).await?;
        store::create(&state.pool, id, body.name.0.trim(), language, caller.id).await?;
        tracing::info!(workspaceId = %id, userId = %caller.id, "workspace made");
        Ok(Created::Created(WorkspaceEnvelope::of(
            found(&state, id, caller.id).await?,
        )))
    }

    /// One workspace the caller is a member of.
    #[oai(
        path = "/v1/workspaces/:id",
        method = "get",
        operation_id = "getWorkspace"
    )]
    async fn get(
        &self,
        state: Data<&AppState>,
        auth: UserAuth,
        id: Path<Uuid>,
    ) -> Answer<Json<WorkspaceEnvelope>, { can::STORED | can::BAD_REQUEST | can::NOT_FOUND }> {
        Ok(WorkspaceEnvelope::of(
            found(&state, id.0, auth.user().id).await?,
        ))
    }

    /// Rename a workspace or change its language (owners).
    #[oai(
        path = "/v1/workspaces/:id",
        method = "patch",
        operation_id = "updateWorkspace"
    )]
    async fn update(
        &self,
        state: Data<&AppState>,
        auth: UserAuth,
        id: Path<Uuid>,
        body: StrictJson<WorkspacePatch>,
    ) -> Answer<Json<WorkspaceEnvelope>, { can::STORED | can::BODY | can::NOT_FOUND }> {
        let body = body.0;
        let name = body.name.as_ref().map(|name| name.0.trim());
        let language = body.language.map(Language::code);
        store::update(&state.pool, id.0, name, language).await?;
        Ok(WorkspaceEnvelope::of(
            found(&state, id.0, auth.user().id).await?,
        ))
    }

    /// Delete a team workspace and everything in it: its calendars, channels, keys and
    /// jobs (owners; never with an API key). A personal workspace cannot be deleted (409
    /// `WORKSPACE_PERSONAL`).
    #[oai(
        path = "/v1/workspaces/:id",
        method = "delete",
        operation_id = "deleteWorkspace"
    )]
    async fn delete(
        &self,
        state: Data<&AppState>,
        auth: PersonalAuth,
        id: Path<Uuid>,
    ) -> Answer<NoContent, { can::STORED | can::BAD_REQUEST | can::NOT_FOUND | can::CONFLICT }>
    {
        if !store::delete(&state.pool, id.0).await? {
            return Err(personal("your personal workspace cannot be deleted").into());
        }
        tracing::info!(workspaceId = %id.0, userId = %auth.user().id, "workspace deleted");
        Ok(NoContent::Done)
    }

    /// The workspace's members and their roles.
    #[oai(
        path = "/v1/workspaces/:id/members",
        method = "get",
        operation_id = "listMembers"
    )]
    async fn members(
        &self,
        state: Data<&AppState>,
        _auth: PersonalAuth,
        id: Path<Uuid>,
    ) -> Answer<Json<MemberListEnvelope>, { can::STORED | can::BAD_REQUEST | can::NOT_FOUND }> {
        let items = store::members(&state.pool, id.0).await?;
        Ok(MemberListEnvelope::of(MemberList {
            items: items.into_iter().map(Into::into).collect(),
        }))
    }

    /// Change a member's role (admins; an admin grants at most `admin`, and only an owner
    /// grants or removes `owner`). The last owner cannot stop being one (409 `LAST_OWNER`).
    #[oai(
        path = "/v1/workspaces/:id/members/:userId",
        method = "patch",
        operation_id = "updateMember"
    )]
    async fn update_member(
        &self,
        state: Data<&AppState>,
        auth: PersonalAuth,
        id: Path<Uuid>,
        #[oai(name = "userId")] user_id: Path<Uuid>,
        body: StrictJson<MemberPatch>,
    ) -> Answer<
        Json<MemberEnvelope>,
        { can::STORED | can::BODY | can::NOT_FOUND | can::FORBIDDEN | can::CONFLICT },
    > {
        let caller = auth.user();
        let role = body.0.role;
        let current = member_role(&state, id.0, user_id.0).await?;
        may_change(caller, current, Some(role))?;
        changed(store::change_member(&state.pool, id.0, user_id.0, Some(role)).await?)?;
        tracing::info!(workspaceId = %id.0, memberId = %user_id.0, role = role.as_str(), "member's role changed");
        let member = store::members(&state.pool, id.0)
            .await?
            .into_iter()
            .find(|m| m.user_id == user_id.0)
            .ok_or_else(|| ApiError::not_found("member"))?;
        Ok(MemberEnvelope::of(member.into()))
    }

    /// Remove a member (admins; only an owner removes an owner): they, and their API keys
    /// here, lose access at once on every API process. The last owner cannot be removed
    /// (409 `LAST_OWNER`).
    #[oai(
        path = "/v1/workspaces/:id/members/:userId",
        method = "delete",
        operation_id = "removeMember"
    )]
    async fn remove_member(
        &self,
        state: Data<&AppState>,
        auth: PersonalAuth,
        id: Path<Uuid>,
        #[oai(name = "userId")] user_id: Path<Uuid>,
    ) -> Answer<
        NoContent,
        { can::STORED | can::BAD_REQUEST | can::NOT_FOUND | can::FORBIDDEN | can::CONFLICT },
    > {
        let caller = auth.user();
        let current = member_role(&state, id.0, user_id.0).await?;
        may_change(caller, current, None)?;
        changed(store::change_member(&state.pool, id.0, user_id.0, None).await?)?;
        tracing::info!(workspaceId = %id.0, memberId = %user_id.0, "member removed");
        Ok(NoContent::Done)
    }
}

/// The workspace `id` as `user` (a member) sees it.
async fn found(state: &AppState, id: Uuid, user: Uuid) -> ApiResult<Workspace> {
    store::one(&state.pool, id, user)
        .await?
        .map(Into::into)
        .ok_or_else(|| ApiError::not_found("workspace"))
}

/// The role `user` holds in `workspace`; 404 when they are not a member.
async fn member_role(state: &AppState, workspace: Uuid, user: Uuid) -> ApiResult<Role> {
    store::role(&state.pool, workspace, user)
        .await?
        .ok_or_else(|| ApiError::not_found("member"))
}

/// Whether `caller` may take a member from `current` to `wanted` (`None`: remove them): an
/// admin grants at most `admin`; `owner` is granted and taken by owners alone; a personal
/// workspace's owner stays.
fn may_change(caller: AuthUser, current: Role, wanted: Option<Role>) -> ApiResult<()> {
    if caller.workspace == caller.id {
        return Err(personal("your personal workspace is yours alone"));
    }
    let touches_owner = current == Role::Owner || wanted == Some(Role::Owner);
    if touches_owner && caller.role < Role::Owner {
        return Err(role_required(Role::Owner, caller.role));
    }
    Ok(())
}

fn changed(change: MemberChange) -> ApiResult<()> {
    match change {
        MemberChange::Done => Ok(()),
        MemberChange::NotAMember => Err(ApiError::not_found("member")),
        MemberChange::LastOwner => Err(ApiError::conflict(
            LAST_OWNER,
            "a workspace needs an owner: make someone else an owner first",
        )),
    }
}

/// 409 `WORKSPACE_PERSONAL`.
fn personal(message: &str) -> ApiError {
    ApiError::conflict(WORKSPACE_PERSONAL, message)
}
