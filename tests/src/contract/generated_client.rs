//! A client generated from the committed OpenAPI document (`docs/api/openapi.yaml`, by
//! openapi-python-client) runs the flashcard flow against the API and parses every answer
//! into its models (`tests/client/flashcard_flow.py`): a field declared non-null that the
//! server sends as null, or an undocumented status, fails it as it would fail a user.

use uuid::Uuid;

use crate::helpers::spawn_app;

#[tokio::test]
async fn a_generated_python_client_parses_every_answer_of_the_flashcard_flow() {
    let app = spawn_app().await;
    let root = concat!(env!("CARGO_MANIFEST_DIR"), "/..");
    let dir = std::env::temp_dir().join(format!("almanac-client-{}", Uuid::new_v4()));
    std::fs::create_dir_all(&dir).unwrap();
    let generated = tokio::process::Command::new("python3")
        .args([
            "-m",
            "openapi_python_client",
            "generate",
            "--meta",
            "none",
            "--path",
        ])
        .arg(format!("{root}/docs/api/openapi.yaml"))
        .arg("--output-path")
        .arg(dir.join("almanac_client"))
        .output()
        .await
        .expect("python3 runs (make test-deps installs openapi-python-client)");
    assert!(
        generated.status.success(),
        "generating the client failed: {}",
        String::from_utf8_lossy(&generated.stderr)
    );
    let flow = tokio::process::Command::new("python3")
        .arg(format!("{root}/tests/client/flashcard_flow.py"))
        .arg(&dir)
        .arg(&app.address)
        .arg(app.token(Uuid::new_v4()))
        .output()
        .await
        .expect("python3 runs");
    std::fs::remove_dir_all(&dir).ok();
    assert!(
        flow.status.success(),
        "the generated client failed: {}{}",
        String::from_utf8_lossy(&flow.stdout),
        String::from_utf8_lossy(&flow.stderr)
    );
    let out = String::from_utf8_lossy(&flow.stdout);
    for operation in [
        "createGeneration",
        "getGeneration",
        "getJob",
        "listSuggestions",
        "reviewSuggestion",
        "createCard",
        "updateCard",
        "listCards",
        "exportCards",
        "deleteCard",
    ] {
        assert!(out.contains(operation), "{operation} not run: {out}");
    }
}
