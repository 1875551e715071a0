//! The deployment files parse, and the alert rules watch metrics the code emits.

use std::{collections::BTreeSet, fs, path::Path};

fn root() -> &'static Path {
    Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/.."))
}

fn yaml(path: &str) -> serde_yaml::Value {
    let text = fs::read_to_string(root().join(path)).unwrap_or_else(|e| panic!("{path}: {e}"));
    serde_yaml::from_str(&text).unwrap_or_else(|e| panic!("{path} is not valid YAML: {e}"))
}

#[test]
fn compose_runs_two_apis_and_three_workers_on_shared_state() {
    let compose = yaml("deploy/docker-compose.yml");
    let services = &compose["services"];
    assert_eq!(services["api"]["deploy"]["replicas"], 2);
    assert_eq!(services["worker"]["deploy"]["replicas"], 3);
    for name in [
        "postgres",
        "redis",
        "migrate",
        "otel-collector",
        "prometheus",
    ] {
        assert!(services.get(name).is_some(), "compose lacks {name}");
    }
    // Redis is transport only: no persistence, as docs/architecture.md section 1 says.
    let redis_command = format!("{:?}", services["redis"]["command"]);
    assert!(redis_command.contains("--appendonly") && redis_command.contains("\"no\""));
}

/// Metric names the code registers (the first string argument of `metrics::*!`).
fn emitted_metrics() -> BTreeSet<String> {
    let mut names = BTreeSet::new();
    let mut stack = vec![
        root().join("api/src"),
        root().join("worker/src"),
        root().join("shared/src"),
    ];
    while let Some(dir) = stack.pop() {
        for entry in fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                stack.push(path);
            } else if path.extension().is_some_and(|e| e == "rs") {
                let text = fs::read_to_string(&path).unwrap();
                for macro_call in [
                    "metrics::counter!(\"",
                    "metrics::gauge!(\"",
                    "metrics::histogram!(\"",
                ] {
                    for part in text.split(macro_call).skip(1) {
                        names.insert(part.split('"').next().unwrap().to_owned());
                    }
                }
            }
        }
    }
    names
}

#[test]
fn alert_rules_watch_metrics_that_exist() {
    let emitted = emitted_metrics();
    assert!(emitted.contains("jobs_total"), "{emitted:?}");
    let rules = yaml("deploy/alerts.yml");
    let mut checked = 0;
    for group in rules["groups"].as_sequence().unwrap() {
        for rule in group["rules"].as_sequence().unwrap() {
            let expr = rule["expr"].as_str().unwrap();
            let words = expr.split(|c: char| !(c.is_ascii_alphanumeric() || c == '_'));
            for word in words
                .filter(|w| w.ends_with("_total") || w.ends_with("_bucket") || *w == "queue_depth")
            {
                let name = word.trim_end_matches("_bucket");
                assert!(
                    emitted.contains(name),
                    "alert {:?} uses {name}, which no code emits",
                    rule["alert"]
                );
                checked += 1;
            }
        }
    }
    assert!(checked >= 8, "only {checked} metric references checked");
    let prometheus = yaml("deploy/prometheus.yml");
    assert_eq!(prometheus["rule_files"][0], "/etc/prometheus/alerts.yml");
    yaml("deploy/otel-collector.yaml");
}
