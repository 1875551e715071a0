//! The settings' reading: defaults, refusals in one line naming the variable, secrets.

use super::*;
use std::collections::HashMap;

/// Settings from `pairs`, on a development machine unless `ALMANAC_DEV` is among them.
fn settings(pairs: &[(&str, &str)]) -> anyhow::Result<Settings> {
    let mut map: HashMap<String, String> = pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    map.entry("ALMANAC_DEV".into()).or_insert("true".into());
    Settings::from_lookup(move |k| map.get(k).cloned())
}

const STRONG: &str = "9f1c4be07a5d3e2816c0b4f9a7e3d5c1";

#[test]
fn outside_development_secrets_must_be_strong() {
    let production = |pairs: &[(&str, &str)]| {
        let mut all = vec![("DATABASE_URL", "x"), ("ALMANAC_DEV", "false")];
        all.extend_from_slice(pairs);
        settings(&all).map(|_| ()).map_err(|e| e.to_string())
    };
    let refused = production(&[]).unwrap_err();
    assert!(refused.starts_with("JWT_SECRET: required"), "{refused}");
    assert!(!refused.contains('\n'));
    for (secret, why) in [
        ("short", "must be at least 32 bytes long"),
        (
            "change-me-change-me-change-me-change-me",
            "is a placeholder",
        ),
        (DEV_JWT_SECRET, "is a placeholder"),
        (
            "your-super-secret-jwt-token-with-at-least-32-characters-long",
            "is a placeholder",
        ),
        (
            "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
            "is not random enough",
        ),
    ] {
        let refused = production(&[("JWT_SECRET", secret)]).unwrap_err();
        assert!(
            refused.starts_with(&format!("JWT_SECRET: {why}")),
            "{secret}: {refused}"
        );
        assert!(!refused.contains(secret), "the secret is not printed");
    }
    assert_eq!(production(&[("JWT_SECRET", STRONG)]), Ok(()));
    let refused = production(&[
        ("JWT_SECRET", STRONG),
        ("ADMIN_TOKEN", "change-me-change-me-change-me-change-me"),
    ])
    .unwrap_err();
    assert!(
        refused.starts_with("ADMIN_TOKEN: is a placeholder"),
        "{refused}"
    );
    let refused = production(&[("JWT_SECRET", STRONG), ("METRICS_TOKEN", "short")]).unwrap_err();
    assert!(
        refused.starts_with("METRICS_TOKEN: must be at least 32"),
        "{refused}"
    );
    // deploy/k8s once shipped this key: base64 of `change-me-change-me-change-me-01`.
    let placeholder_key = "Y2hhbmdlLW1lLWNoYW5nZS1tZS1jaGFuZ2UtbWUtMDE=";
    let zero_key = "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=";
    for key in [placeholder_key, zero_key] {
        let refused = production(&[
            ("JWT_SECRET", STRONG),
            ("PUBLISH_SERVICE_ENABLED", "true"),
            ("TOKEN_ENCRYPTION_KEY", key),
        ])
        .unwrap_err();
        assert!(
            refused.starts_with("TOKEN_ENCRYPTION_KEY: is "),
            "{refused}"
        );
    }
    // Unused while publishing is off.
    assert_eq!(
        production(&[("JWT_SECRET", STRONG), ("TOKEN_ENCRYPTION_KEY", zero_key)]),
        Ok(())
    );
    let good_key = TokenKey::generate();
    assert_eq!(
        production(&[
            ("JWT_SECRET", STRONG),
            ("PUBLISH_SERVICE_ENABLED", "true"),
            ("TOKEN_ENCRYPTION_KEY", &good_key),
        ]),
        Ok(())
    );
}

#[test]
fn a_key_picks_the_provider_when_none_is_named() {
    let provider = |pairs: &[(&str, &str)]| {
        let mut all = vec![("DATABASE_URL", "x")];
        all.extend_from_slice(pairs);
        let s = settings(&all).unwrap();
        (s.ai.provider, s.ai.api_key.map(|k| k.expose().to_owned()))
    };
    assert_eq!(provider(&[]), (AiProviderKind::Offline, None));
    assert_eq!(
        provider(&[("OPENROUTER_API_KEY", "or-key")]),
        (AiProviderKind::OpenAi, Some("or-key".into()))
    );
    assert_eq!(
        provider(&[("OPENROUTER_API_KEY", "or-key"), ("AI_API_KEY", "ai-key")]),
        (AiProviderKind::OpenAi, Some("ai-key".into()))
    );
    assert_eq!(
        provider(&[("AI_PROVIDER", "offline"), ("AI_API_KEY", "ai-key")]).0,
        AiProviderKind::Offline
    );
    let s = settings(&[("DATABASE_URL", "x"), ("OPENROUTER_API_KEY", "k")]).unwrap();
    assert_eq!(s.ai.base_url, "https://openrouter.ai/api/v1");
}

#[test]
fn a_development_machine_may_use_the_development_secret() {
    let s = settings(&[("DATABASE_URL", "x")]).unwrap();
    assert!(s.dev);
    assert_eq!(s.jwt_secret.expose(), DEV_JWT_SECRET);
    let s = settings(&[("DATABASE_URL", "x"), ("JWT_SECRET", "short")]).unwrap();
    assert_eq!(s.jwt_secret.expose(), "short");
}

#[test]
fn defaults_apply_when_only_the_database_is_given() {
    let s = settings(&[("DATABASE_URL", "postgres://x/y")]).unwrap();
    assert_eq!(s.api_addr.to_string(), "127.0.0.1:8080");
    assert_eq!(s.ai.provider, AiProviderKind::Offline);
    assert_eq!(s.rate_limits.generations.limit, 5);
    assert_eq!(s.rate_limits.calendars.limit, 20);
    assert_eq!(s.rate_limits.syntheses.window, Duration::from_secs(600));
    assert_eq!(s.ai.timeout, Duration::from_secs(30));
}

#[test]
fn errors_name_the_variable_in_one_line() {
    let err = settings(&[]).unwrap_err().to_string();
    assert_eq!(err, "DATABASE_URL: required but not set");
    let err = settings(&[("DATABASE_URL", "x"), ("API_ADDR", "nope")])
        .unwrap_err()
        .to_string();
    assert!(err.starts_with("API_ADDR: cannot parse `nope`"), "{err}");
    assert!(!err.contains('\n'));
    let err = settings(&[("DATABASE_URL", "x"), ("AI_PROVIDER", "openai")])
        .unwrap_err()
        .to_string();
    assert_eq!(
        err,
        "AI_API_KEY: required when AI_PROVIDER=openai (or OPENROUTER_API_KEY)"
    );
    let err = settings(&[("DATABASE_URL", "x"), ("REDIS_PREFIX", "a:b")])
        .unwrap_err()
        .to_string();
    assert!(err.starts_with("REDIS_PREFIX:"), "{err}");
}

#[test]
fn by_default_a_crashed_workers_jobs_run_again_within_fifteen_seconds() {
    let s = settings(&[("DATABASE_URL", "x")]).unwrap();
    assert!(s.jobs.recovery_bound() <= Duration::from_secs(15));
    assert!(s.jobs.stale_after >= s.jobs.heartbeat * 2);
}

#[test]
fn job_settings_are_checked_against_each_other() {
    let err = settings(&[
        ("DATABASE_URL", "x"),
        ("JOB_HEARTBEAT_MS", "5000"),
        ("JOB_STALE_MS", "8000"),
    ])
    .unwrap_err()
    .to_string();
    assert_eq!(err, "JOB_STALE_MS: must be at least twice JOB_HEARTBEAT_MS");
    let err = settings(&[("DATABASE_URL", "x"), ("RECONCILE_INTERVAL_MS", "0")])
        .unwrap_err()
        .to_string();
    assert_eq!(err, "RECONCILE_INTERVAL_MS: must be greater than 0");
    assert!(
        settings(&[
            ("DATABASE_URL", "x"),
            ("JOB_HEARTBEAT_MS", "100"),
            ("JOB_STALE_MS", "200"),
        ])
        .is_ok()
    );
}

#[test]
fn publishing_needs_the_token_key() {
    let err = settings(&[("DATABASE_URL", "x"), ("PUBLISH_SERVICE_ENABLED", "true")])
        .unwrap_err()
        .to_string();
    assert!(
        err.starts_with("TOKEN_ENCRYPTION_KEY: required when PUBLISH_SERVICE_ENABLED=true"),
        "{err}"
    );
    let err = settings(&[("DATABASE_URL", "x"), ("TOKEN_ENCRYPTION_KEY", "c2hvcnQ=")])
        .unwrap_err()
        .to_string();
    assert_eq!(err, "TOKEN_ENCRYPTION_KEY: expected 32 bytes, got 5");
    let key = TokenKey::generate();
    let s = settings(&[
        ("DATABASE_URL", "x"),
        ("PUBLISH_SERVICE_ENABLED", "true"),
        ("TOKEN_ENCRYPTION_KEY", key.as_str()),
    ])
    .unwrap();
    assert!(s.publish.enabled);
    assert_eq!(s.publish.confirm_window, Duration::from_secs(1800));
    assert!(!format!("{s:?}").contains(&key));
}

#[test]
fn secrets_are_not_printed() {
    let s = settings(&[("DATABASE_URL", "postgres://user:hunter2@h/d")]).unwrap();
    let printed = format!("{s:?}");
    assert!(!printed.contains("hunter2"));
    assert!(!printed.contains(DEV_JWT_SECRET));
    let token = "admin-token-admin-token-admin-token-0001";
    let s = settings(&[("DATABASE_URL", "x"), ("ADMIN_TOKEN", token)]).unwrap();
    assert!(!format!("{s:?}").contains(token));
    let err = settings(&[
        ("DATABASE_URL", "x"),
        ("ALMANAC_DEV", "false"),
        ("JWT_SECRET", STRONG),
        ("ADMIN_TOKEN", "short"),
    ])
    .unwrap_err()
    .to_string();
    assert!(err.starts_with("ADMIN_TOKEN: must be at least 32"), "{err}");
}

#[test]
fn the_development_sign_in_needs_a_development_machine() {
    let refused = settings(&[
        ("DATABASE_URL", "x"),
        ("ALMANAC_DEV", "false"),
        ("JWT_SECRET", STRONG),
        ("DEV_LOGIN", "true"),
    ])
    .unwrap_err()
    .to_string();
    assert!(
        refused.starts_with("DEV_LOGIN=true needs ALMANAC_DEV=true"),
        "{refused}"
    );
    assert!(!refused.contains('\n'), "one line: {refused}");
    let dev = settings(&[("DATABASE_URL", "x"), ("DEV_LOGIN", "true")]).unwrap();
    assert!(dev.dev_login);
}

#[test]
fn the_sandbox_needs_a_development_machine_and_points_the_platforms_at_the_api() {
    let refused = settings(&[
        ("DATABASE_URL", "x"),
        ("ALMANAC_DEV", "false"),
        ("JWT_SECRET", STRONG),
        ("PLATFORM_SANDBOX", "true"),
    ])
    .unwrap_err()
    .to_string();
    assert!(
        refused.starts_with("PLATFORM_SANDBOX=true needs ALMANAC_DEV=true"),
        "{refused}"
    );
    assert!(!refused.contains('\n'), "one line: {refused}");
    let unbound = settings(&[
        ("DATABASE_URL", "x"),
        ("API_ADDR", "127.0.0.1:0"),
        ("PLATFORM_SANDBOX", "true"),
    ])
    .unwrap_err()
    .to_string();
    assert!(unbound.contains("set API_ADDR with a port"), "{unbound}");

    let sandbox = settings(&[
        ("DATABASE_URL", "x"),
        ("API_ADDR", "127.0.0.1:8085"),
        ("PLATFORM_SANDBOX", "true"),
    ])
    .unwrap()
    .publish;
    // Each platform's addresses under it: `almanac-publishing`'s platforms' tests.
    assert_eq!(
        sandbox.sandbox.as_deref(),
        Some("http://127.0.0.1:8085/sandbox")
    );
    let real = settings(&[("DATABASE_URL", "x")]).unwrap().publish;
    assert_eq!(real.sandbox, None);
}
