//! Publishing's refusals (seed 001), probed once a calendar, an entry, a channel and a dry
//! run exist: a selection that says nothing (422), a platform nobody publishes to (404),
//! OAuth not configured (422), credentials for an OAuth platform (422), no `state` (400), a `state` nobody issued (422) or another
//! user's (403), connecting while publishing is off (409), intents that can be neither cancelled nor retried (409), a dry run's
//! numbers (409), and analytics of another's channel (404) or of a period that ends before
//! it starts (422).

use reqwest::Method;
use serde_json::json;
use uuid::Uuid;

use super::{Probe, uuid};
use crate::helpers::TestApp;

/// Postgres down spools a publish request in Redis; with Redis cut off too, 503 (and a
/// calendar request too).
async fn both_stores_down_is_503(app: &mut TestApp, probe: &Probe, calendar: Uuid) {
    let redis = crate::helpers::redis_url();
    let redis = redis.trim_start_matches("redis://").trim_end_matches('/');
    let cut = crate::helpers::chaos::ChaosProxy::start(redis.to_owned()).await;
    let mut settings = app.settings.clone();
    let cut_url = format!("redis://127.0.0.1:{}", cut.port);
    settings.redis_url = almanac_shared::config::Secret::new(cut_url.clone());
    settings.events.redis =
        almanac_shared::config::EventsRedis::Server(almanac_shared::config::Secret::new(cut_url));
    settings.database_url =
        almanac_shared::config::Secret::new("postgres://nobody@127.0.0.1:1/none");
    let replica = app.start_api_replica_with(settings).await;
    cut.partition();
    probe
        .expect_at(&replica, 503, probe.call("publishCalendar", &[calendar]))
        .await;
    probe
        .expect_at(&replica, 503, probe.call("generateCalendar", &[]))
        .await;
}

/// Posting slots in a zone that is none; queueing an entry that is not the calendar's; an
/// evergreen collection of a channel nobody has; a calendar or channel nobody has.
async fn queue_and_slot_refusals(probe: &Probe, channel: Uuid, calendar: Uuid) {
    probe
        .succeed(200, probe.call("setChannelSlots", &[channel]))
        .await;
    let call = probe
        .call("setChannelSlots", &[channel])
        .json(json!({ "timezone": "Mars/Olympus", "slots": [] }));
    probe.expect(422, call).await;
    // Queueing an entry that is not the calendar's.
    let call = probe
        .call("queueEntries", &[])
        .json(json!({ "calendarId": calendar, "entryIds": [Uuid::now_v7()] }));
    probe.expect(422, call).await;
    // An evergreen collection of a channel nobody has.
    probe.expect(422, probe.call("createEvergreen", &[])).await;
    // A calendar or channel nobody has.
    probe.expect(404, probe.call("queueEntries", &[])).await;
    for action in [
        "shuffleQueue",
        "packQueue",
        "swapQueue",
        "removeFromQueue",
        "pauseChannelQueue",
        "resumeChannelQueue",
    ] {
        probe.expect(404, probe.call(action, &[])).await;
    }
    let call = probe
        .call("listQueue", &[])
        .path(format!("/v1/queue?channelId={}", Uuid::now_v7()));
    probe.expect(404, call).await;
}

/// Connecting: a platform nobody publishes to (404), OAuth not configured (422), no
/// `state` (400), a `state` nobody issued (422) or another user's (403), credentials for
/// an OAuth platform (422).
async fn connecting_refusals(app: &TestApp, probe: &Probe) {
    for operation in [
        "connectChannel",
        "channelCallback",
        "completeChannel",
        "connectChannelWithCredentials",
    ] {
        let call = probe.call(operation, &[]);
        let path = call.path.replacen("/tiktok/", "/myspace/", 1);
        probe.expect(404, call.path(path)).await;
    }
    let call = probe.call("connectChannel", &[]);
    let path = call.path.replacen("/tiktok/", "/instagram/", 1);
    probe.expect(422, call.path(path)).await;
    let call = probe.call("channelCallback", &[]).anonymous();
    let path = call.path.replace("&state=probe", "");
    probe.expect(400, call.path(path)).await;
    probe.expect(422, probe.call("completeChannel", &[])).await;
    // TikTok connects through OAuth: it takes no credentials.
    let call = probe.call("connectChannelWithCredentials", &[]);
    probe.expect(422, call).await;
    // Another user's connection: refused to this one.
    let other = Uuid::new_v4();
    let (status, connect) = app
        .send_json(
            Method::POST,
            other,
            "/v1/channels/tiktok/connect",
            &json!(null),
        )
        .await;
    assert_eq!(status, 200, "{connect}");
    let call = probe
        .call("completeChannel", &[])
        .json(json!({ "state": connect["data"]["state"], "code": "probe" }));
    probe.expect(403, call).await;
}

pub(super) async fn refusals(app: &mut TestApp, probe: &Probe, user: Uuid) {
    // Publishing on for these; connecting while it is off is probed last.
    let flag = "PUBLISH_SERVICE_ENABLED";
    app.turn_flag(&app.address, flag, &json!({ "state": "on" }))
        .await;
    let calendar = Uuid::now_v7();
    sqlx::query(
        "insert into calendars (id, user_id, name, request, current_version)
         values ($1, $2, 'Probe', '{}', 1)",
    )
    .bind(calendar)
    .bind(user)
    .execute(&app.db)
    .await
    .unwrap();
    let (status, entry) = app
        .send_json(
            Method::POST,
            user,
            &format!("/v1/calendars/{calendar}/entries"),
            &json!({ "channel": "tiktok", "date": "2027-03-01", "title": "Probe" }),
        )
        .await;
    assert_eq!(status, 201, "{entry}");
    let imported = probe.succeed(201, probe.call("importChannel", &[])).await;
    let channel = uuid(&imported["data"]["id"]);
    let unknown = json!({ "platform": "myspace", "accountId": "probe", "accessToken": "probe" });
    let call = probe.call("importChannel", &[]).json(unknown);
    probe.expect(422, call).await;
    let call = probe.call("publishCalendar", &[calendar]).json(json!({}));
    probe.expect(422, call).await;
    both_stores_down_is_503(app, probe, calendar).await;
    let answer = probe
        .succeed(200, probe.call("publishCalendar", &[calendar]))
        .await;
    let intent = uuid(&answer["data"]["intents"][0]["id"]);
    // Past the publish rate limit (`PUBLISH_RATE_LIMIT`), whatever the requests came to.
    let mut limited = false;
    for _ in 0..12 {
        let (status, _) = probe
            .send_to(&probe.address, probe.call("publishCalendar", &[calendar]))
            .await;
        if status == 429 {
            limited = true;
            break;
        }
    }
    assert!(limited, "the publish rate limit never answered 429");
    probe
        .expect(429, probe.call("publishCalendar", &[calendar]))
        .await;
    probe
        .expect(409, probe.call("cancelPublishIntent", &[intent]))
        .await;
    // A dry run has no numbers to read; analytics of a channel the caller does not have,
    // or of an impossible period.
    probe
        .expect(409, probe.call("refreshPostAnalytics", &[intent]))
        .await;
    let call = probe
        .call("listPostAnalytics", &[])
        .path(format!("/v1/analytics/posts?channelId={}", Uuid::new_v4()));
    probe.expect(404, call).await;
    for (id, path) in [
        ("listPostAnalytics", "/v1/analytics/posts"),
        ("listChannelAnalytics", "/v1/analytics/channels"),
    ] {
        let call = probe
            .call(id, &[])
            .path(format!("{path}?from=2026-03-02&to=2026-03-01"));
        probe.expect(422, call).await;
    }
    probe
        .expect(409, probe.call("retryPublishIntent", &[intent]))
        .await;

    queue_and_slot_refusals(probe, channel, calendar).await;

    // A channel that is not connected: nothing to retry on it yet.
    sqlx::query("update platform_accounts set status = 'needs_reauth' where id = $1")
        .bind(channel)
        .execute(&app.db)
        .await
        .unwrap();
    probe
        .expect(409, probe.call("retryChannelFailures", &[channel]))
        .await;

    connecting_refusals(app, probe).await;
    // Publishing off: connecting calls a platform, so it is refused (409).
    app.turn_flag(&app.address, flag, &json!({ "state": "off" }))
        .await;
    for operation in ["connectChannelWithCredentials", "completeChannel"] {
        probe.expect(409, probe.call(operation, &[])).await;
    }
}
