//! The deployment files: the compose file parses; the alert rules watch metrics the code
//! emits, pass `promtool` (their unit tests have a firing and a quiet case per alert) and
//! link their runbook entries; the Kubernetes manifests validate against the Kubernetes
//! schemas (`kubernetes-validate`), and what the schemas cannot see (kustomizations, KEDA's
//! resource, the autoscaler's metric, probes, grace periods) is checked here.

use std::{
    collections::BTreeSet,
    fs,
    path::{Path, PathBuf},
    process::Command,
};

use serde::Deserialize;
use serde_yaml::Value;

fn root() -> &'static Path {
    Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/.."))
}

fn yaml(path: &str) -> Value {
    let text = fs::read_to_string(root().join(path)).unwrap_or_else(|e| panic!("{path}: {e}"));
    serde_yaml::from_str(&text).unwrap_or_else(|e| panic!("{path} is not valid YAML: {e}"))
}

/// Every document of a multi-document YAML file.
fn documents(path: &Path) -> Vec<Value> {
    let text = fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_yaml::Deserializer::from_str(&text)
        .map(|document| Value::deserialize(document).unwrap())
        .collect()
}

/// Runs a tool of the test set-up (`make test-deps` installs it) in the repository root.
fn run(program: &str, args: &[&str]) -> String {
    let output = Command::new(program)
        .args(args)
        .current_dir(root())
        .output()
        .unwrap_or_else(|e| panic!("{program} runs (`make test-deps` installs it): {e}"));
    let text = String::from_utf8_lossy(&output.stdout).into_owned()
        + &String::from_utf8_lossy(&output.stderr);
    assert!(
        output.status.success(),
        "{program} {args:?} failed:\n{text}"
    );
    text
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
        root().join("shared/publishing/src"),
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
    assert!(checked >= 20, "only {checked} metric references checked");
    let prometheus = yaml("deploy/prometheus.yml");
    assert_eq!(prometheus["rule_files"][0], "/etc/prometheus/alerts.yml");
    yaml("deploy/otel-collector.yaml");
}

/// The alerts of `deploy/alerts.yml`: name and annotations.
fn alerts() -> Vec<(String, Value)> {
    yaml("deploy/alerts.yml")["groups"]
        .as_sequence()
        .unwrap()
        .iter()
        .flat_map(|group| group["rules"].as_sequence().unwrap().clone())
        .map(|rule| {
            (
                rule["alert"].as_str().unwrap().to_owned(),
                rule["annotations"].clone(),
            )
        })
        .collect()
}

#[test]
fn alert_rules_pass_promtool_with_a_firing_and_a_quiet_case_per_alert() {
    let checked = run("promtool", &["check", "rules", "deploy/alerts.yml"]);
    assert!(checked.contains("SUCCESS"), "{checked}");
    let tested = run("promtool", &["test", "rules", "deploy/alerts.test.yml"]);
    assert!(tested.contains("SUCCESS"), "{tested}");
    let tests = yaml("deploy/alerts.test.yml");
    let cases: Vec<(String, bool)> = tests["tests"]
        .as_sequence()
        .unwrap()
        .iter()
        .flat_map(|test| test["alert_rule_test"].as_sequence().unwrap().clone())
        .map(|case| {
            let fires = !case["exp_alerts"].as_sequence().unwrap().is_empty();
            (case["alertname"].as_str().unwrap().to_owned(), fires)
        })
        .collect();
    let alerts = alerts();
    for seed_001 in [
        "AlmanacCalendarStreamErrors",
        "AlmanacPublishFailures",
        "AlmanacPublishFailedAfterDeploy",
        "AlmanacAdapterAuthMissing",
        "AlmanacPublishExportSlow",
    ] {
        assert!(
            alerts.iter().any(|(name, _)| name == seed_001),
            "{seed_001} is missing"
        );
    }
    for (name, _) in &alerts {
        for fires in [true, false] {
            assert!(
                cases.contains(&(name.clone(), fires)),
                "{name} has no {} case in deploy/alerts.test.yml",
                if fires { "firing" } else { "quiet" }
            );
        }
    }
}

#[test]
fn every_alert_links_its_runbook_entry() {
    let runbook = fs::read_to_string(root().join("docs/operations.md")).unwrap();
    // GitHub's anchors: the heading in lower case, spaces as dashes, punctuation dropped.
    let anchors: BTreeSet<String> = runbook
        .lines()
        .filter_map(|line| line.strip_prefix('#'))
        .map(|heading| {
            heading
                .trim_start_matches('#')
                .trim()
                .to_lowercase()
                .chars()
                .filter_map(|c| match c {
                    ' ' => Some('-'),
                    c if c.is_alphanumeric() || c == '-' || c == '_' => Some(c),
                    _ => None,
                })
                .collect()
        })
        .collect();
    for (name, annotations) in alerts() {
        let url = annotations["runbook_url"].as_str().unwrap_or_default();
        let anchor = name.to_lowercase();
        assert_eq!(url, format!("docs/operations.md#{anchor}"), "{name}");
        assert!(
            anchors.contains(&anchor),
            "docs/operations.md has no `{name}` entry"
        );
    }
}

const K8S: &str = "deploy/k8s";

/// The Kubernetes resources (every file of `base/` but its kustomization, and the
/// adapter's rule), by kind and name.
fn k8s_resources() -> (Vec<PathBuf>, Vec<Value>) {
    let mut files: Vec<PathBuf> = fs::read_dir(root().join(K8S).join("base"))
        .unwrap()
        .map(|entry| entry.unwrap().path())
        .filter(|path| path.file_name().unwrap() != "kustomization.yaml")
        .collect();
    files.push(root().join(K8S).join("prometheus-adapter.yaml"));
    files.sort();
    let resources = files.iter().flat_map(|file| documents(file)).collect();
    (files, resources)
}

fn find<'a>(resources: &'a [Value], kind: &str, name: &str) -> &'a Value {
    resources
        .iter()
        .find(|r| r["kind"] == kind && r["metadata"]["name"] == name)
        .unwrap_or_else(|| panic!("no {kind} {name}"))
}

/// Each `resources` and `patches` entry of the kustomization in `dir` names a file there,
/// or a directory with a kustomization of its own (checked in turn); the files it takes in.
fn kustomized(dir: &Path) -> BTreeSet<PathBuf> {
    let kustomization = yaml(dir.join("kustomization.yaml").to_str().unwrap());
    assert_eq!(kustomization["kind"], "Kustomization", "{}", dir.display());
    let mut files = BTreeSet::new();
    let entries = kustomization["resources"]
        .as_sequence()
        .unwrap()
        .iter()
        .chain(
            kustomization["patches"]
                .as_sequence()
                .into_iter()
                .flatten()
                .map(|patch| &patch["path"]),
        );
    for entry in entries {
        let path = dir.join(entry.as_str().unwrap());
        if path.is_dir() {
            files.extend(kustomized(&path));
        } else {
            assert!(
                path.is_file(),
                "{} names {} that is not there",
                dir.display(),
                path.display()
            );
            files.insert(path.canonicalize().unwrap());
        }
    }
    files
}

/// The kustomizations take in every base resource (`files`); KEDA's replaces the
/// autoscaler with its `ScaledObject` on the queue depth.
fn the_kustomizations_take_in_every_resource(files: &[std::path::PathBuf]) {
    let base = kustomized(&root().join(K8S));
    for file in files
        .iter()
        .filter(|f| !f.ends_with("prometheus-adapter.yaml"))
    {
        assert!(
            base.contains(&file.canonicalize().unwrap()),
            "{} is in no kustomization",
            file.display()
        );
    }
    let keda = kustomized(&root().join(K8S).join("keda"));
    let scaled = documents(&root().join(K8S).join("keda/scaledobject.yaml")).remove(0);
    assert_eq!(scaled["apiVersion"], "keda.sh/v1alpha1");
    assert_eq!(scaled["kind"], "ScaledObject");
    assert_eq!(scaled["spec"]["scaleTargetRef"]["name"], "almanac-worker");
    let query = scaled["spec"]["triggers"][0]["metadata"]["query"]
        .as_str()
        .unwrap();
    assert!(query.contains("queue_depth"), "{query}");
    let removed = documents(&root().join(K8S).join("keda/without-hpa.yaml")).remove(0);
    assert_eq!(
        (removed["kind"].as_str(), removed["$patch"].as_str()),
        (Some("HorizontalPodAutoscaler"), Some("delete"))
    );
    assert!(keda.len() > base.len());
}

/// The API's /metrics is on a port of its own, which is what Prometheus is told.
fn the_api_s_metrics_port_is_the_one_prometheus_is_told(resources: &[Value]) {
    let api = &find(resources, "Deployment", "almanac-api")["spec"]["template"];
    let container = &api["spec"]["containers"][0];
    let metrics_port = container["ports"]
        .as_sequence()
        .unwrap()
        .iter()
        .find(|p| p["name"] == "metrics")
        .expect("the API exposes its metrics port")["containerPort"]
        .as_u64()
        .unwrap();
    assert_eq!(
        api["metadata"]["annotations"]["prometheus.io/port"],
        metrics_port.to_string().as_str()
    );
    let metrics_addr = container["env"]
        .as_sequence()
        .unwrap()
        .iter()
        .find(|e| e["name"] == "METRICS_ADDR")
        .unwrap()["value"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_eq!(metrics_addr, format!("0.0.0.0:{metrics_port}"));
}

#[test]
fn kubernetes_manifests_validate_and_fit_together() {
    let (files, resources) = k8s_resources();
    let mut args = vec!["-m", "kubernetes_validate", "--strict", "--quiet"];
    let names: Vec<String> = files.iter().map(|f| f.display().to_string()).collect();
    args.extend(names.iter().map(String::as_str));
    run("python3", &args);

    the_kustomizations_take_in_every_resource(&files);

    // Workers scale on the metric the adapter serves.
    let hpa = find(&resources, "HorizontalPodAutoscaler", "almanac-worker");
    assert_eq!(hpa["apiVersion"], "autoscaling/v2");
    assert_eq!(hpa["spec"]["scaleTargetRef"]["name"], "almanac-worker");
    let metric = &hpa["spec"]["metrics"][0]["external"]["metric"]["name"];
    let adapter: Value = serde_yaml::from_str(
        find(&resources, "ConfigMap", "prometheus-adapter")["data"]["config.yaml"]
            .as_str()
            .unwrap(),
    )
    .unwrap();
    let rule = &adapter["externalRules"][0];
    assert_eq!(metric, &rule["name"]["as"]);
    assert!(
        rule["seriesQuery"]
            .as_str()
            .unwrap()
            .starts_with("queue_depth{")
    );

    // Probes, configuration, and a grace period that outlasts the worker's own.
    let config = &find(&resources, "ConfigMap", "almanac-config")["data"];
    // The Secret is the operator's to create: no secret value is committed.
    assert!(
        !resources.iter().any(|r| r["kind"] == "Secret"),
        "deploy/k8s commits a Secret"
    );
    find(&resources, "Job", "almanac-migrate");
    the_api_s_metrics_port_is_the_one_prometheus_is_told(&resources);
    for (name, port) in [("almanac-api", "http"), ("almanac-worker", "metrics")] {
        let deployment = find(&resources, "Deployment", name);
        let pod = &deployment["spec"]["template"]["spec"];
        let container = &pod["containers"][0];
        for (probe, path) in [("readinessProbe", "/readyz"), ("livenessProbe", "/healthz")] {
            assert_eq!(container[probe]["httpGet"]["path"], path, "{name} {probe}");
            assert_eq!(container[probe]["httpGet"]["port"], port, "{name} {probe}");
        }
        let sources: Vec<&str> = container["envFrom"]
            .as_sequence()
            .unwrap()
            .iter()
            .map(|s| {
                s["configMapRef"]["name"]
                    .as_str()
                    .or(s["secretRef"]["name"].as_str())
                    .unwrap()
            })
            .collect();
        assert_eq!(sources, ["almanac-config", "almanac-secrets"]);
        let labels = &deployment["spec"]["selector"]["matchLabels"];
        assert_eq!(
            &deployment["spec"]["template"]["metadata"]["labels"],
            labels
        );
        let budget = find(&resources, "PodDisruptionBudget", name);
        assert_eq!(&budget["spec"]["selector"]["matchLabels"], labels);
    }
    let worker = &find(&resources, "Deployment", "almanac-worker")["spec"]["template"]["spec"];
    let grace_ms = worker["terminationGracePeriodSeconds"].as_u64().unwrap() * 1000;
    let shutdown_ms: u64 = config["WORKER_SHUTDOWN_GRACE_MS"]
        .as_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!(
        grace_ms > shutdown_ms,
        "the kubelet would kill workers inside their own grace"
    );
}

/// No deployment file holds a secret's value: each is either absent (the operator creates
/// it) or taken from the environment (`${JWT_SECRET:?...}` in the compose file).
#[test]
fn no_secret_value_is_committed_under_deploy() {
    const SECRETS: [&str; 7] = [
        "OPENROUTER_API_KEY",
        "JWT_SECRET",
        "ADMIN_TOKEN",
        "METRICS_TOKEN",
        "TOKEN_ENCRYPTION_KEY",
        "AI_API_KEY",
        "RESEND_API_KEY",
    ];
    let mut stack = vec![root().join("deploy")];
    let mut checked = 0;
    while let Some(dir) = stack.pop() {
        for entry in fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                stack.push(path);
                continue;
            }
            let text = fs::read_to_string(&path).unwrap_or_default();
            for line in text.lines().map(str::trim).filter(|l| !l.starts_with('#')) {
                for name in SECRETS {
                    let Some(value) = line
                        .strip_prefix(name)
                        .and_then(|rest| rest.strip_prefix(':').or(rest.strip_prefix('=')))
                    else {
                        continue;
                    };
                    let value = value.trim().trim_matches('"');
                    checked += 1;
                    assert!(
                        value.is_empty() || value.starts_with("${") || value.starts_with('$'),
                        "{} sets {name} to a fixed value",
                        path.display()
                    );
                }
            }
        }
    }
    assert!(
        checked >= 2,
        "only {checked} secret settings found under deploy/"
    );
}

/// The words of a shell command line: whitespace-separated, double quotes grouping.
fn words(line: &str) -> Vec<String> {
    let mut words = Vec::new();
    let mut word = String::new();
    let mut quoted = false;
    for c in line.chars() {
        match c {
            '"' => quoted = !quoted,
            c if c.is_whitespace() && !quoted => {
                if !word.is_empty() {
                    words.push(std::mem::take(&mut word));
                }
            }
            c => word.push(c),
        }
    }
    words.extend((!word.is_empty()).then_some(word));
    words
}

/// The command lines of the runbook's `sh` blocks.
fn runbook_commands() -> Vec<String> {
    let runbook = fs::read_to_string(root().join("docs/operations.md")).unwrap();
    let mut commands = Vec::new();
    let mut in_block = false;
    for line in runbook.lines() {
        let line = line.trim();
        match line {
            "```sh" => in_block = true,
            "```" => in_block = false,
            _ if in_block => commands.push(line.to_owned()),
            _ => {}
        }
    }
    commands
}

/// Every `almanac-api flags` command of docs/operations.md works as written, in the
/// runbook's order, and the history records each change; the release smoke the runbook
/// gives is the script CI runs, with the flag commands CI runs before it.
#[tokio::test]
async fn the_runbooks_flag_commands_run_as_written() {
    let commands = runbook_commands();
    let flags: Vec<Vec<String>> = commands
        .iter()
        .filter(|c| c.starts_with("almanac-api flags "))
        .map(|c| words(c))
        .collect();
    assert!(flags.len() >= 10, "{flags:?}");
    let (db_name, db) = crate::helpers::fresh_database().await;
    let url = almanac_shared::db::with_database(&crate::helpers::admin_url(), &db_name);
    let binary = almanac_tests::processes::binary("almanac-api").unwrap();
    for command in &flags {
        let output = tokio::process::Command::new(&binary)
            .args(&command[1..])
            .env_clear()
            .env("DATABASE_URL", &url)
            .env("USER", "runbook")
            .output()
            .await
            .unwrap();
        assert!(
            output.status.success(),
            "`{}` failed: {}",
            command.join(" "),
            String::from_utf8_lossy(&output.stderr)
        );
    }
    let changes = flags
        .iter()
        .filter(|c| ["set", "reset"].contains(&c[2].as_str()))
        .count();
    let recorded: i64 =
        sqlx::query_scalar("select count(*) from feature_flag_changes where actor = 'cli:runbook'")
            .fetch_one(&db)
            .await
            .unwrap();
    assert_eq!(recorded, changes as i64);
    crate::helpers::drop_database(&db_name).await;

    assert!(commands.iter().any(|c| c.starts_with("deploy/smoke.sh ")));
    let ci_smoke = fs::read_to_string(root().join("deploy/dev/smoke.sh")).unwrap();
    assert!(ci_smoke.contains("bash deploy/smoke.sh \"$base\" \"$token\""));
    for flag in ["CALENDAR_SERVICE_ENABLED", "PUBLISH_SERVICE_ENABLED"] {
        let runbook_line = format!("almanac-api flags set {flag} off --note \"release smoke\"");
        assert!(commands.contains(&runbook_line), "{runbook_line}");
    }
    assert!(ci_smoke.contains("\"$api_bin\" flags set \"$flag\" off --note \"release smoke\""));
}

/// The cluster form (`deploy/k8s/events-cluster`, docs/scaling.md): the whole base, and
/// each Deployment's container also reads the Secret that names the events' Redis Cluster
/// (`EVENTS_REDIS_URL`), through a patch whose path exists in every Deployment it targets.
#[test]
fn the_events_cluster_overlay_points_every_deployment_at_the_cluster() {
    let (files, resources) = k8s_resources();
    let overlay = root().join(K8S).join("events-cluster");
    let taken = kustomized(&overlay);
    for file in files
        .iter()
        .filter(|f| !f.ends_with("prometheus-adapter.yaml"))
    {
        assert!(
            taken.contains(&file.canonicalize().unwrap()),
            "the overlay leaves out {}",
            file.display()
        );
    }
    let kustomization = yaml(overlay.join("kustomization.yaml").to_str().unwrap());
    assert_eq!(kustomization["patches"][0]["target"]["kind"], "Deployment");
    let patch = documents(&overlay.join("events-redis.yaml")).remove(0);
    let op = &patch[0];
    assert_eq!(op["op"], "add");
    assert_eq!(op["path"], "/spec/template/spec/containers/0/envFrom/-");
    assert_eq!(op["value"]["secretRef"]["name"], "almanac-events-redis");
    let deployments: Vec<&Value> = resources
        .iter()
        .filter(|r| r["kind"] == "Deployment")
        .collect();
    assert_eq!(deployments.len(), 2, "the API and the worker");
    for deployment in deployments {
        assert!(
            deployment["spec"]["template"]["spec"]["containers"][0]["envFrom"].is_sequence(),
            "{:?} has no envFrom for the patch to add to",
            deployment["metadata"]["name"]
        );
    }
}
