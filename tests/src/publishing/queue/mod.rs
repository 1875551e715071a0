//! The posting queue (issue 57): entries take their channel's next free slots in order, in
//! the slots' zone across its clock change; a freed slot stays empty until the queue is
//! packed; two API processes never put two entries in one slot; an ambiguous channel
//! refuses its entries only; a `write` key cannot queue. Quotas as the queue's limits are
//! in `quotas`.

mod actions;
mod quotas;

use almanac_publishing::posting_queue::{self, Queue, QueueRequest};
use almanac_shared::store::user_tx;
use almanac_shared::workspaces::Actor;
use chrono::{DateTime, Datelike, NaiveDate, NaiveTime, TimeZone, Utc, Weekday};
use chrono_tz::Europe::Madrid;
use reqwest::Method;
use serde_json::{Value, json};
use uuid::Uuid;

use super::{Entry, Setup, setup};

/// Sets a channel's slots.
pub(super) async fn set_slots(s: &Setup, channel: Uuid, timezone: &str, slots: Value) {
    let path = format!("/v1/channels/{channel}/slots");
    let body = json!({ "timezone": timezone, "slots": slots });
    let (status, kept) = s.app.send_json(Method::PUT, s.user, &path, &body).await;
    assert_eq!(status, 200, "{kept}");
}

/// `count` TikTok entries, in the order they are asked to be queued.
async fn entries(s: &Setup, count: usize) -> Vec<Uuid> {
    let mut ids = Vec::with_capacity(count);
    for n in 0..count {
        let caption = format!("Tea note {n}");
        ids.push(s.entry(Entry::on("tiktok", &caption)).await);
    }
    ids
}

pub(super) async fn queue_entries(s: &Setup, body: &Value) -> Value {
    let (status, answer) = s
        .app
        .send_json(Method::POST, s.user, "/v1/queue", body)
        .await;
    assert_eq!(status, 200, "{answer}");
    answer["data"].clone()
}

/// A channel's queue: (entry id, publishAt), in order.
async fn queue_of(s: &Setup, channel: Uuid) -> Vec<(String, String)> {
    let (status, listed) = s
        .app
        .get_json(s.user, &format!("/v1/queue?channelId={channel}"))
        .await;
    assert_eq!(status, 200, "{listed}");
    listed["data"]["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|item| {
            (
                item["entryId"].as_str().unwrap().to_owned(),
                item["publishAt"].as_str().unwrap().to_owned(),
            )
        })
        .collect()
}

pub(super) fn at(text: &str) -> DateTime<Utc> {
    text.parse().unwrap()
}

#[tokio::test]
async fn twenty_entries_fill_the_next_twenty_slots_in_order_across_a_clock_change() {
    let s = setup().await;
    let channel = s.connect_tiktok().await;
    set_slots(
        &s,
        channel,
        "Europe/Madrid",
        json!([{ "weekday": "fri", "time": "18:00" }, { "weekday": "mon", "time": "09:00" },
               { "weekday": "wed", "time": "12:30" }]),
    )
    .await;
    let ids = entries(&s, 20).await;
    // Queued on 1 March 2030: the seven weeks of slots after it cross the night Madrid's
    // clocks go forward (31 March).
    let now = at("2030-03-01T00:00:00Z");
    let ctx = s.app.worker_context(0);
    let run = Queue {
        platforms: &ctx.platforms,
        pool: &s.app.db,
        now,
        gap: chrono::Duration::minutes(30),
        request_id: None,
    };
    let request = QueueRequest {
        calendar_id: s.calendar,
        entry_ids: ids.clone(),
        channels: Vec::new(),
        mode: almanac_publishing::Mode::Publish,
        not_before: posting_queue::NotBefore::Now,
    };
    let mut tx = user_tx(&s.app.db, Actor::personal(s.user)).await.unwrap();
    let outcome = posting_queue::add(&run, &mut tx, s.user, &request)
        .await
        .unwrap();
    tx.commit().await.unwrap();
    assert!(outcome.refused.is_empty(), "{:?}", outcome.refused);

    // The slots, read here from the calendar: Monday 09:00, Wednesday 12:30, Friday 18:00
    // in Madrid, from 1 March on.
    let local = |day: Weekday| match day {
        Weekday::Mon => Some(NaiveTime::from_hms_opt(9, 0, 0).unwrap()),
        Weekday::Wed => Some(NaiveTime::from_hms_opt(12, 30, 0).unwrap()),
        Weekday::Fri => Some(NaiveTime::from_hms_opt(18, 0, 0).unwrap()),
        _ => None,
    };
    let expected: Vec<DateTime<Utc>> = NaiveDate::from_ymd_opt(2030, 3, 1)
        .unwrap()
        .iter_days()
        .filter_map(|day| {
            let time = local(day.weekday())?;
            Some(
                Madrid
                    .from_local_datetime(&day.and_time(time))
                    .single()?
                    .to_utc(),
            )
        })
        .take(20)
        .collect();
    let placed: Vec<(Uuid, DateTime<Utc>)> = outcome
        .queued
        .iter()
        .map(|p| (p.entry_id, p.publish_at))
        .collect();
    let wanted: Vec<(Uuid, DateTime<Utc>)> = ids.iter().copied().zip(expected.clone()).collect();
    assert_eq!(placed, wanted);
    // Both sides of the change: 09:00 in Madrid is 08:00 UTC in March, 07:00 in April.
    assert!(expected.contains(&at("2030-03-25T08:00:00Z")));
    assert!(expected.contains(&at("2030-04-01T07:00:00Z")));

    // The queue lists them in order, and each entry moved to its slot, at the local time.
    let listed = queue_of(&s, channel).await;
    assert_eq!(listed.len(), 20);
    for ((entry, publish_at), (id, slot)) in listed.iter().zip(&wanted) {
        assert_eq!(entry, &id.to_string());
        assert_eq!(at(publish_at), *slot);
    }
    let (status, saved) = s
        .app
        .get_json(s.user, &format!("/v1/calendars/{}", s.calendar))
        .await;
    assert_eq!(status, 200, "{saved}");
    let times: Vec<(String, String)> = saved["data"]["entries"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            (
                e["scheduledAt"].as_str().unwrap().to_owned(),
                e["time"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    assert_eq!(times.len(), 20, "{saved}");
    for ((scheduled, time), slot) in times.iter().zip(&expected) {
        assert_eq!(at(scheduled), *slot);
        let local = slot.with_timezone(&Madrid).format("%H:%M").to_string();
        assert_eq!(time, &local);
    }
    // Its publish is due then: the dispatcher takes the first at its slot, not before.
    let (_, listed) = s
        .app
        .get_json(s.user, &format!("/v1/queue?channelId={channel}"))
        .await;
    let intent = listed["data"]["items"][0]["intentId"].as_str().unwrap();
    let first = expected[0];
    let before = (first - chrono::Duration::minutes(1)).to_rfc3339();
    assert_eq!(s.tick(&before).await.dispatched, 0);
    assert_eq!(s.tick(&first.to_rfc3339()).await.dispatched, 1);
    let published = s.settled(intent, "published").await;
    assert_eq!(published["entryId"], ids[0].to_string());
}

#[tokio::test]
async fn a_freed_slot_stays_empty_until_the_queue_is_packed() {
    let s = setup().await;
    let channel = s.connect_tiktok().await;
    let every_day: Vec<Value> = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
        .iter()
        .map(|day| json!({ "weekday": day, "time": "09:00" }))
        .collect();
    set_slots(&s, channel, "UTC", json!(every_day)).await;
    let ids = entries(&s, 4).await;
    let first = queue_entries(
        &s,
        &json!({ "calendarId": s.calendar, "notBefore": "now", "entryIds": &ids[..3] }),
    )
    .await;
    let slots: Vec<String> = first["queued"]
        .as_array()
        .unwrap()
        .iter()
        .map(|q| q["publishAt"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(slots.len(), 3, "{first}");
    for pair in slots.windows(2) {
        assert_eq!(at(&pair[1]) - at(&pair[0]), chrono::Duration::days(1));
    }

    // The second entry leaves the queue: its publish is cancelled.
    let (status, listed) = s
        .app
        .get_json(s.user, &format!("/v1/queue?channelId={channel}"))
        .await;
    assert_eq!(status, 200);
    let second = listed["data"]["items"][1]["intentId"].as_str().unwrap();
    let (status, cancelled) = s.cancel(second).await;
    assert_eq!(status, 200, "{cancelled}");

    // The next entry queued goes after the last, not into the freed slot.
    let later = queue_entries(
        &s,
        &json!({ "calendarId": s.calendar, "notBefore": "now", "entryIds": [ids[3]] }),
    )
    .await;
    let fourth = at(later["queued"][0]["publishAt"].as_str().unwrap());
    assert_eq!(fourth - at(&slots[2]), chrono::Duration::days(1), "{later}");
    let id = |n: usize| ids[n].to_string();
    assert_eq!(
        queue_of(&s, channel).await,
        vec![
            (id(0), slots[0].clone()),
            (id(2), slots[2].clone()),
            (
                id(3),
                later["queued"][0]["publishAt"].as_str().unwrap().to_owned()
            ),
        ]
    );

    // Packed again from now, in order, the freed slot filled.
    let (status, packed) = s
        .app
        .send_json(
            Method::POST,
            s.user,
            "/v1/queue/pack",
            &json!({ "channelId": channel }),
        )
        .await;
    assert_eq!(status, 200, "{packed}");
    let packed = [
        (id(0), slots[0].clone()),
        (id(2), slots[1].clone()),
        (id(3), slots[2].clone()),
    ];
    let listed = queue_of(&s, channel).await;
    let normalised: Vec<(String, DateTime<Utc>)> =
        listed.iter().map(|(e, t)| (e.clone(), at(t))).collect();
    let expected: Vec<(String, DateTime<Utc>)> =
        packed.iter().map(|(e, t)| (e.clone(), at(t))).collect();
    assert_eq!(normalised, expected);
    // The entry moved with its publish.
    let (status, saved) = s
        .app
        .get_json(s.user, &format!("/v1/calendars/{}", s.calendar))
        .await;
    assert_eq!(status, 200, "{saved}");
    let moved = saved["data"]["entries"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["id"] == ids[3].to_string())
        .unwrap();
    assert_eq!(at(moved["scheduledAt"].as_str().unwrap()), at(&slots[2]));

    // Another user's channel is not found.
    let (other, _) = s.another_user().await;
    let (status, _) = s
        .app
        .send_json(
            Method::POST,
            other,
            "/v1/queue/pack",
            &json!({ "channelId": channel }),
        )
        .await;
    assert_eq!(status, 404);
    let (status, _) = s
        .app
        .get_json(other, &format!("/v1/queue?channelId={channel}"))
        .await;
    assert_eq!(status, 404);
}

#[tokio::test]
async fn two_api_processes_queueing_at_once_never_share_a_slot() {
    let mut s = setup().await;
    let replica = s.app.start_api_replica().await;
    let channel = s.connect_tiktok().await;
    set_slots(
        &s,
        channel,
        "UTC",
        json!([{ "weekday": "mon", "time": "09:00" }, { "weekday": "thu", "time": "15:00" }]),
    )
    .await;
    let ids = entries(&s, 16).await;
    let token = s.app.token(s.user);
    let send = |base: String, batch: Vec<Uuid>| {
        let s = &s;
        let token = token.clone();
        async move {
            let body = json!({ "calendarId": s.calendar, "notBefore": "now", "entryIds": batch });
            s.app
                .request_json(
                    Method::POST,
                    format!("{base}/v1/queue"),
                    Some(&token),
                    Some(&body),
                )
                .await
        }
    };
    // Eight requests of two entries, half through each process, all at once.
    let requests = ids.chunks(2).enumerate().map(|(n, batch)| {
        let base = if n % 2 == 0 {
            s.app.address.clone()
        } else {
            replica.clone()
        };
        send(base, batch.to_vec())
    });
    let answers = futures::future::join_all(requests).await;
    for (status, answer) in &answers {
        assert_eq!(*status, 200, "{answer}");
        assert_eq!(answer["data"]["refused"], json!([]), "{answer}");
    }
    let listed = queue_of(&s, channel).await;
    assert_eq!(listed.len(), 16);
    let mut times: Vec<DateTime<Utc>> = listed.iter().map(|(_, t)| at(t)).collect();
    let in_order = times.clone();
    times.dedup();
    assert_eq!(times.len(), 16, "two entries share a slot: {listed:?}");
    assert_eq!(times, in_order);
    // And they are the channel's next sixteen slots, none skipped.
    for pair in times.windows(2) {
        let gap = pair[1] - pair[0];
        assert!(
            gap == chrono::Duration::hours(78) || gap == chrono::Duration::hours(90),
            "{pair:?}"
        );
    }
}

#[tokio::test]
async fn an_ambiguous_channel_refuses_its_entries_while_the_others_are_queued() {
    let s = setup().await;
    let (tiktok, instagram) = s.connect_both().await;
    let other_tiktok = s
        .connect("tiktok", "open-id-2", "tt-token-2", None, 86_400)
        .await;
    let daily =
        json!([{ "weekday": "tue", "time": "10:00" }, { "weekday": "sat", "time": "10:00" }]);
    for channel in [tiktok, instagram, other_tiktok] {
        set_slots(&s, channel, "UTC", daily.clone()).await;
    }
    let video = s.entry(Entry::on("tiktok", "Steeping times")).await;
    let image = s.entry(Entry::on("instagram", "Matcha notes")).await;
    let answer = queue_entries(
        &s,
        &json!({ "calendarId": s.calendar, "notBefore": "now", "entryIds": [video, image] }),
    )
    .await;
    assert_eq!(answer["queued"].as_array().unwrap().len(), 1, "{answer}");
    assert_eq!(answer["queued"][0]["entryId"], image.to_string());
    assert_eq!(answer["queued"][0]["channelId"], instagram.to_string());
    assert_eq!(answer["refused"].as_array().unwrap().len(), 1, "{answer}");
    assert_eq!(answer["refused"][0]["entryId"], video.to_string());
    assert_eq!(answer["refused"][0]["code"], "CHANNEL_AMBIGUOUS");
    assert_eq!(
        answer["refused"][0]["message"],
        "2 TikTok channels are connected: choose one with `channels`"
    );
    // Chosen, it is queued on that one.
    let chosen = queue_entries(
        &s,
        &json!({ "calendarId": s.calendar, "notBefore": "now", "entryIds": [video], "channels": [other_tiktok] }),
    )
    .await;
    assert_eq!(
        chosen["queued"][0]["channelId"],
        other_tiktok.to_string(),
        "{chosen}"
    );
    assert_eq!(queue_of(&s, other_tiktok).await.len(), 1);
    assert!(queue_of(&s, tiktok).await.is_empty());

    // A channel without slots, and one not connected, are said so.
    let linkedin = s.entry(Entry::on("linkedin", "Tea and work")).await;
    let answer = queue_entries(
        &s,
        &json!({ "calendarId": s.calendar, "notBefore": "now", "entryIds": [linkedin] }),
    )
    .await;
    assert_eq!(
        answer["refused"][0]["code"], "CHANNEL_NOT_CONNECTED",
        "{answer}"
    );
    s.update_channel(instagram, "slots = '[]'").await;
    let another = s.entry(Entry::on("instagram", "Second flush")).await;
    let answer = queue_entries(
        &s,
        &json!({ "calendarId": s.calendar, "notBefore": "now", "entryIds": [another] }),
    )
    .await;
    assert_eq!(answer["refused"][0]["code"], "QUEUE_NO_SLOTS", "{answer}");
    assert_eq!(
        answer["refused"][0]["message"],
        "the Instagram channel has no posting slots: set them on the channel first"
    );
}

#[tokio::test]
async fn a_write_key_cannot_queue_and_a_publish_key_can() {
    let s = setup().await;
    let channel = s.connect_tiktok().await;
    set_slots(
        &s,
        channel,
        "UTC",
        json!([{ "weekday": "wed", "time": "08:00" }]),
    )
    .await;
    let entry = s.entry(Entry::on("tiktok", "Cold brew")).await;
    let body = json!({ "calendarId": s.calendar, "notBefore": "now", "entryIds": [entry] });
    let (write, _) = s.app.key_with(s.user, &["read", "write"]).await;
    let (status, refused) = s
        .app
        .with_key(
            Method::POST,
            &s.app.address,
            "/v1/queue",
            &write,
            Some(&body),
        )
        .await;
    assert_eq!(status, 403, "{refused}");
    assert_eq!(refused["error"]["code"], "INSUFFICIENT_SCOPE");
    assert_eq!(refused["error"]["details"]["scope"], "publish");
    assert!(queue_of(&s, channel).await.is_empty());
    let (publish, _) = s.app.key_with(s.user, &["publish"]).await;
    let (status, queued) = s
        .app
        .with_key(
            Method::POST,
            &s.app.address,
            "/v1/queue",
            &publish,
            Some(&body),
        )
        .await;
    assert_eq!(status, 200, "{queued}");
    assert_eq!(queue_of(&s, channel).await.len(), 1);
}
