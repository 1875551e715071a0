//! `docs/configuration.md` documents every environment variable the code reads, and only
//! those: the settings' (read through a lookup that records each name asked for, in the
//! set-ups that read the conditional ones), each registered platform's, and the few read
//! straight from the environment by the binaries, the tests and the benchmark.

use std::{
    collections::BTreeSet,
    sync::{Arc, Mutex},
};

use super::{repository, rust_files_under, string_literals, without_comments};

/// Set-ups that between them read every variable the settings may ask for: some are read
/// only when another says so (`MEDIA_STORE=s3://`, an email provider, the sandbox, single
/// sign-on).
const SETUPS: [&[(&str, &str)]; 5] = [
    &[],
    &[
        ("PLATFORM_SANDBOX", "true"),
        ("TESTNET_ENABLED", "true"),
        ("API_ADDR", "127.0.0.1:8080"),
        ("PUBLISH_SERVICE_ENABLED", "true"),
        (
            "TOKEN_ENCRYPTION_KEY",
            "q0VgT3JyN2s5V1ZhZ2hUcm9wZXJSYW5kb21LZXkhIT0=",
        ),
    ],
    &[
        ("MEDIA_STORE", "s3://bucket/media"),
        ("EMAIL_PROVIDER", "smtp"),
        ("SMTP_URL", "smtp://localhost:25"),
    ],
    &[
        ("EMAIL_PROVIDER", "resend"),
        ("RESEND_API_KEY", "re_test"),
        ("AI_PROVIDER", "openai"),
        ("AI_API_KEY", "sk-test"),
    ],
    &[
        ("EMAIL_PROVIDER", "outbox"),
        ("OIDC_ISSUER_URL", "https://sso.example.com"),
        ("OIDC_CLIENT_ID", "almanac"),
        ("OIDC_CLIENT_SECRET", "secret"),
    ],
];

/// Names read straight from the environment that are the system's, not Almanac's.
const SYSTEM: [&str; 4] = ["HOME", "PATH", "USER", "LOGNAME"];

/// Every name the settings and the platforms' registry ask for, over [`SETUPS`].
fn read_by_settings() -> BTreeSet<String> {
    let asked = Arc::new(Mutex::new(BTreeSet::new()));
    for setup in SETUPS {
        let record = asked.clone();
        let settings = almanac_shared::Settings::from_lookup(move |key| {
            record.lock().unwrap().insert(key.to_owned());
            setup
                .iter()
                .chain(&[
                    ("DATABASE_URL", "postgres://localhost/none"),
                    ("ALMANAC_DEV", "true"),
                ])
                .find(|(name, _)| *name == key)
                .map(|(_, value)| (*value).to_owned())
        })
        .unwrap_or_else(|error| panic!("settings of {setup:?}: {error:#}"));
        almanac_publishing::Platforms::new(&settings)
            .unwrap_or_else(|error| panic!("platforms of {setup:?}: {error:#}"));
    }
    asked.lock().unwrap().clone()
}

/// Names the Rust code reads itself (`env::var("…")`, `var_os("…")`), and the tests' and
/// benchmark's own (`BENCH_*`, `ALMANAC_*` literals under `tests/src/`).
fn read_directly() -> BTreeSet<String> {
    let root = repository();
    let files = rust_files_under(&[
        "api/src",
        "worker/src",
        "shared/src",
        "shared/publishing/src",
        "tests/src",
    ]);
    let call = regex::Regex::new(r#"\bvar(?:_os)?\("([A-Z_][A-Z0-9_]+)"\)"#).unwrap();
    let own = regex::Regex::new(r"^(?:BENCH|ALMANAC)_[A-Z0-9_]+$").unwrap();
    let mut names = BTreeSet::new();
    for file in files
        .iter()
        .filter(|file| !file.ends_with("configuration.rs"))
    {
        let code = without_comments(&std::fs::read_to_string(file).unwrap());
        names.extend(call.captures_iter(&code).map(|found| found[1].to_owned()));
        if file.starts_with(root.join("tests/src")) {
            let literals = string_literals(&code);
            names.extend(literals.into_iter().filter(|literal| own.is_match(literal)));
        }
    }
    names.retain(|name| !SYSTEM.contains(&name.as_str()));
    names
}

/// The names in the first column of `docs/configuration.md`'s tables (a row may name
/// several, each in backticks).
fn documented() -> BTreeSet<String> {
    let document = std::fs::read_to_string(repository().join("docs/configuration.md")).unwrap();
    let name = regex::Regex::new(r"^`([A-Z_][A-Z0-9_]+)`$").unwrap();
    document
        .lines()
        .filter_map(|line| line.strip_prefix('|'))
        .filter_map(|row| row.split('|').next())
        .flat_map(|first| first.split(',').map(str::trim))
        .filter_map(|cell| name.captures(cell).map(|found| found[1].to_owned()))
        .collect()
}

/// The names the development scripts and the Makefile read (`make run`'s and the tests'
/// set-up), which the document may name beside the code's.
fn read_by_scripts() -> BTreeSet<String> {
    let root = repository();
    let name = regex::Regex::new(r"\$\{?([A-Z_][A-Z0-9_]+)").unwrap();
    let mut texts = vec![std::fs::read_to_string(root.join("Makefile")).unwrap()];
    for entry in std::fs::read_dir(root.join("deploy/dev")).unwrap() {
        texts.push(std::fs::read_to_string(entry.unwrap().path()).unwrap());
    }
    texts
        .iter()
        .flat_map(|text| name.captures_iter(text).map(|found| found[1].to_owned()))
        .collect::<BTreeSet<_>>()
}

#[test]
fn every_variable_the_code_reads_is_documented_in_the_configuration_document() {
    let documented = documented();
    let settings = read_by_settings();
    // Each platform's own variables are among them (read in its folder).
    for platform in ["TIKTOK", "BLUESKY", "YOUTUBE", "TESTNET"] {
        assert!(
            settings.contains(&format!("{platform}_API_BASE_URL")),
            "{platform}'s variables were not read: {settings:?}"
        );
    }
    let read: BTreeSet<String> = settings.union(&read_directly()).cloned().collect();
    let missing: Vec<&String> = read.difference(&documented).collect();
    assert!(
        missing.is_empty(),
        "docs/configuration.md does not document {missing:?}"
    );
    let scripts = read_by_scripts();
    let stale: Vec<&String> = documented
        .iter()
        .filter(|name| !read.contains(*name) && !scripts.contains(*name))
        .collect();
    assert!(
        stale.is_empty(),
        "docs/configuration.md documents variables nothing reads: {stale:?}"
    );
}
