//! The unsubscribe routes' wire types: the one-click form and the pages.

use poem_openapi::{Multipart, Object, payload::Html};
use serde::Deserialize;

/// What a one-click `POST` carries (RFC 8058).
#[derive(Debug, Clone, Object, Deserialize)]
pub struct OneClickForm {
    /// `One-Click`.
    #[oai(rename = "List-Unsubscribe", validator(max_length = 32))]
    #[serde(rename = "List-Unsubscribe")]
    pub list_unsubscribe: String,
}

/// The same, as `multipart/form-data`.
#[derive(Debug, Multipart)]
pub struct OneClickMultipart {
    #[oai(rename = "List-Unsubscribe", validator(max_length = 32))]
    pub list_unsubscribe: String,
}

crate::responses! {
    /// A page for the person who followed the link.
    pub enum UnsubscribePage {
        /// Asks to confirm (`GET`), or says it is done (`POST`).
        200 => Shown(Html<String>, #[header = "Content-Security-Policy"] String),
        /// The link was forged, edited, or has expired, or its digest is gone.
        404 => NoLongerValid(Html<String>, #[header = "Content-Security-Policy"] String),
    }
}
