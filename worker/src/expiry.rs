//! Channels that warn before they break: with each scheduler tick, every worker looks for
//! connected channels whose connection ends within `CHANNEL_EXPIRY_WARNING_DAYS` (their
//! token cannot be refreshed past then: no refresh token, or one that expires too) and
//! tells each owner once per token: `channel.expiring` to their webhooks, in the same
//! transaction as the mark that says they were told, then an email with the reconnect link.
//! A token a platform refreshes while it is valid (Instagram's, Threads') is not announced:
//! it is refreshed here once it is within the window (as the publish path does ahead of its
//! expiry), so that it does not lapse for want of a publish; a refused refresh marks the
//! channel `needs_reauth` at once. Once a connection has ended (no refresh
//! can bring its token back), the channel becomes `needs_reauth` on the next tick, publish
//! or not, which sends `channel.needs_reauth`.

use almanac_publishing::{
    Refresh, TokenState,
    channels::{expired_reason, needs_reauth},
};
use almanac_shared::{
    clock::Clock,
    email::Notice,
    flags::Flag,
    store::{publish::channels, webhook_deliveries},
};
use chrono::{DateTime, Utc};
use serde_json::json;
use uuid::Uuid;

use crate::job::JobContext;

/// A channel whose owner this check told.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Warned {
    pub channel_id: Uuid,
    pub reconnect_by: DateTime<Utc>,
}

/// Tells the owners of channels about to expire, once per token; returns those told now.
pub async fn check(ctx: &JobContext, clock: &dyn Clock) -> anyhow::Result<Vec<Warned>> {
    let now = clock.now();
    let horizon = now + ctx.settings.publish.expiry_warning;
    let mut warned = Vec::new();
    for channel in channels::expiring(&ctx.pool, horizon).await? {
        let Some(adapter) = ctx.platforms.adapter(channel.platform) else {
            continue;
        };
        let ends = match adapter.token_policy().refresh {
            Refresh::WithRefreshToken if channel.has_refresh_token => channel.refresh_expires_at,
            Refresh::WithRefreshToken => channel.token_expires_at,
            Refresh::WhileValid => {
                // Publishing off for the owner: no platform is called; a token that lapses
                // meanwhile makes the channel `needs_reauth` ([`lapse`]).
                if ctx.flags.enabled(Flag::PublishService, channel.user_id) {
                    renew(ctx, channel.id, now).await;
                }
                None
            }
        };
        let Some(ends) = ends.filter(|ends| *ends <= horizon) else {
            continue;
        };
        let mut tx = ctx.pool.begin().await?;
        if !channels::mark_expiry_warned(&mut tx, channel.id, ends).await? {
            continue;
        }
        let data = json!({
            "channelId": channel.id,
            "platform": channel.platform.as_str(),
            "accountId": channel.account_id,
            "handle": channel.handle,
            "reconnectBy": ends,
        });
        webhook_deliveries::stage_event(&mut *tx, channel.user_id, "channel.expiring", &data)
            .await?;
        tx.commit().await?;
        metrics::counter!("channel_expiry_warnings_total", "channel" => channel.platform.as_str())
            .increment(1);
        tracing::info!(channel_id = %channel.id, channel = %channel.platform, reconnect_by = %ends, "channel about to expire; owner told");
        let notice = reconnect_notice(ctx, &channel, ends);
        crate::notify::email_owner(ctx, channel.user_id, channel.id, notice).await;
        warned.push(Warned {
            channel_id: channel.id,
            reconnect_by: ends,
        });
    }
    Ok(warned)
}

/// Refreshes the token of the channel `id` when its policy says it is due (a platform
/// that cannot be reached now leaves it valid until the next tick; a refusal marks the
/// channel `needs_reauth`).
async fn renew(ctx: &JobContext, id: Uuid, now: DateTime<Utc>) {
    let Some(cipher) = ctx.cipher.as_ref() else {
        return;
    };
    let usable =
        almanac_publishing::channels::usable(&ctx.pool, &ctx.platforms, cipher, id, now, false)
            .await;
    if let Err(error) = usable {
        tracing::warn!(channel_id = %id, %error, "a token about to expire could not be refreshed now; tried again next tick");
    }
}

/// Marks `needs_reauth` the channels whose connection ended (their token expired and no
/// refresh can bring it back); returns those marked now.
pub async fn lapse(ctx: &JobContext, clock: &dyn Clock) -> anyhow::Result<Vec<Uuid>> {
    let now = clock.now();
    let mut lapsed = Vec::new();
    for channel in channels::lapsing(&ctx.pool, now).await? {
        let Some(adapter) = ctx.platforms.adapter(channel.platform) else {
            continue;
        };
        let token = TokenState {
            expires_at: channel.token_expires_at,
            issued_at: None,
            has_refresh_token: channel.has_refresh_token,
            refresh_expires_at: channel.refresh_expires_at,
        };
        if !adapter.token_policy().hopeless(&token, now, false) {
            continue;
        }
        // The words the publish path uses for it, whichever notices first.
        let mut conn = ctx.pool.acquire().await?;
        needs_reauth(&mut conn, channel.id, &expired_reason(adapter.label())).await?;
        lapsed.push(channel.id);
    }
    Ok(lapsed)
}

/// The email telling a channel's owner to reconnect it before `ends`.
fn reconnect_notice(ctx: &JobContext, channel: &channels::Expiring, ends: DateTime<Utc>) -> Notice {
    let name = channel.handle.as_deref().unwrap_or(&channel.account_id);
    let platform = channel.platform.as_str();
    let link = format!("{}/app/#/publishing", ctx.settings.app_base_url());
    let when = ends.format("%-d %B %Y, %H:%M UTC");
    Notice {
        subject: format!("Reconnect your {platform} channel {name} before {when}"),
        text: format!(
            "Your {platform} channel {name} stops publishing on {when}: its authorisation \
             cannot be renewed past then.\n\nConnect it again before that, and nothing \
             scheduled on it will fail:\n{link}\n"
        ),
        html: format!(
            "<p>Your {platform} channel <strong>{}</strong> stops publishing on {when}: its \
             authorisation cannot be renewed past then.</p><p>Connect it again before that, \
             and nothing scheduled on it will fail:</p><p><a href=\"{link}\">Reconnect it</a></p>",
            almanac_shared::html::escape(name)
        ),
    }
}
