//! Client review in the app (`docs/review.md`, "Client review"): the owner shares an entry
//! for review from the calendar, the client opens the link with no account (no cookie is
//! set), sees the post as Instagram would show it, comments under a name full of markup
//! (shown as text) and approves the client's step; the owner sees the comment and the
//! approval beside the composer, mentions the editor, and finds the guest's comment among
//! their notifications. The guest's page at 1280 px and 375 px.

use reqwest::Method;
use serde_json::json;

use super::{Browser, flows::publishing_app, roles::signed_in_to, together::acme_with_eve};
use crate::helpers::fake_platforms::IG_USER;
use crate::publishing::Entry;

const MARKUP: &str = "<img src=x onerror=alert(1)> Anna";

#[tokio::test]
async fn a_client_reviews_through_a_link_and_the_team_is_told() {
    let s = publishing_app().await;
    let entry = s
        .entry(Entry::on("instagram", "Our new look #matcha"))
        .await;
    let channel = s
        .connect("instagram", IG_USER, "ig-token", None, 86_400)
        .await;
    let (eve, acme) = acme_with_eve(&s, channel).await;
    let policy = json!({ "mode": "always", "steps": [
        { "name": "Client", "approvers": { "guests": ["anna@client.example"] } },
        { "name": "Editors", "approvers": { "roles": ["editor"] } },
    ] });
    let path = format!("/v1/workspaces/{acme}/review");
    let (status, set) = s.app.send_json(Method::PUT, s.user, &path, &policy).await;
    assert_eq!(status, 200, "{set}");
    let path = format!("/v1/calendars/{}/entries/{entry}/review", s.calendar);
    let (status, asked) = s.app.send_empty(Method::POST, s.user, &path).await;
    assert_eq!(status, 200, "{asked}");
    let (ana, guest) = Browser::pair(&s.app, ["links-ana", "links-guest"]).await;
    signed_in_to(&ana, &s, s.user, acme).await;

    // Share for review: the entry, approving allowed; the address shown once.
    ana.open(&format!("#/calendar/{}", s.calendar)).await;
    ana.click("#review-links-open").await;
    ana.wait("#review-links-dialog[open] #link-form").await;
    ana.click("#link-scope-entries").await;
    ana.click("#link-entries input[name=linkEntry]").await;
    ana.click("#link-can-approve").await;
    ana.fill("#link-label", "For Acme").await;
    ana.click("#link-make").await;
    ana.wait_text("#link-made", "The link shows 1 entry.").await;
    let url = ana
        .script("return document.querySelector('#link-url').value")
        .await;
    let url = url.as_str().unwrap().to_owned();
    let token = url.rsplit_once("/review/").unwrap().1.to_owned();
    ana.wait_text("#link-list", "For Acme").await;
    ana.screenshot_of("link-made").await;
    ana.click("#review-links-close").await;

    // The client: no account, the post as Instagram shows it, a comment and an approval.
    guest.visit(&format!("/review/{token}")).await;
    guest.wait_text("#guest-title", "Launch · For Acme").await;
    guest
        .wait_text(".guest-entry .preview-text", "Our new look")
        .await;
    guest.wait_text(".guest-steps li.now", "Client").await;
    guest.fill("#guest-name", MARKUP).await;
    guest
        .fill(".guest-comment-form textarea", "<b>Love</b> it")
        .await;
    guest.click(".guest-comment-form button[type=submit]").await;
    guest
        .wait_text(".guest-comments .comment-text", "<b>Love</b> it")
        .await;
    guest.wait_text(".guest-comments .comment-by", MARKUP).await;
    assert_eq!(
        guest
            .script("return document.querySelectorAll('#view img[src=x], #view b').length")
            .await,
        json!(0),
        "markup is shown as text"
    );
    guest.click(".guest-approve").await;
    guest.wait_text(".guest-steps li.now", "Editors").await;
    guest.wait_text(".guest-history", "approved (Client)").await;
    guest.screenshot_of("guest").await;
    guest.viewport(375, 800).await;
    guest.screenshot_of("guest-phone").await;
    guest.fits_a_phone().await;
    assert!(guest.cookie_names().await.is_empty(), "no cookie is set");

    // The owner: the guest's comment and approval beside the composer; a mention of Eve.
    ana.click(".entry").await;
    ana.wait("#entry-editor[open]").await;
    ana.wait_text("#entry-comments-list", "<b>Love</b> it")
        .await;
    ana.wait_text("#entry-review-history", "approved step 1")
        .await;
    ana.wait_text("#entry-review-status", "Step 2 of 2, Editors")
        .await;
    ana.fill(
        "#entry-comment-text",
        "@Eve Martin the client approved, your turn",
    )
    .await;
    ana.click("#entry-comment-send").await;
    ana.wait_text("#entry-comments-list", "your turn").await;
    ana.screenshot_of("comments").await;
    ana.click("#entry-close").await;
    let (status, told) = s.app.get_json(eve, "/v1/notifications").await;
    assert_eq!(status, 200, "{told}");
    let kinds: Vec<&str> = told["data"]["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| n["kind"].as_str().unwrap())
        .collect();
    assert_eq!(kinds, ["mention", "review_requested"], "{told}");

    // The owner's bell: the guest's comment, in words, on the notifications page.
    ana.open("#/notifications").await;
    ana.wait_text(
        "#notification-list",
        &format!("{MARKUP} (guest) commented on “Launch day”"),
    )
    .await;
    ana.wait_text("#notifications-count", "1").await;
    ana.screenshot_of("notifications").await;
    ana.click("#notifications-read-all").await;
    ana.until(
        "the bell's count to go",
        "return document.querySelector('#notifications-count').hidden",
        |hidden| hidden == &json!(true),
    )
    .await;
    ana.wait("#notification-list .notification.read").await;
}
