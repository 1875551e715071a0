//! LinkedIn's versioned REST API (`docs/platforms.md`): a member or a company page they
//! administer posts text, or one image uploaded through the Images API first, with
//! `POST /rest/posts`, the one call with an outside effect (its 201 names the post in
//! `x-restli-id`). A lost answer is resolved by reading a page's recent posts; a member's
//! cannot be read without a partner scope, so it ends `unconfirmed`. Every REST call names
//! `LinkedIn-Version` and `X-Restli-Protocol-Version: 2.0.0`. Errors are
//! `{"status", "code"?, "serviceErrorCode"?, "message", "errorDetails"?}`.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use serde_json::{Value, json};

use crate::http::{self, Supplied};
use crate::uploads::MediaReader;
use crate::{
    PostMetrics,
    Attempt, Commenting, Connect, Measure, Named, Publish, Rules, Settling, Auth, Failure, MediaKind, Options, PlannedRequest, Platform,
    Post, Remote, Reply, Sent, TokenPolicy, oauth,
    post::{self, Problem, Source, TextField, TextLimit},
};

mod connect;
mod text;

pub use text::commentary;
use text::{is_post_urn, refusal, unavailable, valid_urn};

/// A URN as one segment of a path.
fn encoded(urn: &str) -> String {
    url::form_urlencoded::byte_serialize(urn.as_bytes()).collect()
}

/// LinkedIn's name in the registry (and the channel slug it publishes).
pub const PLATFORM: Platform = Platform::of_static("linkedin");

super::register!(PLATFORM, LinkedIn::new);

/// LinkedIn's own settings: `LINKEDIN_API_BASE_URL`, `LINKEDIN_AUTHORIZE_URL`,
/// `LINKEDIN_TOKEN_URL`, and its app's credentials.
pub(crate) const HOSTS: super::Hosts = super::Hosts {
    name: "linkedin",
    credentials: ("LINKEDIN_CLIENT_ID", "LINKEDIN_CLIENT_SECRET"),
    real: [
        "https://api.linkedin.com",
        "https://www.linkedin.com/oauth/v2/authorization",
        "https://www.linkedin.com/oauth/v2/accessToken",
    ],
    token_path: "",
};

/// A post's commentary holds at most 3,000 characters.
pub const COMMENTARY_MAX: usize = 3_000;

/// A comment's text holds at most 1,250 characters.
pub const COMMENT_MAX: usize = 1_250;

/// The largest image fetched from an entry's media URL to upload.
const IMAGE_MAX_BYTES: usize = 10 * 1024 * 1024;

/// Pages of one member listed when connecting (each becomes a channel).
const PAGES_MAX: usize = 50;

/// How far back of the time it was marked sending a page's post may be dated and still be
/// taken for it (the two clocks differ).
const CLOCK_SKEW: chrono::Duration = chrono::Duration::minutes(5);

/// `x-restli-id` of a 201 that named no post: published, its id unknown.
const ACCEPTED_WITHOUT_ID: &str = "accepted";

const NOT_CONFIGURED: &str =
    "LinkedIn is not configured: set LINKEDIN_CLIENT_ID and LINKEDIN_CLIENT_SECRET";

/// What connecting asks for (`LINKEDIN_SCOPES`: an app without LinkedIn's Community
/// Management product drops the organisation scopes and posts as members only).
const SCOPES: &str = "openid profile w_member_social w_organization_social r_organization_social";

/// `LINKEDIN_API_VERSION`: the `LinkedIn-Version` every REST call names, a month as `YYYYMM`.
fn api_version(vars: &almanac_shared::config::Vars) -> anyhow::Result<String> {
    let version = vars.string_or("LINKEDIN_API_VERSION", "202610")?;
    let month = version.get(4..).and_then(|m| m.parse::<u8>().ok());
    if version.len() != 6
        || !version.bytes().all(|b| b.is_ascii_digit())
        || !month.is_some_and(|m| (1..=12).contains(&m))
    {
        anyhow::bail!(
            "LINKEDIN_API_VERSION: expected a month as YYYYMM (e.g. 202610), got `{version}`"
        );
    }
    Ok(version)
}

const MEMBER: &str = "urn:li:person:";
const PAGE: &str = "urn:li:organization:";

pub struct LinkedIn {
    /// Its client, API base and code grant.
    api: super::OauthApi,
    /// `FETCH_ALLOW_PRIVATE_NETWORKS`: the rule for the upload URLs LinkedIn supplies.
    allow_private_networks: bool,
    /// The image: an upload read from the media store, or the entry's `mediaUrl` fetched
    /// by us under the outside fetch rules.
    images: MediaReader,
    version: String,
}

impl LinkedIn {
    pub fn new(parts: &super::Parts) -> anyhow::Result<Self> {
        let (clients, store, vars) = (parts.clients, parts.store.clone(), &parts.settings.vars);
        let scopes = vars.string_or("LINKEDIN_SCOPES", SCOPES)?;
        let api = HOSTS.oauth(parts, "LinkedIn", NOT_CONFIGURED, &scopes, |grant| {
            // Access tokens last 60 days. LinkedIn issues refresh tokens to approved
            // partners only: with one, a token is refreshed a week before it expires (once
            // a day old); without, the channel is announced before its expiry and needs
            // connecting again once it has passed.
            let policy = TokenPolicy::rotating(chrono::Duration::days(7));
            grant
                .account_field("sub")
                .policy(policy.after(chrono::Duration::hours(24)))
        })?;
        Ok(Self {
            api,
            allow_private_networks: clients.allow_private_networks,
            images: MediaReader::new(store, clients.media.clone(), IMAGE_MAX_BYTES),
            version: api_version(vars)?,
        })
    }

    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.api.base)
    }

    /// The headers of a REST call, as a dry run shows them.
    fn planned_headers(&self, body: bool) -> Value {
        let mut headers = json!({
            "Authorization": "Bearer ***",
            "LinkedIn-Version": self.version,
            "X-Restli-Protocol-Version": "2.0.0",
        });
        if body {
            headers["Content-Type"] = json!("application/json");
        }
        headers
    }

    /// A REST call with LinkedIn's version headers. A 2xx answer's JSON (`{}` when it has
    /// no body) carries the `x-restli-id` header under that name.
    async fn call(&self, request: reqwest::RequestBuilder, token: &str) -> Reply {
        let request = request
            .bearer_auth(token)
            .header("LinkedIn-Version", &self.version)
            .header("X-Restli-Protocol-Version", "2.0.0");
        match http::exchange("LinkedIn", request).await {
            Err(reply) => reply,
            Ok(mut answered) => {
                // A created post's or image's id is its `x-restli-id` header.
                if (200..300).contains(&answered.status) {
                    if !answered.body.is_object() {
                        answered.body = json!({});
                    }
                    if let Some(id) = answered.header("x-restli-id").map(str::to_owned) {
                        answered.body["x-restli-id"] = json!(id);
                    }
                }
                answered.reply("LinkedIn", |a| refusal(a.status, &a.body))
            }
        }
    }

    async fn get(&self, path: &str, query: &[(&str, &str)], token: &str) -> Reply {
        self.call(self.api.http.get(self.url(path)).query(query), token)
            .await
    }

    /// The post a publish sends (`images`: the uploaded images' URNs, comma-separated: one
    /// is the post's media, more its `multiImage`).
    fn post_body(author: &str, post: &Post, images: Option<&str>) -> Value {
        let mut body = json!({
            "author": author,
            "commentary": commentary(&post.text),
            "visibility": "PUBLIC",
            "distribution": {
                "feedDistribution": "MAIN_FEED",
                "targetEntities": [],
                "thirdPartyDistributionChannels": [],
            },
            "lifecycleState": "PUBLISHED",
            "isReshareDisabledByAuthor": false,
        });
        let alt = |alt: &str| -> String {
            let alt = Some(alt).filter(|alt| !alt.trim().is_empty()).unwrap_or(&post.title);
            alt.chars().take(4_000).collect()
        };
        let images: Vec<&str> = images.into_iter().flat_map(|i| i.split(',')).collect();
        match images.as_slice() {
            [] => {}
            [image] => {
                let said = post.upload.as_ref().map_or("", |upload| upload.alt_text.as_str());
                body["content"] = json!({ "media": { "id": image, "altText": alt(said) } });
            }
            several => {
                let images: Vec<Value> = several
                    .iter()
                    .zip(&post.items)
                    .map(|(id, medium)| json!({ "id": id, "altText": alt(&medium.upload.alt_text) }))
                    .collect();
                body["content"] = json!({ "multiImage": { "images": images } });
            }
        }
        body
    }

    /// Reads an image and uploads it for the author: the image's URN.
    async fn upload_image(&self, auth: &Auth, image: Source<'_>) -> Result<String, Failure> {
        let bytes = self.images.read_source(image, "LinkedIn").await?;
        let request = self
            .api.http
            .post(self.url("/rest/images"))
            .query(&[("action", "initializeUpload")])
            .json(&json!({ "initializeUploadRequest": { "owner": auth.account_id } }));
        let value = match self.call(request, &auth.access_token).await {
            Reply::Ok(body) => body["value"].clone(),
            Reply::Refused(failure) => return Err(failure),
            Reply::Lost(reason, _) => return Err(unavailable("image upload", &reason)),
        };
        let (Some(upload), Some(image)) = (value["uploadUrl"].as_str(), value["image"].as_str())
        else {
            return Err(unavailable(
                "image upload",
                "LinkedIn answered without an upload URL",
            ));
        };
        // LinkedIn names where the bytes go, and the token goes there with them.
        let upload = crate::http::supplied(
            upload,
            Supplied::Upload,
            self.allow_private_networks,
            "LinkedIn's upload URL",
        )?;
        let put = self
            .api.http
            .put(upload)
            .bearer_auth(&auth.access_token)
            .header("content-type", "application/octet-stream")
            .body(bytes);
        match http::call("LinkedIn", put, |a| refusal(a.status, &a.body)).await {
            Reply::Ok(_) => Ok(image.to_owned()),
            Reply::Refused(failure) => Err(failure),
            Reply::Lost(reason, _) => Err(unavailable("image upload", &reason)),
        }
    }

    /// A page's recent post with this commentary (and image), dated from `since` on.
    async fn recent_page_post(
        &self,
        auth: &Auth,
        post: &Post,
        image: Option<&str>,
        since: DateTime<Utc>,
    ) -> Result<Option<String>, String> {
        let query = [
            ("q", "author"),
            ("author", auth.account_id.as_str()),
            ("count", "10"),
            ("sortBy", "CREATED"),
        ];
        let body = match self.get("/rest/posts", &query, &auth.access_token).await {
            Reply::Ok(body) => body,
            Reply::Refused(failure) => return Err(failure.message),
            Reply::Lost(reason, _) => return Err(reason),
        };
        let text = commentary(&post.text);
        let from = (since - CLOCK_SKEW).timestamp_millis();
        Ok(body["elements"]
            .as_array()
            .into_iter()
            .flatten()
            .find(|element| {
                element["commentary"].as_str() == Some(text.as_str())
                    && element["createdAt"].as_i64().is_none_or(|at| at >= from)
                    && image.is_none_or(|image| {
                        let content = &element["content"];
                        content["media"]["id"] == image
                            || content["multiImage"]["images"][0]["id"] == image
                    })
            })
            .and_then(|element| element["id"].as_str().map(str::to_owned)))
    }
}

impl Named for LinkedIn {
    fn platform(&self) -> Platform {
        PLATFORM
    }

    fn label(&self) -> &'static str {
        "LinkedIn"
    }
}

#[async_trait]
impl Connect for LinkedIn {
    fn code_grant(&self) -> Option<&oauth::CodeGrant> {
        Some(&self.api.grant)
    }

    /// The member who granted the tokens, and the pages they administer (each its own
    /// channel, posting as the page).
    async fn connected(&self, mut tokens: oauth::Tokens) -> Result<oauth::Tokens, Failure> {
        let (member, name) = self.member(&tokens.access_token).await?;
        tokens.account_id = Some(member);
        tokens.display_name = name.clone();
        tokens.handle = name;
        tokens.more_accounts = self.pages(&tokens.access_token).await;
        Ok(tokens)
    }

    fn account_problem(&self, account_id: &str) -> Option<String> {
        (!valid_urn(account_id)).then(|| {
            format!(
                "a LinkedIn `accountId` is the author's URN: `urn:li:person:<id>` for a member or `urn:li:organization:<id>` for a page, not `{account_id}`"
            )
        })
    }

    fn author_kind(&self, account_id: &str) -> Option<crate::catalogue::AuthorKind> {
        use crate::catalogue::AuthorKind;
        if account_id.starts_with(MEMBER) {
            Some(AuthorKind::Member)
        } else if account_id.starts_with(PAGE) {
            Some(AuthorKind::Organization)
        } else {
            None
        }
    }
}

impl Rules for LinkedIn {
    fn profile(&self) -> crate::catalogue::Profile {
        use crate::catalogue::{AuthorKind, Profile};
        Profile {
            color: "#0a66c2",
            author_kinds: &[AuthorKind::Member, AuthorKind::Organization],
            // Photos and text; a video is refused (`validate`).
            media_kinds: &[MediaKind::Photo],
            media_formats: crate::catalogue::MediaFormats {
                photo: &["image/jpeg", "image/png"],
                video: &[],
            },
            hashtags_max: None,
            mentions_max: None,
            preview_chars: Some(210),
            // Posts are throttled per member a day (150), the day turning at midnight UTC.
            quota: Some(crate::catalogue::Quota::counted_daily(150).by_day_of(chrono_tz::UTC)),
            // A multi-image post holds 2 to 20 images (no video).
            carousel: Some(crate::catalogue::Carousel::of(20, false)),
            first_comment: true,
            video: None,
        }
    }

    fn text_limits(&self) -> Vec<TextLimit> {
        vec![TextLimit::chars(TextField::Text, COMMENTARY_MAX)]
    }

    fn validate(&self, post: &Post, options: &Options) -> Vec<Problem> {
        let mut problems = Vec::from_iter(crate::no_drafts(options, "LinkedIn keeps no drafts made by other apps: publish it, or export it"));
        if let Some(mime) = &post.unsupported_upload {
            problems.push(post::unsupported_media("LinkedIn", mime));
        }
        if post.media == MediaKind::Video && post.media_url.is_some() {
            problems.push(Problem::new(
                "MEDIA_UNSUPPORTED",
                "media",
                "Almanac posts text and single images to LinkedIn, not videos: give the entry an image, or no media for a text post",
            ));
        }
        if post.text.trim().is_empty() && !post.has_image() {
            problems.push(Problem::new(
                "CAPTION_REQUIRED",
                "caption",
                "a LinkedIn text post needs text: write the entry's caption",
            ));
        }
        if let Some(comment) = &post.first_comment {
            let count = comment.chars().count();
            problems.extend(post::comment_too_long("LinkedIn", count, COMMENT_MAX, "characters"));
        }
        problems.extend(post::too_long(
            "caption",
            "the LinkedIn commentary (caption, call to action and hashtags)",
            post.text_chars(),
            COMMENTARY_MAX,
        ));
        problems
    }

    fn plan(&self, account_id: &str, post: &Post, _options: &Options) -> Vec<PlannedRequest> {
        let mut requests = Vec::new();
        let urls = post.media_urls();
        let images: Vec<String> = match post.has_image() {
            true if urls.len() == 1 => vec!["<image_urn>".to_owned()],
            true => (1..=urls.len()).map(|n| format!("<image_{n}_urn>")).collect(),
            false => Vec::new(),
        };
        for media_url in urls.iter().take(images.len()) {
            requests.extend([
                PlannedRequest {
                    method: "GET".into(),
                    url: media_url.to_owned(),
                    headers: Value::Null,
                    body: Value::Null,
                    effect: "read-only".into(),
                },
                PlannedRequest {
                    method: "POST".into(),
                    url: self.url("/rest/images?action=initializeUpload"),
                    headers: self.planned_headers(true),
                    body: json!({ "initializeUploadRequest": { "owner": account_id } }),
                    effect: "harmless".into(),
                },
                PlannedRequest {
                    method: "PUT".into(),
                    url: "<upload_url>".into(),
                    headers: json!({ "Authorization": "Bearer ***",
                        "Content-Type": "application/octet-stream" }),
                    body: Value::Null,
                    effect: "harmless".into(),
                },
            ]);
        }
        requests.push(PlannedRequest {
            method: "POST".into(),
            url: self.url("/rest/posts"),
            headers: self.planned_headers(true),
            body: Self::post_body(account_id, post, Some(images.join(",")).filter(|i| !i.is_empty()).as_deref()),
            effect: "publishes".into(),
        });
        requests
    }
}

#[async_trait]
impl Publish for LinkedIn {
    async fn post_url(&self, _auth: &Auth, post_id: &str) -> Option<String> {
        feed_url(post_id)
    }

    // Commenting needs the permission posting does (`w_member_social`,
    // `w_organization_social`): no scope of its own.

    /// A comment by the post's author under it (`/rest/socialActions/{urn}/comments`).
    async fn comment(&self, auth: &Auth, on: Commenting<'_>) -> Sent {
        if !is_post_urn(on.post_id) {
            return crate::no_post_to_comment("LinkedIn");
        }
        let path = format!("/rest/socialActions/{}/comments", encoded(on.post_id));
        let body = json!({
            "actor": auth.account_id,
            "object": on.post_id,
            "message": { "text": on.text },
        });
        let request = self.api.http.post(self.url(&path)).json(&body);
        self.call(request, &auth.access_token)
            .await
            .commented(&["x-restli-id", "id"])
    }

    // Nothing to check first (the default): LinkedIn has no quota to ask about.

    /// The image, fetched and uploaded (invisible until a post names it).
    /// The images, fetched and uploaded in order (invisible until a post names them):
    /// their URNs, comma-separated.
    async fn prepare(&self, at: Attempt<'_>) -> Result<Option<String>, Failure> {
        let Attempt { auth, post, .. } = at;
        if !post.has_image() {
            return Ok(None);
        }
        let mut images = Vec::new();
        for image in post.sources() {
            images.push(self.upload_image(auth, image).await?);
        }
        Ok(Some(images.join(",")))
    }

    async fn send(&self, at: Attempt<'_>, prepared: Option<&str>) -> Sent {
        let Attempt { auth, post, .. } = at;
        let body = Self::post_body(&auth.account_id, post, prepared);
        let request = self.api.http.post(self.url("/rest/posts")).json(&body);
        let reply = self.call(request, &auth.access_token).await;
        reply.sent(|answer| {
            let urn = answer["x-restli-id"].as_str().map(str::to_owned);
            Sent::Accepted {
                remote_id: urn.clone().unwrap_or_else(|| ACCEPTED_WITHOUT_ID.into()),
                post_id: urn,
            }
        })
    }

    async fn confirm(&self, auth: &Auth, sent: Settling<'_>) -> Remote {
        let Settling { remote_id, post, since } = sent;
        // Accepted before (the attempt that was told stopped before settling it).
        if remote_id == Some(ACCEPTED_WITHOUT_ID) {
            return Remote::Published { post_id: None };
        }
        if let Some(post) = remote_id.filter(|id| is_post_urn(id)) {
            return Remote::Published {
                post_id: Some(post.to_owned()),
            };
        }
        // The first image the post names (`prepare` kept them all).
        let image = remote_id
            .filter(|id| id.starts_with("urn:li:image:"))
            .and_then(|ids| ids.split(',').next());
        if auth.account_id.starts_with(MEMBER) {
            return Remote::Unreadable(
                "LinkedIn's answer to the post never came back, and LinkedIn does not let apps read a member's posts: look at the profile's recent activity, and retry only if the post is not there, so that it is not posted twice".into(),
            );
        }
        match self.recent_page_post(auth, post, image, since).await {
            Ok(Some(id)) => Remote::Published { post_id: Some(id) },
            Ok(None) => Remote::Pending("the page's recent posts do not show it".into()),
            Err(reason) => Remote::Pending(reason),
        }
    }
}

#[async_trait]
impl Measure for LinkedIn {
    /// The post's likes and comments (`/rest/socialActions`); a page's followers as its
    /// reach base (LinkedIn reports no views to a post's author through this API).
    async fn metrics(&self, auth: &Auth, post_id: &str) -> Result<Option<PostMetrics>, Failure> {
        if !is_post_urn(post_id) {
            return Ok(None);
        }
        // Reading them is a partner permission, granted with LINKEDIN_SCOPES.
        let scope = match auth.account_id.starts_with(PAGE) {
            true => "r_organization_social",
            false => "r_member_social",
        };
        let refused = |f| crate::metrics_refusal(f, "LinkedIn", scope);
        let path = format!("/rest/socialActions/{}", encoded(post_id));
        let actions = self
            .get(&path, &[], &auth.access_token)
            .await
            .read("LinkedIn", "post's social actions")
            .map_err(refused)?;
        let followers = match auth.account_id.starts_with(PAGE) {
            true => {
                let path = format!("/rest/networkSizes/{}", encoded(&auth.account_id));
                let query = [("edgeType", "COMPANY_FOLLOWED_BY_MEMBER")];
                let sizes = self
                    .get(&path, &query, &auth.access_token)
                    .await
                    .read("LinkedIn", "page's followers")
                    .map_err(refused)?;
                sizes["firstDegreeSize"].as_u64()
            }
            false => None,
        };
        Ok(Some(PostMetrics {
            reading: almanac_shared::domain::analytics::Reading {
                likes: actions["likesSummary"]["totalLikes"].as_u64(),
                comments: actions["commentsSummary"]["aggregatedTotalComments"].as_u64(),
                ..Default::default()
            },
            reach: None,
            followers,
        }))
    }
}

/// A share's or a UGC post's URN is its address on the feed.
fn feed_url(post_id: &str) -> Option<String> {
    let urn = post_id.strip_prefix("urn:li:")?;
    let plain = urn
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || matches!(c, ':' | '_' | '-'));
    plain.then(|| format!("https://www.linkedin.com/feed/update/{post_id}"))
}

#[cfg(test)]
mod post_url_tests {
    #[test]
    fn a_post_s_urn_is_its_feed_address() {
        assert_eq!(
            super::feed_url("urn:li:share:7").as_deref(),
            Some("https://www.linkedin.com/feed/update/urn:li:share:7")
        );
        assert_eq!(super::feed_url("7"), None);
        assert_eq!(super::feed_url("urn:li:share:7/../x"), None);
    }
}
