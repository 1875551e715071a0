//! Single sign-on against a local provider: a good sign-in opens a session and a second one
//! finds the same person by issuer and subject; every check refuses its bent token.

use serde_json::json;

use super::{Outbox, app_of, me_in, session_of};
use crate::helpers::{
    TestApp,
    fake_oidc::{Bend, FakeOidc},
};

/// A token whose claims are `claims` over the right ones.
fn bent(claims: serde_json::Value) -> Bend {
    Bend {
        claims,
        ..Default::default()
    }
}

/// How many accounts there are.
async fn accounts(app: &TestApp) -> i64 {
    sqlx::query_scalar("select count(*) from users")
        .fetch_one(&app.db)
        .await
        .unwrap()
}

/// What a finished sign-in gave the browser.
struct Finished {
    status: u16,
    location: Option<String>,
    session: Option<String>,
    page: String,
}

/// A browser's trip: start, the provider's sign-in, the callback (with the attempt's cookie
/// unless `state` replaces the state the provider sent back).
async fn sign_in(app: &TestApp, state: Option<&str>) -> Finished {
    let client = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let started = client.get(app.url("/app/oidc/start")).send().await.unwrap();
    assert_eq!(started.status(), 303);
    let cookie = started.headers()["set-cookie"].to_str().unwrap().to_owned();
    assert!(
        cookie.contains("SameSite=Lax") && cookie.contains("HttpOnly"),
        "{cookie}"
    );
    let attempt = cookie.split(';').next().unwrap().to_owned();
    let to_provider = started.headers()["location"].to_str().unwrap().to_owned();
    let at_provider = client.get(&to_provider).send().await.unwrap();
    assert_eq!(at_provider.status(), 303);
    let mut back = url::Url::parse(at_provider.headers()["location"].to_str().unwrap()).unwrap();
    assert_eq!(back.path(), "/app/oidc/callback");
    if let Some(state) = state {
        let code = back
            .query_pairs()
            .find(|(k, _)| k == "code")
            .unwrap()
            .1
            .into_owned();
        back.query_pairs_mut()
            .clear()
            .append_pair("code", &code)
            .append_pair("state", state);
    }
    let finished = client
        .get(back.as_str())
        .header("cookie", attempt)
        .send()
        .await
        .unwrap();
    Finished {
        status: finished.status().as_u16(),
        location: finished
            .headers()
            .get("location")
            .map(|l| l.to_str().unwrap().to_owned()),
        session: session_of(&finished),
        page: finished.text().await.unwrap(),
    }
}

#[tokio::test]
async fn single_sign_on_finds_the_same_person_again_and_links_an_account_once() {
    let provider = FakeOidc::start().await;
    let outbox = Outbox::new();
    let app = app_of(
        &provider,
        &outbox,
        &[("SIGN_UP", "domains"), ("SIGN_UP_DOMAINS", "example.com")],
    )
    .await;
    let (_, config) = app
        .request_json(
            reqwest::Method::GET,
            app.url("/app/config.json"),
            None,
            None,
        )
        .await;
    assert_eq!(config["signIn"]["sso"], "Sign in with Example SSO");

    // A first sign-in: an account for the verified address (its domain may sign up).
    provider.next("sub-ana", "ana@example.com", Bend::default());
    let first = sign_in(&app, None).await;
    assert_eq!(
        (first.status, first.location.as_deref()),
        (303, Some("/app/")),
        "{}",
        first.page
    );
    let (_, me) = me_in(&app, &first.session.expect("a session")).await;
    assert_eq!(me["email"], "ana@example.com");
    assert_eq!(me["name"], "Ana Lima");

    // Again, her provider now saying another address: the same person, found by (iss, sub);
    // her address does not follow the claim.
    provider.next("sub-ana", "ana.lima@example.com", Bend::default());
    let second = sign_in(&app, None).await;
    let (_, again) = me_in(&app, &second.session.expect("a session")).await;
    assert_eq!(again["id"], me["id"]);
    assert_eq!(again["email"], "ana@example.com");

    // An account made by an emailed link is linked on the identity's first sign-in.
    let ben = almanac_shared::store::sign_in::invite(&app.db, "ben@example.org")
        .await
        .unwrap();
    provider.next("sub-ben", "ben@example.org", Bend::default());
    let linked = sign_in(&app, None).await;
    let (_, ben_me) = me_in(&app, &linked.session.expect("a session")).await;
    assert_eq!(ben_me["id"], ben.to_string());
    assert_eq!(ben_me["email"], "ben@example.org");

    // An address the sign-up rule does not admit gets no account.
    provider.next("sub-eve", "eve@elsewhere.net", Bend::default());
    let refused = sign_in(&app, None).await;
    assert_eq!((refused.status, refused.session), (403, None));
    let identities: i64 = sqlx::query_scalar("select count(*) from oidc_identities")
        .fetch_one(&app.db)
        .await
        .unwrap();
    assert_eq!(identities, 2, "Ana's and Ben's");
    assert_eq!(accounts(&app).await, 2);
}

#[tokio::test]
async fn every_check_of_the_id_token_refuses_its_bent_token() {
    let provider = FakeOidc::start().await;
    let outbox = Outbox::new();
    let app = app_of(&provider, &outbox, &[("SIGN_UP", "open")]).await;
    let now = chrono::Utc::now().timestamp();
    let cases = [
        (
            "nonce",
            bent(json!({ "nonce": "another" })),
            400,
            "its nonce differs",
        ),
        (
            "audience",
            bent(json!({ "aud": "another-client" })),
            400,
            "another application",
        ),
        (
            "authorized party",
            bent(json!({ "aud": ["almanac-test-client", "other"], "azp": "other" })),
            400,
            "another application",
        ),
        (
            "issuer",
            bent(json!({ "iss": "http://127.0.0.1:1" })),
            400,
            "another issuer",
        ),
        (
            "signature",
            Bend {
                stranger_key: true,
                ..Default::default()
            },
            400,
            "signature is not the provider",
        ),
        (
            "algorithm",
            Bend {
                hs256: true,
                ..Default::default()
            },
            400,
            "algorithm that is not accepted (HS256)",
        ),
        (
            "expired",
            bent(json!({ "exp": now - 3600, "iat": now - 7200 })),
            400,
            "has expired",
        ),
        (
            "email_verified",
            bent(json!({ "email_verified": false })),
            403,
            "not verified",
        ),
    ];
    for (check, bend, status, said) in cases {
        provider.next("sub-x", "x@example.com", bend);
        let finished = sign_in(&app, None).await;
        assert_eq!(
            (finished.status, finished.session.is_some()),
            (status, false),
            "{check}: {}",
            finished.page
        );
        assert!(
            finished.page.contains("id=\"sign-in-refused\""),
            "{check}: {}",
            finished.page
        );
        assert!(
            finished.page.contains(said),
            "{check} says why: {}",
            finished.page
        );
    }
    assert_eq!(
        accounts(&app).await,
        0,
        "no refused sign-in made an account"
    );
    // The same provider, the token right: it works.
    provider.next("sub-x", "x@example.com", Bend::default());
    assert_eq!(sign_in(&app, None).await.status, 303);
}

#[tokio::test]
async fn a_callback_this_browser_did_not_start_is_refused_before_any_token_is_asked_for() {
    let provider = FakeOidc::start().await;
    let outbox = Outbox::new();
    let app = app_of(&provider, &outbox, &[("SIGN_UP", "open")]).await;
    // A state that is not the browser's: refused before any token is asked for.
    let issued = provider.tokens_issued();
    provider.next("sub-x", "x@example.com", Bend::default());
    let wrong_state = sign_in(&app, Some("not-the-state")).await;
    assert_eq!((wrong_state.status, wrong_state.session), (400, None));
    assert!(
        wrong_state.page.contains("not started in this browser"),
        "{}",
        wrong_state.page
    );
    assert_eq!(provider.tokens_issued(), issued);
    // A callback without the attempt's cookie: the same.
    let bare = app
        .client
        .get(app.url("/app/oidc/callback?code=x&state=y"))
        .send()
        .await
        .unwrap();
    assert_eq!((bare.status().as_u16(), session_of(&bare)), (400, None));
    assert_eq!(accounts(&app).await, 0);
}
