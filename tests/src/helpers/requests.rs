//! Requests as a user of the API: a token, an address, JSON in and out.

use serde_json::Value;
use uuid::Uuid;

use super::TestApp;

impl TestApp {
    pub fn token(&self, user: Uuid) -> String {
        self.keys.mint(user, 3600)
    }

    /// A `service_role` token, as Supabase's service key: the admin endpoints take it.
    pub fn service_token(&self) -> String {
        self.keys.mint_service_role(3600)
    }

    /// `PUT /admin/flags/{name}` on the API at `base`, as the service role.
    pub async fn set_flag(&self, base: &str, name: &str, body: &Value) -> (u16, Value) {
        let url = format!("{base}/admin/flags/{name}");
        let token = self.service_token();
        self.request_json(reqwest::Method::PUT, url, Some(&token), Some(body))
            .await
    }

    /// `PUT /admin/flags/{name}` on the API at `base`, which must take it.
    pub async fn turn_flag(&self, base: &str, name: &str, body: &Value) {
        let (status, answer) = self.set_flag(base, name, body).await;
        assert_eq!(status, 200, "{answer}");
    }

    /// The flag as the API at `base` applies it (`GET /admin/flags/{name}`'s `data`).
    pub async fn flag_at(&self, base: &str, name: &str) -> Value {
        let response = self
            .client
            .get(format!("{base}/admin/flags/{name}"))
            .bearer_auth(self.service_token())
            .send()
            .await
            .expect("request sent");
        assert_eq!(response.status(), 200);
        let body: Value = response.json().await.unwrap();
        body["data"].clone()
    }

    /// Waits until the API at `base` applies `state` to the flag `name`.
    pub async fn flag_applied(&self, base: &str, name: &str, state: &str) {
        super::eventually(
            std::time::Duration::from_secs(10),
            &format!("{base} to apply {name} {state}"),
            || async { (self.flag_at(base, name).await["state"] == state).then_some(()) },
        )
        .await;
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.address)
    }

    /// The API's `/metrics` page (on its own listener, `METRICS_ADDR`).
    pub async fn metrics_text(&self) -> String {
        let response = self
            .client
            .get(format!("{}/metrics", self.metrics_address))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 200);
        response.text().await.unwrap()
    }

    /// The value of one series of the API's metrics (0 when it is not there yet): the
    /// series' whole name and labels as the page writes them.
    pub async fn metric(&self, series: &str) -> f64 {
        almanac_tests::processes::metric_value(&self.metrics_text().await, series).unwrap_or(0.0)
    }

    /// The OpenAPI document the API serves (`/openapi.json`), as JSON.
    pub async fn served_document(&self) -> Value {
        self.client
            .get(self.url("/openapi.json"))
            .send()
            .await
            .expect("request sent")
            .json()
            .await
            .expect("the document is JSON")
    }

    pub async fn get_json(&self, user: Uuid, path: &str) -> (u16, Value) {
        let response = self
            .client
            .get(self.url(path))
            .bearer_auth(self.token(user))
            .send()
            .await
            .expect("request sent");
        let status = response.status().as_u16();
        (status, response.json().await.unwrap_or(Value::Null))
    }

    /// `DELETE` as `user`; returns the status.
    pub async fn delete(&self, user: Uuid, path: &str) -> u16 {
        self.client
            .delete(self.url(path))
            .bearer_auth(self.token(user))
            .send()
            .await
            .expect("request sent")
            .status()
            .as_u16()
    }

    pub async fn send_json(
        &self,
        method: reqwest::Method,
        user: Uuid,
        path: &str,
        body: &Value,
    ) -> (u16, Value) {
        let token = self.token(user);
        self.request_json(method, self.url(path), Some(&token), Some(body))
            .await
    }

    /// `method path` with `token` as its bearer, `If-Match` when given and `body` as JSON:
    /// the status, the answer's `ETag` and its body.
    pub async fn versioned(
        &self,
        method: reqwest::Method,
        token: &str,
        path: &str,
        if_match: Option<&str>,
        body: Option<&Value>,
    ) -> (u16, Option<String>, Value) {
        let mut request = self
            .client
            .request(method, self.url(path))
            .bearer_auth(token);
        if let Some(tag) = if_match {
            request = request.header("if-match", tag);
        }
        if let Some(body) = body {
            request = request.json(body);
        }
        let response = request.send().await.expect("request sent");
        let status = response.status().as_u16();
        let etag = response
            .headers()
            .get("etag")
            .map(|value| value.to_str().unwrap().to_owned());
        (status, etag, response.json().await.unwrap_or(Value::Null))
    }

    /// A request without a body, as a JSON client sends it.
    pub async fn send_empty(
        &self,
        method: reqwest::Method,
        user: Uuid,
        path: &str,
    ) -> (u16, Value) {
        let token = self.token(user);
        self.request_json(method, self.url(path), Some(&token), None)
            .await
    }

    /// A request to `url` with `token` as its bearer (none: no `Authorization`) and `body`
    /// as JSON: the status and the body (null when it is not JSON).
    pub async fn request_json(
        &self,
        method: reqwest::Method,
        url: String,
        token: Option<&str>,
        body: Option<&Value>,
    ) -> (u16, Value) {
        // A JSON client: `POST /v1/ai/calendar` answers it 202 rather than a stream.
        let mut request = self
            .client
            .request(method, url)
            .header("accept", "application/json");
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        if let Some(body) = body {
            request = request.json(body);
        }
        let response = request.send().await.expect("request sent");
        let status = response.status().as_u16();
        (status, response.json().await.unwrap_or(Value::Null))
    }

    /// Asserts a 429 `RATE_LIMITED` with a `Retry-After` within the limit's window
    /// (1..=`window_secs`); returns the error envelope.
    pub async fn assert_rate_limited(response: reqwest::Response, window_secs: u64) -> Value {
        Self::assert_too_many(response, window_secs, "RATE_LIMITED").await
    }

    /// Asserts a 429 with `code` and a `Retry-After` of 1..=`window_secs`; returns the
    /// error envelope.
    pub async fn assert_too_many(
        response: reqwest::Response,
        window_secs: u64,
        code: &str,
    ) -> Value {
        assert_eq!(response.status(), 429);
        let retry_after: u64 = response.headers()["retry-after"]
            .to_str()
            .unwrap()
            .parse()
            .unwrap();
        assert!(
            (1..=window_secs).contains(&retry_after),
            "Retry-After {retry_after}"
        );
        let envelope: Value = response.json().await.unwrap();
        assert_eq!(envelope["error"]["code"], code);
        envelope
    }
}
