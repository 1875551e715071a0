//! Facebook's Graph API under `/facebook`, as `docs/platforms.md` describes it: the token
//! endpoint (the code's short-lived user token, and `fb_exchange_token`'s long-lived one),
//! the person's pages with their page tokens (`/me/accounts`), posts to a page's feed,
//! photos and videos (each taking only that page's token), the page's recent posts and
//! videos, and a post's permalink. Errors are the Graph API's.

use serde_json::{Value, json};

use crate::sandbox::{Answer, Call, Posted, State, graph_error};

/// The Graph API version the fake answers under.
const VERSION: &str = "v25.0";

/// The pages the person manages: id, name, username.
pub const PAGES: [(&str, &str, &str); 2] = [
    ("104000000000001", "Leafy Co", "leafyco"),
    ("104000000000002", "Leafy Shop", "leafyshop"),
];

/// A page's token, as `/me/accounts` hands it out.
pub fn page_token(page: &str) -> String {
    format!("fb-page-{page}")
}

/// What the Facebook fake keeps.
#[derive(Debug, Default)]
pub struct FacebookFake {
    /// Post calls answered with Graph API error 32 (a page's rate limit) before one is
    /// taken, and the minutes their usage header says to wait.
    pub rate_limited: usize,
    pub regain_minutes: u64,
    /// Page tokens Facebook stopped taking (a password changed).
    pub revoked: Vec<String>,
    /// The person shares no page (`/me/accounts` is empty).
    pub no_pages: bool,
    /// Photos uploaded unpublished (`published: false`), for a post to attach: id ->
    /// (page, address).
    pub unpublished: std::collections::HashMap<String, (String, String)>,
}

pub(crate) fn route(state: &mut State, call: &Call) -> Answer {
    let Some(path) = call.path.strip_prefix(&format!("/{VERSION}/")) else {
        return graph_error(404, 100, "Unknown path components");
    };
    if path == "oauth/access_token" {
        return token(state, call);
    }
    let token = call.query.get("access_token").cloned().unwrap_or_default();
    if !state.accepts(&token) || state.facebook.revoked.contains(&token) {
        return graph_error(
            400,
            190,
            "Error validating access token: The session has been invalidated because the user changed their password.",
        );
    }
    let segments: Vec<&str> = path.split('/').collect();
    match (call.method.as_str(), segments.as_slice()) {
        ("GET", ["me", "accounts"]) => {
            let shared = if state.facebook.no_pages {
                0
            } else {
                PAGES.len()
            };
            let data: Vec<Value> = PAGES[..shared]
                .iter()
                .map(|(id, name, username)| {
                    let token = page_token(id);
                    state.tokens.insert(token.clone());
                    json!({ "id": id, "name": name, "username": username, "access_token": token,
                        "category": "Brand", "tasks": ["ANALYZE", "ADVERTISE", "MODERATE", "CREATE_CONTENT", "MANAGE"] })
                })
                .collect();
            Some((200, json!({ "data": data })))
        }
        ("POST", [post, "comments"]) if state.posts.iter().any(|p| p.id == *post) => {
            let body: Value = serde_json::from_str(&call.body).unwrap_or(Value::Null);
            let text = body["message"].as_str().unwrap_or_default().to_owned();
            crate::sandbox::graph_comment(state, "facebook", post, &text)
        }
        ("POST", [page, "photos"])
            if token == page_token(page)
                && serde_json::from_str::<Value>(&call.body)
                    .is_ok_and(|body| body["published"] == false) =>
        {
            let body: Value = serde_json::from_str(&call.body).unwrap_or(Value::Null);
            let id = format!("81000000000{}", state.facebook.unpublished.len() + 1);
            let url = body["url"].as_str().unwrap_or_default().to_owned();
            state
                .facebook
                .unpublished
                .insert(id.clone(), (page.to_string(), url));
            Some((200, json!({ "id": id })))
        }
        ("POST", [page, edge @ ("feed" | "photos" | "videos")]) => {
            if token != page_token(page) {
                return graph_error(
                    403,
                    200,
                    "(#200) Posting to a page requires that page's access token",
                );
            }
            post(state, call, page, edge)
        }
        ("GET", [page, edge @ ("published_posts" | "videos")]) => {
            let videos = *edge == "videos";
            let field = if videos { "description" } else { "message" };
            let now = chrono::Utc::now()
                .format("%Y-%m-%dT%H:%M:%S+0000")
                .to_string();
            let data: Vec<Value> = match state.cannot_confirm {
                true => Vec::new(),
                false => state
                    .posts
                    .iter()
                    .filter(|p| p.platform == "facebook" && p.body["page"] == *page)
                    .filter(|p| (p.body["edge"] == "videos") == videos)
                    .map(|p| json!({ "id": p.id, field: p.body["text"], "created_time": now }))
                    .collect(),
            };
            Some((200, json!({ "data": data })))
        }
        ("GET", [id])
            if call
                .query
                .get("fields")
                .is_some_and(|f| f.contains("insights")) =>
        {
            metrics(state, id)
        }
        ("GET", [id]) => match state
            .posts
            .iter()
            .find(|p| p.platform == "facebook" && p.id == *id)
        {
            Some(posted) if posted.body["edge"] == "videos" => Some((
                200,
                json!({ "id": id, "permalink_url": format!("/{}/videos/{id}/", posted.body["page"].as_str().unwrap_or("")) }),
            )),
            Some(_) => {
                let (page, post) = id.split_once('_').unwrap_or((id, id));
                Some((
                    200,
                    json!({ "id": id, "permalink_url": format!("https://www.facebook.com/{page}/posts/{post}") }),
                ))
            }
            None => graph_error(400, 100, "Unsupported get request"),
        },
        _ => graph_error(404, 100, "Unsupported request"),
    }
}

/// A post's reactions, comments, shares and insights (`fields=...insights.metric(...)`).
fn metrics(state: &mut State, id: &str) -> Answer {
    if state.metrics.denied {
        return graph_error(
            403,
            200,
            "(#200) Requires read_insights permission to access this endpoint",
        );
    }
    let Some(n) = state.read_metrics(id) else {
        return Some((200, json!({ "id": id })));
    };
    let insight = |name: &str, value: u64| json!({ "name": name, "period": "lifetime", "values": [{ "value": value }] });
    Some((
        200,
        json!({ "id": id, "shares": { "count": n.shares },
            "reactions": { "data": [], "summary": { "total_count": n.likes } },
            "comments": { "data": [], "summary": { "total_count": n.comments } },
            "insights": { "data": [insight("post_impressions", n.views),
                insight("post_impressions_unique", n.reach)] } }),
    ))
}

/// The token endpoint: a code's short-lived user token, or `fb_exchange_token`'s
/// long-lived one.
fn token(state: &mut State, call: &Call) -> Answer {
    let app = call
        .query
        .get("client_secret")
        .is_some_and(|s| !s.is_empty());
    if !app {
        return graph_error(400, 1, "Missing client_secret");
    }
    if call.query.get("grant_type").map(String::as_str) == Some("fb_exchange_token") {
        let short = call
            .query
            .get("fb_exchange_token")
            .cloned()
            .unwrap_or_default();
        if !state.accepts(&short) {
            return graph_error(400, 190, "Invalid OAuth access token.");
        }
        state.issued += 1;
        let token = format!("fb-user-{}", state.issued);
        state.tokens.insert(token.clone());
        return Some((
            200,
            json!({ "access_token": token, "token_type": "bearer", "expires_in": 5_184_000 }),
        ));
    }
    if call.query.get("code").map(String::as_str) != Some("good-code") {
        return graph_error(400, 100, "Invalid verification code format.");
    }
    state.tokens.insert("fb-short".into());
    Some((
        200,
        json!({ "access_token": "fb-short", "token_type": "bearer", "expires_in": 5_400 }),
    ))
}

/// A post to a page's feed, photos or videos: taken once, its id answered (a photo's with
/// its post's).
fn post(state: &mut State, call: &Call, page: &str, edge: &str) -> Answer {
    if state.facebook.rate_limited > 0 {
        state.facebook.rate_limited -= 1;
        let usage = json!({ (page): [{ "type": "pages", "call_count": 100, "total_cputime": 1,
            "total_time": 1, "estimated_time_to_regain_access": state.facebook.regain_minutes }] });
        state
            .reply_headers
            .push(("x-business-use-case-usage".into(), usage.to_string()));
        return graph_error(400, 32, "Page request limit reached");
    }
    let body: Value = serde_json::from_str(&call.body).unwrap_or(Value::Null);
    let (text, media) = match edge {
        "feed" => (&body["message"], Value::Null),
        "photos" => (&body["caption"], body["url"].clone()),
        _ => (&body["description"], body["file_url"].clone()),
    };
    if edge == "feed" && text.as_str().unwrap_or("").is_empty() {
        return graph_error(400, 100, "(#100) The message parameter is required");
    }
    let text = text.clone();
    let media = match attached(state, &body, page) {
        Ok(Some(urls)) => urls,
        Ok(None) => media.as_str().map(str::to_owned).into_iter().collect(),
        Err(refused) => return refused,
    };
    // A feed post and a photo are known by their post's id (a photo also has its own); a
    // video by the video's.
    let serial = state.posts.len() + 1;
    let post_id = format!("{page}_90000000000{serial}");
    let media_id = format!("80000000000{serial}");
    let id = match edge {
        "videos" => media_id.clone(),
        _ => post_id.clone(),
    };
    let mut kept = body.clone();
    kept["page"] = json!(page);
    kept["edge"] = json!(edge);
    kept["text"] = text;
    kept["media"] = json!(media.first());
    state.posts.push(Posted {
        platform: "facebook",
        id: id.clone(),
        body: kept,
        media,
    });
    if std::mem::take(&mut state.drop_after_publish) {
        return None;
    }
    if std::mem::take(&mut state.hang_after_publish) {
        return Some((0, Value::Null));
    }
    Some(match edge {
        "photos" => (200, json!({ "id": media_id, "post_id": post_id })),
        _ => (200, json!({ "id": id })),
    })
}

/// The addresses of the unpublished photos a feed post attaches (`attached_media`, each
/// `{media_fbid}` of this page's), in order; `None` when it attaches none.
fn attached(state: &State, body: &Value, page: &str) -> Result<Option<Vec<String>>, Answer> {
    let Some(attached) = body["attached_media"].as_array() else {
        return Ok(None);
    };
    let mut urls = Vec::with_capacity(attached.len());
    for media in attached {
        let id = media["media_fbid"].as_str().unwrap_or_default();
        match state.facebook.unpublished.get(id) {
            Some((owner, url)) if owner == page => urls.push(url.clone()),
            _ => return Err(graph_error(400, 100, "(#100) attached_media names an unknown photo")),
        }
    }
    Ok(Some(urls))
}
