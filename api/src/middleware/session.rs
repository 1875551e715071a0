//! The session cookie, accepted: a request that carries it (and no `Authorization`) is held
//! to the forgery rules and its session looked up (`crate::session` keeps both).

use poem::{Endpoint, IntoResponse, Request, Response, http::header};

use crate::{
    auth::SessionUser,
    route_table::takes_no_credentials,
    session::{cookie_value, ended, from_the_app, live, takes_session},
    state::AppState,
};

/// A request without `Authorization` that carries the session cookie is checked
/// against the forgery rules and its session looked up; the user goes with the request
/// ([`SessionUser`]) for the `session` security scheme.
pub async fn accept(next: impl Endpoint, mut req: Request) -> poem::Result<Response> {
    // The route table is looked at last: only a request that carries the cookie pays for it.
    let id = cookie_value(&req).filter(|_| {
        !req.headers().contains_key(header::AUTHORIZATION)
            && takes_session(req.uri().path())
            && !takes_no_credentials(req.method(), req.uri().path())
    });
    let Some(id) = id else {
        return next.call(req).await.map(IntoResponse::into_response);
    };
    let state = req
        .data::<AppState>()
        .expect("AppState is attached to every route");
    from_the_app(&req, state).inspect_err(|_| {
        metrics::counter!("web_sessions_refused_total", "reason" => "forgery_rules").increment(1);
    })?;
    let Some(session) = live(state, id).await? else {
        metrics::counter!("web_sessions_refused_total", "reason" => "ended").increment(1);
        return Ok(ended(state));
    };
    tracing::Span::current().record("userId", tracing::field::display(session.user_id));
    req.extensions_mut().insert(SessionUser(session.user_id));
    next.call(req).await.map(IntoResponse::into_response)
}
