//! What worked (issue 58), its first part: posts' readings kept once each (an empty one
//! kept as empty), a channel's measured posts read back by their 7-day reading, and its
//! best times from them, as the formula gives them by hand.

use almanac_shared::{
    domain::analytics::{Measured, Reading, from_history},
    store::{analytics, user_tx},
};
use chrono::{DateTime, Duration, Utc, Weekday};
use uuid::Uuid;

use crate::publishing::setup;

/// A post published on `channel` at `at`; its intent id.
async fn published(s: &crate::publishing::Setup, channel: Uuid, at: DateTime<Utc>) -> Uuid {
    let id = Uuid::now_v7();
    sqlx::query(
        "insert into publish_intents (id, user_id, calendar_id, channel, account, mode, dry_run,
             timing, publish_at, status, published_at)
         values ($1, $2, $3, 'tiktok', $4, 'publish', false, 'scheduled', $5, 'published', $5)",
    )
    .bind(id)
    .bind(s.user)
    .bind(s.calendar)
    .bind(channel)
    .bind(at)
    .execute(&s.app.db)
    .await
    .unwrap();
    id
}

fn reading(views: u64, likes: u64) -> Reading {
    Reading {
        views: Some(views),
        likes: Some(likes),
        comments: Some(0),
        ..Default::default()
    }
}

#[tokio::test]
async fn readings_are_kept_once_and_best_times_follow_the_seven_day_ones() {
    let s = setup().await;
    let channel = s.connect_tiktok().await;
    let monday: DateTime<Utc> = "2030-01-07T08:00:00Z".parse().unwrap();
    let mut posts = Vec::new();
    for n in 0..10 {
        // Mondays 08:00 UTC, then Wednesdays 19:00 UTC.
        let at = if n < 5 {
            monday + Duration::weeks(n)
        } else {
            monday + Duration::weeks(n - 5) + Duration::days(2) + Duration::hours(11)
        };
        posts.push((published(&s, channel, at).await, at));
    }
    let keep = |intent: Uuid, kind: &'static str, metrics: Option<Reading>| analytics::NewReading {
        intent_id: intent,
        user_id: s.user,
        account: Some(channel),
        reading: kind,
        metrics,
        reach: None,
        followers: None,
    };
    for (n, (intent, _)) in posts.iter().enumerate() {
        let (views, likes) = if n < 5 { (1_000, 80) } else { (2_000, 20) };
        assert!(
            analytics::record(&s.app.db, &keep(*intent, "1h", Some(reading(10, 1))))
                .await
                .unwrap()
        );
        // Instagram-like lag: the day's reading came back empty, and is kept so.
        assert!(
            analytics::record(&s.app.db, &keep(*intent, "24h", None))
                .await
                .unwrap()
        );
        assert!(
            analytics::record(&s.app.db, &keep(*intent, "7d", Some(reading(views, likes))))
                .await
                .unwrap()
        );
        // Each scheduled reading once; manual ones as often as asked.
        assert!(
            !analytics::record(&s.app.db, &keep(*intent, "7d", Some(reading(1, 1))))
                .await
                .unwrap()
        );
        assert!(
            !analytics::record(&s.app.db, &keep(*intent, "24h", None))
                .await
                .unwrap()
        );
    }
    assert!(
        analytics::record(&s.app.db, &keep(posts[0].0, "manual", Some(reading(5, 5))))
            .await
            .unwrap()
    );
    assert!(
        analytics::record(&s.app.db, &keep(posts[0].0, "manual", Some(reading(6, 6))))
            .await
            .unwrap()
    );
    let rows: i64 = sqlx::query_scalar("select count(*) from post_metrics where account = $1")
        .bind(channel)
        .fetch_one(&s.app.db)
        .await
        .unwrap();
    assert_eq!(rows, 32);
    let empty: i64 =
        sqlx::query_scalar("select count(*) from post_metrics where account = $1 and empty")
            .bind(channel)
            .fetch_one(&s.app.db)
            .await
            .unwrap();
    assert_eq!(empty, 10);

    // Read back as the owner: each post by its 7-day reading.
    let mut tx = user_tx(&s.app.db, s.user).await.unwrap();
    let measured = analytics::measured(&mut tx, channel).await.unwrap();
    tx.commit().await.unwrap();
    assert_eq!(measured.len(), 10);
    let measured: Vec<Measured> = measured
        .iter()
        .map(|row| {
            let r = row.reading();
            Measured {
                published_at: row.published_at,
                engagements: r.engagements(),
                reach: r.reach_base(None).unwrap(),
            }
        })
        .collect();
    assert_eq!(measured[0].engagements, 80);
    assert_eq!(measured[0].reach, 1_000);
    // Another user reads none of them.
    let (other, _) = s.another_user().await;
    let mut tx = user_tx(&s.app.db, other).await.unwrap();
    assert!(
        analytics::measured(&mut tx, channel)
            .await
            .unwrap()
            .is_empty()
    );
    tx.commit().await.unwrap();

    // By hand, in Madrid (UTC+1 in winter): m = (5·80 + 5·20) / (5·1000 + 5·2000) = 500 /
    // 15000; Monday 09:00 = (400 + 5m) / (5000 + 5); Wednesday 20:00 = (100 + 5m) / (10000 + 5).
    let cells = from_history(&measured, chrono_tz::Europe::Madrid).unwrap();
    let m = 500.0 / 15_000.0;
    assert_eq!((cells[0].weekday, cells[0].hour), (Weekday::Mon, 9));
    assert!((cells[0].rate - (400.0 + 5.0 * m) / 5_005.0).abs() < 1e-12);
    let last = cells.last().unwrap();
    assert_eq!((last.weekday, last.hour), (Weekday::Wed, 20));
    assert!((last.rate - (100.0 + 5.0 * m) / 10_005.0).abs() < 1e-12);
}
