//! An organic week's saved placements as calendar entries (`addOrganicWeekToCalendar`):
//! the platform as the channel, the topic as the title, the caption, call to action and
//! hashtags (high, medium, then low), made to fit an entry's limits.

use almanac_shared::{
    domain::calendar::{Channel, Entry, EntryContent, ExportEntry, Slot},
    store::{
        calendars::{Placement, WeekEntry},
        organic::PlacementRow,
    },
};
use chrono::{DateTime, Days, NaiveDate, Utc};
use serde_json::{Value, json};

/// A placement, read as an entry.
pub(super) struct WeekPlacement {
    placement_id: String,
    channel: String,
    content: EntryContent,
    at: DateTime<Utc>,
}

impl WeekPlacement {
    /// Its entry, keyed by the brand, the week and the placement, at its time in `tz`.
    pub(super) fn entry(&self, brand: &str, week: NaiveDate, tz: chrono_tz::Tz) -> WeekEntry<'_> {
        let local = self.at.with_timezone(&tz);
        WeekEntry {
            key: format!("week/{brand}/{week}/{}", self.placement_id),
            placement_id: &self.placement_id,
            channel: &self.channel,
            content: &self.content,
            at: Placement {
                date: local.date_naive(),
                time: local.time(),
                scheduled_at: self.at,
            },
        }
    }
}

/// The placements that make entries (one without a platform, a time or any words is
/// left out).
pub(super) fn entries(rows: &[PlacementRow]) -> Vec<WeekPlacement> {
    rows.iter().filter_map(placement).collect()
}

fn placement(row: &PlacementRow) -> Option<WeekPlacement> {
    let p = &row.placement.0;
    let text = |value: &Value| value.as_str().unwrap_or_default().trim().to_owned();
    let channel = Channel::parse(p["platform"]["name"].as_str()?).ok()?;
    let at = DateTime::parse_from_rfc3339(p["schedule"]["scheduledAt"].as_str()?)
        .ok()?
        .with_timezone(&Utc);
    let tiers = &p["copy"]["hashtags"];
    let hashtags = ["high", "medium", "low"]
        .iter()
        .flat_map(|tier| tiers[tier].as_array().into_iter().flatten())
        .filter_map(Value::as_str)
        .map(str::to_owned)
        .collect();
    let title = Some(text(&p["content"]["titleTopic"]))
        .filter(|t| !t.is_empty())
        .unwrap_or_else(|| text(&p["content"]["format"]));
    let content = EntryContent {
        title,
        caption: text(&p["copy"]["caption"]),
        format: text(&p["content"]["format"]),
        hashtags,
        call_to_action: text(&p["content"]["cta"]),
    }
    .fitted()?;
    Some(WeekPlacement {
        placement_id: row.placement_id.clone(),
        channel: channel.as_str().to_owned(),
        content,
        at,
    })
}

/// A new calendar's request for the week: its channels, its seven days, the brand's time
/// zone.
pub(super) fn request(placements: &[WeekPlacement], week: NaiveDate, tz: chrono_tz::Tz) -> Value {
    let mut channels: Vec<&str> = placements.iter().map(|p| p.channel.as_str()).collect();
    channels.sort_unstable();
    channels.dedup();
    let end = week.checked_add_days(Days::new(6)).unwrap_or(week);
    json!({
        "channels": channels,
        "cadence": "daily",
        "start": week.to_string(),
        "end": end.to_string(),
        "constraints": { "timezone": tz.name() },
    })
}

impl WeekPlacement {
    /// As the calendar export takes an entry, its id derived from its key (the same week
    /// exports to the same bytes).
    pub(super) fn export(
        &self,
        brand: &str,
        week: NaiveDate,
        tz: chrono_tz::Tz,
        updated: DateTime<Utc>,
    ) -> ExportEntry {
        let entry = self.entry(brand, week, tz);
        ExportEntry {
            id: derived_id(&entry.key),
            entry: Entry {
                slot: Slot {
                    key: entry.key,
                    channel: self.channel.clone(),
                    date: entry.at.date,
                    time: entry.at.time,
                    scheduled_at: entry.at.scheduled_at,
                },
                content: self.content.clone(),
            },
            edited: false,
            manual: false,
            updated_at: updated,
            sequence: None,
            publishing: None,
        }
    }
}

/// An id derived from `key` (a week's, a placement's), the same every time: what an export
/// names its calendar and events by.
pub(super) fn derived_id(key: &str) -> uuid::Uuid {
    use sha2::{Digest, Sha256};
    let digest = Sha256::digest(key.as_bytes());
    let mut bytes = [0u8; 16];
    bytes.copy_from_slice(&digest[..16]);
    uuid::Builder::from_custom_bytes(bytes).into_uuid()
}
