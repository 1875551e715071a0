//! What worked (issue 58): a post's numbers as the platforms report them, and a channel's
//! best times to post learned from its own results.
//!
//! - **A post's numbers:** engagements are likes + comments + shares (or reposts) + saves,
//!   counting those the platform reports; the reach base is views, else impressions, else
//!   the channel's follower count when it was read; the engagement rate is engagements over
//!   the reach base, from the 7-day reading, else the latest.
//! - **A channel's cell** (a weekday and an hour, in the channel's slot zone): (Σ
//!   engagements + 5·m) / (Σ reach base + 5), `m` being the channel's overall rate: a cell
//!   with few posts leans towards the channel's rate instead of swinging on one post.
//! - At least [`HISTORY_MIN`] measured posts make a history; fewer, and the platform's
//!   general defaults stand instead.

use chrono::{DateTime, Datelike, Timelike, Utc, Weekday};
use chrono_tz::Tz;

/// The measured posts a channel needs before its own history decides its best times.
pub const HISTORY_MIN: usize = 10;

/// How many posts' worth of the channel's overall rate each cell starts from.
const PRIOR_WEIGHT: f64 = 5.0;

/// One reading of a post's metrics: what the platform reported (`None`: not reported).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Reading {
    pub views: Option<u64>,
    pub impressions: Option<u64>,
    pub likes: Option<u64>,
    pub comments: Option<u64>,
    pub shares: Option<u64>,
    pub saves: Option<u64>,
}

impl Reading {
    /// Likes, comments, shares and saves, those reported.
    pub fn engagements(&self) -> u64 {
        [self.likes, self.comments, self.shares, self.saves]
            .iter()
            .flatten()
            .sum()
    }

    /// Views, else impressions, else the channel's `followers` when read; `None` when
    /// nothing gives one.
    pub fn reach_base(&self, followers: Option<u64>) -> Option<u64> {
        self.views.or(self.impressions).or(followers)
    }
}

/// A published post as the best times count it: when it went out, its engagements and its
/// reach base.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Measured {
    pub published_at: DateTime<Utc>,
    pub engagements: u64,
    pub reach: u64,
}

/// One hour of the week and its rate.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Cell {
    pub weekday: Weekday,
    pub hour: u32,
    pub rate: f64,
}

/// All 168 cells of a channel's week from its measured `posts`, read in `zone`, sorted by
/// rate (best first; ties in the week's order). `None` with fewer than [`HISTORY_MIN`]
/// posts, or none with a reach.
pub fn from_history(posts: &[Measured], zone: Tz) -> Option<Vec<Cell>> {
    let posts: Vec<&Measured> = posts.iter().filter(|p| p.reach > 0).collect();
    if posts.len() < HISTORY_MIN {
        return None;
    }
    let total = |of: &[&Measured]| {
        of.iter().fold((0.0, 0.0), |(e, r), p| {
            (e + p.engagements as f64, r + p.reach as f64)
        })
    };
    let (engaged, reached) = total(&posts);
    let overall = engaged / reached;
    let mut cells: Vec<Cell> = week()
        .map(|(weekday, hour)| {
            let here: Vec<&Measured> = posts
                .iter()
                .copied()
                .filter(|p| {
                    let local = p.published_at.with_timezone(&zone);
                    local.weekday() == weekday && local.hour() == hour
                })
                .collect();
            let (e, r) = total(&here);
            Cell {
                weekday,
                hour,
                rate: (e + PRIOR_WEIGHT * overall) / (r + PRIOR_WEIGHT),
            }
        })
        .collect();
    // A stable sort keeps the week's order among equal rates.
    cells.sort_by(|a, b| b.rate.total_cmp(&a.rate));
    Some(cells)
}

/// The week's hours in order: Monday 00:00 to Sunday 23:00.
fn week() -> impl Iterator<Item = (Weekday, u32)> {
    (0u8..7).flat_map(|day| {
        (0..24).map(move |hour| (Weekday::try_from(day).expect("0..7 are days"), hour))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn post(at: &str, engagements: u64, reach: u64) -> Measured {
        Measured {
            published_at: at.parse().unwrap(),
            engagements,
            reach,
        }
    }

    #[test]
    fn a_reading_counts_what_is_reported_and_falls_back_for_its_reach() {
        let reading = Reading {
            impressions: Some(900),
            likes: Some(10),
            comments: Some(2),
            saves: Some(3),
            ..Default::default()
        };
        assert_eq!(reading.engagements(), 15);
        assert_eq!(reading.reach_base(Some(5_000)), Some(900));
        let bare = Reading::default();
        assert_eq!(bare.reach_base(Some(5_000)), Some(5_000));
        assert_eq!(bare.reach_base(None), None);
    }

    #[test]
    fn cells_are_the_formula_by_hand_in_the_channel_zone() {
        // Ten posts: six on Mondays at 09:00 Madrid (08:00 UTC in winter), four on
        // Fridays at 18:00 (17:00 UTC).
        let mut posts = Vec::new();
        for week in 0..6 {
            let day = 7 + 7 * week; // Mondays of January and February 2030
            let at = chrono::NaiveDate::from_ymd_opt(2030, 1, 1).unwrap()
                + chrono::Duration::days(day - 1);
            posts.push(post(&format!("{at}T08:00:00Z"), 50, 1_000));
        }
        for week in 0..4 {
            let day = 11 + 7 * week; // Fridays
            let at = chrono::NaiveDate::from_ymd_opt(2030, 1, 1).unwrap()
                + chrono::Duration::days(day - 1);
            posts.push(post(&format!("{at}T17:00:00Z"), 10, 500));
        }
        let cells = from_history(&posts, chrono_tz::Europe::Madrid).unwrap();
        assert_eq!(cells.len(), 168);
        // m = (6·50 + 4·10) / (6·1000 + 4·500) = 340 / 8000.
        let m = 340.0 / 8_000.0;
        let monday = (300.0 + 5.0 * m) / (6_000.0 + 5.0);
        let friday = (40.0 + 5.0 * m) / (2_000.0 + 5.0);
        let empty = (5.0 * m) / 5.0;
        assert_eq!((cells[0].weekday, cells[0].hour), (Weekday::Mon, 9));
        assert!((cells[0].rate - monday).abs() < 1e-12);
        // An hour without posts is the channel's own rate; the Friday hour, below it.
        assert!((cells[1].rate - empty).abs() < 1e-12);
        assert_eq!((cells[1].weekday, cells[1].hour), (Weekday::Mon, 0));
        let last = cells.last().unwrap();
        assert_eq!((last.weekday, last.hour), (Weekday::Fri, 18));
        assert!((last.rate - friday).abs() < 1e-12);
    }

    #[test]
    fn fewer_than_ten_measured_posts_are_no_history() {
        let posts: Vec<Measured> = (0..9)
            .map(|n| post(&format!("2030-01-{:02}T08:00:00Z", n + 1), 5, 100))
            .collect();
        assert_eq!(from_history(&posts, chrono_tz::UTC), None);
        // A post without a reach does not count towards the ten.
        let mut ten = posts.clone();
        ten.push(post("2030-01-20T08:00:00Z", 5, 0));
        assert_eq!(from_history(&ten, chrono_tz::UTC), None);
    }
}
