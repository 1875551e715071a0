//! The few pages the sign-in serves outside the app: an emailed link's (naming the address,
//! with its "Sign in" button) and what a refused sign-in says. Their words carry the app's
//! catalogue keys (`data-i18n`), so `/app/js/link.js` shows them in the person's language.

use almanac_shared::html::escape;
use poem::{
    Response,
    http::{StatusCode, header},
};

/// What these pages may load: the app's stylesheet and the link's script, nothing inline.
const CONTENT_SECURITY_POLICY: &str = "default-src 'self'; object-src 'none'; base-uri 'none'; \
     frame-ancestors 'none'; form-action 'self'";

/// A page of `status` with `body` inside the app's frame.
fn page(status: StatusCode, title_key: &str, title: &str, body: &str) -> Response {
    let html = format!(
        "<!doctype html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n\
         <title>Almanac</title>\n<link rel=\"icon\" href=\"/app/favicon.svg\" type=\"image/svg+xml\">\n\
         <link rel=\"stylesheet\" href=\"/app/app.css\">\n\
         <script type=\"module\" src=\"/app/js/link.js\"></script>\n</head>\n<body>\n\
         <header class=\"top\"><a class=\"brand\" href=\"/app/\">Almanac</a></header>\n\
         <main id=\"view\" class=\"sign-in-page\">\n<section class=\"panel stack narrow\">\n\
         <h1 data-i18n=\"{title_key}\">{title}</h1>\n{body}\n</section>\n</main>\n</body>\n</html>\n"
    );
    Response::builder()
        .status(status)
        .header(header::CONTENT_TYPE, "text/html; charset=utf-8")
        .header(header::CACHE_CONTROL, "no-store")
        .header(header::REFERRER_POLICY, "no-referrer")
        .header(header::X_CONTENT_TYPE_OPTIONS, "nosniff")
        .header(header::CONTENT_SECURITY_POLICY, CONTENT_SECURITY_POLICY)
        .body(html)
}

/// An emailed link's page: the address it signs in as and the button whose `POST` opens
/// the session (fetching the page, as a mail scanner does, uses nothing).
pub fn link(token: &str, email: &str) -> Response {
    let body = format!(
        "<p><span data-i18n=\"signin.linkAs\">You are signing in as</span> \
         <strong id=\"link-email\">{}</strong></p>\n\
         <form id=\"link-form\" data-path=\"{}{}\">\n\
         <button type=\"submit\" id=\"link-sign-in\" data-i18n=\"signin.linkSubmit\">Sign in</button>\n\
         </form>\n<p id=\"link-problem\" class=\"notice error\" role=\"alert\" hidden></p>",
        escape(email),
        almanac_shared::sign_in::PATH,
        escape(token),
    );
    page(
        StatusCode::OK,
        "signin.linkTitle",
        "Sign in to Almanac",
        &body,
    )
}

/// A refused sign-in: what happened, in words, and the way back to the sign-in page.
pub fn refused(status: StatusCode, key: &str, said: &str) -> Response {
    let body = format!(
        "<p id=\"sign-in-refused\" data-i18n=\"{key}\">{}</p>\n\
         <p><a class=\"button\" href=\"/app/\" data-i18n=\"signin.again\">Back to sign in</a></p>",
        escape(said)
    );
    page(
        status,
        "signin.refusedTitle",
        "You are not signed in",
        &body,
    )
}

/// A refused single sign-on, with the provider's or the check's reason.
pub fn sso_refused(status: StatusCode, reason: &str) -> Response {
    let body = format!(
        "<p data-i18n=\"signin.ssoRefused\">Single sign-on did not sign you in.</p>\n\
         <p id=\"sign-in-refused\" class=\"muted\">{}</p>\n\
         <p><a class=\"button\" href=\"/app/\" data-i18n=\"signin.again\">Back to sign in</a></p>",
        escape(reason)
    );
    page(
        status,
        "signin.refusedTitle",
        "You are not signed in",
        &body,
    )
}
