//! LinkedIn in the web app (issue 35): "Connect with LinkedIn" connects the member and the
//! company page they administer, the accounts list says which is which, and a LinkedIn
//! entry is posted as the account chosen under "post as".

use serde_json::json;

use super::{Browser, flows::publishing_app};
use crate::{
    helpers::fake_platforms::{LI_MEMBER, LI_PAGE},
    publishing::Entry,
};

#[tokio::test]
async fn a_member_connects_their_page_too_and_posts_as_the_page_they_choose() {
    let s = publishing_app().await;
    s.entry(Entry {
        format: "post",
        media: None,
        ..Entry::on("linkedin", "We are hiring")
    })
    .await;
    let browser = Browser::start(&s.app, "linkedin").await;
    browser.sign_in_with_token(&s.app.token(s.user)).await;
    browser.open("#/publishing").await;
    browser.click("#connect-linkedin").await;
    browser
        .wait_text(
            "#channel-connect [data-outcome]",
            "LinkedIn account Ada Lovelace is connected",
        )
        .await;
    let also = browser.wait_text("#also-connected", "Devtestco").await;
    assert!(also.contains("also connected a company page"), "{also}");
    assert_eq!(
        browser
            .count(&format!("#also-connected li[data-account='{LI_PAGE}']"))
            .await,
        1
    );
    browser.screenshot_of("connected").await;

    // The accounts list tells the member's profile from the page.
    browser.open(&format!("#/publishing/{}", s.calendar)).await;
    browser
        .wait_count("#accounts li[data-channel=linkedin]", 2)
        .await;
    let accounts = browser.text("#accounts").await;
    assert!(
        accounts.contains("Ada Lovelace member profile"),
        "{accounts}"
    );
    assert!(accounts.contains("Devtestco company page"), "{accounts}");

    // Two LinkedIn accounts: the person chooses which one posts.
    browser.wait("#post-as-linkedin").await;
    let (_, channels) = s.app.get_json(s.user, "/v1/channels").await;
    let page = channels["data"]["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["accountId"] == LI_PAGE)
        .unwrap()["id"]
        .as_str()
        .unwrap()
        .to_owned();
    browser.set_value("#post-as-linkedin", &page).await;
    browser.click("#select-all").await;
    browser.click("#dry-run").await;
    browser
        .wait_count("#dry-run-report .intent[data-status=dry_run]", 1)
        .await;
    browser.click("#publish-now").await;
    browser.wait_text("dialog.confirm h2", "Publish").await;
    browser.click("#confirm-yes").await;
    browser
        .wait_count(".intent-row[data-status=published]", 1)
        .await;
    let posts = s.fake.with(|f| f.li_posts.clone());
    assert_eq!(posts.len(), 1);
    assert_eq!(posts[0].author, LI_PAGE);
    assert!(posts.iter().all(|p| p.author != LI_MEMBER));
    let (_, listed) = s
        .app
        .get_json(
            s.user,
            &format!("/v1/publish-intents?calendarId={}", s.calendar),
        )
        .await;
    assert_eq!(listed["data"]["items"][0]["channelId"], json!(page));
    browser.fits_a_phone().await;
    browser.screenshot().await;
}
