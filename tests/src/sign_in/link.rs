//! The emailed link: read from the outbox, it opens one session through its page's POST;
//! fetching it opens nothing; used, expired or forged it is refused; nobody learns from the
//! answer whether an address has an account; the limits hold.

use super::{Outbox, app_with, ask, me_in, refusal, session_of};

/// `POST <link path>` as the link's page sends it.
async fn use_link(app: &crate::helpers::TestApp, path: &str) -> reqwest::Response {
    app.client
        .post(app.url(path))
        .header("x-requested-with", "XMLHttpRequest")
        .send()
        .await
        .unwrap()
}

#[tokio::test]
async fn an_emailed_link_opens_one_session_through_its_page_s_post_and_never_again() {
    let outbox = Outbox::new();
    let app = app_with(&outbox, &[]).await;
    // The first owner is invited from the command line: an account, and a link emailed.
    let said = almanac_api::sign_in::invite(&app.settings, "Ana@Example.com ")
        .await
        .unwrap();
    assert!(said.contains("invited ana@example.com"), "{said}");
    let invitation = outbox.link("ana@example.com", 1).await;
    assert!(
        said.contains(&invitation),
        "the command shows the link: {said}"
    );

    // She asks again from the sign-in page.
    let asked = ask(&app, "ana@example.com").await;
    assert_eq!(asked.status(), 202);
    let link = outbox.link("ana@example.com", 2).await;
    assert_ne!(link, invitation, "each request its own link");

    // Fetching the link (a mail scanner, a preview) shows the page and uses nothing.
    for _ in 0..2 {
        let page = app.client.get(app.url(&link)).send().await.unwrap();
        assert_eq!(page.status(), 200);
        assert_eq!(session_of(&page), None, "a GET opens no session");
        assert_eq!(page.headers()["referrer-policy"], "no-referrer");
        assert_eq!(page.headers()["cache-control"], "no-store");
        let html = page.text().await.unwrap();
        assert!(
            html.contains("ana@example.com"),
            "the page names the address"
        );
        assert!(html.contains("id=\"link-sign-in\""), "{html}");
    }
    // Another site's form cannot use it: the forgery rules refuse, and it stays usable.
    let forged = app.client.post(app.url(&link)).send().await.unwrap();
    assert_eq!(refusal(forged).await, (401, "SESSION_NOT_ACCEPTED".into()));

    let used = use_link(&app, &link).await;
    assert_eq!(used.status(), 204);
    let session = session_of(&used).expect("the POST opens a session");
    let (status, me) = me_in(&app, &session).await;
    assert_eq!(status, 200, "{me}");
    assert_eq!(me["email"], "ana@example.com", "{me}");
    let owner: uuid::Uuid =
        sqlx::query_scalar("select id from users where email = 'ana@example.com'")
            .fetch_one(&app.db)
            .await
            .unwrap();
    assert_eq!(
        me["id"],
        owner.to_string(),
        "the invited account, not a new one"
    );
    let accounts: i64 = sqlx::query_scalar("select count(*) from users")
        .fetch_one(&app.db)
        .await
        .unwrap();
    assert_eq!(accounts, 1);

    // Used once: neither it nor the older link to the same address works again.
    for path in [&link, &invitation] {
        let again = use_link(&app, path).await;
        assert_eq!(session_of(&again), None);
        assert_eq!(
            refusal(again).await,
            (401, "SIGN_IN_LINK_USED".into()),
            "{path}"
        );
        let page = app.client.get(app.url(path)).send().await.unwrap();
        assert_eq!(page.status(), 410);
    }

    // Expired: a link whose time is up.
    ask(&app, "ana@example.com").await;
    let late = outbox.link("ana@example.com", 3).await;
    sqlx::query(
        "update sign_in_tokens set expires_at = now() - interval '1 second' where used_at is null",
    )
    .execute(&app.db)
    .await
    .unwrap();
    assert_eq!(
        refusal(use_link(&app, &late).await).await,
        (401, "SIGN_IN_LINK_EXPIRED".into())
    );
    // Forged: a token of the right shape that was never sent, and one of no shape.
    let stranger = format!("/app/sign-in/{}", "A".repeat(43));
    for path in [stranger.as_str(), "/app/sign-in/abc"] {
        assert_eq!(
            refusal(use_link(&app, path).await).await,
            (401, "SIGN_IN_LINK_INVALID".into()),
            "{path}"
        );
    }
    // Links are kept as their SHA-256 digests only.
    let token = late.rsplit('/').next().unwrap();
    let kept: i64 =
        sqlx::query_scalar("select count(*) from sign_in_tokens where digest = sha256($1::bytea)")
            .bind(token.as_bytes())
            .fetch_one(&app.db)
            .await
            .unwrap();
    assert_eq!(kept, 1);
}

#[tokio::test]
async fn nobody_learns_whether_an_address_has_an_account_and_only_admitted_ones_get_mail() {
    let outbox = Outbox::new();
    let app = app_with(&outbox, &[]).await;
    almanac_api::sign_in::invite(&app.settings, "ben@example.com")
        .await
        .unwrap();
    outbox.link("ben@example.com", 1).await;

    // An unknown address first, then a known one: the answers are the same, byte for byte.
    let unknown = ask(&app, "zoe@example.com").await;
    let known = ask(&app, "ben@example.com").await;
    let shown = |r: &reqwest::Response| {
        let mut headers: Vec<(String, String)> = r
            .headers()
            .iter()
            .filter(|(name, _)| !["date", "x-request-id"].contains(&name.as_str()))
            .map(|(n, v)| (n.to_string(), v.to_str().unwrap().to_owned()))
            .collect();
        headers.sort();
        (r.status().as_u16(), headers)
    };
    assert_eq!(shown(&unknown), shown(&known));
    assert_eq!(shown(&known).0, 202);
    assert_eq!(unknown.bytes().await.unwrap(), known.bytes().await.unwrap());
    // Links are sent in order: once Ben's is there, Zoe's request was handled, with no email.
    outbox.link("ben@example.com", 2).await;
    assert_eq!(outbox.to("zoe@example.com").len(), 0);
    assert_eq!(
        outbox.emails().len(),
        2,
        "the invitation and Ben's link only"
    );

    // Not an address at all: said so (which tells nothing about accounts).
    assert_eq!(
        super::refusal(ask(&app, "not an address").await).await,
        (400, "VALIDATION_FAILED".into())
    );
}

#[tokio::test]
async fn sign_up_by_domain_makes_an_account_for_its_addresses_only() {
    let outbox = Outbox::new();
    let app = app_with(
        &outbox,
        &[("SIGN_UP", "domains"), ("SIGN_UP_DOMAINS", "example.org")],
    )
    .await;
    ask(&app, "eve@elsewhere.net").await;
    ask(&app, "cy@example.org").await;
    let link = outbox.link("cy@example.org", 1).await;
    assert_eq!(outbox.to("eve@elsewhere.net").len(), 0);
    let used = use_link(&app, &link).await;
    let session = session_of(&used).expect("signed in");
    let (_, me) = me_in(&app, &session).await;
    assert_eq!(me["email"], "cy@example.org");
    assert_eq!(me["name"], serde_json::Value::Null);
}

#[tokio::test]
async fn asking_too_often_is_refused_with_retry_after() {
    let outbox = Outbox::new();
    let app = app_with(
        &outbox,
        &[
            ("SIGN_IN_RATE_PER_EMAIL", "2"),
            ("SIGN_IN_RATE_PER_CLIENT", "4"),
            ("SIGN_UP", "open"),
        ],
    )
    .await;
    let mut statuses = Vec::new();
    for address in [
        "a@example.com",
        "a@example.com",
        "a@example.com",
        "b@example.com",
        "c@example.com",
    ] {
        let answer = ask(&app, address).await;
        if answer.status() == 429 {
            let wait: u64 = answer.headers()["retry-after"]
                .to_str()
                .unwrap()
                .parse()
                .unwrap();
            assert!((1..=3600).contains(&wait), "{wait}");
            assert_eq!(refusal(answer).await.1, "RATE_LIMITED");
            statuses.push(429);
        } else {
            statuses.push(answer.status().as_u16());
        }
    }
    // The third for one address (its limit), then the fifth from this client (its own).
    assert_eq!(statuses, [202, 202, 429, 202, 429]);
    outbox.link("b@example.com", 1).await;
    assert_eq!(outbox.to("a@example.com").len(), 2);
    assert_eq!(outbox.to("c@example.com").len(), 0);
}
