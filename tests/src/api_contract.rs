//! The committed OpenAPI document matches what the code generates, and documents errors.

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

#[test]
fn every_operation_documents_its_errors() {
    let spec: serde_yaml::Value = serde_yaml::from_str(&almanac_api::openapi_yaml()).unwrap();
    let paths = spec["paths"].as_mapping().unwrap();
    for (path, item) in paths {
        for (method, operation) in item.as_mapping().unwrap() {
            let responses = operation["responses"].as_mapping().unwrap();
            let codes: Vec<String> = responses
                .keys()
                .map(|k| k.as_str().unwrap().to_owned())
                .collect();
            let path = path.as_str().unwrap();
            if path.starts_with("/api") || path.starts_with("/v1") {
                for code in ["400", "401", "404", "429", "500", "503"] {
                    assert!(
                        codes.iter().any(|c| c == code),
                        "{method:?} {path} lacks {code}: {codes:?}"
                    );
                }
            }
        }
    }
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
