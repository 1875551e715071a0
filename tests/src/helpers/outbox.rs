//! The outbox of a test's own (`EMAIL_PROVIDER=outbox`): every email the app sends is an
//! `.eml` file in a fresh folder, read back here and removed with it.

use std::{path::PathBuf, time::Duration};

use uuid::Uuid;

use super::eventually;

/// The outbox of a test's own: every email the app sends is a file in it.
pub struct Outbox {
    pub dir: PathBuf,
}

impl Default for Outbox {
    fn default() -> Self {
        Self::new()
    }
}

impl Outbox {
    pub fn new() -> Self {
        Self {
            dir: std::env::temp_dir().join(format!("almanac-outbox-{}", Uuid::new_v4())),
        }
    }

    /// The settings that send the app's emails here.
    pub fn env(&self) -> Vec<(&'static str, String)> {
        vec![
            ("EMAIL_PROVIDER", "outbox".into()),
            ("EMAIL_OUTBOX_DIR", self.dir.display().to_string()),
        ]
    }

    /// Every email in the outbox, oldest first (a message being written, `.eml.partial`,
    /// is not one yet).
    pub fn emails(&self) -> Vec<String> {
        let Ok(entries) = std::fs::read_dir(&self.dir) else {
            return Vec::new();
        };
        let mut files: Vec<PathBuf> = entries
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.extension().is_some_and(|x| x == "eml"))
            .collect();
        files.sort();
        files
            .iter()
            .map(|p| std::fs::read_to_string(p).unwrap())
            .collect()
    }

    /// The emails to `address`.
    pub fn to(&self, address: &str) -> Vec<String> {
        let header = format!("To: {address}");
        self.emails()
            .into_iter()
            .filter(|e| e.lines().any(|line| line.trim() == header))
            .collect()
    }

    /// The link of the `n`th email to `address` (1 the first), once it is there.
    pub async fn link(&self, address: &str, n: usize) -> String {
        let email = eventually(
            Duration::from_secs(10),
            &format!("email {n} to {address}"),
            || async { self.to(address).get(n - 1).cloned() },
        )
        .await;
        almanac_shared::sign_in::path_in(&email).expect("a sign-in email holds its link")
    }
}

impl Outbox {
    /// The token of the `n`th email to `address` (1 the first) after `prefix` (a link's
    /// path up to its token), once the email is there.
    pub async fn token(&self, address: &str, n: usize, prefix: &str) -> String {
        let email = eventually(
            Duration::from_secs(10),
            &format!("email {n} to {address}"),
            || async { self.to(address).get(n - 1).cloned() },
        )
        .await;
        almanac_shared::sign_in::token_after(&email, prefix).expect("the email holds its link")
    }
}

impl Drop for Outbox {
    fn drop(&mut self) {
        std::fs::remove_dir_all(&self.dir).ok();
    }
}
