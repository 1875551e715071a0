//! Facebook Pages (the Graph API's Pages API, `docs/platforms.md`): Facebook Login's code
//! is exchanged for a short-lived user token, that for a long-lived one (`fb_exchange_token`),
//! and that lists the person's pages with a token each (`/me/accounts`). Every page the
//! person can post to is a channel of its own, with its page token, which does not expire.
//! A post is one call, the one with an outside effect: text to `/{page}/feed`, a photo to
//! `/{page}/photos`, a video to `/{page}/videos` (Facebook fetches the media from its
//! address). A lost answer is read back from the page's recent posts (or videos), by text
//! and time; nothing is sent twice. Errors are the Graph API's (`meta::refusal`).

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use serde_json::{Value, json};

use crate::{
    Attempt, Commenting, Connect, Measure, Named, Publish, Rules, Settling, Auth, Checked, Failure, FailureKind, MediaKind, Options, PlannedRequest,
    Platform, Post, PostMetrics, Remote, Reply, Sent,
    TokenPolicy,
    catalogue::Profile,
    oauth, platforms::meta,
    post::{self, Medium, Problem, TextField, TextLimit},
};

/// Facebook's name in the registry (and the channel slug it publishes).
pub const PLATFORM: Platform = Platform::of_static("facebook");

super::register!(PLATFORM, Facebook::new);

/// Facebook's own settings: `FACEBOOK_API_BASE_URL`, `FACEBOOK_AUTHORIZE_URL`,
/// `FACEBOOK_TOKEN_URL`, and its app's credentials (the Meta app Facebook Login and the Pages API are used through).
pub(crate) const HOSTS: super::Hosts = super::Hosts {
    name: "facebook",
    credentials: ("FACEBOOK_CLIENT_ID", "FACEBOOK_CLIENT_SECRET"),
    real: [
        "https://graph.facebook.com",
        "https://www.facebook.com/v25.0/dialog/oauth",
        "https://graph.facebook.com/v25.0/oauth/access_token",
    ],
    token_path: "",
};

/// The Graph API version every call names.
pub const VERSION: &str = "v25.0";

/// A post's text holds at most 63,206 characters.
pub const MESSAGE_MAX: usize = 63_206;

/// What connecting asks for: listing the person's pages, posting to them (and videos),
/// and reading the posts back.
pub const SCOPES: &str = "pages_show_list,pages_manage_posts,pages_read_engagement,pages_manage_engagement,pages_read_user_engagement,publish_video,read_insights";

/// The permission reading a post's insights needs.
const METRICS_SCOPE: &str = "read_insights";

/// The permission commenting as the page needs.
const COMMENT_SCOPE: &str = "pages_manage_engagement";

/// What `prepare` keeps of a multi-photo post: its photos uploaded unpublished, their ids
/// after this prefix (comma-separated). Never a post's id: a lost answer with it is looked
/// for among the page's recent posts.
const PHOTOS: &str = "photos:";

/// A post's counts and insights, in one read.
const METRICS_FIELDS: &str = "shares,reactions.summary(total_count).limit(0),comments.summary(total_count).limit(0),insights.metric(post_impressions,post_impressions_unique)";

/// Pages of one person listed when connecting (each becomes a channel).
const PAGES_MAX: usize = 50;

/// How far back of the time it was marked sending a page's post may be dated and still be
/// taken for it (the two clocks differ).
const CLOCK_SKEW: chrono::Duration = chrono::Duration::minutes(5);

const NOT_CONFIGURED: &str = "Facebook is not configured: set FACEBOOK_CLIENT_ID and FACEBOOK_CLIENT_SECRET (the Meta app's id and secret)";

pub struct Facebook {
    api: super::OauthApi,
}

impl Facebook {
    pub fn new(parts: &super::Parts) -> anyhow::Result<Self> {
        // The long-lived user token is exchanged while valid, a week before it expires.
        // Page tokens got from it have no expiry: nothing to refresh. A page token Facebook
        // stops taking (a password changed, the app removed, the person no longer manages
        // the page) is refused with code 190, and the channel is announced as needing to
        // be connected again.
        let api = HOSTS.oauth(parts, "Facebook", NOT_CONFIGURED, SCOPES, |grant| {
            grant
                .request(oauth::TokenRequest::Query)
                .policy(TokenPolicy::while_valid(chrono::Duration::days(7)))
        })?;
        Ok(Self { api })
    }

    fn url(&self, path: &str) -> String {
        format!("{}/{VERSION}/{path}", self.api.base)
    }

    async fn call(&self, request: reqwest::RequestBuilder, token: &str) -> Reply {
        meta::call(request, token, "Facebook", |error, regain| {
            meta::refusal("Facebook", error, regain)
        })
        .await
    }

    async fn get(&self, path: &str, query: &[(&str, &str)], token: &str) -> Reply {
        self.call(self.api.http.get(self.url(path)).query(query), token)
            .await
    }

    /// A photo of a multi-photo post, uploaded unpublished (invisible until a post attaches
    /// it): the page's photos edge and what it says there.
    fn unpublished(page: &str, medium: &Medium) -> (String, Value) {
        let mut body = json!({ "url": medium.url, "published": false });
        let alt = medium.upload.alt_text.trim();
        if !alt.is_empty() {
            body["alt_text_custom"] = json!(alt);
        }
        (format!("{page}/photos"), body)
    }

    /// A multi-photo post: the feed post attaching the unpublished photos `photos` (their
    /// ids, in order).
    fn attaching(page: &str, post: &Post, photos: &[&str]) -> (String, Value) {
        let attached: Vec<Value> = photos.iter().map(|id| json!({ "media_fbid": id })).collect();
        let body = json!({ "message": post.text, "attached_media": attached });
        (format!("{page}/feed"), body)
    }

    /// Where a post goes (the page's edge) and what it says there.
    fn request(page: &str, post: &Post) -> (String, Value) {
        let alt = post
            .upload
            .as_ref()
            .map(|upload| upload.alt_text.trim())
            .filter(|alt| !alt.is_empty());
        match (&post.media_url, post.media) {
            (Some(url), MediaKind::Video) => (
                format!("{page}/videos"),
                json!({ "file_url": url, "description": post.text, "title": post.title }),
            ),
            (Some(url), MediaKind::Photo) => {
                let mut body = json!({ "url": url, "caption": post.text });
                if let Some(alt) = alt {
                    body["alt_text_custom"] = json!(alt);
                }
                (format!("{page}/photos"), body)
            }
            (None, _) => (format!("{page}/feed"), json!({ "message": post.text })),
        }
    }

    /// The pages the person can post to (`CREATE_CONTENT`), each with its page token.
    async fn pages(&self, user_token: &str) -> Result<Vec<oauth::Account>, Failure> {
        let query = [
            ("fields", "id,name,username,access_token,tasks"),
            ("limit", "100"),
        ];
        let body = match self.get("me/accounts", &query, user_token).await {
            Reply::Ok(body) => body,
            Reply::Refused(failure) => return Err(failure),
            Reply::Lost(reason, _) => {
                return Err(Failure::retryable(
                    "PLATFORM_UNAVAILABLE",
                    format!("Facebook's list of pages could not be read: {reason}"),
                ));
            }
        };
        let pages = body["data"].as_array().into_iter().flatten();
        Ok(pages
            .filter(|page| {
                page["tasks"]
                    .as_array()
                    .is_none_or(|tasks| tasks.iter().any(|t| t.as_str() == Some("CREATE_CONTENT")))
            })
            .filter_map(|page| {
                let id = page["id"].as_str().filter(|id| is_graph_id(id))?;
                let token = page["access_token"].as_str().filter(|t| !t.is_empty())?;
                let name = oauth::name(&page["name"]);
                Some(oauth::Account {
                    id: id.to_owned(),
                    handle: oauth::name(&page["username"]).or_else(|| name.clone()),
                    display_name: name,
                    access_token: Some(token.to_owned()),
                })
            })
            .take(PAGES_MAX)
            .collect())
    }

    /// A recent post (or video) of the page with this text, dated from `since` on.
    async fn recent(
        &self,
        auth: &Auth,
        post: &Post,
        since: DateTime<Utc>,
    ) -> Result<Option<String>, String> {
        let (edge, field) = match (&post.media_url, post.media) {
            (Some(_), MediaKind::Video) => ("videos", "description"),
            _ => ("published_posts", "message"),
        };
        let from = (since - CLOCK_SKEW).timestamp().to_string();
        let fields = format!("id,{field},created_time");
        let query = [
            ("fields", fields.as_str()),
            ("since", from.as_str()),
            ("limit", "25"),
        ];
        let path = format!("{}/{edge}", auth.account_id);
        match self.get(&path, &query, &auth.access_token).await {
            Reply::Ok(body) => Ok(body["data"]
                .as_array()
                .into_iter()
                .flatten()
                .find(|found| found[field].as_str().unwrap_or("") == post.text)
                .and_then(|found| found["id"].as_str().map(str::to_owned))),
            Reply::Refused(failure) => Err(failure.message),
            Reply::Lost(reason, _) => Err(reason),
        }
    }
}

/// A page's, post's or video's id: digits, a post's two parts joined by `_`.
fn is_graph_id(id: &str) -> bool {
    !id.is_empty() && id.len() <= 64 && id.bytes().all(|b| b.is_ascii_digit() || b == b'_')
}

/// A `permalink_url` as Facebook answers it (a video's is a path on facebook.com).
fn permalink(answered: &str) -> Option<String> {
    let url = match answered.strip_prefix('/') {
        Some(path) => format!("https://www.facebook.com/{path}"),
        None => answered.to_owned(),
    };
    (url.starts_with("https://") && url.len() <= 2048).then_some(url)
}

impl Named for Facebook {
    fn platform(&self) -> Platform {
        PLATFORM
    }

    fn label(&self) -> &'static str {
        "Facebook"
    }
}

#[async_trait]
impl Connect for Facebook {
    fn code_grant(&self) -> Option<&oauth::CodeGrant> {
        Some(&self.api.grant)
    }

    /// The code's user token, made long-lived, lists the pages: the first is the channel
    /// connected, the others are connected beside it, each with its own page token.
    async fn connected(&self, short: oauth::Tokens) -> Result<oauth::Tokens, Failure> {
        let (client, secret) = self.api.grant.credentials()?;
        let query = [
            ("grant_type", "fb_exchange_token"),
            ("client_id", client),
            ("client_secret", secret),
            ("fb_exchange_token", short.access_token.as_str()),
        ];
        let request = self.api.http.get(self.url("oauth/access_token")).query(&query);
        let long = oauth::tokens(&oauth::token_call(request, "Facebook").await?, "")?;
        let mut pages = self.pages(&long.access_token).await?.into_iter();
        let Some(first) = pages.next() else {
            return Err(Failure::permanent(
                "NO_PAGES",
                "Facebook shared no Page you can post to: Almanac posts to Facebook Pages, not to profiles. Connect again and tick the pages to share, or create a Page first",
            )
            .platform(oauth::NO_ACCOUNT));
        };
        Ok(oauth::Tokens {
            access_token: first.access_token.clone().unwrap_or_default(),
            account_id: Some(first.id),
            handle: first.handle,
            display_name: first.display_name,
            scope: Some(SCOPES.to_owned()),
            more_accounts: pages.collect(),
            ..oauth::Tokens::default()
        })
    }

    /// A page token has no expiry and no refresh: one Facebook stopped taking needs the
    /// page connected again.
    async fn refresh(
        &self,
        _access_token: &str,
        _refresh_token: Option<&str>,
    ) -> Result<oauth::Tokens, Failure> {
        Err(Failure::new(
            FailureKind::Auth,
            "CHANNEL_AUTH_INVALID",
            "a Facebook page token cannot be refreshed; connect the page again",
        ))
    }

    fn account_problem(&self, account_id: &str) -> Option<String> {
        (!is_graph_id(account_id) || account_id.contains('_'))
            .then(|| format!("a Facebook `accountId` is the page's numeric id, not `{account_id}`"))
    }
}

impl Rules for Facebook {
    fn profile(&self) -> Profile {
        Profile {
            preview_chars: Some(477),
            // Meta states no post quota for pages, only call rates; past 25 posts a page in
            // a moving day its spam checks start refusing, so Almanac counts to 25.
            quota: Some(crate::catalogue::Quota::counted_daily(25)),
            // Several photos in one post (`attached_media`); a video goes alone.
            carousel: Some(crate::catalogue::Carousel::of(10, false)),
            first_comment: true,
            video: Some(crate::catalogue::VideoLimits::of(1, 14_400, None)),
            ..Profile::of("#1877f2")
        }
    }

    fn text_limits(&self) -> Vec<TextLimit> {
        vec![TextLimit::chars(TextField::Text, MESSAGE_MAX)]
    }

    fn validate(&self, post: &Post, options: &Options) -> Vec<Problem> {
        let mut problems = Vec::from_iter(crate::no_drafts(options, "Almanac publishes to Facebook Pages, it does not leave drafts there: publish it, or export it"));
        if let Some(mime) = &post.unsupported_upload {
            problems.push(post::unsupported_media("Facebook", mime));
        }
        if post.text.trim().is_empty() && post.media_url.is_none() {
            problems.push(Problem::new(
                "CAPTION_REQUIRED",
                "caption",
                "a Facebook text post needs text: write the entry's caption",
            ));
        }
        problems.extend(post::too_long(
            "caption",
            "the Facebook post (caption, call to action and hashtags)",
            post.text_chars(),
            MESSAGE_MAX,
        ));
        problems
    }

    fn plan(&self, account_id: &str, post: &Post, _options: &Options) -> Vec<PlannedRequest> {
        let request = |(path, body): (String, Value), effect: &str| PlannedRequest {
            method: "POST".into(),
            url: format!("{}?access_token=***", self.url(&path)),
            headers: Value::Null,
            body,
            effect: effect.into(),
        };
        if !post.is_carousel() {
            return vec![request(Self::request(account_id, post), "publishes")];
        }
        let ids: Vec<String> = (1..=post.items.len())
            .map(|n| format!("<photo_{n}_id>"))
            .collect();
        let ids: Vec<&str> = ids.iter().map(String::as_str).collect();
        post.items
            .iter()
            .map(|medium| request(Self::unpublished(account_id, medium), "harmless"))
            .chain([request(Self::attaching(account_id, post, &ids), "publishes")])
            .collect()
    }
}

#[async_trait]
impl Publish for Facebook {
    /// Nothing to read first: Facebook documents no posting quota for pages.
    async fn check(&self, at: Attempt<'_>) -> Result<Checked, Failure> {
        let Attempt { options, .. } = at;
        Ok(Checked {
            options: options.clone(),
            remaining: None,
        })
    }


    /// A multi-photo post's photos, uploaded unpublished (harmless: invisible until a post
    /// attaches them); their ids, kept as [`PHOTOS`]. Nothing for a post of one medium.
    async fn prepare(&self, at: Attempt<'_>) -> Result<Option<String>, Failure> {
        let Attempt { auth, post, .. } = at;
        if !post.is_carousel() {
            return Ok(None);
        }
        let mut ids = Vec::with_capacity(post.items.len());
        for medium in &post.items {
            let (path, body) = Self::unpublished(&auth.account_id, medium);
            let request = self.api.http.post(self.url(&path)).json(&body);
            let answer = self
                .call(request, &auth.access_token)
                .await
                .read("Facebook", "photo upload")?;
            match answer["id"].as_str().filter(|id| is_graph_id(id)) {
                Some(id) => ids.push(id.to_owned()),
                None => {
                    return Err(Failure::retryable(
                        "PLATFORM_UNAVAILABLE",
                        "Facebook took a photo without naming it; the post is tried again",
                    ));
                }
            }
        }
        Ok(Some(format!("{PHOTOS}{}", ids.join(","))))
    }

    /// The post, one call: a photo's answer names its post (`post_id`), a feed post's id is
    /// its post's (a multi-photo post's too), a video's is the video's.
    async fn send(&self, at: Attempt<'_>, prepared: Option<&str>) -> Sent {
        let Attempt { auth, post, .. } = at;
        let photos = prepared.and_then(|kept| kept.strip_prefix(PHOTOS));
        let (path, body) = match photos {
            Some(ids) => {
                let ids: Vec<&str> = ids.split(',').collect();
                Self::attaching(&auth.account_id, post, &ids)
            }
            None => Self::request(&auth.account_id, post),
        };
        let request = self.api.http.post(self.url(&path)).json(&body);
        let reply = self.call(request, &auth.access_token).await;
        reply.sent(|answer| {
            let id = answer["id"].as_str().filter(|id| is_graph_id(id));
            let post_id = answer["post_id"]
                .as_str()
                .filter(|id| is_graph_id(id))
                .or(id)
                .map(str::to_owned);
            Sent::Accepted {
                remote_id: id.map_or_else(|| "accepted".to_owned(), str::to_owned),
                post_id,
            }
        })
    }

    /// Read-only: an accepted post is out; a lost answer is looked for among the page's
    /// recent posts (a video among its videos) with the same text.
    async fn confirm(&self, auth: &Auth, sent: Settling<'_>) -> Remote {
        let Settling { remote_id, post, since } = sent;
        if let Some(id) = remote_id.filter(|id| !id.starts_with(PHOTOS)) {
            return Remote::Published {
                post_id: is_graph_id(id).then(|| id.to_owned()),
            };
        }
        match self.recent(auth, post, since).await {
            Ok(Some(id)) => Remote::Published { post_id: Some(id) },
            Ok(None) => Remote::Pending("the page's recent posts do not show it".into()),
            Err(reason) => Remote::Pending(reason),
        }
    }

    fn comment_scope(&self) -> Option<&'static str> {
        Some(COMMENT_SCOPE)
    }

    /// A comment as the page under its post (`/{post-id}/comments`).
    async fn comment(&self, auth: &Auth, on: Commenting<'_>) -> Sent {
        if !is_graph_id(on.post_id) {
            return crate::no_post_to_comment("Facebook");
        }
        let path = format!("{}/comments", on.post_id);
        let request = self
            .api
            .http
            .post(self.url(&path))
            .json(&json!({ "message": on.text }));
        self.call(request, &auth.access_token)
            .await
            .commented(&["id"])
    }

    async fn post_url(&self, auth: &Auth, post_id: &str) -> Option<String> {
        if !is_graph_id(post_id) {
            return None;
        }
        let query = [("fields", "permalink_url")];
        match self.get(post_id, &query, &auth.access_token).await {
            Reply::Ok(body) => permalink(body["permalink_url"].as_str()?),
            _ => None,
        }
    }
}

#[async_trait]
impl Measure for Facebook {
    fn metrics_scope(&self) -> Option<&'static str> {
        Some(METRICS_SCOPE)
    }

    /// The post's reactions (as likes), comments and shares, and its impressions and reach
    /// from its insights.
    async fn metrics(&self, auth: &Auth, post_id: &str) -> Result<Option<PostMetrics>, Failure> {
        if !is_graph_id(post_id) {
            return Ok(None);
        }
        let query = [("fields", METRICS_FIELDS)];
        let body = self
            .get(post_id, &query, &auth.access_token)
            .await
            .read("Facebook", "post insights")
            .map_err(|f| crate::metrics_refusal(f, "Facebook", METRICS_SCOPE))?;
        let insights = meta::insights(&body["insights"]).unwrap_or_default();
        let reading = almanac_shared::domain::analytics::Reading {
            impressions: insights.get("post_impressions").copied(),
            likes: body["reactions"]["summary"]["total_count"].as_u64(),
            comments: body["comments"]["summary"]["total_count"].as_u64(),
            shares: body["shares"]["count"].as_u64(),
            ..Default::default()
        };
        if reading == almanac_shared::domain::analytics::Reading::default() {
            return Ok(None);
        }
        Ok(Some(PostMetrics {
            reading,
            reach: insights.get("post_impressions_unique").copied(),
            followers: None,
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_and_permalinks_are_read_as_facebook_writes_them() {
        assert!(is_graph_id("104000000000001_905"));
        assert!(!is_graph_id("104/../me"));
        assert!(!is_graph_id(""));
        assert_eq!(
            permalink("/leafyco/videos/123/").as_deref(),
            Some("https://www.facebook.com/leafyco/videos/123/")
        );
        assert_eq!(
            permalink("https://www.facebook.com/1/posts/2").as_deref(),
            Some("https://www.facebook.com/1/posts/2")
        );
        assert_eq!(permalink("javascript:alert(1)"), None);
    }
}
