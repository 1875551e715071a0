//! Connecting LinkedIn: who granted the token, the company pages they administer (each a
//! channel of its own), and LinkedIn's token answers.


use super::{
    LinkedIn, MEMBER, PAGE, PAGES_MAX,
    text::{short_name, unavailable, valid_urn},
};
use crate::{Failure, Reply, oauth};

impl LinkedIn {
    /// The member who granted the token: their URN and name (OpenID Connect's userinfo).
    pub(super) async fn member(&self, token: &str) -> Result<(String, Option<String>), Failure> {
        let answer = match self.get("/v2/userinfo", &[], token).await {
            Reply::Ok(answer) => answer,
            Reply::Refused(failure) => return Err(failure),
            Reply::Lost(reason, _) => return Err(unavailable("member lookup", &reason)),
        };
        let sub = answer["sub"]
            .as_str()
            .filter(|s| !s.is_empty())
            .ok_or_else(|| {
                Failure::permanent(
                    "OAUTH_EXCHANGE_FAILED",
                    "LinkedIn did not say which member granted access (no `sub`)",
                )
            })?;
        let name = answer["name"].as_str().map(short_name);
        Ok((format!("{MEMBER}{sub}"), name))
    }

    /// The company pages the member administers (none when the grant cannot list them:
    /// the app was not given the organisation scopes).
    pub(super) async fn pages(&self, token: &str) -> Vec<oauth::Account> {
        let query = [
            ("q", "roleAssignee"),
            ("role", "ADMINISTRATOR"),
            ("state", "APPROVED"),
            ("count", "50"),
        ];
        let acls = match self.get("/rest/organizationAcls", &query, token).await {
            Reply::Ok(body) => body,
            Reply::Refused(failure) => {
                tracing::info!(reason = %failure.message, "LinkedIn pages not listed; the member's own channel only");
                return Vec::new();
            }
            Reply::Lost(reason, _) => {
                tracing::warn!(%reason, "LinkedIn pages not listed; the member's own channel only");
                return Vec::new();
            }
        };
        let mut pages = Vec::new();
        for acl in acls["elements"].as_array().into_iter().flatten() {
            let Some(urn) = acl["organization"].as_str().filter(|u| valid_urn(u)) else {
                continue;
            };
            if pages.iter().any(|p: &oauth::Account| p.id == urn) || pages.len() >= PAGES_MAX {
                continue;
            }
            let id = &urn[PAGE.len()..];
            let handle = match self
                .get(&format!("/rest/organizations/{id}"), &[], token)
                .await
            {
                Reply::Ok(page) => page["localizedName"].as_str().map(short_name),
                _ => None,
            };
            pages.push(oauth::Account {
                id: urn.to_owned(),
                display_name: handle.clone(),
                handle,
                access_token: None,
            });
        }
        pages
    }
}
