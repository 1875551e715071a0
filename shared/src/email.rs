//! Email delivery (seed 004) behind a trait, chosen by `EMAIL_PROVIDER`: SMTP through
//! lettre (`SMTP_URL`: `smtp://host:port` plain, `smtps://host:port` TLS, optional
//! `user:password@`), Resend's HTTP API (seed 004's provider, `RESEND_API_KEY`), or an
//! outbox of `.eml` files (`EMAIL_OUTBOX_DIR`, what `make run` uses); with none, every
//! delivery is recorded failed, `EMAIL_NOT_CONFIGURED`.

use std::sync::Arc;

use async_trait::async_trait;
use lettre::{
    AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor,
    message::{
        Mailbox, MultiPart,
        header::{HeaderName, HeaderValue},
    },
};

use crate::config::{EmailProvider, Settings};
pub use crate::unsubscribe::ListHeaders;

/// What an email to a user says: its subject, plain text and HTML.
pub struct Notice {
    pub subject: String,
    pub text: String,
    pub html: String,
}

/// The address of a mailbox (`Almanac <digests@example.com>` is `digests@example.com`).
pub fn address_of(mailbox: &str) -> String {
    mailbox
        .parse::<Mailbox>()
        .map(|m| m.email.to_string())
        .unwrap_or_else(|_| mailbox.to_owned())
}

/// `raw` as an address people sign in with: trimmed, lower-case, at most 320 bytes, and
/// one a mail server takes (`name@domain`); `None` when it is not one.
pub fn sign_in_address(raw: &str) -> Option<String> {
    let address = raw.trim().to_lowercase();
    let parsed: lettre::Address = address.parse().ok()?;
    (address.len() <= 320 && parsed.domain().contains('.')).then_some(address)
}

/// One message to one recipient.
#[derive(Debug, Clone)]
pub struct OutgoingEmail {
    pub to: String,
    pub subject: String,
    pub text: String,
    pub html: String,
    /// Stable per (synthesis, recipient), so a receiving server can spot a duplicate.
    pub message_id: String,
    /// The delivery's id: Resend's `Idempotency-Key`, the outbox file's name.
    pub delivery_id: uuid::Uuid,
    /// A scheduled digest's list headers: its one-click unsubscribe and its list's id.
    pub list: Option<ListHeaders>,
}

impl OutgoingEmail {
    /// The headers beyond the usual ones: `List-Unsubscribe`, `List-Unsubscribe-Post` and
    /// `List-Id` of a scheduled digest.
    pub fn extra_headers(&self) -> Vec<(&'static str, String)> {
        self.list
            .as_ref()
            .map(|list| {
                vec![
                    ("List-Unsubscribe", list.unsubscribe.clone()),
                    ("List-Unsubscribe-Post", list.unsubscribe_post.to_owned()),
                    ("List-Id", list.id.clone()),
                ]
            })
            .unwrap_or_default()
    }
}

#[derive(Debug, Clone, thiserror::Error, PartialEq, Eq)]
pub enum MailError {
    /// Worth trying again later: a 4xx reply, a refused or dropped connection, a timeout;
    /// not before the provider's `retry-after` when it gave one.
    #[error("temporary failure: {0}")]
    Transient(String, Option<std::time::Duration>),
    /// Trying again will not help: a 5xx reply, a bad address.
    #[error("permanent failure: {0}")]
    Permanent(String),
    /// No provider is configured.
    #[error("no email provider is configured")]
    NotConfigured,
}

#[async_trait]
pub trait Mailer: Send + Sync + 'static {
    async fn send(&self, email: &OutgoingEmail) -> Result<(), MailError>;

    /// Whether sending the same delivery twice delivers it once (Resend's idempotency key,
    /// the outbox's file name), so an attempt cut off mid-send may simply send again. SMTP
    /// is not: an interrupted exchange is never repeated.
    fn idempotent(&self) -> bool {
        false
    }
}

pub struct SmtpMailer {
    transport: AsyncSmtpTransport<Tokio1Executor>,
    from: Mailbox,
}

impl SmtpMailer {
    pub fn new(url: &str, from: &str, timeout: std::time::Duration) -> anyhow::Result<Self> {
        let transport = AsyncSmtpTransport::<Tokio1Executor>::from_url(url)
            .map_err(|e| anyhow::anyhow!("SMTP_URL: {e}"))?
            .timeout(Some(timeout))
            .build();
        Ok(Self {
            transport,
            from: from
                .parse()
                .map_err(|e| anyhow::anyhow!("EMAIL_FROM: {e}"))?,
        })
    }
}

/// `email` as a MIME message from `from` (text and HTML alternatives), as SMTP sends it
/// and the outbox keeps it.
fn mime_message(from: &Mailbox, email: &OutgoingEmail) -> Result<Message, MailError> {
    let to: Mailbox = email
        .to
        .parse()
        .map_err(|e| MailError::Permanent(format!("recipient `{}`: {e}", email.to)))?;
    let mut message = Message::builder()
        .from(from.clone())
        .to(to)
        .subject(&email.subject)
        .message_id(Some(email.message_id.clone()));
    for (name, value) in email.extra_headers() {
        message = message.raw_header(HeaderValue::new(
            HeaderName::new_from_ascii_str(name),
            value,
        ));
    }
    message
        .multipart(MultiPart::alternative_plain_html(
            email.text.clone(),
            email.html.clone(),
        ))
        .map_err(|e| MailError::Permanent(format!("building the message: {e}")))
}

#[async_trait]
impl Mailer for SmtpMailer {
    async fn send(&self, email: &OutgoingEmail) -> Result<(), MailError> {
        let message = mime_message(&self.from, email)?;
        match self.transport.send(message).await {
            Ok(_) => Ok(()),
            Err(e) if e.is_permanent() => Err(MailError::Permanent(e.to_string())),
            Err(e) => Err(MailError::Transient(e.to_string(), None)),
        }
    }
}

/// Resend's `POST /emails`, with the delivery's id as `Idempotency-Key`: the same key and
/// body answer the first result, so a retry (after a 5xx, a 429, a timeout, or an attempt
/// that died mid-send) sends the email once.
pub struct ResendMailer {
    http: reqwest::Client,
    url: String,
    key: crate::config::Secret,
    from: String,
}

impl ResendMailer {
    pub fn new(settings: &Settings, key: &crate::config::Secret) -> anyhow::Result<Self> {
        Ok(Self {
            http: reqwest::Client::builder()
                .timeout(settings.email.smtp_timeout)
                .build()?,
            url: format!(
                "{}/emails",
                settings.email.resend_base_url.trim_end_matches('/')
            ),
            key: key.clone(),
            from: settings.email.from.clone(),
        })
    }
}

#[async_trait]
impl Mailer for ResendMailer {
    async fn send(&self, email: &OutgoingEmail) -> Result<(), MailError> {
        let body = serde_json::json!({
            "from": self.from,
            "to": [email.to],
            "subject": email.subject,
            "html": email.html,
            "text": email.text,
            "headers": resend_headers(email),
        });
        let answer = self
            .http
            .post(&self.url)
            .bearer_auth(self.key.expose())
            .header("Idempotency-Key", email.delivery_id.to_string())
            .json(&body)
            .send()
            .await
            .map_err(|e| {
                let what = if e.is_timeout() {
                    "Resend did not answer in time"
                } else {
                    "Resend could not be reached"
                };
                MailError::Transient(what.into(), None)
            })?;
        let status = answer.status().as_u16();
        let retry_after = answer
            .headers()
            .get("retry-after")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.trim().parse::<f64>().ok())
            .and_then(|secs| std::time::Duration::try_from_secs_f64(secs).ok());
        let said: serde_json::Value = answer.json().await.unwrap_or_default();
        let message = said["message"]
            .as_str()
            .map(crate::ai::excerpt)
            .unwrap_or_default();
        match status {
            200..=299 => Ok(()),
            // Rate limited, the key's first request still in flight, or Resend's trouble.
            429 | 409 | 500.. => Err(MailError::Transient(
                format!("Resend answered {status}: {message}"),
                retry_after,
            )),
            _ => Err(MailError::Permanent(format!(
                "Resend refused the email ({status}): {message}"
            ))),
        }
    }

    fn idempotent(&self) -> bool {
        true
    }
}

/// The headers Resend is asked to add: `Message-ID`, and a digest's list headers.
fn resend_headers(email: &OutgoingEmail) -> serde_json::Value {
    let mut headers = serde_json::Map::new();
    headers.insert("Message-ID".into(), email.message_id.clone().into());
    for (name, value) in email.extra_headers() {
        headers.insert(name.into(), value.into());
    }
    headers.into()
}

/// Each email written as `<delivery id>.eml` under a folder, sent nowhere: a newcomer's
/// `make run` shows the digests its schedules sent, and the web app opens them.
pub struct OutboxMailer {
    dir: std::path::PathBuf,
    from: Mailbox,
}

impl OutboxMailer {
    pub fn new(dir: &std::path::Path, from: &str) -> anyhow::Result<Self> {
        std::fs::create_dir_all(dir)
            .map_err(|e| anyhow::anyhow!("EMAIL_OUTBOX_DIR {}: {e}", dir.display()))?;
        Ok(Self {
            dir: dir.to_owned(),
            from: from
                .parse()
                .map_err(|e| anyhow::anyhow!("EMAIL_FROM: {e}"))?,
        })
    }
}

/// The outbox file of delivery `id`.
pub fn outbox_file(dir: &std::path::Path, id: uuid::Uuid) -> std::path::PathBuf {
    dir.join(format!("{id}.eml"))
}

#[async_trait]
impl Mailer for OutboxMailer {
    async fn send(&self, email: &OutgoingEmail) -> Result<(), MailError> {
        let message = mime_message(&self.from, email)?;
        // Written whole, then renamed: a reader never sees half a message.
        let path = outbox_file(&self.dir, email.delivery_id);
        let partial = path.with_extension("eml.partial");
        tokio::fs::write(&partial, message.formatted())
            .await
            .map_err(|e| MailError::Transient(format!("writing the outbox: {e}"), None))?;
        tokio::fs::rename(&partial, &path)
            .await
            .map_err(|e| MailError::Transient(format!("writing the outbox: {e}"), None))
    }

    fn idempotent(&self) -> bool {
        true
    }
}

/// No provider: every delivery fails, saying so.
struct NotConfigured;

#[async_trait]
impl Mailer for NotConfigured {
    async fn send(&self, _: &OutgoingEmail) -> Result<(), MailError> {
        Err(MailError::NotConfigured)
    }
}

pub fn from_settings(settings: &Settings) -> anyhow::Result<Arc<dyn Mailer>> {
    Ok(
        match (
            settings.email.provider,
            &settings.email.smtp_url,
            &settings.email.resend_api_key,
        ) {
            (EmailProvider::Smtp, Some(url), _) => Arc::new(SmtpMailer::new(
                url.expose(),
                &settings.email.from,
                settings.email.smtp_timeout,
            )?),
            (EmailProvider::Resend, _, Some(key)) => Arc::new(ResendMailer::new(settings, key)?),
            (EmailProvider::Outbox, ..) => Arc::new(OutboxMailer::new(
                &settings.email.outbox_dir,
                &settings.email.from,
            )?),
            _ => {
                tracing::warn!(
                    "no email provider: scheduled digests are recorded failed (EMAIL_NOT_CONFIGURED); set SMTP_URL, RESEND_API_KEY or EMAIL_PROVIDER=outbox"
                );
                Arc::new(NotConfigured)
            }
        },
    )
}
