//! The `{data, error, meta}` envelope of JSON answers (seed 000's shape, used by the job
//! and calendar endpoints), and the id of the request being served, which every envelope's
//! `meta` carries. An error's envelope is `error::ErrorEnvelope`: `data` null, `error` set.

use poem_openapi::{
    Object,
    payload::Json,
    types::{ParseFromJSON, ToJSON, Type},
};
use serde_json::Value;

tokio::task_local! {
    static REQUEST_ID: String;
}

/// The id of the request being served (empty outside a request).
pub fn current_request_id() -> String {
    REQUEST_ID.try_with(Clone::clone).unwrap_or_default()
}

/// Runs `work` as the request `id`: envelopes made inside it carry that id.
pub async fn with_request_id<F: Future>(id: String, work: F) -> F::Output {
    REQUEST_ID.scope(id, work).await
}

/// What an envelope of `Self` carries in `meta`.
pub trait Enveloped: Type + ParseFromJSON + ToJSON {
    type Meta: Type + ParseFromJSON + ToJSON + std::fmt::Debug + Clone;
}

/// A successful answer: the data, a null `error`, and `meta`.
#[derive(Debug, Clone, Object)]
pub struct Envelope<D: Enveloped + std::fmt::Debug + Clone> {
    pub data: D,
    /// Always null on success.
    #[oai(nullable)]
    pub error: Option<Value>,
    pub meta: D::Meta,
}

impl<D: Enveloped + std::fmt::Debug + Clone> Envelope<D> {
    pub fn with_meta(data: D, meta: D::Meta) -> Json<Self> {
        Json(Self {
            data,
            error: None,
            meta,
        })
    }
}

impl<D: Enveloped<Meta = RequestMeta> + std::fmt::Debug + Clone> Envelope<D> {
    /// `data` with the request's id in `meta`.
    pub fn of(data: D) -> Json<Self> {
        Self::with_meta(data, RequestMeta::current())
    }
}

/// `meta` of most envelopes: the request's id.
#[derive(Debug, Clone, Object)]
#[oai(rename_all = "camelCase")]
pub struct RequestMeta {
    pub request_id: String,
}

impl RequestMeta {
    pub fn current() -> Self {
        Self {
            request_id: current_request_id(),
        }
    }
}

/// Declares types whose envelope's `meta` is the request id.
#[macro_export]
macro_rules! enveloped {
    ($($data:ty),+ $(,)?) => {
        $(impl $crate::envelope::Enveloped for $data {
            type Meta = $crate::envelope::RequestMeta;
        })+
    };
}

/// `From<row>` for a wire type whose fields are the row's, field by field (each converted
/// with `Into`); the row comes from the store, which owns the columns it is read from.
#[macro_export]
macro_rules! from_row {
    ($row:ty => $dto:ident { $($field:ident),+ $(,)? }) => {
        impl From<$row> for $dto {
            fn from(row: $row) -> Self {
                Self { $($field: row.$field.into(),)+ }
            }
        }
    };
}
