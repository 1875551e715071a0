//! The web app's contract with the API, held: every path the app's scripts call is one the
//! OpenAPI document (`docs/api/openapi.yaml`) has, with the method the call uses, except
//! the app's own `/app/*` routes, which stay out of the document and are held to
//! [`APP_ROUTES`]; the two catalogues (`en.json`, `fr.json`) hold the same keys, and every
//! key the code names literally exists.

use std::collections::{BTreeMap, BTreeSet};

use super::{lengths::regex_may_start, repository};

/// The app's own routes (served beside the API, not part of its document): path, methods.
const APP_ROUTES: &[(&str, &[&str])] = &[
    ("/app/session", &["GET", "POST", "DELETE"]),
    ("/app/dev-login", &["POST"]),
    ("/app/", &["GET"]),
    ("/app/sign-in", &["POST"]),
    ("/app/sign-in/{}", &["GET", "POST"]),
    ("/app/oidc/start", &["GET"]),
    ("/app/oidc/callback", &["GET"]),
    ("/app/dev-outbox", &["GET"]),
    ("/app/admin-session", &["POST", "DELETE"]),
    ("/app/config.json", &["GET"]),
    ("/app/i18n/{}.json", &["GET"]),
];

/// Where a `${…}` stood in a template literal.
const HOLE: char = '\u{1}';

/// A string or template literal of a script: where it starts, and its text (a template's
/// `${…}` as [`HOLE`]).
struct Literal {
    at: usize,
    text: String,
}

/// The string and template literals of a script, comments and regular expressions passed,
/// and the script's code around them (each literal as `s`, each regular expression as `r`;
/// a literal's `at` is its offset in it): what stands before a literal says how it is used.
fn literals(source: &str) -> (Vec<Literal>, String) {
    let chars: Vec<char> = source.chars().collect();
    let mut found = Vec::new();
    let mut code = String::new();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        let next = chars.get(i + 1).copied();
        if c == '/' && next == Some('/') {
            while i < chars.len() && chars[i] != '\n' {
                i += 1;
            }
        } else if c == '/' && next == Some('*') {
            while !(chars[i] == '*' && chars.get(i + 1) == Some(&'/')) {
                i += 1;
            }
            i += 2;
        } else if c == '/' && regex_may_start(&code) {
            let mut class = false;
            i += 1;
            while class || chars[i] != '/' {
                match chars[i] {
                    '\\' => i += 1,
                    '[' => class = true,
                    ']' => class = false,
                    _ => {}
                }
                i += 1;
            }
            i += 1;
            code.push('r');
        } else if c == '"' || c == '\'' || c == '`' {
            let at = code.len();
            let mut text = String::new();
            i += 1;
            while chars[i] != c {
                if chars[i] == '\\' {
                    i += 1;
                    text.push(chars[i]);
                } else if c == '`' && chars[i] == '$' && chars.get(i + 1) == Some(&'{') {
                    // Skip the hole's code, nested braces and templates included.
                    let mut depth = 0;
                    i += 1;
                    loop {
                        match chars[i] {
                            '{' => depth += 1,
                            '}' => {
                                depth -= 1;
                                if depth == 0 {
                                    break;
                                }
                            }
                            '`' => {
                                i += 1;
                                while chars[i] != '`' {
                                    i += 1;
                                }
                            }
                            _ => {}
                        }
                        i += 1;
                    }
                    text.push(HOLE);
                } else {
                    text.push(chars[i]);
                }
                i += 1;
            }
            i += 1;
            code.push('s');
            found.push(Literal { at, text });
        } else {
            code.push(c);
            i += 1;
        }
    }
    (found, code)
}

/// Whether `before` ends in a call of `function` (`api(`, not `xapi(` or `a.api(`).
fn calls_function(before: &str, function: &str) -> bool {
    before
        .strip_suffix(&format!("{function}("))
        .is_some_and(|head| {
            !head
                .chars()
                .last()
                .is_some_and(|c| c.is_alphanumeric() || c == '_' || c == '.' || c == '$')
        })
}

/// A called path with its method, when the call says it (`api("PATCH", …)`, a download or
/// an event stream: `GET`, an NDJSON request: `POST`).
#[derive(Debug)]
struct Call {
    file: String,
    method: Option<String>,
    /// The path's segments, a hole standing for a whole segment as `{}`.
    path: String,
}

/// The API paths the scripts name.
fn calls() -> Vec<Call> {
    let dir = repository().join("api/web/js");
    let mut found = Vec::new();
    let mut files: Vec<_> = Vec::new();
    collect(&dir, &mut files);
    for file in files {
        let source = std::fs::read_to_string(&file).unwrap();
        let name = file
            .strip_prefix(repository())
            .unwrap()
            .to_string_lossy()
            .into_owned();
        let (literals, code) = literals(&source);
        for (index, literal) in literals.iter().enumerate() {
            let text = &literal.text;
            if !["/v1/", "/api/", "/app/"]
                .iter()
                .any(|p| text.starts_with(p))
            {
                continue;
            }
            let before = code[..literal.at].trim_end();
            let method = if before
                .strip_suffix("s,")
                .is_some_and(|head| calls_function(head, "api"))
            {
                Some(literals[index - 1].text.clone())
            } else if ["download", "EventSource"]
                .iter()
                .any(|function| calls_function(before, function))
            {
                Some("GET".to_owned())
            } else if calls_function(before, "ndjson") {
                Some("POST".to_owned())
            } else {
                None
            };
            found.push(Call {
                file: name.clone(),
                method,
                path: normalise(text),
            });
        }
    }
    found
}

fn collect(dir: &std::path::Path, found: &mut Vec<std::path::PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            collect(&path, found);
        } else if path.extension().is_some_and(|e| e == "js") {
            found.push(path);
        }
    }
}

/// A path as the document writes a template: no query, a hole that is a whole segment as
/// `{}`, one that ends a segment (a query built apart) dropped.
fn normalise(text: &str) -> String {
    let path = text.split('?').next().unwrap();
    path.split('/')
        .map(|segment| {
            if segment.chars().all(|c| c == HOLE) && !segment.is_empty() {
                "{}".to_owned()
            } else {
                // A hole after a segment's text is a query built apart (`events${query}`).
                segment.trim_end_matches(HOLE).replace(HOLE, "{}")
            }
        })
        .collect::<Vec<_>>()
        .join("/")
}

/// The document's paths (parameters as `{}`) with their methods.
fn documented() -> BTreeMap<String, BTreeSet<String>> {
    let text = std::fs::read_to_string(repository().join("docs/api/openapi.yaml")).unwrap();
    let document: serde_yaml::Value = serde_yaml::from_str(&text).unwrap();
    document["paths"]
        .as_mapping()
        .unwrap()
        .iter()
        .map(|(path, item)| {
            let path = path
                .as_str()
                .unwrap()
                .split('/')
                .map(|s| if s.starts_with('{') { "{}" } else { s })
                .collect::<Vec<_>>()
                .join("/");
            let methods = item
                .as_mapping()
                .unwrap()
                .keys()
                .map(|m| m.as_str().unwrap().to_ascii_uppercase())
                .collect();
            (path, methods)
        })
        .collect()
}

/// Whether the app's path `called` is the route `route` (a `{}` of the route matches
/// any one segment; a segment the app builds whole, `{}`, matches a parameter only).
fn matches(route: &str, called: &str) -> bool {
    let (route, called): (Vec<_>, Vec<_>) =
        (route.split('/').collect(), called.split('/').collect());
    route.len() == called.len() && route.iter().zip(&called).all(|(r, c)| r == c || *r == "{}")
}

/// What is wrong with each call: a path no route has, or a method its route lacks.
fn problems(calls: &[Call], routes: &BTreeMap<String, BTreeSet<String>>) -> Vec<String> {
    let app: BTreeMap<String, BTreeSet<String>> = APP_ROUTES
        .iter()
        .map(|(path, methods)| {
            (
                path.to_string(),
                methods.iter().map(|m| m.to_string()).collect(),
            )
        })
        .collect();
    let mut wrong = Vec::new();
    for call in calls {
        let table = if call.path.starts_with("/app/") {
            &app
        } else {
            routes
        };
        let route = table
            .iter()
            .filter(|(route, _)| matches(route, &call.path))
            // The most literal route wins (`/v1/channels/{}/connect` over `/v1/channels/{}/{}`).
            .max_by_key(|(route, _)| route.matches("{}").count() == 0);
        match (route, &call.method) {
            (None, _) => wrong.push(format!("{}: {} is not a route", call.file, call.path)),
            (Some((route, methods)), Some(method)) if !methods.contains(method) => {
                wrong.push(format!(
                    "{}: {method} {} ({route} takes {methods:?})",
                    call.file, call.path
                ))
            }
            _ => {}
        }
    }
    wrong
}

#[test]
fn every_call_of_the_web_app_is_a_route_of_the_document_with_its_method() {
    let calls = calls();
    assert!(calls.len() > 60, "{} calls found", calls.len());
    assert!(
        calls.iter().filter(|c| c.method.is_some()).count() > 50,
        "{calls:?}"
    );
    let routes = documented();
    let wrong = problems(&calls, &routes);
    assert!(
        wrong.is_empty(),
        "calls the API does not have:\n{}",
        wrong.join("\n")
    );
    // The document holds none of the app's own routes.
    for (path, _) in APP_ROUTES {
        assert!(!routes.keys().any(|route| matches(route, path)), "{path}");
    }
}

#[test]
fn a_path_renamed_in_the_document_fails_the_contract() {
    let calls = calls();
    let mut routes = documented();
    let moved = routes.remove("/v1/calendars/{}/feed").unwrap();
    routes.insert("/v1/calendars/{}/feeds".into(), moved);
    let wrong = problems(&calls, &routes);
    let feed_calls = calls
        .iter()
        .filter(|c| c.path == "/v1/calendars/{}/feed")
        .count();
    assert!(feed_calls >= 3, "{calls:?}");
    assert_eq!(wrong.len(), feed_calls, "{wrong:?}");
    assert!(
        wrong
            .iter()
            .all(|w| w.ends_with("/v1/calendars/{}/feed is not a route")),
        "{wrong:?}"
    );
    // A method taken away: each call with it is refused.
    let mut routes = documented();
    routes.get_mut("/v1/webhooks/{}").unwrap().remove("PATCH");
    let patches = calls
        .iter()
        .filter(|c| c.path == "/v1/webhooks/{}" && c.method.as_deref() == Some("PATCH"))
        .count();
    assert!(patches >= 1, "{calls:?}");
    assert_eq!(problems(&calls, &routes).len(), patches);
}

/// A catalogue's keys.
fn catalogue(language: &str) -> BTreeSet<String> {
    let path = repository().join(format!("api/web/i18n/{language}.json"));
    let text = std::fs::read_to_string(path).unwrap();
    let map: BTreeMap<String, serde_json::Value> = serde_json::from_str(&text).unwrap();
    map.into_keys().collect()
}

#[test]
fn both_catalogues_hold_the_same_keys_and_every_key_the_code_names_exists() {
    let english = catalogue("en");
    let french = catalogue("fr");
    assert!(english.len() > 300, "{}", english.len());
    let only: Vec<_> = english.symmetric_difference(&french).collect();
    assert!(only.is_empty(), "keys in one catalogue only: {only:?}");

    let mut named = Vec::new();
    let mut files = Vec::new();
    collect(&repository().join("api/web/js"), &mut files);
    for file in files {
        let source = std::fs::read_to_string(&file).unwrap();
        let (literals, code) = literals(&source);
        for literal in &literals {
            let before = code[..literal.at].trim_end();
            if calls_function(before, "t") || calls_function(before, "has") {
                let name = file.strip_prefix(repository()).unwrap().to_path_buf();
                named.push((name, literal.text.clone()));
            }
        }
    }
    let html = std::fs::read_to_string(repository().join("api/web/index.html")).unwrap();
    for attribute in ["data-i18n=\"", "data-i18n-label=\""] {
        for (at, _) in html.match_indices(attribute) {
            let rest = &html[at + attribute.len()..];
            named.push((
                "api/web/index.html".into(),
                rest[..rest.find('"').unwrap()].to_owned(),
            ));
        }
    }
    assert!(named.len() > 300, "{} keys named", named.len());
    let missing: Vec<_> = named
        .iter()
        .filter(|(_, key)| match key.split_once(HOLE) {
            // A key built from a prefix: some key has the prefix.
            Some((prefix, _)) => !english.iter().any(|k| k.starts_with(prefix)),
            None => !english.contains(key),
        })
        .map(|(file, key)| format!("{}: {}", file.display(), key.replace(HOLE, "${…}")))
        .collect();
    assert!(
        missing.is_empty(),
        "keys named but not in en.json:\n{}",
        missing.join("\n")
    );
}
