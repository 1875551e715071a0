//! The media store's `s3://` form, against moto's S3 server (a local S3-compatible server,
//! `deploy/dev/test-deps.sh` installs it): an upload lands as its objects under the
//! prefix, is served back by its address, an upload refused past the limit leaves neither
//! an object nor an unfinished multipart upload, and a delete removes both objects.

use std::{process::Stdio, time::Duration};

use tokio::process::{Child, Command};
use uuid::Uuid;

use super::{multipart, png};
use crate::helpers::{TestOptions, eventually, spawn_app_with};

const BUCKET: &str = "almanac-media";

/// moto's server on a port of its own, killed with the test.
struct Moto {
    url: String,
    _child: Child,
}

async fn moto() -> Moto {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let binary = dirs_home().join(".cache/almanac-moto-venv/bin/moto_server");
    let child = Command::new(&binary)
        .args(["-H", "127.0.0.1", "-p", &port.to_string()])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .unwrap_or_else(|e| panic!("{} starts (`make test` installs it): {e}", binary.display()));
    let url = format!("http://127.0.0.1:{port}");
    let probe = url.clone();
    eventually(Duration::from_secs(30), "moto to answer", || {
        let probe = probe.clone();
        async move { reqwest::get(&probe).await.ok().map(drop) }
    })
    .await;
    // moto takes unsigned requests: the bucket is made straight.
    let made = reqwest::Client::new()
        .put(format!("{url}/{BUCKET}"))
        .send()
        .await
        .unwrap();
    assert!(made.status().is_success(), "{}", made.status());
    Moto { url, _child: child }
}

fn dirs_home() -> std::path::PathBuf {
    std::path::PathBuf::from(std::env::var_os("HOME").expect("HOME is set"))
}

/// The bucket's keys, and its multipart uploads not finished.
async fn bucket(moto: &Moto) -> (Vec<String>, usize) {
    let keys = reqwest::get(format!("{}/{BUCKET}?list-type=2", moto.url))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let uploads = reqwest::get(format!("{}/{BUCKET}?uploads", moto.url))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let mut listed: Vec<String> = keys
        .split("<Key>")
        .skip(1)
        .filter_map(|rest| rest.split_once("</Key>").map(|(key, _)| key.to_owned()))
        .collect();
    listed.sort();
    (listed, uploads.matches("<Upload>").count())
}

#[tokio::test]
async fn media_in_an_s3_bucket_is_stored_served_refused_cleanly_and_deleted() {
    let moto = moto().await;
    let app = spawn_app_with(TestOptions {
        env: vec![
            ("MEDIA_STORE", format!("s3://{BUCKET}/uploads")),
            ("S3_ENDPOINT", moto.url.clone()),
            ("S3_REGION", "us-east-1".into()),
            ("S3_ACCESS_KEY_ID", "test".into()),
            ("S3_SECRET_ACCESS_KEY", "test".into()),
        ],
        ..Default::default()
    })
    .await;
    let user = Uuid::now_v7();
    let picture = png(40, 20, 0);
    let (status, answer) = app
        .upload(user, multipart("cat.png", "image/png", &picture, None))
        .await;
    assert_eq!(status, 201, "{answer}");
    let id = answer["data"]["id"].as_str().unwrap().to_owned();
    assert_eq!(
        bucket(&moto).await,
        (
            vec![
                format!("uploads/{user}/{id}"),
                format!("uploads/{user}/{id}.jpg")
            ],
            0
        )
    );
    let served = reqwest::get(answer["data"]["url"].as_str().unwrap())
        .await
        .unwrap();
    assert_eq!(served.status(), 200);
    assert_eq!(served.bytes().await.unwrap().to_vec(), picture);

    // Past the limit: refused, and nothing left behind in the bucket.
    let mut huge = png(4, 4, 0);
    huge.resize(9 * 1024 * 1024, 0);
    let (status, answer) = app
        .upload(user, multipart("huge.png", "image/png", &huge, None))
        .await;
    assert_eq!(
        (status, answer["error"]["code"].clone()),
        (413, "MEDIA_TOO_LARGE".into())
    );
    assert_eq!(bucket(&moto).await.0.len(), 2);
    assert_eq!(
        bucket(&moto).await.1,
        0,
        "no multipart upload left unfinished"
    );

    assert_eq!(app.delete(user, &format!("/v1/media/{id}")).await, 204);
    assert_eq!(bucket(&moto).await, (Vec::new(), 0));
}
