//! The organic week (seed 003): a week's seed map (trends, questions and events placed on
//! days and platforms) filled with placement-ready copy, from the user's brand library.
//!
//! Pure rules only: the request's parsing with every problem listed (`request`), where each
//! placement lands (`schedule`: auto-fill, the newsletter, conflict shifting, the time of
//! day), which library assets suit it (`creative`), the week's plan made of those
//! (`plan`), and what the AI is asked and answers (`content`).

pub mod content;
pub mod creative;
pub mod offline;
pub mod plan;
mod problems;
pub mod request;
pub mod schedule;

use chrono::NaiveTime;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::jobs::{About, JobKind, JobPayload, Row, Words};

pub use content::TEMPLATE;
pub use plan::{Draft, Library, Plan, Planned, SavedPlacement, plan};
pub use request::{FieldProblem, OrganicSpec, Seed};

/// The job of one generation: its run row holds the request.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OrganicJob {
    pub run_id: Uuid,
}

impl JobPayload for OrganicJob {
    const KIND: JobKind = JobKind::new(&About {
        name: "organic",
        attempts: 3,
        row: Row {
            table: "organic_runs",
            id_field: "run_id",
            path: None,
        },
        words: Words::Organic,
        deadline: None,
    });
    const TYPE: &'static str = "organic.v1";
}

// Not publishing's `publish::Platform`, the platforms Almanac can post to.
crate::text_enum! {
    /// The platforms a placement may target (seed 003). The newsletter is not one of them: it
    /// has its own placement, without an account.
    // Documented as `Platform`, seed 003's name for it.
    #[oai(rename = "Platform")]
    pub enum SeedPlatform in "lowercase" {
        Instagram,
        Linkedin,
        Facebook,
        Tiktok,
        Youtube,
    }
}

impl SeedPlatform {
    /// Where the auto-fill puts this platform's post, in local time.
    pub fn default_local_time(self) -> NaiveTime {
        let hour = match self {
            SeedPlatform::Instagram => 9,
            SeedPlatform::Linkedin => 8,
            SeedPlatform::Facebook => 13,
            SeedPlatform::Tiktok => 19,
            SeedPlatform::Youtube => 15,
        };
        NaiveTime::from_hms_opt(hour, 0, 0).expect("a valid hour")
    }

    /// The post type a placement gets when it asks for none.
    pub fn default_format(self) -> Format {
        match self {
            SeedPlatform::Instagram | SeedPlatform::Tiktok | SeedPlatform::Youtube => Format::Reel,
            SeedPlatform::Linkedin | SeedPlatform::Facebook => Format::Post,
        }
    }
}

crate::text_enum! {
    /// A placement's post type (`content.type`).
    pub enum Format in "lowercase" {
        Reel,
        Carousel,
        Story,
        Post,
        Newsletter,
    }
}

impl Format {
    /// The display name (`content.format`) when the AI gives none.
    pub fn label(self) -> &'static str {
        match self {
            Format::Reel => "Reel",
            Format::Carousel => "Carousel",
            Format::Story => "Story",
            Format::Post => "Post",
            Format::Newsletter => "Newsletter",
        }
    }
}

crate::text_enum! {
    /// What a library item is: a trend, a question or an event.
    pub enum TrendKind in "lowercase" {
        Trend,
        Question,
        Event,
    }
}

impl TrendKind {}

crate::text_enum! {
    /// What a creative asset is.
    pub enum AssetKind in "lowercase" {
        Image,
        Video,
        Carousel,
        Document,
    }
}

impl AssetKind {}

/// The longest client id of a library resource.
pub const ID_MAX: usize = 64;

/// A client id of a library resource: 1-64 characters of `A-Za-z0-9_.:-`.
pub fn is_library_id(id: &str) -> bool {
    (1..=ID_MAX).contains(&id.len())
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'.' | b':' | b'-'))
}

/// An id for a library resource the client named none for: `<prefix>_<uuid v7>`.
pub fn generated_id(prefix: &str) -> String {
    format!("{prefix}_{}", Uuid::now_v7().simple())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn library_ids_are_the_seed_s_shapes() {
        for id in ["brand_123", "trend-101", "asset_991", "a", "x.y:z-1_2"] {
            assert!(is_library_id(id), "{id}");
        }
        for id in ["", "has space", "ümlaut", "a/b", &"x".repeat(65)] {
            assert!(!is_library_id(id), "{id}");
        }
        let id = generated_id("brand");
        assert!(is_library_id(&id) && id.starts_with("brand_"), "{id}");
    }

    #[test]
    fn platforms_and_formats_round_trip() {
        for &platform in SeedPlatform::ALL {
            assert_eq!(SeedPlatform::parse(platform.as_str()), Some(platform));
        }
        for &format in Format::ALL {
            assert_eq!(Format::parse(format.as_str()), Some(format));
        }
        assert_eq!(SeedPlatform::parse("newsletter"), None);
    }
}
