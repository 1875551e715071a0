//! How a route's answers are declared: [`responses!`] spells every response enum (each
//! variant's status, optional content type and headers, and its description), and the
//! answers many routes share are declared with it here ([`Created`], [`NoContent`]).

/// Declares a route's response enum: each variant is `STATUS => Variant(payload, headers)`,
/// optionally `STATUS as "content/type" => ...`, a header field marked `#[header = "Name"]`;
/// a variant's doc comment is the response's description in the document.
#[macro_export]
macro_rules! responses {
    (
        $(#[$meta:meta])*
        $vis:vis enum $name:ident $(<$generic:ident: $bound:path>)? {
            $(
                $(#[doc = $doc:tt])*
                $status:literal $(as $content_type:literal)? => $variant:ident $((
                    $($(#[header = $header:tt])? $field:ty),+ $(,)?
                ))?
            ),+ $(,)?
        }
    ) => {
        $(#[$meta])*
        #[derive(poem_openapi::ApiResponse)]
        $vis enum $name $(<$generic: $bound>)? {
            $(
                $(#[doc = $doc])*
                #[oai(status = $status $(, content_type = $content_type)?)]
                $variant $(($($(#[oai(header = $header)])? $field),+))?,
            )+
        }
    };
}

responses! {
    /// 201 with what was made.
    pub enum Created<T: poem_openapi::types::ToJSON> {
        /// Made: the new resource as it is saved.
        201 => Created(poem_openapi::payload::Json<T>),
    }
}

responses! {
    /// 204: done, with nothing to return.
    pub enum NoContent {
        /// Done.
        204 => Done,
    }
}

responses! {
    /// 200 with a versioned resource as it now is, its version as `ETag` (for `If-Match`).
    pub enum Versioned<T: poem_openapi::types::ToJSON> {
        /// The resource as it now is; `ETag` is its version, to send as `If-Match` with the
        /// next change.
        200 => Current(poem_openapi::payload::Json<T>, #[header = "ETag"] String),
    }
}

responses! {
    /// 201 with a versioned resource as it was made, its version as `ETag`.
    pub enum CreatedVersioned<T: poem_openapi::types::ToJSON> {
        /// Made: the new resource as it is saved; `ETag` is its version.
        201 => Created(poem_openapi::payload::Json<T>, #[header = "ETag"] String),
    }
}
