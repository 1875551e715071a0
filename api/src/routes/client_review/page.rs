//! A review link's page: a shell with the app's stylesheet and the guest's script
//! (`/app/js/guest.js`), which reads the link's token from the address and calls the
//! guest routes. No inline script; the page is never framed, and sends no referrer, so
//! the token in the address does not leak to an image's host.

use poem_openapi::payload::Html;

crate::responses! {
    /// A review link's page.
    pub enum GuestPage {
        /// The page; its script reads the link's entries.
        200 => Shown(Html<String>, #[header = "Content-Security-Policy"] String),
        /// The link was never made, has expired or was revoked.
        404 => Gone(Html<String>, #[header = "Content-Security-Policy"] String),
    }
}

/// Its script and styles from this origin only, images from here or any https address an
/// entry's media may live at, calls to this origin only, and never framed.
const POLICY: &str = "default-src 'self'; img-src 'self' data: https:; media-src 'self' https:; \
     object-src 'none'; base-uri 'none'; frame-ancestors 'none'; form-action 'self'";

fn html(body: &str) -> Html<String> {
    Html(format!(
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
         <meta name=\"robots\" content=\"noindex, nofollow\">\
         <title>Review · Almanac</title>\
         <link rel=\"icon\" href=\"/app/favicon.svg\" type=\"image/svg+xml\">\
         <link rel=\"stylesheet\" href=\"/app/app.css\"></head>\
         <body class=\"guest\">{body}</body></html>"
    ))
}

/// The page, its script filling `#view`.
pub fn shown() -> GuestPage {
    GuestPage::Shown(
        html(
            "<script type=\"module\" src=\"/app/js/guest.js\"></script>\
             <header class=\"top\"><span class=\"brand\">Almanac</span></header>\
             <main id=\"view\" class=\"guest-review\" tabindex=\"-1\">\
             <p class=\"muted\">Loading…</p></main>\
             <div id=\"toast\" role=\"status\" aria-live=\"polite\"></div>",
        ),
        POLICY.to_owned(),
    )
}

/// The page of a link that does not work.
pub fn gone() -> GuestPage {
    GuestPage::Gone(
        html(
            "<header class=\"top\"><span class=\"brand\">Almanac</span></header>\
             <main class=\"panel stack unsubscribe\"><h1>This review link does not work</h1>\
             <p>It has expired or was withdrawn. Ask the person who sent it for a new one.</p>\
             <p lang=\"fr\" class=\"muted\">Ce lien de relecture ne fonctionne plus : il a \
             expiré ou a été retiré. Demandez-en un nouveau à la personne qui vous l’a \
             envoyé.</p></main>",
        ),
        POLICY.to_owned(),
    )
}
