//! Runtime feature flags (seed 001, "Flags & Modes"): `CALENDAR_SERVICE_ENABLED` and
//! `PUBLISH_SERVICE_ENABLED` keep their environment defaults, and an operator overrides
//! them at run time (`PUT /admin/flags/{name}`, `almanac-api flags set`): on, off, or on
//! for listed users only.
//!
//! Overrides live in Postgres with their history (`store::flags`); the flags and their
//! settings are `domain::flags`. Every process holds a
//! [`Flags`] and keeps it current with [`Flags::run`]: a `LISTEN` on the channel the
//! table's trigger notifies, plus a reload every `FLAGS_REFRESH_MS`, so a notification
//! missed while the listener reconnected heals by itself. Reads are in memory: a request
//! never waits on the database for a flag. While Postgres is unreachable a process keeps
//! the last overrides it read (its environment defaults, if it never read any).
//!
//! The same watch keeps the paused queues (`POST /admin/queues/{kind}/pause`,
//! `store::console::queues`): `queue_pauses`' trigger notifies this channel too, and every
//! process shows what it read as `queue_paused{kind}` (the claim itself reads the table, so
//! a pause holds fleet-wide from its commit).

use std::{
    collections::{BTreeMap, BTreeSet},
    convert::Infallible,
    sync::Arc,
    time::Duration,
};

use sqlx::{PgPool, postgres::PgListener};
use tokio::sync::{Mutex, Notify, watch};
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

pub use crate::domain::flags::*;
use crate::{
    config::Settings,
    jobs::JobKind,
    shutdown::AbortOnDrop,
    store::{console::queues, flags as store},
};

/// The channel the `feature_flags` trigger notifies.
pub const CHANNEL: &str = "almanac_flags";

type Overrides = BTreeMap<Flag, Override>;

/// The flags as this process applies them, shared by its handlers (cheap to clone).
#[derive(Clone)]
pub struct Flags {
    calendar_default: bool,
    publish_default: bool,
    overrides: watch::Sender<Arc<Overrides>>,
    /// The paused queues.
    paused: watch::Sender<Arc<BTreeSet<JobKind>>>,
    /// One reload at a time, so an older read never replaces a newer one.
    reloading: Arc<Mutex<()>>,
}

impl Flags {
    /// The environment defaults of `settings`, no override yet.
    pub fn new(settings: &Settings) -> Self {
        Self::with_defaults(settings.calendar_service_enabled, settings.publish.enabled)
    }

    pub fn with_defaults(calendar: bool, publish: bool) -> Self {
        let flags = Self {
            calendar_default: calendar,
            publish_default: publish,
            overrides: watch::Sender::new(Arc::default()),
            paused: watch::Sender::new(Arc::default()),
            reloading: Arc::default(),
        };
        flags.record_metrics();
        flags
    }

    fn default_of(&self, flag: Flag) -> bool {
        match flag {
            Flag::CalendarService => self.calendar_default,
            Flag::PublishService => self.publish_default,
        }
    }

    /// Whether `flag` is on for `user`.
    pub fn enabled(&self, flag: Flag, user: Uuid) -> bool {
        match self.overrides.borrow().get(&flag) {
            Some(o) => o.setting.enabled_for(user),
            None => self.default_of(flag),
        }
    }

    pub fn view(&self, flag: Flag) -> View {
        View {
            flag,
            default: self.default_of(flag),
            overridden: self.overrides.borrow().get(&flag).cloned(),
        }
    }

    pub fn views(&self) -> Vec<View> {
        Flag::ALL.into_iter().map(|flag| self.view(flag)).collect()
    }

    /// Changes whenever the overrides this process applies change.
    pub fn watch(&self) -> watch::Receiver<Arc<Overrides>> {
        self.overrides.subscribe()
    }

    /// Whether `kind`'s queue is paused, as this process last read.
    pub fn paused(&self, kind: JobKind) -> bool {
        self.paused.borrow().contains(&kind)
    }

    /// The paused queues, as this process last read.
    pub fn paused_kinds(&self) -> Vec<JobKind> {
        self.paused.borrow().iter().copied().collect()
    }

    /// Changes whenever the paused queues this process knows of change.
    pub fn watch_paused(&self) -> watch::Receiver<Arc<BTreeSet<JobKind>>> {
        self.paused.subscribe()
    }

    /// Reads the overrides and the paused queues from Postgres and applies them.
    pub async fn reload(&self, pool: &PgPool) -> sqlx::Result<()> {
        let _one_at_a_time = self.reloading.lock().await;
        let paused = queues::paused(pool).await?;
        let pauses_changed = self.paused.send_if_modified(|current| {
            if **current == paused {
                return false;
            }
            *current = Arc::new(paused);
            true
        });
        if pauses_changed {
            tracing::warn!(paused = ?self.paused_kinds(), "paused queues applied");
        }
        let stored: Overrides = store::overrides(pool).await?.into_iter().collect();
        let changed = self.overrides.send_if_modified(|current| {
            if **current == stored {
                return false;
            }
            *current = Arc::new(stored);
            true
        });
        if changed {
            for view in self.views() {
                let setting = view.setting();
                tracing::info!(
                    flag = view.flag.name(),
                    state = setting.state().as_str(),
                    users = setting.users().len(),
                    overridden = view.overridden.is_some(),
                    "feature flag applied"
                );
            }
        }
        // Every time (a few gauges): a process whose recorder was installed after its flags
        // were made shows them from its first read.
        self.record_metrics();
        Ok(())
    }

    /// `feature_flag_state{flag, state}`: 1 for the state applied, 0 for the others; and
    /// `queue_paused{kind}`, 1 or 0; set when the process starts and at every read.
    fn record_metrics(&self) {
        let paused = self.paused.borrow().clone();
        for kind in JobKind::known() {
            metrics::gauge!("queue_paused", "kind" => kind.as_str())
                .set(if paused.contains(&kind) { 1.0 } else { 0.0 });
        }
        for view in self.views() {
            let applied = view.setting().state();
            for state in State::ALL {
                metrics::gauge!("feature_flag_state", "flag" => view.flag.name(), "state" => state.as_str())
                    .set(if state == applied { 1.0 } else { 0.0 });
            }
        }
    }

    /// The first read, at a process's start: at most a couple of seconds, so a process
    /// started while Postgres is down starts with its environment defaults, and [`Flags::run`]
    /// reads the overrides once Postgres answers.
    pub async fn load_at_start(&self, pool: &PgPool) {
        let read = tokio::time::timeout(Duration::from_secs(2), self.reload(pool)).await;
        if !matches!(read, Ok(Ok(()))) {
            tracing::warn!(
                "feature flags not read at start-up; environment defaults apply until they are"
            );
        }
    }

    /// Keeps the flags current until `shutdown`: reloads when the table's trigger notifies
    /// and every `every` besides.
    pub async fn run(self, pool: PgPool, every: Duration, shutdown: CancellationToken) {
        let notified = Arc::new(Notify::new());
        let _listener = AbortOnDrop(tokio::spawn(listen(pool.clone(), notified.clone(), every)));
        let mut reachable = true;
        loop {
            match self.reload(&pool).await {
                Ok(()) if !reachable => {
                    reachable = true;
                    tracing::info!("feature flags read again");
                }
                Err(error) if reachable => {
                    reachable = false;
                    tracing::warn!(error = %error, "feature flags could not be read; keeping the last ones");
                }
                _ => {}
            }
            tokio::select! {
                () = shutdown.cancelled() => return,
                () = notified.notified() => {}
                () = tokio::time::sleep(every) => {}
            }
        }
    }
}

/// Wakes `notified` on every notification, and whenever the listening connection was
/// (re)established, since notifications sent meanwhile are lost.
async fn listen(pool: PgPool, notified: Arc<Notify>, retry: Duration) {
    // A connection of its own, held for good: not one of the pool's, whose size is what the
    // process's requests and jobs may use.
    let pool = sqlx::postgres::PgPoolOptions::new()
        .max_connections(1)
        .connect_lazy_with((*pool.connect_options()).clone());
    loop {
        let listening: Result<Infallible, sqlx::Error> = async {
            let mut listener = PgListener::connect_with(&pool).await?;
            listener.listen(CHANNEL).await?;
            notified.notify_one();
            loop {
                // `None`: the connection was lost and made again.
                listener.try_recv().await?;
                notified.notify_one();
            }
        }
        .await;
        let Err(error) = listening;
        tracing::debug!(error = %error, "feature flag listener lost; connecting again");
        tokio::time::sleep(retry).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_setting_is_checked_and_kept_sorted() {
        let (a, b) = (Uuid::now_v7(), Uuid::now_v7());
        assert_eq!(
            Setting::new(State::Users, &[]),
            Err(InvalidSetting::UsersMissing)
        );
        assert_eq!(
            Setting::new(State::On, &[a]),
            Err(InvalidSetting::UsersUnexpected("on"))
        );
        let users = Setting::new(State::Users, &[b, a, b]).unwrap();
        assert_eq!(users.users(), &[a, b]);
        assert!(users.enabled_for(a) && users.enabled_for(b));
        assert!(!users.enabled_for(Uuid::now_v7()));
        assert_eq!(users.audience(), Audience::Only(&[a, b]));
        assert_eq!(Setting::from_default(false).audience(), Audience::Nobody);
    }

    #[test]
    fn names_are_the_environment_variables() {
        for flag in Flag::ALL {
            assert_eq!(Flag::parse(flag.name()), Some(flag));
        }
        assert_eq!(Flag::parse("publish_service_enabled"), None);
        assert_eq!(State::parse("users"), Some(State::Users));
        assert_eq!(State::parse("ON"), None);
    }

    #[test]
    fn without_an_override_the_environment_default_applies() {
        let flags = Flags::with_defaults(true, false);
        let user = Uuid::now_v7();
        assert!(flags.enabled(Flag::CalendarService, user));
        assert!(!flags.enabled(Flag::PublishService, user));
        let view = flags.view(Flag::PublishService);
        assert_eq!(view.setting(), Setting::from_default(false));
        assert!(view.overridden.is_none());
    }
}
