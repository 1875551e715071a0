//! One-click unsubscribe (RFC 8058): the address a scheduled digest names in its
//! `List-Unsubscribe` header. A mail provider's button `POST`s `List-Unsubscribe=One-Click`
//! there (form-encoded or multipart) with no session and no token header: the signed token
//! in the address is the authority, so the JSON-only and cookie rules do not apply. A `GET`
//! (a person opening the link, or a mail scanner fetching it ahead) only shows a page that
//! asks; it changes nothing. A forged, edited or expired token is a 404 page saying the
//! link is no longer valid. A notification email's link (signed with a key of its own)
//! stops notification emails to its address; they stay in the app.

mod dto;

pub use dto::*;

use almanac_shared::{
    store::{notifications, themes},
    unsubscribe::UnsubscribeKey,
};
use chrono::Utc;
use poem::web::Data;
use poem_openapi::{ApiExtractor, ApiRequest, OpenApi, param::Path, payload::Form};

use super::Tag;
use crate::{
    body::{self, Deferred},
    error::{Answer, ApiError, can},
    state::AppState,
};

/// Each payload's own check reads the media type with its parameters (a multipart body's
/// `boundary`), which a fixed `content_type` here would compare whole.
#[derive(Debug, ApiRequest)]
pub enum OneClick {
    Form(Form<OneClickForm>),
    Multipart(OneClickMultipart),
}

impl OneClick {
    fn one_click(&self) -> bool {
        let value = match self {
            Self::Form(form) => &form.list_unsubscribe,
            Self::Multipart(form) => &form.list_unsubscribe,
        };
        value == "One-Click"
    }
}

#[derive(Default)]
pub struct UnsubscribeApi;

#[OpenApi(tag = "Tag::Syntheses")]
impl UnsubscribeApi {
    /// The page an unsubscribe link opens: it asks to confirm, and changes nothing.
    #[oai(
        path = "/unsubscribe/:token",
        method = "get",
        operation_id = "showUnsubscribe"
    )]
    async fn show(
        &self,
        state: Data<&AppState>,
        #[oai(validator(max_length = 400))] token: Path<String>,
    ) -> Answer<UnsubscribePage, { can::BAD_REQUEST | can::INTERNAL | can::UNAVAILABLE }> {
        let today = Utc::now().date_naive();
        let Some(asked) = key(&state).verify(&token.0, today) else {
            return Ok(match notifications_key(&state).verify(&token.0, today) {
                Some(asked) => page::confirm_notifications(&asked.address, &token.0),
                None => page::no_longer_valid(),
            });
        };
        let target =
            themes::unsubscribe_target(&state.pool, asked.schedule_id, &asked.address).await?;
        Ok(match target {
            None => page::no_longer_valid(),
            Some(t) if !t.subscribed => page::done(&t.theme_name, &asked.address),
            Some(t) => page::confirm(&t.theme_name, &asked.address, &token.0),
        })
    }

    /// One-click unsubscribe (RFC 8058): `List-Unsubscribe=One-Click`, form-encoded or
    /// multipart, no session. The address stops receiving this digest (its next run on),
    /// and the schedule's owner cannot add it back until they clear it.
    #[oai(
        path = "/unsubscribe/:token",
        method = "post",
        operation_id = "unsubscribe"
    )]
    async fn unsubscribe(
        &self,
        state: Data<&AppState>,
        #[oai(validator(max_length = 400))] token: Path<String>,
        body: Deferred<OneClick>,
    ) -> Answer<UnsubscribePage, { can::BODY | can::INTERNAL | can::UNAVAILABLE }> {
        // The link first: an unknown, forged or expired one is the same page whatever the
        // body holds.
        let today = Utc::now().date_naive();
        let asked = key(&state).verify(&token.0, today);
        let of_notifications = asked
            .is_none()
            .then(|| notifications_key(&state).verify(&token.0, today))
            .flatten();
        if asked.is_none() && of_notifications.is_none() {
            return Ok(page::no_longer_valid());
        }
        let (request, mut body) = body.into_parts();
        let body = OneClick::from_request(&request, &mut body, Default::default())
            .await
            .map_err(body::refusal)?;
        if !body.one_click() {
            return Err(ApiError::invalid_field(
                "List-Unsubscribe",
                "must be `One-Click` (RFC 8058); nothing was changed",
            )
            .into());
        }
        if let Some(asked) = of_notifications {
            notifications::suppress(&state.pool, &asked.address).await?;
            tracing::info!("unsubscribed from notification emails");
            return Ok(page::done_notifications(&asked.address));
        }
        let Some(asked) = asked else {
            return Ok(page::no_longer_valid());
        };
        let theme = themes::unsubscribe(&state.pool, asked.schedule_id, &asked.address).await?;
        Ok(match theme {
            None => page::no_longer_valid(),
            Some(theme) => {
                tracing::info!(schedule_id = %asked.schedule_id, "unsubscribed from a digest");
                metrics::counter!("digest_unsubscribes_total").increment(1);
                page::done(&theme, &asked.address)
            }
        })
    }
}

fn key(state: &AppState) -> UnsubscribeKey {
    UnsubscribeKey::from_secret(state.settings.jwt_secret.expose())
}

fn notifications_key(state: &AppState) -> UnsubscribeKey {
    UnsubscribeKey::for_notifications(state.settings.jwt_secret.expose())
}

/// The pages, in plain HTML with the app's stylesheet.
mod page {
    use almanac_shared::html::escape;
    use poem_openapi::payload::Html;

    use super::UnsubscribePage;

    /// No script, the app's stylesheet, its own form only, and never inside another site's
    /// frame (where a click could be taken from a reader who did not mean it).
    const POLICY: &str = "default-src 'none'; style-src 'self'; form-action 'self'; \
        frame-ancestors 'none'; base-uri 'none'";

    fn shown(title: &str, body: &str) -> UnsubscribePage {
        UnsubscribePage::Shown(html(title, body), POLICY.to_owned())
    }

    fn gone(title: &str, body: &str) -> UnsubscribePage {
        UnsubscribePage::NoLongerValid(html(title, body), POLICY.to_owned())
    }

    fn html(title: &str, body: &str) -> Html<String> {
        Html(format!(
            "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\">\
             <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
             <title>{title} · Almanac</title><link rel=\"stylesheet\" href=\"/app/app.css\"></head>\
             <body><main class=\"panel stack unsubscribe\"><h1>{title}</h1>{body}</main></body></html>",
            title = escape(title),
        ))
    }

    pub fn confirm(theme: &str, address: &str, token: &str) -> UnsubscribePage {
        shown(
            "Unsubscribe?",
            &format!(
                "<p>Stop sending the <strong>{theme}</strong> digest to <strong>{address}</strong>?</p>\
                 <form method=\"post\" action=\"/unsubscribe/{token}\">\
                 <input type=\"hidden\" name=\"List-Unsubscribe\" value=\"One-Click\">\
                 <button type=\"submit\" id=\"unsubscribe\">Unsubscribe</button></form>\
                 <p class=\"muted\">Nothing changes until you press the button.</p>",
                theme = escape(theme),
                address = escape(address),
                token = escape(token),
            ),
        )
    }

    pub fn done(theme: &str, address: &str) -> UnsubscribePage {
        shown(
            "You are unsubscribed",
            &format!(
                "<p><strong>{address}</strong> will not receive the <strong>{theme}</strong> \
                 digest any more.</p><p class=\"muted\">Changed your mind? Ask the person \
                 who added you to add your address again.</p>",
                theme = escape(theme),
                address = escape(address),
            ),
        )
    }

    pub fn confirm_notifications(address: &str, token: &str) -> UnsubscribePage {
        shown(
            "Stop notification emails?",
            &format!(
                "<p>Stop emailing <strong>{address}</strong> about mentions, reviews and \
                 comments in Almanac? They stay in the app.</p>\
                 <form method=\"post\" action=\"/unsubscribe/{token}\">\
                 <input type=\"hidden\" name=\"List-Unsubscribe\" value=\"One-Click\">\
                 <button type=\"submit\" id=\"unsubscribe\">Stop the emails</button></form>\
                 <p class=\"muted\">Nothing changes until you press the button.</p>",
                address = escape(address),
                token = escape(token),
            ),
        )
    }

    pub fn done_notifications(address: &str) -> UnsubscribePage {
        shown(
            "No more notification emails",
            &format!(
                "<p><strong>{address}</strong> will not be emailed notifications any more; \
                 you still see them in Almanac.</p>",
                address = escape(address),
            ),
        )
    }

    pub fn no_longer_valid() -> UnsubscribePage {
        gone(
            "This link is no longer valid",
            "<p>This unsubscribe link is no longer valid: it has expired, or the digest it \
             came with no longer exists. Use the link in a more recent email.</p>",
        )
    }
}
