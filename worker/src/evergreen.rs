//! Evergreen collections posted again (`docs/queue.md`): with each scheduler tick, every
//! worker looks at every live collection's channels. On a channel whose queue holds
//! nothing from now on, the collection's eligible entry that went out there longest ago is
//! queued again in the channel's next free slot (`publish::evergreen::next`), as its
//! owner. With `variation: "ai"` its text is rewritten first, the call counted against the
//! owner's day like any; a rewrite the channel had within the gap is asked for once more,
//! then the repeat waits for the next tick. Two workers never queue one twice: the place is
//! taken under the channel's queue lock, after the choice is made again there. A collection
//! whose owner may not publish (`PUBLISH_SERVICE_ENABLED`) queues nothing.

use almanac_publishing::{
    evergreen::{self, Repeat},
    posting_queue::Queue,
};
use almanac_shared::{
    ai::AiError,
    clock::Clock,
    domain::publish::variation,
    flags::Flag,
    store::{self, publish::evergreen::CollectionRow, user_tx},
    workspaces::Actor,
};
use chrono::{DateTime, Utc};
use uuid::Uuid;

use crate::job::JobContext;

/// A rewrite is asked for this many times before the repeat waits for the next tick.
const REWRITES: usize = 2;

/// An entry queued again by this pass.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Repeated {
    pub collection: Uuid,
    pub channel: Uuid,
    pub entry: Uuid,
    pub intent: Uuid,
    pub publish_at: DateTime<Utc>,
}

/// Queues the repeats due at the clock's now; those queued.
pub async fn tick(ctx: &JobContext, clock: &dyn Clock) -> anyhow::Result<Vec<Repeated>> {
    let now = clock.now();
    let mut repeated = Vec::new();
    for collection in store::publish::evergreen::live(&ctx.pool).await? {
        if !ctx.flags.enabled(Flag::PublishService, collection.user_id) {
            // Publishing is off for its owner: nothing is queued that would go out when it
            // comes back.
            continue;
        }
        for channel in &collection.channel_ids {
            match repeat(ctx, &collection, *channel, now).await {
                Ok(Some(done)) => repeated.push(done),
                Ok(None) => {}
                Err(error) => tracing::warn!(evergreenId = %collection.id, channelId = %channel,
                    error = %format!("{error:#}"), "an evergreen repeat could not be queued"),
            }
        }
    }
    Ok(repeated)
}

fn queue_of(ctx: &JobContext, now: DateTime<Utc>) -> Queue<'_> {
    Queue {
        platforms: &ctx.platforms,
        pool: &ctx.pool,
        now,
        gap: ctx.settings.publish.queue_min_gap,
        request_id: None,
    }
}

/// The collection's repeat on `channel`, if one is due and its text (rewritten, with `ai`)
/// is new there.
async fn repeat(
    ctx: &JobContext,
    collection: &CollectionRow,
    channel: Uuid,
    now: DateTime<Utc>,
) -> anyhow::Result<Option<Repeated>> {
    let q = queue_of(ctx, now);
    let user = collection.user_id;
    let actor = Actor {
        user,
        workspace: collection.workspace_id,
    };
    let variant = if collection.variation == "ai" {
        // Chosen first without holding the channel (the AI takes seconds), chosen again
        // under its lock below.
        let mut tx = user_tx(&ctx.pool, actor).await?;
        let Some(planned) = evergreen::next(&q, &mut tx, collection, channel).await? else {
            return Ok(None);
        };
        tx.rollback().await?;
        match rewrite(ctx, actor, &planned).await? {
            Some(text) => Some((planned.entry.id, planned.at, text)),
            None => return Ok(None),
        }
    } else {
        None
    };
    let mut tx = user_tx(&ctx.pool, actor).await?;
    let Some(due) = evergreen::next(&q, &mut tx, collection, channel).await? else {
        return Ok(None);
    };
    let text = match &variant {
        // The choice moved while the AI wrote (another worker queued it): next tick.
        Some((entry, at, _)) if (*entry, *at) != (due.entry.id, due.at) => return Ok(None),
        Some((_, _, text)) if variation::is_repeat(text, &due.recent_texts) => return Ok(None),
        Some((_, _, text)) => Some(text.as_str()),
        None => None,
    };
    let intent = evergreen::queue_repeat(&q, &mut tx, user, &due, text).await?;
    tx.commit().await?;
    Ok(Some(Repeated {
        collection: collection.id,
        channel,
        entry: due.entry.id,
        intent,
        publish_at: due.at,
    }))
}

/// The repeat's text in other words, unlike those the channel had within the gap; `None`
/// when the owner's AI budget for the day is spent or the model only repeats itself.
async fn rewrite(
    ctx: &JobContext,
    actor: Actor,
    repeat: &Repeat,
) -> anyhow::Result<Option<String>> {
    let user = actor.user;
    let budget = ctx.settings.ai.workspace_daily_tokens;
    for _ in 0..REWRITES {
        let spent = store::usage::today(&ctx.pool, actor.workspace).await?;
        if budget.is_some_and(|limit| spent >= limit as i64) {
            tracing::info!(userId = %user, "evergreen rewrite skipped: the day's AI budget is spent");
            return Ok(None);
        }
        let request = variation::prompt(&repeat.post.text, 2_200, &repeat.recent_texts);
        let stream = match ctx.ai.stream(request).await {
            Ok(stream) => stream,
            Err(AiError { message, .. }) => {
                tracing::warn!(userId = %user, error = %message, "evergreen rewrite failed");
                return Ok(None);
            }
        };
        let (response, cut) = stream.collect().await;
        store::usage::record(&ctx.pool, actor, variation::TEMPLATE, &response).await?;
        crate::jobs::record_ai_call(&response);
        if cut.is_some() {
            return Ok(None);
        }
        if let Some(text) = variation::parse(&response.content)
            && !variation::is_repeat(&text, &repeat.recent_texts)
            && text != repeat.post.text
        {
            return Ok(Some(text));
        }
    }
    Ok(None)
}
