//! All seven platforms from one calendar (issue 56), on an app serving its own sandbox
//! (`PLATFORM_SANDBOX`): a person connects TikTok, Instagram, LinkedIn, Threads, Facebook and
//! YouTube through their consent pages (the sandbox's, which grant at once), Bluesky with a
//! handle and an app password, then dry-runs and publishes the calendar's seven entries,
//! each once, each with its post's address.

use almanac_shared::crypto::TokenKey;
use serde_json::json;
use uuid::Uuid;

use super::Browser;
use crate::{
    helpers::{TestOptions, fake_platforms::FakePlatforms, redis_cluster::free_port},
    media::{mp4, multipart, png},
    publishing::{Entry, Setup, setup_with},
};
use almanac_publishing::platforms::bluesky::fake::HANDLE;

/// The platforms connected through a consent page, as their buttons name them.
const OAUTH: [(&str, &str); 6] = [
    ("tiktok", "TikTok"),
    ("instagram", "Instagram"),
    ("linkedin", "LinkedIn"),
    ("threads", "Threads"),
    ("facebook", "Facebook"),
    ("youtube", "YouTube"),
];

/// An app whose platforms are its own sandbox, with development sign-in.
async fn sandbox_app() -> Setup {
    let env = vec![
        ("PLATFORM_SANDBOX", "true".into()),
        ("API_ADDR", format!("127.0.0.1:{}", free_port())),
        ("PUBLISH_SERVICE_ENABLED", "true".into()),
        ("TOKEN_ENCRYPTION_KEY", TokenKey::generate()),
        ("PUBLISH_CONFIRM_WINDOW_SECS", "5".into()),
        ("PUBLISH_CHECK_INTERVAL_MS", "50".into()),
        ("PUBLISH_TICK_MS", "3600000".into()),
        ("DEV_LOGIN", "true".into()),
    ];
    let options = TestOptions {
        env,
        ..Default::default()
    };
    setup_with(options, FakePlatforms::start().await).await
}

/// A calendar planning for all seven, with one entry on each (media uploaded where the
/// platform posts media); its id.
async fn seven_entries(s: &Setup) -> Uuid {
    let calendar = Uuid::now_v7();
    let channels: Vec<&str> = OAUTH
        .iter()
        .map(|(name, _)| *name)
        .chain(["bluesky"])
        .collect();
    sqlx::query(
        "insert into calendars (id, user_id, name, request, current_version)
         values ($1, $2, 'Everywhere', $3, 1)",
    )
    .bind(calendar)
    .bind(s.user)
    .bind(
        json!({ "channels": channels, "cadence": "daily", "start": "2030-01-07",
        "end": "2030-01-13", "constraints": { "timezone": "Europe/Madrid" } }),
    )
    .execute(&s.app.db)
    .await
    .unwrap();
    let of = (s.user, calendar);
    for channel in ["linkedin", "threads", "facebook", "bluesky"] {
        s.entry_of(
            of,
            Entry {
                format: "post",
                media: None,
                ..Entry::on(channel, "Open on Sunday")
            },
        )
        .await;
    }
    for (channel, format, file) in [
        (
            "tiktok",
            "short video",
            multipart("clip.mp4", "video/mp4", &mp4(), None),
        ),
        (
            "youtube",
            "short video",
            multipart("clip.mp4", "video/mp4", &mp4(), None),
        ),
        (
            "instagram",
            "image",
            multipart("shop.png", "image/png", &png(40, 40, 0), Some("Our shop")),
        ),
    ] {
        let entry = s
            .entry_of(
                of,
                Entry {
                    format,
                    media: None,
                    ..Entry::on(channel, "Open on Sunday")
                },
            )
            .await;
        s.attach(entry, file).await;
    }
    calendar
}

#[tokio::test]
async fn a_person_connects_seven_platforms_and_publishes_one_calendar_to_all_of_them() {
    let s = sandbox_app().await;
    let calendar = seven_entries(&s).await;
    let browser = Browser::start(&s.app, "every-platform").await;
    browser.sign_in_with_token(&s.app.token(s.user)).await;
    // The sandbox's badge names every platform it fakes, from the registry's list.
    browser.wait("#sandbox-badge").await;
    let hint = browser
        .script("return document.getElementById('sandbox-badge').title")
        .await;
    assert_eq!(
        hint,
        "Publishing goes to fakes of Bluesky, Facebook, Instagram, LinkedIn, Threads, TikTok \
         and YouTube served by Almanac itself: nothing is posted anywhere."
    );

    // Six consent pages, each granting at once in the sandbox.
    for (platform, label) in OAUTH {
        browser.open("#/publishing").await;
        browser.click(&format!("#connect-{platform}")).await;
        browser
            .wait_text(
                "#channel-connect [data-outcome=connected]",
                &format!("{label} account"),
            )
            .await;
    }
    // Bluesky: a handle and an app password.
    browser.open("#/publishing").await;
    browser.click("#connect-bluesky").await;
    browser.wait("dialog.sign-in[open]").await;
    browser
        .fill("dialog.sign-in input[name=identifier]", HANDLE)
        .await;
    browser
        .fill(
            "dialog.sign-in input[name=password]",
            crate::helpers::fake_platforms::APP_PASSWORD,
        )
        .await;
    browser.click("#sign-in-connect").await;
    browser.wait("#accounts li[data-channel=bluesky]").await;
    for (platform, _) in OAUTH {
        browser
            .wait(&format!(
                "#accounts li[data-channel={platform}][data-status=connected]"
            ))
            .await;
    }
    browser.screenshot_of("accounts").await;

    // One calendar: a dry run plans all seven, then they are published, once each.
    browser.open(&format!("#/publishing/{calendar}")).await;
    // LinkedIn (a member and a page) and Facebook (two pages) ask whom to post as.
    browser.wait("#post-as-linkedin").await;
    browser.wait("#post-as-facebook").await;
    browser.click("#select-all").await;
    browser.wait_text("#selected-count", "7 selected").await;
    browser.click("#dry-run").await;
    browser
        .wait_count("#dry-run-report .intent[data-status=dry_run]", 7)
        .await;
    browser.screenshot_of("dry-run").await;
    browser.click("#publish-now").await;
    browser.wait_text("dialog.confirm h2", "Publish").await;
    browser.click("#confirm-yes").await;
    browser
        .wait_count(".intent-row[data-status=published]", 7)
        .await;
    browser.screenshot().await;
    browser.fits_a_phone().await;

    // Each platform has its one post, with its address.
    let rows: Vec<(String, String, bool)> = sqlx::query_as(
        "select channel, status, post_url is not null from publish_intents
         where calendar_id = $1 and not dry_run order by channel",
    )
    .bind(calendar)
    .fetch_all(&s.app.db)
    .await
    .unwrap();
    let published: Vec<(&str, &str, bool)> = rows
        .iter()
        .map(|(c, st, url)| (c.as_str(), st.as_str(), *url))
        .collect();
    assert_eq!(
        published,
        [
            ("bluesky", "published", true),
            ("facebook", "published", true),
            ("instagram", "published", true),
            ("linkedin", "published", true),
            ("threads", "published", true),
            ("tiktok", "published", true),
            ("youtube", "published", true),
        ]
    );
}
