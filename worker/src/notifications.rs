//! Notification emails (docs/review.md, "Notifications"): with each scheduler tick, every
//! worker emails each person what they were notified of since their last email, at most
//! one email a person per `NOTIFY_BATCH_MINUTES`. A person's batch is taken in a
//! transaction that also marks the window used (`notification_mailings`), so two workers
//! never send it twice; the email is sent before the transaction commits, so a failed
//! send leaves the batch for the next tick. A person with no known address, or whose
//! address asked not to be emailed them (one click in any of them), keeps the
//! notifications in the app only.

use almanac_shared::{
    clock::Clock,
    domain::review::NotificationKind as Kind,
    email::OutgoingEmail,
    html::escape,
    store::{
        contacts,
        notifications::{self, Unsent},
    },
    unsubscribe::{self, UnsubscribeKey},
};
use chrono::{DateTime, Utc};
use uuid::Uuid;

use crate::job::JobContext;

/// People emailed per tick at most (the rest on the next).
const PER_TICK: i64 = 200;

/// Emails each person whose batch is due at the clock's now; how many were emailed.
pub async fn mail(ctx: &JobContext, clock: &dyn Clock) -> anyhow::Result<usize> {
    let now = clock.now();
    let window = chrono::Duration::from_std(ctx.settings.email.notify_batch)?;
    let before = now - window;
    let mut sent = 0;
    for user in notifications::due(&ctx.pool, before, PER_TICK).await? {
        match mail_one(ctx, user, now, before).await {
            Ok(true) => sent += 1,
            Ok(false) => {}
            Err(error) => {
                tracing::warn!(userId = %user, error = %format!("{error:#}"), "a notification email was not sent; tried again next tick");
            }
        }
    }
    Ok(sent)
}

/// Takes and sends `user`'s batch; whether an email went out.
async fn mail_one(
    ctx: &JobContext,
    user: Uuid,
    now: DateTime<Utc>,
    before: DateTime<Utc>,
) -> anyhow::Result<bool> {
    let mut tx = ctx.pool.begin().await?;
    let batch = notifications::take_batch(&mut tx, user, now, before).await?;
    if batch.is_empty() {
        return Ok(false);
    }
    let Some(address) = contacts::email_of(&ctx.pool, user).await? else {
        tx.commit().await?;
        return Ok(false);
    };
    if notifications::suppressed(&ctx.pool, &address).await? {
        tx.commit().await?;
        return Ok(false);
    }
    let email = compose(ctx, user, &address, &batch, now);
    ctx.mailer
        .send(&email)
        .await
        .map_err(|error| anyhow::anyhow!("{error}"))?;
    tx.commit().await?;
    metrics::counter!("notification_emails_total").increment(1);
    tracing::info!(userId = %user, notifications = batch.len(), "notifications emailed");
    Ok(true)
}

/// The email listing `batch`, with a link to each entry and a one-click unsubscribe.
fn compose(
    ctx: &JobContext,
    user: Uuid,
    address: &str,
    batch: &[Unsent],
    now: DateTime<Utc>,
) -> OutgoingEmail {
    let base = ctx.settings.app_base_url();
    let lines: Vec<(String, String)> = batch
        .iter()
        .map(|n| (line(n), format!("{base}/app/#/notifications")))
        .collect();
    let subject = match batch {
        [one] => line(one),
        many => format!("{} things need your attention in Almanac", many.len()),
    };
    let text = format!(
        "{}\n\nOpen them in Almanac: {base}/app/#/notifications\n",
        lines
            .iter()
            .map(|(line, _)| format!("- {line}"))
            .collect::<Vec<_>>()
            .join("\n")
    );
    let html = format!(
        "<p>Since your last email from Almanac:</p><ul>{}</ul>\
         <p><a href=\"{link}\">Open your notifications</a></p>",
        lines
            .iter()
            .map(|(line, _)| format!("<li>{}</li>", escape(line)))
            .collect::<String>(),
        link = escape(&format!("{base}/app/#/notifications")),
    );
    let id = Uuid::now_v7();
    let key = UnsubscribeKey::for_notifications(ctx.settings.jwt_secret.expose());
    let list = unsubscribe::list_headers(
        &key,
        base,
        &almanac_shared::email::address_of(&ctx.settings.email.from),
        user,
        "Almanac notifications",
        address,
        now.date_naive(),
    );
    OutgoingEmail {
        to: address.to_owned(),
        subject,
        text,
        html,
        message_id: format!("<notifications.{id}@almanac>"),
        delivery_id: id,
        list: Some(list),
    }
}

/// One notification in words.
fn line(n: &Unsent) -> String {
    let who = n
        .actor_guest
        .as_deref()
        .map(|guest| format!("{guest} (guest)"))
        .or_else(|| n.actor_name.clone())
        .unwrap_or_else(|| "A teammate".to_owned());
    let title = if n.title.is_empty() {
        "an entry".to_owned()
    } else {
        format!("\u{201c}{}\u{201d}", n.title)
    };
    let step = n
        .data
        .0
        .get("stepName")
        .and_then(|s| s.as_str())
        .map(|s| format!(" ({s})"))
        .unwrap_or_default();
    let place = format!(" in {}", n.workspace_name);
    match n.kind {
        Kind::Mention => format!("{who} mentioned you on {title}{place}"),
        Kind::ReviewRequested => format!("{title} waits for your approval{step}{place}"),
        Kind::Approved => format!("{who} approved {title}{place}"),
        Kind::ChangesRequested => format!("{who} asked for changes to {title}{step}{place}"),
        Kind::Expired => format!("{title} was not published: it was not approved in time{place}"),
        Kind::Commented => format!("{who} commented on {title}{place}"),
    }
}
