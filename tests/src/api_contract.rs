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
    for krate in ["api", "worker", "shared", "tests"] {
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
