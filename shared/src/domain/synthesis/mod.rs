//! News syntheses (seed 004): themes and their sources (here), schedules and when they are
//! due (`schedule`), the prompt, its answer and the email that carries a synthesis
//! (`content`), which items a digest already sent (`novelty`). Pure: no I/O.

mod content;
mod novelty;
mod schedule;

pub use content::*;
pub use novelty::*;
pub use schedule::*;

use serde::{Deserialize, Serialize};

pub use super::Invalid;
use super::invalid;
use crate::jobs::{About, JobKind, JobPayload, Row, Words};

/// The job that writes a synthesis of a theme.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SynthesisJob {
    pub synthesis_id: uuid::Uuid,
}

impl JobPayload for SynthesisJob {
    const KIND: JobKind = JobKind::new(&About {
        name: "synthesis",
        attempts: 3,
        row: Row {
            table: "syntheses",
            id_field: "synthesis_id",
            path: Some("/api/v1/syntheses/{id}"),
        },
        words: Words::Common,
        deadline: None,
    });
    const TYPE: &'static str = "synthesis.v1";
}

/// The job that emails one synthesis to one recipient (one delivery).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EmailJob {
    pub delivery_id: uuid::Uuid,
}

impl JobPayload for EmailJob {
    const KIND: JobKind = JobKind::new(&About {
        name: "email",
        attempts: 5,
        row: Row {
            table: "email_deliveries",
            id_field: "delivery_id",
            path: None,
        },
        words: Words::Common,
        deadline: None,
    });
    const TYPE: &'static str = "email.v1";
}

pub const MAX_SOURCES: usize = 20;
pub const NAME_MAX: usize = 200;
pub const DESCRIPTION_MAX: usize = 2_000;
pub const URL_MAX: usize = 2_048;
pub const TEXT_SOURCE_MAX: usize = 20_000;

crate::text_enum! {
    /// Where an email of a synthesis to one recipient is. `unknown`: an attempt died during
    /// the SMTP exchange, so it is never sent again (nobody gets a synthesis twice).
    pub enum DeliveryStatus in "snake_case" {
        Pending,
        Sending,
        Sent,
        Failed,
        Unknown,
        /// Not sent on purpose; `reason` says why (`NOTHING_NEW`).
        Skipped,
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SourceKind {
    /// An RSS or Atom feed URL.
    Rss,
    /// A web page URL.
    Url,
    /// Inline text.
    Text,
}

impl SourceKind {
    /// Its name as a source's `type` spells it.
    pub fn as_str(self) -> &'static str {
        match self {
            SourceKind::Rss => "rss",
            SourceKind::Url => "url",
            SourceKind::Text => "text",
        }
    }
}

/// A theme's source: `{"type": "rss" | "url" | "text", "value": "..."}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Source {
    #[serde(rename = "type")]
    pub kind: SourceKind,
    pub value: String,
}

/// An `http` or `https` URL.
pub fn parse_url(field: &str, raw: &str) -> Result<url::Url, Invalid> {
    let raw = raw.trim();
    if raw.len() > URL_MAX {
        return Err(invalid(field, format!("at most {URL_MAX} characters")));
    }
    let url = url::Url::parse(raw).map_err(|e| invalid(field, format!("not a URL: {e}")))?;
    if !matches!(url.scheme(), "http" | "https") || url.host_str().is_none() {
        return Err(invalid(field, "must be an http or https URL"));
    }
    Ok(url)
}

impl Source {
    pub fn parse(index: usize, kind: &str, value: &str) -> Result<Self, Invalid> {
        let field = format!("sources[{index}]");
        let kind = match kind {
            "rss" => SourceKind::Rss,
            "url" => SourceKind::Url,
            "text" => SourceKind::Text,
            other => {
                return Err(invalid(
                    format!("{field}.type"),
                    format!("must be `rss`, `url` or `text`, got `{other}`"),
                ));
            }
        };
        let value = match kind {
            SourceKind::Rss | SourceKind::Url => {
                parse_url(&format!("{field}.value"), value)?.to_string()
            }
            SourceKind::Text => {
                let text = value.trim();
                if text.is_empty() || text.chars().count() > TEXT_SOURCE_MAX {
                    return Err(invalid(
                        format!("{field}.value"),
                        format!("text must be 1-{TEXT_SOURCE_MAX} characters"),
                    ));
                }
                text.to_owned()
            }
        };
        Ok(Self { kind, value })
    }
}

/// A theme's name, description and sources, validated.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ThemeSpec {
    pub name: String,
    pub description: Option<String>,
    pub sources: Vec<Source>,
}

impl ThemeSpec {
    pub fn parse(
        name: &str,
        description: Option<&str>,
        sources: &[(String, String)],
    ) -> Result<Self, Invalid> {
        let name = name.trim();
        if name.is_empty() || name.chars().count() > NAME_MAX {
            return Err(invalid("name", format!("must be 1-{NAME_MAX} characters")));
        }
        let description = description.map(str::trim).filter(|d| !d.is_empty());
        if description.is_some_and(|d| d.chars().count() > DESCRIPTION_MAX) {
            return Err(invalid(
                "description",
                format!("at most {DESCRIPTION_MAX} characters"),
            ));
        }
        if sources.len() > MAX_SOURCES {
            return Err(invalid("sources", format!("at most {MAX_SOURCES} sources")));
        }
        let sources = sources
            .iter()
            .enumerate()
            .map(|(i, (kind, value))| Source::parse(i, kind, value))
            .collect::<Result<_, _>>()?;
        Ok(Self {
            name: name.to_owned(),
            description: description.map(str::to_owned),
            sources,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn themes_are_validated() {
        let sources = vec![
            (
                "rss".to_string(),
                "https://example.com/feed.xml".to_string(),
            ),
            ("text".to_string(), "Some notes".to_string()),
        ];
        assert!(ThemeSpec::parse("AI news", None, &sources).is_ok());
        assert_eq!(ThemeSpec::parse(" ", None, &[]).unwrap_err().field, "name");
        let bad = vec![("rss".to_string(), "ftp://example.com".to_string())];
        assert_eq!(
            ThemeSpec::parse("x", None, &bad).unwrap_err().field,
            "sources[0].value"
        );
        let bad = vec![("podcast".to_string(), "x".to_string())];
        assert_eq!(
            ThemeSpec::parse("x", None, &bad).unwrap_err().field,
            "sources[0].type"
        );
        let many: Vec<(String, String)> =
            (0..21).map(|i| ("text".into(), format!("t{i}"))).collect();
        assert_eq!(
            ThemeSpec::parse("x", None, &many).unwrap_err().field,
            "sources"
        );
    }
}
