//! AT Protocol timestamp identifiers (TIDs), the record keys Bluesky posts are written under
//! (atproto.com/specs/tid): a 64-bit integer whose top bit is 0, then 53 bits of
//! microseconds since the Unix epoch, then a 10-bit clock id; written big-endian in
//! base32-sortable (`234567abcdefghijklmnopqrstuvwxyz`), always 13 characters.
//!
//! A post's key is derived from its publish intent ([`of_intent`]), so a send repeated after
//! a lost answer names the same record, and the read-only check looks for that key.

use uuid::Uuid;

const ALPHABET: &[u8; 32] = b"234567abcdefghijklmnopqrstuvwxyz";
const LEN: usize = 13;
const CLOCK_BITS: u32 = 10;
/// The largest timestamp 53 bits hold.
const MAX_MICROS: u64 = (1 << 53) - 1;

/// The TID of `micros` since the epoch and `clock_id` (its low 10 bits); `None` past what
/// 53 bits of microseconds hold (the year 2255).
pub fn encode(micros: u64, clock_id: u16) -> Option<String> {
    if micros > MAX_MICROS {
        return None;
    }
    let mut value = (micros << CLOCK_BITS) | u64::from(clock_id & 0x3FF);
    let mut out = [0u8; LEN];
    for slot in out.iter_mut().rev() {
        *slot = ALPHABET[(value & 0x1F) as usize];
        value >>= 5;
    }
    Some(out.iter().map(|&b| b as char).collect())
}

/// The record key of the intent `intent` (a UUIDv7): its time in microseconds (the
/// UUID's milliseconds, times 1,000) and a clock id from its last random bits. `None` for
/// an id that is not a UUIDv7.
pub fn of_intent(intent: Uuid) -> Option<String> {
    let (seconds, nanos) = intent.get_timestamp()?.to_unix();
    let micros = seconds * 1_000_000 + u64::from(nanos / 1_000_000) * 1_000;
    let bytes = intent.as_bytes();
    encode(micros, u16::from_be_bytes([bytes[14], bytes[15]]))
}

/// The record key of the intent's reply (its post's first comment): the post's key a
/// microsecond later, so that a repeat names the same record and never the post's.
pub fn of_reply(intent: Uuid) -> Option<String> {
    let (micros, clock) = decode(&of_intent(intent)?)?;
    encode(micros + 1, clock)
}

/// Whether `tid` is a TID as the spec writes one: 13 characters of the alphabet, the first
/// keeping the top bit 0.
pub fn is_valid(tid: &str) -> bool {
    let bytes = tid.as_bytes();
    bytes.len() == LEN
        && bytes.iter().all(|b| ALPHABET.contains(b))
        && b"234567abcdefghij".contains(&bytes[0])
}

/// The microseconds and clock id `tid` holds; `None` when it is not a valid TID.
pub fn decode(tid: &str) -> Option<(u64, u16)> {
    if !is_valid(tid) {
        return None;
    }
    let value = tid.bytes().fold(0u64, |value, b| {
        let digit = ALPHABET.iter().position(|&a| a == b).unwrap_or(0) as u64;
        (value << 5) | digit
    });
    Some((value >> CLOCK_BITS, (value & 0x3FF) as u16))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encodes_as_the_spec_and_other_implementations_do() {
        // Zero is all `2`s; atcute's published example: 1724171495793000 µs, clock 512.
        assert_eq!(encode(0, 0).as_deref(), Some("2222222222222"));
        assert_eq!(
            encode(1_724_171_495_793_000, 512).as_deref(),
            Some("3l25zusnsfck2")
        );
        assert_eq!(decode("3l25zusnsfctk"), Some((1_724_171_495_793_000, 816)));
        assert_eq!(encode(MAX_MICROS + 1, 0), None);
        // Only the clock id's low 10 bits count.
        assert_eq!(encode(7, 1024 + 3), encode(7, 3));
    }

    #[test]
    fn an_intent_names_one_valid_key_from_its_time_and_random_bits() {
        let ms: u64 = 1_798_000_000_123;
        let intent = |random: u16| {
            let mut bytes = [0u8; 16];
            bytes[..6].copy_from_slice(&ms.to_be_bytes()[2..]);
            bytes[6] = 0x70;
            bytes[8] = 0x80;
            bytes[14..].copy_from_slice(&random.to_be_bytes());
            Uuid::from_bytes(bytes)
        };
        let key = of_intent(intent(0x0123)).unwrap();
        assert!(is_valid(&key), "{key}");
        assert_eq!(decode(&key), Some((ms * 1_000, 0x0123)));
        // Its reply (the first comment) has a key of its own, the same every time.
        let reply = of_reply(intent(0x0123)).unwrap();
        assert_eq!(decode(&reply), Some((ms * 1_000 + 1, 0x0123)));
        assert_ne!(reply, key);
        assert_eq!(of_reply(intent(0x0123)), Some(reply));
        assert_eq!(
            of_intent(intent(0x0123)),
            Some(key.clone()),
            "the same every time"
        );
        assert_ne!(
            of_intent(intent(0x0124)),
            Some(key),
            "another intent, another key"
        );
        let now = Uuid::now_v7();
        assert!(is_valid(&of_intent(now).unwrap()));
        assert_eq!(of_intent(Uuid::new_v4()), None, "not a UUIDv7");
    }

    #[test]
    fn keys_sort_as_their_times_do() {
        let earlier = encode(1_700_000_000_000_000, 999).unwrap();
        let later = encode(1_700_000_000_000_001, 0).unwrap();
        assert!(earlier < later);
        for bad in [
            "",
            "3l25zusnsfck",
            "3l25zusnsfck22",
            "3L25ZUSNSFCK2",
            "kl25zusnsfck2",
            "1l25zusnsfck2",
        ] {
            assert!(!is_valid(bad), "{bad}");
        }
    }
}
