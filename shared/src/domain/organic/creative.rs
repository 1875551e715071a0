//! Which creative library assets suit a placement: up to three whose tags overlap the
//! trend's keywords or the placement's `metadata.tags`, of a kind the post type can use,
//! best overlap first, ties by id. Tags compare without case, `#` or surrounding space.

use std::collections::BTreeSet;

use super::{AssetKind, Format};

/// The most assets a placement names.
pub const MAX_ASSETS: usize = 3;

/// A library asset as matching sees it.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct Asset {
    pub id: String,
    pub kind: AssetKind,
    pub title: String,
    pub tags: Vec<String>,
}

/// Whether an asset of `kind` can go into a post of `format`.
pub fn suits(format: Format, kind: AssetKind) -> bool {
    match format {
        Format::Reel | Format::Story => matches!(kind, AssetKind::Video | AssetKind::Image),
        Format::Carousel => matches!(kind, AssetKind::Carousel | AssetKind::Image),
        Format::Post => kind == AssetKind::Image,
        Format::Newsletter => true,
    }
}

fn normalised(tag: &str) -> String {
    tag.trim().trim_start_matches('#').trim().to_lowercase()
}

/// The ids of the assets that match, best first.
pub fn matching(format: Format, wanted: &[String], assets: &[Asset]) -> Vec<String> {
    let wanted: BTreeSet<String> = wanted
        .iter()
        .map(|t| normalised(t))
        .filter(|t| !t.is_empty())
        .collect();
    if wanted.is_empty() {
        return Vec::new();
    }
    let mut scored: Vec<(usize, &str)> = assets
        .iter()
        .filter(|a| suits(format, a.kind))
        .map(|a| {
            let tags: BTreeSet<String> = a.tags.iter().map(|t| normalised(t)).collect();
            (tags.intersection(&wanted).count(), a.id.as_str())
        })
        .filter(|(overlap, _)| *overlap > 0)
        .collect();
    scored.sort_by(|a, b| b.0.cmp(&a.0).then(a.1.cmp(b.1)));
    scored
        .into_iter()
        .take(MAX_ASSETS)
        .map(|(_, id)| id.to_owned())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn asset(id: &str, kind: AssetKind, tags: &[&str]) -> Asset {
        Asset {
            id: id.into(),
            kind,
            title: id.into(),
            tags: tags.iter().map(|t| (*t).to_owned()).collect(),
        }
    }

    fn words(w: &[&str]) -> Vec<String> {
        w.iter().map(|t| (*t).to_owned()).collect()
    }

    #[test]
    fn best_overlap_first_ties_by_id_at_most_three() {
        let assets = [
            asset("b", AssetKind::Video, &["eco"]),
            asset("a", AssetKind::Image, &["Eco"]),
            asset("z", AssetKind::Video, &["eco", "#swap"]),
            asset("c", AssetKind::Image, &["eco"]),
            asset("doc", AssetKind::Document, &["eco", "swap"]),
            asset("none", AssetKind::Video, &["cats"]),
        ];
        assert_eq!(
            matching(Format::Reel, &words(&["eco", "swap"]), &assets),
            ["z", "a", "b"]
        );
        // A post takes images only; a newsletter takes any kind.
        assert_eq!(
            matching(Format::Post, &words(&["swap", "eco"]), &assets),
            ["a", "c"]
        );
        assert_eq!(
            matching(Format::Newsletter, &words(&["swap"]), &assets),
            ["doc", "z"]
        );
        assert!(matching(Format::Reel, &words(&["dogs"]), &assets).is_empty());
        assert!(matching(Format::Reel, &[], &assets).is_empty());
    }

    #[test]
    fn kinds_suit_formats_as_documented() {
        use AssetKind::*;
        assert!(suits(Format::Reel, Video) && suits(Format::Story, Image));
        assert!(!suits(Format::Reel, Carousel) && !suits(Format::Story, Document));
        assert!(suits(Format::Carousel, Carousel) && suits(Format::Carousel, Image));
        assert!(!suits(Format::Carousel, Video));
        assert!(suits(Format::Post, Image) && !suits(Format::Post, Video));
        for kind in [Image, Video, Carousel, Document] {
            assert!(suits(Format::Newsletter, kind));
        }
    }
}
