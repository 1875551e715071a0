//! Digests people want to receive (issue 37): one digest per run without the items its
//! schedule already sent, whatever the feed does to its GUIDs, and nothing sent when nothing
//! is new.

use almanac_shared::clock::ManualClock;
use almanac_worker::scheduler;
use chrono::{DateTime, Utc};
use reqwest::Method;
use serde_json::{Value, json};
use uuid::Uuid;

use crate::helpers::{TestApp, TestOptions, sites::Site, smtp::SmtpServer, spawn_app_with};

/// A feed of `items` (title, GUID, link), as its `edition` words them (feeds edit their
/// items' text too).
pub(crate) fn feed(edition: u32, items: &[(&str, &str, &str)]) -> String {
    let items: String = items
        .iter()
        .enumerate()
        .map(|(i, (title, guid, link))| {
            format!(
                "<item><title>{title}</title><guid isPermaLink=\"false\">{guid}</guid>\
                 <link>{link}</link><description>All about {title}, edition {edition}.</description>\
                 <pubDate>Tue, {:02} Nov 2026 10:00:00 GMT</pubDate></item>",
                10 - i
            )
        })
        .collect();
    format!(
        "<?xml version=\"1.0\"?><rss version=\"2.0\"><channel><title>Tea Times</title>\
         <link>https://tea.example</link><description>Tea</description>{items}</channel></rss>"
    )
}

/// A theme of a new user whose one source is `site`'s `/feed.xml`; the user and the theme.
pub(crate) async fn feed_theme(app: &TestApp, site: &Site) -> (Uuid, String) {
    let user = Uuid::new_v4();
    let theme = app
        .create_theme(
            user,
            &json!({ "name": "Tea", "sources": [{ "type": "rss", "value": site.url("/feed.xml") }] }),
        )
        .await;
    (user, theme)
}

/// What a mail provider's one-click button sends for `address`'s digest of `schedule`, with
/// a link this server could have made.
pub(crate) async fn one_click(app: &TestApp, schedule: Uuid, address: &str) -> reqwest::Response {
    let key = almanac_shared::unsubscribe::UnsubscribeKey::from_secret(crate::helpers::JWT_SECRET);
    let token = key.token(
        schedule,
        address,
        Utc::now().date_naive() + chrono::Days::new(60),
    );
    app.client
        .post(app.url(&format!("/unsubscribe/{token}")))
        .form(&[("List-Unsubscribe", "One-Click")])
        .send()
        .await
        .unwrap()
}

pub(crate) fn at(day: u32) -> DateTime<Utc> {
    format!("2030-01-{day:02}T09:00:00Z").parse().unwrap()
}

/// Runs the schedule at `when`; its synthesis once every job has ended.
pub(crate) async fn run(
    app: &TestApp,
    clock: &ManualClock,
    when: DateTime<Utc>,
    user: Uuid,
    theme: &str,
) -> Value {
    clock.set(when);
    let started = scheduler::tick(&app.worker_context(0), clock)
        .await
        .expect("tick");
    assert_eq!(started.len(), 1, "one run at {when}");
    app.jobs_settled().await;
    let (_, syntheses) = app
        .get_json(user, &format!("/api/v1/themes/{theme}/syntheses"))
        .await;
    syntheses[0].clone()
}

fn mentions(message: &Value, title: &str) -> bool {
    message["text"].as_str().unwrap().contains(title)
}

/// A run with nothing new (`third`, on day 9) is the schedule's last run, its delivery
/// `skipped` for `NOTHING_NEW` with nothing sent, and the schedule is not run again that day.
async fn nothing_new_is_recorded_and_not_run_again(
    app: &TestApp,
    clock: &ManualClock,
    user: Uuid,
    theme: &str,
    third: &Value,
) {
    let path = format!("/api/v1/themes/{theme}/schedule");
    let (_, schedule_now) = app.get_json(user, &path).await;
    let last: DateTime<Utc> = schedule_now["last_run_at"]
        .as_str()
        .unwrap()
        .parse()
        .unwrap();
    assert_eq!(last, at(9));
    let (_, deliveries) = app
        .get_json(user, &format!("/api/v1/themes/{theme}/deliveries"))
        .await;
    let skipped: Vec<&Value> = deliveries
        .as_array()
        .unwrap()
        .iter()
        .filter(|d| d["synthesis_id"] == third["id"])
        .collect();
    assert_eq!(skipped.len(), 1, "{deliveries}");
    assert_eq!(
        (
            &skipped[0]["status"],
            &skipped[0]["reason"],
            &skipped[0]["sent_at"]
        ),
        (&json!("skipped"), &json!("NOTHING_NEW"), &Value::Null)
    );
    // Not run again that day.
    clock.set(at(9) + chrono::Duration::hours(3));
    let again = scheduler::tick(&app.worker_context(0), clock)
        .await
        .unwrap();
    assert!(again.is_empty());
}

/// A synthesis asked for by hand uses every item of the feed, and is not mailed.
async fn a_manual_synthesis_uses_every_item_and_is_not_mailed(
    app: &TestApp,
    user: Uuid,
    theme: &str,
    smtp: &SmtpServer,
) {
    let manual = app.request_synthesis(user, theme).await;
    app.jobs_settled().await;
    let (_, manual) = app
        .get_json(
            user,
            &format!(
                "/api/v1/syntheses/{}",
                manual["synthesis_id"].as_str().unwrap()
            ),
        )
        .await;
    let sections = manual["sections"].to_string();
    for title in ["Gyokuro", "Matcha", "Sencha"] {
        assert!(sections.contains(title), "{title} in {sections}");
    }
    assert_eq!(manual["items_left_out"], 0);
    assert_eq!(smtp.messages().len(), 3, "a manual synthesis is not mailed");
}

#[tokio::test]
async fn a_feed_rotating_its_guids_sends_each_item_once_and_a_run_with_nothing_new_sends_nothing() {
    let smtp = SmtpServer::start(0).await;
    let app = spawn_app_with(TestOptions {
        env: vec![("SMTP_URL", smtp.url())],
        ..Default::default()
    })
    .await;
    let site = Site::start(vec![(
        "/feed.xml",
        "application/rss+xml",
        feed(
            1,
            &[
                ("Matcha", "a-1", "https://tea.example/matcha"),
                ("Sencha", "b-1", "https://tea.example/sencha"),
            ],
        ),
    )])
    .await;
    let user = Uuid::new_v4();
    let theme = app
        .create_theme(
            user,
            &json!({ "name": "Tea", "sources": [
                { "type": "rss", "value": site.url("/feed.xml") },
                { "type": "text", "value": "Notes: chai is spiced tea." },
            ] }),
        )
        .await;
    let schedule = |send_when_empty: bool| {
        json!({ "enabled": true, "days": ["mon", "tue", "wed", "thu", "fri", "sat", "sun"],
                "time_utc": "09:00", "emails": ["ana@example.com"],
                "send_when_empty": send_when_empty })
    };
    let path = format!("/api/v1/themes/{theme}/schedule");
    let (status, answer) = app
        .send_json(Method::PUT, user, &path, &schedule(false))
        .await;
    assert_eq!(status, 200, "{answer}");
    assert_eq!(answer["send_when_empty"], false);
    let clock = ManualClock::new(at(7));

    // The first digest carries both items.
    let first = run(&app, &clock, at(7), user, &theme).await;
    assert_eq!(first["items_left_out"], 0);
    let mails = smtp.wait_for(1).await;
    assert!(mentions(&mails[0], "Matcha") && mentions(&mails[0], "Sencha"));

    // The feed rotates every GUID, tags a link and adds one item: only that one is sent.
    site.set(
        "/feed.xml",
        "application/rss+xml",
        feed(
            2,
            &[
                ("Gyokuro", "c-2", "https://tea.example/gyokuro"),
                ("Matcha", "a-2", "https://tea.example/matcha?utm_source=rss"),
                ("Sencha", "b-2", "https://tea.example/sencha"),
            ],
        ),
    );
    let second = run(&app, &clock, at(8), user, &theme).await;
    assert_eq!(second["items_left_out"], 2, "{second}");
    let mails = smtp.wait_for(2).await;
    assert_eq!(mails.len(), 2);
    let newest = mails
        .iter()
        .find(|m| mentions(m, "Gyokuro"))
        .expect("the second digest");
    assert!(
        !mentions(newest, "Matcha") && !mentions(newest, "Sencha"),
        "{newest}"
    );

    // GUIDs rotated again, nothing new: no mail, no AI, the run recorded and said why.
    site.set(
        "/feed.xml",
        "application/rss+xml",
        feed(
            3,
            &[
                ("Gyokuro", "c-3", "https://tea.example/gyokuro"),
                ("Matcha", "a-3", "https://tea.example/matcha"),
                ("Sencha", "b-3", "https://tea.example/sencha"),
            ],
        ),
    );
    let third = run(&app, &clock, at(9), user, &theme).await;
    assert_eq!(
        (&third["status"], &third["items_left_out"], &third["model"]),
        (&json!("succeeded"), &json!(3), &Value::Null),
        "{third}"
    );
    assert_eq!(smtp.messages().len(), 2, "nothing new, nothing sent");
    nothing_new_is_recorded_and_not_run_again(&app, &clock, user, &theme, &third).await;

    // Asked for, a "nothing new" mail goes out instead.
    let (status, _) = app
        .send_json(Method::PUT, user, &path, &schedule(true))
        .await;
    assert_eq!(status, 200);
    run(&app, &clock, at(10), user, &theme).await;
    let mails = smtp.wait_for(3).await;
    assert_eq!(mails.len(), 3);
    assert!(mails.iter().any(|m| mentions(m, "Nothing new in Tea")));

    a_manual_synthesis_uses_every_item_and_is_not_mailed(&app, user, &theme, &smtp).await;
}

/// The token of a digest's one-click unsubscribe link, from its `List-Unsubscribe`.
fn unsubscribe_token(message: &Value) -> String {
    let header = message["headers"]["list-unsubscribe"].as_str().unwrap();
    let (_, rest) = header
        .split_once("/unsubscribe/")
        .expect("a one-click link");
    rest.split_once('>').unwrap().0.to_owned()
}

fn to(message: &Value) -> &str {
    message["to"][0].as_str().unwrap()
}

/// Each digest carries the three list headers, its link its own.
fn each_digest_carries_the_list_headers(mails: &[Value], schedule_id: Uuid) {
    for mail in mails {
        let headers = &mail["headers"];
        let unsubscribe = headers["list-unsubscribe"].as_str().unwrap();
        assert!(
            unsubscribe.starts_with("<http") && unsubscribe.contains("/unsubscribe/"),
            "{unsubscribe}"
        );
        assert!(unsubscribe.contains(", <mailto:"), "{unsubscribe}");
        assert_eq!(
            headers["list-unsubscribe-post"],
            "List-Unsubscribe=One-Click"
        );
        let list_id = headers["list-id"].as_str().unwrap();
        assert!(
            list_id.starts_with("\"Tea\" <") && list_id.contains(&schedule_id.simple().to_string()),
            "{list_id}"
        );
    }
}

/// A forged or edited token (of `ana`'s), and an expired one, are no longer valid, however
/// the request is made.
async fn a_forged_or_expired_link_is_no_longer_valid(app: &TestApp, ana: &str, schedule_id: Uuid) {
    let http = reqwest::Client::new();
    let link = |token: &str| app.url(&format!("/unsubscribe/{token}"));
    let mut forged = ana.to_owned().into_bytes();
    let last = forged.len() - 1;
    forged[last] = if forged[last] == b'A' { b'B' } else { b'A' };
    let forged = String::from_utf8(forged).unwrap();
    let key = almanac_shared::unsubscribe::UnsubscribeKey::from_secret(crate::helpers::JWT_SECRET);
    let yesterday = Utc::now().date_naive().pred_opt().unwrap();
    let expired = key.token(schedule_id, "ana@example.com", yesterday);
    for token in [forged.as_str(), expired.as_str(), "not-a-token"] {
        for request in [
            http.get(link(token)),
            http.post(link(token))
                .form(&[("List-Unsubscribe", "One-Click")]),
            // The link is judged before the body: an odd one changes nothing of that.
            http.post(link(token))
                .header("content-type", "multipart/form-data; boundary=b")
                .body(
                    b"--b\r\nContent-Disposition: form-data; name=\"\xffList\"\r\n\x00garbage"
                        .to_vec(),
                ),
            http.post(link(token))
                .header("content-type", "application/json")
                .body("{\"List-Unsubscribe\": \"One-Click\"}"),
        ] {
            let answer = request.send().await.unwrap();
            assert_eq!(answer.status(), 404, "{token}");
            let page = answer.text().await.unwrap();
            assert!(page.contains("no longer valid"), "{page}");
        }
    }
}

/// The owner cannot add an unsubscribed address back until they clear it (`path`: the
/// schedule's).
async fn the_owner_adds_them_back_only_once_cleared(app: &TestApp, user: Uuid, path: &str) {
    let schedule = |emails: &[&str]| {
        json!({ "enabled": true, "days": ["mon", "tue", "wed", "thu", "fri", "sat", "sun"],
                "time_utc": "09:00", "emails": emails })
    };
    let (status, refused) = app
        .send_json(
            Method::PUT,
            user,
            path,
            &schedule(&["Ana@Example.com", "chloe@example.com"]),
        )
        .await;
    assert_eq!(status, 422, "{refused}");
    assert_eq!(
        refused["error"]["code"], "ADDRESS_UNSUBSCRIBED",
        "{refused}"
    );
    assert_eq!(refused["error"]["details"]["email"], "ana@example.com");
    let clear = |email: &str| {
        app.client
            .delete(app.url(&format!("{path}/suppressions/{email}")))
            .bearer_auth(app.token(user))
            .send()
    };
    assert_eq!(clear("ana@example.com").await.unwrap().status(), 204);
    assert_eq!(clear("ana@example.com").await.unwrap().status(), 404);
    let (status, answer) = app
        .send_json(
            Method::PUT,
            user,
            path,
            &schedule(&["ana@example.com", "chloe@example.com"]),
        )
        .await;
    assert_eq!(status, 200, "{answer}");
    assert_eq!(answer["suppressions"].as_array().unwrap().len(), 1);
}

/// Opening an unsubscribe link (or a scanner fetching it) only asks, on a page no other
/// site may frame, naming the address (`who`).
async fn opening_the_link_only_asks(link: &str, who: &str) {
    let opened = reqwest::get(link).await.unwrap();
    assert_eq!(opened.status(), 200);
    // Never inside another site's frame, where a click could be taken from the reader.
    let policy = opened.headers()["content-security-policy"]
        .to_str()
        .unwrap();
    assert!(policy.contains("frame-ancestors 'none'"), "{policy}");
    assert!(
        opened.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/html")
    );
    let page = opened.text().await.unwrap();
    assert!(
        page.contains(who) && page.contains("List-Unsubscribe"),
        "{page}"
    );
}

#[tokio::test]
async fn a_one_click_post_stops_the_next_digest_to_that_address_only() {
    let smtp = SmtpServer::start(0).await;
    let app = spawn_app_with(TestOptions {
        env: vec![("SMTP_URL", smtp.url())],
        ..Default::default()
    })
    .await;
    let site = Site::start(vec![(
        "/feed.xml",
        "application/rss+xml",
        feed(1, &[("Matcha", "a-1", "https://tea.example/matcha")]),
    )])
    .await;
    let (user, theme) = feed_theme(&app, &site).await;
    let path = format!("/api/v1/themes/{theme}/schedule");
    let everyone = ["ana@example.com", "ben@example.com", "chloe@example.com"];
    let schedule = |emails: &[&str]| {
        json!({ "enabled": true, "days": ["mon", "tue", "wed", "thu", "fri", "sat", "sun"],
                "time_utc": "09:00", "emails": emails })
    };
    let (status, answer) = app
        .send_json(Method::PUT, user, &path, &schedule(&everyone))
        .await;
    assert_eq!(status, 200, "{answer}");
    let schedule_id: Uuid = answer["id"].as_str().unwrap().parse().unwrap();
    let clock = ManualClock::new(at(7));
    run(&app, &clock, at(7), user, &theme).await;
    let mails = smtp.wait_for(3).await;

    each_digest_carries_the_list_headers(&mails, schedule_id);
    let token = |who: &str| unsubscribe_token(mails.iter().find(|m| to(m) == who).unwrap());
    let (ana, ben) = (token("ana@example.com"), token("ben@example.com"));
    assert_ne!(ana, ben);
    let http = reqwest::Client::new();
    let link = |token: &str| app.url(&format!("/unsubscribe/{token}"));
    let recipients = || async {
        let (_, schedule) = app.get_json(user, &path).await;
        schedule["emails"].clone()
    };

    opening_the_link_only_asks(&link(&ana), "ana@example.com").await;
    assert_eq!(recipients().await, json!(everyone));

    a_forged_or_expired_link_is_no_longer_valid(&app, &ana, schedule_id).await;
    // Anything but `List-Unsubscribe=One-Click` changes nothing.
    let wrong = http
        .post(link(&ana))
        .form(&[("List-Unsubscribe", "Later")])
        .send()
        .await
        .unwrap();
    assert_eq!(wrong.status(), 400);
    assert_eq!(recipients().await, json!(everyone));

    // The one-click POST, form-encoded, with no cookie and no token header; twice is once.
    for _ in 0..2 {
        let done = http
            .post(link(&ana))
            .form(&[("List-Unsubscribe", "One-Click")])
            .send()
            .await
            .unwrap();
        assert_eq!(done.status(), 200);
        assert!(done.text().await.unwrap().contains("unsubscribed"));
    }
    // Multipart, as some mail providers send it.
    let multipart = "--almanac-boundary\r\n\
        Content-Disposition: form-data; name=\"List-Unsubscribe\"\r\n\r\n\
        One-Click\r\n--almanac-boundary--\r\n";
    let done = http
        .post(link(&ben))
        .header(
            "content-type",
            "multipart/form-data; boundary=almanac-boundary",
        )
        .body(multipart)
        .send()
        .await
        .unwrap();
    let status = done.status();
    assert_eq!(status, 200, "{}", done.text().await.unwrap());
    assert_eq!(recipients().await, json!(["chloe@example.com"]));
    let (_, shown) = app.get_json(user, &path).await;
    let kept_out: Vec<&str> = shown["suppressions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["email"].as_str().unwrap())
        .collect();
    assert_eq!(kept_out, ["ana@example.com", "ben@example.com"]);

    // The next digest goes to the one left, only.
    site.set(
        "/feed.xml",
        "application/rss+xml",
        feed(2, &[("Sencha", "b-2", "https://tea.example/sencha")]),
    );
    run(&app, &clock, at(8), user, &theme).await;
    let mails = smtp.wait_for(4).await;
    assert_eq!(mails.len(), 4);
    let newest: Vec<&str> = mails
        .iter()
        .filter(|m| mentions(m, "Sencha"))
        .map(to)
        .collect();
    assert_eq!(newest, ["chloe@example.com"]);

    the_owner_adds_them_back_only_once_cleared(&app, user, &path).await;
}

/// A delivery made before its recipient unsubscribed is not sent: its next attempt finds the
/// address kept out and records it `skipped`, `UNSUBSCRIBED`.
#[tokio::test]
async fn a_delivery_still_to_send_when_its_recipient_unsubscribes_is_never_sent() {
    let smtp = SmtpServer::start(0).await;
    // Attempts 3 s apart: the unsubscribe comes between the first and the next.
    let app = spawn_app_with(TestOptions {
        env: vec![
            ("SMTP_URL", smtp.url()),
            ("JOB_BACKOFF_BASE_MS", "3000".into()),
            ("JOB_BACKOFF_MAX_MS", "3000".into()),
        ],
        ..Default::default()
    })
    .await;
    let site = Site::start(vec![(
        "/feed.xml",
        "application/rss+xml",
        feed(1, &[("Matcha", "a-1", "https://tea.example/matcha")]),
    )])
    .await;
    let (user, theme) = feed_theme(&app, &site).await;
    let (status, schedule) = app
        .send_json(
            Method::PUT,
            user,
            &format!("/api/v1/themes/{theme}/schedule"),
            &json!({ "enabled": true, "days": ["mon", "tue", "wed", "thu", "fri", "sat", "sun"],
                     "time_utc": "09:00", "emails": ["later@example.com", "ana@example.com"] }),
        )
        .await;
    assert_eq!(status, 200, "{schedule}");
    let clock = ManualClock::new(at(7));
    let started = scheduler::tick(&app.worker_context(0), &clock)
        .await
        .unwrap();
    assert_eq!(started.len(), 1);
    // `later@` is refused for now (451) at every attempt: its delivery waits for the next.
    let deliveries = format!("/api/v1/themes/{theme}/deliveries");
    crate::helpers::eventually(
        std::time::Duration::from_secs(20),
        "the first attempt to later@ to be refused",
        || async {
            let (_, all) = app.get_json(user, &deliveries).await;
            all.as_array()?
                .iter()
                .any(|d| d["recipient"] == "later@example.com" && d["last_error"].is_object())
                .then_some(())
        },
    )
    .await;
    let schedule_id: Uuid = schedule["id"].as_str().unwrap().parse().unwrap();
    let done = one_click(&app, schedule_id, "later@example.com").await;
    assert_eq!(done.status(), 200);
    app.jobs_settled().await;
    let (_, all) = app.get_json(user, &deliveries).await;
    let status = |to: &str| {
        let d = all
            .as_array()
            .unwrap()
            .iter()
            .find(|d| d["recipient"] == to)
            .unwrap();
        (d["status"].clone(), d["reason"].clone())
    };
    assert_eq!(
        status("later@example.com"),
        (json!("skipped"), json!("UNSUBSCRIBED"))
    );
    assert_eq!(status("ana@example.com"), (json!("sent"), Value::Null));
    let mails = smtp.messages();
    assert_eq!(
        mails.iter().map(to).collect::<Vec<_>>(),
        ["ana@example.com"]
    );
}
