//! Bluesky, over the AT Protocol (`docs/platforms.md`). An account signs in with its handle
//! and an app password (`com.atproto.server.createSession` at `BLUESKY_API_BASE_URL`); the
//! access and refresh JWTs it answers are kept, the password never is, and the account's
//! posts go to the PDS its DID document names. A post is one
//! `com.atproto.repo.createRecord` of an `app.bsky.feed.post` under a record key derived
//! from its intent ([`tid`]): the one call with an outside effect. Its image is
//! uploaded just before (`uploadBlob`: harmless, a blob no record names is dropped). A lost
//! answer is settled by `getRecord` of that key, never by a second write. Errors are
//! `{"error", "message"}`; a 429 says in `ratelimit-reset` when to try again.

use std::collections::HashMap;
use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use serde_json::{Value, json};

use crate::{
    PostMetrics,
    Attempt, Commenting, Connect, Measure, Named, Publish, Rules, Settling, Auth, Checked, Failure, FailureKind, MediaKind, Options, PlannedRequest,
    Platform, Post, Remote, Reply, Sent, TokenPolicy,
    catalogue::{MediaFormats, Profile},
    http::{self, Supplied},
    oauth::{self, Tokens},
    post::{self, Problem, Source, TextField, TextLimit, TextUnit},
    uploads::MediaReader,
};

pub mod text;
pub mod tid;

use text::{TEXT_BYTES_MAX, TEXT_GRAPHEMES_MAX, graphemes};

/// Bluesky's name in the registry (and the channel slug it publishes).
pub const PLATFORM: Platform = Platform::of_static("bluesky");

super::register!(PLATFORM, Bluesky::new);

/// Where an account signs in (`BLUESKY_API_BASE_URL`): Bluesky's entryway for its hosted
/// accounts, or a self-hosted PDS's own address; posts then go to the PDS its session
/// names. No app and no OAuth: an account signs in with an app password.
pub(crate) const HOSTS: super::Hosts = super::Hosts {
    name: "bluesky",
    credentials: ("", ""),
    real: ["https://bsky.social", "", ""],
    token_path: "",
};

/// The record collection of posts.
const COLLECTION: &str = "app.bsky.feed.post";

/// An image blob holds at most 1,000,000 bytes (`app.bsky.embed.images`' lexicon).
pub const IMAGE_MAX_BYTES: usize = 1_000_000;

/// How long a publish waits on a 429 that named no reset.
const RATE_LIMIT_PAUSE: Duration = Duration::from_secs(60);
/// The longest a reset is waited for (a reset further away is taken as this).
const RATE_LIMIT_WAIT_MAX: Duration = Duration::from_secs(24 * 3600);

/// The scope of a session made with the account's own password, which Almanac refuses to
/// keep (an app password's is `com.atproto.appPass`).
const FULL_ACCESS_SCOPE: &str = "com.atproto.access";

pub struct Bluesky {
    http: reqwest::Client,
    /// `FETCH_ALLOW_PRIVATE_NETWORKS`: the rule for the PDS a DID document names.
    allow_private_networks: bool,
    /// Where accounts sign in and refresh their sessions (`BLUESKY_API_BASE_URL`).
    entry: String,
    images: MediaReader,
}

impl Bluesky {
    pub fn new(parts: &super::Parts) -> anyhow::Result<Self> {
        let (clients, settings, store) = (parts.clients, parts.settings, parts.store.clone());
        let hosts = &HOSTS;
        let real = hosts.served(settings.sandbox.as_deref(), hosts.real[0]);
        Ok(Self {
            http: clients.api.clone(),
            allow_private_networks: clients.allow_private_networks,
            entry: hosts
                .url(&settings.vars, "API_BASE_URL", &real)?
                .trim_end_matches('/')
                .to_owned(),
            images: MediaReader::new(store, clients.media.clone(), IMAGE_MAX_BYTES),
        })
    }

    fn xrpc(base: &str, method: &str) -> String {
        format!("{}/xrpc/{method}", base.trim_end_matches('/'))
    }

    /// The PDS of `auth`'s account (the sign-in host when its session named none), judged
    /// again before the token goes there (a channel connected before the rule held).
    fn pds(&self, auth: &Auth) -> Result<String, Failure> {
        match auth.service_url.as_deref() {
            Some(pds) => self.supplied_pds(pds),
            None => Ok(self.entry.clone()),
        }
    }

    /// A PDS a DID document names, as Almanac calls it ([`crate::http::supplied`]).
    fn supplied_pds(&self, raw: &str) -> Result<String, Failure> {
        crate::http::supplied(
            raw,
            Supplied::Service,
            self.allow_private_networks,
            "the server (PDS) the account's DID document names",
        )
        .map(|url| url.as_str().trim_end_matches('/').to_owned())
    }

    /// An XRPC call, with `token` as its bearer when given.
    async fn call(&self, request: reqwest::RequestBuilder, token: Option<&str>) -> Reply {
        let request = match token {
            Some(token) => request.bearer_auth(token),
            None => request,
        };
        match http::exchange("Bluesky", request).await {
            Err(reply) => reply,
            Ok(answered) if answered.status == 429 => {
                let reset = answered
                    .header("ratelimit-reset")
                    .and_then(|value| value.trim().parse::<i64>().ok());
                Reply::Refused(rate_limited(reset, Utc::now()))
            }
            Ok(answered) => answered.reply("Bluesky", |a| refusal(a.status, &a.body)),
        }
    }

    async fn get(&self, auth: &Auth, method: &str, query: &[(&str, &str)]) -> Reply {
        let pds = match self.pds(auth) {
            Ok(pds) => pds,
            Err(refused) => return Reply::Refused(refused),
        };
        let url = Self::xrpc(&pds, method);
        self.call(self.http.get(url).query(query), Some(&auth.access_token))
            .await
    }

    async fn post_json(&self, auth: &Auth, method: &str, body: &Value) -> Reply {
        let pds = match self.pds(auth) {
            Ok(pds) => pds,
            Err(refused) => return Reply::Refused(refused),
        };
        let url = Self::xrpc(&pds, method);
        self.call(self.http.post(url).json(body), Some(&auth.access_token))
            .await
    }

    /// A session answer (`createSession`, `refreshSession`) as tokens: the JWTs with the
    /// lifetimes their own `exp` says, the account's DID and handle, and its PDS.
    fn session(&self, body: &Value, now: DateTime<Utc>) -> Result<Tokens, Failure> {
        let text = |key: &str| {
            body[key]
                .as_str()
                .filter(|v| !v.is_empty())
                .map(str::to_owned)
        };
        let (Some(access), Some(did)) = (text("accessJwt"), text("did")) else {
            return Err(Failure::retryable(
                "PLATFORM_UNAVAILABLE",
                "Bluesky's session answer had no accessJwt or did",
            ));
        };
        let refresh = text("refreshJwt");
        let lifetime = |jwt: &str| {
            text::jwt_claims(jwt)?["exp"]
                .as_i64()
                .map(|exp| exp - now.timestamp())
        };
        Ok(Tokens {
            expires_in: lifetime(&access),
            refresh_expires_in: refresh.as_deref().and_then(lifetime),
            scope: text::jwt_claims(&access)
                .and_then(|claims| claims["scope"].as_str().map(str::to_owned)),
            service_url: pds_of(&body["didDoc"])
                .map(|pds| self.supplied_pds(pds))
                .transpose()?,
            access_token: access,
            refresh_token: refresh,
            account_id: Some(did),
            handle: text("handle"),
            ..Tokens::default()
        })
    }

    /// The DIDs of the handles `post` mentions, where they resolve (read-only; a handle
    /// that does not stays plain text).
    async fn mentioned(&self, auth: &Auth, post: &Post) -> HashMap<String, String> {
        let mut dids = HashMap::new();
        for handle in text::mentions(&post.text) {
            let answer = self
                .get(
                    auth,
                    "com.atproto.identity.resolveHandle",
                    &[("handle", &handle)],
                )
                .await;
            if let Reply::Ok(body) = answer
                && let Some(did) = body["did"].as_str().filter(|d| d.starts_with("did:"))
            {
                dids.insert(handle, did.to_owned());
            }
        }
        dids
    }

    /// Uploads an image: its blob, to name in the record.
    async fn upload(&self, auth: &Auth, image: Source<'_>) -> Result<Value, Failure> {
        let bytes = self.images.read_source(image, "Bluesky").await?;
        let mime = image
            .upload
            .map_or_else(|| sniffed_mime(&bytes), |upload| upload.mime.clone());
        let request = self
            .http
            .post(Self::xrpc(&self.pds(auth)?, "com.atproto.repo.uploadBlob"))
            .header(reqwest::header::CONTENT_TYPE, mime)
            .body(bytes);
        match self.call(request, Some(&auth.access_token)).await {
            Reply::Ok(body) if body["blob"].is_object() => Ok(body["blob"].clone()),
            Reply::Ok(_) => Err(unavailable("Bluesky's blob upload answered no blob")),
            Reply::Refused(failure) => Err(failure),
            Reply::Lost(reason, _) => Err(unavailable(&reason)),
        }
    }

    /// The post's images, each uploaded in order, with its alt text: `(blob, alt)`.
    async fn upload_all(&self, auth: &Auth, post: &Post) -> Result<Vec<(Value, String)>, Failure> {
        let mut blobs = Vec::new();
        for image in images(post) {
            blobs.push((self.upload(auth, image).await?, image.alt_text().to_owned()));
        }
        Ok(blobs)
    }

    /// A post's record written to the account's repo under `rkey` (the one request with an
    /// outside effect of a post, or of its reply).
    async fn write(&self, auth: &Auth, rkey: &str, record: Value) -> Reply {
        let body = json!({
            "repo": auth.account_id,
            "collection": COLLECTION,
            "rkey": rkey,
            "record": record,
        });
        self.post_json(auth, "com.atproto.repo.createRecord", &body)
            .await
    }

    /// The record's `uri` and `cid` of the post `uri` (read-only), to reply under.
    async fn strong_ref(&self, auth: &Auth, uri: &str) -> Result<Value, Failure> {
        let rkey = uri.rsplit('/').next().unwrap_or_default();
        let query = [
            ("repo", auth.account_id.as_str()),
            ("collection", COLLECTION),
            ("rkey", rkey),
        ];
        let body = self
            .get(auth, "com.atproto.repo.getRecord", &query)
            .await
            .read("Bluesky", "post")?;
        match (body["uri"].as_str(), body["cid"].as_str()) {
            (Some(uri), Some(cid)) if !uri.is_empty() && !cid.is_empty() => {
                Ok(json!({ "uri": uri, "cid": cid }))
            }
            _ => Err(unavailable("Bluesky's answer for the post named no uri and cid")),
        }
    }
}

/// The images a post sends, in order (none for a text post).
fn images(post: &Post) -> Vec<Source<'_>> {
    match post.has_image() {
        true => post.sources(),
        false => Vec::new(),
    }
}

/// Now, as a record's `createdAt` says it.
fn now() -> String {
    Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

/// The record of a post: its text with facets (mentions whose DIDs `dids` holds), its
/// language when the text tells it, the time it was written, and its images (`blobs`, each
/// with its alt text).
fn record(post: &Post, dids: &HashMap<String, String>, blobs: &[(Value, String)], at: &str) -> Value {
    let mut record = json!({
        "$type": COLLECTION,
        "text": post.text,
        "createdAt": at,
    });
    if let Some(language) = text::language(&post.text) {
        record["langs"] = json!([language]);
    }
    let facets = text::facets(&post.text, dids);
    if !facets.is_empty() {
        record["facets"] = Value::from(facets);
    }
    if !blobs.is_empty() {
        let images: Vec<Value> = blobs
            .iter()
            .map(|(blob, alt)| json!({ "alt": alt, "image": blob }))
            .collect();
        record["embed"] = json!({ "$type": "app.bsky.embed.images", "images": images });
    }
    record
}

/// A reply record (a post's first comment): `text` under the post `parent` (its `uri` and
/// `cid`), which is also the thread's root.
fn reply_record(text: &str, parent: &Value, at: &str) -> Value {
    let mut record = json!({
        "$type": COLLECTION,
        "text": text,
        "createdAt": at,
        "reply": { "root": parent, "parent": parent },
    });
    let facets = text::facets(text, &HashMap::new());
    if !facets.is_empty() {
        record["facets"] = Value::from(facets);
    }
    record
}

/// The PDS a DID document names (its `#atproto_pds` service), as written: the session
/// judges it ([`Bluesky::supplied_pds`]) before it is kept.
fn pds_of(did_doc: &Value) -> Option<&str> {
    let services = did_doc["service"].as_array()?;
    services.iter().find_map(|service| {
        let id = service["id"].as_str()?;
        (id.ends_with("#atproto_pds")).then(|| service["serviceEndpoint"].as_str())?
    })
}

/// A fetched image's type, read from its first bytes (JPEG unless it says PNG or WebP).
fn sniffed_mime(bytes: &[u8]) -> String {
    almanac_shared::media::MediaFormat::sniff(bytes)
        .map_or("image/jpeg", |format| format.mime())
        .to_owned()
}

/// A 429: the publish waits until `reset` (seconds since the epoch), or a minute when none
/// was said.
fn rate_limited(reset: Option<i64>, now: DateTime<Utc>) -> Failure {
    let wait = reset
        .map(|at| Duration::from_secs((at - now.timestamp()).clamp(1, i64::MAX) as u64))
        .unwrap_or(RATE_LIMIT_PAUSE)
        .min(RATE_LIMIT_WAIT_MAX);
    let at = now + chrono::Duration::from_std(wait).unwrap_or_default();
    Failure::retryable(
        "RATE_LIMITED",
        format!(
            "Bluesky's rate limit was reached; the post waits until it resets ({})",
            at.format("%Y-%m-%d %H:%M UTC")
        ),
    )
    .platform("RateLimitExceeded")
    .deferred(wait)
}

/// Bluesky's error, in our words, with its own name for it.
fn refusal(status: u16, body: &Value) -> Failure {
    let error = body["error"].as_str().unwrap_or("").to_owned();
    let theirs = body["message"].as_str().unwrap_or("");
    let (kind, ours, reason) = match error.as_str() {
        "ExpiredToken" | "InvalidToken" | "AuthenticationRequired" | "AuthMissing" => (
            FailureKind::Auth,
            "CHANNEL_AUTH_INVALID",
            "Bluesky refused the session (expired, revoked, or the app password was deleted)",
        ),
        _ if status == 401 => (
            FailureKind::Auth,
            "CHANNEL_AUTH_INVALID",
            "Bluesky refused the session (expired, revoked, or the app password was deleted)",
        ),
        "AccountTakedown" | "AccountDeactivated" | "AccountSuspended" => (
            FailureKind::Permanent,
            "ACCOUNT_RESTRICTED",
            "the Bluesky account is deactivated or suspended",
        ),
        "BlobTooLarge" | "PayloadTooLarge" => (
            FailureKind::Permanent,
            "MEDIA_TOO_LARGE",
            "Bluesky refused the image as too large",
        ),
        "RecordNotFound" => (
            FailureKind::Permanent,
            "NOT_FOUND",
            "Bluesky has no such post",
        ),
        _ => (
            FailureKind::Permanent,
            "PLATFORM_REFUSED",
            "Bluesky refused the post",
        ),
    };
    let platform_code = if error.is_empty() {
        status.to_string()
    } else {
        error
    };
    let message = if theirs.is_empty() {
        format!("{reason} ({platform_code})")
    } else {
        format!("{reason}: {theirs} ({platform_code})")
    };
    Failure::new(kind, ours, message).platform(platform_code)
}

fn unavailable(reason: &str) -> Failure {
    Failure::retryable(
        "PLATFORM_UNAVAILABLE",
        format!("Bluesky could not be asked now: {reason}"),
    )
}

/// The refusal of a sign-in, in words a person can act on.
fn sign_in_refused(failure: Failure) -> Failure {
    let code = failure.platform_code.clone().unwrap_or_default();
    let message = match code.as_str() {
        "AuthFactorTokenRequired" => {
            "this Bluesky account asks for an email code at sign-in: sign in with an app password instead (Bluesky: Settings → Privacy and security → App passwords)".to_owned()
        }
        "RateLimitExceeded" => return failure,
        _ if failure.kind == FailureKind::Retryable => return failure,
        _ => format!(
            "Bluesky did not accept that handle and app password: check both (an app password looks like xxxx-xxxx-xxxx-xxxx) ({code})"
        ),
    };
    Failure::permanent("CREDENTIALS_REFUSED", message).platform(code)
}

impl Named for Bluesky {
    fn platform(&self) -> Platform {
        PLATFORM
    }

    fn label(&self) -> &'static str {
        "Bluesky"
    }
}

#[async_trait]
impl Connect for Bluesky {
    /// Access JWTs live about two hours and are refreshed with the refresh JWT, which
    /// rotates (and lives about two months): refreshed when a quarter of an hour is left.
    fn token_policy(&self) -> TokenPolicy {
        TokenPolicy::rotating(chrono::Duration::minutes(15))
    }

    async fn sign_in(&self, identifier: &str, password: &str) -> Result<Tokens, Failure> {
        let request = self
            .http
            .post(Self::xrpc(&self.entry, "com.atproto.server.createSession"))
            .json(&json!({ "identifier": identifier, "password": password }));
        let body = match self.call(request, None).await {
            Reply::Ok(body) => body,
            Reply::Refused(failure) => return Err(sign_in_refused(failure)),
            Reply::Lost(reason, _) => return Err(unavailable(&reason)),
        };
        let mut tokens = self.session(&body, Utc::now())?;
        if tokens.scope.as_deref() == Some(FULL_ACCESS_SCOPE) {
            // The account's own password: its session is ended at once, and never kept.
            if let Some(refresh) = &tokens.refresh_token {
                let end = self
                    .http
                    .post(Self::xrpc(&self.entry, "com.atproto.server.deleteSession"));
                let _ = self.call(end, Some(refresh)).await;
            }
            return Err(Failure::permanent(
                "CREDENTIALS_REFUSED",
                "that is the Bluesky account's own password, which Almanac does not keep: create an app password (Bluesky: Settings → Privacy and security → App passwords) and connect with it",
            ));
        }
        // The name its profile shows (read-only; the account connects without it).
        if let Some(auth) = tokens.auth()
            && let Reply::Ok(profile) = self
                .get(
                    &auth,
                    "app.bsky.actor.getProfile",
                    &[("actor", &auth.account_id)],
                )
                .await
        {
            tokens.display_name = oauth::name(&profile["displayName"]);
        }
        Ok(tokens)
    }

    async fn refresh(
        &self,
        _access_token: &str,
        refresh_token: Option<&str>,
    ) -> Result<Tokens, Failure> {
        let Some(refresh) = refresh_token else {
            return Err(Failure::new(
                FailureKind::Auth,
                "CHANNEL_AUTH_INVALID",
                "the Bluesky session has no refresh token: connect the channel again",
            ));
        };
        let request = self
            .http
            .post(Self::xrpc(&self.entry, "com.atproto.server.refreshSession"));
        match self.call(request, Some(refresh)).await {
            Reply::Ok(body) => self.session(&body, Utc::now()),
            Reply::Refused(failure) if failure.kind == FailureKind::Retryable => Err(failure),
            Reply::Refused(failure) => Err(Failure::new(
                FailureKind::Auth,
                "CHANNEL_AUTH_INVALID",
                failure.message,
            )),
            Reply::Lost(reason, _) => Err(unavailable(&reason)),
        }
    }

    fn account_problem(&self, account_id: &str) -> Option<String> {
        (!account_id.starts_with("did:")).then(|| {
            "a Bluesky account is named by its DID (did:plc:… or did:web:…), not its handle"
                .to_owned()
        })
    }
}

impl Rules for Bluesky {
    fn profile(&self) -> Profile {
        Profile {
            color: "#1185fe",
            author_kinds: &[],
            media_kinds: &[MediaKind::Photo],
            media_formats: MediaFormats {
                photo: &["image/jpeg", "image/png", "image/webp"],
                video: &[],
            },
            hashtags_max: None,
            mentions_max: None,
            // The feed shows a post whole.
            preview_chars: None,
            // Bluesky limits record writes per account: 35,000 points a day, a created
            // record costing 3, so 11,666 posts; a 429 defers the publish to its reset.
            quota: Some(crate::catalogue::Quota::counted_daily(11_666)),
            // Up to 4 images, each with its alt text (`app.bsky.embed.images`).
            carousel: Some(crate::catalogue::Carousel::of(4, false)),
            first_comment: true,
            video: None,
        }
    }

    fn text_limits(&self) -> Vec<TextLimit> {
        vec![
            TextLimit {
                unit: TextUnit::Graphemes,
                ..TextLimit::chars(TextField::Text, TEXT_GRAPHEMES_MAX)
            },
            TextLimit {
                unit: TextUnit::Utf8Bytes,
                ..TextLimit::chars(TextField::Text, TEXT_BYTES_MAX)
            },
        ]
    }

    fn validate(&self, post: &Post, options: &Options) -> Vec<Problem> {
        let mut problems = Vec::from_iter(crate::no_drafts(options, "Bluesky has no drafts: publish it, or export it"));
        if let Some(mime) = &post.unsupported_upload {
            problems.push(post::unsupported_media("Bluesky", mime));
        }
        if post.media == MediaKind::Video && post.media_url.is_some() {
            problems.push(Problem::new(
                "MEDIA_UNSUPPORTED",
                "media",
                "Almanac posts text and images to Bluesky, not videos yet: give the entry an image, or no media for a text post",
            ));
        }
        if post.text.trim().is_empty() && !post.has_image() {
            problems.push(Problem::new(
                "CAPTION_REQUIRED",
                "caption",
                "a Bluesky text post needs text: write the entry's caption",
            ));
        }
        if let Some(comment) = &post.first_comment {
            let (count, bytes) = (graphemes(comment), comment.len());
            problems.extend(post::comment_too_long("Bluesky", count, TEXT_GRAPHEMES_MAX, "characters"));
            if count <= TEXT_GRAPHEMES_MAX {
                problems.extend(post::comment_too_long("Bluesky", bytes, TEXT_BYTES_MAX, "bytes in UTF-8"));
            }
        }
        let what = "the Bluesky post (caption, call to action and hashtags)";
        let (count, bytes) = (graphemes(&post.text), post.text.len());
        if count > TEXT_GRAPHEMES_MAX {
            problems.push(Problem::new(
                "CAPTION_TOO_LONG",
                "caption",
                format!("{what} is {count} characters; the limit is {TEXT_GRAPHEMES_MAX}"),
            ));
        } else if bytes > TEXT_BYTES_MAX {
            problems.push(Problem::new(
                "CAPTION_TOO_LONG",
                "caption",
                format!(
                    "{what} is {bytes} bytes in UTF-8 (emoji and accents take several); the limit is {TEXT_BYTES_MAX}"
                ),
            ));
        }
        problems
    }

    fn plan(&self, account_id: &str, post: &Post, _options: &Options) -> Vec<PlannedRequest> {
        let request = |method: &str, name: &str, body: Value, effect: &str| PlannedRequest {
            method: method.into(),
            url: Self::xrpc("<pds>", name),
            headers: json!({ "Authorization": "Bearer ***" }),
            body,
            effect: effect.into(),
        };
        let mut requests: Vec<PlannedRequest> = text::mentions(&post.text)
            .into_iter()
            .map(|handle| {
                let name = format!("com.atproto.identity.resolveHandle?handle={handle}");
                request("GET", &name, Value::Null, "read-only")
            })
            .collect();
        let planned_dids = text::mentions(&post.text)
            .into_iter()
            .map(|handle| (handle.clone(), format!("<did of {handle}>")))
            .collect();
        let blobs: Vec<(Value, String)> = images(post)
            .into_iter()
            .enumerate()
            .map(|(n, image)| (json!(format!("<blob {}>", n + 1)), image.alt_text().to_owned()))
            .collect();
        for _ in &blobs {
            requests.push(request(
                "POST",
                "com.atproto.repo.uploadBlob",
                Value::Null,
                "harmless",
            ));
        }
        let rkey = post
            .intent_id
            .and_then(tid::of_intent)
            .unwrap_or_else(|| "<rkey>".into());
        let body = json!({
            "repo": account_id,
            "collection": COLLECTION,
            "rkey": rkey,
            "record": record(post, &planned_dids, &blobs, "<createdAt>"),
        });
        requests.push(request(
            "POST",
            "com.atproto.repo.createRecord",
            body,
            "publishes",
        ));
        requests
    }
}

#[async_trait]
impl Publish for Bluesky {
    /// The image is read (an upload from the store, a `mediaUrl` fetched) to hold it to
    /// Bluesky's 1,000,000 bytes before anything is sent.
    async fn check(&self, at: Attempt<'_>) -> Result<Checked, Failure> {
        let Attempt { post, options, .. } = at;
        for image in images(post) {
            self.images.read_source(image, "Bluesky").await?;
        }
        Ok(Checked {
            options: options.clone(),
            remaining: None,
        })
    }

    /// The record key the post is written under, kept before it is sent.
    async fn prepare(&self, at: Attempt<'_>) -> Result<Option<String>, Failure> {
        let Attempt { post, .. } = at;
        post.intent_id
            .and_then(tid::of_intent)
            .map(Some)
            .ok_or_else(|| {
                Failure::permanent(
                    "PUBLISH_STATE_INVALID",
                    "a Bluesky post is written under its intent's key, and this publish has none",
                )
            })
    }

    async fn send(&self, at: Attempt<'_>, prepared: Option<&str>) -> Sent {
        let Attempt { auth, post, .. } = at;
        let Some(rkey) = prepared else {
            return Sent::NotApplied(unavailable("no record key was kept for the post"));
        };
        let dids = self.mentioned(auth, post).await;
        let blobs = match self.upload_all(auth, post).await {
            Ok(blobs) => blobs,
            Err(failure) => return Sent::NotApplied(failure),
        };
        let record = record(post, &dids, &blobs, &now());
        match self.write(auth, rkey, record).await {
            // Written only when the answer names the record (its `uri` and `cid`); any
            // other 2xx is unknown, settled by reading the record back.
            Reply::Ok(answer) => match (answer["uri"].as_str(), answer["cid"].as_str()) {
                (Some(uri), Some(cid)) if !uri.is_empty() && !cid.is_empty() => Sent::Accepted {
                    remote_id: rkey.to_owned(),
                    post_id: Some(uri.to_owned()),
                },
                _ => Sent::Unknown(
                    "Bluesky answered without naming the record written (its uri and cid)".into(),
                ),
            },
            Reply::Refused(failure) => Sent::NotApplied(failure),
            Reply::Lost(reason, false) => Sent::Unknown(reason),
            Reply::Lost(reason, true) => Sent::NotApplied(unavailable(&reason)),
        }
    }

    async fn confirm(&self, auth: &Auth, sent: Settling<'_>) -> Remote {
        let Settling { remote_id, .. } = sent;
        let Some(rkey) = remote_id.filter(|key| tid::is_valid(key)) else {
            return Remote::Pending("no Bluesky record key to look for".into());
        };
        let query = [
            ("repo", auth.account_id.as_str()),
            ("collection", COLLECTION),
            ("rkey", rkey),
        ];
        match self.get(auth, "com.atproto.repo.getRecord", &query).await {
            Reply::Ok(body) => match body["uri"].as_str() {
                Some(uri) if !uri.is_empty() && body["value"].is_object() => Remote::Published {
                    post_id: Some(uri.to_owned()),
                },
                _ => Remote::Pending(format!(
                    "Bluesky's answer for the key {rkey} named no record (its uri and value)"
                )),
            },
            Reply::Refused(failure) if failure.code == "NOT_FOUND" => {
                Remote::Pending(format!("Bluesky has no post under the key {rkey} yet"))
            }
            Reply::Refused(failure) => Remote::Pending(failure.message),
            Reply::Lost(reason, _) => Remote::Pending(reason),
        }
    }

    /// A reply under the post, written under the key its intent names
    /// ([`tid::of_reply`]): a repeat names the same record, which Bluesky refuses.
    async fn comment(&self, auth: &Auth, on: Commenting<'_>) -> Sent {
        let Some(rkey) = on.intent_id.and_then(tid::of_reply) else {
            return Sent::NotApplied(Failure::permanent(
                "PUBLISH_STATE_INVALID",
                "a Bluesky reply is written under its intent's key, and this publish has none",
            ));
        };
        let parent = match self.strong_ref(auth, on.post_id).await {
            Ok(parent) => parent,
            Err(failure) => return Sent::NotApplied(failure),
        };
        let reply = self
            .write(auth, &rkey, reply_record(on.text, &parent, &now()))
            .await;
        reply.sent(|answer| match answer["uri"].as_str() {
            Some(uri) if !uri.is_empty() => Sent::Accepted {
                remote_id: uri.to_owned(),
                post_id: Some(uri.to_owned()),
            },
            _ => Sent::Unknown("Bluesky answered without naming the reply written".into()),
        })
    }

    /// `at://<did>/app.bsky.feed.post/<rkey>` is shown at
    /// `https://bsky.app/profile/<did>/post/<rkey>`.
    async fn post_url(&self, _auth: &Auth, post_id: &str) -> Option<String> {
        let rest = post_id.strip_prefix("at://")?;
        let (did, rkey) = rest.split_once(&format!("/{COLLECTION}/"))?;
        let did_ok = did.starts_with("did:")
            && did.len() <= 2048
            && did
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"._:%-".contains(&b));
        (did_ok && tid::is_valid(rkey))
            .then(|| format!("https://bsky.app/profile/{did}/post/{rkey}"))
    }
}

#[async_trait]
impl Measure for Bluesky {
    /// The post's likes, replies, reposts and quotes (`app.bsky.feed.getPosts`), and the
    /// account's followers as its reach base (Bluesky counts no views).
    async fn metrics(&self, auth: &Auth, post_id: &str) -> Result<Option<PostMetrics>, Failure> {
        if !post_id.starts_with("at://") {
            return Ok(None);
        }
        let posts = self
            .get(auth, "app.bsky.feed.getPosts", &[("uris", post_id)])
            .await
            .read("Bluesky", "post's counts")?;
        let Some(post) = posts["posts"].get(0) else {
            return Ok(None);
        };
        let query = [("actor", auth.account_id.as_str())];
        let profile = self
            .get(auth, "app.bsky.actor.getProfile", &query)
            .await
            .read("Bluesky", "account's followers")?;
        let shares = [&post["repostCount"], &post["quoteCount"]]
            .into_iter()
            .filter_map(Value::as_u64)
            .reduce(|a, b| a + b);
        Ok(Some(PostMetrics {
            reading: almanac_shared::domain::analytics::Reading {
                likes: post["likeCount"].as_u64(),
                comments: post["replyCount"].as_u64(),
                shares,
                ..Default::default()
            },
            reach: None,
            followers: profile["followersCount"].as_u64(),
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_did_document_names_its_pds_as_written() {
        let doc = |endpoint: &str| {
            json!({ "service": [{ "id": "#atproto_pds", "type": "AtprotoPersonalDataServer",
                "serviceEndpoint": endpoint }] })
        };
        assert_eq!(
            pds_of(&doc("https://morel.us-east.host.bsky.network/")),
            Some("https://morel.us-east.host.bsky.network/")
        );
        assert_eq!(pds_of(&doc("http://10.0.0.1")), Some("http://10.0.0.1"));
        assert_eq!(pds_of(&Value::Null), None);
    }

    #[test]
    fn a_rate_limit_waits_for_its_reset() {
        let now = Utc::now();
        let limited = rate_limited(Some(now.timestamp() + 90), now);
        assert_eq!(limited.kind, FailureKind::Retryable);
        assert_eq!(limited.retry_after, Some(Duration::from_secs(90)));
        assert_eq!(rate_limited(None, now).retry_after, Some(RATE_LIMIT_PAUSE));
        let past = rate_limited(Some(now.timestamp() - 5), now);
        assert_eq!(past.retry_after, Some(Duration::from_secs(1)));
    }

    #[test]
    fn errors_are_said_in_our_words() {
        let expired = refusal(
            400,
            &json!({"error": "ExpiredToken", "message": "Token has expired"}),
        );
        assert_eq!(expired.kind, FailureKind::Auth);
        assert_eq!(expired.platform_code.as_deref(), Some("ExpiredToken"));
        let missing = refusal(400, &json!({"error": "RecordNotFound"}));
        assert_eq!(missing.code, "NOT_FOUND");
        let refused = sign_in_refused(refusal(
            401,
            &json!({"error": "AuthenticationRequired", "message": "Invalid identifier or password"}),
        ));
        assert_eq!(refused.code, "CREDENTIALS_REFUSED");
        assert_eq!(refused.kind, FailureKind::Permanent);
    }
}
