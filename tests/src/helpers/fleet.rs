//! A fleet of real processes for the fault suite: several `almanac-api` and
//! `almanac-worker` processes on a fresh database and a Redis of the test's own, the
//! offline AI provider made slow enough that faults find jobs in flight, a client
//! submitting load, clients following job streams as a browser's `EventSource` does
//! (reconnecting with `Last-Event-ID` to any API), and the audit each scenario ends with:
//! every accepted job terminal, no row twice, no stream missing or repeating an event.

use std::{
    collections::{HashMap, HashSet},
    time::{Duration, Instant},
};

use almanac_shared::auth::JwtKeys;
use almanac_tests::processes::Service;
use serde_json::{Value, json};
use sqlx::PgPool;
use uuid::Uuid;

use super::{
    JWT_SECRET, admin_url,
    chaos::ChaosProxy,
    drop_database, eventually, fresh_database, leftover_jobs,
    redis_server::RedisServer,
    source_text,
    stream::{EventReader, Frame},
};

pub struct FleetOptions {
    pub apis: usize,
    pub workers: usize,
    /// The processes reach Postgres through a chaos proxy.
    pub db_proxy: bool,
    /// Settings of every process, over the fleet's own.
    pub env: Vec<(&'static str, String)>,
}

impl Default for FleetOptions {
    fn default() -> Self {
        Self {
            apis: 2,
            workers: 3,
            db_proxy: false,
            env: Vec::new(),
        }
    }
}

pub struct Fleet {
    /// The owner pool of the fleet's database (direct, not through the proxy).
    pub db: PgPool,
    db_name: String,
    pub redis: RedisServer,
    pub db_proxy: Option<ChaosProxy>,
    pub apis: Vec<Service>,
    pub workers: Vec<Service>,
    env: Vec<(&'static str, String)>,
    keys: JwtKeys,
    http: reqwest::Client,
}

/// A job the load got accepted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Accepted {
    pub generation: Uuid,
    pub job: Uuid,
    pub user: Uuid,
}

/// What the load's client saw.
#[derive(Debug, Default)]
pub struct Load {
    pub accepted: Vec<Accepted>,
    /// Refused requests: when each was sent and its status (0: no answer).
    pub refused: Vec<(Instant, u16)>,
}

impl Fleet {
    pub async fn start(options: FleetOptions) -> Self {
        let (db_name, db) = fresh_database().await;
        let redis = RedisServer::start().await;
        let admin: sqlx::postgres::PgConnectOptions = admin_url().parse().unwrap();
        let db_proxy = if options.db_proxy {
            Some(ChaosProxy::start(format!("{}:{}", admin.get_host(), admin.get_port())).await)
        } else {
            None
        };
        let database_url = match &db_proxy {
            Some(proxy) => format!(
                "postgres://{}@127.0.0.1:{}/{db_name}",
                admin.get_username(),
                proxy.port
            ),
            None => almanac_shared::db::with_database(&admin_url(), &db_name),
        };
        let mut env = vec![
            ("DATABASE_URL", database_url),
            ("REDIS_URL", redis.url()),
            ("REDIS_PREFIX", "fleet".to_owned()),
            ("JWT_SECRET", JWT_SECRET.to_owned()),
            ("ALMANAC_DEV", "true".to_owned()),
            ("AI_PROVIDER", "offline".to_owned()),
            ("AI_OFFLINE_LATENCY_MS", "300".to_owned()),
            ("GENERATION_RATE_LIMIT", "1000000".to_owned()),
            ("CALENDAR_RATE_LIMIT", "1000000".to_owned()),
            ("SYNTHESIS_RATE_LIMIT", "1000000".to_owned()),
            ("HEARTBEAT_SECS", "2".to_owned()),
            // Two fleets at once stay well within the test server's 100 connections.
            ("DATABASE_MAX_CONNECTIONS", "5".to_owned()),
        ];
        for (key, value) in options.env {
            env.retain(|(k, _)| *k != key);
            env.push((key, value));
        }
        let mut fleet = Self {
            db,
            db_name,
            redis,
            db_proxy,
            apis: Vec::new(),
            workers: Vec::new(),
            env,
            keys: JwtKeys::new(JWT_SECRET),
            http: reqwest::Client::new(),
        };
        for _ in 0..options.apis {
            let api = Service::api(&fleet.env).await.expect("almanac-api starts");
            fleet.apis.push(api);
        }
        for _ in 0..options.workers {
            fleet.start_worker().await;
        }
        fleet
    }

    pub async fn start_worker(&mut self) -> usize {
        let worker = Service::worker(&self.env)
            .await
            .expect("almanac-worker starts");
        self.workers.push(worker);
        self.workers.len() - 1
    }

    pub fn token(&self, user: Uuid) -> String {
        self.keys.mint(user, 3600)
    }

    fn api_urls(&self) -> Vec<String> {
        self.apis.iter().map(|api| api.url("")).collect()
    }

    /// Submits `total` generations from 8 users, `per_second` a second, spread over the
    /// APIs; every third is long enough for three batches. A refused request is recorded,
    /// not retried. Each accepted job is also sent on the channel as it is accepted.
    pub fn submit(
        &self,
        total: usize,
        per_second: f64,
    ) -> (
        tokio::task::JoinHandle<Load>,
        tokio::sync::mpsc::UnboundedReceiver<Accepted>,
    ) {
        let (accepted_tx, accepted_rx) = tokio::sync::mpsc::unbounded_channel();
        let (urls, http) = (self.api_urls(), self.http.clone());
        let users: Vec<(Uuid, String)> = (0..8)
            .map(|_| {
                let user = Uuid::new_v4();
                (user, self.token(user))
            })
            .collect();
        let short = json!({ "source_text": source_text(1500), "reuse": false });
        let long = json!({ "source_text": source_text(6000), "reuse": false });
        let load = tokio::spawn(async move {
            let mut sent = Vec::new();
            let mut ticker = tokio::time::interval(Duration::from_secs_f64(1.0 / per_second));
            for i in 0..total {
                ticker.tick().await;
                let (user, token) = users[i % users.len()].clone();
                let url = format!("{}/api/ai/generations", urls[i % urls.len()]);
                let body = if i % 3 == 2 { &long } else { &short }.clone();
                let (http, accepted_tx) = (http.clone(), accepted_tx.clone());
                sent.push(tokio::spawn(async move {
                    let at = Instant::now();
                    let answer = http
                        .post(url)
                        .bearer_auth(token)
                        .json(&body)
                        .timeout(Duration::from_secs(10))
                        .send()
                        .await;
                    match answer {
                        Ok(answer) if answer.status() == 202 => {
                            let body: Value = answer.json().await.unwrap();
                            let id = |key: &str| body[key].as_str().unwrap().parse().unwrap();
                            let accepted = Accepted {
                                generation: id("generation_id"),
                                job: id("job_id"),
                                user,
                            };
                            let _ = accepted_tx.send(accepted);
                            Ok(accepted)
                        }
                        Ok(answer) => Err((at, answer.status().as_u16())),
                        Err(_) => Err((at, 0)),
                    }
                }));
            }
            let mut load = Load::default();
            for request in sent {
                match request.await.unwrap() {
                    Ok(accepted) => load.accepted.push(accepted),
                    Err(refused) => load.refused.push(refused),
                }
            }
            load
        });
        (load, accepted_rx)
    }

    /// Submits one short generation (one batch) as `user` to the first API; its job.
    pub async fn submit_one(&self, user: Uuid) -> Uuid {
        let answer = self
            .http
            .post(self.apis[0].url("/api/ai/generations"))
            .bearer_auth(self.token(user))
            .json(&json!({ "source_text": source_text(1500), "reuse": false }))
            .send()
            .await
            .unwrap();
        assert_eq!(answer.status(), 202);
        let body: Value = answer.json().await.unwrap();
        body["job_id"].as_str().unwrap().parse().unwrap()
    }

    /// The status of `job` and the worker that holds or held it.
    pub async fn job(&self, job: Uuid) -> (String, Option<String>) {
        sqlx::query_as("select status, worker from jobs where id = $1")
            .bind(job)
            .fetch_one(&self.db)
            .await
            .unwrap()
    }

    /// A client for following streams, which tasks can own.
    pub fn follower(&self) -> Follower {
        Follower {
            urls: self.api_urls(),
            http: self.http.clone(),
            keys: JwtKeys::new(JWT_SECRET),
        }
    }

    /// Waits until every job has ended (within `within`): the accepted ones and any whose
    /// acceptance the client never heard of (the answer lost in the fault). Returns the
    /// accepted ones as the ledger has them: `(status, attempts, suggestions kept)`.
    pub async fn settled(
        &self,
        load: &Load,
        within: Duration,
    ) -> HashMap<Uuid, (String, i32, i64)> {
        let jobs: Vec<Uuid> = load.accepted.iter().map(|a| a.job).collect();
        eventually(within, "every job to end", || async {
            let open: i64 = sqlx::query_scalar(
                "select count(*) from jobs where status in ('pending', 'running')",
            )
            .fetch_one(&self.db)
            .await
            .unwrap();
            (open == 0).then_some(())
        })
        .await;
        let rows: Vec<(Uuid, String, i32, Option<i64>)> = sqlx::query_as(
            "select id, status, attempts, (result ->> 'suggestions')::bigint from jobs
             where id = any($1)",
        )
        .bind(&jobs)
        .fetch_all(&self.db)
        .await
        .unwrap();
        assert_eq!(
            rows.len(),
            jobs.len(),
            "every accepted job is in the ledger"
        );
        rows.into_iter()
            .map(|(id, status, attempts, kept)| (id, (status, attempts, kept.unwrap_or(-1))))
            .collect()
    }

    /// Every accepted job succeeded, and no generation saved a card twice or lost one: its
    /// suggestions are exactly those its job's result counts, at positions 0..n.
    pub async fn assert_all_succeeded_once(&self, load: &Load, within: Duration) {
        let ledger = self.settled(load, within).await;
        for (job, (status, attempts, _)) in &ledger {
            assert_eq!(status, "succeeded", "job {job} after {attempts} attempts");
        }
        let rows: Vec<(Uuid, i64, i64, i64)> = sqlx::query_as(
            "select g.job_id, count(s.id), count(distinct s.position), coalesce(max(s.position), -1)::bigint
             from ai_generations g left join ai_suggestions s on s.generation_id = g.id
             where g.job_id = any($1) group by g.job_id",
        )
        .bind(ledger.keys().copied().collect::<Vec<_>>())
        .fetch_all(&self.db)
        .await
        .unwrap();
        assert_eq!(rows.len(), ledger.len(), "one generation per job");
        for (job, saved, positions, last) in rows {
            let kept = ledger[&job].2;
            assert_eq!(
                (saved, positions, last + 1),
                (kept, kept, kept),
                "job {job}: suggestions saved once each, as many as it reported"
            );
        }
    }

    /// The saved suggestions of a job's generation, with their positions.
    pub async fn suggestions(&self, job: Uuid) -> HashMap<Uuid, i64> {
        let rows: Vec<(Uuid, i32)> = sqlx::query_as(
            "select s.id, s.position from ai_suggestions s
             join ai_generations g on g.id = s.generation_id where g.job_id = $1",
        )
        .bind(job)
        .fetch_all(&self.db)
        .await
        .unwrap();
        rows.into_iter().map(|(id, p)| (id, i64::from(p))).collect()
    }

    /// A followed stream missed and repeated nothing: its ids run 1, 2, 3... with no gap
    /// but right after a `truncated` notice (allowed only if `lost_history`); it ends with
    /// one `done` saying the ledger's status; and its `suggestions` events carry each saved
    /// suggestion exactly once, or, where history was lost, a notice stands where each
    /// missing one would have come (between the suggestions streamed before and after it).
    pub async fn assert_stream_complete(&self, job: Uuid, frames: &[Frame], lost_history: bool) {
        let mut next = Some(1);
        let mut truncated = false;
        for frame in frames {
            if frame.kind == "truncated" {
                assert!(
                    lost_history,
                    "job {job}: unexpected truncation: {frames:#?}"
                );
                truncated = true;
                next = None;
                continue;
            }
            let Some(id) = frame.id else {
                // Only the ledger's `done` for a job whose events are gone has no id.
                assert!(truncated && frame.kind == "done", "job {job}: {frames:#?}");
                continue;
            };
            if let Some(expected) = next {
                assert_eq!(id, expected, "job {job}: a gap or a repeat: {frames:#?}");
            }
            next = Some(id + 1);
        }
        let dones: Vec<&Frame> = frames.iter().filter(|f| f.kind == "done").collect();
        assert_eq!(dones.len(), 1, "job {job}: one `done`: {frames:#?}");
        assert_eq!(
            frames.last().unwrap().kind,
            "done",
            "job {job}: `done` last"
        );
        let status: String = sqlx::query_scalar("select status from jobs where id = $1")
            .bind(job)
            .fetch_one(&self.db)
            .await
            .unwrap();
        assert_eq!(dones[0].data["status"], status.as_str(), "job {job}");
        // Each streamed suggestion: its id, position and the frame that carried it.
        let streamed: Vec<(Uuid, i64, usize)> = frames
            .iter()
            .enumerate()
            .filter(|(_, f)| f.kind == "suggestions")
            .flat_map(|(at, f)| {
                f.data["suggestions"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(move |s| {
                        let id = s["id"].as_str().unwrap().parse().unwrap();
                        (id, s["position"].as_i64().unwrap(), at)
                    })
                    .collect::<Vec<_>>()
            })
            .collect();
        let unique: HashSet<Uuid> = streamed.iter().map(|(id, ..)| *id).collect();
        assert_eq!(
            unique.len(),
            streamed.len(),
            "job {job}: a suggestion streamed twice"
        );
        let saved = self.suggestions(job).await;
        if !truncated {
            assert_eq!(
                unique,
                saved.keys().copied().collect(),
                "job {job}: every saved suggestion streamed"
            );
            return;
        }
        assert!(
            unique.iter().all(|id| saved.contains_key(id)),
            "job {job}: streamed what was not saved"
        );
        let notices: Vec<usize> = frames
            .iter()
            .enumerate()
            .filter(|(_, f)| f.kind == "truncated")
            .map(|(at, _)| at)
            .collect();
        let done_at = frames.len() - 1;
        for (id, position) in saved.iter().filter(|(id, _)| !unique.contains(id)) {
            let before = streamed
                .iter()
                .filter(|(_, p, _)| p < position)
                .map(|(.., at)| *at)
                .max();
            let after = streamed
                .iter()
                .filter(|(_, p, _)| p > position)
                .map(|(.., at)| *at)
                .min()
                .unwrap_or(done_at);
            assert!(
                notices
                    .iter()
                    .any(|n| before.is_none_or(|b| *n > b) && *n < after),
                "job {job}: suggestion {id} (position {position}) was saved, never streamed, \
                 and no truncation notice stands where it would have come: {frames:#?}"
            );
        }
    }

    /// The jobs that worker `index`'s process held (its name carries its pid).
    pub async fn held_by(&self, index: usize) -> Vec<Uuid> {
        let pattern = format!("%-{}-%", self.workers[index].pid());
        sqlx::query_scalar("select id from jobs where status = 'running' and worker like $1")
            .bind(pattern)
            .fetch_all(&self.db)
            .await
            .unwrap()
    }
}

impl Drop for Fleet {
    fn drop(&mut self) {
        // The processes die with their handles; then the ledger is checked, as the
        // in-process harness does: nothing failed or unfinished may be left behind.
        self.apis.clear();
        self.workers.clear();
        let db_name = self.db_name.clone();
        let leftovers = std::thread::spawn(move || {
            tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap()
                .block_on(async move {
                    let leftovers =
                        leftover_jobs(&db_name, &["failed", "pending", "running"]).await;
                    drop_database(&db_name).await;
                    leftovers
                })
        })
        .join()
        .unwrap_or_default();
        if !leftovers.is_empty() && !std::thread::panicking() {
            panic!("the fault left jobs behind:\n{}", leftovers.join("\n"));
        }
    }
}

/// A client following job streams as a browser's `EventSource` does.
#[derive(Clone)]
pub struct Follower {
    urls: Vec<String>,
    http: reqwest::Client,
    keys: JwtKeys,
}

impl Follower {
    /// Follows the job's events from API `first` on: whenever the connection fails or
    /// ends before `done`, it reconnects to the next API with `Last-Event-ID`. Returns
    /// every frame but heartbeats.
    pub fn follow(&self, job: Accepted, first: usize) -> tokio::task::JoinHandle<Vec<Frame>> {
        let (urls, http) = (self.urls.clone(), self.http.clone());
        let token = self.keys.mint(job.user, 3600);
        tokio::spawn(async move {
            let deadline = Instant::now() + Duration::from_secs(90);
            let mut frames: Vec<Frame> = Vec::new();
            let mut api = first;
            loop {
                assert!(
                    Instant::now() < deadline,
                    "job {}: no `done` after 90 s: {frames:#?}",
                    job.job
                );
                let url = format!("{}/v1/jobs/{}/events", urls[api % urls.len()], job.job);
                let mut request = http.get(url).bearer_auth(&token);
                if let Some(last) = frames.iter().rev().find_map(|f| f.id) {
                    request = request.header("last-event-id", last.to_string());
                }
                if let Ok(response) = request.send().await {
                    if response.status() == 204 {
                        return frames;
                    }
                    if response.status() == 200 {
                        let mut reader = EventReader::from_response(response, false);
                        while let Ok(Some(frame)) = reader.try_next().await {
                            if frame.kind == "heartbeat" {
                                continue;
                            }
                            let done = frame.kind == "done";
                            frames.push(frame);
                            if done {
                                return frames;
                            }
                        }
                    }
                }
                // As `EventSource` does after `retry:`, to whichever API answers.
                api += 1;
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
        })
    }
}
