//! Review before publishing in the app (`docs/review.md`): the owner turns review on in
//! Settings, asks for an entry's review from its dialog (and may not decide it), the editor
//! approves it with a comment from the Review page, and the owner's calendar shows it
//! approved without a reload. At 1280 px and 375 px.

use super::{Browser, flows::publishing_app, roles::signed_in_to, together::acme_with_eve};
use crate::helpers::fake_platforms::IG_USER;
use crate::publishing::Entry;

#[tokio::test]
async fn a_review_is_turned_on_asked_for_and_approved_in_the_app() {
    let s = publishing_app().await;
    let entry = s.entry(Entry::on("instagram", "Our new look")).await;
    let channel = s
        .connect("instagram", IG_USER, "ig-token", None, 86_400)
        .await;
    let (eve, acme) = acme_with_eve(&s, channel).await;
    let (ana, eves) = Browser::pair(&s.app, ["review-ana", "review-eve"]).await;
    signed_in_to(&ana, &s, s.user, acme).await;
    signed_in_to(&eves, &s, eve, acme).await;

    // Settings -> Review: the workspace reviews every post, editors approving.
    ana.open("#/settings/review").await;
    ana.wait("#review-workspace select[name=mode]").await;
    ana.set_value("#review-workspace select[name=mode]", "always")
        .await;
    ana.wait("#review-workspace .review-step").await;
    assert_eq!(
        ana.script("return document.querySelector('#review-workspace .review-step input[value=editor]').checked")
            .await,
        serde_json::json!(true)
    );
    ana.click("#review-workspace button[type=submit]").await;
    ana.wait_text("#toast", "Review policy saved").await;
    ana.screenshot_of("policy").await;

    // The entry's dialog: review asked for; its asker cannot decide it.
    ana.open(&format!("#/calendar/{}", s.calendar)).await;
    ana.click(".entry").await;
    ana.wait("#entry-editor[open]").await;
    ana.wait_text("#entry-review-status", "Not asked").await;
    ana.click("#entry-review-ask").await;
    ana.wait_text("#entry-review-status", "Step 1 of 1, Approval: asks editor")
        .await;
    assert_eq!(
        ana.script("return document.querySelector('#entry-review-decide').hidden")
            .await,
        serde_json::json!(true)
    );
    ana.wait_text(".entry .badge.review", "…").await;
    ana.screenshot_of("asked").await;
    ana.click("#entry-close").await;

    // Eve's Review page: it waits for her; she approves it with a word.
    eves.open("#/review").await;
    eves.wait_text("#review-yours-title", "Waiting for you (1)")
        .await;
    eves.wait_text("#review-yours .review-item", "Launch day")
        .await;
    eves.screenshot_of("waiting").await;
    eves.viewport(375, 800).await;
    eves.screenshot_of("waiting-phone").await;
    eves.fits_a_phone().await;
    eves.viewport(1280, 900).await;
    eves.fill("#review-yours textarea", "Looks right").await;
    eves.click("#review-yours .review-approve").await;
    eves.wait_text("#toast", "Approved").await;
    eves.wait_text("#review-yours", "Nothing waits for your approval.")
        .await;

    // Ana's calendar shows it approved at once, and the dialog says by whom.
    ana.wait_text(".entry .badge.review", "✓").await;
    ana.click(".entry").await;
    ana.wait("#entry-editor[open]").await;
    ana.wait_text("#entry-review-status", "Approved").await;
    ana.wait_text(
        "#entry-review-history",
        "Eve Martin approved step 1 (version 1)",
    )
    .await;
    ana.wait_text("#entry-review-history", "Looks right").await;
    ana.screenshot_of("approved").await;
    ana.viewport(375, 800).await;
    ana.screenshot_of("approved-phone").await;
    ana.fits_a_phone().await;
    let approved: String =
        sqlx::query_scalar("select review_status from calendar_entries where id = $1")
            .bind(entry)
            .fetch_one(&s.app.db)
            .await
            .unwrap();
    assert_eq!(approved, "approved");
}
