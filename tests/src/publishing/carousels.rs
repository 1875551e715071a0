//! The platform contract's carousel and first-comment cases, run over every registered
//! platform whose catalogue says it has them (`carousel`, `firstComment`), each against its
//! fake: a post of the platform's most media goes out once with every medium in order, one
//! more (or photos with a video where it does not mix them) is refused by the dry run at the
//! field, and a lost answer settles without a second post; a first comment goes under the
//! post once, a refused one leaves the post published with the reason, a lost one is never
//! sent again, and a channel connected without the permission commenting needs is told to
//! connect again.

use std::collections::HashMap;

use almanac_publishing::platforms::BUILT_IN;
use reqwest::Method;
use serde_json::{Value, json};
use uuid::Uuid;

use super::contract::{catalogue, connect, entry, lost_answer_of, posts, setup};
use super::{Entry, Setup};
use crate::media::{mp4, multipart, png};

/// The most media an entry names (the most any platform takes in one post).
const ENTRY_MEDIA_MAX: usize = 35;

/// `count` PNGs uploaded, each a different size of file; their ids, in order.
async fn uploaded(s: &Setup, count: usize) -> Vec<String> {
    let mut ids = Vec::with_capacity(count);
    for n in 0..count {
        let body = multipart(
            &format!("slide-{n}.png"),
            "image/png",
            &png(40, 20, 13 * n),
            None,
        );
        let (status, answer) = s.app.upload(s.user, body).await;
        assert_eq!(status, 201, "{answer}");
        ids.push(answer["data"]["id"].as_str().unwrap().to_owned());
    }
    ids
}

/// A video uploaded; its id.
async fn uploaded_video(s: &Setup) -> String {
    let (status, answer) = s
        .app
        .upload(s.user, multipart("clip.mp4", "video/mp4", &mp4(), None))
        .await;
    assert_eq!(status, 201, "{answer}");
    answer["data"]["id"].as_str().unwrap().to_owned()
}

/// An entry of `platform` naming `media` (uploads' ids, in order); its id.
async fn entry_with(s: &Setup, platform: &'static str, caption: &str, media: &[String]) -> Uuid {
    let entry = Entry {
        format: "carousel",
        media: None,
        ..Entry::on(platform, caption)
    };
    let id = s.entry(entry).await;
    sqlx::query("update calendar_entries set media_ids = $1::uuid[] where id = $2")
        .bind(media)
        .bind(id)
        .execute(&s.app.db)
        .await
        .unwrap();
    id
}

/// The dry run of `entry` on `channel`: its intent.
async fn dry_run(s: &Setup, entry: Uuid, channel: Uuid) -> Value {
    let (status, dry) = s
        .publish(json!({ "entryIds": [entry], "channels": [channel] }))
        .await;
    assert_eq!(status, 200, "{dry}");
    dry["data"]["intents"][0].clone()
}

/// The refusal codes a dry run's intent lists at `field`.
fn refused_at(intent: &Value, field: &str) -> Vec<String> {
    intent["error"]["problems"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|p| p["field"] == field)
        .map(|p| p["code"].as_str().unwrap().to_owned())
        .collect()
}

/// Each medium the fake received for `posted`, as the intent's sent post names it: the
/// address it fetches, or the length of the bytes Almanac serves there for a platform
/// sent the bytes.
async fn as_received(sent: &Value, received: &[String]) -> Vec<String> {
    let items = sent["items"].as_array().unwrap();
    let mut expected = Vec::with_capacity(items.len());
    for (item, got) in items.iter().zip(received) {
        let url = item["url"].as_str().unwrap();
        if got.starts_with("bytes:") {
            let bytes = reqwest::get(url).await.unwrap().bytes().await.unwrap();
            expected.push(almanac_publishing::sandbox::bytes_named(bytes.len()));
        } else {
            expected.push(url.to_owned());
        }
    }
    expected
}

/// A post of the platform's most media is sent once, with every medium in order.
async fn most_media(s: &Setup, platform: &'static str, channel: Uuid, media: &[String]) -> usize {
    let sent = s.fake.publishing_calls();
    let entry = entry_with(s, platform, &format!("The {platform} carousel"), media).await;
    let dry = dry_run(s, entry, channel).await;
    assert_eq!(dry["status"], "dry_run", "{platform}: {dry}");
    assert_eq!(
        s.fake.publishing_calls(),
        sent,
        "{platform}: a dry run sent"
    );
    let id = s.publish_now(entry, channel).await;
    let published = s.settled(&id, "published").await;
    let out: Vec<_> = s
        .fake
        .posts()
        .into_iter()
        .filter(|p| p.platform == platform)
        .collect();
    assert_eq!(out.len(), 1, "{platform}");
    let sent_post = &published["payload"]["sent"];
    let named: Vec<&str> = sent_post["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|item| item["upload"]["id"].as_str().unwrap())
        .collect();
    assert_eq!(named, media, "{platform}: the uploads in the entry's order");
    assert_eq!(
        out[0].media.len(),
        media.len(),
        "{platform}: {:?}",
        out[0].media
    );
    assert_eq!(
        out[0].media,
        as_received(sent_post, &out[0].media).await,
        "{platform}: every medium, in order"
    );
    s.tick("2030-01-07T10:00:00Z").await;
    assert_eq!(posts(s, platform), 1, "{platform}: sent again");
    s.fake.publishing_calls() - sent
}

/// One medium over the platform's most, and photos with a video where it does not mix
/// them, are refused by the dry run at the field; nothing is sent.
async fn refused_media(
    s: &Setup,
    platform: &'static str,
    channel: Uuid,
    about: &Value,
    media: &[String],
    video: &str,
) {
    let sent = s.fake.publishing_calls();
    if media.len() > ENTRY_MEDIA_MAX {
        // The platform takes as many as an entry holds: one more is refused at the entry.
        let entry = entry_with(
            s,
            platform,
            &format!("Too many for {platform}"),
            &media[..1],
        )
        .await;
        let path = format!("/v1/calendars/{}/entries/{entry}", s.calendar);
        let (status, refused) = s
            .app
            .send_json(Method::PATCH, s.user, &path, &json!({ "mediaIds": media }))
            .await;
        assert_eq!(status, 400, "{platform}: {refused}");
        assert_eq!(refused["error"]["code"], "VALIDATION_FAILED", "{refused}");
        assert_eq!(
            refused["error"]["details"]["field"], "mediaIds",
            "{refused}"
        );
    } else {
        let entry = entry_with(s, platform, &format!("Too many for {platform}"), media).await;
        let over = dry_run(s, entry, channel).await;
        assert_eq!(over["status"], "failed", "{platform}: {over}");
        assert_eq!(
            refused_at(&over, "mediaIds"),
            ["TOO_MANY_MEDIA"],
            "{platform}: {over}"
        );
    }
    if about["carousel"]["mixed"] == false {
        let mixed = [media[0].clone(), video.to_owned()];
        let entry = entry_with(s, platform, &format!("Mixed on {platform}"), &mixed).await;
        let refused = dry_run(s, entry, channel).await;
        let takes_video = about["mediaKinds"]
            .as_array()
            .unwrap()
            .contains(&json!("video"));
        let (field, code) = match takes_video {
            true => ("mediaIds", "MEDIA_MIXED"),
            // A platform taking no video refuses the video itself.
            false => ("media", "MEDIA_FORMAT_UNSUPPORTED"),
        };
        assert_eq!(refused_at(&refused, field), [code], "{platform}: {refused}");
    }
    assert_eq!(
        s.fake.publishing_calls(),
        sent,
        "{platform}: a refusal sent"
    );
}

/// The platform applies the carousel and its answer is lost: settled by reading as its
/// particulars say, the calls a carousel takes (`calls`) made once, one post more.
async fn lost_carousel(
    s: &Setup,
    (platform, channel): (&'static str, Uuid),
    media: &[String],
    calls: usize,
) {
    let entry = entry_with(s, platform, &format!("The lost {platform} carousel"), media).await;
    lost_answer_of(s, (platform, channel), entry, calls).await;
}

/// The registered platforms whose catalogue entry has `has` (in the registry's order).
fn platforms_with(
    catalogue: &HashMap<String, Value>,
    has: fn(&Value) -> bool,
) -> Vec<&'static str> {
    BUILT_IN
        .iter()
        .map(|r| r.platform.as_str())
        .filter(|name| has(&catalogue[*name]))
        .collect()
}

/// Every platform with a carousel sends its most media once and in order, refuses one more
/// (and a video among photos where it does not mix them) in the dry run, and settles a lost
/// answer without a second carousel.
#[tokio::test]
async fn every_platform_with_a_carousel_sends_its_most_media_once_in_order() {
    let s = setup().await;
    let catalogue = catalogue(&s).await;
    let with = platforms_with(&catalogue, |about| about["carousel"].is_object());
    assert_eq!(
        with,
        [
            "tiktok",
            "instagram",
            "linkedin",
            "bluesky",
            "threads",
            "facebook"
        ]
    );
    let most = with
        .iter()
        .map(|name| catalogue[*name]["carousel"]["maxItems"].as_u64().unwrap() as usize)
        .max()
        .unwrap();
    let photos = uploaded(&s, most + 1).await;
    let video = uploaded_video(&s).await;
    for platform in with {
        let about = &catalogue[platform];
        let max = about["carousel"]["maxItems"].as_u64().unwrap() as usize;
        let channel = connect(&s, platform, &about["connect"]).await;
        let calls = most_media(&s, platform, channel, &photos[..max]).await;
        refused_media(&s, platform, channel, about, &photos[..=max], &video).await;
        lost_carousel(&s, (platform, channel), &photos[..max], calls).await;
    }
    // A platform without carousels posts the first medium, and the dry run says so.
    let channel = connect(&s, "youtube", &catalogue["youtube"]["connect"]).await;
    let videos = [video.clone(), uploaded_video(&s).await];
    let entry = entry_with(&s, "youtube", "Two videos", &videos).await;
    let dry = dry_run(&s, entry, channel).await;
    assert_eq!(dry["status"], "dry_run", "{dry}");
    let note = &dry["payload"]["notes"][0];
    assert_eq!(
        (&note["code"], &note["named"]),
        (&json!("FIRST_MEDIA_ONLY"), &json!(2)),
        "{dry}"
    );
    assert_eq!(
        dry["payload"]["post"]["items"].as_array().map(Vec::len),
        Some(1),
        "{dry}"
    );
}

/// An entry of the platform's usual post with `comment` as its first comment; its id.
async fn commented_entry(s: &Setup, platform: &'static str, caption: &str, comment: &str) -> Uuid {
    let id = entry(s, platform, caption).await;
    sqlx::query("update calendar_entries set first_comment = $1 where id = $2")
        .bind(comment)
        .bind(id)
        .execute(&s.app.db)
        .await
        .unwrap();
    id
}

/// The comments the platform's fake took.
fn comments(s: &Setup, platform: &str) -> Vec<almanac_publishing::sandbox::Commented> {
    s.fake.with(|f| {
        f.comments
            .iter()
            .filter(|c| c.platform == platform)
            .cloned()
            .collect()
    })
}

/// A post with a first comment, published: the intent once settled.
async fn published_with(
    s: &Setup,
    platform: &'static str,
    channel: Uuid,
    caption: &str,
    comment: &str,
) -> Value {
    let entry = commented_entry(s, platform, caption, comment).await;
    let id = s.publish_now(entry, channel).await;
    s.settled(&id, "published").await
}

/// The first comment goes under the post once; a refused one leaves the post published with
/// the reason; a lost one is kept `unknown` and never sent again.
async fn first_comment(s: &Setup, platform: &'static str, channel: Uuid) {
    let posted = published_with(
        s,
        platform,
        channel,
        "With a comment",
        "More at almanac.example #launch",
    )
    .await;
    let made = comments(s, platform);
    assert_eq!(made.len(), 1, "{platform}: {made:?}");
    assert_eq!(made[0].text, "More at almanac.example #launch");
    assert_eq!(
        made[0].post_id,
        posted["remotePostId"].as_str().unwrap(),
        "{platform}"
    );
    assert_eq!(
        posted["firstComment"],
        json!({ "status": "sent", "remoteId": made[0].id }),
        "{platform}: {posted}"
    );

    s.fake.with(|f| f.refuse_comment = true);
    let refused = published_with(s, platform, channel, "Comments refused", "Not taken").await;
    assert_eq!(
        refused["firstComment"]["status"], "failed",
        "{platform}: {refused}"
    );
    let reason = refused["firstComment"]["error"]["message"]
        .as_str()
        .unwrap();
    assert!(!reason.is_empty(), "{platform}: {refused}");
    assert_eq!(comments(s, platform).len(), 1, "{platform}");

    s.fake.with(|f| f.drop_after_comment = true);
    let lost = published_with(s, platform, channel, "Comment lost", "Lost on the way").await;
    assert_eq!(
        lost["firstComment"]["status"], "unknown",
        "{platform}: {lost}"
    );
    s.tick("2030-01-07T10:00:00Z").await;
    assert_eq!(comments(s, platform).len(), 2, "{platform}: sent again");
    assert_eq!(posts(s, platform), 3, "{platform}: a post sent again");
}

/// A channel whose grant lacks the permission commenting needs (`needs`, as it was
/// connected before Almanac asked for it) refuses a first comment in the dry run with the
/// reason, and says so itself.
async fn scope_missing(s: &Setup, platform: &'static str, channel: Uuid, needs: &str) {
    let granted: Option<String> =
        sqlx::query_scalar("select scope from platform_accounts where id = $1")
            .bind(channel)
            .fetch_one(&s.app.db)
            .await
            .unwrap();
    // What it granted, where its platform lists it (Threads' grant does not: any recorded
    // grant without the permission stands for an older connection).
    let granted = granted.unwrap_or_else(|| format!("{platform}_basic,{needs}"));
    assert!(granted.contains(needs), "{platform}: {granted}");
    let without: Vec<&str> = granted
        .split([',', ' '])
        .filter(|scope| !scope.ends_with(needs))
        .collect();
    sqlx::query("update platform_accounts set scope = $1 where id = $2")
        .bind(without.join(","))
        .bind(channel)
        .execute(&s.app.db)
        .await
        .unwrap();
    let entry = commented_entry(s, platform, "No permission", "Cannot go").await;
    let refused = dry_run(s, entry, channel).await;
    assert_eq!(refused["status"], "failed", "{platform}: {refused}");
    assert_eq!(
        refused_at(&refused, "firstComment"),
        ["FIRST_COMMENT_SCOPE_MISSING"],
        "{platform}: {refused}"
    );
    let reason = refused["error"]["message"].as_str().unwrap();
    assert!(
        reason.contains(needs) && reason.contains("connect again to post first comments"),
        "{reason}"
    );
    let (_, channels) = s.app.get_json(s.user, "/v1/channels").await;
    let shown = channels["data"]["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["id"] == channel.to_string())
        .unwrap()
        .clone();
    assert_eq!(shown["firstCommentProblem"], reason, "{platform}: {shown}");
}

/// The longest comment a platform takes, where it is shorter than an entry's first comment
/// may be (2,200 characters).
fn comment_max(platform: &str) -> Option<usize> {
    match platform {
        "threads" => Some(500),
        "bluesky" => Some(300),
        "linkedin" => Some(1_250),
        _ => None,
    }
}

/// A first comment at the platform's most passes the dry run; one character more is refused
/// at `firstComment`.
async fn comment_length(s: &Setup, platform: &'static str, channel: Uuid, max: usize) {
    let at_most = commented_entry(s, platform, "Long comment", &"a".repeat(max)).await;
    let passed = dry_run(s, at_most, channel).await;
    assert_eq!(passed["status"], "dry_run", "{platform}: {passed}");
    let over = commented_entry(s, platform, "Too long a comment", &"a".repeat(max + 1)).await;
    let refused = dry_run(s, over, channel).await;
    assert_eq!(
        refused_at(&refused, "firstComment"),
        ["FIRST_COMMENT_TOO_LONG"],
        "{platform}: {refused}"
    );
}

/// The permission a platform's comments need beyond publishing's, where it grants them one
/// by one.
fn comment_scope(platform: &str) -> Option<&'static str> {
    match platform {
        "instagram" => Some("instagram_business_manage_comments"),
        "threads" => Some("threads_manage_replies"),
        "facebook" => Some("pages_manage_engagement"),
        "youtube" => Some("youtube.force-ssl"),
        _ => None,
    }
}

/// Every platform with first comments sends one under the post once, keeps a refused or
/// lost one without resending the post, and refuses one its channel has no permission for;
/// a platform without them leaves the comment out and says so.
#[tokio::test]
async fn every_platform_with_first_comments_sends_one_after_the_post() {
    let s = setup().await;
    let catalogue = catalogue(&s).await;
    let with = platforms_with(&catalogue, |about| about["firstComment"] == true);
    assert_eq!(
        with,
        [
            "instagram",
            "linkedin",
            "bluesky",
            "threads",
            "facebook",
            "youtube"
        ]
    );
    for platform in with {
        let channel = connect(&s, platform, &catalogue[platform]["connect"]).await;
        first_comment(&s, platform, channel).await;
        if let Some(max) = comment_max(platform) {
            comment_length(&s, platform, channel, max).await;
        }
        if let Some(needs) = comment_scope(platform) {
            scope_missing(&s, platform, channel, needs).await;
        }
    }
    let channel = connect(&s, "tiktok", &catalogue["tiktok"]["connect"]).await;
    let entry = commented_entry(&s, "tiktok", "No comments here", "Left out").await;
    let dry = dry_run(&s, entry, channel).await;
    assert_eq!(dry["status"], "dry_run", "{dry}");
    assert_eq!(
        dry["payload"]["notes"][0]["code"], "FIRST_COMMENT_LEFT_OUT",
        "{dry}"
    );
    let id = s.publish_now(entry, channel).await;
    let published = s.settled(&id, "published").await;
    assert!(published.get("firstComment").is_none(), "{published}");
    assert_eq!(comments(&s, "tiktok").len(), 0);
}

/// A video of `duration_ms` showing `width`×`height`, uploaded; its id.
async fn video_of(s: &Setup, duration_ms: u32, width: u32, height: u32) -> String {
    let bytes = crate::media::video(duration_ms, width, height);
    let (status, answer) = s
        .app
        .upload(s.user, multipart("clip.mp4", "video/mp4", &bytes, None))
        .await;
    assert_eq!(status, 201, "{answer}");
    assert_eq!(answer["data"]["durationMs"], duration_ms, "{answer}");
    answer["data"]["id"].as_str().unwrap().to_owned()
}

/// Every platform whose catalogue states video limits takes a video at them and refuses,
/// in the dry run and at `mediaIds`, one a second longer, half a second shorter or a pixel
/// wider; nothing is sent.
#[tokio::test]
async fn every_platform_holds_videos_to_the_limits_its_catalogue_states() {
    let s = setup().await;
    let catalogue = catalogue(&s).await;
    let with = platforms_with(&catalogue, |about| about["video"].is_object());
    let mut sorted = with.clone();
    sorted.sort_unstable();
    assert_eq!(
        sorted,
        ["facebook", "instagram", "threads", "tiktok", "youtube"]
    );
    assert_eq!(
        catalogue["instagram"]["video"],
        json!({ "minDurationMs": 3_000, "maxDurationMs": 900_000, "maxWidth": 1_920 })
    );
    let sent = s.fake.publishing_calls();
    for platform in with {
        let limits = &catalogue[platform]["video"];
        let channel = connect(&s, platform, &catalogue[platform]["connect"]).await;
        let longest = limits["maxDurationMs"].as_u64().unwrap() as u32;
        let shortest = limits["minDurationMs"].as_u64().unwrap() as u32;
        let widest = limits["maxWidth"].as_u64().map(|w| w as u32);
        let width = widest.unwrap_or(1_080);
        let mut cases = vec![
            (longest, width, None),
            (longest + 1_000, width, Some("VIDEO_TOO_LONG")),
        ];
        if shortest > 0 {
            cases.push((shortest, width, None));
            cases.push((shortest - 500, width, Some("VIDEO_TOO_SHORT")));
        }
        if let Some(widest) = widest {
            cases.push((longest, widest + 1, Some("VIDEO_TOO_WIDE")));
        }
        for (duration_ms, width, refused) in cases {
            let video = video_of(&s, duration_ms, width, 1_920).await;
            let caption = format!("{platform}: {duration_ms} ms, {width} px");
            let entry = entry_with(&s, platform, &caption, &[video]).await;
            let dry = dry_run(&s, entry, channel).await;
            assert_eq!(
                refused_at(&dry, "mediaIds"),
                Vec::from_iter(refused.map(String::from)),
                "{caption}: {dry}"
            );
        }
    }
    assert_eq!(s.fake.publishing_calls(), sent, "a dry run sent");
}
