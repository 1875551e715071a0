//! A queue like Buffer's (issue 84): two posts swapped exchange their times; a seeded
//! shuffle changes the order on the same times; posts taken out are not sent; a paused
//! queue sends nothing (no call reaches the platform) and, resumed, gives a post whose time
//! passed the next free slot; an entry planned next week waits for its day unless asked
//! for now; a LinkedIn member with a page queues as either.

use reqwest::Method;
use serde_json::{Value, json};
use uuid::Uuid;

use super::{at, entries, queue_entries, queue_of};
use crate::helpers::fake_platforms::{LI_MEMBER, LI_PAGE};
use crate::publishing::{Entry, Setup, evergreen::daily_slot, setup};

/// `POST /v1/queue/<action>` with `body`: the answer's data.
async fn act(s: &Setup, action: &str, body: Value) -> Value {
    let path = format!("/v1/queue/{action}");
    let (status, answer) = s.app.send_json(Method::POST, s.user, &path, &body).await;
    assert_eq!(status, 200, "{action}: {answer}");
    assert_eq!(answer["data"]["dryRun"], false, "{answer}");
    answer["data"].clone()
}

/// An entry's time as its calendar now says.
async fn scheduled_at(s: &Setup, entry: Uuid) -> String {
    let (_, saved) = s
        .app
        .get_json(s.user, &format!("/v1/calendars/{}", s.calendar))
        .await;
    saved["data"]["entries"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["id"] == entry.to_string())
        .map(|e| e["scheduledAt"].as_str().unwrap().to_owned())
        .unwrap()
}

/// Shuffled with a seed: another order, on the same times, each post once; the seed
/// repeats its order. The queue after.
async fn shuffled_on_the_same_times(
    s: &Setup,
    channel: Uuid,
    ids: &[Uuid],
) -> Vec<(String, String)> {
    let order =
        |listed: Vec<(String, String)>| listed.into_iter().map(|(e, _)| e).collect::<Vec<_>>();
    let id = |n: usize| ids[n].to_string();
    let before = queue_of(s, channel).await;
    act(s, "shuffle", json!({ "channelId": channel, "seed": 42 })).await;
    let after = queue_of(s, channel).await;
    assert_ne!(
        order(after.clone()),
        order(before.clone()),
        "the order changed"
    );
    let times = |listed: &[(String, String)]| listed.iter().map(|(_, t)| at(t)).collect::<Vec<_>>();
    assert_eq!(times(&after), times(&before));
    let mut sorted = order(after.clone());
    sorted.sort();
    let mut all: Vec<String> = (0..4).map(id).collect();
    all.sort();
    assert_eq!(sorted, all, "each post once");
    assert_eq!(
        almanac_publishing::posting_queue::actions::shuffled(4, 42),
        almanac_publishing::posting_queue::actions::shuffled(4, 42),
        "a seed repeats its order"
    );

    after
}

/// Taken out: its publish is cancelled, the entry stays; one not in the queue is said.
async fn taken_out(s: &Setup, channel: Uuid, gone: String, stranger: Uuid) {
    let removed = act(
        s,
        "remove",
        json!({ "channelId": channel, "entryIds": [gone, stranger] }),
    )
    .await;
    assert_eq!(removed["queued"].as_array().unwrap().len(), 3, "{removed}");
    assert_eq!(removed["refused"][0]["code"], "NOT_QUEUED");
    assert!(queue_of(s, channel).await.iter().all(|(e, _)| *e != gone));
    let (_, intents) = s
        .app
        .get_json(
            s.user,
            &format!("/v1/publish-intents?calendarId={}", s.calendar),
        )
        .await;
    let cancelled: Vec<&Value> = intents["data"]["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|i| i["entryId"] == gone.as_str())
        .collect();
    assert_eq!(cancelled.len(), 1);
    assert_eq!(cancelled[0]["status"], "cancelled", "{intents}");
}

/// Paused: at the first post's time nothing is sent, nothing reaches TikTok; a post whose
/// time passed meanwhile takes the next free slot on resume, and the first then goes.
async fn paused_then_resumed(s: &Setup, channel: Uuid) {
    let calls = s.fake.publishing_calls();
    act(s, "pause", json!({ "channelId": channel })).await;
    let (_, listed) = s
        .app
        .get_json(s.user, &format!("/v1/queue?channelId={channel}"))
        .await;
    assert_eq!(listed["data"]["pausedChannelIds"], json!([channel]));
    let first = queue_of(s, channel).await[0].1.clone();
    assert_eq!(s.tick(&first).await.dispatched, 0);
    assert_eq!(
        s.fake.publishing_calls(),
        calls,
        "a paused queue called the platform"
    );
    // A post whose time passed while it was paused takes the next free slot on resume.
    sqlx::query(
        "update publish_intents set publish_at = now() - interval '1 hour'
         where id = (select id from publish_intents where account = $1 and queued
                     and status = 'scheduled' order by publish_at limit 1)",
    )
    .bind(channel)
    .execute(&s.app.db)
    .await
    .unwrap();
    let resumed = act(s, "resume", json!({ "channelId": channel })).await;
    let (_, listed) = s
        .app
        .get_json(s.user, &format!("/v1/queue?channelId={channel}"))
        .await;
    assert_eq!(listed["data"]["pausedChannelIds"], json!([]));
    let now = chrono::Utc::now();
    let resumed_times: Vec<_> = resumed["queued"]
        .as_array()
        .unwrap()
        .iter()
        .map(|q| at(q["publishAt"].as_str().unwrap()))
        .collect();
    assert_eq!(resumed_times.len(), 3, "{resumed}");
    assert!(resumed_times.iter().all(|t| *t > now), "{resumed}");
    // Resumed, the first goes at its time.
    let (first, intent) = s.first_queued(channel).await;
    assert_eq!(s.tick(&first).await.dispatched, 1);
    s.settled(&intent, "published").await;
}

#[tokio::test]
async fn swapped_shuffled_removed_paused_and_resumed_queues_send_what_they_show() {
    let s = setup().await;
    let channel = s.connect_tiktok().await;
    daily_slot(&s, channel).await;
    let ids = entries(&s, 4).await;
    let queued = queue_entries(
        &s,
        &json!({ "calendarId": s.calendar, "notBefore": "now", "entryIds": ids }),
    )
    .await;
    assert_eq!(queued["queued"].as_array().unwrap().len(), 4, "{queued}");
    let slots: Vec<String> = queue_of(&s, channel)
        .await
        .into_iter()
        .map(|(_, t)| t)
        .collect();
    let id = |n: usize| ids[n].to_string();

    // Swapped: the first and the third exchange their times, entries and all.
    let swapped = act(
        &s,
        "swap",
        json!({ "channelId": channel, "entryIds": [ids[0], ids[2]] }),
    )
    .await;
    assert_eq!(swapped["refused"], json!([]));
    let order =
        |listed: Vec<(String, String)>| listed.into_iter().map(|(e, _)| e).collect::<Vec<_>>();
    assert_eq!(
        order(queue_of(&s, channel).await),
        [id(2), id(1), id(0), id(3)]
    );
    assert_eq!(at(&scheduled_at(&s, ids[0]).await), at(&slots[2]));
    assert_eq!(at(&scheduled_at(&s, ids[2]).await), at(&slots[0]));
    // One not in the queue: nothing moves, and it is said.
    let stranger = Uuid::now_v7();
    let refused = act(
        &s,
        "swap",
        json!({ "channelId": channel, "entryIds": [ids[0], stranger] }),
    )
    .await;
    assert_eq!(refused["refused"][0]["entryId"], stranger.to_string());
    assert_eq!(refused["refused"][0]["code"], "NOT_QUEUED");
    assert_eq!(
        order(queue_of(&s, channel).await),
        [id(2), id(1), id(0), id(3)]
    );

    let after = shuffled_on_the_same_times(&s, channel, &ids).await;
    taken_out(&s, channel, after[0].0.clone(), stranger).await;
    paused_then_resumed(&s, channel).await;

    // Another person's channel is not found, for every action.
    let (other, _) = s.another_user().await;
    for action in ["pack", "shuffle", "swap", "remove", "pause", "resume"] {
        let body = json!({ "channelId": channel, "entryIds": [ids[0], ids[1]] });
        let body = match action {
            "swap" | "remove" => body,
            _ => json!({ "channelId": channel }),
        };
        let path = format!("/v1/queue/{action}");
        let (status, answer) = s.app.send_json(Method::POST, other, &path, &body).await;
        assert_eq!(status, 404, "{action}: {answer}");
    }
}

#[tokio::test]
async fn an_entry_planned_next_week_waits_for_its_day_and_a_linkedin_member_queues_as_either() {
    let s = setup().await;
    let channel = s.connect_tiktok().await;
    daily_slot(&s, channel).await;
    // Planned for 7 January 2030: its first slot that day, unless asked for now.
    let planned = s.entry(Entry::on("tiktok", "Planned")).await;
    let waited = queue_entries(
        &s,
        &json!({ "calendarId": s.calendar, "entryIds": [planned] }),
    )
    .await;
    assert_eq!(
        at(waited["queued"][0]["publishAt"].as_str().unwrap()),
        at("2030-01-07T09:00:00Z"),
        "{waited}"
    );
    let soon = s.entry(Entry::on("tiktok", "Soon")).await;
    let now = queue_entries(
        &s,
        &json!({ "calendarId": s.calendar, "notBefore": "now", "entryIds": [soon] }),
    )
    .await;
    // After the queue's last post: the one waiting for January.
    let taken = at(now["queued"][0]["publishAt"].as_str().unwrap());
    assert_eq!(taken, at("2030-01-08T09:00:00Z"), "{now}");

    // A LinkedIn member who also has a page: each entry queued as the one chosen.
    let member = s
        .connect("linkedin", LI_MEMBER, "li-token", None, 5_184_000)
        .await;
    let page = s
        .connect("linkedin", LI_PAGE, "li-token", None, 5_184_000)
        .await;
    daily_slot(&s, member).await;
    daily_slot(&s, page).await;
    let linkedin = |caption| Entry {
        format: "text",
        media: None,
        ..Entry::on("linkedin", caption)
    };
    let as_page = s.entry(linkedin("As the page")).await;
    let as_member = s.entry(linkedin("As myself")).await;
    let either = s.entry(linkedin("As whom?")).await;
    for (entry, chosen) in [(as_page, page), (as_member, member)] {
        let body = json!({ "calendarId": s.calendar, "entryIds": [entry], "channels": [chosen] });
        let queued = queue_entries(&s, &body).await;
        assert_eq!(
            queued["queued"][0]["channelId"],
            chosen.to_string(),
            "{queued}"
        );
    }
    let unchosen = queue_entries(
        &s,
        &json!({ "calendarId": s.calendar, "entryIds": [either] }),
    )
    .await;
    assert_eq!(
        unchosen["refused"][0]["code"], "CHANNEL_AMBIGUOUS",
        "{unchosen}"
    );
    assert_eq!(queue_of(&s, page).await.len(), 1);
    assert_eq!(queue_of(&s, member).await.len(), 1);

    // Each channel's quota: the page's LinkedIn day (one post queued, none sent yet) and
    // TikTok's inbox, with room.
    let (status, page_quota) = s
        .app
        .get_json(s.user, &format!("/v1/channels/{page}/quota"))
        .await;
    assert_eq!(status, 200, "{page_quota}");
    let quota = &page_quota["data"];
    assert_eq!(
        (
            &quota["limit"],
            &quota["used"],
            &quota["counts"],
            &quota["per"]
        ),
        (&json!(150), &json!(0), &json!("posts"), &json!("account")),
        "{page_quota}"
    );
    let (_, room) = s
        .app
        .get_json(s.user, &format!("/v1/channels/{channel}/quota"))
        .await;
    assert_eq!(
        (&room["data"]["limit"], &room["data"]["used"]),
        (&json!(5), &json!(0)),
        "{room}"
    );
    assert_eq!(room["data"]["freesAt"], Value::Null);
    let (other, _) = s.another_user().await;
    let (status, _) = s
        .app
        .get_json(other, &format!("/v1/channels/{page}/quota"))
        .await;
    assert_eq!(status, 404);
}
