//! Dry runs, publishing now and at the entry's time, refusals, tokens, and ownership.

use reqwest::Method;
use serde_json::json;
use uuid::Uuid;

use super::{Entry, by_entry, setup};
use crate::helpers::fake_platforms::{IG_USER, TIKTOK_OPEN_ID, TikTokOutcome};

/// A timestamp of an answer, as UTC with `Z`.
fn at(value: &serde_json::Value) -> String {
    let at: chrono::DateTime<chrono::Utc> = value.as_str().unwrap().parse().unwrap();
    at.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}

#[tokio::test]
async fn a_dry_run_plans_every_entry_exactly_and_publishes_nothing() {
    let s = setup().await;
    s.connect_both().await;
    let video = s.entry(Entry::on("tiktok", "Behind the scenes")).await;
    let photo = s
        .entry(Entry {
            format: "carousel",
            media: Some("https://cdn.example.com/a.jpg"),
            ..Entry::on("tiktok", "Three tips")
        })
        .await;
    let long = "x".repeat(2_190);
    let too_long = s.entry(Entry::on("tiktok", &long)).await;
    let image = s.entry(Entry::on("instagram", "Our new look")).await;
    let reel = s
        .entry(Entry {
            format: "reel",
            ..Entry::on("instagram", "The reel")
        })
        .await;
    let no_media = s
        .entry(Entry {
            media: None,
            ..Entry::on("instagram", "No picture")
        })
        .await;
    let linkedin = s.entry(Entry::on("linkedin", "Hiring")).await;

    let (status, answer) = s.publish(json!({ "all": true })).await;
    assert_eq!(status, 200, "{answer}");
    assert_eq!(answer["data"]["dryRun"], true);
    assert_eq!(answer["data"]["spooled"], false);
    assert!(answer["data"]["reason"].is_null());
    let intents = by_entry(&answer);
    assert_eq!(intents.len(), 7);
    let status_of = |id: &Uuid| {
        intents[&id.to_string()]["status"]
            .as_str()
            .unwrap()
            .to_owned()
    };
    for valid in [video, photo, image, reel] {
        assert_eq!(
            status_of(&valid),
            "dry_run",
            "{}",
            intents[&valid.to_string()]
        );
    }
    for invalid in [too_long, no_media, linkedin] {
        assert_eq!(status_of(&invalid), "failed");
    }
    let error = |id: &Uuid| intents[&id.to_string()]["error"].clone();
    assert_eq!(error(&too_long)["code"], "CAPTION_TOO_LONG");
    assert_eq!(
        error(&too_long)["message"],
        "the TikTok caption (caption, call to action and hashtags) is 2225 characters; the limit is 2200"
    );
    assert_eq!(error(&no_media)["code"], "MEDIA_REQUIRED");
    assert_eq!(error(&linkedin)["code"], "UNSUPPORTED_CHANNEL");

    // The exact requests a publish would send, secrets masked.
    let base = s.fake.base_url();
    let plan = &intents[&video.to_string()]["payload"]["requests"];
    let text = "Behind the scenes\n\nFollow for more\n\n#launch #almanac";
    assert_eq!(
        plan,
        &json!([
            { "method": "POST", "url": format!("{base}/v2/post/publish/creator_info/query/"),
              "headers": { "Authorization": "Bearer ***", "Content-Type": "application/json; charset=UTF-8" },
              "body": null, "effect": "read-only" },
            { "method": "POST", "url": format!("{base}/v2/post/publish/video/init/"),
              "headers": { "Authorization": "Bearer ***", "Content-Type": "application/json; charset=UTF-8" },
              "body": { "post_info": { "title": text, "privacy_level": "PUBLIC_TO_EVERYONE",
                  "disable_comment": false, "disable_duet": false, "disable_stitch": false,
                  "video_cover_timestamp_ms": 1000 },
                "source_info": { "source": "PULL_FROM_URL", "video_url": "https://cdn.example.com/media/launch.mp4" } },
              "effect": "publishes" },
            { "method": "POST", "url": format!("{base}/v2/post/publish/status/fetch/"),
              "headers": { "Authorization": "Bearer ***", "Content-Type": "application/json; charset=UTF-8" },
              "body": { "publish_id": "<publish_id>" }, "effect": "read-only" },
        ])
    );
    let reel_plan = &intents[&reel.to_string()]["payload"]["requests"];
    assert_eq!(
        reel_plan[1]["url"],
        format!("{base}/{IG_USER}/media?access_token=***")
    );
    assert_eq!(reel_plan[1]["body"]["media_type"], "REELS");
    assert_eq!(
        reel_plan[3]["url"],
        format!("{base}/{IG_USER}/media_publish?creation_id=<container_id>&access_token=***")
    );
    assert_eq!(
        intents[&photo.to_string()]["payload"]["requests"][1]["body"]["media_type"],
        "PHOTO"
    );

    // Only read-only calls reached the platforms, one per account.
    assert_eq!(s.fake.publishing_calls(), 0);
    assert!(s.fake.posts().is_empty());
    assert_eq!(s.fake.calls_to("/creator_info/query/").len(), 1);
    assert_eq!(s.fake.calls_to("/content_publishing_limit").len(), 1);
    let printed = answer.to_string();
    assert!(!printed.contains("tt-token") && !printed.contains("ig-token"));

    // A repeated dry run refreshes the same intents.
    let (_, again) = s.publish(json!({ "all": true })).await;
    assert_eq!(again["data"]["intents"], answer["data"]["intents"]);
}

#[tokio::test]
async fn publishing_now_posts_each_entry_once_even_when_asked_twice() {
    let s = setup().await;
    s.connect_both().await;
    let entries = [
        s.entry(Entry::on("tiktok", "One")).await,
        s.entry(Entry::on("tiktok", "Two")).await,
        s.entry(Entry::on("instagram", "Three")).await,
        s.entry(Entry::on("instagram", "Four")).await,
    ];
    let body = json!({ "all": true, "dryRun": false });
    let (status, first) = s.publish(body.clone()).await;
    assert_eq!(status, 200, "{first}");
    assert_eq!(first["data"]["dryRun"], false);
    let (_, second) = s.publish(body).await;
    let ids = |answer: &serde_json::Value| {
        let mut ids: Vec<String> = answer["data"]["intents"]
            .as_array()
            .unwrap()
            .iter()
            .map(|i| i["id"].as_str().unwrap().to_owned())
            .collect();
        ids.sort();
        ids
    };
    assert_eq!(
        ids(&first),
        ids(&second),
        "the second request found the first's intents"
    );
    for id in ids(&first) {
        let intent = s.settled(&id, "published").await;
        assert!(intent["remoteId"].is_string(), "{intent}");
        assert!(intent["remotePostId"].is_string(), "{intent}");
        assert!(intent["publishedAt"].is_string());
        assert!(intent["error"].is_null());
    }
    let posts = s.fake.posts();
    assert_eq!(posts.len(), 4);
    assert_eq!(s.fake.calls_to("/video/init/").len(), 2);
    assert_eq!(s.fake.calls_to("/media_publish").len(), 2);
    let (_, third) = s
        .publish(json!({ "entryIds": [entries[0]], "dryRun": false }))
        .await;
    assert_eq!(third["data"]["intents"][0]["status"], "published");
    assert_eq!(
        s.fake.posts().len(),
        4,
        "a published entry is not posted again"
    );
    let (_, list) = s
        .app
        .get_json(
            s.user,
            &format!(
                "/v1/publish-intents?calendarId={}&status=published",
                s.calendar
            ),
        )
        .await;
    assert_eq!(list["data"]["items"].as_array().unwrap().len(), 4);
}

#[tokio::test]
async fn scheduled_intents_follow_their_entry_and_publish_its_latest_edit() {
    let s = setup().await;
    s.connect_both().await;
    let edited = s.entry(Entry::on("instagram", "First draft")).await;
    let cancelled = s.entry(Entry::on("tiktok", "Cancelled")).await;
    let deleted = s.entry(Entry::on("tiktok", "Deleted")).await;
    let (status, answer) = s
        .publish(json!({ "all": true, "dryRun": false, "when": "scheduled" }))
        .await;
    assert_eq!(status, 200, "{answer}");
    let intents = by_entry(&answer);
    for intent in intents.values() {
        assert_eq!(intent["status"], "scheduled");
        assert_eq!(at(&intent["publishAt"]), "2030-01-07T09:00:00Z");
        assert_eq!(intent["timezone"], "Europe/Madrid");
    }
    // Edited after scheduling: a new caption and a later time (local Madrid time).
    let (status, patched) = s
        .app
        .send_json(
            Method::PATCH,
            s.user,
            &format!("/v1/calendars/{}/entries/{edited}", s.calendar),
            &json!({ "caption": "Final words", "time": "12:30", "mediaUrl": "https://cdn.example.com/final.jpg" }),
        )
        .await;
    assert_eq!(status, 200, "{patched}");
    let edited_intent = intents[&edited.to_string()]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_eq!(
        at(&s.intent(&edited_intent).await["publishAt"]),
        "2030-01-07T11:30:00Z"
    );
    let cancel_id = intents[&cancelled.to_string()]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let (status, gone) = s
        .app
        .send_json(
            Method::DELETE,
            s.user,
            &format!("/v1/publish-intents/{cancel_id}"),
            &json!(null),
        )
        .await;
    assert_eq!(status, 200, "{gone}");
    assert_eq!(gone["data"]["status"], "cancelled");
    assert_eq!(
        s.app
            .delete(
                s.user,
                &format!("/v1/calendars/{}/entries/{deleted}", s.calendar)
            )
            .await,
        204
    );
    let deleted_intent = intents[&deleted.to_string()]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_eq!(s.intent(&deleted_intent).await["status"], "cancelled");

    // Nothing is due before its time.
    assert_eq!(s.tick("2030-01-07T09:05:00Z").await.dispatched, 0);
    assert!(s.fake.posts().is_empty());
    assert_eq!(s.tick("2030-01-07T11:30:00Z").await.dispatched, 1);
    s.settled(&edited_intent, "published").await;
    let posts = s.fake.posts();
    assert_eq!(posts.len(), 1);
    assert_eq!(
        posts[0].body["caption"],
        "Final words\n\nFollow for more\n\n#launch #almanac"
    );
    assert_eq!(
        posts[0].body["image_url"],
        "https://cdn.example.com/final.jpg"
    );
    assert_eq!(s.tick("2030-01-08T00:00:00Z").await.dispatched, 0);
    assert_eq!(
        s.fake.calls_to("/init/").len(),
        0,
        "cancelled intents are never sent"
    );
    // Cancelling twice, or after it ran, is refused.
    let (status, refused) = s
        .app
        .send_json(
            Method::DELETE,
            s.user,
            &format!("/v1/publish-intents/{edited_intent}"),
            &json!(null),
        )
        .await;
    assert_eq!(status, 409);
    assert_eq!(refused["error"]["code"], "INTENT_NOT_CANCELLABLE");
}

#[tokio::test]
async fn platform_refusals_fail_the_post_with_the_platforms_code_and_reason() {
    let s = setup().await;
    s.connect_both().await;
    s.fake
        .with(|f| f.tiktok_outcome = TikTokOutcome::Failed("spam_risk_too_many_posts"));
    let spam = s.entry(Entry::on("tiktok", "Too many")).await;
    let id = s
        .publish_one(json!({ "entryIds": [spam], "dryRun": false }))
        .await;
    let failed = s.settled(&id, "failed").await;
    assert_eq!(failed["error"]["code"], "POST_LIMIT_REACHED");
    assert_eq!(failed["error"]["platformCode"], "spam_risk_too_many_posts");
    assert_eq!(
        failed["error"]["message"],
        "the TikTok account reached its daily post limit (spam_risk_too_many_posts)"
    );

    // Instagram's daily quota spent: the dry run says so, and the publish is not sent.
    s.fake.with(|f| f.quota_usage = 50);
    let quota = s.entry(Entry::on("instagram", "Over quota")).await;
    let (_, dry) = s.publish(json!({ "entryIds": [quota] })).await;
    assert_eq!(
        dry["data"]["intents"][0]["error"]["code"],
        "DAILY_QUOTA_EXHAUSTED"
    );
    let id = s
        .publish_one(json!({ "entryIds": [quota], "dryRun": false }))
        .await;
    let failed = s.settled(&id, "failed").await;
    assert_eq!(failed["error"]["code"], "DAILY_QUOTA_EXHAUSTED");
    assert_eq!(s.fake.calls_to("/media_publish").len(), 0);

    // A privacy level the creator does not allow.
    s.fake.with(|f| f.privacy_options = vec!["SELF_ONLY"]);
    let private = s.entry(Entry::on("tiktok", "Private account")).await;
    let (_, dry) = s
        .publish(json!({ "entryIds": [private], "privacyLevel": "PUBLIC_TO_EVERYONE" }))
        .await;
    assert_eq!(
        dry["data"]["intents"][0]["error"]["code"],
        "PRIVACY_LEVEL_NOT_ALLOWED"
    );
    let (_, answer) = s
        .publish(
            json!({ "entryIds": [private], "dryRun": false, "privacyLevel": "PUBLIC_TO_EVERYONE" }),
        )
        .await;
    let id = answer["data"]["intents"][0]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let failed = s.settled(&id, "failed").await;
    assert_eq!(failed["error"]["code"], "PRIVACY_LEVEL_NOT_ALLOWED");
    assert_eq!(
        failed["error"]["platformCode"],
        "privacy_level_option_mismatch"
    );
    assert_eq!(
        s.fake.calls_to("/video/init/").len(),
        1,
        "only the spam-capped post was sent"
    );

    // Instagram has no drafts.
    let draft = s.entry(Entry::on("instagram", "Draft")).await;
    let (_, dry) = s
        .publish(json!({ "entryIds": [draft], "mode": "draft" }))
        .await;
    assert_eq!(
        dry["data"]["intents"][0]["error"]["code"],
        "DRAFT_UNSUPPORTED"
    );
}

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
async fn another_users_calendar_channels_and_intents_are_not_found() {
    let s = setup().await;
    let (tiktok, _) = s.connect_both().await;
    let entry = s.entry(Entry::on("tiktok", "Mine")).await;
    let (_, answer) = s.publish(json!({ "entryIds": [entry] })).await;
    let intent = answer["data"]["intents"][0]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let other = Uuid::now_v7();
    let (status, _) = s
        .app
        .send_json(
            Method::POST,
            other,
            &format!("/v1/calendars/{}/publish", s.calendar),
            &json!({ "all": true }),
        )
        .await;
    assert_eq!(status, 404);
    assert_eq!(
        s.app
            .get_json(other, &format!("/v1/publish-intents/{intent}"))
            .await
            .0,
        404
    );
    assert_eq!(
        s.app.delete(other, &format!("/v1/channels/{tiktok}")).await,
        404
    );
    let (_, list) = s.app.get_json(other, "/v1/publish-intents").await;
    assert_eq!(list["data"]["items"], json!([]));
    let (_, channels) = s.app.get_json(other, "/v1/channels").await;
    assert_eq!(channels["data"]["items"], json!([]));
    let (status, retried) = s
        .app
        .send_json(
            Method::POST,
            other,
            &format!("/v1/publish-intents/{intent}/retry"),
            &json!(null),
        )
        .await;
    assert_eq!(status, 404, "{retried}");
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
async fn a_tiktok_draft_goes_to_the_creators_inbox() {
    let s = setup().await;
    s.connect_both().await;
    let entry = s.entry(Entry::on("tiktok", "Finish me in the app")).await;
    let id = s
        .publish_one(json!({ "entryIds": [entry], "dryRun": false, "mode": "draft" }))
        .await;
    let sent = s.settled(&id, "draft_sent").await;
    assert_eq!(sent["mode"], "draft");
    assert_eq!(s.fake.calls_to("/inbox/video/init/").len(), 1);
    assert_eq!(s.fake.calls_to("/post/publish/video/init/").len(), 0);
    assert_eq!(
        s.fake.posts()[0].body["source_info"]["source"],
        "PULL_FROM_URL"
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
