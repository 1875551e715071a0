//! A regeneration compared with the saved calendar, slot key by slot key.
//!
//! The rules that protect a user's work: an entry the user edited is never changed or
//! removed unless the user accepts that change (it is flagged as a conflict); an entry the
//! user deleted is not brought back; entries the user added by hand are never touched.

use std::collections::{BTreeMap, HashSet};

use serde::{Deserialize, Serialize};

use super::{EntryContent, Slot};

/// An entry: its slot and what it says.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Entry {
    #[serde(flatten)]
    pub slot: Slot,
    #[serde(flatten)]
    pub content: EntryContent,
}

/// An entry as the calendar holds it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SavedEntry {
    pub entry: Entry,
    /// The user changed it by hand.
    pub edited: bool,
    /// The user deleted it (kept as a tombstone so that it is not regenerated).
    pub deleted: bool,
    /// The user created it by hand (its key is not a grid key).
    pub manual: bool,
}

crate::text_enum! {
    pub enum ChangeKind in "lowercase" {
        Added,
        Updated,
        Removed,
    }
}

/// One difference between the saved calendar and a run.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Change {
    pub kind: ChangeKind,
    pub key: String,
    /// Applying it would overwrite or remove the user's edit: only an explicit accept of
    /// this change applies it.
    pub conflict: bool,
    pub before: Option<Entry>,
    pub after: Option<Entry>,
}

impl Change {
    /// A new entry for a slot the calendar lacked.
    pub fn added(entry: Entry) -> Self {
        Change {
            kind: ChangeKind::Added,
            key: entry.slot.key.clone(),
            conflict: false,
            before: None,
            after: Some(entry),
        }
    }
}

/// The changes that would turn `saved` into `generated`. `complete` is false for a run
/// that did not cover every slot (it timed out): what it did not reach is not removed.
pub fn diff(saved: &[SavedEntry], generated: &[Entry], complete: bool) -> Vec<Change> {
    let by_key: BTreeMap<&str, &SavedEntry> = saved
        .iter()
        .map(|s| (s.entry.slot.key.as_str(), s))
        .collect();
    let mut changes = Vec::new();
    let mut seen = HashSet::new();
    for entry in generated {
        if !seen.insert(entry.slot.key.as_str()) {
            continue;
        }
        match by_key.get(entry.slot.key.as_str()) {
            None => changes.push(Change {
                kind: ChangeKind::Added,
                key: entry.slot.key.clone(),
                conflict: false,
                before: None,
                after: Some(entry.clone()),
            }),
            Some(s) if s.deleted || s.manual || s.entry == *entry => {}
            Some(s) => changes.push(Change {
                kind: ChangeKind::Updated,
                key: entry.slot.key.clone(),
                conflict: s.edited,
                before: Some(s.entry.clone()),
                after: Some(entry.clone()),
            }),
        }
    }
    if complete {
        for s in saved {
            if !s.deleted && !s.manual && !seen.contains(s.entry.slot.key.as_str()) {
                changes.push(Change {
                    kind: ChangeKind::Removed,
                    key: s.entry.slot.key.clone(),
                    conflict: s.edited,
                    before: Some(s.entry.clone()),
                    after: None,
                });
            }
        }
    }
    changes
}

/// Applies accepted changes to a calendar keyed by slot key. An accepted update replaces
/// the user's edit (the entry is no longer marked edited).
pub fn apply<'a>(
    calendar: &mut BTreeMap<String, SavedEntry>,
    changes: impl IntoIterator<Item = &'a Change>,
) {
    for change in changes {
        match (change.kind, &change.after) {
            (ChangeKind::Added | ChangeKind::Updated, Some(after)) => {
                calendar.insert(
                    change.key.clone(),
                    SavedEntry {
                        entry: after.clone(),
                        edited: false,
                        deleted: false,
                        manual: false,
                    },
                );
            }
            _ => {
                calendar.remove(&change.key);
            }
        }
    }
}

/// How many changes of each kind, and how many conflict.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct DiffCounts {
    pub added: usize,
    pub updated: usize,
    pub removed: usize,
    pub conflicts: usize,
}

pub fn counts(changes: &[Change]) -> DiffCounts {
    let mut counts = DiffCounts::default();
    for change in changes {
        match change.kind {
            ChangeKind::Added => counts.added += 1,
            ChangeKind::Updated => counts.updated += 1,
            ChangeKind::Removed => counts.removed += 1,
        }
        counts.conflicts += usize::from(change.conflict);
    }
    counts
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::calendar::{CalendarSpec, offline_content};
    use proptest::prelude::*;
    use serde_json::json;

    fn generated(topic: &str, days: i64) -> Vec<Entry> {
        let start = chrono::NaiveDate::from_ymd_opt(2026, 1, 1).unwrap();
        let end = start + chrono::Duration::days(days);
        let spec = CalendarSpec::parse(
            &["tiktok".into(), "instagram".into()],
            "daily",
            &start.to_string(),
            &end.to_string(),
            None,
        )
        .unwrap();
        let brief = json!({ "topic": topic });
        spec.slots()
            .into_iter()
            .map(|slot| Entry {
                content: offline_content(&brief, &slot.channel, slot.date, slot.time),
                slot,
            })
            .collect()
    }

    fn saved(entries: &[Entry]) -> Vec<SavedEntry> {
        entries
            .iter()
            .map(|entry| SavedEntry {
                entry: entry.clone(),
                edited: false,
                deleted: false,
                manual: false,
            })
            .collect()
    }

    #[test]
    fn edits_conflict_and_deletions_stay_deleted() {
        let old = generated("tea", 2);
        let mut calendar = saved(&old);
        calendar[0].edited = true;
        calendar[0].entry.content.title = "My own title".into();
        calendar[1].deleted = true;
        let new = generated("coffee", 3);
        let changes = diff(&calendar, &new, true);
        let c = counts(&changes);
        assert_eq!((c.added, c.updated, c.removed, c.conflicts), (2, 5, 0, 1));
        assert!(
            changes.iter().all(|ch| ch.key != old[1].slot.key),
            "the deleted entry is not resurrected"
        );
        let conflict = changes.iter().find(|ch| ch.conflict).unwrap();
        assert_eq!(conflict.key, old[0].slot.key);
        // A shorter, complete run removes what it no longer covers; a timed-out one does not.
        let shorter = generated("tea", 1);
        assert_eq!(counts(&diff(&saved(&old), &shorter, true)).removed, 2);
        assert_eq!(counts(&diff(&saved(&old), &shorter, false)).removed, 0);
    }

    fn arb_calendar() -> impl Strategy<Value = (Vec<SavedEntry>, Vec<Entry>)> {
        (
            0i64..20,
            0i64..20,
            prop::sample::select(vec!["tea", "coffee"]),
            prop::collection::vec((any::<bool>(), any::<bool>(), any::<bool>()), 42),
        )
            .prop_map(|(old_days, new_days, topic, flags)| {
                let mut calendar = saved(&generated("tea", old_days));
                for (entry, (edited, deleted, retitle)) in calendar.iter_mut().zip(flags) {
                    entry.edited = edited;
                    entry.deleted = deleted && !edited;
                    if edited && retitle {
                        entry.entry.content.title = "edited by hand".into();
                    }
                }
                (calendar, generated(topic, new_days))
            })
    }

    proptest! {
        #[test]
        fn a_calendar_compared_with_itself_has_no_changes(days in 0i64..30, topic in "[a-z]{1,8}") {
            let entries = generated(&topic, days);
            prop_assert!(diff(&saved(&entries), &entries, true).is_empty());
        }

        #[test]
        fn applying_a_diff_gives_the_new_calendar_except_protected_edits((calendar, new) in arb_calendar()) {
            let changes = diff(&calendar, &new, true);
            let keys: HashSet<&str> = changes.iter().map(|c| c.key.as_str()).collect();
            prop_assert_eq!(keys.len(), changes.len(), "one change per key");
            let mut applied: BTreeMap<String, SavedEntry> =
                calendar.iter().map(|s| (s.entry.slot.key.clone(), s.clone())).collect();
            apply(&mut applied, changes.iter().filter(|c| !c.conflict));
            let before: BTreeMap<&str, &SavedEntry> =
                calendar.iter().map(|s| (s.entry.slot.key.as_str(), s)).collect();
            for entry in &new {
                let key = entry.slot.key.as_str();
                match before.get(key) {
                    Some(old) if old.deleted || old.edited => prop_assert_eq!(applied.get(key), Some(*old)),
                    _ => prop_assert_eq!(&applied[key].entry, entry),
                }
            }
            let new_keys: HashSet<&str> = new.iter().map(|e| e.slot.key.as_str()).collect();
            for (key, entry) in &applied {
                prop_assert!(new_keys.contains(key.as_str()) || entry.edited || entry.deleted,
                    "{} is neither generated nor protected", key);
            }
            // Accepting the conflicts too yields exactly the new calendar (tombstones aside).
            apply(&mut applied, changes.iter().filter(|c| c.conflict));
            for entry in &new {
                let key = entry.slot.key.as_str();
                if !before.get(key).is_some_and(|old| old.deleted) {
                    prop_assert_eq!(&applied[key].entry, entry);
                }
            }
        }
    }
}
