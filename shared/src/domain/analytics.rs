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
//! - At least [`HISTORY_MIN`] posts with a 7-day reading make a history; fewer, and the
//!   platform's general defaults stand instead.

use chrono::{DateTime, Datelike, Timelike, Utc, Weekday};
use chrono_tz::Tz;

/// How many of a channel's best posts, and of its worst, the AI is shown.
pub const EXAMPLES: usize = 3;

/// How far back the posts the AI is shown were published.
pub const EXAMPLES_SINCE: chrono::Duration = chrono::Duration::days(90);

/// A post the AI is shown as one of its channel's best or worst recent ones.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Example {
    pub intent_id: uuid::Uuid,
    pub channel: String,
    pub title: String,
    pub published_at: DateTime<Utc>,
    pub engagement_rate: f64,
}

/// The posts a generation learned from: each channel's best and worst recent ones.
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct LearnedFrom {
    pub best: Vec<Example>,
    pub worst: Vec<Example>,
}

impl LearnedFrom {
    /// How a prompt shows them: each post's channel, title and engagement rate, with what
    /// to make of them.
    pub fn for_prompt(&self) -> serde_json::Value {
        let shown = |posts: &[Example]| -> Vec<serde_json::Value> {
            posts
                .iter()
                .map(|p| {
                    serde_json::json!({ "channel": p.channel, "title": p.title,
                        "engagementRate": p.engagement_rate })
                })
                .collect()
        };
        serde_json::json!({
            "note": "the user's best and worst recent posts per channel, by engagement rate: write more like the best, less like the worst",
            "best": shown(&self.best),
            "worst": shown(&self.worst),
        })
    }
}

/// What a generation shows its AI of the user's `rated` posts: nothing when `asked` says
/// `false`, or by default (`asked` unset) while they have fewer than [`HISTORY_MIN`];
/// else each channel's best and worst ([`learned_from`]).
pub fn to_learn_from(asked: Option<bool>, rated: Vec<Example>) -> Option<LearnedFrom> {
    let learn = asked.unwrap_or(rated.len() >= HISTORY_MIN);
    (learn && !rated.is_empty()).then(|| learned_from(rated))
}

/// Of `posts` (rated), each channel's [`EXAMPLES`] best (highest rate first) and its
/// [`EXAMPLES`] worst (lowest first) among the rest, so that no post is both; channels
/// in name order.
pub fn learned_from(mut posts: Vec<Example>) -> LearnedFrom {
    posts.sort_by(|a, b| {
        a.channel
            .cmp(&b.channel)
            .then(b.engagement_rate.total_cmp(&a.engagement_rate))
            .then(b.published_at.cmp(&a.published_at))
    });
    let mut learned = LearnedFrom::default();
    for channel in posts.chunk_by(|a, b| a.channel == b.channel) {
        let best = channel.len().min(EXAMPLES);
        learned.best.extend_from_slice(&channel[..best]);
        let rest = &channel[best..];
        learned
            .worst
            .extend(rest.iter().rev().take(EXAMPLES).cloned());
    }
    learned
}

/// The job that takes one reading of a published post's numbers (`post_metric_reads`).
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct PostMetricsJob {
    pub read_id: uuid::Uuid,
}

impl crate::jobs::JobPayload for PostMetricsJob {
    const KIND: crate::jobs::JobKind = crate::jobs::JobKind::new(&crate::jobs::About {
        name: "post_metrics",
        attempts: 3,
        row: crate::jobs::Row {
            table: "post_metric_reads",
            id_field: "read_id",
            path: None,
        },
        words: crate::jobs::Words::Common,
        deadline: None,
    });
    const TYPE: &'static str = "post_metrics.v1";
}

/// Which reading of a post: 1 hour, 24 hours or 7 days after it was published, or one
/// asked for (`1h`, `24h`, `7d`, `manual`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ReadingKind {
    Hour,
    Day,
    Week,
    Manual,
}

impl ReadingKind {
    /// Every reading, scheduled ones first.
    pub const ALL: [ReadingKind; 4] = [Self::Hour, Self::Day, Self::Week, Self::Manual];

    /// The reading `word` spells, if any.
    pub fn parse(word: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|kind| kind.as_str() == word)
    }

    /// Its word, as `post_metrics` and the API spell it.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Hour => "1h",
            Self::Day => "24h",
            Self::Week => "7d",
            Self::Manual => "manual",
        }
    }

    /// The scheduled readings and how long after publishing each is taken.
    pub const SCHEDULED: [(ReadingKind, chrono::Duration); 3] = [
        (ReadingKind::Hour, chrono::Duration::hours(1)),
        (ReadingKind::Day, chrono::Duration::hours(24)),
        (ReadingKind::Week, chrono::Duration::days(7)),
    ];
}

/// How long after it is due a scheduled reading is still taken (a worker that was down
/// takes it late; one older than this is skipped, the next standing in for it).
pub const READING_GRACE: chrono::Duration = chrono::Duration::hours(24);

/// The posts with a 7-day reading a channel needs before its own history decides its best
/// times.
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
/// reach base, and whether they come from its 7-day reading (`settled`) or an earlier one.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Measured {
    pub published_at: DateTime<Utc>,
    pub engagements: u64,
    pub reach: u64,
    pub settled: bool,
}

impl Measured {
    /// Engagements over the reach base; `None` without a reach.
    pub fn rate(&self) -> Option<f64> {
        (self.reach > 0).then(|| self.engagements as f64 / self.reach as f64)
    }
}

/// How many of `posts` count towards a history: those with a reach from a 7-day reading.
pub fn settled(posts: &[Measured]) -> usize {
    posts.iter().filter(|p| p.settled && p.reach > 0).count()
}

/// One hour of the week and its rate.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Cell {
    pub weekday: Weekday,
    pub hour: u32,
    pub rate: f64,
}

/// All 168 cells of a channel's week from its measured `posts`, read in `zone`, sorted by
/// rate (best first; equal rates, such as the hours without posts, by `platform`'s general
/// [`defaults`], then in the week's order). Every post with a reach counts in the cells;
/// `None` with fewer than [`HISTORY_MIN`] of them [`settled`].
pub fn from_history(posts: &[Measured], zone: Tz, platform: &str) -> Option<Vec<Cell>> {
    if settled(posts) < HISTORY_MIN {
        return None;
    }
    let posts: Vec<&Measured> = posts.iter().filter(|p| p.reach > 0).collect();
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
    let general = |cell: &Cell| default_score(&peak(platform), cell.weekday, cell.hour);
    // A stable sort keeps the week's order among the rest.
    cells.sort_by(|a, b| {
        b.rate
            .total_cmp(&a.rate)
            .then(general(b).total_cmp(&general(a)))
    });
    Some(cells)
}

/// A platform's peak window in general studies: its weekdays and hours (local time, the
/// hours `from..until`).
struct Window {
    days: &'static [Weekday],
    from: u32,
    until: u32,
}

const MIDWEEK: &[Weekday] = &[Weekday::Tue, Weekday::Wed, Weekday::Thu];
const WORKDAYS: &[Weekday] = &[
    Weekday::Mon,
    Weekday::Tue,
    Weekday::Wed,
    Weekday::Thu,
    Weekday::Fri,
];

/// Each platform's general peak window (`docs/analytics.md` gives their sources); a
/// platform not listed takes the working morning.
fn peak(platform: &str) -> Window {
    let (days, from, until) = match platform {
        "instagram" => (MIDWEEK, 10, 15),
        "tiktok" => (MIDWEEK, 14, 18),
        "linkedin" => (MIDWEEK, 8, 11),
        "facebook" => (WORKDAYS, 9, 12),
        "threads" => (MIDWEEK, 9, 12),
        "youtube" => (&[Weekday::Fri, Weekday::Sat, Weekday::Sun][..], 15, 18),
        _ => (WORKDAYS, 8, 11),
    };
    Window { days, from, until }
}

/// The scores of a platform's general defaults: its peak window, the rest of the working
/// day (08:00 to 18:00, Monday to Friday), a weekend's day (09:00 to 18:00), and the
/// other hours.
pub const DEFAULT_PEAK: f64 = 1.0;
pub const DEFAULT_DAYTIME: f64 = 0.5;
pub const DEFAULT_WEEKEND: f64 = 0.3;
pub const DEFAULT_OTHER: f64 = 0.1;

/// One hour's general score, `peak` being its platform's window.
fn default_score(peak: &Window, weekday: Weekday, hour: u32) -> f64 {
    if peak.days.contains(&weekday) && (peak.from..peak.until).contains(&hour) {
        DEFAULT_PEAK
    } else if WORKDAYS.contains(&weekday) && (8..18).contains(&hour) {
        DEFAULT_DAYTIME
    } else if !WORKDAYS.contains(&weekday) && (9..18).contains(&hour) {
        DEFAULT_WEEKEND
    } else {
        DEFAULT_OTHER
    }
}

/// A platform's general best times where a channel's own history is too short: all 168
/// cells, each scored [`DEFAULT_PEAK`], [`DEFAULT_DAYTIME`], [`DEFAULT_WEEKEND`] or
/// [`DEFAULT_OTHER`] (a score, not a measured rate), best first, then in the week's order.
pub fn defaults(platform: &str) -> Vec<Cell> {
    let peak = peak(platform);
    let mut cells: Vec<Cell> = week()
        .map(|(weekday, hour)| Cell {
            weekday,
            hour,
            rate: default_score(&peak, weekday, hour),
        })
        .collect();
    cells.sort_by(|a, b| b.rate.total_cmp(&a.rate));
    cells
}

/// The `n` best hours of `weekday` among `cells` (sorted best first), in the cells' order.
pub fn top_hours(cells: &[Cell], weekday: Weekday, n: usize) -> Vec<u32> {
    cells
        .iter()
        .filter(|cell| cell.weekday == weekday)
        .take(n)
        .map(|cell| cell.hour)
        .collect()
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
            settled: true,
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
        let cells = from_history(&posts, chrono_tz::Europe::Madrid, "tiktok").unwrap();
        assert_eq!(cells.len(), 168);
        // m = (6·50 + 4·10) / (6·1000 + 4·500) = 340 / 8000.
        let m = 340.0 / 8_000.0;
        let monday = (300.0 + 5.0 * m) / (6_000.0 + 5.0);
        let friday = (40.0 + 5.0 * m) / (2_000.0 + 5.0);
        let empty = (5.0 * m) / 5.0;
        assert_eq!((cells[0].weekday, cells[0].hour), (Weekday::Mon, 9));
        assert!((cells[0].rate - monday).abs() < 1e-12);
        // An hour without posts is the channel's own rate, the platform's general best
        // first among them; the Friday hour, below it.
        assert!((cells[1].rate - empty).abs() < 1e-12);
        assert_eq!((cells[1].weekday, cells[1].hour), (Weekday::Tue, 14));
        let last = cells.last().unwrap();
        assert_eq!((last.weekday, last.hour), (Weekday::Fri, 18));
        assert!((last.rate - friday).abs() < 1e-12);
    }

    #[test]
    fn the_ai_is_shown_each_channel_s_three_best_and_three_worst_each_once() {
        let example = |channel: &str, n: u32, rate: f64| Example {
            intent_id: uuid::Uuid::from_u128(u128::from(n)),
            channel: channel.to_owned(),
            title: format!("{channel} {n}"),
            published_at: "2030-01-07T08:00:00Z".parse().unwrap(),
            engagement_rate: rate,
        };
        let mut posts: Vec<Example> = (1..=8)
            .map(|n| example("tiktok", n, f64::from(n) / 100.0))
            .collect();
        posts.extend((1..=4).map(|n| example("instagram", n, f64::from(n) / 10.0)));
        let learned = learned_from(posts);
        let titles = |of: &[Example]| of.iter().map(|e| e.title.clone()).collect::<Vec<_>>();
        assert_eq!(
            titles(&learned.best),
            [
                "instagram 4",
                "instagram 3",
                "instagram 2",
                "tiktok 8",
                "tiktok 7",
                "tiktok 6"
            ]
        );
        // Instagram's fourth post is its only one left for the worst.
        assert_eq!(
            titles(&learned.worst),
            ["instagram 1", "tiktok 1", "tiktok 2", "tiktok 3"]
        );
    }

    #[test]
    fn defaults_put_each_platform_s_peak_first_and_cover_the_week() {
        let cells = defaults("tiktok");
        assert_eq!(cells.len(), 168);
        assert_eq!((cells[0].weekday, cells[0].hour), (Weekday::Tue, 14));
        assert_eq!(
            cells.iter().filter(|c| c.rate == DEFAULT_PEAK).count(),
            3 * 4
        );
        assert_eq!(top_hours(&cells, Weekday::Wed, 2), [14, 15]);
        // Off the peak, a weekday's working hours come before its night, and a weekend's
        // day before its night.
        assert_eq!(top_hours(&cells, Weekday::Mon, 1), [8]);
        assert_eq!(top_hours(&cells, Weekday::Sat, 1), [9]);
        assert_eq!(
            cells.last().map(|c| (c.weekday, c.hour)),
            Some((Weekday::Sun, 23))
        );
    }

    #[test]
    fn fewer_than_ten_posts_with_a_seven_day_reading_are_no_history() {
        let posts: Vec<Measured> = (0..9)
            .map(|n| post(&format!("2030-01-{:02}T08:00:00Z", n + 1), 5, 100))
            .collect();
        assert_eq!(from_history(&posts, chrono_tz::UTC, "tiktok"), None);
        // A post without a reach does not count towards the ten, nor one read only at 24 h.
        let mut ten = posts.clone();
        ten.push(post("2030-01-20T08:00:00Z", 5, 0));
        ten.push(Measured {
            settled: false,
            ..post("2030-01-21T08:00:00Z", 5, 100)
        });
        assert_eq!(from_history(&ten, chrono_tz::UTC, "tiktok"), None);
        ten.push(post("2030-01-22T08:00:00Z", 5, 100));
        assert_eq!(
            from_history(&ten, chrono_tz::UTC, "tiktok").map(|c| c.len()),
            Some(168)
        );
    }
}
