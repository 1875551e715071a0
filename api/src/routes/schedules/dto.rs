//! The digest schedule routes' wire types: a schedule, its deliveries, its suppressions, and the
//! development outbox's emails.

use almanac_shared::{
    domain::synthesis::DeliveryStatus,
    store::themes::{self, DeliveryRow},
};
use chrono::{DateTime, Utc};
use poem_openapi::Object;
use serde_json::Value;
use uuid::Uuid;

/// A theme's schedule (seed 004), in UTC or in its reader's time zone.
#[derive(Debug, Clone, Object)]
pub struct Schedule {
    pub id: Uuid,
    pub theme_id: Uuid,
    pub enabled: bool,
    /// `mon`..`sun`: days in `timezone` when there is one, else UTC days.
    pub days: Vec<String>,
    /// `HH:MM`, UTC. With a `timezone`, the UTC time `time_local` falls at today.
    pub time_utc: String,
    /// The IANA time zone the schedule keeps (`Europe/Paris`), or `null`: UTC (seed 004).
    #[oai(nullable)]
    pub timezone: Option<String>,
    /// `HH:MM` in `timezone`, or `null` without one.
    #[oai(nullable)]
    pub time_local: Option<String>,
    /// At most 3.
    pub emails: Vec<String>,
    /// Whether a run whose sources hold nothing new still mails a short "nothing new"
    /// digest (else it sends nothing, and its deliveries say `skipped`, `NOTHING_NEW`).
    pub send_when_empty: bool,
    /// When it last ran (the moment it was due).
    #[oai(nullable)]
    pub last_run_at: Option<DateTime<Utc>>,
    /// When it will next run as it stands, or `null` (disabled, or no days).
    #[oai(nullable)]
    pub next_run_at: Option<DateTime<Utc>>,
    /// Addresses that unsubscribed from this digest (its one-click link): the schedule
    /// refuses them until the owner clears them.
    pub suppressions: Vec<Suppression>,
    /// The last day it was due but not started, and why (its owner's daily AI budget,
    /// `AI_WORKSPACE_DAILY_TOKENS`, was spent); a day in `timezone` when there is one.
    #[oai(nullable)]
    pub skipped_day: Option<chrono::NaiveDate>,
    #[oai(nullable)]
    pub skip_reason: Option<String>,
}

/// An address that unsubscribed from the digest, and when.
#[derive(Debug, Clone, Object)]
pub struct Suppression {
    pub email: String,
    pub since: DateTime<Utc>,
}

impl From<themes::Suppression> for Suppression {
    fn from(s: themes::Suppression) -> Self {
        Self {
            email: s.address,
            since: s.created_at,
        }
    }
}

/// A schedule to create or replace: `time_utc` (seed 004), or a `timezone` with
/// `time_local` (then `time_utc` is ignored).
#[derive(Debug, Clone, Object)]
pub struct UpsertSchedule {
    pub enabled: bool,
    pub days: Vec<String>,
    /// `HH:MM`, UTC; required without `timezone`.
    pub time_utc: Option<String>,
    /// An IANA time zone (`Europe/Paris`): `days` and `time_local` are then its own.
    pub timezone: Option<String>,
    /// `HH:MM` in `timezone`; required with it.
    pub time_local: Option<String>,
    pub emails: Vec<String>,
    /// Mail a short "nothing new" digest when the sources hold nothing new (default false).
    pub send_when_empty: Option<bool>,
}

/// One email of a synthesis to one recipient.
#[derive(Debug, Clone, Object)]
pub struct Delivery {
    pub id: Uuid,
    pub synthesis_id: Uuid,
    pub recipient: String,
    pub status: DeliveryStatus,
    /// Why it was `skipped`: `NOTHING_NEW` (the sources held nothing an earlier digest of
    /// the schedule did not carry), `UNSUBSCRIBED` (the recipient used the digest's
    /// unsubscribe link before it went).
    #[oai(nullable)]
    pub reason: Option<String>,
    pub attempts: i32,
    #[oai(nullable)]
    pub last_error: Option<Value>,
    #[oai(nullable)]
    pub sent_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
    /// Where to open the email as sent (`message/rfc822`), when the server keeps it: the
    /// `outbox` provider (`EMAIL_PROVIDER`) writes every email to a file instead of sending.
    #[oai(nullable)]
    pub email_url: Option<String>,
}

crate::responses! {
    /// An email as the outbox kept it.
    pub enum OutboxEmail {
        /// The message as written (RFC 5322), to open in a mail program.
        200 as "message/rfc822" => Message(
            poem_openapi::payload::Binary<Vec<u8>>,
            #[header = "Content-Disposition"] String,
        ),
    }
}

impl From<DeliveryRow> for Delivery {
    fn from(row: DeliveryRow) -> Self {
        Self {
            id: row.id,
            synthesis_id: row.synthesis_id,
            recipient: row.recipient,
            status: row.status,
            reason: row.reason,
            attempts: row.attempts,
            last_error: row.last_error,
            sent_at: row.sent_at,
            created_at: row.created_at,
            email_url: None,
        }
    }
}
