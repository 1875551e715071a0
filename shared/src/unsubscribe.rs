//! One-click unsubscribe (RFC 8058, which Gmail and Yahoo require of bulk senders): each
//! scheduled digest names, in `List-Unsubscribe`, an address whose `POST` removes its
//! recipient from that schedule. The address's token is the schedule, the recipient and an
//! expiry, signed with an HMAC of a key derived from `JWT_SECRET`: nothing is stored until
//! it is used, a forged or edited token fails the check, and one stays valid for
//! [`TOKEN_DAYS`] after the digest was sent.

use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD};
use chrono::{Days, NaiveDate};
use hmac::{Hmac, Mac};
use sha2::Sha256;
use uuid::Uuid;

/// How long a digest's unsubscribe link works (RFC 8058 asks for "at least a few days";
/// mail providers keep offering the button for weeks).
pub const TOKEN_DAYS: u64 = 90;
/// The longest token this server makes: a 254-character address, encoded.
pub const MAX_TOKEN_CHARS: usize = 400;
const TAG_BYTES: usize = 16;
const HEAD_BYTES: usize = 16 + 4;

/// The key unsubscribe tokens are signed with.
#[derive(Clone)]
pub struct UnsubscribeKey([u8; 32]);

impl UnsubscribeKey {
    /// Derived from the deployment's secret (`JWT_SECRET`), for this purpose only.
    pub fn from_secret(secret: &str) -> Self {
        let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).expect("any key length");
        mac.update(b"almanac/unsubscribe/v1");
        Self(mac.finalize().into_bytes().into())
    }

    /// The key of notification emails' unsubscribe tokens (a person's id where a digest's
    /// names its schedule): derived for that purpose only, so that neither kind of token
    /// passes for the other.
    pub fn for_notifications(secret: &str) -> Self {
        let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).expect("any key length");
        mac.update(b"almanac/unsubscribe-notifications/v1");
        Self(mac.finalize().into_bytes().into())
    }

    fn mac(&self, payload: &[u8]) -> Hmac<Sha256> {
        let mut mac = Hmac::<Sha256>::new_from_slice(&self.0).expect("any key length");
        mac.update(payload);
        mac
    }

    /// The token that unsubscribes `address` from `schedule`, valid through `expires`.
    pub fn token(&self, schedule: Uuid, address: &str, expires: NaiveDate) -> String {
        let mut payload = Vec::with_capacity(HEAD_BYTES + address.len() + TAG_BYTES);
        payload.extend_from_slice(schedule.as_bytes());
        payload.extend_from_slice(&day_number(expires).to_be_bytes());
        payload.extend_from_slice(address.to_lowercase().as_bytes());
        let tag = self.mac(&payload).finalize().into_bytes();
        payload.extend_from_slice(&tag[..TAG_BYTES]);
        URL_SAFE_NO_PAD.encode(payload)
    }

    /// What a token this key made says, if it is still valid on `today`.
    pub fn verify(&self, token: &str, today: NaiveDate) -> Option<Unsubscribe> {
        if token.len() > MAX_TOKEN_CHARS {
            return None;
        }
        let bytes = URL_SAFE_NO_PAD.decode(token).ok()?;
        let (payload, tag) = bytes.split_at_checked(bytes.len().checked_sub(TAG_BYTES)?)?;
        self.mac(payload).verify_truncated_left(tag).ok()?;
        let (head, address) = payload.split_at_checked(HEAD_BYTES)?;
        let schedule = Uuid::from_slice(&head[..16]).ok()?;
        let expires = u32::from_be_bytes(head[16..].try_into().ok()?);
        if expires < day_number(today) {
            return None;
        }
        let address = std::str::from_utf8(address).ok()?.to_owned();
        (!address.is_empty()).then_some(Unsubscribe {
            schedule_id: schedule,
            address,
        })
    }
}

/// Who a valid token unsubscribes from what.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Unsubscribe {
    pub schedule_id: Uuid,
    /// Lowercase.
    pub address: String,
}

fn day_number(day: NaiveDate) -> u32 {
    let epoch = NaiveDate::from_ymd_opt(1970, 1, 1).expect("a date");
    u32::try_from((day - epoch).num_days()).unwrap_or(0)
}

/// The list headers of a scheduled digest (RFC 2369, 2919, 8058).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListHeaders {
    /// `<https://.../unsubscribe/{token}>, <mailto:...>`.
    pub unsubscribe: String,
    /// `List-Unsubscribe=One-Click`.
    pub unsubscribe_post: &'static str,
    /// `"Tea" <schedule.host>`.
    pub id: String,
}

/// What a digest of `schedule` (of the theme `theme`) to `address`, sent on `today`, says
/// in its list headers: links under `base_url` (`PUBLIC_BASE_URL`), the sender's address
/// `mailto` as the fallback for mail programs without one-click.
pub fn list_headers(
    key: &UnsubscribeKey,
    base_url: &str,
    mailto: &str,
    schedule: Uuid,
    theme: &str,
    address: &str,
    today: NaiveDate,
) -> ListHeaders {
    let expires = today
        .checked_add_days(Days::new(TOKEN_DAYS))
        .unwrap_or(NaiveDate::MAX);
    let token = key.token(schedule, address, expires);
    let base = base_url.trim_end_matches('/');
    let host = url::Url::parse(base)
        .ok()
        .and_then(|u| u.host_str().map(str::to_owned))
        .unwrap_or_else(|| "almanac.invalid".into());
    // A list's phrase is a quoted string of ASCII: no quotes, backslashes or line breaks
    // (a header encoder would otherwise encode the whole value, the list's id with it).
    let phrase: String = theme
        .chars()
        .filter(|c| (c.is_ascii_graphic() || *c == ' ') && !matches!(c, '"' | '\\'))
        .take(100)
        .collect();
    let phrase = phrase.trim();
    ListHeaders {
        unsubscribe: format!("<{base}/unsubscribe/{token}>, <mailto:{mailto}?subject=unsubscribe>"),
        unsubscribe_post: "List-Unsubscribe=One-Click",
        id: format!("\"{phrase}\" <{}.digests.{host}>", schedule.simple())
            .trim_start_matches("\"\" ")
            .to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn day(raw: &str) -> NaiveDate {
        raw.parse().unwrap()
    }

    #[test]
    fn a_token_names_its_schedule_and_address_until_it_expires() {
        let key = UnsubscribeKey::from_secret("a-long-enough-secret-for-the-tests-0001");
        let schedule = Uuid::now_v7();
        let token = key.token(schedule, "Ana@Example.com", day("2027-03-01"));
        assert!(token.len() <= MAX_TOKEN_CHARS);
        let said = Unsubscribe {
            schedule_id: schedule,
            address: "ana@example.com".into(),
        };
        assert_eq!(key.verify(&token, day("2027-03-01")), Some(said));
        assert_eq!(key.verify(&token, day("2027-03-02")), None, "expired");
        // Another deployment's key, or any edited byte, is refused.
        let other = UnsubscribeKey::from_secret("another-long-enough-secret-for-the-tests");
        assert_eq!(other.verify(&token, day("2027-01-01")), None);
        let mut bytes = URL_SAFE_NO_PAD.decode(&token).unwrap();
        for i in 0..bytes.len() {
            bytes[i] ^= 1;
            let edited = URL_SAFE_NO_PAD.encode(&bytes);
            assert_eq!(key.verify(&edited, day("2027-01-01")), None, "byte {i}");
            bytes[i] ^= 1;
        }
        for junk in ["", "a", "not base64 !", &"A".repeat(MAX_TOKEN_CHARS + 1)] {
            assert_eq!(key.verify(junk, day("2027-01-01")), None);
        }
    }

    #[test]
    fn a_digest_lists_its_one_click_address_and_its_list() {
        let key = UnsubscribeKey::from_secret("a-long-enough-secret-for-the-tests-0001");
        let schedule = Uuid::now_v7();
        let headers = list_headers(
            &key,
            "https://almanac.example/",
            "digests@almanac.example",
            schedule,
            "Tea \"daily\"",
            "ana@example.com",
            day("2027-01-01"),
        );
        let link = headers
            .unsubscribe
            .strip_prefix("<https://almanac.example/unsubscribe/")
            .and_then(|rest| rest.split_once('>'))
            .map(|(token, _)| token)
            .unwrap();
        // Valid for at least 60 days.
        assert!(key.verify(link, day("2027-03-02")).is_some());
        assert!(
            headers
                .unsubscribe
                .ends_with(", <mailto:digests@almanac.example?subject=unsubscribe>")
        );
        assert_eq!(headers.unsubscribe_post, "List-Unsubscribe=One-Click");
        assert_eq!(
            headers.id,
            format!(
                "\"Tea daily\" <{}.digests.almanac.example>",
                schedule.simple()
            )
        );
    }
}
