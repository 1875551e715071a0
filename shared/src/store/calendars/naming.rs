//! What a calendar request names its calendar (`constraints.name`), or the name made for it
//! from its topic, else its channels and dates; and which calendar its run fills.

use uuid::Uuid;

use super::{Fills, Name};
use crate::domain::calendar::CalendarSpec;

/// The name a request gives its calendar, or the one made for it.
pub struct CalendarName {
    text: String,
    by_user: bool,
}

impl CalendarName {
    /// `spec`'s name; a made one labels its channels with `label` (the platform catalogue's
    /// label of a channel, none for a user's own slug, kept as given).
    pub fn of(spec: &CalendarSpec, label: impl Fn(&str) -> Option<&'static str>) -> Self {
        let chosen = spec.constraints.raw["name"]
            .as_str()
            .map(|n| n.trim().chars().take(200).collect::<String>())
            .filter(|n| !n.is_empty());
        Self {
            by_user: chosen.is_some(),
            text: chosen.unwrap_or_else(|| default_name(spec, label)),
        }
    }

    /// What a run of this request fills: a new calendar, or the caller's `calendar_id`
    /// regenerated.
    pub fn fills(&self, calendar_id: Option<Uuid>) -> Fills<'_> {
        let name = Name {
            text: &self.text,
            by_user: self.by_user,
        };
        match calendar_id {
            None => Fills::New {
                id: Uuid::now_v7(),
                name,
            },
            Some(id) => Fills::Regeneration { id, name },
        }
    }
}

/// A calendar's name when the user gives none: its topic (`constraints.topic`), else its
/// channels (labelled; a user's own slug as given) and dates (`TikTok, Instagram: 2027-01-04
/// to 2027-01-31`).
fn default_name(spec: &CalendarSpec, label: impl Fn(&str) -> Option<&'static str>) -> String {
    if let Some(topic) = spec.constraints.raw["topic"]
        .as_str()
        .map(str::trim)
        .filter(|t| !t.is_empty())
    {
        let mut topic = topic.chars().take(200).collect::<String>();
        if let Some(first) = topic.chars().next() {
            topic.replace_range(..first.len_utf8(), &first.to_uppercase().to_string());
        }
        return topic;
    }
    let channels: Vec<&str> = spec
        .channels
        .iter()
        .map(|c| label(c.as_str()).unwrap_or(c.as_str()))
        .collect();
    format!("{}: {} to {}", channels.join(", "), spec.start, spec.end)
}
