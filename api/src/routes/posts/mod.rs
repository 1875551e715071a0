//! Posts (docs/posts.md): one text and media composed once for several networks, planned
//! as one calendar entry per connected channel, each network saying on its own only what
//! its variant holds. A post schedules nothing: publishing stays `POST
//! /v1/calendars/{id}/publish` and the posting queue, and entries stay the unit of review,
//! publishing and analytics.

use std::collections::{BTreeMap, HashMap};

use almanac_shared::{
    domain::calendar::{self, PostContent, Variant as Own, VariantChange},
    store::{
        calendars::{self as calendars_store, Placement, Stamp},
        posts::{self as store, NewPost as Row, NewPostEntry, PostEntryRow, PostRow},
        publish::channels::ChannelRow,
        user_tx,
    },
};
use chrono::{DateTime, Timelike, Utc};
use poem::web::Data;
use poem_openapi::{
    OpenApi,
    param::{Header, Path},
    payload::Json,
    types::{MaybeUndefined, ToJSON},
};
use serde_json::{Map, Value, json};
use sqlx::PgConnection;
use uuid::Uuid;

mod dto;

pub use dto::*;

use super::Tag;
use super::saved_calendars::{owned_media, timezone, touch, workspace_channel};
use crate::{
    auth::UserAuth,
    body::StrictJson,
    error::{Answer, ApiError, ApiResult, can},
    if_match,
    responses::{CreatedVersioned, Versioned},
    state::AppState,
    text,
};

#[derive(Default)]
pub struct PostsApi;

#[OpenApi(tag = "Tag::Calendars")]
impl PostsApi {
    /// Compose one post for several networks: one entry per channel of `channelIds`, each
    /// saying the shared fields except those its variant (`variants.<channelId>`) gives.
    /// Schedules nothing (publish the entries, or add them to the queue). Each entry says
    /// what its network will receive and what that network's rules refuse in it.
    #[oai(
        path = "/v1/calendars/:id/posts",
        method = "post",
        operation_id = "createPost"
    )]
    async fn create(
        &self,
        state: Data<&AppState>,
        auth: UserAuth,
        id: Path<Uuid>,
        body: StrictJson<NewPost>,
    ) -> Answer<
        CreatedVersioned<PostEnvelope>,
        { can::STORED | can::BODY | can::NOT_FOUND | can::UNPROCESSABLE },
    > {
        let new = body.0;
        let title_given = new.title.is_some();
        let given = PostContent {
            title: new.title.map(|t| t.0).unwrap_or_default(),
            caption: new.caption.0,
            hashtags: new.hashtags.map(text::strings).unwrap_or_default(),
            call_to_action: new.call_to_action.map(|c| c.0).unwrap_or_default(),
            media_ids: new.media_ids,
            first_comment: new.first_comment.map(|c| c.0).unwrap_or_default(),
        };
        let shared = shared(given, !title_given)?;
        let mut tx = user_tx(&state.pool, auth.user().actor()).await?;
        let at = placement(timezone(&mut tx, id.0).await?, new.scheduled_at);
        let targets = of_workspace(&mut tx, &new.channel_ids).await?;
        let mut changes = variant_changes(new.variants, &new.channel_ids)?;
        let shared = PostContent {
            media_ids: owned_media(&mut tx, shared.media_ids).await?,
            ..shared
        };
        let post = store::create(
            &mut tx,
            &Row {
                id: Uuid::now_v7(),
                calendar_id: id.0,
                content: &shared,
                title_derived: !title_given,
                scheduled_at: at.scheduled_at,
            },
        )
        .await?;
        for channel in &targets {
            let change = changes.remove(&channel.id).unwrap_or_default();
            add(&mut tx, &post, channel, Own::default().changed(change), &at).await?;
        }
        touch(&mut tx, id.0).await?;
        let (post, tag) = answer(&state, &mut tx, post).await?;
        tx.commit().await?;
        Ok(CreatedVersioned::Created(PostEnvelope::of(post), tag))
    }

    /// A post: its shared fields, each network's variant and entry (with its review), and
    /// what each network will receive. Its `ETag` carries its version and each entry's.
    #[oai(
        path = "/v1/calendars/:id/posts/:post_id",
        method = "get",
        operation_id = "getPost"
    )]
    async fn get(
        &self,
        state: Data<&AppState>,
        auth: UserAuth,
        id: Path<Uuid>,
        post_id: Path<Uuid>,
    ) -> Answer<Versioned<PostEnvelope>, { can::BAD_REQUEST | can::STORED | can::NOT_FOUND }> {
        let mut tx = user_tx(&state.pool, auth.user().actor()).await?;
        let post = store::get(&mut tx, id.0, post_id.0, false)
            .await?
            .ok_or_else(|| ApiError::not_found("post"))?;
        let (post, tag) = answer(&state, &mut tx, post).await?;
        tx.commit().await?;
        Ok(Versioned::Current(PostEnvelope::of(post), tag))
    }

    /// Change a post's shared fields (every entry without a variant of a field follows),
    /// its variants (`null` drops one: that network follows again), its channels or its
    /// time. Entries publishing has reached are left as they went. With `If-Match` (the
    /// post's `ETag`), only if neither the post nor any of its entries changed since: else
    /// 412 `EDIT_CONFLICT` naming the entries that did (`details.entryIds`), and nothing is
    /// changed.
    #[oai(
        path = "/v1/calendars/:id/posts/:post_id",
        method = "patch",
        operation_id = "updatePost"
    )]
    async fn update(
        &self,
        state: Data<&AppState>,
        auth: UserAuth,
        id: Path<Uuid>,
        post_id: Path<Uuid>,
        /// The post's `ETag` as last read: changed only if nothing in it changed since.
        #[oai(name = "If-Match")]
        if_match: Header<Option<String>>,
        body: StrictJson<PostPatch>,
    ) -> Answer<
        Versioned<PostEnvelope>,
        {
            can::STORED | can::BODY | can::NOT_FOUND | can::UNPROCESSABLE | can::PRECONDITION_FAILED
        },
    > {
        let patch = body.0;
        let mut tx = user_tx(&state.pool, auth.user().actor()).await?;
        let post = store::get(&mut tx, id.0, post_id.0, true)
            .await?
            .ok_or_else(|| ApiError::not_found("post"))?;
        let entries = store::entries(&mut tx, post.id, true).await?;
        if let Some(given) = &if_match.0
            && let Some(stale) = Stale::of(given, &post, &entries)
        {
            let (current, _) = answer(&state, &mut tx, post).await?;
            tx.rollback().await?;
            return Err(stale.conflict(&state, current).await.into());
        }
        let (shared, title_derived) = patched(&post, &patch)?;
        let shared = match patch.media_ids {
            Some(ids) => PostContent {
                media_ids: owned_media(&mut tx, ids).await?,
                ..shared
            },
            None => shared,
        };
        let now_on: Vec<Uuid> = match patch.channel_ids {
            Some(ids) => ids,
            None => entries.iter().filter_map(|e| e.entry.channel_id).collect(),
        };
        let mut changes = variant_changes(patch.variants, &now_on)?;
        let tz = timezone(&mut tx, id.0).await?;
        let at = patch.scheduled_at.map(|at| placement(tz, at));
        let mut moved = Vec::new();
        let mut gone = Vec::new();
        for e in entries.iter().filter(|e| !e.published) {
            let channel = e.entry.channel_id;
            if channel.is_some_and(|c| !now_on.contains(&c)) {
                gone.push(e.entry.id);
                continue;
            }
            let change = channel.and_then(|c| changes.remove(&c)).unwrap_or_default();
            rewrite(&mut tx, e, &shared, change).await?;
            moved.push(e.entry.id);
        }
        store::delete_entries(&mut tx, &gone).await?;
        let had: Vec<Uuid> = entries.iter().filter_map(|e| e.entry.channel_id).collect();
        let added: Vec<Uuid> = now_on.into_iter().filter(|c| !had.contains(c)).collect();
        let scheduled_at = at.as_ref().map_or(post.scheduled_at, |at| at.scheduled_at);
        // The post's own version moves only with its shared fields or its time.
        let post = if shared != post.content()
            || title_derived != post.title_derived
            || scheduled_at != post.scheduled_at
        {
            store::update(&mut tx, post.id, &shared, title_derived, scheduled_at).await?
        } else {
            post
        };
        let at = match at {
            Some(at) => {
                store::move_entries(&mut tx, &moved, &at).await?;
                at
            }
            None => placement(tz, post.scheduled_at),
        };
        for channel in of_workspace(&mut tx, &added).await? {
            let change = changes.remove(&channel.id).unwrap_or_default();
            add(
                &mut tx,
                &post,
                &channel,
                Own::default().changed(change),
                &at,
            )
            .await?;
        }
        touch(&mut tx, id.0).await?;
        let (post, tag) = answer(&state, &mut tx, post).await?;
        tx.commit().await?;
        Ok(Versioned::Current(PostEnvelope::of(post), tag))
    }

    /// Delete a post: its entries publishing has not reached are deleted (their scheduled
    /// publishes cancelled), those it has are kept as they went; the answer names both.
    #[oai(
        path = "/v1/calendars/:id/posts/:post_id",
        method = "delete",
        operation_id = "deletePost"
    )]
    async fn delete(
        &self,
        state: Data<&AppState>,
        auth: UserAuth,
        id: Path<Uuid>,
        post_id: Path<Uuid>,
    ) -> Answer<Json<PostDeletedEnvelope>, { can::BAD_REQUEST | can::STORED | can::NOT_FOUND }>
    {
        let mut tx = user_tx(&state.pool, auth.user().actor()).await?;
        let post = store::get(&mut tx, id.0, post_id.0, true)
            .await?
            .ok_or_else(|| ApiError::not_found("post"))?;
        let entries = store::entries(&mut tx, post.id, true).await?;
        let (kept, deleted): (Vec<_>, Vec<_>) = entries.iter().partition(|e| e.published);
        let ids = |rows: Vec<&PostEntryRow>| rows.iter().map(|e| e.entry.id).collect::<Vec<_>>();
        let (kept, deleted) = (ids(kept), ids(deleted));
        store::delete_entries(&mut tx, &deleted).await?;
        store::delete(&mut tx, post.id).await?;
        touch(&mut tx, id.0).await?;
        tx.commit().await?;
        Ok(PostDeletedEnvelope::of(PostDeleted {
            post_id: post.id,
            deleted,
            kept,
        }))
    }
}

/// The shared fields checked; the title made from the caption when `derived`.
fn shared(mut content: PostContent, derived: bool) -> ApiResult<PostContent> {
    if derived {
        content.title = calendar::derived_title(&content.caption);
    }
    content.checked("").map_err(ApiError::invalid)
}

/// The post's shared fields after `patch`, and whether its title was made from the caption.
fn patched(post: &PostRow, patch: &PostPatch) -> ApiResult<(PostContent, bool)> {
    let mut content = post.content();
    if let Some(caption) = &patch.caption {
        content.caption = caption.0.clone();
    }
    if let Some(hashtags) = &patch.hashtags {
        content.hashtags = text::strings(hashtags.clone());
    }
    if let Some(cta) = &patch.call_to_action {
        content.call_to_action = cta.0.clone();
    }
    if let Some(comment) = &patch.first_comment {
        content.first_comment = comment.0.clone();
    }
    // A title made from the caption stays as it was made: a caption's edit changes the
    // entries without a caption variant only. `null` makes it again from the caption.
    let (derived, remake) = match &patch.title {
        MaybeUndefined::Value(title) => {
            content.title = title.0.clone();
            (false, false)
        }
        MaybeUndefined::Null => (true, true),
        MaybeUndefined::Undefined => (post.title_derived, false),
    };
    Ok((shared(content, remake)?, derived))
}

/// The connected channels `ids`, each the workspace's (422 at `channelIds` otherwise).
async fn of_workspace(conn: &mut PgConnection, ids: &[Uuid]) -> ApiResult<Vec<ChannelRow>> {
    let mut found = Vec::with_capacity(ids.len());
    for id in ids {
        found.push(workspace_channel(conn, *id, "channelIds").await?);
    }
    Ok(found)
}

/// The variants' changes by channel, each keyed by one of the post's `channels` (422 at
/// `variants` otherwise).
fn variant_changes(
    given: Option<BTreeMap<String, VariantPatch>>,
    channels: &[Uuid],
) -> ApiResult<HashMap<Uuid, VariantChange>> {
    let mut changes = HashMap::new();
    for (key, patch) in given.unwrap_or_default() {
        let channel = Uuid::try_parse(&key)
            .ok()
            .filter(|id| channels.contains(id))
            .ok_or_else(|| {
                ApiError::unprocessable_field(
                    "variants",
                    format!("`{key}` is not one of the post's channels (channelIds)"),
                )
            })?;
        changes.insert(channel, VariantChange::from(patch));
    }
    Ok(changes)
}

/// The entry of `post` on `channel`, saying `own` over the post's shared fields.
async fn add(
    conn: &mut PgConnection,
    post: &PostRow,
    channel: &ChannelRow,
    own: Own,
    at: &Placement,
) -> ApiResult<()> {
    let content = said(conn, &post.content(), &own, channel.id).await?;
    store::add_entry(
        conn,
        &NewPostEntry {
            calendar_id: post.calendar_id,
            post_id: post.id,
            platform: &channel.platform,
            channel_id: channel.id,
            content: &content,
            own: &own.own(),
            at,
        },
    )
    .await?;
    Ok(())
}

/// Writes what entry `e` says after the post's `shared` fields and its variant's `change`,
/// when that changed anything.
async fn rewrite(
    conn: &mut PgConnection,
    e: &PostEntryRow,
    shared: &PostContent,
    change: VariantChange,
) -> ApiResult<()> {
    let before = e.content();
    let own = Own::of_entry(&e.own, &before).changed(change);
    let key = e.entry.channel_id.unwrap_or(e.entry.id);
    let content = said(conn, shared, &own, key).await?;
    if content != before || own.own() != e.own {
        store::set_entry(conn, e.entry.id, &content, &own.own()).await?;
    }
    Ok(())
}

/// What an entry says: `own` over `shared`, checked (a refusal names
/// `variants.<channel>.<field>`), its own media the workspace's.
async fn said(
    conn: &mut PgConnection,
    shared: &PostContent,
    own: &Own,
    channel: Uuid,
) -> ApiResult<PostContent> {
    if let Some(ids) = &own.media_ids {
        owned_media(conn, ids.clone()).await?;
    }
    own.over(shared)
        .checked(&format!("variants.{channel}."))
        .map_err(ApiError::invalid)
}

/// Where entries planned at `at` go in the calendar's zone `tz`, to the minute.
fn placement(tz: chrono_tz::Tz, at: DateTime<Utc>) -> Placement {
    let local = at.with_timezone(&tz);
    let time = local
        .time()
        .with_second(0)
        .and_then(|t| t.with_nanosecond(0))
        .unwrap_or_default();
    let date = local.date_naive();
    Placement {
        scheduled_at: calendar::to_utc(tz, date, time),
        date,
        time,
    }
}

/// The post as answered, with its `ETag`: its entries, variants and what each network will
/// receive (read in `conn`, so a change not yet committed shows).
async fn answer(
    state: &AppState,
    conn: &mut PgConnection,
    post: PostRow,
) -> ApiResult<(Post, String)> {
    let rows = store::entries(conn, post.id, false).await?;
    let ids: Vec<Uuid> = rows.iter().map(|e| e.entry.id).collect();
    let sendable = calendars_store::publishable_entries(conn, post.calendar_id, Some(&ids)).await?;
    let tag = etag(&post, &rows);
    let mut variants = BTreeMap::new();
    let mut entries = Vec::with_capacity(rows.len());
    for row in rows {
        let own = Own::of_entry(&row.own, &row.content());
        if let Some(channel) = row.entry.channel_id
            && !row.own.is_empty()
        {
            variants.insert(channel.to_string(), Variant::from(own));
        }
        let sends = sendable
            .iter()
            .find(|p| p.id == row.entry.id)
            .and_then(|p| almanac_publishing::uploads::judged(&state.platforms, p))
            .map(|(sent, problems)| Sends {
                text: sent.text,
                problems: problems
                    .into_iter()
                    .map(|p| SendProblem {
                        code: p.code,
                        field: p.field,
                        message: p.message,
                    })
                    .collect(),
            });
        entries.push(PostEntry {
            overrides: row.own,
            published: row.published,
            entry: row.entry.into(),
            sends,
        });
    }
    let post = Post {
        id: post.id,
        calendar_id: post.calendar_id,
        title: post.title,
        title_from_caption: post.title_derived,
        caption: post.caption,
        hashtags: post.hashtags,
        call_to_action: post.call_to_action,
        first_comment: post.first_comment,
        media_ids: post.media_ids,
        scheduled_at: post.scheduled_at,
        channel_ids: entries.iter().filter_map(|e| e.entry.channel_id).collect(),
        variants,
        entries,
        version: post.version,
        created_by: post.created_by,
        updated_by: post.updated_by,
        created_at: post.created_at,
        updated_at: post.updated_at,
    };
    Ok((post, tag))
}

/// A post's `ETag`: its version, then each entry's id and version (`"3;<id>=2;<id>=5"`),
/// so that a stale `If-Match` names what changed.
fn etag(post: &PostRow, entries: &[PostEntryRow]) -> String {
    let mut versions: Vec<(Uuid, i64)> = entries
        .iter()
        .map(|e| (e.entry.id, e.entry.version))
        .collect();
    versions.sort();
    let parts: Vec<String> = std::iter::once(post.version.to_string())
        .chain(versions.iter().map(|(id, v)| format!("{id}={v}")))
        .collect();
    format!("\"{}\"", parts.join(";"))
}

/// What changed in a post since the `ETag` a client sent.
struct Stale {
    post: Option<Stamp>,
    /// The entries changed, added or deleted since, with their channel and stamp.
    entries: Vec<(Uuid, String, Option<Stamp>)>,
}

impl Stale {
    /// `None` when `If-Match` admits the post as it is (`*`, or its `ETag`).
    fn of(header: &str, post: &PostRow, entries: &[PostEntryRow]) -> Option<Self> {
        let tags: Vec<&str> = header.split(',').map(str::trim).collect();
        if tags.contains(&"*") || tags.contains(&etag(post, entries).as_str()) {
            return None;
        }
        let read = tags
            .iter()
            .find_map(|tag| tag.strip_prefix('"')?.strip_suffix('"'))
            .unwrap_or("");
        let mut parts = read.split(';');
        let post_version = parts.next().and_then(|v| v.parse::<i64>().ok());
        let mut seen: HashMap<Uuid, i64> = parts
            .filter_map(|part| {
                let (id, version) = part.split_once('=')?;
                Some((Uuid::try_parse(id).ok()?, version.parse().ok()?))
            })
            .collect();
        let stamp = |version, updated_by, updated_at| Stamp {
            version,
            updated_by,
            updated_at,
        };
        let mut changed: Vec<(Uuid, String, Option<Stamp>)> = Vec::new();
        for e in entries {
            let e = &e.entry;
            if seen.remove(&e.id) != Some(e.version) {
                let at = stamp(e.version, e.updated_by, e.updated_at);
                changed.push((e.id, e.channel.clone(), Some(at)));
            }
        }
        changed.extend(seen.into_keys().map(|id| (id, String::new(), None)));
        Some(Self {
            post: (post_version != Some(post.version))
                .then(|| stamp(post.version, post.updated_by, post.updated_at)),
            entries: changed,
        })
    }

    /// 412 `EDIT_CONFLICT`: the post as it is (`current`), the entries that changed
    /// (`details.entryIds`), whether its shared fields did (`details.postChanged`), and who
    /// made the latest of those changes.
    async fn conflict(self, state: &AppState, current: Post) -> ApiError {
        let latest = self
            .entries
            .iter()
            .filter_map(|(_, _, stamp)| *stamp)
            .chain(self.post)
            .max_by_key(|stamp| stamp.updated_at)
            .unwrap_or(Stamp {
                version: current.version,
                updated_by: current.updated_by,
                updated_at: current.updated_at,
            });
        let networks: Vec<&str> = self
            .entries
            .iter()
            .map(|(_, channel, _)| channel.as_str())
            .filter(|c| !c.is_empty())
            .collect();
        let what = match (networks.is_empty(), self.post.is_some()) {
            (true, _) => "this post".to_owned(),
            (false, false) => format!("this post's {} entries", networks.join(", ")),
            (false, true) => format!("this post and its {} entries", networks.join(", ")),
        };
        let ids: Vec<Value> = self.entries.iter().map(|(id, ..)| json!(id)).collect();
        let mut more = Map::new();
        more.insert("entryIds".into(), Value::Array(ids));
        more.insert("postChanged".into(), json!(self.post.is_some()));
        let say = |who: &str| {
            format!(
                "{what} changed by {who} since you read it; read the post again, or send its \
                 current ETag as If-Match to replace their change"
            )
        };
        let current = current.to_json().unwrap_or_default();
        if_match::conflict_with(state, say, latest, current, more).await
    }
}
