//! Cancellation of running jobs: the API flags the job in the ledger (`store::jobs::request_cancel`) and
//! publishes its id on the cancel channel; the worker running it stops within
//! milliseconds. The heartbeat also reads the flag, so a lost notification costs at most
//! one heartbeat interval.

use std::{
    collections::HashMap,
    sync::{Arc, Mutex},
};

use tokio_util::sync::CancellationToken;
use uuid::Uuid;

use crate::config::Settings;

pub fn cancel_channel(settings: &Settings) -> String {
    settings.redis_key(&["cancel"])
}

/// Tells the worker running `job` to stop.
pub async fn publish_cancel(
    conn: &crate::redis_conn::RedisConn,
    settings: &Settings,
    job: Uuid,
) -> redis::RedisResult<()> {
    let mut conn = conn.clone();
    redis::cmd("PUBLISH")
        .arg(cancel_channel(settings))
        .arg(job.to_string())
        .query_async::<i64>(&mut conn)
        .await
        .map(drop)
}

/// The jobs this worker process runs, by id, with the token that stops each.
#[derive(Clone, Default)]
pub struct Cancels(Arc<Mutex<HashMap<Uuid, CancellationToken>>>);

/// A running job's registration; dropping it unregisters the job.
pub struct Registered {
    pub token: CancellationToken,
    job: Uuid,
    cancels: Cancels,
}

impl Drop for Registered {
    fn drop(&mut self) {
        self.cancels
            .0
            .lock()
            .expect("cancels lock")
            .remove(&self.job);
    }
}

impl Cancels {
    pub fn register(&self, job: Uuid) -> Registered {
        let token = CancellationToken::new();
        self.0
            .lock()
            .expect("cancels lock")
            .insert(job, token.clone());
        Registered {
            token,
            job,
            cancels: self.clone(),
        }
    }

    /// Whether `job` runs in this process.
    pub fn runs(&self, job: Uuid) -> bool {
        self.0.lock().expect("cancels lock").contains_key(&job)
    }

    /// Cancels `job` if it runs here; returns whether it did.
    pub fn cancel(&self, job: Uuid) -> bool {
        match self.0.lock().expect("cancels lock").get(&job) {
            Some(token) => {
                token.cancel();
                true
            }
            None => false,
        }
    }
}
