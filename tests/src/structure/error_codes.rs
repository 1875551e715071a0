//! Every refusal a person can meet is said in their words: the OpenAPI document lists the
//! error codes (`x-almanac-error-codes` on `ErrorDetail.code`), each has a sentence in the
//! web app's English and French catalogues with neither a backquote nor an API path in it,
//! and every code the source raises is in that list.

use std::collections::BTreeSet;

use regex::Regex;
use serde_json::Value as Json;

use super::{repository, rust_files, without_comments};

/// The codes the published document lists.
fn documented_codes() -> BTreeSet<String> {
    let text = std::fs::read_to_string(repository().join("docs/api/openapi.yaml")).unwrap();
    let document: serde_yaml::Value = serde_yaml::from_str(&text).unwrap();
    let codes = &document["components"]["schemas"]["ErrorDetail"]["properties"]["code"]["x-almanac-error-codes"];
    codes
        .as_mapping()
        .expect("ErrorDetail.code lists the error codes")
        .keys()
        .map(|code| code.as_str().unwrap().to_owned())
        .collect()
}

fn catalogue(language: &str) -> serde_json::Map<String, Json> {
    let path = repository().join(format!("api/web/i18n/{language}.json"));
    match serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap() {
        Json::Object(map) => map,
        _ => panic!("{language}.json is an object"),
    }
}

/// A sentence's forms: the string, or each plural form.
fn forms(value: &Json) -> Vec<&str> {
    match value {
        Json::String(text) => vec![text],
        Json::Object(plural) => plural.values().filter_map(Json::as_str).collect(),
        _ => Vec::new(),
    }
}

/// What a sentence must not show a person: code formatting, or a path of the API.
fn api_words(sentence: &str) -> Option<&'static str> {
    let path = Regex::new(r"(^|[\s(])/(v1|api|app|mcp|media|feeds|openapi|admin)\b").unwrap();
    if sentence.contains('`') {
        Some("a backquote")
    } else if path.is_match(sentence) {
        Some("an API path")
    } else {
        None
    }
}

#[test]
fn every_documented_error_code_has_a_sentence_in_english_and_french_without_api_words() {
    let codes = documented_codes();
    assert!(
        codes.len() > 100,
        "the document lists {} codes",
        codes.len()
    );
    let mut problems = Vec::new();
    for language in ["en", "fr"] {
        let catalogue = catalogue(language);
        for code in &codes {
            let key = format!("errors.code.{code}");
            let Some(sentence) = catalogue.get(&key) else {
                problems.push(format!("{language}: no sentence for {code}"));
                continue;
            };
            for form in forms(sentence) {
                if let Some(what) = api_words(form) {
                    problems.push(format!(
                        "{language}: {code}'s sentence holds {what}: {form}"
                    ));
                }
            }
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

/// Beyond the codes, no sentence a person reads holds API words either (the operator's
/// console, `ops.*`, names its own commands).
#[test]
fn no_sentence_of_the_app_shows_api_words() {
    let mut problems = Vec::new();
    for language in ["en", "fr"] {
        for (key, sentence) in catalogue(language) {
            if key.starts_with("ops.") {
                continue;
            }
            for form in forms(&sentence) {
                if let Some(what) = api_words(form) {
                    problems.push(format!("{language}: {key} holds {what}: {form}"));
                }
            }
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

#[test]
fn the_sentence_check_sees_api_words() {
    assert_eq!(
        api_words("add one to the entry (or a `mediaUrl`)"),
        Some("a backquote")
    );
    assert_eq!(
        api_words("call POST /v1/queue with channels"),
        Some("an API path")
    );
    assert_eq!(api_words("Connect it again, then try again."), None);
}

/// The codes the source raises: the literal code of an error's constructor (`ApiError`,
/// `JobError`, a platform's `Failure`, a `Problem`, an envelope), of a `"code"` in JSON or
/// a `code:` field, a `const` holding one, and a match arm's (`kind => "CODE"`: the
/// error middleware's statuses among them). The fake platforms (`platforms/<name>/fake.rs`) speak the platforms' own codes.
fn raised_codes() -> BTreeSet<String> {
    let code = r"([A-Z][A-Z0-9]*(?:_[A-Z0-9]+)+)";
    let raised = Regex::new(&format!(
        r#"(?:ApiError::\w+|JobError::\w+|Failure::\w+|Problem::new|\w+Error::\w+|ErrorEnvelope::new|conflict|refuse\w*)\(\s*(?:[\w:&.]+,\s*)?"{code}"|"code"\s*:\s*"{code}"|\bcode:\s*"{code}"|pub const [A-Z_]+: &str = "{code}"|=> "{code}""#
    ))
    .unwrap();
    let mut files = Vec::new();
    for dir in [
        "api/src",
        "shared/src",
        "shared/publishing/src",
        "worker/src",
    ] {
        rust_files(&repository().join(dir), &mut files);
    }
    let mut codes = BTreeSet::new();
    for file in files {
        let shown = file.to_string_lossy().replace('\\', "/");
        // The fakes' answers are the platforms' codes, not Almanac's.
        if shown.contains("/src/sandbox/") || shown.ends_with("/fake.rs") {
            continue;
        }
        let source = without_comments(&std::fs::read_to_string(&file).unwrap());
        for found in raised.captures_iter(&source) {
            let found = found.iter().skip(1).flatten().next().unwrap().as_str();
            codes.insert(found.to_owned());
        }
    }
    codes
}

/// Words in those positions that are not refusals: a plan's notes, the flags' names and
/// TikTok's privacy levels (matched on as `=> "..."`).
const NOT_REFUSALS: [&str; 8] = [
    "FIRST_MEDIA_ONLY",
    "FIRST_COMMENT_LEFT_OUT",
    "CALENDAR_SERVICE_ENABLED",
    "PUBLISH_SERVICE_ENABLED",
    "FOLLOWER_OF_CREATOR",
    "MUTUAL_FOLLOW_FRIENDS",
    "PUBLIC_TO_EVERYONE",
    "SELF_ONLY",
];

#[test]
fn every_code_the_source_raises_is_in_the_documented_catalogue() {
    let documented = documented_codes();
    let raised = raised_codes();
    assert!(raised.len() > 100, "the scan found {} codes", raised.len());
    let missing: Vec<&String> = raised
        .iter()
        .filter(|code| !documented.contains(*code) && !NOT_REFUSALS.contains(&code.as_str()))
        .collect();
    assert!(
        missing.is_empty(),
        "raised but not in the catalogue (api/src/error_codes.rs): {missing:?}"
    );
}
