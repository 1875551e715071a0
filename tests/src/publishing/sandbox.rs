//! `PLATFORM_SANDBOX`: a newcomer's machine, as `make run` starts it (`deploy/dev/run.sh` on
//! the binaries already built), connects TikTok (OAuth) and Bluesky (a handle and an app
//! password) through the API's own fakes, dry-runs and publishes to both, with nothing but
//! what the script prints.

use std::{process::Stdio, time::Duration};

use reqwest::{Method, StatusCode, redirect::Policy};
use serde_json::{Value, json};
use tokio::io::{AsyncBufReadExt, BufReader};
use uuid::Uuid;

use crate::helpers::{
    admin_url, drop_database, eventually, fresh_database, media_dir, redis_cluster::free_port,
    redis_url,
};
use almanac_tests::processes::binary;

/// `deploy/dev/run.sh` with `env`, in a directory of its own, in a process group of its own
/// (stopped with it when dropped).
struct Run {
    child: tokio::process::Child,
    printed: tokio::sync::watch::Receiver<String>,
    _dir: TempDir,
}

struct TempDir(std::path::PathBuf);

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

impl Drop for Run {
    fn drop(&mut self) {
        if let Some(pid) = self.child.id() {
            // The whole group, as run.sh's Ctrl-C would (`--`: a negative pid is not an option).
            let _ = std::process::Command::new("kill")
                .args(["-TERM", "--", &format!("-{pid}")])
                .status();
        }
    }
}

impl Run {
    fn start(env: &[(&str, String)]) -> Self {
        let script = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../deploy/dev/run.sh");
        let dir = std::env::temp_dir().join(format!("almanac-run-{}", Uuid::new_v4().simple()));
        std::fs::create_dir_all(&dir).unwrap();
        let bin_dir = binary("almanac-api").unwrap().parent().unwrap().to_owned();
        let mut command = tokio::process::Command::new("bash");
        command
            .arg(script)
            .current_dir(&dir)
            .env_clear()
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            .env("ALMANAC_BIN_DIR", bin_dir)
            .envs(env.iter().map(|(k, v)| (*k, v.as_str())))
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .process_group(0);
        let mut child = command.spawn().expect("bash runs deploy/dev/run.sh");
        let (tx, printed) = tokio::sync::watch::channel(String::new());
        let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
        tokio::spawn(async move {
            while let Ok(Some(line)) = lines.next_line().await {
                tx.send_modify(|all| {
                    all.push_str(&line);
                    all.push('\n');
                });
            }
        });
        Self {
            child,
            printed,
            _dir: TempDir(dir),
        }
    }

    /// What the script printed once it named the app's address.
    async fn ready(&mut self) -> String {
        let printed = self
            .printed
            .wait_for(|all| all.contains("Almanac is ready:"))
            .await
            .expect("run.sh printed that Almanac is ready");
        printed.clone()
    }
}

/// The value after `prefix` on the line that has it.
fn after<'a>(printed: &'a str, prefix: &str) -> &'a str {
    printed
        .lines()
        .find_map(|line| line.trim().strip_prefix(prefix))
        .unwrap_or_else(|| panic!("`{prefix}` in what run.sh printed:\n{printed}"))
        .trim()
}

/// The newcomer `run.sh` signed in, calling the API it started.
struct Newcomer {
    browser: reqwest::Client,
    base: String,
    token: String,
}

impl Newcomer {
    /// A call of theirs: status and body (null when it has none).
    async fn call(&self, method: Method, path: String, body: Value) -> (StatusCode, Value) {
        let request = self
            .browser
            .request(method, format!("{}{path}", self.base))
            .bearer_auth(&self.token);
        let request = if body.is_null() {
            request
        } else {
            request.json(&body)
        };
        let response = request.send().await.unwrap();
        let status = response.status();
        (
            status,
            response.json::<Value>().await.unwrap_or(Value::Null),
        )
    }

    /// Connects each of `platforms` as a person does: the authorize address is the
    /// sandbox's, which grants at once and sends the browser back through the API's
    /// callback to the app, which completes it.
    async fn connects_through_its_consent_step<const N: usize>(&self, platforms: [&str; N]) {
        let (browser, base) = (&self.browser, &self.base);
        let call =
            |method: Method, path: &str, body: Value| self.call(method, path.to_owned(), body);
        for platform in platforms {
            let (status, connect) = call(
                Method::POST,
                &format!("/v1/channels/{platform}/connect"),
                Value::Null,
            )
            .await;
            assert_eq!(status, StatusCode::OK, "{connect}");
            let authorize = connect["data"]["authorizeUrl"].as_str().unwrap();
            assert!(
                authorize.starts_with(&format!("{base}/sandbox/{platform}/authorize?")),
                "{authorize}"
            );
            let granted = browser.get(authorize).send().await.unwrap();
            assert_eq!(granted.status(), StatusCode::FOUND);
            let callback = granted.headers()["location"].to_str().unwrap().to_owned();
            assert!(callback.starts_with(&format!("{base}/v1/channels/{platform}/callback?")));
            let to_app = browser.get(&callback).send().await.unwrap();
            assert_eq!(to_app.status(), StatusCode::SEE_OTHER);
            let location = to_app.headers()["location"].to_str().unwrap().to_owned();
            let carried = url::Url::parse(&format!(
                "http://app.invalid/?{}",
                location.split_once('?').unwrap().1
            ))
            .unwrap();
            let carried: std::collections::HashMap<String, String> =
                carried.query_pairs().into_owned().collect();
            let (status, connected) = call(
                Method::POST,
                &format!("/v1/channels/{platform}/complete"),
                json!({ "state": carried["state"], "code": carried["code"] }),
            )
            .await;
            assert!(status.is_success(), "{status} {connected}");
            assert_eq!(connected["data"]["status"], "connected", "{connected}");
        }
    }

    /// The newcomer's first entries on `calendar`, written through the API: a TikTok
    /// video and a Bluesky post; their ids.
    async fn first_entries(&self, calendar: Uuid) -> Vec<String> {
        let call =
            |method: Method, path: &str, body: Value| self.call(method, path.to_owned(), body);
        let mut entries = Vec::new();
        for body in [
            json!({ "channel": "tiktok", "date": "2030-01-07", "title": "Hello",
            "caption": "Our first post", "format": "short video",
            "mediaUrl": "https://cdn.example.com/first.mp4" }),
            json!({ "channel": "bluesky", "date": "2030-01-07", "title": "Hello",
            "caption": "Our first post on #bluesky", "format": "post" }),
        ] {
            let path = format!("/v1/calendars/{calendar}/entries");
            let (status, entry) = call(Method::POST, &path, body).await;
            assert_eq!(status, StatusCode::CREATED, "{entry}");
            entries.push(entry["data"]["id"].as_str().unwrap().to_owned());
        }
        entries
    }

    /// A dry run of `entries` sends nothing; then each is published, once, and named.
    async fn dry_runs_then_publishes(&self, calendar: Uuid, entries: &[String]) {
        let call =
            |method: Method, path: &str, body: Value| self.call(method, path.to_owned(), body);
        let publish = format!("/v1/calendars/{calendar}/publish");
        let (status, dry) = call(Method::POST, &publish, json!({ "entryIds": entries })).await;
        assert_eq!(status, StatusCode::OK, "{dry}");
        assert_eq!(dry["data"]["dryRun"], true);
        for intent in dry["data"]["intents"].as_array().unwrap() {
            assert_eq!(intent["status"], "dry_run", "{dry}");
        }

        let (status, sent) = call(
            Method::POST,
            &publish,
            json!({ "entryIds": entries, "dryRun": false, "privacyLevel": "PUBLIC_TO_EVERYONE" }),
        )
        .await;
        assert_eq!(status, StatusCode::OK, "{sent}");
        let intents = sent["data"]["intents"].as_array().unwrap().clone();
        assert_eq!(intents.len(), 2, "{sent}");
        for intent in intents {
            let id = intent["id"].as_str().unwrap().to_owned();
            let published = eventually(
                Duration::from_secs(30),
                "the sandbox post published",
                || {
                    let read = call(
                        Method::GET,
                        &format!("/v1/publish-intents/{id}"),
                        Value::Null,
                    );
                    async move {
                        let (_, intent) = read.await;
                        let intent = intent["data"].clone();
                        assert_ne!(intent["status"], "failed", "{intent}");
                        (intent["status"] == "published").then_some(intent)
                    }
                },
            )
            .await;
            assert!(
                published["remotePostId"].is_string(),
                "the sandbox named the post: {published}"
            );
        }
    }
}

#[tokio::test]
async fn a_newcomer_connects_dry_runs_and_publishes_to_the_sandbox() {
    let (db_name, db) = fresh_database().await;
    let mut url = url::Url::parse(&admin_url()).unwrap();
    url.set_path(&db_name);
    let api = format!("127.0.0.1:{}", free_port());
    let mut run = Run::start(&[
        ("DATABASE_URL", url.to_string()),
        ("REDIS_URL", redis_url()),
        (
            "REDIS_PREFIX",
            format!("sandbox{}", Uuid::new_v4().simple()),
        ),
        ("API_ADDR", api.clone()),
        ("METRICS_ADDR", format!("127.0.0.1:{}", free_port())),
        ("WORKER_METRICS_ADDR", format!("127.0.0.1:{}", free_port())),
        (
            "MEDIA_STORE",
            format!("file://{}", media_dir(&db_name).display()),
        ),
        ("PUBLISH_TICK_MS", "200".into()),
        ("PUBLISH_CHECK_INTERVAL_MS", "200".into()),
        ("LOG_FORMAT", "json".into()),
        // The test-only platform, which the sandbox serves as it does every other.
        ("TESTNET_ENABLED", "true".into()),
    ]);
    let printed = tokio::time::timeout(Duration::from_secs(120), run.ready())
        .await
        .expect("run.sh came up within two minutes");
    let base = format!("http://{api}");
    assert!(
        printed.contains("Publishing to a sandbox"),
        "run.sh says where posts go:\n{printed}"
    );
    let token = after(&printed, "export TOKEN=")
        .trim_matches('\'')
        .to_owned();
    let user: Uuid = after(&printed, "Try it (a dev token for user ")
        .split_whitespace()
        .next()
        .unwrap()
        .trim_end_matches(',')
        .parse()
        .unwrap();
    let browser = reqwest::Client::builder()
        .redirect(Policy::none())
        .build()
        .unwrap();
    let sandbox = Newcomer {
        browser: browser.clone(),
        base: base.clone(),
        token,
    };
    let call =
        |method: Method, path: &str, body: Value| sandbox.call(method, path.to_owned(), body);

    // The app says it is a sandbox.
    let config: Value = browser
        .get(format!("{base}/app/config.json"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(config["sandbox"], true, "{config}");
    let listed: Vec<&str> = config["platforms"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["name"].as_str().unwrap())
        .collect();
    assert!(listed.contains(&"testnet"), "{listed:?}");

    sandbox
        .connects_through_its_consent_step(["tiktok", "testnet"])
        .await;

    // Bluesky signs in with a handle and an app password, against the sandbox's entryway
    // and then the PDS its session names (the sandbox's too).
    let (status, bluesky) = call(
        Method::POST,
        "/v1/channels/bluesky/credentials",
        json!({ "identifier": "newcomer.bsky.social", "password": crate::helpers::fake_platforms::APP_PASSWORD }),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{bluesky}");
    assert_eq!(bluesky["data"]["handle"], "newcomer.bsky.social");

    // A calendar of the newcomer's with one TikTok entry, written through the API.
    let calendar = Uuid::now_v7();
    sqlx::query(
        "insert into calendars (id, user_id, name, request, current_version)
         values ($1, $2, 'First plan', $3, 1)",
    )
    .bind(calendar)
    .bind(user)
    .bind(
        json!({ "channels": ["tiktok", "bluesky"], "cadence": "daily", "start": "2030-01-07",
        "end": "2030-01-13", "constraints": { "timezone": "UTC" } }),
    )
    .execute(&db)
    .await
    .unwrap();
    let entries = sandbox.first_entries(calendar).await;
    sandbox.dry_runs_then_publishes(calendar, &entries).await;

    drop(run);
    db.close().await;
    drop_database(&db_name).await;
    let _ = std::fs::remove_dir_all(media_dir(&db_name));
}

/// Whether `text` occurs in `bytes`.
/// Whether `bytes` (a binary of a hundred megabytes and more) hold `text`: a literal
/// pattern, which the regex crate looks for with memchr.
fn holds(bytes: &[u8], text: &str) -> bool {
    regex::bytes::Regex::new(&regex::escape(text))
        .unwrap()
        .is_match(bytes)
}

/// A release has no sandbox: the API built without the `sandbox` feature (as
/// deploy/Dockerfile builds it; `make test` builds one, `almanac-api-without-sandbox`, beside
/// the others) holds none of the fakes (their answers, their accounts, their routes, their
/// fault switches), which the development build does hold; and `PLATFORM_SANDBOX=true`
/// stops it at start, naming the feature it lacks.
#[tokio::test]
async fn an_api_built_without_the_sandbox_holds_no_fake_and_refuses_platform_sandbox() {
    let release = binary("almanac-api-without-sandbox").unwrap();
    let without = std::fs::read(&release).unwrap();
    let with = std::fs::read(binary("almanac-api").unwrap()).unwrap();
    // What only the fakes say: the sandbox's router and authorize step, Instagram's and
    // TikTok's accounts, Bluesky's PDS route, LinkedIn's uploads.
    let fakes = [
        "no platform is served at",
        "redirect_uri and state are required",
        almanac_publishing::sandbox::IG_USER,
        almanac_publishing::sandbox::TIKTOK_OPEN_ID,
        "/pds/xrpc/",
        "no such upload",
    ];
    for marker in fakes {
        assert!(
            holds(&with, marker),
            "the development build serves `{marker}`"
        );
        assert!(!holds(&without, marker), "a release holds `{marker}`");
    }
    for switch in [
        "drop_after_publish",
        "hang_after_publish",
        "cannot_confirm",
        "refuse_refresh",
        "quota_unreadable",
    ] {
        assert!(!holds(&without, switch), "a release holds `{switch}`");
    }

    let (status, said) = almanac_tests::processes::Service::run_to_exit(
        "almanac-api-without-sandbox",
        &[
            ("DATABASE_URL", admin_url()),
            ("REDIS_URL", redis_url()),
            ("ALMANAC_DEV", "true".into()),
            ("PLATFORM_SANDBOX", "true".into()),
        ],
        "API_ADDR",
    )
    .await
    .unwrap();
    assert_eq!(status.code(), Some(1), "{said}");
    assert!(said.contains("`sandbox` cargo feature"), "{said}");
}
