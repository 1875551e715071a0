//! LinkedIn's token endpoint, OpenID userinfo and versioned REST API (posts, images,
//! organisation roles), as `docs/platforms.md` describes them, under `/linkedin`: every REST call
//! must name `LinkedIn-Version` and `X-Restli-Protocol-Version: 2.0.0`.

use serde_json::{Value, json};

use crate::sandbox::{Answer, Call, Comment, LI_MEMBER_SUB, LI_PAGE, Posted, State};

/// A post LinkedIn holds.
#[derive(Debug, Clone)]
pub struct LiPost {
    pub urn: String,
    pub author: String,
    pub commentary: String,
    pub image: Option<String>,
    pub created_at: i64,
}

fn li_error(status: u16, code: Option<&str>, message: &str) -> Answer {
    let mut body = json!({ "status": status, "message": message });
    if let Some(code) = code {
        body["code"] = json!(code);
    }
    Some((status, body))
}

fn now_ms() -> i64 {
    chrono::Utc::now().timestamp_millis()
}

pub(crate) fn route(state: &mut State, call: &Call) -> Answer {
    let path = call.path.as_str();
    if path == "/oauth/v2/accessToken" {
        return token(state, call);
    }
    if path.starts_with("/cdn/") {
        // Where entries' images are (any public file server), not LinkedIn.
        return Some((200, json!("an image's bytes")));
    }
    if !state.accepts(call.bearer()) {
        return li_error(
            401,
            Some("EXPIRED_ACCESS_TOKEN"),
            "The token used in the request has expired",
        );
    }
    if let Some(upload) = path.strip_prefix("/upload/") {
        return match state.li_images.get_mut(upload) {
            Some(bytes) if call.method == "PUT" => {
                *bytes = Some(call.body_len);
                Some((201, Value::Null))
            }
            _ => li_error(404, None, "no such upload"),
        };
    }
    if path == "/v2/userinfo" {
        return Some((
            200,
            json!({ "sub": LI_MEMBER_SUB, "name": "Ada Lovelace", "given_name": "Ada",
                "family_name": "Lovelace", "locale": { "country": "GB", "language": "en" } }),
        ));
    }
    if call
        .headers
        .get("linkedin-version")
        .is_none_or(|v| v.len() != 6)
        || call
            .headers
            .get("x-restli-protocol-version")
            .map(String::as_str)
            != Some("2.0.0")
    {
        return li_error(
            400,
            Some("VERSION_MISSING"),
            "A version must be present. Please specify a version by adding the LinkedIn-Version header.",
        );
    }
    rest(state, call, path)
}

fn create_post(state: &mut State, body: &Value) -> Answer {
    if state.li_rate_limited > 0 {
        state.li_rate_limited -= 1;
        return li_error(
            429,
            None,
            "Resource level throttle APPLICATION DAY limit for calls to this resource is reached.",
        );
    }
    let author = body["author"].as_str().unwrap_or("").to_owned();
    let commentary = body["commentary"].as_str().unwrap_or("").to_owned();
    if commentary.chars().count() > 3_000 {
        return li_error(422, None, "commentary is longer than 3000 characters");
    }
    if let Some(earlier) = state
        .li_posts
        .iter()
        .find(|p| p.author == author && p.commentary == commentary)
    {
        return Some((
            422,
            json!({ "errorDetailType": "com.linkedin.common.error.BadRequest",
                "message": format!("com.linkedin.content.common.exception.BadRequestResponseException: Content is a duplicate of {}", earlier.urn),
                "errorDetails": { "inputErrors": [{ "description": "Duplicate post is detected",
                    "input": {}, "code": "DUPLICATE_POST" }] },
                "status": 422 }),
        ));
    }
    let images: Vec<String> = match body["content"]["multiImage"]["images"].as_array() {
        Some(images) => images
            .iter()
            .filter_map(|image| image["id"].as_str().map(str::to_owned))
            .collect(),
        None => body["content"]["media"]["id"]
            .as_str()
            .map(str::to_owned)
            .into_iter()
            .collect(),
    };
    if body["content"]["multiImage"].is_object() && !(2..=MULTI_IMAGE_MAX).contains(&images.len())
    {
        return li_error(422, None, "a multiImage post takes 2 to 20 images");
    }
    let mut media = Vec::with_capacity(images.len());
    for image in &images {
        let upload = image.trim_start_matches("urn:li:image:");
        match state.li_images.get(upload) {
            Some(Some(length)) => media.push(crate::sandbox::bytes_named(*length)),
            _ => return li_error(422, None, "the image was not uploaded"),
        }
    }
    let image = images.first().cloned();
    let urn = format!("urn:li:share:7{:018}", state.li_posts.len() + 1);
    state.li_posts.push(LiPost {
        urn: urn.clone(),
        author,
        commentary,
        image,
        created_at: now_ms(),
    });
    state.posts.push(Posted {
        platform: "linkedin",
        id: urn.clone(),
        body: body.clone(),
        media,
    });
    if std::mem::take(&mut state.drop_after_publish) {
        return None;
    }
    if std::mem::take(&mut state.hang_after_publish) {
        return Some((0, Value::Null));
    }
    state.reply_headers.push(("x-restli-id".into(), urn));
    Some((201, Value::Null))
}

/// A comment by the post's own author (`actor`) under it (`object`): 201, its URN in
/// `x-restli-id` and the comment in the body.
fn comment(state: &mut State, body: &Value) -> Answer {
    let object = body["object"].as_str().unwrap_or_default().to_owned();
    let actor = body["actor"].as_str().unwrap_or_default();
    if !state.li_posts.iter().any(|p| p.urn == object && p.author == actor) {
        return li_error(422, None, "the object is not a post of the actor");
    }
    let text = body["message"]["text"].as_str().unwrap_or_default().to_owned();
    match crate::sandbox::comment(state, "linkedin", &object, &text) {
        Comment::Refused => li_error(403, Some("ACCESS_DENIED"), "Comments are disabled on this post"),
        Comment::Unanswered(answer) => answer,
        Comment::Made(id) => {
            let urn = format!("urn:li:comment:({object},{id})");
            if let Some(made) = state.comments.last_mut() {
                made.id = urn.clone();
            }
            state.reply_headers.push(("x-restli-id".into(), urn));
            Some((201, json!({ "id": id, "object": object, "message": { "text": text } })))
        }
    }
}

/// The most images a multi-image post takes.
const MULTI_IMAGE_MAX: usize = 20;

fn token(state: &mut State, call: &Call) -> Answer {
    let refused = |description: &str| {
        Some((
            400,
            json!({ "error": "invalid_request", "error_description": description }),
        ))
    };
    match call.query.get("grant_type").map(String::as_str) {
        Some("authorization_code")
            if call.query.get("code").map(String::as_str) == Some("good-code") =>
        {
            state.tokens.insert("li-token".into());
            let mut answer = json!({ "access_token": "li-token", "expires_in": 5_184_000,
                "scope": "openid,profile,w_member_social,w_organization_social,r_organization_social" });
            if state.li_refresh_tokens {
                state.refresh_tokens.insert("li-refresh".into());
                answer["refresh_token"] = json!("li-refresh");
                answer["refresh_token_expires_in"] = json!(31_536_000);
            }
            Some((200, answer))
        }
        Some("refresh_token") => {
            let refresh = call.query.get("refresh_token").cloned().unwrap_or_default();
            if state.refuse_refresh || !state.accepts_refresh(&refresh) {
                return refused(
                    "The provided authorization grant or refresh token is invalid, expired or revoked.",
                );
            }
            state.issued += 1;
            let token = format!("li-token-{}", state.issued);
            state.tokens.insert(token.clone());
            Some((
                200,
                json!({ "access_token": token, "expires_in": 5_184_000, "refresh_token": refresh,
                    "refresh_token_expires_in": 30_000_000 }),
            ))
        }
        _ => refused("Unable to retrieve access token: authorization code not found"),
    }
}

/// The page the fake's member administers, as the connect flow lists it.
pub fn default_pages() -> Vec<(String, String)> {
    vec![(LI_PAGE.to_owned(), "Devtestco".to_owned())]
}

/// The versioned REST API (`/rest/...`), its headers checked.
fn rest(state: &mut State, call: &Call, path: &str) -> Answer {
    let body: Value = serde_json::from_str(&call.body).unwrap_or(Value::Null);
    match (call.method.as_str(), path) {
        ("GET", "/rest/organizationAcls") => {
            let elements: Vec<Value> = state
                .li_pages
                .iter()
                .map(|(urn, _)| {
                    json!({ "roleAssignee": format!("urn:li:person:{LI_MEMBER_SUB}"),
                    "state": "APPROVED", "role": "ADMINISTRATOR", "organization": urn })
                })
                .collect();
            Some((
                200,
                json!({ "elements": elements, "paging": { "count": 50, "start": 0 } }),
            ))
        }
        ("GET", org) if org.starts_with("/rest/organizations/") => {
            let id = org.trim_start_matches("/rest/organizations/");
            match state
                .li_pages
                .iter()
                .find(|(urn, _)| urn.ends_with(&format!(":{id}")))
            {
                Some((_, name)) => Some((200, json!({ "id": id, "localizedName": name }))),
                None => li_error(404, None, "Not Found"),
            }
        }
        ("POST", "/rest/images") => {
            let owner = body["initializeUploadRequest"]["owner"]
                .as_str()
                .unwrap_or("");
            if owner.is_empty() {
                return li_error(422, None, "owner is required");
            }
            let n = state.li_images.len() + 1;
            let upload = format!("img-{n}");
            state.li_images.insert(upload.clone(), None);
            Some((
                200,
                json!({ "value": {
                    "uploadUrlExpiresAt": now_ms() + 86_400_000,
                    "uploadUrl": format!("{}/linkedin/upload/{upload}", state.base_url),
                    "image": format!("urn:li:image:{upload}"),
                } }),
            ))
        }
        ("GET", actions) if actions.starts_with("/rest/socialActions/") => {
            if state.metrics.denied {
                return li_error(
                    403,
                    Some("ACCESS_DENIED"),
                    "Not enough permissions to access: socialActions",
                );
            }
            let urn = actions.trim_start_matches("/rest/socialActions/");
            let n = state
                .read_metrics(urn)
                .map_or((0, 0), |n| (n.likes, n.comments));
            Some((
                200,
                json!({ "likesSummary": { "totalLikes": n.0, "likedByCurrentUser": false },
                    "commentsSummary": { "aggregatedTotalComments": n.1, "totalFirstLevelComments": n.1 } }),
            ))
        }
        ("GET", sizes) if sizes.starts_with("/rest/networkSizes/") => {
            Some((200, json!({ "firstDegreeSize": crate::sandbox::FOLLOWERS })))
        }
        ("POST", "/rest/posts") => create_post(state, &body),
        ("POST", comments)
            if comments.starts_with("/rest/socialActions/") && comments.ends_with("/comments") =>
        {
            comment(state, &body)
        }
        ("GET", "/rest/posts") => {
            let author = call.query.get("author").cloned().unwrap_or_default();
            if !author.starts_with("urn:li:organization:") {
                return li_error(
                    403,
                    Some("ACCESS_DENIED"),
                    "Not enough permissions to access: partnerApiPostsExternal.FINDER-author",
                );
            }
            if state.cannot_confirm {
                return Some((200, json!({ "elements": [] })));
            }
            let elements: Vec<Value> = state
                .li_posts
                .iter()
                .rev()
                .filter(|p| p.author == author)
                .take(10)
                .map(|p| {
                    let mut post = json!({ "id": p.urn, "author": p.author, "commentary": p.commentary,
                        "createdAt": p.created_at, "lifecycleState": "PUBLISHED", "visibility": "PUBLIC" });
                    if let Some(image) = &p.image {
                        post["content"] = json!({ "media": { "id": image } });
                    }
                    if let Some(images) = state
                        .posts
                        .iter()
                        .find(|posted| posted.id == p.urn)
                        .map(|posted| &posted.body["content"]["multiImage"])
                        .filter(|multi| multi.is_object())
                    {
                        post["content"] = json!({ "multiImage": images });
                    }
                    post
                })
                .collect();
            Some((200, json!({ "elements": elements })))
        }
        _ => li_error(404, None, "Not Found"),
    }
}
