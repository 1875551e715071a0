//! Emailed sign-in links: made for an address the sign-up rule admits (`SIGN_UP`), kept as
//! digests, and sent through the configured provider. The API's `POST /app/sign-in` hands
//! each request to the [`Postman`] and answers at once, so neither its answer nor its time
//! says whether the address has an account.

use std::{sync::Arc, time::Duration};

use crate::{
    Settings,
    email::{MailError, Mailer, OutgoingEmail},
    html::escape,
    store::sign_in::{self, Known},
};
use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD};
use sha2::{Digest, Sha256};
use sqlx::PgPool;
use tokio::sync::mpsc;
use uuid::Uuid;

/// Requests waiting for the postman at most; beyond, one is dropped (and counted). The
/// per-client and per-address limits keep the queue far from it.
const WAITING: usize = 1024;
/// Attempts at sending one link through a provider that fails for a while.
const ATTEMPTS: u32 = 3;

/// A link's path under the app (the token's 43 characters follow).
pub const PATH: &str = "/app/sign-in/";

/// The digest a link's token is kept as.
pub fn digest(token: &str) -> [u8; 32] {
    Sha256::digest(token.as_bytes()).into()
}

/// 256 random bits as 43 characters of unpadded base64url: a link's token, and each part of
/// a single sign-on attempt.
pub fn random_token() -> String {
    URL_SAFE_NO_PAD.encode(rand::random::<[u8; 32]>())
}

/// Whether `token` could be one of ours: 43 characters of unpadded base64url (256 bits).
pub fn well_formed(token: &str) -> bool {
    token.len() == 43
        && token
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

/// A link's path (`/app/sign-in/<token>`) in an email's text as the outbox keeps it: what
/// `make run`'s "open the email" and the tests read. Quoted-printable's soft line breaks and
/// escapes are undone first (a long line is cut by them).
pub fn path_in(eml: &str) -> Option<String> {
    token_after(eml, PATH).map(|token| format!("{PATH}{token}"))
}

/// The token following `prefix` (a link's path up to its token: the sign-in's, a workspace
/// invitation's) in an email as the outbox keeps it.
pub fn token_after(eml: &str, prefix: &str) -> Option<String> {
    let text = eml
        .replace("=\r\n", "")
        .replace("=\n", "")
        .replace("=3D", "=");
    text.match_indices(prefix).find_map(|(at, _)| {
        let token: String = text[at + prefix.len()..]
            .chars()
            .take_while(|c| c.is_ascii_alphanumeric() || *c == '-' || *c == '_')
            .collect();
        well_formed(&token).then_some(token)
    })
}

/// The language of the email (the page's, as it asked).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Language {
    En,
    Fr,
}

impl Language {
    pub fn parse(code: Option<&str>) -> Self {
        match code {
            Some("fr") => Language::Fr,
            _ => Language::En,
        }
    }
}

/// One address asking for a link.
#[derive(Debug)]
pub struct Request {
    pub email: String,
    pub language: Language,
}

/// Sends the links asked for, one after the other, away from the requests that asked.
#[derive(Clone)]
pub struct Postman {
    sender: mpsc::Sender<Request>,
    waiting: Arc<std::sync::Mutex<Option<mpsc::Receiver<Request>>>>,
}

impl Default for Postman {
    fn default() -> Self {
        let (sender, receiver) = mpsc::channel(WAITING);
        Self {
            sender,
            waiting: Arc::new(std::sync::Mutex::new(Some(receiver))),
        }
    }
}

impl Postman {
    /// Hands a request over; never waits.
    pub fn post(&self, request: Request) {
        if self.sender.try_send(request).is_err() {
            metrics::counter!("sign_in_links_total", "outcome" => "dropped").increment(1);
            tracing::warn!("too many sign-in links waiting to be sent: one was dropped");
        }
    }

    /// Sends what is posted until the process ends (the first caller only runs it).
    pub async fn run(self, settings: Arc<Settings>, pool: PgPool, mailer: Arc<dyn Mailer>) {
        let Some(mut receiver) = self.waiting.lock().expect("not poisoned").take() else {
            return;
        };
        while let Some(request) = receiver.recv().await {
            let outcome = match deliver(&settings, &pool, &*mailer, &request).await {
                Ok(Some(_)) => "sent",
                Ok(None) => "not_admitted",
                Err(error) => {
                    tracing::warn!(error = %error, "a sign-in link could not be sent");
                    "failed"
                }
            };
            metrics::counter!("sign_in_links_total", "outcome" => outcome).increment(1);
        }
    }
}

/// Sends `request` its link when the address has an account, an invitation, or may have
/// one (`SIGN_UP`); the link sent, or `None` when the address may not sign in.
async fn deliver(
    settings: &Settings,
    pool: &PgPool,
    mailer: &dyn Mailer,
    request: &Request,
) -> anyhow::Result<Option<String>> {
    let user = match sign_in::known(pool, &request.email).await? {
        Known::Account(id) | Known::Invited(id) => Some(id),
        Known::Unknown if settings.sign_in.sign_up.admits(&request.email) => None,
        Known::Unknown => return Ok(None),
    };
    let link = issue(settings, pool, &request.email, user).await?;
    mail(settings, mailer, &request.email, &link, request.language).await?;
    Ok(Some(link))
}

/// Makes a link for `email`, to `user`'s account or a new one when `None`.
pub async fn issue(
    settings: &Settings,
    pool: &PgPool,
    email: &str,
    user: Option<Uuid>,
) -> sqlx::Result<String> {
    let token = random_token();
    let expires_at = chrono::Utc::now() + settings.sign_in.ttl;
    sign_in::issue(pool, &digest(&token), email, user, expires_at).await?;
    Ok(format!("{}{PATH}{token}", settings.app_base_url()))
}

/// Emails `link` to `email`, trying again for a while when the provider fails for now.
pub async fn mail(
    settings: &Settings,
    mailer: &dyn Mailer,
    email: &str,
    link: &str,
    language: Language,
) -> Result<(), MailError> {
    let minutes = settings.sign_in.ttl.as_secs() / 60;
    let message = compose(email, link, minutes, language);
    send_with_retries(mailer, &message).await
}

/// Sends `message`, trying again for a while when the provider fails for now (a link or an
/// invitation: what a person waits for).
pub async fn send_with_retries(
    mailer: &dyn Mailer,
    message: &OutgoingEmail,
) -> Result<(), MailError> {
    let mut attempt = 1;
    loop {
        match mailer.send(message).await {
            Err(MailError::Transient(reason, wait)) if attempt < ATTEMPTS => {
                tracing::info!(
                    reason,
                    attempt,
                    "sending an email failed for now; trying again"
                );
                let pause = wait
                    .unwrap_or(Duration::from_secs(2))
                    .min(Duration::from_secs(30));
                tokio::time::sleep(pause).await;
                attempt += 1;
            }
            done => return done,
        }
    }
}

/// The email carrying `link`.
fn compose(to: &str, link: &str, minutes: u64, language: Language) -> OutgoingEmail {
    let (subject, intro, button, expiry, ignore) = match language {
        Language::En => (
            "Your link to sign in to Almanac",
            "Someone, hopefully you, asked to sign in to Almanac with this address.",
            "Sign in to Almanac",
            format!("The link works once, for {minutes} minutes."),
            "If you did not ask for it, ignore this email: nobody can sign in without it.",
        ),
        Language::Fr => (
            "Votre lien de connexion à Almanac",
            "Quelqu'un, vous sans doute, a demandé à se connecter à Almanac avec cette adresse.",
            "Se connecter à Almanac",
            format!("Le lien fonctionne une fois, pendant {minutes} minutes."),
            "Si vous ne l'avez pas demandé, ignorez ce message : personne ne peut se connecter sans lui.",
        ),
    };
    let delivery_id = Uuid::now_v7();
    OutgoingEmail {
        to: to.to_owned(),
        subject: subject.to_owned(),
        text: format!("{intro}\n\n{button}: {link}\n\n{expiry}\n{ignore}\n"),
        html: format!(
            "<p>{}</p><p><a href=\"{}\">{}</a></p><p>{}<br>{}</p>",
            escape(intro),
            escape(link),
            escape(button),
            escape(&expiry),
            escape(ignore)
        ),
        message_id: format!("<sign-in-{delivery_id}@almanac>"),
        delivery_id,
        list: None,
    }
}
