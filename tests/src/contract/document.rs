//! The committed OpenAPI document matches what the code generates; the route handlers hold
//! no SQL; every dependency a crate declares is used. (Which statuses each operation
//! documents is `statuses.rs`.)

#[test]
fn committed_openapi_document_is_current() {
    let generated = almanac_api::openapi_yaml();
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../docs/api/openapi.yaml");
    let committed = std::fs::read_to_string(path).unwrap_or_default();
    assert!(
        committed == generated,
        "docs/api/openapi.yaml is out of date: run `make openapi` and commit the result"
    );
}

/// The served document is valid OpenAPI 3.0 to a strict validator (openapi-spec-validator,
/// pinned, installed by `make test-deps`), as generators and validators read it: a keyword
/// 3.0 does not have (`propertyNames`) fails it.
#[tokio::test]
async fn the_served_document_passes_a_strict_openapi_validator() {
    let app = crate::helpers::spawn_app_with(crate::helpers::TestOptions {
        worker: false,
        ..Default::default()
    })
    .await;
    let served = app
        .client
        .get(app.url("/openapi.json"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let validator = std::env::var("ALMANAC_OPENAPI_VALIDATOR").unwrap_or_else(|_| {
        let home = std::env::var("HOME").unwrap_or_default();
        format!("{home}/.cache/almanac-openapi-venv/bin/openapi-spec-validator")
    });
    let validate = |document: &str| {
        let file =
            std::env::temp_dir().join(format!("almanac-openapi-{}.json", uuid::Uuid::new_v4()));
        std::fs::write(&file, document).unwrap();
        let output = std::process::Command::new(&validator)
            .args(["--schema", "3.0"])
            .arg(&file)
            .output()
            .expect("openapi-spec-validator runs (`make test-deps` installs it)");
        std::fs::remove_file(&file).ok();
        output
    };
    let output = validate(&served);
    assert!(
        output.status.success(),
        "the served document is not valid OpenAPI 3.0:\n{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    // The validator refuses what 3.0 does not have.
    let mut document: serde_json::Value = serde_json::from_str(&served).unwrap();
    document["components"]["schemas"]["CalendarRequest"]["properties"]["constraints"]["propertyNames"] =
        serde_json::json!({ "pattern": "^[^\\u0000]*$" });
    assert!(!validate(&document.to_string()).status.success());
}

/// Whether a pattern (JSON Schema's: it may match anywhere in the string) refuses every
/// string holding U+0000: anchored at both ends, with no class or literal that matches it.
fn refuses_nul(pattern: &str) -> bool {
    use regex_syntax::hir::{Class, Hir, HirKind, Look};
    fn matches_nul(hir: &Hir) -> bool {
        match hir.kind() {
            HirKind::Empty | HirKind::Look(_) => false,
            HirKind::Literal(literal) => literal.0.contains(&0),
            // Ranges are sorted and U+0000 is the least character: only a first range can
            // hold it.
            HirKind::Class(Class::Unicode(class)) => {
                class.ranges().first().is_some_and(|r| r.start() == '\0')
            }
            HirKind::Class(Class::Bytes(class)) => {
                class.ranges().first().is_some_and(|r| r.start() == 0)
            }
            HirKind::Repetition(repetition) => matches_nul(&repetition.sub),
            HirKind::Capture(capture) => matches_nul(&capture.sub),
            HirKind::Concat(parts) | HirKind::Alternation(parts) => parts.iter().any(matches_nul),
        }
    }
    let hir = regex_syntax::Parser::new()
        .parse(pattern)
        .unwrap_or_else(|e| panic!("`{pattern}` does not parse: {e}"));
    let properties = hir.properties();
    properties.look_set_prefix().contains(Look::Start)
        && properties.look_set_suffix().contains(Look::End)
        && !matches_nul(&hir)
}

/// Every string the document describes excludes U+0000 (the server refuses it everywhere):
/// each `type: string` without `enum` or `format` has a pattern that refuses it, and each
/// free-form object (a value of any shape, or keys the client chooses) refuses it in its
/// keys and says so.
#[test]
fn every_string_of_the_document_excludes_nul() {
    use serde_json::Value;
    assert!(refuses_nul(almanac_api::contract::NO_NUL));
    assert!(refuses_nul(r"^\s*[a-z]+\s*$"));
    for loose in [
        r"[^\s]",
        r"^.*$",
        r"^[\s\S]{3,}$",
        r"^a|b$",
        r"^(x|\u0000)$",
        r"^[^a]*$",
    ] {
        assert!(!refuses_nul(loose), "{loose}");
    }
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../docs/api/openapi.yaml");
    let document: Value = serde_yaml::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    // Where a schema sits: a parameter's, a body's or an answer's, a named one, and those
    // inside a schema.
    let schema_at = regex::Regex::new(
        r"(/schema|/items|/additionalProperties|/properties/[^/]+|^/components/schemas/[^/]+|/(oneOf|anyOf)/[0-9]+)$",
    )
    .unwrap();
    let (mut strings, mut free) = (0, 0);
    let mut stack = vec![("".to_owned(), &document)];
    while let Some((at, node)) = stack.pop() {
        match node {
            Value::Object(map) => {
                let typed = map.get("type").and_then(Value::as_str);
                if typed == Some("string")
                    && !map.contains_key("enum")
                    && !map.contains_key("format")
                {
                    strings += 1;
                    let pattern = map.get("pattern").and_then(Value::as_str);
                    assert!(
                        pattern.is_some_and(refuses_nul),
                        "{at}: a string whose pattern lets U+0000 in: {pattern:?}"
                    );
                }
                let shaped = [
                    "$ref",
                    "allOf",
                    "oneOf",
                    "anyOf",
                    "enum",
                    "properties",
                    "items",
                ]
                .iter()
                .any(|k| map.contains_key(*k));
                let is_schema = schema_at.is_match(&at);
                let free_form = is_schema
                    && !shaped
                    && match typed {
                        None => true,
                        Some("object") => map.contains_key("additionalProperties"),
                        Some(_) => false,
                    };
                assert!(
                    !map.contains_key("propertyNames"),
                    "{at}: `propertyNames` is not OpenAPI 3.0"
                );
                if free_form {
                    free += 1;
                    let said = map["description"].as_str().unwrap_or_default();
                    assert!(said.contains("may not hold U+0000"), "{at}: {said}");
                }
                for (key, value) in map {
                    if !["example", "examples", "default", "enum"].contains(&key.as_str()) {
                        stack.push((format!("{at}/{key}"), value));
                    }
                }
            }
            Value::Array(items) => {
                for (i, item) in items.iter().enumerate() {
                    stack.push((format!("{at}/{i}"), item));
                }
            }
            _ => {}
        }
    }
    assert!(
        strings > 300 && free > 20,
        "{strings} strings, {free} free-form objects seen"
    );
}

/// The SQL lives in `shared/src/store` (and the ledger's modules); route handlers call it.
#[test]
fn route_handlers_hold_no_sql() {
    let statement = regex::Regex::new(r#"(?i)"\s*(select|insert|update|delete|with)\s"#).unwrap();
    let mut dirs = vec![std::path::PathBuf::from(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../api/src/routes"
    ))];
    let mut files = 0;
    while let Some(dir) = dirs.pop() {
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                dirs.push(path);
                continue;
            }
            files += 1;
            let source = std::fs::read_to_string(&path).unwrap();
            for (number, line) in source.lines().enumerate() {
                assert!(
                    !line.contains("sqlx::query") && !statement.is_match(line),
                    "{}:{}: SQL in a route handler: {line}",
                    path.display(),
                    number + 1
                );
            }
        }
    }
    assert!(files >= 10, "read {files} files");
}

/// Every dependency of a crate's manifest is named in its sources (a crate kept only for a
/// feature of another would be named here with the reason).
#[test]
fn every_declared_dependency_is_used() {
    let root = concat!(env!("CARGO_MANIFEST_DIR"), "/..");
    // The keys of `[dependencies]` and `[dev-dependencies]` (`name = ...`, `name.workspace`).
    let key = regex::Regex::new(r"^([A-Za-z0-9_-]+)\s*[=.]").unwrap();
    for krate in ["api", "worker", "shared", "shared/publishing", "tests"] {
        let manifest = std::fs::read_to_string(format!("{root}/{krate}/Cargo.toml")).unwrap();
        let mut sources = String::new();
        let mut dirs = vec![std::path::PathBuf::from(format!("{root}/{krate}/src"))];
        while let Some(dir) = dirs.pop() {
            for entry in std::fs::read_dir(&dir).unwrap() {
                let path = entry.unwrap().path();
                if path.is_dir() {
                    dirs.push(path);
                } else if path.extension().is_some_and(|e| e == "rs") {
                    sources.push_str(&std::fs::read_to_string(&path).unwrap());
                }
            }
        }
        let mut in_dependencies = false;
        let mut declared = 0;
        for line in manifest.lines() {
            if line.starts_with('[') {
                in_dependencies = matches!(line.trim(), "[dependencies]" | "[dev-dependencies]");
                continue;
            }
            if let Some(name) = key
                .captures(line)
                .filter(|_| in_dependencies)
                .map(|c| c[1].to_owned())
            {
                declared += 1;
                let ident = regex::Regex::new(&format!(r"\b{}\b", name.replace('-', "_"))).unwrap();
                assert!(
                    ident.is_match(&sources),
                    "{krate}/Cargo.toml declares `{name}`, which {krate}/src never names: remove it"
                );
            }
        }
        assert!(declared > 3, "{krate}/Cargo.toml: no dependencies read");
    }
}
