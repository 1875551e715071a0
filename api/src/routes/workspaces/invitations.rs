//! Invitations to a workspace: an admin invites an address as a role; the link, emailed in
//! the workspace's language, is a 256-bit token kept only as its digest, valid
//! `INVITATION_TTL_DAYS`, used once, revocable. Only a person signed in with that address
//! accepts it (another: 403 `INVITATION_NOT_YOURS`). Never with an API key.

use almanac_shared::{
    email::{self, Mailer, OutgoingEmail},
    html::escape,
    sign_in::{digest, random_token, well_formed},
    store::workspaces::{self as store, Acceptance, InvitationRow},
    workspaces::Role,
};
use chrono::Utc;
use poem::web::Data;
use poem_openapi::{OpenApi, param::Path, payload::Json};
use uuid::Uuid;

use super::{
    Invitation, InvitationEnvelope, InvitationList, InvitationListEnvelope, Joined, JoinedEnvelope,
    NewInvitation, Tag, personal,
};
use crate::{
    auth::PersonalAuth,
    body::StrictJson,
    error::{Answer, ApiError, ErrorEnvelope, can},
    responses::{Created, NoContent},
    roles::role_required,
    state::AppState,
};

/// The code of an invitation accepted by someone signed in with another address.
pub const INVITATION_NOT_YOURS: &str = "INVITATION_NOT_YOURS";

/// Where an invitation's link opens the app: the token stays in the fragment, which no
/// server, log or `Referer` sees.
pub const LINK_PATH: &str = "/app/#/join/";

#[derive(Default)]
pub struct InvitationsApi;

#[OpenApi(tag = "Tag::Workspaces")]
impl InvitationsApi {
    /// Invite an address to the workspace as a role (admins; an admin invites at most as
    /// `admin`). The link is emailed; inviting the same address again replaces its open
    /// invitation. An address already a member is 422; a personal workspace takes no
    /// one (409 `WORKSPACE_PERSONAL`). Rate limited per person (`INVITATION_RATE_*`).
    #[oai(
        path = "/v1/workspaces/:id/invitations",
        method = "post",
        operation_id = "createInvitation"
    )]
    async fn create(
        &self,
        state: Data<&AppState>,
        auth: PersonalAuth,
        id: Path<Uuid>,
        body: StrictJson<NewInvitation>,
    ) -> Answer<
        Created<InvitationEnvelope>,
        {
            can::STORED
                | can::BODY
                | can::NOT_FOUND
                | can::FORBIDDEN
                | can::CONFLICT
                | can::UNPROCESSABLE
                | can::TOO_MANY_REQUESTS
        },
    > {
        let caller = auth.user();
        let body = body.0;
        let email = email::sign_in_address(&body.email.0)
            .ok_or_else(|| ApiError::unprocessable_field("email", "is not an email address"))?;
        if caller.workspace == caller.id {
            return Err(personal(
                "nobody else joins your personal workspace: make a team workspace to invite people",
            )
            .into());
        }
        if body.role == Role::Owner && caller.role < Role::Owner {
            return Err(role_required(Role::Owner, caller.role).into());
        }
        if store::is_member_address(&state.pool, id.0, &email).await? {
            return Err(ApiError::unprocessable_field(
                "email",
                format!("{email} is already a member of this workspace"),
            )
            .into());
        }
        let limit = &state.settings.rate_limits.invitations;
        crate::rate_limit::take_rate(&state, limit, caller.id).await?;
        let workspace = store::one(&state.pool, id.0, caller.id)
            .await?
            .ok_or_else(|| ApiError::not_found("workspace"))?;
        let token = random_token();
        let now = Utc::now();
        let row = InvitationRow {
            id: Uuid::now_v7(),
            workspace_id: id.0,
            email,
            role: body.role,
            invited_by: caller.id,
            created_at: now,
            expires_at: now + state.settings.sign_in.invitation_ttl,
        };
        store::invite(&state.pool, &row, &digest(&token)).await?;
        let link = format!("{}{LINK_PATH}{token}", state.settings.app_base_url());
        let message = compose(&row, &workspace.name, &workspace.language, &link);
        send(state.mailer.clone(), message);
        tracing::info!(workspaceId = %id.0, invitationId = %row.id, "invitation sent");
        Ok(Created::Created(InvitationEnvelope::of(row.into())))
    }

    /// The workspace's invitations waiting to be accepted.
    #[oai(
        path = "/v1/workspaces/:id/invitations",
        method = "get",
        operation_id = "listInvitations"
    )]
    async fn list(
        &self,
        state: Data<&AppState>,
        _auth: PersonalAuth,
        id: Path<Uuid>,
    ) -> Answer<Json<InvitationListEnvelope>, { can::STORED | can::BAD_REQUEST | can::NOT_FOUND }>
    {
        let items = store::invitations(&state.pool, id.0).await?;
        Ok(InvitationListEnvelope::of(InvitationList {
            items: items.into_iter().map(Invitation::from).collect(),
        }))
    }

    /// Revoke an invitation: its link stops working at once (admins).
    #[oai(
        path = "/v1/workspaces/:id/invitations/:invitationId",
        method = "delete",
        operation_id = "revokeInvitation"
    )]
    async fn revoke(
        &self,
        state: Data<&AppState>,
        _auth: PersonalAuth,
        id: Path<Uuid>,
        #[oai(name = "invitationId")] invitation_id: Path<Uuid>,
    ) -> Answer<NoContent, { can::STORED | can::BAD_REQUEST | can::NOT_FOUND }> {
        if !store::revoke(&state.pool, id.0, invitation_id.0).await? {
            return Err(ApiError::not_found("invitation").into());
        }
        Ok(NoContent::Done)
    }

    /// Accept an invitation: the caller, signed in with the invited address, joins the
    /// workspace with the invitation's role (keeping a higher one they hold). Another
    /// address: 403 `INVITATION_NOT_YOURS`; used, revoked or expired: 410.
    #[oai(
        path = "/v1/invitations/:token/accept",
        method = "post",
        operation_id = "acceptInvitation"
    )]
    async fn accept(
        &self,
        req: &poem::Request,
        state: Data<&AppState>,
        auth: PersonalAuth,
        /// The token the invitation's link carries.
        token: Path<String>,
    ) -> Answer<
        Json<JoinedEnvelope>,
        { can::STORED | can::BAD_REQUEST | can::NOT_FOUND | can::FORBIDDEN | can::GONE },
    > {
        let caller = auth.user();
        let mut addresses = store::addresses(&state.pool, caller.id).await?;
        if !well_formed(&token.0) {
            return Err(ApiError::not_found("invitation").into());
        }
        // The address the caller's token carries now (noted for notices in the background,
        // so perhaps not stored yet).
        let claimed = crate::auth::bearer(req)
            .and_then(|token| state.jwt.verify(token).ok())
            .and_then(|claims| claims.email);
        if let Some(email) = &claimed {
            addresses.push(email.to_lowercase());
        }
        store::ensure_personal(&state.pool, caller.id).await?;
        let accepted = store::accept(&state.pool, &digest(&token.0), caller.id, &addresses).await?;
        let workspace = match accepted {
            Acceptance::Joined { workspace, .. } => workspace,
            refused => return Err(refusal(refused).into()),
        };
        // The address they joined with is kept now, so the workspace knows it as theirs
        // (an invitation to it again is refused) without waiting for the notices' note.
        if let Some(email) = &claimed {
            almanac_shared::store::contacts::record(&state.pool, caller.id, email).await?;
        }
        tracing::info!(workspaceId = %workspace, userId = %caller.id, "invitation accepted");
        let workspace = store::one(&state.pool, workspace, caller.id)
            .await?
            .ok_or_else(|| ApiError::not_found("workspace"))?;
        Ok(JoinedEnvelope::of(Joined {
            workspace: workspace.into(),
        }))
    }
}

/// Why an invitation was not accepted, as the caller is told.
fn refusal(refused: Acceptance) -> ApiError {
    let gone = |code: &str, message: &str| {
        ApiError::Gone(ErrorEnvelope::new(code, message.to_owned(), None))
    };
    match refused {
        Acceptance::NotYours => ApiError::forbidden(
            INVITATION_NOT_YOURS,
            "this invitation was sent to another address: sign in with the address it was \
             sent to",
            None,
        ),
        Acceptance::Used => gone("INVITATION_USED", "this invitation was accepted already"),
        Acceptance::Revoked => gone("INVITATION_REVOKED", "this invitation was withdrawn"),
        Acceptance::Expired => gone(
            "INVITATION_EXPIRED",
            "this invitation expired: ask for a new one",
        ),
        Acceptance::Unknown | Acceptance::Joined { .. } => ApiError::not_found("invitation"),
    }
}

/// Sends the invitation away from the request, trying again while the provider fails for
/// now (as the sign-in links are); a lost email is sent again by inviting again.
fn send(mailer: std::sync::Arc<dyn Mailer>, message: OutgoingEmail) {
    tokio::spawn(async move {
        let outcome = match almanac_shared::sign_in::send_with_retries(&*mailer, &message).await {
            Ok(()) => "sent",
            Err(error) => {
                tracing::warn!(error = %error, "an invitation could not be emailed");
                "failed"
            }
        };
        metrics::counter!("workspace_invitations_total", "outcome" => outcome).increment(1);
    });
}

/// The email carrying an invitation's link, in the workspace's language.
fn compose(
    invitation: &InvitationRow,
    workspace: &str,
    language: &str,
    link: &str,
) -> OutgoingEmail {
    let days = (invitation.expires_at - invitation.created_at).num_days();
    let role = invitation.role.as_str();
    let (subject, intro, button, expiry) = if language == "fr" {
        (
            format!("Invitation à rejoindre {workspace} sur Almanac"),
            format!(
                "Vous êtes invité·e à rejoindre l'espace « {workspace} » sur Almanac, avec le rôle {role}."
            ),
            "Rejoindre l'espace".to_owned(),
            format!(
                "Le lien fonctionne une fois, pendant {days} jours, une fois connecté·e avec cette adresse."
            ),
        )
    } else {
        (
            format!("Join {workspace} on Almanac"),
            format!("You are invited to join the workspace \"{workspace}\" on Almanac, as {role}."),
            "Join the workspace".to_owned(),
            format!("The link works once, for {days} days, once you sign in with this address."),
        )
    };
    let delivery_id = Uuid::now_v7();
    OutgoingEmail {
        to: invitation.email.clone(),
        subject,
        text: format!("{intro}\n\n{button}: {link}\n\n{expiry}\n"),
        html: format!(
            "<p>{}</p><p><a href=\"{}\">{}</a></p><p>{}</p>",
            escape(&intro),
            escape(link),
            escape(&button),
            escape(&expiry)
        ),
        message_id: format!("<invitation-{delivery_id}@almanac>"),
        delivery_id,
        list: None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_email_names_the_workspace_the_role_and_carries_the_link() {
        let now = Utc::now();
        let row = InvitationRow {
            id: Uuid::now_v7(),
            workspace_id: Uuid::now_v7(),
            email: "ana@example.com".into(),
            role: Role::Editor,
            invited_by: Uuid::now_v7(),
            created_at: now,
            expires_at: now + chrono::Duration::days(7),
        };
        let link = "https://almanac.test/app/#/join/abc";
        let en = compose(&row, "Acme <Social>", "en", link);
        assert_eq!(en.to, "ana@example.com");
        assert!(en.text.contains(link) && en.text.contains("as editor"));
        assert!(en.html.contains("Acme &lt;Social&gt;"), "{}", en.html);
        assert!(en.text.contains("7 days"));
        let fr = compose(&row, "Acme", "fr", link);
        assert!(fr.subject.starts_with("Invitation à rejoindre Acme"));
    }
}
