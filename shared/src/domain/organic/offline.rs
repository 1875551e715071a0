//! The offline provider's answer to an `organic.v1` prompt (`content::prompt`):
//! deterministic copy about the placement's topic, in English or in Spanish.

use serde_json::{Value, json};

use super::content::{BRAND_CLOSE, BRAND_OPEN, PLACEMENT_CLOSE, PLACEMENT_OPEN};
use crate::domain::prompt::tagged_json;

/// The offline provider's answer to an `organic.v1` prompt: plain copy about the
/// placement's topic, in Spanish when the placement's language is Spanish.
pub fn offline_answer(user_text: &str) -> String {
    let placement = tagged_json(user_text, PLACEMENT_OPEN, PLACEMENT_CLOSE);
    let brand = tagged_json(user_text, BRAND_OPEN, BRAND_CLOSE);
    let text = |key: &str| placement[key].as_str().unwrap_or_default().to_owned();
    let platform = text("platform");
    let post_type = text("postType");
    let newsletter = post_type == "newsletter";
    let brand_name = brand["name"].as_str().unwrap_or("the brand").to_owned();
    let topic = placement["topic"]["title"]
        .as_str()
        .unwrap_or(if newsletter { "this week" } else { "our news" })
        .to_owned();
    let week_topics: Vec<&str> = placement["weekTopics"]
        .as_array()
        .map(|t| t.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default();
    let keywords: Vec<String> = placement["topic"]["keywords"]
        .as_array()
        .map(|k| {
            k.iter()
                .filter_map(Value::as_str)
                .map(str::to_owned)
                .collect()
        })
        .unwrap_or_default();
    let spanish = text("language").to_lowercase().starts_with("es");
    let label = match post_type.as_str() {
        "reel" => "Reel",
        "carousel" => "Carousel",
        "story" => "Story",
        "newsletter" => "Newsletter",
        _ => "Post",
    };
    let guidance = placement["guidance"].as_str().map(str::to_owned);
    let (title, caption, objective, target, tone, cta, idea, hint) = if spanish {
        let caption = if newsletter {
            format!("Esta semana en {brand_name}: {}.", week_topics.join(", "))
        } else {
            format!("{topic}: tres ideas de {brand_name} para tu {platform} de esta semana.")
        };
        (
            format!("{topic} en {label}"),
            caption,
            "Educar",
            "Nuestra comunidad",
            "Cercano",
            "Descubre más",
            format!("{label} sobre {topic}"),
            "Usa colores de la marca",
        )
    } else {
        let caption = if newsletter {
            format!("This week at {brand_name}: {}.", week_topics.join(", "))
        } else {
            format!("{topic}: three ideas from {brand_name} for your {platform} this week.")
        };
        (
            format!("{topic} as a {label}"),
            caption,
            "Educate",
            "Our community",
            "Friendly",
            "Learn more",
            format!("A {label} about {topic}"),
            "Use the brand's colours",
        )
    };
    let caption = match guidance {
        Some(g) if !g.is_empty() => format!("{caption} {g}"),
        _ => caption,
    };
    let tag = |word: &str| {
        format!(
            "#{}",
            word.chars()
                .filter(|c| c.is_alphanumeric())
                .collect::<String>()
                .to_lowercase()
        )
    };
    let high: Vec<String> = keywords.iter().take(2).map(|k| tag(k)).collect();
    json!({
        "content": {
            "format": label, "titleTopic": title, "objective": objective, "target": target,
            "tone": tone, "cta": cta, "numSlides": if post_type == "carousel" { 5 } else { 1 },
        },
        "creative": {
            "creativeIdea": idea,
            "assetHints": [{ "role": "visual", "suggestion": hint }],
        },
        "copy": {
            "caption": caption,
            "hashtags": {
                "high": if high.is_empty() { vec![tag(&platform)] } else { high },
                "medium": [tag(&topic)],
                "low": [],
            },
        },
    })
    .to_string()
}
