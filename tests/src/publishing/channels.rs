//! Channels: connecting them (OAuth, imported tokens), choosing one, and the life of their
//! tokens: refreshed when expired or close to it, re-authorisation when refused.

use reqwest::Method;
use serde_json::json;

use super::{Entry, setup};
use crate::helpers::fake_platforms::{IG_USER, TIKTOK_OPEN_ID};

#[tokio::test]
async fn an_expired_tiktok_token_is_refreshed_once_and_the_rotated_one_kept() {
    let s = setup().await;
    let channel = s.connect_tiktok().await;
    // Expired, and refused by TikTok: only the refreshed token works.
    s.update_channel(channel, "token_expires_at = now() - interval '1 minute'")
        .await;
    s.fake.with(|f| {
        f.tokens.remove("tt-token");
    });
    let entry = s.entry(Entry::on("tiktok", "Fresh token")).await;
    let id = s
        .publish_one(json!({ "entryIds": [entry], "dryRun": false }))
        .await;
    s.settled(&id, "published").await;
    assert_eq!(s.fake.calls_to("/oauth/token/").len(), 1);
    let init = &s.fake.calls_to("/video/init/")[0];
    assert_eq!(init.authorization.as_deref(), Some("Bearer tt-token-1"));
    // The rotated refresh token is what the database holds now (sealed).
    let sealed: Vec<u8> =
        sqlx::query_scalar("select refresh_token from platform_accounts where id = $1")
            .bind(channel)
            .fetch_one(&s.app.db)
            .await
            .unwrap();
    let key = s.app.settings.publish.token_key.as_ref().unwrap();
    let cipher = almanac_shared::crypto::TokenCipher::new(key);
    assert_eq!(
        cipher.open(channel, "refresh", &sealed).as_deref(),
        Some("tt-refresh-1")
    );
    let (_, channels) = s.app.get_json(s.user, "/v1/channels").await;
    assert_eq!(channels["data"]["items"][0]["status"], "connected");
}

#[tokio::test]
async fn a_refused_refresh_asks_for_reauthorisation_after_one_attempt() {
    let s = setup().await;
    s.fake.with(|f| f.refuse_refresh = true);
    // Valid for a day, but TikTok refuses it: one refresh, then re-authorisation.
    s.fake.with(|f| {
        f.tokens.remove("tt-token");
    });
    let channel = s.connect_tiktok().await;
    let entry = s.entry(Entry::on("tiktok", "Refused")).await;
    let id = s
        .publish_one(json!({ "entryIds": [entry], "dryRun": false }))
        .await;
    let failed = s.settled(&id, "failed").await;
    assert_eq!(failed["error"]["code"], "CHANNEL_AUTH_INVALID");
    assert_eq!(
        s.fake.calls_to("/oauth/token/").len(),
        1,
        "one refresh attempt, no loop"
    );
    assert_eq!(s.fake.publishing_calls(), 0);
    let (_, channels) = s.app.get_json(s.user, "/v1/channels").await;
    assert_eq!(channels["data"]["items"][0]["id"], channel.to_string());
    assert_eq!(channels["data"]["items"][0]["status"], "needs_reauth");
    // Now the request itself is refused, naming the channel, and nothing is attempted.
    let (status, refused) = s
        .publish(json!({ "entryIds": [entry], "dryRun": false }))
        .await;
    assert_eq!(status, 422);
    assert_eq!(refused["error"]["code"], "CHANNEL_AUTH_INVALID");
    assert_eq!(refused["error"]["details"]["channel"], "tiktok");
    assert_eq!(s.fake.calls_to("/oauth/token/").len(), 1);
    assert!(
        s.app
            .metrics_text()
            .await
            .contains("adapter_auth_missing_total{channel=\"tiktok\",reason=\"token_refused\"}")
    );
}

#[tokio::test]
async fn an_expired_instagram_token_needs_reauthorisation() {
    let s = setup().await;
    let channel = s
        .connect("instagram", IG_USER, "ig-token", None, 5_184_000)
        .await;
    s.update_channel(channel, "token_expires_at = now() - interval '1 hour'")
        .await;
    let entry = s.entry(Entry::on("instagram", "Expired")).await;
    let (status, refused) = s.publish(json!({ "entryIds": [entry] })).await;
    assert_eq!(status, 422, "{refused}");
    assert_eq!(refused["error"]["code"], "CHANNEL_AUTH_INVALID");
    assert_eq!(refused["error"]["details"]["channel"], "instagram");
    assert!(s.fake.all_calls().is_empty());
    let (_, channels) = s.app.get_json(s.user, "/v1/channels").await;
    assert_eq!(channels["data"]["items"][0]["status"], "needs_reauth");
    assert_eq!(
        channels["data"]["items"][0]["statusReason"],
        "the Instagram token expired; connect the channel again"
    );
}

#[tokio::test]
async fn channels_must_be_connected_and_unambiguous() {
    let s = setup().await;
    let entry = s.entry(Entry::on("tiktok", "Nowhere to go")).await;
    let other = s.entry(Entry::on("x", "Elsewhere")).await;
    // A dry run plans what it can and lists the entries of the channel that has no account.
    let (status, planned) = s.publish(json!({ "entryIds": [entry, other] })).await;
    assert_eq!(status, 200, "{planned}");
    assert_eq!(
        planned["data"]["refused"],
        json!([{ "entryId": entry, "channel": "tiktok", "code": "CHANNEL_NOT_CONNECTED" }])
    );
    let intents = planned["data"]["intents"].as_array().unwrap();
    assert_eq!(intents.len(), 1, "{planned}");
    assert_eq!(intents[0]["entryId"], json!(other));
    // A real publish in the same state is refused whole, naming the channel.
    let (status, refused) = s
        .publish(json!({ "entryIds": [entry], "dryRun": false }))
        .await;
    assert_eq!(status, 422);
    assert_eq!(refused["error"]["code"], "CHANNEL_NOT_CONNECTED");
    assert_eq!(refused["error"]["details"]["channel"], "tiktok");
    let first = s
        .connect("tiktok", TIKTOK_OPEN_ID, "tt-token", None, 86_400)
        .await;
    let second = s
        .connect("tiktok", "open-tiktok-2", "tt-token", None, 86_400)
        .await;
    let (status, planned) = s.publish(json!({ "entryIds": [entry] })).await;
    assert_eq!(status, 200, "{planned}");
    assert_eq!(planned["data"]["refused"][0]["code"], "CHANNEL_AMBIGUOUS");
    assert_eq!(planned["data"]["intents"], json!([]));
    let (status, refused) = s
        .publish(json!({ "entryIds": [entry], "dryRun": false }))
        .await;
    assert_eq!(status, 422);
    assert_eq!(refused["error"]["code"], "CHANNEL_AMBIGUOUS");
    let (status, chosen) = s
        .publish(json!({ "entryIds": [entry], "channels": [second] }))
        .await;
    assert_eq!(status, 200, "{chosen}");
    assert_eq!(
        chosen["data"]["intents"][0]["channelId"],
        second.to_string()
    );
    // A disconnected channel is no longer a candidate.
    assert_eq!(
        s.app
            .delete(s.user, &format!("/v1/channels/{second}"))
            .await,
        204
    );
    let (_, only) = s.publish(json!({ "entryIds": [entry] })).await;
    assert_eq!(only["data"]["intents"][0]["channelId"], first.to_string());
}

/// Starts connecting `platform` as `user`; returns the `state` and the authorize URL's query.
pub(super) async fn start_connect(
    s: &super::Setup,
    user: uuid::Uuid,
    platform: &str,
) -> (String, std::collections::HashMap<String, String>) {
    let (status, connect) = s
        .app
        .send_json(
            Method::POST,
            user,
            &format!("/v1/channels/{platform}/connect"),
            &json!(null),
        )
        .await;
    assert_eq!(status, 200, "{connect}");
    let url = url::Url::parse(connect["data"]["authorizeUrl"].as_str().unwrap()).unwrap();
    let query = url.query_pairs().into_owned().collect();
    (connect["data"]["state"].as_str().unwrap().to_owned(), query)
}

/// The platform's redirect, as the browser follows it: where the API sends it on.
pub(super) async fn callback(s: &super::Setup, platform: &str, query: &str) -> url::Url {
    let browser = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let response = browser
        .get(
            s.app
                .url(&format!("/v1/channels/{platform}/callback?{query}")),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 303);
    let location = response.headers()["location"].to_str().unwrap();
    let app = url::Url::parse(&s.app.url("/"))
        .unwrap()
        .join(location)
        .unwrap();
    assert_eq!(app.path(), "/app/");
    let fragment = app.fragment().unwrap();
    let (route, query) = fragment.split_once('?').unwrap();
    assert_eq!(route, "/channels/connect");
    url::Url::parse(&format!("http://app.invalid/?{query}")).unwrap()
}

/// What the web app posts to `complete` for the callback's `query`, as `user`.
pub(super) async fn complete(
    s: &super::Setup,
    user: uuid::Uuid,
    platform: &str,
    carried: &url::Url,
) -> (u16, serde_json::Value) {
    let query: std::collections::HashMap<String, String> =
        carried.query_pairs().into_owned().collect();
    let mut body = json!({ "state": query["state"] });
    for (key, field) in [
        ("code", "code"),
        ("error", "error"),
        ("error_description", "errorDescription"),
    ] {
        if let Some(value) = query.get(key) {
            body[field] = json!(value);
        }
    }
    s.app
        .send_json(
            Method::POST,
            user,
            &format!("/v1/channels/{platform}/complete"),
            &body,
        )
        .await
}

#[tokio::test]
async fn channels_connect_through_oauth_with_a_single_use_state() {
    let s = setup().await;
    let (state, query) = start_connect(&s, s.user, "tiktok").await;
    assert_eq!(query["state"], state);
    assert_eq!(query["client_key"], "tiktok-client");
    assert_eq!(query["code_challenge_method"], "S256");
    assert_eq!(query["code_challenge"].len(), 43);
    // Without OAUTH_REDIRECT_BASE_URL, the API's own address as bound.
    assert_eq!(
        query["redirect_uri"],
        s.app.url("/v1/channels/tiktok/callback")
    );
    // The browser comes back without credentials: the callback only sends it on to the
    // app, which completes the connection as the signed-in user.
    let carried = callback(&s, "tiktok", &format!("code=good-code&state={state}")).await;
    assert!(
        s.fake.calls_to("/oauth/token/").is_empty(),
        "nothing exchanged yet"
    );
    let carried_query: std::collections::HashMap<String, String> =
        carried.query_pairs().into_owned().collect();
    assert_eq!(carried_query["platform"], "tiktok");
    assert_eq!(carried_query["code"], "good-code");
    let (status, channel) = complete(&s, s.user, "tiktok", &carried).await;
    assert_eq!(status, 200, "{channel}");
    assert_eq!(channel["data"]["accountId"], TIKTOK_OPEN_ID);
    assert_eq!(channel["data"]["status"], "connected");
    // Who connected, as people know them: the creator's username and nickname.
    assert_eq!(channel["data"]["handle"], "almanac_test");
    assert_eq!(channel["data"]["displayName"], "Almanac");
    assert!(!channel.to_string().contains("tt-token"));
    // The PKCE verifier went with the code.
    let exchange = &s.fake.calls_to("/oauth/token/")[0];
    assert_eq!(exchange.query["grant_type"], "authorization_code");
    assert!(exchange.query["code_verifier"].len() >= 43);
    let (status, reused) = complete(&s, s.user, "tiktok", &carried).await;
    assert_eq!(status, 422);
    assert_eq!(reused["error"]["code"], "OAUTH_STATE_INVALID");
    assert_eq!(s.fake.calls_to("/oauth/token/").len(), 1);
    let (_, channels) = s.app.get_json(s.user, "/v1/channels").await;
    assert_eq!(channels["data"]["items"].as_array().unwrap().len(), 1);

    // Instagram: the short-lived token is exchanged for a long-lived one.
    let (state, _) = start_connect(&s, s.user, "instagram").await;
    let carried = callback(&s, "instagram", &format!("code=good-code&state={state}")).await;
    let (status, channel) = complete(&s, s.user, "instagram", &carried).await;
    assert_eq!(status, 200, "{channel}");
    assert_eq!(channel["data"]["accountId"], IG_USER);
    assert_eq!(
        s.fake.calls_to("/access_token").len(),
        2,
        "code, then long-lived exchange"
    );
    // The account's username and name, read with the long-lived token: the account is
    // `@almanac.studio`, not only its number.
    assert_eq!(channel["data"]["handle"], "almanac.studio");
    assert_eq!(channel["data"]["displayName"], "Almanac Studio");
    let me = s.fake.calls_to("/me");
    assert_eq!(me.len(), 1);
    assert_eq!(me[0].query["fields"], "user_id,username,name");
    let (_, listed) = s.app.get_json(s.user, "/v1/channels").await;
    let instagram = listed["data"]["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["platform"] == "instagram")
        .unwrap()
        .clone();
    assert_eq!(instagram["handle"], "almanac.studio");
    assert_eq!(instagram["displayName"], "Almanac Studio");
}

/// B starts connecting and sends A the authorize link; A grants access. The callback
/// carries A's code with B's state, but only B may complete B's state: A's browser gets
/// 403 and nothing is asked of the platform, so A's account never becomes B's channel.
#[tokio::test]
async fn a_state_completes_only_for_the_user_who_started_it() {
    let s = setup().await;
    let (a, b) = (s.user, uuid::Uuid::new_v4());
    let (b_state, _) = start_connect(&s, b, "tiktok").await;
    let carried = callback(&s, "tiktok", &format!("code=a-code&state={b_state}")).await;
    let (status, refused) = complete(&s, a, "tiktok", &carried).await;
    assert_eq!(status, 403, "{refused}");
    assert_eq!(refused["error"]["code"], "OAUTH_STATE_NOT_YOURS");
    assert_eq!(s.fake.all_calls().len(), 0, "no call to the platform");
    // The state is used up: B cannot complete it with A's code either.
    let (status, gone) = complete(&s, b, "tiktok", &carried).await;
    assert_eq!(status, 422, "{gone}");
    assert_eq!(gone["error"]["code"], "OAUTH_STATE_INVALID");
    assert_eq!(s.fake.all_calls().len(), 0);
    for user in [a, b] {
        let (_, channels) = s.app.get_json(user, "/v1/channels").await;
        assert_eq!(
            channels["data"]["items"],
            json!([]),
            "no channel for {user}"
        );
    }
    // A's own connection completes for A.
    let (a_state, _) = start_connect(&s, a, "tiktok").await;
    let carried = callback(&s, "tiktok", &format!("code=good-code&state={a_state}")).await;
    let (status, channel) = complete(&s, a, "tiktok", &carried).await;
    assert_eq!(status, 200, "{channel}");
    assert_eq!(channel["data"]["accountId"], TIKTOK_OPEN_ID);
    assert_eq!(s.fake.calls_to("/oauth/token/").len(), 1);
    // A refusal on the platform's side goes the same way, and names no account.
    let (state, _) = start_connect(&s, a, "tiktok").await;
    let carried = callback(
        &s,
        "tiktok",
        &format!("state={state}&error=access_denied&error_description=The+user+said+no"),
    )
    .await;
    let (status, denied) = complete(&s, a, "tiktok", &carried).await;
    assert_eq!(status, 422, "{denied}");
    assert_eq!(denied["error"]["code"], "OAUTH_DENIED");
    assert!(
        denied["error"]["message"]
            .as_str()
            .unwrap()
            .contains("The user said no")
    );
}

#[tokio::test]
async fn an_instagram_token_close_to_expiry_is_refreshed_while_still_valid() {
    let s = setup().await;
    let channel = s
        .connect("instagram", IG_USER, "ig-token", None, 3 * 86_400)
        .await;
    // Issued two days ago: old enough for Instagram to refresh it.
    s.update_channel(channel, "token_issued_at = now() - interval '2 days'")
        .await;
    let entry = s.entry(Entry::on("instagram", "Refreshed")).await;
    let id = s
        .publish_one(json!({ "entryIds": [entry], "dryRun": false }))
        .await;
    s.settled(&id, "published").await;
    let refresh = s.fake.calls_to("/refresh_access_token");
    assert_eq!(refresh.len(), 1);
    assert_eq!(refresh[0].query["grant_type"], "ig_refresh_token");
    assert_eq!(refresh[0].query["access_token"], "ig-token");
    let publish = &s.fake.calls_to("/media_publish")[0];
    assert_eq!(publish.query["access_token"], "ig-token-1");
    let (_, channels) = s.app.get_json(s.user, "/v1/channels").await;
    let expires: chrono::DateTime<chrono::Utc> = channels["data"]["items"][0]["expiresAt"]
        .as_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!(
        expires > chrono::Utc::now() + chrono::Duration::days(59),
        "{expires}"
    );
}

/// Missing app configuration reaches the auth/config alert too: connecting without the
/// platform's OAuth client credentials, or on a server without TOKEN_ENCRYPTION_KEY, counts
/// in `adapter_auth_missing_total` with its reason.
#[tokio::test]
async fn missing_app_configuration_is_counted_with_its_reason() {
    let app = crate::helpers::spawn_app_with(crate::helpers::TestOptions {
        worker: false,
        ..Default::default()
    })
    .await;
    let user = uuid::Uuid::new_v4();
    let key_missing = "adapter_auth_missing_total{channel=\"\",reason=\"token_key_missing\"}";
    let before = app.metric(key_missing).await;
    let (status, refused) = app
        .send_json(
            Method::POST,
            user,
            "/v1/channels/tiktok/connect",
            &json!(null),
        )
        .await;
    assert_eq!(status, 503, "{refused}");
    assert_eq!(refused["error"]["code"], "TOKEN_STORE_UNCONFIGURED");
    assert!(app.metric(key_missing).await >= before + 1.0);

    let fake = crate::helpers::fake_platforms::FakePlatforms::start().await;
    let mut env = super::publish_env(&fake, true);
    env.retain(|(k, _)| !k.starts_with("INSTAGRAM_APP"));
    let configured = crate::helpers::spawn_app_with(crate::helpers::TestOptions {
        worker: false,
        env,
        ..Default::default()
    })
    .await;
    let not_configured =
        "adapter_auth_missing_total{channel=\"instagram\",reason=\"oauth_not_configured\"}";
    let before = configured.metric(not_configured).await;
    let (status, refused) = configured
        .send_json(
            Method::POST,
            user,
            "/v1/channels/instagram/connect",
            &json!(null),
        )
        .await;
    assert_eq!(status, 422, "{refused}");
    assert_eq!(refused["error"]["code"], "OAUTH_NOT_CONFIGURED");
    assert!(configured.metric(not_configured).await >= before + 1.0);
}
