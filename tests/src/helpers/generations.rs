//! Request helpers for flashcard generations (seed 002), the tests' most used job.

use std::time::Duration;

use serde_json::{Value, json};
use uuid::Uuid;

use super::{TestApp, eventually};

/// A study text of exactly `chars` characters, none of them trimmable.
pub fn source_text(chars: usize) -> String {
    let base = "Photosynthesis turns light into chemical energy in plants. Chlorophyll absorbs mostly blue and red light. \
The Calvin cycle fixes carbon dioxide into sugars. Stomata let gases in and out of the leaf. ";
    let mut text: String = base
        .repeat(chars / base.len() + 1)
        .chars()
        .take(chars.saturating_sub(1))
        .collect();
    text.push('.');
    text
}

impl TestApp {
    pub async fn post_generation(&self, user: Uuid, body: &Value) -> reqwest::Response {
        self.client
            .post(self.url("/api/ai/generations"))
            .bearer_auth(self.token(user))
            .json(body)
            .send()
            .await
            .expect("request sent")
    }

    /// Submits a valid generation and returns its id (asserting 202).
    pub async fn submit(&self, user: Uuid) -> Uuid {
        let response = self
            .post_generation(
                user,
                &json!({ "source_text": source_text(1500), "reuse": false }),
            )
            .await;
        assert_eq!(
            response.status(),
            202,
            "{}",
            response.text().await.unwrap_or_default()
        );
        let body: Value = response.json().await.unwrap();
        body["generation_id"].as_str().unwrap().parse().unwrap()
    }

    /// Submits a generation of `chars` characters; returns its id and its job's id.
    pub async fn submit_job(&self, user: Uuid, chars: usize) -> (Uuid, Uuid) {
        let response = self
            .post_generation(
                user,
                &json!({ "source_text": source_text(chars), "reuse": false }),
            )
            .await;
        assert_eq!(response.status(), 202);
        let body: Value = response.json().await.unwrap();
        let id = |key: &str| body[key].as_str().unwrap().parse().unwrap();
        (id("generation_id"), id("job_id"))
    }

    pub async fn generation(&self, user: Uuid, id: Uuid) -> Value {
        let (status, body) = self
            .get_json(user, &format!("/api/ai/generations/{id}"))
            .await;
        assert_eq!(status, 200, "{body}");
        body
    }

    /// Waits for a generation to reach a final status and returns it.
    pub async fn wait_finished(&self, user: Uuid, id: Uuid) -> Value {
        self.wait_finished_within(user, id, Duration::from_secs(20))
            .await
    }

    pub async fn wait_finished_within(&self, user: Uuid, id: Uuid, timeout: Duration) -> Value {
        eventually(timeout, "the generation to finish", || async {
            let g = self.generation(user, id).await;
            matches!(g["status"].as_str(), Some("succeeded" | "failed")).then_some(g)
        })
        .await
    }

    pub async fn suggestions(&self, user: Uuid, generation: Uuid) -> Vec<Value> {
        let (status, body) = self
            .get_json(
                user,
                &format!("/api/ai/generations/{generation}/suggestions"),
            )
            .await;
        assert_eq!(status, 200, "{body}");
        body["items"].as_array().unwrap().clone()
    }

    /// The ledger row of a generation's job.
    pub async fn job_of(&self, generation: Uuid) -> (String, i32, Option<Value>) {
        let row: (String, i32, Option<sqlx::types::Json<Value>>) = sqlx::query_as(
            "select j.status, j.attempts, j.error from jobs j
             join ai_generations g on g.job_id = j.id where g.id = $1",
        )
        .bind(generation)
        .fetch_one(&self.db)
        .await
        .unwrap();
        (row.0, row.1, row.2.map(|j| j.0))
    }
}
