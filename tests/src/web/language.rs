//! French and English: the app speaks the browser's language (seed 004's labels in French)
//! until the person picks another, which is remembered.

use serde_json::json;

use super::Browser;
use crate::helpers::{TestOptions, spawn_app_with};

#[tokio::test]
async fn a_french_browser_gets_seed_004_s_schedule_labels_and_a_remembered_switch() {
    let app = spawn_app_with(TestOptions {
        env: vec![("DEV_LOGIN", "true".into())],
        ..Default::default()
    })
    .await;
    let browser = Browser::start_in(&app, "language-fr", "fr-FR").await;
    assert_eq!(
        browser.script("return navigator.language").await,
        json!("fr-FR")
    );
    let user = browser.sign_in().await;
    let theme = app
        .create_theme(user, &json!({ "name": "Thé", "sources": [] }))
        .await;
    browser.open(&format!("#/themes/{theme}")).await;
    browser.wait_text("#schedule h3", "Planification").await;
    let schedule = browser.text("#schedule").await;
    for label in [
        "Planification activee",
        "Jours",
        "Heure (UTC)",
        "Destinataires",
        "3 adresses maximum",
    ] {
        assert!(schedule.contains(label), "{label} not in: {schedule}");
    }
    assert_eq!(browser.text("#add-email").await, "Ajouter une adresse");
    let letters = browser
        .script("return [...document.querySelectorAll('#schedule .day-button')].map((b) => b.textContent)")
        .await;
    assert_eq!(letters, json!(["L", "M", "M", "J", "V", "S", "D"]));
    assert_eq!(
        browser.script("return document.documentElement.lang").await,
        json!("fr")
    );
    assert_eq!(browser.text("#nav a[href='#/themes']").await, "Thèmes");
    // A change is saved in seed 004's words.
    browser.click("#schedule .day-button[data-day=mon]").await;
    browser
        .wait_text("#schedule-status", "Planification enregistree")
        .await;
    browser.every_input_is_labelled().await;
    browser.fits_a_phone().await;
    browser.screenshot().await;

    // English, picked by hand from the account's menu, stays picked after a reload.
    browser.click("#account-menu-button").await;
    browser.click("#menu-language-en").await;
    browser.wait_text("#schedule h3", "Schedule").await;
    browser.client.refresh().await.unwrap();
    browser.wait_text("#schedule h3", "Schedule").await;
    assert_eq!(browser.text("#add-email").await, "Add an address");
    assert_eq!(
        browser.script("return document.documentElement.lang").await,
        json!("en")
    );
}
