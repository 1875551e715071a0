//! The fuzzer gate: Schemathesis (pinned, installed by `make test-deps` into
//! `~/.cache/almanac-fuzz-venv`) against the running API with a valid token (a
//! `service_role` one for the admin operations) and the rate
//! limits raised, every operation, with the fixed seed and example count of
//! `tests/fuzz/schemathesis.toml`. Every answer must be documented (status, content type,
//! headers, schema), no request may get a 500, schema-valid requests must be accepted (or
//! meet a documented 404, 409, 422 or 429) and schema-invalid ones refused, a missing
//! bearer header must be refused, and a method a path does not serve must get 405 with
//! `Allow`.

use uuid::Uuid;

use crate::helpers::{TestOptions, spawn_app_with};

/// The Schemathesis command: `ALMANAC_SCHEMATHESIS`, or the one `make test-deps` installs.
fn schemathesis() -> String {
    std::env::var("ALMANAC_SCHEMATHESIS").unwrap_or_else(|_| {
        let home = std::env::var("HOME").unwrap_or_default();
        format!("{home}/.cache/almanac-fuzz-venv/bin/st")
    })
}

/// The config's operations told not to generate U+0000 are exactly those whose bodies hold
/// a value of any shape, where no schema can keep it out: everywhere else the document's
/// patterns say it, and the fuzzer tries it.
#[test]
fn nul_characters_are_withheld_only_where_no_schema_can_refuse_them() {
    let config = include_str!("../../fuzz/schemathesis.toml");
    let block = regex::Regex::new(
        r#"include-operation-id-regex = "([^"]+)"\ngeneration\.allow-x00 = false"#,
    )
    .unwrap();
    let blocks: Vec<_> = block.captures_iter(config).collect();
    assert_eq!(blocks.len(), 1, "one list of operations without U+0000");
    assert!(
        !config
            .lines()
            .any(|line| line.trim_start().starts_with("allow-x00")),
        "no global allow-x00"
    );
    let listed = regex::Regex::new(&blocks[0][1]).unwrap();
    let spec: serde_json::Value = serde_yaml::from_str(&almanac_api::openapi_yaml()).unwrap();
    let mut withheld: Vec<String> = spec["paths"]
        .as_object()
        .unwrap()
        .values()
        .flat_map(|item| item.as_object().unwrap().values())
        .filter_map(|operation| operation["operationId"].as_str())
        .filter(|id| listed.is_match(id))
        .map(str::to_owned)
        .collect();
    withheld.sort();
    let mut free_form = almanac_api::contract::operations_with_free_form_bodies();
    free_form.sort();
    assert_eq!(withheld, free_form);
}

#[tokio::test]
async fn schemathesis_finds_every_answer_as_the_document_says() {
    let unlimited = || "1000000000".to_owned();
    let app = spawn_app_with(TestOptions {
        env: vec![
            ("GENERATION_RATE_LIMIT", unlimited()),
            ("CALENDAR_RATE_LIMIT", unlimited()),
            ("SYNTHESIS_RATE_LIMIT", unlimited()),
            ("PUBLISH_RATE_LIMIT", unlimited()),
            // Channels store tokens; publishing itself stays off (no outside calls).
            (
                "TOKEN_ENCRYPTION_KEY",
                almanac_shared::crypto::TokenKey::generate(),
            ),
        ],
        ..Default::default()
    })
    .await;
    // Whatever the fuzzer's jobs come to is not this test's concern.
    app.expect_failed_jobs();
    app.expect_unfinished_jobs();
    let config = concat!(env!("CARGO_MANIFEST_DIR"), "/fuzz/schemathesis.toml");
    // Schemathesis keeps a crash cache in its working directory: a scratch one, not the clone.
    let scratch = std::env::temp_dir().join(format!("almanac-fuzz-{}", Uuid::new_v4()));
    std::fs::create_dir_all(&scratch).unwrap();
    let output = tokio::process::Command::new(schemathesis())
        .current_dir(&scratch)
        .args(["--config-file", config, "run", "--no-color"])
        .arg(app.url("/openapi.json"))
        .arg("--header")
        .arg(format!(
            "Authorization: Bearer {}",
            app.token(Uuid::new_v4())
        ))
        // The admin operations are called as the service role (the config's `[[operations]]`).
        .env("ALMANAC_FUZZ_ADMIN_TOKEN", app.service_token())
        .output()
        .await
        .expect("Schemathesis runs (`make test-deps` installs it)");
    std::fs::remove_dir_all(&scratch).ok();
    let report = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "Schemathesis found answers the document does not describe:\n{report}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let spec: serde_json::Value = serde_yaml::from_str(&almanac_api::openapi_yaml()).unwrap();
    let operations: usize = spec["paths"]
        .as_object()
        .unwrap()
        .values()
        .map(|item| item.as_object().unwrap().len())
        .sum();
    assert!(
        report.contains(&format!("{operations} selected / {operations} total")),
        "every operation ({operations}) is fuzzed: {report}"
    );
}
