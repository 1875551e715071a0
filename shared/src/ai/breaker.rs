//! The circuit breaker on the AI provider, per provider and model, shared by the fleet
//! through Redis (`EVENTS`-style keys under `REDIS_PREFIX`), so that a provider that is down
//! is not asked by every job of every worker.
//!
//! A failure is one call that still fails after its retries (a timeout, a 5xx, a 429).
//! `AI_BREAKER_FAILURES` consecutive failures within `AI_BREAKER_WINDOW_SECS` open it: calls
//! are then refused without a request until `AI_BREAKER_COOLDOWN_SECS` have passed. Then it
//! is half-open: exactly one call in the fleet goes through (a `SET NX` lease); its success
//! closes it, its failure opens it for another cooldown. Without Redis each process keeps
//! the same state for itself: it degrades to per-process, never to "always open".

use std::{
    collections::HashMap,
    sync::{LazyLock, Mutex},
    time::{Duration, Instant},
};

use crate::{
    config::Settings,
    redis_conn::{QuickEvents, RedisConn},
};

/// What the breaker lets a call do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Gate {
    /// Go ahead.
    Closed,
    /// Go ahead: this call is the fleet's one probe of a half-open breaker.
    Probe,
    /// Not now: try again after this long.
    Open(Duration),
}

pub use crate::config::BreakerSettings;

/// `{state, wait_ms}`: 0 closed, 1 this call probes, 2 open (`wait_ms` until it may be
/// tried). `KEYS[1]` the state hash, `KEYS[2]` the probe's lease, `ARGV[1]` the lease's
/// length in ms.
const ADMIT: &str = r"
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local open_until = tonumber(redis.call('HGET', KEYS[1], 'open_until') or '0')
if open_until == 0 then return {0, 0} end
if now < open_until then return {2, open_until - now} end
if redis.call('SET', KEYS[2], '1', 'NX', 'PX', ARGV[1]) then return {1, 0} end
return {2, 1000}";

/// Records a call's outcome: `ARGV[1]` `1` when the provider answered, `ARGV[2]` `1` for
/// the probe, then the failures that open it, the window and the cooldown (ms). Returns
/// the transition: `closed`, `open` or `same`.
const RECORD: &str = r"
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
if ARGV[1] == '1' then
  local was_open = redis.call('HEXISTS', KEYS[1], 'open_until') == 1
  redis.call('DEL', KEYS[1])
  if ARGV[2] == '1' then redis.call('DEL', KEYS[2]) end
  if was_open then return 'closed' end
  return 'same'
end
local keep = tonumber(ARGV[4]) + tonumber(ARGV[5])
if ARGV[2] == '1' then
  redis.call('HSET', KEYS[1], 'open_until', now + tonumber(ARGV[5]))
  redis.call('DEL', KEYS[2])
  redis.call('PEXPIRE', KEYS[1], keep * 2)
  return 'open'
end
if redis.call('HEXISTS', KEYS[1], 'open_until') == 1 then return 'same' end
local first = tonumber(redis.call('HGET', KEYS[1], 'first') or '0')
local count
if first == 0 or now - first > tonumber(ARGV[4]) then
  redis.call('HSET', KEYS[1], 'first', now, 'count', 1)
  count = 1
else
  count = redis.call('HINCRBY', KEYS[1], 'count', 1)
end
redis.call('PEXPIRE', KEYS[1], keep * 2)
if count >= tonumber(ARGV[3]) then
  redis.call('HSET', KEYS[1], 'open_until', now + tonumber(ARGV[5]))
  return 'open'
end
return 'same'";

/// One process's view, when Redis cannot be asked.
#[derive(Debug, Default)]
struct Local {
    failures: u32,
    first: Option<Instant>,
    open_until: Option<Instant>,
    probing: bool,
}

pub struct Breaker {
    settings: BreakerSettings,
    /// The events' Redis (`EVENTS_REDIS_URL`) and the breakers' key prefix there.
    redis: Option<(QuickEvents, String)>,
    local: Mutex<HashMap<String, Local>>,
    /// The models whose names may be labels (the configured ones); others are `other`.
    known: Vec<String>,
}

impl Breaker {
    pub fn new(settings: &Settings) -> Self {
        let redis = Some((
            QuickEvents::new(settings.events.redis.clone()),
            settings.redis_key(&["ai", "breaker"]),
        ));
        let mut known = vec![settings.ai.model.clone()];
        known.extend(settings.ai.fallback_models.iter().cloned());
        Self {
            settings: settings.ai.breaker,
            redis,
            local: Mutex::new(HashMap::new()),
            known,
        }
    }

    fn label<'a>(&self, model: &'a str) -> &'a str {
        if self.known.iter().any(|m| m == model) {
            model
        } else {
            "other"
        }
    }

    async fn conn(&self) -> Option<(RedisConn, &str)> {
        let (redis, prefix) = self.redis.as_ref()?;
        Some((redis.get().await?, prefix.as_str()))
    }

    /// The keys of one provider and model's breaker: its state and its probe's lease,
    /// under one hash tag (one script touches both, on a Redis Cluster too).
    fn keys(prefix: &str, provider: &str, model: &str) -> (String, String) {
        let key = format!("{prefix}:{{{provider}:{model}}}");
        let probe = format!("{key}:probe");
        (key, probe)
    }

    /// Whether a call to `model` of `provider` may be made now.
    pub async fn admit(&self, provider: &str, model: &str) -> Gate {
        static SCRIPT: LazyLock<redis::Script> = LazyLock::new(|| redis::Script::new(ADMIT));
        let gate = match self.conn().await {
            Some((mut conn, prefix)) => {
                let (key, probe) = Self::keys(prefix, provider, model);
                let lease = self.settings.window.max(Duration::from_secs(1));
                let answer: redis::RedisResult<(u8, u64)> = SCRIPT
                    .key(&key)
                    .key(probe)
                    .arg(lease.as_millis() as u64)
                    .invoke_async(&mut conn)
                    .await;
                match answer {
                    Ok((0, _)) => Some(Gate::Closed),
                    Ok((1, _)) => Some(Gate::Probe),
                    Ok((_, wait)) => Some(Gate::Open(Duration::from_millis(wait))),
                    Err(error) => {
                        tracing::debug!(error = %error, "the AI breaker's Redis did not answer; this process decides alone");
                        None
                    }
                }
            }
            None => None,
        };
        let gate = gate.unwrap_or_else(|| self.admit_locally(provider, model));
        let state = match gate {
            Gate::Closed => 0.0,
            Gate::Probe => 1.0,
            Gate::Open(_) => 2.0,
        };
        metrics::gauge!("ai_breaker_state", "provider" => provider.to_owned(), "model" => self.label(model).to_owned())
            .set(state);
        if gate == Gate::Probe {
            self.transition(provider, model, "half_open");
        }
        gate
    }

    fn admit_locally(&self, provider: &str, model: &str) -> Gate {
        let mut states = self.local.lock().expect("the breaker's lock");
        let state = states.entry(format!("{provider}:{model}")).or_default();
        let now = Instant::now();
        match state.open_until {
            None => Gate::Closed,
            Some(until) if now < until => Gate::Open(until - now),
            Some(_) if !state.probing => {
                state.probing = true;
                Gate::Probe
            }
            Some(_) => Gate::Open(Duration::from_secs(1)),
        }
    }

    /// Records how a call that the breaker let through ended: `answered` when the
    /// provider answered (a refusal of the request included), false for a timeout, 5xx or
    /// 429 after the retries.
    pub async fn record(&self, provider: &str, model: &str, answered: bool, probe: bool) {
        static SCRIPT: LazyLock<redis::Script> = LazyLock::new(|| redis::Script::new(RECORD));
        let settings = self.settings;
        let shared = match self.conn().await {
            Some((mut conn, prefix)) => {
                let (key, probe_key) = Self::keys(prefix, provider, model);
                let answer: redis::RedisResult<String> = SCRIPT
                    .key(&key)
                    .key(probe_key)
                    .arg(if answered { "1" } else { "0" })
                    .arg(if probe { "1" } else { "0" })
                    .arg(settings.failures)
                    .arg(settings.window.as_millis() as u64)
                    .arg(settings.cooldown.as_millis() as u64)
                    .invoke_async(&mut conn)
                    .await;
                answer.ok()
            }
            None => None,
        };
        let transition =
            shared.unwrap_or_else(|| self.record_locally(provider, model, answered, probe).into());
        match transition.as_str() {
            "open" => {
                tracing::warn!(
                    provider,
                    model,
                    cooldown_ms = settings.cooldown.as_millis() as u64,
                    "AI breaker open: calls to this model are refused until its cooldown ends"
                );
                self.set_state(provider, model, 2.0);
                self.transition(provider, model, "open");
            }
            "closed" => {
                tracing::info!(
                    provider,
                    model,
                    "AI breaker closed: the model answers again"
                );
                self.set_state(provider, model, 0.0);
                self.transition(provider, model, "closed");
            }
            _ => {}
        }
    }

    fn record_locally(
        &self,
        provider: &str,
        model: &str,
        answered: bool,
        probe: bool,
    ) -> &'static str {
        let mut states = self.local.lock().expect("the breaker's lock");
        let state = states.entry(format!("{provider}:{model}")).or_default();
        let now = Instant::now();
        if answered {
            let was_open = state.open_until.is_some();
            *state = Local::default();
            return if was_open { "closed" } else { "same" };
        }
        if probe {
            state.open_until = Some(now + self.settings.cooldown);
            state.probing = false;
            return "open";
        }
        if state.open_until.is_some() {
            return "same";
        }
        match state.first {
            Some(first) if now - first <= self.settings.window => state.failures += 1,
            _ => {
                state.first = Some(now);
                state.failures = 1;
            }
        }
        if state.failures >= self.settings.failures {
            state.open_until = Some(now + self.settings.cooldown);
            return "open";
        }
        "same"
    }

    fn set_state(&self, provider: &str, model: &str, state: f64) {
        metrics::gauge!("ai_breaker_state", "provider" => provider.to_owned(), "model" => self.label(model).to_owned())
            .set(state);
    }

    fn transition(&self, provider: &str, model: &str, to: &'static str) {
        metrics::counter!("ai_breaker_transitions_total", "provider" => provider.to_owned(), "model" => self.label(model).to_owned(), "to" => to)
            .increment(1);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn local(failures: u32, cooldown_ms: u64) -> Breaker {
        Breaker {
            settings: BreakerSettings {
                failures,
                window: Duration::from_secs(60),
                cooldown: Duration::from_millis(cooldown_ms),
            },
            redis: None,
            local: Mutex::new(HashMap::new()),
            known: vec!["m".into()],
        }
    }

    #[tokio::test]
    async fn without_redis_it_opens_half_opens_and_closes_for_this_process() {
        let breaker = local(2, 0);
        assert_eq!(breaker.admit("p", "m").await, Gate::Closed);
        breaker.record("p", "m", false, false).await;
        assert_eq!(breaker.admit("p", "m").await, Gate::Closed);
        // A success between failures starts the count again.
        breaker.record("p", "m", true, false).await;
        breaker.record("p", "m", false, false).await;
        assert_eq!(breaker.admit("p", "m").await, Gate::Closed);
        breaker.record("p", "m", false, false).await;
        // Open, with a cooldown of zero: at once half-open, one probe only.
        assert_eq!(breaker.admit("p", "m").await, Gate::Probe);
        assert!(matches!(breaker.admit("p", "m").await, Gate::Open(_)));
        breaker.record("p", "m", false, true).await;
        assert_eq!(breaker.admit("p", "m").await, Gate::Probe);
        breaker.record("p", "m", true, true).await;
        assert_eq!(breaker.admit("p", "m").await, Gate::Closed);
        assert_eq!(breaker.label("unknown-model"), "other");
    }

    #[tokio::test]
    async fn an_open_breaker_says_how_long_to_wait() {
        let breaker = local(1, 60_000);
        breaker.record("p", "m", false, false).await;
        match breaker.admit("p", "m").await {
            Gate::Open(wait) => assert!(wait > Duration::from_secs(50), "{wait:?}"),
            other => panic!("{other:?}"),
        }
    }
}
