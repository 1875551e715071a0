//! Outgoing webhooks, as the Standard Webhooks specification has them: an endpoint's
//! secret (`whsec_<base64 key>`), the events an endpoint subscribes to, and the signature
//! each attempt of a delivery carries (`docs/webhooks.md`).

use base64::{Engine, engine::general_purpose::STANDARD};
use hmac::{Hmac, Mac};
use rand::RngCore;
use sha2::Sha256;
use std::time::Duration;

use url::Url;

/// What a secret's text starts with; the rest is the key, base64.
const SECRET_PREFIX: &str = "whsec_";
/// What a sealed secret is bound to (with its endpoint's id).
pub const SECRET_FIELD: &str = "webhook_secret";

/// Bytes of a new secret's key (the specification asks for 24 to 64).
const KEY_BYTES: usize = 32;

/// The events an endpoint can subscribe to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum EventType {
    JobSucceeded,
    JobFailed,
    CalendarRunFinished,
    OrganicWeekFinished,
    PublishIntentPublished,
    PublishIntentFailed,
    PublishIntentUnconfirmed,
    ChannelNeedsReauth,
    ChannelExpiring,
    SynthesisDelivered,
    WebhookDisabled,
    EntryReviewRequested,
    EntryApproved,
    EntryChangesRequested,
    EntryExpired,
    EntryCommented,
}

impl EventType {
    pub const ALL: [EventType; 16] = [
        Self::JobSucceeded,
        Self::JobFailed,
        Self::CalendarRunFinished,
        Self::OrganicWeekFinished,
        Self::PublishIntentPublished,
        Self::PublishIntentFailed,
        Self::PublishIntentUnconfirmed,
        Self::ChannelNeedsReauth,
        Self::ChannelExpiring,
        Self::SynthesisDelivered,
        Self::WebhookDisabled,
        Self::EntryReviewRequested,
        Self::EntryApproved,
        Self::EntryChangesRequested,
        Self::EntryExpired,
        Self::EntryCommented,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::JobSucceeded => "job.succeeded",
            Self::JobFailed => "job.failed",
            Self::CalendarRunFinished => "calendar.run.finished",
            Self::OrganicWeekFinished => "organic.week.finished",
            Self::PublishIntentPublished => "publish.intent.published",
            Self::PublishIntentFailed => "publish.intent.failed",
            Self::PublishIntentUnconfirmed => "publish.intent.unconfirmed",
            Self::ChannelNeedsReauth => "channel.needs_reauth",
            Self::ChannelExpiring => "channel.expiring",
            Self::SynthesisDelivered => "synthesis.delivered",
            Self::WebhookDisabled => "webhook.disabled",
            Self::EntryReviewRequested => "calendar.entry.review_requested",
            Self::EntryApproved => "calendar.entry.approved",
            Self::EntryChangesRequested => "calendar.entry.changes_requested",
            Self::EntryExpired => "calendar.entry.expired",
            Self::EntryCommented => "calendar.entry.commented",
        }
    }

    pub fn parse(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|event| event.as_str() == name)
    }
}

impl std::fmt::Display for EventType {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The job that sends one delivery (its attempts are the job's).
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct WebhookJob {
    pub delivery_id: uuid::Uuid,
}

impl crate::jobs::JobPayload for WebhookJob {
    /// The first attempt and one after each wait of `RETRY_SCHEDULE`.
    const KIND: crate::jobs::JobKind = crate::jobs::JobKind::new(&crate::jobs::About {
        name: "webhook",
        attempts: ATTEMPTS,
        row: crate::jobs::Row {
            table: "webhook_deliveries",
            id_field: "delivery_id",
            path: None,
        },
        words: crate::jobs::Words::Common,
        deadline: None,
    });
    const TYPE: &'static str = "webhook.v1";
}

/// The wait after each failed attempt: attempts at 0, 5 s, 5 min, 30 min, 2 h, 5 h,
/// 10 h and 10 h (as Svix's, which receivers know), each wait within 20 % either way.
pub const RETRY_SCHEDULE: [Duration; 7] = [
    Duration::from_secs(5),
    Duration::from_secs(5 * 60),
    Duration::from_secs(30 * 60),
    Duration::from_secs(2 * 3600),
    Duration::from_secs(5 * 3600),
    Duration::from_secs(10 * 3600),
    Duration::from_secs(10 * 3600),
];

/// Attempts a delivery gets: the first and one after each wait of the schedule.
pub const ATTEMPTS: i32 = RETRY_SCHEDULE.len() as i32 + 1;

/// How far a wait may be moved, either way, so that retries of a burst spread out.
const JITTER: f64 = 0.2;

/// The wait before the attempt after `attempt` (1 for the first) failed, scaled by
/// `WEBHOOK_RETRY_SCALE`; `None` after the last.
pub fn retry_delay(attempt: i32, scale: f64) -> Option<Duration> {
    use rand::Rng;
    let wait = RETRY_SCHEDULE.get(usize::try_from(attempt).ok()?.checked_sub(1)?)?;
    let jitter = rand::rng().random_range(1.0 - JITTER..=1.0 + JITTER);
    Some(wait.mul_f64(scale * jitter))
}

/// An endpoint whose every attempt failed this long (and at least
/// [`DISABLE_AFTER_FAILURES`] in a row) is disabled.
pub const DISABLE_AFTER: Duration = Duration::from_secs(24 * 3600);
pub const DISABLE_AFTER_FAILURES: i32 = 10;

/// The type of the event `POST /v1/webhooks/{id}/test` sends (no endpoint subscribes to it).
pub const TEST_EVENT: &str = "webhook.test";

/// The email telling an endpoint's owner it was disabled.
pub fn disabled_email(url: &str, reason: &str, link: &str) -> crate::email::Notice {
    let escape = crate::html::escape;
    crate::email::Notice {
        subject: "Almanac stopped sending events to one of your webhooks".to_owned(),
        text: format!(
            "Almanac disabled your webhook endpoint {url}: {reason}.\n\n\
             Nothing more is sent to it until you enable it again. Once your receiver is \
             fixed, enable it and redeliver what it missed:\n{link}\n"
        ),
        html: format!(
            "<p>Almanac disabled your webhook endpoint <code>{}</code>: {}.</p>\
             <p>Nothing more is sent to it until you enable it again. Once your receiver is \
             fixed, enable it and redeliver what it missed:</p>\
             <p><a href=\"{}\">Your webhooks</a></p>",
            escape(url),
            escape(reason),
            escape(link)
        ),
    }
}

/// A delivery's body, the same on every attempt: `{type, timestamp, data}`.
pub fn body(
    event_type: &str,
    occurred_at: chrono::DateTime<chrono::Utc>,
    data: &serde_json::Value,
) -> Vec<u8> {
    serde_json::to_vec(&serde_json::json!({
        "type": event_type,
        "timestamp": occurred_at.to_rfc3339_opts(chrono::SecondsFormat::AutoSi, true),
        "data": data,
    }))
    .expect("a JSON value serialises")
}

/// A new endpoint secret: `whsec_` and 32 random bytes, base64.
pub fn new_secret() -> String {
    let mut key = [0u8; KEY_BYTES];
    rand::rng().fill_bytes(&mut key);
    format!("{SECRET_PREFIX}{}", STANDARD.encode(key))
}

/// The signature of one attempt: `v1,` and the base64 HMAC-SHA256, keyed by the secret's
/// key, of `<id>.<timestamp>.<body>`. `None` for a secret that is not `whsec_<base64>`.
pub fn sign(secret: &str, id: &str, timestamp: i64, body: &[u8]) -> Option<String> {
    let key = STANDARD.decode(secret.strip_prefix(SECRET_PREFIX)?).ok()?;
    let mut mac = Hmac::<Sha256>::new_from_slice(&key).ok()?;
    mac.update(id.as_bytes());
    mac.update(b".");
    mac.update(timestamp.to_string().as_bytes());
    mac.update(b".");
    mac.update(body);
    Some(format!(
        "v1,{}",
        STANDARD.encode(mac.finalize().into_bytes())
    ))
}

/// The `webhook-signature` header: one signature per secret (the current one, and the
/// previous one while a rotation's overlap lasts), space-separated.
pub fn signature_header(secrets: &[&str], id: &str, timestamp: i64, body: &[u8]) -> String {
    secrets
        .iter()
        .filter_map(|secret| sign(secret, id, timestamp, body))
        .collect::<Vec<_>>()
        .join(" ")
}

/// Why an endpoint's URL is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum UrlRefusal {
    #[error("`{0}` is not an absolute URL")]
    NotAUrl(String),
    #[error("the URL must be https (http is allowed only where FETCH_ALLOW_PRIVATE_NETWORKS=true)")]
    NotHttps,
    #[error(
        "the URL must not carry a user name or password: put credentials in the path or a query"
    )]
    Credentials,
    #[error("{0} is not a public internet address")]
    Private(String),
}

/// An endpoint's URL as deliveries will use it: absolute, `https` (or `http` where
/// private networks are allowed, for development), without credentials, and not naming a
/// private address (a name is judged again each time a delivery resolves it).
pub fn check_url(raw: &str, allow_private_networks: bool) -> Result<Url, UrlRefusal> {
    let url = Url::parse(raw.trim()).map_err(|_| UrlRefusal::NotAUrl(raw.trim().to_owned()))?;
    let host = url
        .host_str()
        .filter(|host| !host.is_empty())
        .ok_or_else(|| UrlRefusal::NotAUrl(raw.trim().to_owned()))?
        .to_owned();
    match url.scheme() {
        "https" => {}
        "http" if allow_private_networks => {}
        _ => return Err(UrlRefusal::NotHttps),
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err(UrlRefusal::Credentials);
    }
    if !allow_private_networks && crate::fetch::host_is_refused(&url) {
        return Err(UrlRefusal::Private(host));
    }
    Ok(url)
}

/// How long an attempt may take to connect (and in all, `WEBHOOK_TIMEOUT_MS`, 15 s).
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

/// Bytes of a receiver's answer read at most; the rest is not waited for.
pub const ANSWER_READ_BYTES: usize = 64 * 1024;
/// Bytes of the answer kept with the attempt.
pub const ANSWER_KEPT_BYTES: usize = 1024;

/// What a receiver answered one attempt.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reply {
    pub status: u16,
    /// The answer's first [`ANSWER_KEPT_BYTES`] (cut at a character), as text.
    pub excerpt: String,
}

impl Reply {
    /// 2xx: delivered. (A redirect is not followed: it is not a delivery.)
    pub fn delivered(&self) -> bool {
        (200..300).contains(&self.status)
    }
}

/// Why an attempt got no answer.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SendError {
    #[error(transparent)]
    Refused(#[from] UrlRefusal),
    #[error("no answer within {0} ms")]
    Timeout(u128),
    #[error("{0}")]
    Failed(String),
}

/// Sends deliveries: a POST of the body with the three Standard Webhooks headers, bounded
/// in time (to connect, and in all) and in what it reads of the answer, through the same
/// guard as every outside fetch (no private addresses unless they are allowed), following
/// no redirect.
#[derive(Clone)]
pub struct Sender {
    http: reqwest::Client,
    total: std::time::Duration,
    /// The answer's status line must arrive within this (`WEBHOOK_FIRST_BYTE_MS`).
    first_byte: std::time::Duration,
    allow_private_networks: bool,
}

/// One attempt: the endpoint, the delivery's id, the attempt's time and signature, the body.
pub struct Attempt<'a> {
    pub url: &'a str,
    pub id: &'a str,
    pub timestamp: i64,
    pub signature: &'a str,
    pub body: &'a [u8],
}

impl Sender {
    /// `connect`, `first_byte` and `total` bound an attempt: to connect, to the answer's
    /// status line, and in all.
    pub fn new(
        allow_private_networks: bool,
        connect: std::time::Duration,
        first_byte: std::time::Duration,
        total: std::time::Duration,
    ) -> anyhow::Result<Self> {
        let builder = reqwest::Client::builder()
            .connect_timeout(connect)
            .timeout(total)
            .redirect(reqwest::redirect::Policy::none())
            .user_agent(concat!("Almanac-Webhooks/", env!("CARGO_PKG_VERSION")));
        Ok(Self {
            http: crate::fetch::guarded(builder, allow_private_networks).build()?,
            total,
            first_byte: first_byte.min(total),
            allow_private_networks,
        })
    }

    pub async fn send(&self, attempt: Attempt<'_>) -> Result<Reply, SendError> {
        use futures::StreamExt;
        let url = check_url(attempt.url, self.allow_private_networks)?;
        let describe = |error: reqwest::Error| {
            if error.is_timeout() {
                return SendError::Timeout(self.total.as_millis());
            }
            match crate::fetch::refused_host(&error) {
                Some(host) => SendError::Refused(UrlRefusal::Private(host)),
                None => SendError::Failed(error.to_string()),
            }
        };
        let request = self
            .http
            .post(url)
            .header("content-type", "application/json")
            .header("webhook-id", attempt.id)
            .header("webhook-timestamp", attempt.timestamp.to_string())
            .header("webhook-signature", attempt.signature)
            .body(attempt.body.to_vec())
            .send();
        // A receiver that accepts and says nothing is let go early, not at the total.
        let response = tokio::time::timeout(self.first_byte, request)
            .await
            .map_err(|_| SendError::Timeout(self.first_byte.as_millis()))?
            .map_err(describe)?;
        let status = response.status().as_u16();
        let mut read = Vec::new();
        let mut chunks = response.bytes_stream();
        while read.len() < ANSWER_READ_BYTES {
            match chunks.next().await {
                Some(Ok(chunk)) => read.extend_from_slice(&chunk),
                // The status is the answer; a body cut short changes nothing.
                Some(Err(_)) | None => break,
            }
        }
        read.truncate(ANSWER_KEPT_BYTES);
        let excerpt = match String::from_utf8(read) {
            Ok(text) => text,
            Err(error) => {
                let valid = error.utf8_error().valid_up_to();
                let mut bytes = error.into_bytes();
                bytes.truncate(valid);
                String::from_utf8(bytes).unwrap_or_default()
            }
        };
        Ok(Reply { status, excerpt })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_event_type_reads_back_from_its_name() {
        for event in EventType::ALL {
            assert_eq!(EventType::parse(event.as_str()), Some(event));
        }
        assert_eq!(EventType::parse("job.started"), None);
    }

    /// The example of the Standard Webhooks specification (its reference libraries' tests).
    #[test]
    fn a_signature_matches_the_specifications_example() {
        let signature = sign(
            "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
            "msg_p5jXN8AQM9LWM0D4loKWxJek",
            1614265330,
            br#"{"test": 2432232314}"#,
        );
        assert_eq!(
            signature.as_deref(),
            Some("v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=")
        );
    }

    #[test]
    fn retries_follow_the_schedule_within_the_jitter() {
        assert_eq!(ATTEMPTS, 8);
        assert_eq!(
            <WebhookJob as crate::jobs::JobPayload>::KIND.max_attempts(),
            ATTEMPTS
        );
        for attempt in 1..ATTEMPTS {
            let wait = RETRY_SCHEDULE[attempt as usize - 1];
            let delay = retry_delay(attempt, 1.0).unwrap();
            assert!(
                delay >= wait.mul_f64(0.8) && delay <= wait.mul_f64(1.2),
                "{attempt}: {delay:?}"
            );
            let scaled = retry_delay(attempt, 0.001).unwrap();
            assert!(scaled <= wait.mul_f64(0.0012), "{attempt}: {scaled:?}");
        }
        assert_eq!(retry_delay(ATTEMPTS, 1.0), None);
        assert_eq!(retry_delay(0, 1.0), None);
    }

    #[test]
    fn a_rotation_signs_with_both_secrets() {
        let (old, new) = (new_secret(), new_secret());
        assert_ne!(old, new);
        let header = signature_header(&[&new, &old], "msg_1", 1, b"{}");
        let parts: Vec<&str> = header.split(' ').collect();
        assert_eq!(parts.len(), 2);
        assert_eq!(Some(parts[0].to_owned()), sign(&new, "msg_1", 1, b"{}"));
        assert_eq!(Some(parts[1].to_owned()), sign(&old, "msg_1", 1, b"{}"));
        assert_eq!(sign("not-a-secret", "msg_1", 1, b"{}"), None);
    }

    #[test]
    fn urls_must_be_public_https_without_credentials() {
        assert!(check_url("https://hooks.example.com/in?x=1", false).is_ok());
        assert_eq!(
            check_url("http://hooks.example.com/in", false),
            Err(UrlRefusal::NotHttps)
        );
        assert!(check_url("http://127.0.0.1:9000/in", true).is_ok());
        assert_eq!(
            check_url("https://127.0.0.1/in", false),
            Err(UrlRefusal::Private("127.0.0.1".into()))
        );
        assert_eq!(
            check_url("https://[::1]/in", false),
            Err(UrlRefusal::Private("[::1]".into()))
        );
        for local in [
            "api.localhost",
            "localhost.",
            "LocalHost.",
            "api.localhost.",
            "ip6-localhost",
            "ip6-loopback.",
            "IP6-LOCALHOST",
            "127.1",
            "[::ffff:127.0.0.1]",
        ] {
            let refused = check_url(&format!("https://{local}/in"), false);
            assert!(
                matches!(&refused, Err(UrlRefusal::Private(_))),
                "{local}: {refused:?}"
            );
            assert!(
                check_url(&format!("http://{local}/in"), true).is_ok(),
                "allowed where private networks are: {local}"
            );
        }
        assert!(check_url("https://localhost.example.com/in", false).is_ok());
        assert!(check_url("https://ip6-localhost.example.com/in", false).is_ok());
        assert_eq!(
            check_url("https://user:pw@hooks.example.com/", false),
            Err(UrlRefusal::Credentials)
        );
        assert_eq!(
            check_url("ftp://hooks.example.com/", true),
            Err(UrlRefusal::NotHttps)
        );
        assert!(matches!(
            check_url("hooks.example.com/in", false),
            Err(UrlRefusal::NotAUrl(_))
        ));
    }
}
