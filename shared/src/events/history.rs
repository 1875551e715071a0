//! Reading a job's stored events back: a page of its history and its latest event.

use uuid::Uuid;

use super::{StoredEvent, stream_key};
use crate::{config::Settings, redis_conn::RedisConn};

/// What the stream holds after a given id.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct History {
    pub events: Vec<StoredEvent>,
    /// The oldest retained id (`None`: the stream does not exist; it expires after the job).
    pub first: Option<u64>,
    /// The newest id. Lower than an id a client saw means Redis lost the stream and the
    /// numbering started again.
    pub newest: Option<u64>,
}

/// Reads up to `limit` events after `after` (exclusive), oldest first, with the stream's
/// oldest and newest ids, in one round trip.
pub async fn history(
    conn: &RedisConn,
    settings: &Settings,
    job: Uuid,
    after: u64,
    limit: usize,
) -> redis::RedisResult<History> {
    let key = stream_key(settings, job);
    let mut conn = conn.clone();
    let (first, newest, entries): (Vec<redis::Value>, Vec<redis::Value>, Vec<redis::Value>) =
        redis::pipe()
            .cmd("XRANGE")
            .arg(&key)
            .arg("-")
            .arg("+")
            .arg("COUNT")
            .arg(1)
            .cmd("XREVRANGE")
            .arg(&key)
            .arg("+")
            .arg("-")
            .arg("COUNT")
            .arg(1)
            .cmd("XRANGE")
            .arg(&key)
            .arg(format!("(0-{after}"))
            .arg("+")
            .arg("COUNT")
            .arg(limit)
            .query_async(&mut conn)
            .await?;
    Ok(History {
        events: entries.iter().filter_map(parse_entry).collect(),
        first: first.iter().find_map(parse_entry).map(|e| e.seq),
        newest: newest.iter().find_map(parse_entry).map(|e| e.seq),
    })
}

/// The job's latest stored event.
pub async fn last(
    conn: &RedisConn,
    settings: &Settings,
    job: Uuid,
) -> redis::RedisResult<Option<StoredEvent>> {
    let mut conn = conn.clone();
    let entries: Vec<redis::Value> = redis::cmd("XREVRANGE")
        .arg(stream_key(settings, job))
        .arg("+")
        .arg("-")
        .arg("COUNT")
        .arg(1)
        .query_async(&mut conn)
        .await?;
    Ok(entries.iter().find_map(parse_entry))
}

/// One `XRANGE` entry: `[id, [field, value, ...]]`.
fn parse_entry(entry: &redis::Value) -> Option<StoredEvent> {
    let redis::Value::Array(parts) = entry else {
        return None;
    };
    let [id, redis::Value::Array(fields)] = parts.as_slice() else {
        return None;
    };
    let id: String = redis::from_redis_value_ref(id).ok()?;
    let seq = id.strip_prefix("0-")?.parse().ok()?;
    let mut kind = None;
    let mut data = None;
    for pair in fields.chunks(2) {
        let [name, value] = pair else { continue };
        let name: String = redis::from_redis_value_ref(name).ok()?;
        let value: String = redis::from_redis_value_ref(value).ok()?;
        match name.as_str() {
            "t" => kind = Some(value.into_boxed_str()),
            "d" => data = Some(value.into_boxed_str()),
            _ => {}
        }
    }
    Some(StoredEvent {
        seq,
        kind: kind?,
        data: data?,
    })
}
