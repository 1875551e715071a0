//! Telling a user something outside the app: the email to the address their token's `email`
//! claim gave (`store::contacts`), sent once the change it is about has committed, best
//! effort (a failure is logged; the change and its webhook event stand).

use almanac_shared::{
    email::{Notice, OutgoingEmail},
    store::contacts,
};
use uuid::Uuid;

use crate::job::JobContext;

/// Emails `notice` to `user`, about the thing `about` (an endpoint, a channel: its id makes
/// the message id and names it in the log).
pub(crate) async fn email_owner(ctx: &JobContext, user: Uuid, about: Uuid, notice: Notice) {
    let to = match contacts::email_of(&ctx.pool, user).await {
        Ok(Some(to)) => to,
        Ok(None) => {
            tracing::info!(about = %about, userId = %user, "no address known for the owner; not emailed");
            return;
        }
        Err(error) => {
            tracing::warn!(about = %about, error = %error, "reading the owner's address failed; not emailed");
            return;
        }
    };
    let id = Uuid::now_v7();
    let email = OutgoingEmail {
        to,
        subject: notice.subject,
        text: notice.text,
        html: notice.html,
        message_id: format!("<{about}.{id}@almanac>"),
        delivery_id: id,
        list: None,
    };
    if let Err(error) = ctx.mailer.send(&email).await {
        tracing::warn!(about = %about, error = %error, "emailing the owner failed");
    }
}
