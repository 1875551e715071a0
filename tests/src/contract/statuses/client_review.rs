//! Client review's refusals (`docs/review.md`, "Client review"): a link's body read once the
//! link is known (400, 413, 415), a decision the link may not make (403) or on an entry not
//! in review (409), an entry the link does not show (404), a link past its requests (429),
//! a link that cannot be made (422, 409), and a comment that is not the caller's (403).

use serde_json::json;
use uuid::Uuid;

use super::{Payload, Probe};
use crate::helpers::TestApp;

/// The probe's limit on one link's requests (`REVIEW_LINK_RATE_LIMIT`).
const LINK_REQUESTS: usize = 30;

pub(super) async fn refusals(
    app: &TestApp,
    probe: &Probe,
    calendar: Uuid,
    entry: Uuid,
    limit: usize,
) {
    let past = json!({ "entryIds": [entry], "expiresAt": "2020-01-01T00:00:00Z" });
    let call = probe.call("createReviewLink", &[calendar]).json(past);
    probe.expect(422, call).await;
    let token = made(probe, calendar, entry).await;
    let at = |op: &str| {
        let path = probe.call(op, &[]).path.replace(&"B".repeat(43), &token);
        probe.call(op, &[]).path(path)
    };
    for op in ["decideReviewLinkEntry", "commentReviewLinkEntry"] {
        let broken = Payload::Raw("application/json", b"{\"x\":".to_vec());
        probe.expect(400, at(op).with(broken)).await;
        let huge = Payload::Raw("application/json", vec![b' '; limit + 1]);
        probe.expect(413, at(op).with(huge)).await;
        let text = super::valid_body(op).to_string().into_bytes();
        probe
            .expect(415, at(op).with(Payload::Raw("text/plain", text)))
            .await;
        // An entry the link does not show.
        probe.expect(404, at(op)).await;
    }
    // The entry is not in review; and this link may not approve anyway.
    let decide = json!({ "entryId": entry, "decision": "approve", "name": "Anna",
        "contentVersion": 1 });
    sqlx::query("update calendar_entries set review_status = 'not_requested' where id = $1")
        .bind(entry)
        .execute(&app.db)
        .await
        .unwrap();
    probe
        .expect(409, at("decideReviewLinkEntry").json(decide.clone()))
        .await;
    sqlx::query(
        "update calendar_entries set review_status = 'in_review', review_step = 1,
             review_steps = '[{\"name\": \"Client\", \"approvers\": {\"guests\": [\"a@b.example\"]}, \"required\": 1}]'
         where id = $1",
    )
    .bind(entry)
    .execute(&app.db)
    .await
    .unwrap();
    probe
        .expect(403, at("decideReviewLinkEntry").json(decide))
        .await;
    // A guest's comment is not the caller's to change or delete.
    let guest = json!({ "entryId": entry, "name": "Anna", "text": "Lovely" });
    let comment = probe
        .succeed(201, at("commentReviewLinkEntry").json(guest))
        .await;
    let comment: Uuid = comment["data"]["id"].as_str().unwrap().parse().unwrap();
    let ids = [calendar, entry, comment];
    probe
        .expect(403, probe.call("editEntryComment", &ids))
        .await;
    probe
        .expect(403, probe.call("deleteEntryComment", &ids))
        .await;
    // Past the link's requests: every guest operation answers 429 until the window ends.
    let mut used = 0;
    loop {
        let (status, _) = probe
            .send_to(&probe.address, at("getReviewLinkEntries"))
            .await;
        if status == 429 {
            break;
        }
        used += 1;
        assert!(used <= LINK_REQUESTS, "no 429 after {used} requests");
    }
    for op in [
        "showReviewLink",
        "getReviewLinkEntries",
        "decideReviewLinkEntry",
        "commentReviewLinkEntry",
    ] {
        probe.expect(429, at(op)).await;
    }
    // A calendar holds at most 100 working links.
    for _ in 1..100 {
        let body = json!({ "entryIds": [entry] });
        probe
            .succeed(201, probe.call("createReviewLink", &[calendar]).json(body))
            .await;
    }
    let body = json!({ "entryIds": [entry] });
    let call = probe.call("createReviewLink", &[calendar]).json(body);
    probe.expect(409, call).await;
}

/// A link to the entry, which may not approve; its token.
async fn made(probe: &Probe, calendar: Uuid, entry: Uuid) -> String {
    let body = json!({ "entryIds": [entry] });
    let link = probe
        .succeed(201, probe.call("createReviewLink", &[calendar]).json(body))
        .await;
    let url = link["data"]["url"].as_str().unwrap();
    url.rsplit_once("/review/").unwrap().1.to_owned()
}
