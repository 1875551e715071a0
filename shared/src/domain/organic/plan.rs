//! The week's plan, decided before anything is drafted: which placements there are (the
//! seeds, the preset's auto-fill, the newsletter), which fail and why (no account, an
//! unknown trend, no free time), which the user's edits keep, where each lands after
//! conflict shifting, and which assets suit it.

use std::collections::{HashMap, HashSet};

use chrono::{DateTime, Days, Duration, NaiveDate, Utc, Weekday};
use serde_json::Value;

use super::{
    Format, SeedPlatform, TrendKind,
    creative::{self, Asset},
    request::{OrganicSpec, Preset},
    schedule::{self, AccountKey, Placed, TimeOfDay, Wanted, Window},
};
use crate::domain::calendar::to_utc;

/// The platform name of the newsletter placement.
pub const NEWSLETTER: &str = "newsletter";

/// The brand a week is planned for.
#[derive(Debug, Clone, PartialEq)]
pub struct Brand {
    pub id: String,
    pub name: String,
    pub voice: Option<String>,
    pub guidance: Option<String>,
    /// The brand's own tags: always in the `low` tier.
    pub hashtags: Vec<String>,
    pub window: Window,
}

/// A trend, question or event of the library.
#[derive(Debug, Clone, PartialEq, sqlx::FromRow)]
pub struct Trend {
    pub id: String,
    pub kind: TrendKind,
    pub title: String,
    pub description: Option<String>,
    pub keywords: Vec<String>,
    pub priority: i32,
}

/// What the plan reads of the user's library.
#[derive(Debug, Clone)]
pub struct Library {
    pub brand: Brand,
    pub trends: Vec<Trend>,
    pub assets: Vec<Asset>,
}

/// A placement already saved for the week (of any of the user's brands).
#[derive(Debug, Clone, PartialEq)]
pub struct SavedPlacement {
    pub brand_id: String,
    pub placement_id: String,
    pub account: Option<AccountKey>,
    pub scheduled_at: DateTime<Utc>,
    pub edited: bool,
    /// The placement as saved (the stream's shape).
    pub placement: Value,
}

/// A placement to draft, its time and assets decided.
#[derive(Debug, Clone, PartialEq)]
pub struct Draft {
    pub placement_id: String,
    pub day: NaiveDate,
    pub scheduled_at: DateTime<Utc>,
    pub time_of_day: TimeOfDay,
    pub adjusted: bool,
    /// A platform's name, or `newsletter`.
    pub platform: String,
    pub account_id: Option<String>,
    pub trend: Option<Trend>,
    /// `seed.source`.
    pub source: String,
    pub format: Format,
    pub asset_ids: Vec<String>,
    /// Added by the preset's auto-fill.
    pub auto: bool,
    pub time_label: Option<String>,
    pub metadata: Option<Value>,
    /// The newsletter's: the titles of the week's other topics.
    pub topics: Vec<String>,
}

/// One placement of the plan.
#[derive(Debug, Clone, PartialEq)]
pub enum Planned {
    Draft(Box<Draft>),
    /// A placement the user edited, kept as saved (no `overwriteEdited`).
    Kept {
        placement_id: String,
        placement: Value,
    },
    /// A placement that cannot be made: streamed as an `error` with its code.
    Failed {
        placement_id: String,
        code: &'static str,
        message: String,
    },
}

impl Planned {
    pub fn placement_id(&self) -> &str {
        match self {
            Planned::Draft(draft) => &draft.placement_id,
            Planned::Kept { placement_id, .. } | Planned::Failed { placement_id, .. } => {
                placement_id
            }
        }
    }
}

/// The week's plan: its placements in the order they go out, and what is worth telling.
#[derive(Debug, Clone, PartialEq)]
pub struct Plan {
    pub items: Vec<Planned>,
    pub notes: Vec<String>,
    /// Placements the preset added.
    pub auto_filled: usize,
}

/// A placement before scheduling.
struct Candidate {
    placement_id: String,
    day: NaiveDate,
    at: DateTime<Utc>,
    platform: Option<SeedPlatform>,
    account_id: Option<String>,
    trend: Option<Trend>,
    source: String,
    format: Format,
    auto: bool,
    time_label: Option<String>,
    metadata: Option<Value>,
    tags: Vec<String>,
}

/// Plans the week of `spec` with the user's `library` and the week's `saved` placements;
/// `gap` is the least time between two posts of one account.
pub fn plan(
    spec: &OrganicSpec,
    library: &Library,
    saved: &[SavedPlacement],
    gap: Duration,
) -> Plan {
    let mut planner = Planner {
        spec,
        library,
        candidates: Vec::new(),
        settled: Vec::new(),
        used: HashSet::new(),
        notes: Vec::new(),
        auto_filled: 0,
    };
    planner.seeds();
    if spec.options.preset == Some(Preset::BetaLaunch) {
        planner.auto_fill();
    }
    if spec.options.include_newsletter {
        planner.newsletter();
    }
    if !spec.options.overwrite_edited {
        planner.keep_edited(saved);
    }
    planner.schedule(saved, gap)
}

/// The plan as it is made: the placements still to schedule, those already settled
/// (failed, or kept as edited) with their times, and the trends used so far.
struct Planner<'a> {
    spec: &'a OrganicSpec,
    library: &'a Library,
    candidates: Vec<Candidate>,
    settled: Vec<(DateTime<Utc>, Planned)>,
    used: HashSet<String>,
    notes: Vec<String>,
    auto_filled: usize,
}

/// Highest priority first, ties by id.
fn by_priority(trends: &mut [&Trend]) {
    trends.sort_by(|a, b| b.priority.cmp(&a.priority).then(a.id.cmp(&b.id)));
}

impl Planner<'_> {
    fn fail(
        &mut self,
        at: DateTime<Utc>,
        placement_id: String,
        code: &'static str,
        message: String,
    ) {
        self.settled.push((
            at,
            Planned::Failed {
                placement_id,
                code,
                message,
            },
        ));
    }

    /// The request's placements: an account (its own, or the request's for its platform)
    /// and a trend of the library, or an error.
    fn seeds(&mut self) {
        let spec = self.spec;
        let trends: HashMap<&str, &Trend> = self
            .library
            .trends
            .iter()
            .map(|t| (t.id.as_str(), t))
            .collect();
        for seed in &spec.seeds {
            let account_id = seed
                .account_id
                .clone()
                .or_else(|| spec.platform_account_ids.get(&seed.platform).cloned());
            let Some(account_id) = account_id else {
                let message = format!(
                    "no {0} account: give the placement an accountId or platformAccountIds.{0}",
                    seed.platform.as_str()
                );
                self.fail(
                    seed.scheduled_at,
                    seed.placement_id.clone(),
                    "MISSING_ACCOUNT",
                    message,
                );
                continue;
            };
            let Some(trend) = trends.get(seed.trend_id.as_str()) else {
                let message = format!("trend `{}` is not in your library", seed.trend_id);
                self.fail(
                    seed.scheduled_at,
                    seed.placement_id.clone(),
                    "TREND_NOT_FOUND",
                    message,
                );
                continue;
            };
            self.used.insert(trend.id.clone());
            self.candidates.push(Candidate {
                placement_id: seed.placement_id.clone(),
                day: seed.day,
                at: seed.scheduled_at,
                platform: Some(seed.platform),
                account_id: Some(account_id),
                trend: Some((*trend).clone()),
                source: seed
                    .source
                    .map_or(trend.kind.as_str(), |s| s.as_str())
                    .to_owned(),
                format: seed.format.unwrap_or(seed.platform.default_format()),
                auto: false,
                time_label: seed.time_label.clone(),
                metadata: seed.metadata.clone(),
                tags: seed.tags.clone(),
            });
        }
    }

    /// beta-launch: one placement per preferred platform on every day without a seed, at
    /// the platform's default local time, about the highest-priority trend not used yet
    /// (once all are, again in priority order).
    fn auto_fill(&mut self) {
        let spec = self.spec;
        let platforms: Vec<SeedPlatform> = if spec.options.preferred_platforms.is_empty() {
            spec.platform_account_ids.keys().copied().collect()
        } else {
            spec.options.preferred_platforms.clone()
        };
        let mut ranked: Vec<&Trend> = self.library.trends.iter().collect();
        by_priority(&mut ranked);
        if ranked.is_empty() {
            self.notes.push(
                "beta-launch: your library has no trends, questions or events, so no day was \
                 auto-filled"
                    .to_owned(),
            );
            return;
        }
        if platforms.is_empty() {
            self.notes.push(
                "beta-launch: no preferredPlatforms or platformAccountIds, so no day was \
                 auto-filled"
                    .to_owned(),
            );
            return;
        }
        let seeded_days: HashSet<NaiveDate> = spec.seeds.iter().map(|s| s.day).collect();
        let seeded_ids: HashSet<&str> =
            spec.seeds.iter().map(|s| s.placement_id.as_str()).collect();
        let mut reuse = 0;
        for day in spec.days().filter(|d| !seeded_days.contains(d)) {
            for platform in &platforms {
                let placement_id = format!("auto-{day}-{}", platform.as_str());
                if seeded_ids.contains(placement_id.as_str()) {
                    continue;
                }
                let trend = match ranked.iter().find(|t| !self.used.contains(&t.id)) {
                    Some(trend) => *trend,
                    None => {
                        reuse += 1;
                        ranked[(reuse - 1) % ranked.len()]
                    }
                };
                self.used.insert(trend.id.clone());
                let at = to_utc(spec.timezone, day, platform.default_local_time());
                self.auto_filled += 1;
                let Some(account_id) = spec.platform_account_ids.get(platform).cloned() else {
                    let message = format!(
                        "no {0} account for the auto-filled placement: add \
                         platformAccountIds.{0}",
                        platform.as_str()
                    );
                    self.fail(at, placement_id, "MISSING_ACCOUNT", message);
                    continue;
                };
                self.candidates.push(Candidate {
                    placement_id,
                    day,
                    at,
                    platform: Some(*platform),
                    account_id: Some(account_id),
                    trend: Some(trend.clone()),
                    source: trend.kind.as_str().to_owned(),
                    format: platform.default_format(),
                    auto: true,
                    time_label: None,
                    metadata: None,
                    tags: Vec::new(),
                });
            }
        }
    }

    /// The week's newsletter, at the start of the posting window on its day, about the
    /// trends the week uses.
    fn newsletter(&mut self) {
        let spec = self.spec;
        let day = spec.options.newsletter_day.unwrap_or_else(|| {
            let weekday = match spec.options.preset {
                Some(Preset::BetaLaunch) => Weekday::Thu,
                None => Weekday::Fri,
            };
            spec.week_start + Days::new(u64::from(weekday.num_days_from_monday()))
        });
        let mut topics: Vec<&Trend> = self
            .library
            .trends
            .iter()
            .filter(|t| self.used.contains(&t.id))
            .collect();
        by_priority(&mut topics);
        self.candidates.push(Candidate {
            placement_id: format!("newsletter-{}", spec.week_start),
            day,
            at: to_utc(spec.timezone, day, self.library.brand.window.start),
            platform: None,
            account_id: None,
            trend: topics.first().map(|t| (*t).clone()),
            source: NEWSLETTER.to_owned(),
            format: Format::Newsletter,
            auto: false,
            time_label: None,
            metadata: None,
            tags: topics.iter().flat_map(|t| t.keywords.clone()).collect(),
        });
    }

    /// Placements the user edited stay as the user left them, and where.
    fn keep_edited(&mut self, saved: &[SavedPlacement]) {
        let saved_here: HashMap<&str, &SavedPlacement> = saved
            .iter()
            .filter(|s| s.brand_id == self.library.brand.id)
            .map(|s| (s.placement_id.as_str(), s))
            .collect();
        let settled = &mut self.settled;
        self.candidates
            .retain(|c| match saved_here.get(c.placement_id.as_str()) {
                Some(s) if s.edited => {
                    let mut placement = s.placement.clone();
                    placement["edited"] = Value::Bool(true);
                    settled.push((
                        s.scheduled_at,
                        Planned::Kept {
                            placement_id: c.placement_id.clone(),
                            placement,
                        },
                    ));
                    false
                }
                _ => true,
            });
    }

    /// Gives each placement its time (conflict shifting against each other and the saved
    /// placements they do not replace) and its assets; the plan in the order it goes out.
    fn schedule(mut self, saved: &[SavedPlacement], gap: Duration) -> Plan {
        let (spec, library) = (self.spec, self.library);
        let replaced: HashSet<&str> = self
            .candidates
            .iter()
            .map(|c| c.placement_id.as_str())
            .collect();
        let fixed: Vec<(AccountKey, DateTime<Utc>)> = saved
            .iter()
            .filter(|s| {
                !(s.brand_id == library.brand.id && replaced.contains(s.placement_id.as_str()))
            })
            .filter_map(|s| s.account.clone().map(|a| (a, s.scheduled_at)))
            .collect();
        let wanted: Vec<Wanted> = self
            .candidates
            .iter()
            .map(|c| Wanted {
                id: c.placement_id.clone(),
                account: c
                    .platform
                    .zip(c.account_id.clone())
                    .map(|(p, a)| (p.as_str().to_owned(), a)),
                at: c.at,
            })
            .collect();
        let placed = schedule::shift(&wanted, &fixed, gap, library.brand.window, spec.timezone);
        let topics: Vec<String> = {
            let mut seen = HashSet::new();
            self.candidates
                .iter()
                .filter(|c| c.format != Format::Newsletter)
                .filter_map(|c| c.trend.as_ref())
                .filter(|t| seen.insert(t.id.clone()))
                .map(|t| t.title.clone())
                .collect()
        };
        let mut items = std::mem::take(&mut self.settled);
        for (c, placed) in std::mem::take(&mut self.candidates).into_iter().zip(placed) {
            let Placed::At { at, adjusted } = placed else {
                let message = format!(
                    "no free time is left on {} for another post of this account (posts keep \
                     {} minutes apart, inside the posting window)",
                    c.day,
                    gap.num_minutes()
                );
                items.push((
                    c.at,
                    Planned::Failed {
                        placement_id: c.placement_id,
                        code: "NO_FREE_SLOT",
                        message,
                    },
                ));
                continue;
            };
            let mut wanted_tags = c.tags.clone();
            if let Some(trend) = &c.trend {
                wanted_tags.extend(trend.keywords.iter().cloned());
            }
            let asset_ids = creative::matching(c.format, &wanted_tags, &library.assets);
            let newsletter = c.format == Format::Newsletter && c.platform.is_none();
            items.push((
                at,
                Planned::Draft(Box::new(Draft {
                    time_of_day: TimeOfDay::of(at.with_timezone(&spec.timezone).time()),
                    placement_id: c.placement_id,
                    day: c.day,
                    scheduled_at: at,
                    adjusted,
                    platform: c
                        .platform
                        .map_or(NEWSLETTER, SeedPlatform::as_str)
                        .to_owned(),
                    account_id: c.account_id,
                    trend: c.trend,
                    source: c.source,
                    format: c.format,
                    asset_ids,
                    auto: c.auto,
                    time_label: c.time_label,
                    metadata: c.metadata,
                    topics: if newsletter {
                        topics.clone()
                    } else {
                        Vec::new()
                    },
                })),
            ));
        }
        items.sort_by(|a, b| (a.0, a.1.placement_id()).cmp(&(b.0, b.1.placement_id())));
        Plan {
            items: items.into_iter().map(|(_, item)| item).collect(),
            notes: self.notes,
            auto_filled: self.auto_filled,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::organic::request::OrganicSpec;
    use chrono::Datelike;
    use serde_json::json;

    fn library(trends: usize) -> Library {
        Library {
            brand: Brand {
                id: "brand_123".into(),
                name: "Leafy".into(),
                voice: None,
                guidance: None,
                hashtags: vec!["#leafy".into()],
                window: Window::default(),
            },
            trends: (0..trends)
                .map(|i| Trend {
                    id: if i == 0 {
                        "trend-101".into()
                    } else {
                        format!("t{i:02}")
                    },
                    kind: TrendKind::Trend,
                    title: format!("Trend {i}"),
                    description: None,
                    keywords: vec!["eco".into()],
                    priority: (trends - i) as i32,
                })
                .collect(),
            assets: vec![Asset {
                id: "asset_991".into(),
                kind: crate::domain::organic::AssetKind::Video,
                title: "Swap".into(),
                tags: vec!["eco".into()],
            }],
        }
    }

    fn example() -> OrganicSpec {
        OrganicSpec::parse(&crate::domain::organic::request::tests::example(), 60).unwrap()
    }

    fn drafts(plan: &Plan) -> Vec<&Draft> {
        plan.items
            .iter()
            .filter_map(|i| match i {
                Planned::Draft(d) => Some(&**d),
                _ => None,
            })
            .collect()
    }

    #[test]
    fn the_seed_s_example_fills_the_week() {
        let plan = plan(&example(), &library(20), &[], Duration::minutes(30));
        let drafts = drafts(&plan);
        assert_eq!(drafts.len(), 14);
        assert_eq!(plan.auto_filled, 12);
        let seed = drafts
            .iter()
            .find(|d| d.placement_id == "seed-2026-01-26-trend-101")
            .unwrap();
        assert_eq!(seed.time_of_day, TimeOfDay::Morning);
        assert_eq!(seed.asset_ids, ["asset_991"]);
        assert!(!seed.adjusted);
        let newsletter = drafts.iter().find(|d| d.platform == NEWSLETTER).unwrap();
        assert_eq!(newsletter.placement_id, "newsletter-2026-01-26");
        assert_eq!(newsletter.day.weekday(), Weekday::Thu);
        assert_eq!(newsletter.account_id, None);
        let autos: Vec<&str> = drafts
            .iter()
            .filter(|d| d.auto)
            .map(|d| d.placement_id.as_str())
            .collect();
        assert!(
            autos.contains(&"auto-2026-01-27-instagram")
                && autos.contains(&"auto-2026-02-01-linkedin")
        );
        // No trend twice while unused ones remain: 1 seeded + 12 auto of 20.
        let trends: HashSet<&str> = drafts
            .iter()
            .filter(|d| d.platform != NEWSLETTER)
            .map(|d| d.trend.as_ref().unwrap().id.as_str())
            .collect();
        assert_eq!(trends.len(), 13);
    }

    #[test]
    fn an_exhausted_library_is_reused_and_an_empty_one_fills_nothing() {
        let plan3 = plan(&example(), &library(3), &[], Duration::minutes(30));
        assert_eq!(drafts(&plan3).len(), 14);
        assert_eq!(plan3.auto_filled, 12);
        // Trend-101 is unknown with an empty library: an error, no auto-fill.
        let plan0 = plan(&example(), &library(0), &[], Duration::minutes(30));
        assert!(plan0.notes[0].contains("no trends"));
        assert!(matches!(
            plan0.items[0],
            Planned::Failed {
                code: "TREND_NOT_FOUND",
                ..
            }
        ));
    }

    #[test]
    fn edited_placements_are_kept_and_block_their_time() {
        let spec = example();
        let saved = SavedPlacement {
            brand_id: "brand_123".into(),
            placement_id: "seed-2026-01-26-trend-101".into(),
            account: Some(("instagram".into(), "ig_123".into())),
            scheduled_at: spec.seeds[0].scheduled_at,
            edited: true,
            placement: json!({ "placementId": "seed-2026-01-26-trend-101", "copy": { "caption": "mine" } }),
        };
        let kept = plan(
            &spec,
            &library(20),
            std::slice::from_ref(&saved),
            Duration::minutes(30),
        );
        assert!(
            matches!(&kept.items[0], Planned::Kept { placement, .. } if placement["edited"] == true)
        );
        let mut overwrite = spec.clone();
        overwrite.options.overwrite_edited = true;
        let redone = plan(&overwrite, &library(20), &[saved], Duration::minutes(30));
        assert!(matches!(&redone.items[0], Planned::Draft(d) if !d.adjusted));
    }
}
