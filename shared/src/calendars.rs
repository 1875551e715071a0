//! A calendar run's events (seed 000's envelope): an entry as it is written, the diff a
//! regeneration proposes. What a run writes is `store::calendars`.

use serde_json::{Value, json};
use uuid::Uuid;

use crate::{
    domain::calendar::{Change, DiffCounts, Entry},
    events::{Envelope, Event},
};

/// The `entry` event of a run's entry at `position` of `total` (seed 000's envelope;
/// `meta` is the run's).
pub fn entry_event(entry: &Entry, meta: &Value, position: usize, total: usize) -> Event {
    let mut meta = meta.clone();
    meta["position"] = json!(position);
    meta["total"] = json!(total);
    Event::Entry(Envelope {
        data: serde_json::to_value(entry).expect("entries serialise"),
        error: None,
        meta,
    })
}

/// The `diff` payload: each kind's changes with their ids, and the counts.
pub fn diff_payload(changes: &[(Uuid, Change)], counts: DiffCounts) -> Value {
    let of = |kind: crate::domain::calendar::ChangeKind| -> Vec<Value> {
        changes
            .iter()
            .filter(|(_, c)| c.kind == kind)
            .map(|(id, c)| {
                json!({ "id": id, "key": c.key, "conflict": c.conflict, "before": c.before, "after": c.after })
            })
            .collect()
    };
    use crate::domain::calendar::ChangeKind::*;
    json!({ "added": of(Added), "updated": of(Updated), "removed": of(Removed), "counts": counts })
}
