//! A person signs in as they would on a real server: their address, the link from the
//! outbox, the link's page and its button; then their menu (the language switched there,
//! kept on their account) and sign out. At 1280 and 375 px.

use super::Browser;
use crate::sign_in::{Outbox, app_of, app_with};

/// Signs in by email with `browser` at `width`, switches to French from the menu, signs out.
/// Under `make run` (`dev`: `DEV_LOGIN` and the outbox) the page opens the email itself.
async fn sign_in_by_link(
    outbox: &Outbox,
    app: &crate::helpers::TestApp,
    width: u32,
    address: &str,
    dev: bool,
) {
    let browser = Browser::start(app, &format!("sign-in-{width}")).await;
    browser.viewport(width, 900).await;
    browser.open("").await;
    browser.wait("#sign-in-email").await;
    let intro = browser.page_text().await;
    assert!(
        intro.contains("Almanac plans your content"),
        "the page says what Almanac is: {intro}"
    );
    browser.every_input_is_labelled().await;
    let sso = browser.count("#sign-in-sso").await;
    assert_eq!(
        sso,
        usize::from(!dev),
        "the single sign-on button, where it is set up"
    );
    if sso == 1 {
        assert_eq!(
            browser.text("#sign-in-sso").await,
            "Sign in with Example SSO"
        );
    }
    browser.screenshot_of("sign-in").await;
    browser.fill("#sign-in-email", address).await;
    browser.click("#sign-in-send").await;
    let sent = browser.wait_text("#sign-in-sent", address).await;
    assert_eq!(
        sent.contains("outbox"),
        dev,
        "make run's outbox is named: {sent}"
    );
    assert_eq!(browser.count("#open-outbox").await, usize::from(dev));
    browser.screenshot_of("sent").await;

    // The link from the outbox: its page names the address; its button signs in.
    let link = outbox.link(address, 1).await;
    if dev {
        browser.click("#open-outbox").await;
    } else {
        browser.client.goto(&app.url(&link)).await.unwrap();
    }
    browser.wait_text("#link-email", address).await;
    browser.screenshot_of("link").await;
    browser.click("#link-sign-in").await;
    browser.wait("#nav:not([hidden])").await;
    let menu = browser
        .wait_text("#account-menu-button", &address[..1].to_uppercase())
        .await;
    assert!(menu.contains(address), "the menu names the person: {menu}");
    if width < 700 {
        browser.fits_a_phone().await;
        browser.viewport(width, 900).await;
    }
    // The menu: profile, language, time zone, sign out.
    browser.click("#account-menu-button").await;
    browser.wait("#menu-profile").await;
    browser.wait("#menu-timezone").await;
    browser.screenshot_of("menu").await;
    // The profile: a name, which the menu then shows.
    browser.click("#menu-profile").await;
    browser.wait_text("#profile-email", address).await;
    browser.fill("#profile-name", "Ana Lima").await;
    browser.click("#profile-save").await;
    browser.wait_text("#account-menu-button", "Ana Lima").await;
    browser.screenshot_of("profile").await;
    browser.click("#account-menu-button").await;
    browser.click("#menu-language-fr").await;
    browser
        .until(
            "the app in French",
            "return document.documentElement.lang",
            |lang| lang == "fr",
        )
        .await;
    browser.wait_text("#nav", "Calendrier").await;
    let kept: Option<String> = sqlx::query_scalar("select language from users where email = $1")
        .bind(address)
        .fetch_one(&app.db)
        .await
        .unwrap();
    assert_eq!(kept.as_deref(), Some("fr"), "the choice is the account's");

    browser.click("#account-menu-button").await;
    browser.click("#sign-out").await;
    browser.wait("#sign-in-email").await;
    let signed_out = browser
        .client
        .execute_async(
            "const done = arguments[arguments.length - 1];
             fetch('/app/session', { headers: { 'X-Requested-With': 'XMLHttpRequest' } })
               .then((r) => done(r.status))",
            vec![],
        )
        .await
        .unwrap();
    assert_eq!(signed_out, 401, "the session ended on the server");
    assert!(
        browser.page_text().await.contains("Se connecter"),
        "the sign-in page in French"
    );
    browser.screenshot_of("signed-out").await;
}

#[tokio::test]
async fn a_person_signs_in_by_link_switches_language_and_signs_out_at_desktop_and_phone_sizes() {
    let outbox = Outbox::new();
    let app = app_with(&outbox, &[("SIGN_UP", "open"), ("DEV_LOGIN", "true")]).await;
    sign_in_by_link(&outbox, &app, 1280, "ana@example.com", true).await;
    // A server with single sign-on too: its button is on the sign-in page.
    let provider = crate::helpers::fake_oidc::FakeOidc::start().await;
    let outbox = Outbox::new();
    let app = app_of(&provider, &outbox, &[("SIGN_UP", "open")]).await;
    sign_in_by_link(&outbox, &app, 375, "ben@example.com", false).await;
}
