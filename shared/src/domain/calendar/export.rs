//! Export of a saved calendar: iCalendar (RFC 5545) and CSV (RFC 4180).

use chrono::{DateTime, Utc};
use uuid::Uuid;

use super::Entry;

/// A saved entry as exported.
#[derive(Debug, Clone)]
pub struct ExportEntry {
    pub id: Uuid,
    pub entry: Entry,
    pub edited: bool,
    pub manual: bool,
    pub updated_at: DateTime<Utc>,
    /// Its revision (the feed's `SEQUENCE`); none in an export.
    pub sequence: Option<i32>,
    /// Where its publishing is (`scheduled`, `published`...), said in the feed's description.
    pub publishing: Option<String>,
}

/// Minutes each post occupies in a calendar application.
const EVENT_MINUTES: u32 = 30;

/// TEXT value escaping (RFC 5545 section 3.3.11).
fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            ';' => out.push_str("\\;"),
            ',' => out.push_str("\\,"),
            '\n' => out.push_str("\\n"),
            '\r' => {}
            c if c.is_control() => {}
            c => out.push(c),
        }
    }
    out
}

/// Appends a content line, folded at 75 octets without splitting a character (section 3.1).
fn line(out: &mut String, content: &str) {
    let mut width = 0;
    for c in content.chars() {
        if width + c.len_utf8() > 75 {
            out.push_str("\r\n ");
            width = 1;
        }
        out.push(c);
        width += c.len_utf8();
    }
    out.push_str("\r\n");
}

fn stamp(t: DateTime<Utc>) -> String {
    t.format("%Y%m%dT%H%M%SZ").to_string()
}

/// The calendar as an iCalendar document: one `VEVENT` per entry, in UTC. The same saved
/// calendar always exports to the same bytes (seed 001's release smoke compares two
/// exports): an event's `DTSTAMP` is its entry's last change, not the moment of export,
/// which RFC 5545 allows for a published calendar (`METHOD:PUBLISH`).
pub fn to_ics(calendar_id: Uuid, name: &str, entries: &[ExportEntry]) -> String {
    write(calendar_id, name, entries, &[])
}

/// How often a subscribed calendar application should fetch the feed again (RFC 7986's
/// `REFRESH-INTERVAL`, and `X-PUBLISHED-TTL`, which Outlook and Apple read).
pub const FEED_REFRESH: &str = "PT1H";

/// The live feed of a calendar: the export's events (the same `UID`s), each with its
/// `SEQUENCE` and where its publishing is, and how often to fetch it again.
pub fn to_feed(calendar_id: Uuid, name: &str, entries: &[ExportEntry]) -> String {
    let refresh = [
        format!("REFRESH-INTERVAL;VALUE=DURATION:{FEED_REFRESH}"),
        format!("X-PUBLISHED-TTL:{FEED_REFRESH}"),
        format!("NAME:{}", escape(name)),
    ];
    write(calendar_id, name, entries, &refresh)
}

fn write(calendar_id: Uuid, name: &str, entries: &[ExportEntry], properties: &[String]) -> String {
    let mut out = String::new();
    line(&mut out, "BEGIN:VCALENDAR");
    line(&mut out, "VERSION:2.0");
    line(&mut out, "PRODID:-//Almanac//Content Calendar//EN");
    line(&mut out, "CALSCALE:GREGORIAN");
    line(&mut out, "METHOD:PUBLISH");
    line(&mut out, &format!("X-WR-CALNAME:{}", escape(name)));
    for property in properties {
        line(&mut out, property);
    }
    for e in entries {
        let entry = &e.entry;
        let content = &entry.content;
        let mut description = content.caption.clone();
        if !content.hashtags.is_empty() {
            description.push_str("\n\n");
            description.push_str(&content.hashtags.join(" "));
        }
        if !content.call_to_action.is_empty() {
            description.push_str("\n\n");
            description.push_str(&content.call_to_action);
        }
        if !content.format.is_empty() {
            description.push_str(&format!("\n\nFormat: {}", content.format));
        }
        if let Some(publishing) = &e.publishing {
            description.push_str(&format!("\n\nPublishing: {publishing}"));
        }
        line(&mut out, "BEGIN:VEVENT");
        line(&mut out, &format!("UID:{}@{calendar_id}.almanac", e.id));
        line(&mut out, &format!("DTSTAMP:{}", stamp(e.updated_at)));
        line(&mut out, &format!("LAST-MODIFIED:{}", stamp(e.updated_at)));
        if let Some(sequence) = e.sequence {
            line(&mut out, &format!("SEQUENCE:{sequence}"));
        }
        line(
            &mut out,
            &format!("DTSTART:{}", stamp(entry.slot.scheduled_at)),
        );
        line(&mut out, &format!("DURATION:PT{EVENT_MINUTES}M"));
        line(
            &mut out,
            &format!(
                "SUMMARY:{}",
                escape(&format!("[{}] {}", entry.slot.channel, content.title))
            ),
        );
        line(&mut out, &format!("DESCRIPTION:{}", escape(&description)));
        line(
            &mut out,
            &format!("CATEGORIES:{}", escape(&entry.slot.channel)),
        );
        line(
            &mut out,
            &format!("X-ALMANAC-KEY:{}", escape(&entry.slot.key)),
        );
        line(&mut out, "END:VEVENT");
    }
    line(&mut out, "END:VCALENDAR");
    out
}

/// One CSV field, quoted when needed; a leading `=`, `+`, `-` or `@` is defused so that
/// spreadsheets do not run it as a formula.
fn field(out: &mut String, value: &str) {
    let defuse = value.starts_with(['=', '+', '-', '@']);
    if defuse || value.contains([',', '"', '\n', '\r']) {
        out.push('"');
        if defuse {
            out.push('\'');
        }
        out.push_str(&value.replace('"', "\"\""));
        out.push('"');
    } else {
        out.push_str(value);
    }
}

pub const CSV_HEADER: &str =
    "id,key,channel,date,time,scheduledAt,title,caption,format,hashtags,callToAction,origin,edited";

pub fn to_csv(entries: &[ExportEntry]) -> String {
    let mut out = String::from(CSV_HEADER);
    out.push_str("\r\n");
    for e in entries {
        let entry = &e.entry;
        let c = &entry.content;
        let values = [
            e.id.to_string(),
            entry.slot.key.clone(),
            entry.slot.channel.clone(),
            entry.slot.date.to_string(),
            entry.slot.time.format("%H:%M").to_string(),
            entry.slot.scheduled_at.to_rfc3339(),
            c.title.clone(),
            c.caption.clone(),
            c.format.clone(),
            c.hashtags.join(" "),
            c.call_to_action.clone(),
            if e.manual { "manual" } else { "generated" }.to_owned(),
            e.edited.to_string(),
        ];
        for (i, value) in values.iter().enumerate() {
            if i > 0 {
                out.push(',');
            }
            field(&mut out, value);
        }
        out.push_str("\r\n");
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::calendar::{EntryContent, Slot};

    fn entry(title: &str, caption: &str) -> ExportEntry {
        let date = chrono::NaiveDate::from_ymd_opt(2026, 2, 3).unwrap();
        let time = chrono::NaiveTime::from_hms_opt(9, 0, 0).unwrap();
        ExportEntry {
            id: Uuid::nil(),
            entry: Entry {
                slot: Slot {
                    key: "2026-02-03/tiktok/1".into(),
                    channel: "tiktok".into(),
                    date,
                    time,
                    scheduled_at: date.and_time(time).and_utc(),
                },
                content: EntryContent {
                    title: title.into(),
                    caption: caption.into(),
                    ..Default::default()
                },
            },
            edited: false,
            manual: false,
            updated_at: date.and_time(time).and_utc(),
            sequence: None,
            publishing: None,
        }
    }

    #[test]
    fn ics_lines_are_escaped_folded_and_crlf() {
        let long = "é".repeat(100);
        let ics = to_ics(Uuid::nil(), "Plan; A", &[entry("Hi, there; you", &long)]);
        assert!(ics.contains("SUMMARY:[tiktok] Hi\\, there\\; you\r\n"));
        assert!(ics.contains("X-WR-CALNAME:Plan\\; A"));
        for l in ics.split("\r\n") {
            assert!(l.len() <= 75, "{l}");
            assert!(!l.contains('\n'));
        }
        assert!(ics.ends_with("END:VCALENDAR\r\n"));
        let again = to_ics(Uuid::nil(), "Plan; A", &[entry("Hi, there; you", &long)]);
        assert_eq!(ics, again, "the same calendar exports to the same bytes");
        assert!(ics.contains("DTSTAMP:20260203T090000Z\r\n"), "{ics}");
    }

    #[test]
    fn csv_quotes_and_defuses_formulas() {
        let csv = to_csv(&[entry("=HYPERLINK(\"x\")", "a,b\nc")]);
        let row = csv.lines().nth(1).unwrap();
        assert!(row.contains("\"'=HYPERLINK(\"\"x\"\")\""), "{row}");
        assert!(csv.contains("\"a,b\nc\""));
    }
}
