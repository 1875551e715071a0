//! The organic week's refusals (seed 003), probed once its brand, accounts and a run exist.

use serde_json::{Value, json};
use uuid::Uuid;

use super::{Probe, wait_succeeded};
use crate::helpers::TestApp;

/// Two instagram placements of `brand` on Tuesday 2027-03-02, two hours apart;
/// `platformAccountIds` names `account` when given.
pub(crate) fn request(brand: &str, account: Option<&str>) -> Value {
    let placement = |id: &str, hour: u32| {
        json!({ "placementId": id, "trendId": "probe_trend", "dayId": "2027-03-02",
                "scheduledAt": format!("2027-03-02T{hour}:00:00Z"), "platform": "instagram" })
    };
    let mut body = json!({ "brandProfileId": brand, "weekStart": "2027-03-01", "timezone": "UTC",
        "placements": [placement("p1", 10), placement("p2", 12)] });
    if let Some(account) = account {
        body["platformAccountIds"] = json!({ "instagram": account });
    }
    body
}

/// 422: a week that does not start on a Monday (any shape but `YYYY-MM-DD` is 400), and
/// what only a rule can judge in the library (an unknown zone, a URL that is not http).
async fn week_and_library_rule_refusals(probe: &Probe) {
    for (op, path) in [
        (
            "getOrganicWeek",
            "/api/organic/brands/probe_brand/weeks/2027-03-02",
        ),
        (
            "getOrganicWeekDraft",
            "/api/organic/brands/probe_brand/weeks/2027-02-30/draft",
        ),
        (
            "saveOrganicWeekDraft",
            "/api/organic/brands/probe_brand/weeks/2027-03-02/draft",
        ),
    ] {
        probe
            .expect(422, probe.call(op, &[]).path(path.into()))
            .await;
    }
    // 422: what only a rule can judge in the library.
    let zone = json!({ "name": "Z", "timezone": "Mars/Olympus" });
    probe
        .expect(422, probe.call("createBrand", &[]).json(zone.clone()))
        .await;
    let call = probe
        .call("updateBrand", &[])
        .path("/api/organic/brands/probe_brand".into())
        .json(zone);
    probe.expect(422, call).await;
    let ftp =
        json!({ "kind": "image", "title": "A", "tags": [], "url": "ftp://example.com/a.png" });
    probe
        .expect(422, probe.call("createAsset", &[]).json(ftp.clone()))
        .await;
    let call = probe
        .call("updateAsset", &[])
        .path("/api/organic/assets/probe_asset".into())
        .json(ftp);
    probe.expect(422, call).await;
}

/// Starts a generation that is accepted: it answers with its stream, of which only the
/// job id is read.
async fn start(app: &TestApp, user: Uuid, path: &str, body: Value, key: Option<&str>) -> Uuid {
    let mut request = app
        .client
        .post(app.url(path))
        .bearer_auth(app.token(user))
        .json(&body);
    if let Some(key) = key {
        request = request.header("Idempotency-Key", key);
    }
    let response = request.send().await.unwrap();
    assert_eq!(response.status(), 200);
    response.headers()["x-job-id"]
        .to_str()
        .unwrap()
        .parse::<Uuid>()
        .unwrap()
}

/// The organic week's refusals (seed 003): ids reused (409), a brand nobody has (404),
/// accounts not linked (403), a second generation of a brand (409), past the limit of 2
/// (429), a placement moved onto another's time (409) or out of its week (422), and the
/// library's rule-only values (422: an unknown time zone, a URL that is not http).
pub(super) async fn refusals(app: &mut TestApp, probe: &Probe, user: Uuid) {
    for (id, body) in [
        (
            "createBrand",
            json!({ "id": "probe_brand", "name": "Leafy", "timezone": "UTC" }),
        ),
        (
            "createTrend",
            json!({ "id": "probe_trend", "kind": "trend", "title": "Swaps", "keywords": [] }),
        ),
        (
            "createAsset",
            json!({ "id": "probe_asset", "kind": "video", "title": "A", "tags": [] }),
        ),
    ] {
        probe
            .succeed(201, probe.call(id, &[]).json(body.clone()))
            .await;
        probe.expect(409, probe.call(id, &[]).json(body)).await;
    }
    let generators = ["generateOrganicCalendar", "generateOrganicCalendarUpstream"];
    for op in generators {
        let call = probe.call(op, &[]).json(request("no_such_brand", None));
        probe.expect(404, call).await;
        let call = probe
            .call(op, &[])
            .json(request("probe_brand", Some("ig_unlinked")));
        probe.expect(403, call).await;
    }
    let link = |brand: &str| {
        probe
            .call("linkBrandAccount", &[])
            .path(format!("/api/organic/brands/{brand}/accounts"))
    };
    probe.succeed(201, link("probe_brand")).await;
    // A week added to a calendar: nothing saved in it yet (422 WEEK_EMPTY).
    let week = probe
        .call("addOrganicWeekToCalendar", &[])
        .path("/api/organic/brands/probe_brand/weeks/2027-03-01/calendar".into());
    probe.expect(422, week).await;
    // A week that does not start on a Monday.
    let tuesday = probe
        .call("exportOrganicWeek", &[])
        .path("/api/organic/brands/probe_brand/weeks/2027-03-02/export?format=csv".into());
    probe.expect(422, tuesday).await;
    probe
        .succeed(
            201,
            probe
                .call("createBrand", &[])
                .json(json!({ "id": "probe_brand2", "name": "Two", "timezone": "UTC" })),
        )
        .await;
    // No worker until the refusals that need a generation in progress have been seen: with
    // one, the first run could end before the second request (and be no conflict).
    app.stop_worker(0).await;
    let first = start(
        app,
        user,
        "/api/organic/generate-calendar",
        request("probe_brand", Some("ig_probe")),
        Some("organic-key"),
    )
    .await;
    for op in generators {
        probe
            .expect(409, probe.call(op, &[]).json(request("probe_brand", None)))
            .await;
    }
    // A key used again with another body (the key's run is the first above).
    for op in generators {
        let call = probe
            .call(op, &[])
            .json(request("probe_brand", None))
            .key("organic-key");
        probe.expect(422, call).await;
    }
    let second = start(
        app,
        user,
        "/generate-calendar",
        request("probe_brand2", None),
        None,
    )
    .await;
    for op in generators {
        probe
            .expect(429, probe.call(op, &[]).json(request("probe_brand2", None)))
            .await;
    }
    app.start_worker().await;
    for job in [first, second] {
        wait_succeeded(app, user, job).await;
    }
    let edit = |time: &str| {
        probe
            .call("editOrganicPlacement", &[])
            .path("/api/organic/brands/probe_brand/placements/p2".into())
            .json(json!({ "scheduledAt": time }))
    };
    probe.expect(409, edit("2027-03-02T10:10:00Z")).await;
    probe.expect(422, edit("2027-03-09T10:00:00Z")).await;
    week_and_library_rule_refusals(probe).await;
}
