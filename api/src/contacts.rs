//! Users' addresses from their tokens' `email` claim (`store::contacts`): noted the first
//! time this process sees a user's address (or a new one), in the background, so a request
//! never waits for it. What this process remembers is bounded: it forgets everything when
//! full, and at worst writes an address again.

use std::{
    collections::HashMap,
    sync::{Arc, Mutex},
};

use sqlx::PgPool;
use uuid::Uuid;

/// Users remembered at most before the memory is cleared.
const REMEMBERED: usize = 10_000;
/// The longest address kept (RFC 5321's path limit).
const MAX_LEN: usize = 320;

#[derive(Clone, Default)]
pub struct Contacts {
    noted: Arc<Mutex<HashMap<Uuid, Box<str>>>>,
}

impl Contacts {
    /// Keeps `email` as `user`'s address unless this process already did.
    pub fn note(&self, pool: &PgPool, user: Uuid, email: &str) {
        let email = email.trim();
        if email.len() < 3 || email.len() > MAX_LEN || !email.contains('@') {
            return;
        }
        {
            let mut noted = self.noted.lock().expect("not poisoned");
            if noted.get(&user).is_some_and(|known| &**known == email) {
                return;
            }
            if noted.len() >= REMEMBERED {
                noted.clear();
            }
            noted.insert(user, email.into());
        }
        let (pool, email, noted) = (pool.clone(), email.to_owned(), self.noted.clone());
        tokio::spawn(async move {
            if let Err(error) = almanac_shared::store::contacts::record(&pool, user, &email).await {
                tracing::warn!(userId = %user, error = %error, "keeping the user's address failed; the next request tries again");
                noted.lock().expect("not poisoned").remove(&user);
            }
        });
    }
}
