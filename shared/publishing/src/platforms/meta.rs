//! What Meta's Graph APIs (Instagram's, Threads' and Facebook's) share: their errors in our
//! words ([`refusal`]), their rate-limit refusals (error codes 4, 17, 32 and 613, and Pages'
//! 80001) and how long their usage headers ask a caller to wait (a
//! rate-limited publish is deferred to then, not failed), and the container a post is made
//! of: created (harmless), polled until `FINISHED`, published by the one call with an
//! outside effect, and read back by its status when that call's answer was lost
//! (`docs/platforms.md`). [`Containers`] is that flow; each adapter says how its API names
//! things ([`ContainerApi`]) and makes its calls.

use std::{
    collections::BTreeMap,
    time::{Duration, Instant},
};

use async_trait::async_trait;
use serde_json::Value;

use crate::{
    Attempt, Auth, Checked, Commenting, Connect, Failure, FailureKind, Measure, Named,
    PlannedRequest, Post, PostMetrics, Publish, Remote, Reply, Sent, Settling, TokenPolicy,
    oauth::{self, CodeGrant, Tokens},
    post::Medium,
};

/// How long a post past a publishing quota waits before the quota is read again.
pub const QUOTA_WAIT: Duration = Duration::from_secs(3600);

/// A publishing quota as Instagram's `content_publishing_limit` and Threads'
/// `threads_publishing_limit` answer it (`{data: [{quota_usage, config: {quota_total}}]}`):
/// the places left; a full one waits for a place (deferred, never failed); an answer
/// without its figures is said plainly and retried, never taken as room.
pub fn quota_left(label: &str, edge: &str, body: &Value) -> Result<i64, Failure> {
    let limit = &body["data"][0];
    let (Some(used), Some(total)) = (
        limit["quota_usage"].as_i64(),
        limit["config"]["quota_total"].as_i64(),
    ) else {
        return Err(Failure::retryable(
            "QUOTA_UNREADABLE",
            format!(
                "the {label} publishing quota could not be read (its answer had no quota_usage or quota_total): nothing was published, and it is read again before publishing"
            ),
        )
        .platform(edge));
    };
    if used >= total {
        return Err(Failure::retryable(
            "DAILY_QUOTA_EXHAUSTED",
            format!(
                "the {label} account published its {total} posts of the last 24 hours; this post waits for a place"
            ),
        )
        .platform(edge)
        .deferred(QUOTA_WAIT));
    }
    Ok(total - used)
}

/// What Instagram says of a post too few people saw to have insights (error 10).
const TOO_FEW_VIEWERS: &str = "Not enough viewers";

/// An insights answer (`{data: [{name, values: [{value}]}]}`, or a `total_value` in place
/// of the values) as counts by metric name; `None` when it holds none.
pub fn insights(body: &Value) -> Option<BTreeMap<String, u64>> {
    let counts: BTreeMap<String, u64> = body["data"]
        .as_array()?
        .iter()
        .filter_map(|metric| {
            let value = metric["values"][0]["value"]
                .as_u64()
                .or_else(|| metric["total_value"]["value"].as_u64())?;
            Some((metric["name"].as_str()?.to_owned(), value))
        })
        .collect();
    (!counts.is_empty()).then_some(counts)
}

/// The Graph API's rate-limit error codes: the app's (4), a user's (17), a page's (32), and
/// a call's own limit (613).
pub const RATE_LIMIT_CODES: [i64; 4] = [4, 17, 32, 613];

/// How long a rate limit is waited for when the usage headers do not say.
const WAIT_UNSAID: Duration = Duration::from_secs(15 * 60);

/// How long the usage headers (`X-Business-Use-Case-Usage`, `X-App-Usage`) ask to wait
/// (`estimated_time_to_regain_access`, minutes), when they say.
pub fn regain_after(headers: &reqwest::header::HeaderMap) -> Option<Duration> {
    ["x-business-use-case-usage", "x-app-usage"]
        .iter()
        .filter_map(|name| headers.get(*name)?.to_str().ok())
        .filter_map(|raw| serde_json::from_str::<Value>(raw).ok())
        .find_map(|usage| {
            let minutes = |v: &Value| v["estimated_time_to_regain_access"].as_u64();
            minutes(&usage).or_else(|| {
                usage
                    .as_object()?
                    .values()
                    .filter_map(Value::as_array)
                    .flatten()
                    .find_map(minutes)
            })
        })
        .map(|minutes| Duration::from_secs((minutes * 60).max(1)))
}

/// The refusal of a call `label`'s rate limit stopped (`platform_code` its code as the
/// intent keeps it, `theirs` the platform's words), deferred for `regain`, else a quarter
/// of an hour.
pub fn rate_limited(
    label: &str,
    platform_code: String,
    theirs: &str,
    regain: Option<Duration>,
) -> Failure {
    let reason = format!("{label}'s rate limit was reached; the post waits until it lifts");
    let message = match theirs.is_empty() {
        true => format!("{reason} ({platform_code})"),
        false => format!("{reason}: {theirs} ({platform_code})"),
    };
    Failure::retryable("RATE_LIMITED", message)
        .platform(platform_code)
        .deferred(regain.unwrap_or(WAIT_UNSAID))
}

/// Pages' own rate limit (Business Use Case), besides [`RATE_LIMIT_CODES`].
const PAGE_RATE_LIMIT: i64 = 80_001;

/// A Graph API error of the platform called `label` in our words, with its code
/// (`code/subcode` when it has one) and, for a rate limit, how long the usage headers asked
/// to wait (`regain`).
pub fn refusal(label: &str, error: &Value, regain: Option<Duration>) -> Failure {
    let code = error["code"].as_i64().unwrap_or(0);
    let subcode = error["error_subcode"].as_i64().unwrap_or(0);
    let transient = error["is_transient"].as_bool().unwrap_or(false);
    let theirs = error["message"].as_str().unwrap_or("").to_owned();
    let platform_code = if subcode != 0 {
        format!("{code}/{subcode}")
    } else {
        code.to_string()
    };
    if RATE_LIMIT_CODES.contains(&code) || code == PAGE_RATE_LIMIT {
        return rate_limited(label, platform_code, &theirs, regain);
    }
    let (kind, ours, reason) = match code {
        190 => (
            FailureKind::Auth,
            "CHANNEL_AUTH_INVALID",
            format!("{label} refused the access token (expired or revoked)"),
        ),
        10 | 200..=299 => (
            FailureKind::Permanent,
            "PERMISSION_DENIED",
            format!(
                "the {label} account did not grant the publishing permission; connect it again"
            ),
        ),
        506 => (
            FailureKind::Permanent,
            "DUPLICATE_POST",
            format!("{label} refuses a post identical to a recent one: change its text"),
        ),
        _ if transient => (
            FailureKind::Retryable,
            "PLATFORM_UNAVAILABLE",
            format!("{label} could not take the post now; retried later"),
        ),
        _ => (
            FailureKind::Permanent,
            "PLATFORM_REFUSED",
            format!("{label} refused the post"),
        ),
    };
    let message = match theirs.is_empty() {
        true => format!("{reason} ({platform_code})"),
        false => format!("{reason}: {theirs} ({platform_code})"),
    };
    Failure::new(kind, ours, message).platform(platform_code)
}

/// One Graph API call of the platform called `label` with `token` (as its `access_token`),
/// under the channel's permits, its answer read: a 5xx the platform does not call permanent
/// is a lost answer, any other refusal is said in `refusal`'s words (given how long the
/// usage headers asked to wait).
pub(crate) async fn call(
    request: reqwest::RequestBuilder,
    token: &str,
    label: &str,
    refusal: fn(&Value, Option<Duration>) -> Failure,
) -> Reply {
    let answered =
        match crate::http::exchange(label, request.query(&[("access_token", token)])).await {
            Ok(answered) => answered,
            Err(reply) => return reply,
        };
    let (status, body) = (answered.status, &answered.body);
    if !answered.json {
        return Reply::Lost(
            format!("{label} answered {status} without a readable body"),
            false,
        );
    }
    if (200..300).contains(&status) && body.get("error").is_none() {
        return Reply::Ok(answered.body);
    }
    if status >= 500 && body["error"]["is_transient"].as_bool() != Some(false) {
        return Reply::Lost(format!("{label} answered {status}"), false);
    }
    Reply::Refused(refusal(&body["error"], regain_after(&answered.headers)))
}

/// How one Graph API names its containers and posts.
pub(crate) struct ContainerApi {
    /// The platform's name as people read it.
    pub label: &'static str,
    /// The account's publishing quota's edge (`content_publishing_limit`), read before a
    /// publish.
    pub quota: &'static str,
    /// Its errors in our words (given how long the usage headers asked to wait).
    pub refusal: fn(&Value, Option<Duration>) -> Failure,
    /// The insights a post's numbers are read from (comma-separated), and the permission
    /// reading them needs.
    pub insights: &'static str,
    pub insights_scope: &'static str,
    /// `{user}/<create>` makes a container (and lists the account's recent posts);
    /// `{user}/<publish>?creation_id=` publishes one.
    pub create: &'static str,
    pub publish: &'static str,
    /// A container's fields: its status (`FINISHED`, `ERROR`, `EXPIRED`, `PUBLISHED`,
    /// `IN_PROGRESS`) and the detail of an error.
    pub status: &'static str,
    pub detail: &'static str,
    /// A recent post's field holding its text.
    pub text: &'static str,
    /// The API version its paths are under (empty: none).
    pub version: &'static str,
    /// The prefix of its token grants (`<prefix>_exchange_token`, `<prefix>_refresh_token`),
    /// where its tokens are long-lived ones made from the code's short-lived one.
    pub grants: &'static str,
    /// The fields of `me` naming who connected (an id, the username and the name).
    pub me: &'static str,
    /// How the author comments under their post, and the permission it needs.
    pub comment: CommentBy,
    pub comment_scope: &'static str,
}

/// How a Graph API takes an author's comment under their own post.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum CommentBy {
    /// `POST /{post-id}/comments?message=` (Instagram, Facebook): answers the comment's id.
    Edge,
    /// A reply: a text container with `reply_to_id`, then published like a post (Threads).
    Reply,
}

/// A container platform's connection to its API: the client, where the API is served, the
/// code grant, the pause between polls of a container and the longest it is polled.
pub(crate) struct Graph {
    /// How its API names things.
    pub api: &'static ContainerApi,
    /// Its client, API base and code grant.
    pub oauth: super::OauthApi,
    pub poll: Duration,
    pub wait: Duration,
}

/// The longest a container is polled (both platforms ask for at most five minutes).
const CONTAINER_WAIT_MAX: Duration = Duration::from_secs(300);

impl Graph {
    /// The connection of the platform `api` names, from its own settings (`hosts`), its
    /// code grant asking for `scope` (whose answer names the account as `user_id`).
    pub fn new(
        parts: &super::Parts,
        hosts: &super::Hosts,
        api: &'static ContainerApi,
        not_configured: &'static str,
        scope: &'static str,
    ) -> anyhow::Result<Self> {
        let settings = parts.settings;
        let oauth = hosts.oauth(parts, api.label, not_configured, scope, |grant| {
            // Long-lived tokens (60 days) are exchanged for new ones while valid, at least
            // a day after they were issued, when a week is left; an expired one cannot be.
            let policy = TokenPolicy::while_valid(chrono::Duration::days(7));
            grant
                .account_field("user_id")
                .policy(policy.after(chrono::Duration::hours(24)))
        })?;
        Ok(Self {
            api,
            oauth,
            poll: settings.check_interval,
            wait: settings.confirm_window.min(CONTAINER_WAIT_MAX),
        })
    }
}

/// A Graph API's container flow. A platform that has it says how its API names things
/// ([`ContainerApi`]), holds its [`Graph`], and says what a post's container holds; its
/// connecting (a code grant, then a long-lived token) and its publishing (the quota read,
/// the container, its publish and read-back) are then this module's.
#[async_trait]
pub(crate) trait Containers: Send + Sync {
    fn graph(&self) -> &Graph;
    /// What a container of `post` is made of (one medium, or none).
    fn container_body(&self, post: &Post) -> Value;
    /// What a carousel's child container of `medium` is made of (`is_carousel_item`).
    fn item_body(&self, medium: &Medium) -> Value;
    /// What the carousel container of `post` is made of, its children's containers
    /// `children` (comma-separated, in order).
    fn carousel_body(&self, post: &Post, children: &str) -> Value;
    /// A post's numbers from its insights by name (those [`ContainerApi::insights`] asks
    /// for).
    fn reading(&self, counts: &BTreeMap<String, u64>) -> PostMetrics;
    fn api(&self) -> &ContainerApi {
        self.graph().api
    }
    fn http(&self) -> &reqwest::Client {
        &self.graph().oauth.http
    }
    /// Where its API is served (`*_API_BASE_URL`).
    fn base(&self) -> &str {
        &self.graph().oauth.base
    }
    /// The address of an API path, under its version.
    fn url(&self, path: &str) -> String {
        match self.api().version {
            "" => format!("{}/{path}", self.base()),
            version => format!("{}/{version}/{path}", self.base()),
        }
    }
    /// One call with `token`, its answer read.
    async fn call(&self, request: reqwest::RequestBuilder, token: &str) -> Reply {
        call(request, token, self.api().label, self.api().refusal).await
    }
    /// The pause between polls, and the longest a container is polled.
    fn poll(&self) -> Duration {
        self.graph().poll
    }
    fn wait(&self) -> Duration {
        self.graph().wait
    }

    /// The requests a publish of `post` sends (the dry run's): the quota read, the
    /// container, its status, and its publish.
    fn plan_containers(&self, account_id: &str, post: &Post) -> Vec<PlannedRequest> {
        let api = self.api();
        let request = |method: &str, url: String, body: Value, effect: &str| PlannedRequest {
            method: method.into(),
            url: format!("{url}access_token=***"),
            headers: Value::Null,
            body,
            effect: effect.into(),
        };
        let at = |path: String| self.url(&path);
        let create = || at(format!("{account_id}/{}?", api.create));
        let mut requests = vec![request(
            "GET",
            at(format!(
                "{account_id}/{}?fields=quota_usage,config&",
                api.quota
            )),
            Value::Null,
            "read-only",
        )];
        let container = match post.is_carousel() {
            true => {
                for medium in &post.items {
                    requests.push(request(
                        "POST",
                        create(),
                        self.item_body(medium),
                        "harmless",
                    ));
                }
                let children: Vec<String> = (1..=post.items.len())
                    .map(|n| format!("<item_{n}_id>"))
                    .collect();
                self.carousel_body(post, &children.join(","))
            }
            false => self.container_body(post),
        };
        requests.push(request("POST", create(), container, "harmless"));
        requests.extend([
            request(
                "GET",
                at(format!(
                    "<container_id>?fields={},{}&",
                    api.status, api.detail
                )),
                Value::Null,
                "read-only",
            ),
            request(
                "POST",
                at(format!(
                    "{account_id}/{}?creation_id=<container_id>&",
                    api.publish
                )),
                Value::Null,
                "publishes",
            ),
        ]);
        requests
    }

    /// The containers of `post`: each medium's, then the carousel's of them, each once the
    /// platform processed it (all harmless: a container is invisible until published); a
    /// post of one medium or none is one container. The one to publish.
    async fn containers(&self, auth: &Auth, post: &Post) -> Result<String, Failure> {
        if !post.is_carousel() {
            return self.container(auth, &self.container_body(post)).await;
        }
        let mut children = Vec::with_capacity(post.items.len());
        for medium in &post.items {
            children.push(self.container(auth, &self.item_body(medium)).await?);
        }
        let carousel = self.carousel_body(post, &children.join(","));
        self.container(auth, &carousel).await
    }

    /// The author's comment `text` under their post `post_id`, as the API takes it.
    async fn post_comment(&self, auth: &Auth, post_id: &str, text: &str) -> Sent {
        match self.api().comment {
            CommentBy::Edge => {
                let request = self
                    .http()
                    .post(self.url(&format!("{post_id}/comments")))
                    .query(&[("message", text)]);
                let reply = self.call(request, &auth.access_token).await;
                reply.commented(&["id"])
            }
            CommentBy::Reply => {
                let body = serde_json::json!({
                    "media_type": "TEXT",
                    "text": text,
                    "reply_to_id": post_id,
                });
                match self.container(auth, &body).await {
                    Ok(container) => self.publish(auth, Some(&container)).await,
                    Err(failure) => Sent::NotApplied(failure),
                }
            }
        }
    }

    async fn get(&self, path: &str, query: &[(&str, &str)], auth: &Auth) -> Reply {
        let request = self.http().get(self.url(path)).query(query);
        self.call(request, &auth.access_token).await
    }

    /// A token grant asked of the API's unversioned token endpoints (`access_token`,
    /// `refresh_access_token`).
    async fn token_grant(&self, path: &str, query: &[(&str, &str)]) -> Result<Tokens, Failure> {
        let request = self
            .http()
            .get(format!("{}/{path}", self.base()))
            .query(query);
        oauth::tokens(
            &oauth::token_call(request, self.api().label).await?,
            "user_id",
        )
    }

    /// The code's short-lived token (an hour) exchanged at once for a long-lived one (60
    /// days), for the account the short one named, with who connected as people know them
    /// (a read-only call; the account connects without their names if it fails).
    async fn long_lived(&self, grant: &CodeGrant, short: Tokens) -> Result<Tokens, Failure> {
        let (_, secret) = grant.credentials()?;
        let exchange = format!("{}_exchange_token", self.api().grants);
        let query = [
            ("grant_type", exchange.as_str()),
            ("client_secret", secret),
            ("access_token", short.access_token.as_str()),
        ];
        let mut long = self.token_grant("access_token", &query).await?;
        long.account_id = short.account_id;
        long.scope = short.scope;
        if let Some(auth) = long.auth()
            && let Reply::Ok(me) = self.get("me", &[("fields", self.api().me)], &auth).await
        {
            long.handle = oauth::name(&me["username"]);
            long.display_name = oauth::name(&me["name"]);
        }
        Ok(long)
    }

    /// A long-lived token exchanged, while valid, for a new one.
    async fn refresh_long_lived(&self, access_token: &str) -> Result<Tokens, Failure> {
        let refresh = format!("{}_refresh_token", self.api().grants);
        let query = [
            ("grant_type", refresh.as_str()),
            ("access_token", access_token),
        ];
        self.token_grant("refresh_access_token", &query).await
    }

    /// A container's status (and its detail).
    async fn container_status(&self, auth: &Auth, container: &str) -> Reply {
        let fields = format!("{},{}", self.api().status, self.api().detail);
        self.get(container, &[("fields", fields.as_str())], auth)
            .await
    }

    /// A post's insights (`metrics`, comma-separated) by name; `Ok(None)` when the answer
    /// holds none yet (insights lag up to 48 hours, and a post with too few viewers has
    /// none). A permission refused is [`crate::analytics_refused`] for `scope`.
    async fn insights(
        &self,
        auth: &Auth,
        post_id: &str,
        metrics: &str,
        scope: &str,
    ) -> Result<Option<BTreeMap<String, u64>>, Failure> {
        let label = self.api().label;
        if post_id.is_empty()
            || !post_id
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'_')
        {
            return Ok(None);
        }
        let path = format!("{post_id}/insights");
        match self
            .get(&path, &[("metric", metrics)], auth)
            .await
            .read(label, "insights")
        {
            Ok(body) => Ok(insights(&body)),
            Err(failure) if failure.message.contains(TOO_FEW_VIEWERS) => Ok(None),
            Err(failure) => Err(crate::metrics_refusal(failure, label, scope)),
        }
    }

    /// Why `step` could not be read now.
    fn unavailable(&self, step: &str, reason: &str) -> Failure {
        Failure::retryable(
            "PLATFORM_UNAVAILABLE",
            format!("{}'s {step} could not be read: {reason}", self.api().label),
        )
    }

    /// A container of `body`, once the platform has fetched and processed its media.
    async fn container(&self, auth: &Auth, body: &Value) -> Result<String, Failure> {
        let path = format!("{}/{}", auth.account_id, self.api().create);
        let request = self.http().post(self.url(&path)).json(body);
        let container = match self.call(request, &auth.access_token).await {
            Reply::Ok(body) => body["id"].as_str().map(str::to_owned).ok_or_else(|| {
                self.unavailable("container", "the platform created no container id")
            })?,
            Reply::Refused(failure) => return Err(failure),
            Reply::Lost(reason, _) => return Err(self.unavailable("container", &reason)),
        };
        let started = Instant::now();
        loop {
            match self.container_status(auth, &container).await {
                Reply::Ok(body) => {
                    if let Some(outcome) = self.settled(&body, container.clone()) {
                        return outcome;
                    }
                }
                Reply::Refused(failure) => return Err(failure),
                Reply::Lost(..) => {}
            }
            if started.elapsed() >= self.wait() {
                return Err(Failure::retryable(
                    "MEDIA_PROCESSING_SLOW",
                    format!(
                        "{} was still processing the media; retried later",
                        self.api().label
                    ),
                )
                .platform("IN_PROGRESS"));
            }
            tokio::time::sleep(self.poll()).await;
        }
    }

    /// What a container's status says of a post about to be published: ready, failed, or
    /// (`None`) still processing.
    fn settled(&self, body: &Value, container: String) -> Option<Result<String, Failure>> {
        let label = self.api().label;
        match body[self.api().status].as_str().unwrap_or("") {
            "FINISHED" => Some(Ok(container)),
            "ERROR" => {
                let detail = body[self.api().detail].as_str().unwrap_or("").to_owned();
                Some(Err(Failure::permanent(
                    "MEDIA_PROCESSING_FAILED",
                    format!("{label} could not process the media: {detail}"),
                )
                .platform(format!("ERROR {detail}").trim().to_owned())))
            }
            "EXPIRED" => Some(Err(Failure::retryable(
                "PLATFORM_UNAVAILABLE",
                format!("{label}'s container expired before it was published; a new one is made on the next try"),
            )
            .platform("EXPIRED"))),
            _ => None,
        }
    }

    /// The one call with an outside effect: the container published.
    async fn publish(&self, auth: &Auth, prepared: Option<&str>) -> Sent {
        let Some(container) = prepared else {
            return Sent::NotApplied(Failure::retryable(
                "PLATFORM_UNAVAILABLE",
                format!("no {} container to publish", self.api().label),
            ));
        };
        let path = format!("{}/{}", auth.account_id, self.api().publish);
        let request = self
            .http()
            .post(self.url(&path))
            .query(&[("creation_id", container)]);
        let reply = self.call(request, &auth.access_token).await;
        reply.sent(|body| Sent::Accepted {
            remote_id: container.to_owned(),
            post_id: body["id"].as_str().map(str::to_owned),
        })
    }

    /// Read-only: whether a published container's post is out (its id, the recent post
    /// with `text`), still pending, or expired unpublished.
    async fn confirm_container(&self, auth: &Auth, remote_id: Option<&str>, text: &str) -> Remote {
        let label = self.api().label;
        let Some(container) = remote_id else {
            return Remote::Pending(format!("no {label} container to check"));
        };
        match self.container_status(auth, container).await {
            Reply::Ok(body) => match body[self.api().status].as_str().unwrap_or("") {
                "PUBLISHED" => Remote::Published {
                    post_id: self.recent_post(auth, text).await,
                },
                "EXPIRED" => Remote::Failed(
                    Failure::permanent(
                        "NOT_PUBLISHED",
                        format!("{label}'s container expired unpublished: the post did not go out"),
                    )
                    .platform("EXPIRED"),
                ),
                other => Remote::Pending(format!("{label}'s container is {other}, not PUBLISHED")),
            },
            Reply::Refused(failure) => Remote::Pending(failure.message),
            Reply::Lost(reason, _) => Remote::Pending(reason),
        }
    }

    /// The id of a recent post of the account's with `text`, if it shows one.
    async fn recent_post(&self, auth: &Auth, text: &str) -> Option<String> {
        let path = format!("{}/{}", auth.account_id, self.api().create);
        let fields = format!("id,{},timestamp", self.api().text);
        let query = [("fields", fields.as_str()), ("limit", "25")];
        let Reply::Ok(body) = self.get(&path, &query, auth).await else {
            return None;
        };
        body["data"].as_array()?.iter().find_map(|post| {
            (post[self.api().text].as_str().unwrap_or("") == text)
                .then(|| post["id"].as_str().map(str::to_owned))
                .flatten()
        })
    }

    /// A post's `permalink`, read once (a numeric or alphanumeric id only).
    async fn permalink(&self, auth: &Auth, post_id: &str) -> Option<String> {
        if post_id.is_empty() || !post_id.bytes().all(|b| b.is_ascii_alphanumeric()) {
            return None;
        }
        let Reply::Ok(media) = self.get(post_id, &[("fields", "permalink")], auth).await else {
            return None;
        };
        media["permalink"]
            .as_str()
            .filter(|url| url.starts_with("https://") && url.len() <= 2048)
            .map(str::to_owned)
    }
}

/// A container platform connects through its code grant, its short-lived token exchanged
/// at once for a long-lived one (60 days), which is exchanged for a new one while valid, at
/// least a day after it was issued, when a week is left; an expired one cannot be.
#[async_trait]
impl<T: Containers + Named> Connect for T {
    fn code_grant(&self) -> Option<&CodeGrant> {
        Some(&self.graph().oauth.grant)
    }

    async fn connected(&self, short: Tokens) -> Result<Tokens, Failure> {
        self.long_lived(&self.graph().oauth.grant, short).await
    }

    async fn refresh(
        &self,
        access_token: &str,
        _refresh_token: Option<&str>,
    ) -> Result<Tokens, Failure> {
        self.refresh_long_lived(access_token).await
    }
}

/// A container platform publishes by its container: the account's quota read first (a
/// post past it waits an hour and reads it again), the container made and polled, then
/// published, and read back by its status.
#[async_trait]
impl<T: Containers + Named> Publish for T {
    /// The platform's own word for it: its publishing limit (posts per 24 hours).
    fn quota_spent(&self) -> Failure {
        Failure::permanent(
            "DAILY_QUOTA_EXHAUSTED",
            format!(
                "the {} account's remaining posts of the last 24 hours are spent by the entries before this one",
                self.api().label
            ),
        )
        .platform(self.api().quota)
    }

    async fn check(&self, at: Attempt<'_>) -> Result<Checked, Failure> {
        let Attempt { auth, options, .. } = at;
        let api = self.api();
        let path = format!("{}/{}", auth.account_id, api.quota);
        let body = self
            .get(&path, &[("fields", "quota_usage,config")], auth)
            .await
            .read(api.label, "publishing quota")?;
        // The total has been 25, 50 and 100 in different pages: read it.
        let left = quota_left(api.label, api.quota, &body)?;
        Ok(Checked {
            options: options.clone(),
            remaining: Some(left),
        })
    }

    async fn prepare(&self, at: Attempt<'_>) -> Result<Option<String>, Failure> {
        let Attempt { auth, post, .. } = at;
        self.containers(auth, post).await.map(Some)
    }

    async fn send(&self, at: Attempt<'_>, prepared: Option<&str>) -> Sent {
        self.publish(at.auth, prepared).await
    }

    async fn confirm(&self, auth: &Auth, sent: Settling<'_>) -> Remote {
        let Settling {
            remote_id, post, ..
        } = sent;
        self.confirm_container(auth, remote_id, &post.text).await
    }

    /// The post's permalink.
    async fn post_url(&self, auth: &Auth, post_id: &str) -> Option<String> {
        self.permalink(auth, post_id).await
    }

    fn comment_scope(&self) -> Option<&'static str> {
        Some(self.api().comment_scope)
    }

    async fn comment(&self, auth: &Auth, on: Commenting<'_>) -> Sent {
        self.post_comment(auth, on.post_id, on.text).await
    }
}

/// A container platform measures a post by its insights.
#[async_trait]
impl<T: Containers + Named> Measure for T {
    fn metrics_scope(&self) -> Option<&'static str> {
        Some(self.api().insights_scope)
    }

    async fn metrics(&self, auth: &Auth, post_id: &str) -> Result<Option<PostMetrics>, Failure> {
        let api = self.api();
        let counts = self
            .insights(auth, post_id, api.insights, api.insights_scope)
            .await?;
        Ok(counts.map(|counts| self.reading(&counts)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_rate_limit_waits_for_what_the_usage_headers_say() {
        let mut headers = reqwest::header::HeaderMap::new();
        assert_eq!(regain_after(&headers), None);
        headers.insert(
            "x-business-use-case-usage",
            r#"{"1234":[{"type":"threads","call_count":100,"estimated_time_to_regain_access":7}]}"#
                .parse()
                .unwrap(),
        );
        assert_eq!(regain_after(&headers), Some(Duration::from_secs(420)));
        let limited = rate_limited("Threads", "613".into(), "", regain_after(&headers));
        assert_eq!(limited.retry_after, Some(Duration::from_secs(420)));
        assert_eq!(limited.code, "RATE_LIMITED");
        let unsaid = rate_limited(
            "Instagram",
            "4".into(),
            "Application request limit reached",
            None,
        );
        assert_eq!(unsaid.retry_after, Some(WAIT_UNSAID));
        assert!(
            unsaid
                .message
                .ends_with("Application request limit reached (4)")
        );
    }

    #[test]
    fn graph_errors_are_said_in_our_words() {
        let limited = refusal(
            "Threads",
            &serde_json::json!({"code": 613, "message": "Calls to this api have exceeded the rate limit."}),
            Some(Duration::from_secs(60)),
        );
        assert_eq!(limited.kind, FailureKind::Retryable);
        assert_eq!(limited.retry_after, Some(Duration::from_secs(60)));
        let page = refusal("Facebook", &serde_json::json!({"code": 80001}), None);
        assert_eq!(page.code, "RATE_LIMITED");
        assert_eq!(page.retry_after, Some(WAIT_UNSAID));
        let token = refusal("Threads", &serde_json::json!({"code": 190}), None);
        assert_eq!(token.kind, FailureKind::Auth);
        assert_eq!(
            refusal("Threads", &serde_json::json!({"code": 10}), None).code,
            "PERMISSION_DENIED"
        );
        let twice = refusal(
            "Facebook",
            &serde_json::json!({"code": 506, "message": "Duplicate status message"}),
            None,
        );
        assert_eq!(
            twice.message,
            "Facebook refuses a post identical to a recent one: change its text: Duplicate status message (506)"
        );
    }
}
