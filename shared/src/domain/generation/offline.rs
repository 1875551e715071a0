//! The offline provider's flashcards (no AI model connected): a card per substantial
//! sentence of the source text, and cloze cards hiding an enumeration's items or a sentence's
//! longest word. Deterministic, so that tests and `make run` without a key are repeatable.

use super::{
    BACK_MAX_CHARS, CardType, FRONT_MAX_CHARS, MAX_SUGGESTIONS, SOURCE_CLOSE, SOURCE_OPEN,
    Suggestion, TYPES_CLOSE, TYPES_OPEN, truncate,
};

/// The offline provider's answer: one card per substantial sentence of the source text;
/// with cloze cards asked for, each sentence's longest word hidden (`{{c1::...}}`) too, and
/// only those when cloze is the one type.
pub fn offline_answer(user_message: &str) -> String {
    let source = user_message
        .split_once(SOURCE_OPEN)
        .and_then(|(_, rest)| rest.rsplit_once(SOURCE_CLOSE))
        .map_or(user_message, |(inner, _)| inner);
    let types = user_message
        .split_once(TYPES_OPEN)
        .and_then(|(_, rest)| rest.split_once(TYPES_CLOSE))
        .map(|(names, _)| {
            names
                .split(',')
                .filter_map(CardType::parse)
                .collect::<Vec<_>>()
        })
        .unwrap_or_else(|| vec![CardType::Basic]);
    if types.contains(&CardType::Cloze) {
        return offline_typed(source, &types);
    }
    let suggestions: Vec<Suggestion> = sentences(source)
        .filter(|s| s.split_whitespace().count() >= 4)
        .take(20)
        .enumerate()
        .map(|(i, sentence)| basic_card(i, sentence))
        .collect();
    let suggestions = if suggestions.is_empty() {
        vec![Suggestion {
            card_type: CardType::Basic,
            front: "What is the text about?".into(),
            back: truncate(source.trim(), BACK_MAX_CHARS),
        }]
    } else {
        suggestions
    };
    serde_json::json!({ "suggestions": suggestions }).to_string()
}

/// The offline provider's basic card of the `i`th sentence it uses.
fn basic_card(i: usize, sentence: &str) -> Suggestion {
    let topic: Vec<&str> = sentence.split_whitespace().take(6).collect();
    Suggestion {
        card_type: CardType::Basic,
        front: format!(
            "Card {}: what does the text say about \"{}\"?",
            i + 1,
            topic.join(" ")
        ),
        back: truncate(sentence, BACK_MAX_CHARS),
    }
}

/// The offline answer with card types: per sentence (each once), a cloze when cloze is
/// asked for (its enumeration's items hidden as c1..cN, else its longest word) and the
/// basic card when basic is.
fn offline_typed(source: &str, types: &[CardType]) -> String {
    let mut suggestions: Vec<Suggestion> = Vec::new();
    let mut seen = std::collections::HashSet::new();
    for (i, sentence) in sentences(source)
        .filter(|s| s.split_whitespace().count() >= 4 && seen.insert(*s))
        .take(20)
        .enumerate()
    {
        if types.contains(&CardType::Cloze)
            && let Some(front) = enumeration_cloze(sentence).or_else(|| word_cloze(sentence))
        {
            suggestions.push(Suggestion {
                card_type: CardType::Cloze,
                front: truncate(&front, FRONT_MAX_CHARS),
                back: String::new(),
            });
        }
        if types.contains(&CardType::Basic) {
            suggestions.push(basic_card(i, sentence));
        }
    }
    let suggestions: Vec<serde_json::Value> = suggestions
        .iter()
        .take(MAX_SUGGESTIONS)
        .map(|s| serde_json::json!({ "card_type": s.card_type, "front": s.front, "back": s.back }))
        .collect();
    serde_json::json!({ "suggestions": suggestions }).to_string()
}

/// Words that end an enumeration's last item ("... and carbon dioxide *to* grow").
const ITEM_END: &[&str] = &[
    "to", "for", "in", "into", "on", "of", "at", "by", "with", "from", "as", "that", "which", "is",
    "are", "was", "were",
];

/// A sentence with an enumeration ("a, b and c") as one cloze, its items c1..cN.
fn enumeration_cloze(sentence: &str) -> Option<String> {
    let (before, after) = sentence.split_once(" and ")?;
    let mut parts: Vec<&str> = before.split(", ").collect();
    if parts.len() < 2 {
        return None;
    }
    // The first item is the last word of the clause before the first comma.
    let head = parts.remove(0);
    let (lead, first) = head.rsplit_once(' ')?;
    let words: Vec<&str> = after.split(' ').collect();
    let taken = words
        .iter()
        .position(|w| ITEM_END.contains(w) || w.ends_with(['.', ',', ';', '!', '?']))
        .map_or(words.len(), |at| {
            at + usize::from(!ITEM_END.contains(&words[at]))
        });
    if taken == 0 {
        return None;
    }
    let last = words[..taken].join(" ");
    let last = last.trim_end_matches(['.', ',', ';', '!', '?']);
    let rest = after[last.len()..].to_owned();
    let mut items = vec![first];
    items.extend(parts);
    items.push(last);
    if items
        .iter()
        .any(|item| item.is_empty() || item.contains("}}"))
    {
        return None;
    }
    let hidden: Vec<String> = items
        .iter()
        .enumerate()
        .map(|(n, item)| format!("{{{{c{}::{item}}}}}", n + 1))
        .collect();
    let (list, final_item) = hidden.split_at(hidden.len() - 1);
    Some(format!(
        "{lead} {} and {}{rest}",
        list.join(", "),
        final_item[0]
    ))
}

/// A sentence with its longest word hidden.
fn word_cloze(sentence: &str) -> Option<String> {
    let word = sentence
        .split(|c: char| !c.is_alphanumeric())
        .max_by_key(|w| w.chars().count())
        .filter(|w| w.chars().count() >= 3)?;
    Some(sentence.replacen(word, &format!("{{{{c1::{word}}}}}"), 1))
}

fn sentences(text: &str) -> impl Iterator<Item = &str> {
    text.split_inclusive(['.', '!', '?', '\n'])
        .map(str::trim)
        .filter(|s| !s.is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::generation::{has_cloze, parse_answer, prompt};

    #[test]
    fn offline_answer_is_deterministic_and_parseable() {
        let text = "Rust is a systems language. It has no garbage collector at all. Ownership rules manage memory safely.".repeat(20);
        let request = prompt(&text, None, &[CardType::Basic]);
        let a = offline_answer(&request.messages[1].content);
        assert_eq!(a, offline_answer(&request.messages[1].content));
        let cards = parse_answer(&a, &[CardType::Basic]).unwrap();
        assert!(cards.len() >= 3);
        // Cloze only: every card hides a word, and has no Extra.
        let request = prompt(&text, None, &[CardType::Cloze]);
        let answer = offline_answer(&request.messages[1].content);
        let cloze = parse_answer(&answer, &[CardType::Cloze]).unwrap();
        assert!(cloze.len() >= 3);
        assert!(
            cloze
                .iter()
                .all(|c| c.card_type == CardType::Cloze && has_cloze(&c.front))
        );
        assert_eq!(cloze[0].front, "Rust is a systems {{c1::language}}.");
        assert_eq!(
            enumeration_cloze("Plants need light, water and carbon dioxide to grow well.").unwrap(),
            "Plants need {{c1::light}}, {{c2::water}} and {{c3::carbon dioxide}} to grow well."
        );
        assert_eq!(
            enumeration_cloze("Cells hold a nucleus, ribosomes, mitochondria and a membrane.")
                .unwrap(),
            "Cells hold a {{c1::nucleus}}, {{c2::ribosomes}}, {{c3::mitochondria}} and {{c4::a membrane}}."
        );
        assert_eq!(enumeration_cloze("Salt and pepper are fine."), None);
        // Cloze cards are refused where only basic ones were asked for.
        assert!(parse_answer(&answer, &[CardType::Basic]).is_err());
    }
}
