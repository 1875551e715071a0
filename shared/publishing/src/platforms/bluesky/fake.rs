//! Bluesky's XRPC, as `docs/platforms.md` describes it: sessions at the entryway (`/bluesky`),
//! whose DID document names the account's PDS (`/bluesky/pds`), where its records, blobs, profile
//! and handle resolution are. Session tokens are JWT-shaped, with the `exp` and `scope` a
//! real session's carry, and expire when they say.
//!
//! Any handle signs in with any password shaped like an app password
//! (`xxxx-xxxx-xxxx-xxxx`); [`OWN_PASSWORD`] signs in as the account's own password would
//! (full access), and anything else is refused.

use std::collections::{HashMap, HashSet};

use base64::Engine;
use serde_json::{Value, json};

use crate::sandbox::{Answer, Call, Comment, Posted, State};

/// The account every sign-in opens, unless the handle given is another.
pub const DID: &str = "did:plc:ewvi7nxzyoun6zhxrhs64oiz";
pub const HANDLE: &str = "almanac.bsky.social";
/// A password that signs in as the account's own does (`com.atproto.access`).
pub const OWN_PASSWORD: &str = "the-account-password";
/// A handle that resolves, for mentions.
pub const FRIEND_HANDLE: &str = "alice.example.com";
pub const FRIEND_DID: &str = "did:plc:alice0000000000000000000";

/// A record the PDS holds.
#[derive(Debug, Clone)]
pub struct Record {
    pub repo: String,
    pub rkey: String,
    pub uri: String,
    pub value: Value,
}

/// What the Bluesky fake keeps.
#[derive(Debug)]
pub struct Bsky {
    pub records: Vec<Record>,
    /// Blobs uploaded: CID -> bytes received.
    pub blobs: HashMap<String, usize>,
    access: HashSet<String>,
    refresh: HashSet<String>,
    /// How long the sessions' JWTs live (Bluesky's: about two hours and two months).
    pub access_ttl_secs: i64,
    pub refresh_ttl_secs: i64,
    /// `createRecord` calls answered 429 before one is taken, and in how many seconds their
    /// `ratelimit-reset` falls.
    pub rate_limited: usize,
    pub reset_in_secs: i64,
    pub display_name: String,
    /// `createRecord` writes the record and answers 200 without naming it (no `uri`, no
    /// `cid`), once; `getRecord` answers 200 without the record's `value` this many times.
    pub answer_without_record: bool,
    pub hollow_reads: usize,
    /// The PDS the sessions' DID documents name, when not this fake's own.
    pub pds_endpoint: Option<String>,
    issued: usize,
}

impl Default for Bsky {
    fn default() -> Self {
        Self {
            records: Vec::new(),
            blobs: HashMap::new(),
            access: HashSet::new(),
            refresh: HashSet::new(),
            access_ttl_secs: 7_200,
            refresh_ttl_secs: 60 * 86_400,
            rate_limited: 0,
            reset_in_secs: 30,
            display_name: "Almanac Studio".into(),
            answer_without_record: false,
            hollow_reads: 0,
            pds_endpoint: None,
            issued: 0,
        }
    }
}

impl Bsky {
    /// Keeps at most `most` records and blobs, and starts the sessions' sets again past it
    /// (their tokens keep working by their shape in the sandbox).
    pub(crate) fn bound(&mut self, most: usize) {
        if self.records.len() > most {
            self.records.drain(..self.records.len() - most);
        }
        if self.blobs.len() > most {
            self.blobs.clear();
        }
        if self.access.len() > most || self.refresh.len() > most {
            self.access.clear();
            self.refresh.clear();
        }
    }

    /// A JWT-shaped token of `kind` (`access`, `refresh`) for `did`, expiring in `ttl`.
    fn jwt(&mut self, kind: &str, did: &str, scope: &str, ttl: i64) -> String {
        self.issued += 1;
        let b64 = |value: Value| {
            base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(value.to_string())
        };
        let exp = chrono::Utc::now().timestamp() + ttl;
        format!(
            "{}.{}.bsky-{kind}-{}",
            b64(json!({ "typ": "JWT", "alg": "ES256K" })),
            b64(json!({ "scope": scope, "sub": did, "exp": exp, "aud": "did:web:sandbox" })),
            self.issued
        )
    }
}

/// A token's claims, and whether its signature part says it is a `kind` token issued here.
fn claims(token: &str, kind: &str) -> Option<Value> {
    let mut parts = token.split('.');
    let payload = parts.nth(1)?;
    parts
        .next()?
        .starts_with(&format!("bsky-{kind}-"))
        .then_some(())?;
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(payload)
        .ok()?;
    serde_json::from_slice(&bytes).ok()
}

fn error(status: u16, name: &str, message: &str) -> Answer {
    Some((status, json!({ "error": name, "message": message })))
}

/// Whether `token` is a live session token of `kind`: `Err` is the answer to give.
fn session(state: &State, token: &str, kind: &str) -> Result<Value, Answer> {
    let issued = match kind {
        "access" => &state.bsky.access,
        _ => &state.bsky.refresh,
    };
    let Some(claims) = claims(token, kind).filter(|_| state.lenient || issued.contains(token))
    else {
        return Err(error(401, "AuthenticationRequired", "Invalid token"));
    };
    if claims["exp"].as_i64().unwrap_or(0) <= chrono::Utc::now().timestamp() {
        return Err(error(400, "ExpiredToken", "Token has expired"));
    }
    Ok(claims)
}

pub(crate) fn route(state: &mut State, call: &Call) -> Answer {
    if let Some(method) = call.path.strip_prefix("/xrpc/") {
        return entryway(state, call, method);
    }
    let method = call.path.strip_prefix("/pds/xrpc/")?;
    let claims = match session(state, call.bearer(), "access") {
        Ok(claims) => claims,
        Err(answer) => return answer,
    };
    let did = claims["sub"].as_str().unwrap_or("").to_owned();
    match (call.method.as_str(), method) {
        ("GET", "app.bsky.actor.getProfile") => Some((
            200,
            json!({ "did": did, "handle": HANDLE, "displayName": state.bsky.display_name,
                "followersCount": crate::sandbox::FOLLOWERS }),
        )),
        ("GET", "app.bsky.feed.getPosts") => {
            let uri = call.query.get("uris").cloned().unwrap_or_default();
            let posts: Vec<Value> = state
                .read_metrics(&uri)
                .map(|n| {
                    json!({ "uri": uri, "likeCount": n.likes, "replyCount": n.comments,
                        "repostCount": n.shares, "quoteCount": 1 })
                })
                .into_iter()
                .collect();
            Some((200, json!({ "posts": posts })))
        }
        ("GET", "com.atproto.identity.resolveHandle") => {
            match call.query.get("handle").map(String::as_str) {
                Some(HANDLE) => Some((200, json!({ "did": DID }))),
                Some(FRIEND_HANDLE) => Some((200, json!({ "did": FRIEND_DID }))),
                _ => error(400, "InvalidRequest", "Unable to resolve handle"),
            }
        }
        ("POST", "com.atproto.repo.uploadBlob") => upload_blob(state, call),
        ("POST", "com.atproto.repo.createRecord") => create_record(state, call, &did),
        ("GET", "com.atproto.repo.getRecord") => get_record(state, call),
        _ => error(404, "MethodNotImplemented", "Method Not Implemented"),
    }
}

/// Sessions: made, refreshed (the refresh token rotates) and ended.
fn entryway(state: &mut State, call: &Call, method: &str) -> Answer {
    match method {
        "com.atproto.server.createSession" => {
            let body: Value = serde_json::from_str(&call.body).unwrap_or(Value::Null);
            let identifier = body["identifier"].as_str().unwrap_or("").to_lowercase();
            let password = body["password"].as_str().unwrap_or("");
            let scope = if password == OWN_PASSWORD {
                "com.atproto.access"
            } else if is_app_password(password) {
                "com.atproto.appPass"
            } else {
                return error(
                    401,
                    "AuthenticationRequired",
                    "Invalid identifier or password",
                );
            };
            let handle = identifier.trim_start_matches('@');
            let handle = if handle.contains('.') { handle } else { HANDLE };
            Some((200, new_session(state, DID, handle, scope)))
        }
        "com.atproto.server.refreshSession" => {
            let token = call.bearer().to_owned();
            if state.refuse_refresh {
                return error(400, "ExpiredToken", "Token has been revoked");
            }
            let claims = match session(state, &token, "refresh") {
                Ok(claims) => claims,
                Err(answer) => return answer,
            };
            state.bsky.refresh.remove(&token);
            let scope = claims["scope"]
                .as_str()
                .unwrap_or("com.atproto.appPass")
                .to_owned();
            Some((200, new_session(state, DID, HANDLE, &scope)))
        }
        "com.atproto.server.deleteSession" => {
            let token = call.bearer().to_owned();
            state.bsky.refresh.remove(&token);
            Some((200, Value::Null))
        }
        _ => error(404, "MethodNotImplemented", "Method Not Implemented"),
    }
}

/// `xxxx-xxxx-xxxx-xxxx`, lower-case letters and digits: how Bluesky writes app passwords.
fn is_app_password(password: &str) -> bool {
    let groups: Vec<&str> = password.split('-').collect();
    groups.len() == 4
        && groups.iter().all(|group| {
            group.len() == 4
                && group
                    .bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit())
        })
}

fn new_session(state: &mut State, did: &str, handle: &str, scope: &str) -> Value {
    let (access_ttl, refresh_ttl) = (state.bsky.access_ttl_secs, state.bsky.refresh_ttl_secs);
    let access = state.bsky.jwt("access", did, scope, access_ttl);
    let refresh = state
        .bsky
        .jwt("refresh", did, "com.atproto.refresh", refresh_ttl);
    state.bsky.access.insert(access.clone());
    state.bsky.refresh.insert(refresh.clone());
    json!({
        "accessJwt": access,
        "refreshJwt": refresh,
        "handle": handle,
        "did": did,
        "didDoc": {
            "@context": ["https://www.w3.org/ns/did/v1"],
            "id": did,
            "alsoKnownAs": [format!("at://{handle}")],
            "service": [{
                "id": "#atproto_pds",
                "type": "AtprotoPersonalDataServer",
                "serviceEndpoint": state.bsky.pds_endpoint.clone()
                    .unwrap_or_else(|| format!("{}/bluesky/pds", state.base_url)),
            }],
        },
        "active": true,
    })
}

fn upload_blob(state: &mut State, call: &Call) -> Answer {
    if call.body_len > 1_000_000 {
        return error(
            400,
            "BlobTooLarge",
            "This file is too large. It is 1 MB maximum.",
        );
    }
    let mime = call
        .headers
        .get("content-type")
        .cloned()
        .unwrap_or_else(|| "application/octet-stream".into());
    let cid = format!("bafkreisandbox{:012}", state.bsky.blobs.len() + 1);
    state.bsky.blobs.insert(cid.clone(), call.body_len);
    Some((
        200,
        json!({ "blob": { "$type": "blob", "ref": { "$link": cid }, "mimeType": mime,
            "size": call.body_len } }),
    ))
}

fn create_record(state: &mut State, call: &Call, did: &str) -> Answer {
    if state.bsky.rate_limited > 0 {
        state.bsky.rate_limited -= 1;
        let reset = chrono::Utc::now().timestamp() + state.bsky.reset_in_secs;
        for (key, value) in [
            ("ratelimit-limit", "5000".to_owned()),
            ("ratelimit-remaining", "0".to_owned()),
            ("ratelimit-reset", reset.to_string()),
        ] {
            state.reply_headers.push((key.into(), value));
        }
        return error(429, "RateLimitExceeded", "Rate Limit Exceeded");
    }
    let body: Value = serde_json::from_str(&call.body).unwrap_or(Value::Null);
    let rkey = body["rkey"].as_str().unwrap_or("").to_owned();
    if body["repo"].as_str() != Some(did) {
        return error(
            400,
            "InvalidRequest",
            "Invalid repo: not the session's account",
        );
    }
    if body["collection"].as_str() != Some("app.bsky.feed.post")
        || !super::tid::is_valid(&rkey)
    {
        return error(400, "InvalidRequest", "Invalid collection or record key");
    }
    if let Some(problem) = record_problem(state, &body["record"]) {
        return error(400, "InvalidRecord", &problem);
    }
    if state
        .bsky
        .records
        .iter()
        .any(|r| r.repo == did && r.rkey == rkey)
    {
        return error(400, "InvalidRequest", "Record already exists");
    }
    let uri = format!("at://{did}/app.bsky.feed.post/{rkey}");
    let parent = body["record"]["reply"]["parent"]["uri"].as_str().map(str::to_owned);
    if let Some(parent) = parent {
        return reply(state, body, did, rkey, &parent);
    }
    state.bsky.records.push(Record {
        repo: did.to_owned(),
        rkey,
        uri: uri.clone(),
        value: body["record"].clone(),
    });
    let media = body["record"]["embed"]["images"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|image| {
            let cid = image["image"]["ref"]["$link"].as_str().unwrap_or_default();
            crate::sandbox::bytes_named(state.bsky.blobs.get(cid).copied().unwrap_or_default())
        })
        .collect();
    state.posts.push(Posted {
        platform: "bluesky",
        id: uri.clone(),
        body: body["record"].clone(),
        media,
    });
    if std::mem::take(&mut state.drop_after_publish) {
        return None;
    }
    if std::mem::take(&mut state.hang_after_publish) {
        return Some((0, Value::Null));
    }
    if std::mem::take(&mut state.bsky.answer_without_record) {
        return Some((200, json!({})));
    }
    Some((200, json!({ "uri": uri, "cid": "bafyreisandboxrecord" })))
}

/// A reply record (a first comment) under the post `parent`, which must be one of this
/// repo's: kept as a comment, not a post.
fn reply(state: &mut State, body: Value, did: &str, rkey: String, parent: &str) -> Answer {
    if !state.bsky.records.iter().any(|r| r.uri == parent) {
        return error(400, "InvalidRequest", "Invalid reply: the parent record is unknown");
    }
    let uri = format!("at://{did}/app.bsky.feed.post/{rkey}");
    let text = body["record"]["text"].as_str().unwrap_or_default().to_owned();
    match crate::sandbox::comment(state, "bluesky", parent, &text) {
        Comment::Refused => error(400, "InvalidRequest", "Replies to this post are not allowed"),
        Comment::Unanswered(answer) => {
            let value = body["record"].clone();
            state.bsky.records.push(Record { repo: did.to_owned(), rkey, uri, value });
            answer
        }
        Comment::Made(_) => {
            // Bluesky names a reply by its record's address.
            if let Some(made) = state.comments.last_mut() {
                made.id = uri.clone();
            }
            state.bsky.records.push(Record { repo: did.to_owned(), rkey, uri: uri.clone(), value: body["record"].clone() });
            Some((200, json!({ "uri": uri, "cid": "bafyreisandboxreply" })))
        }
    }
}

/// What the lexicon refuses in a post record: text over 300 graphemes or 3,000 bytes, a
/// facet outside the text, an image blob never uploaded, more than 4 images.
fn record_problem(state: &State, record: &Value) -> Option<String> {
    use unicode_segmentation::UnicodeSegmentation;
    let text = record["text"].as_str()?;
    if text.graphemes(true).count() > 300 || text.len() > 3_000 {
        return Some("Record/text must not be longer than 300 graphemes".into());
    }
    if record["createdAt"].as_str().is_none() {
        return Some("Record must have the property \"createdAt\"".into());
    }
    for facet in record["facets"].as_array().into_iter().flatten() {
        let end = facet["index"]["byteEnd"].as_u64().unwrap_or(u64::MAX);
        if end as usize > text.len() {
            return Some("Record/facets/index/byteEnd is past the text".into());
        }
    }
    let images = record["embed"]["images"].as_array();
    if images.is_some_and(|images| images.len() > 4) {
        return Some("Record/embed/images must not have more than 4 elements".into());
    }
    for image in images.into_iter().flatten() {
        let cid = image["image"]["ref"]["$link"].as_str().unwrap_or("");
        if !state.bsky.blobs.contains_key(cid) || image["alt"].as_str().is_none() {
            return Some("Record/embed/images: a blob was not uploaded, or has no alt".into());
        }
    }
    None
}

fn get_record(state: &mut State, call: &Call) -> Answer {
    if state.bsky.hollow_reads > 0 {
        state.bsky.hollow_reads -= 1;
        return Some((200, json!({ "uri": "" })));
    }
    let (repo, rkey) = (call.query.get("repo"), call.query.get("rkey"));
    let found = state
        .bsky
        .records
        .iter()
        .find(|r| Some(&r.repo) == repo && Some(&r.rkey) == rkey)
        .filter(|_| !state.cannot_confirm);
    match found {
        Some(record) => Some((
            200,
            json!({ "uri": record.uri, "cid": "bafyreisandboxrecord", "value": record.value }),
        )),
        None => error(400, "RecordNotFound", "Could not locate record"),
    }
}
