//! `Prefer: priority=bulk` (RFC 7240's header, a preference of Almanac's): the jobs a
//! request creates go in the `bulk` lane, claimed after every `interactive` and
//! `scheduled` job that is ready (until they have waited `JOB_PRIORITY_AGING_SECS`), and the
//! answer says `Preference-Applied: priority=bulk` when a job took it. An API client
//! backfilling thousands of jobs marks them so, and people's own requests stay ahead.

use almanac_shared::jobs::{Lane, REQUESTED_LANE, RequestedLane};
use poem::{Endpoint, IntoResponse, Request, Response, http::HeaderValue};

const APPLIED: &str = "preference-applied";
const BULK: &str = "priority=bulk";

/// Whether the request's `Prefer` headers ask for `priority=bulk` (any case, any place
/// among other preferences, parameters after `;` ignored).
fn prefers_bulk(req: &Request) -> bool {
    req.headers()
        .get_all("prefer")
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(','))
        .any(|preference| {
            let token = preference.split(';').next().unwrap_or_default();
            let (name, value) = token.split_once('=').unwrap_or((token, ""));
            name.trim().eq_ignore_ascii_case("priority")
                && value.trim().trim_matches('"').eq_ignore_ascii_case("bulk")
        })
}

pub async fn bulk(next: impl Endpoint, req: Request) -> poem::Result<Response> {
    if !prefers_bulk(&req) {
        return next.call(req).await.map(IntoResponse::into_response);
    }
    let asked = std::sync::Arc::new(RequestedLane::new(Lane::Bulk));
    let answered = REQUESTED_LANE
        .scope(asked.clone(), async move { next.call(req).await })
        .await;
    let mut response = answered?.into_response();
    if asked.taken() && response.status().is_success() {
        let applied = match response
            .headers()
            .get(APPLIED)
            .and_then(|v| v.to_str().ok())
        {
            Some(earlier) => format!("{earlier}, {BULK}"),
            None => BULK.to_owned(),
        };
        if let Ok(value) = HeaderValue::from_str(&applied) {
            response.headers_mut().insert(APPLIED, value);
        }
    }
    Ok(response)
}
