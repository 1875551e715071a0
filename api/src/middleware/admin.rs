//! The admin cookie, accepted on `/admin/*`: a request there without `Authorization` that
//! carries `almanac_admin` is held to the forgery rules and its session looked up
//! (`crate::admin_session`); the mark goes with the request for the `AdminSession` scheme.

use poem::{Endpoint, IntoResponse, Request, Response, http::header};

use crate::{
    admin_session::{self, AdminSessionMark},
    session::from_the_app,
    state::AppState,
};

/// Whether `path` is one of the admin endpoints.
pub(crate) fn is_admin(path: &str) -> bool {
    path.starts_with("/admin/")
}

pub async fn accept(next: impl Endpoint, mut req: Request) -> poem::Result<Response> {
    let id = crate::session::named_cookie(&req, admin_session::COOKIE).filter(|_| {
        is_admin(req.uri().path()) && !req.headers().contains_key(header::AUTHORIZATION)
    });
    let Some(id) = id.map(str::to_owned) else {
        return next.call(req).await.map(IntoResponse::into_response);
    };
    let state = req
        .data::<AppState>()
        .expect("AppState is attached to every route");
    from_the_app(&req, state)?;
    if !admin_session::live(state, &id).await? {
        return Ok(admin_session::ended(state));
    }
    req.extensions_mut().insert(AdminSessionMark);
    next.call(req).await.map(IntoResponse::into_response)
}
