//! `EMAIL_*`, `SMTP_*`, `RESEND_*`: who sends the digests' emails, and how.

use std::time::Duration;

use anyhow::bail;

use super::env::{Env, Secret};

/// Who sends the digests' emails.
#[derive(Debug, Clone, Copy, PartialEq, Eq, strum::IntoStaticStr, strum::VariantArray)]
#[strum(serialize_all = "snake_case")]
pub enum EmailProvider {
    /// An SMTP server (`SMTP_URL`).
    Smtp,
    /// Resend's HTTP API (seed 004's provider).
    Resend,
    /// No sending: each email is an `.eml` file in `EMAIL_OUTBOX_DIR` (`make run`'s).
    Outbox,
    /// None configured: deliveries are recorded failed, `EMAIL_NOT_CONFIGURED`.
    None,
}

impl EmailProvider {
    pub fn as_str(self) -> &'static str {
        self.into()
    }
}

/// Sending the digests (seed 004).
#[derive(Debug, Clone)]
pub struct EmailSettings {
    /// Who sends them (`EMAIL_PROVIDER`; see [`EmailProvider`]).
    pub provider: EmailProvider,
    pub smtp_url: Option<Secret>,
    /// Resend's API key (`RESEND_API_KEY`) and base URL (`RESEND_BASE_URL`, for tests).
    pub resend_api_key: Option<Secret>,
    pub resend_base_url: String,
    /// Where the `outbox` provider writes each email as an `.eml` file
    /// (`EMAIL_OUTBOX_DIR`).
    pub outbox_dir: std::path::PathBuf,
    pub from: String,
    /// How long one SMTP exchange may take (`SMTP_TIMEOUT_MS`).
    pub smtp_timeout: Duration,
    /// A person is emailed their notifications at most once per this window
    /// (`NOTIFY_BATCH_MINUTES`, 10): what came meanwhile waits for the next email.
    pub notify_batch: Duration,
}

impl EmailSettings {
    pub(super) fn read(env: &Env) -> anyhow::Result<Self> {
        let settings = EmailSettings {
            provider: match env.optional("EMAIL_PROVIDER").as_deref() {
                Some("smtp") => EmailProvider::Smtp,
                Some("resend") => EmailProvider::Resend,
                Some("outbox") => EmailProvider::Outbox,
                Some(other) => {
                    bail!("EMAIL_PROVIDER: expected `smtp`, `resend` or `outbox`, got `{other}`")
                }
                None if env.optional("SMTP_URL").is_some() => EmailProvider::Smtp,
                None if env.optional("RESEND_API_KEY").is_some() => EmailProvider::Resend,
                None => EmailProvider::None,
            },
            smtp_url: env.optional("SMTP_URL").map(Secret::new),
            resend_api_key: env.optional("RESEND_API_KEY").map(Secret::new),
            resend_base_url: env.string_or("RESEND_BASE_URL", "https://api.resend.com")?,
            outbox_dir: env.string_or("EMAIL_OUTBOX_DIR", ".data/outbox")?.into(),
            from: env.string_or("EMAIL_FROM", "Almanac <almanac@localhost>")?,
            smtp_timeout: env.millis_or("SMTP_TIMEOUT_MS", 15_000)?,
            notify_batch: Duration::from_secs(
                env.parse_or::<u64>("NOTIFY_BATCH_MINUTES", 10)?
                    .saturating_mul(60),
            ),
        };
        if !(60..=24 * 3600).contains(&settings.notify_batch.as_secs()) {
            bail!("NOTIFY_BATCH_MINUTES: between 1 and 1440");
        }
        if let Some(url) = &settings.smtp_url
            && !(url.expose().starts_with("smtp://") || url.expose().starts_with("smtps://"))
        {
            bail!("SMTP_URL: expected smtp://host:port or smtps://host:port");
        }
        match settings.provider {
            EmailProvider::Smtp if settings.smtp_url.is_none() => {
                bail!("SMTP_URL: required when EMAIL_PROVIDER=smtp")
            }
            EmailProvider::Resend if settings.resend_api_key.is_none() => {
                bail!("RESEND_API_KEY: required when EMAIL_PROVIDER=resend")
            }
            _ => {}
        }
        if settings.from.parse::<lettre::message::Mailbox>().is_err() {
            bail!("EMAIL_FROM: not a mailbox (`Name <address>` or `address`)");
        }
        Ok(settings)
    }
}
