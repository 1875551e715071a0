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
    let cipher = almanac_shared::publish::crypto::TokenCipher::new(key);
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
            .contains("adapter_auth_missing_total{channel=\"tiktok\"}")
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
    let (status, refused) = s.publish(json!({ "entryIds": [entry] })).await;
    assert_eq!(status, 422);
    assert_eq!(refused["error"]["code"], "CHANNEL_NOT_CONNECTED");
    assert_eq!(refused["error"]["details"]["channel"], "tiktok");
    let first = s
        .connect("tiktok", TIKTOK_OPEN_ID, "tt-token", None, 86_400)
        .await;
    let second = s
        .connect("tiktok", "open-tiktok-2", "tt-token", None, 86_400)
        .await;
    let (status, refused) = s.publish(json!({ "entryIds": [entry] })).await;
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

#[tokio::test]
async fn channels_connect_through_oauth_with_a_single_use_state() {
    let s = setup().await;
    let (status, connect) = s
        .app
        .send_json(
            Method::POST,
            s.user,
            "/v1/channels/tiktok/connect",
            &json!(null),
        )
        .await;
    assert_eq!(status, 200, "{connect}");
    let url = url::Url::parse(connect["data"]["authorizeUrl"].as_str().unwrap()).unwrap();
    let query: std::collections::HashMap<String, String> = url.query_pairs().into_owned().collect();
    let state = connect["data"]["state"].as_str().unwrap();
    assert_eq!(query["state"], state);
    assert_eq!(query["client_key"], "tt-client");
    assert_eq!(query["code_challenge_method"], "S256");
    assert_eq!(query["code_challenge"].len(), 43);
    assert_eq!(
        query["redirect_uri"],
        format!(
            "{}/v1/channels/tiktok/callback",
            s.app.settings.publish.redirect_base_url
        )
    );
    // The browser comes back without a bearer token; the state says whose channel it is.
    let callback = |state: String| {
        let url = s.app.url(&format!(
            "/v1/channels/tiktok/callback?code=good-code&state={state}"
        ));
        let client = s.app.client.clone();
        async move {
            let response = client.get(url).send().await.unwrap();
            (
                response.status().as_u16(),
                response.json::<serde_json::Value>().await.unwrap(),
            )
        }
    };
    let (status, channel) = callback(state.to_owned()).await;
    assert_eq!(status, 200, "{channel}");
    assert_eq!(channel["data"]["accountId"], TIKTOK_OPEN_ID);
    assert_eq!(channel["data"]["status"], "connected");
    assert!(!channel.to_string().contains("tt-token"));
    // The PKCE verifier went with the code.
    let exchange = &s.fake.calls_to("/oauth/token/")[0];
    assert_eq!(exchange.query["grant_type"], "authorization_code");
    assert!(exchange.query["code_verifier"].len() >= 43);
    let (status, reused) = callback(state.to_owned()).await;
    assert_eq!(status, 422);
    assert_eq!(reused["error"]["code"], "OAUTH_STATE_INVALID");
    let (_, channels) = s.app.get_json(s.user, "/v1/channels").await;
    assert_eq!(channels["data"]["items"].as_array().unwrap().len(), 1);

    // Instagram: the short-lived token is exchanged for a long-lived one.
    let (_, connect) = s
        .app
        .send_json(
            Method::POST,
            s.user,
            "/v1/channels/instagram/connect",
            &json!(null),
        )
        .await;
    let state = connect["data"]["state"].as_str().unwrap();
    let response = s
        .app
        .client
        .get(s.app.url(&format!(
            "/v1/channels/instagram/callback?code=good-code&state={state}"
        )))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let channel: serde_json::Value = response.json().await.unwrap();
    assert_eq!(channel["data"]["accountId"], IG_USER);
    assert_eq!(
        s.fake.calls_to("/access_token").len(),
        2,
        "code, then long-lived exchange"
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
