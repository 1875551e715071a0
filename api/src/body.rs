//! The one JSON body extractor every endpoint uses, stricter than poem-openapi's `Json`:
//!
//! - a NUL character in any field the operation reads (a string, a key of a map or of a
//!   free-form value) is refused, naming the field: Postgres cannot store one in `text`,
//!   and no client means to send it (the document's patterns say so, `crate::contract`);
//! - strings are strings: poem-openapi turns `true` or `1e308` sent for a string field into
//!   `"true"` / `"1e+308"`; here a value where the schema says `string` must be one;
//! - unknown fields are ignored, whatever they hold (clients send fields newer than the
//!   server), as the OpenAPI document says.
//!
//! A body that is not JSON at all is 400 everywhere. A body that is JSON but invalid is
//! refused with the endpoint's validation status `STATUS`: 400, or 422 on the syntheses
//! endpoints, whose contract answers invalid values so.

use std::{
    any::TypeId,
    collections::HashMap,
    sync::{Arc, LazyLock, RwLock},
};

use poem::{FromRequest, Request, RequestBody};
use poem_openapi::{
    payload::{ParsePayload, Payload},
    registry::{MetaSchema, MetaSchemaRef, Registry},
    types::{ParseFromJSON, Type},
};
use serde_json::Value;

use crate::{error::ApiError, text::Pattern};

/// A JSON request body, checked as the module says. `STATUS` is 400 or 422.
#[derive(Debug, Clone)]
pub struct StrictJson<T, const STATUS: u16 = 400>(pub T);

/// The body of an endpoint that answers invalid values with 422.
pub type StrictJson422<T> = StrictJson<T, 422>;

impl<T, const STATUS: u16> std::ops::Deref for StrictJson<T, STATUS> {
    type Target = T;

    fn deref(&self) -> &T {
        &self.0
    }
}

impl<T: Type, const STATUS: u16> Payload for StrictJson<T, STATUS> {
    const CONTENT_TYPE: &'static str = "application/json; charset=utf-8";

    fn check_content_type(content_type: &str) -> bool {
        <poem_openapi::payload::Json<T> as Payload>::check_content_type(content_type)
    }

    fn schema_ref() -> MetaSchemaRef {
        T::schema_ref()
    }

    fn register(registry: &mut Registry) {
        T::register(registry);
    }
}

impl<T: ParseFromJSON + 'static, const STATUS: u16> ParsePayload for StrictJson<T, STATUS> {
    const IS_REQUIRED: bool = T::IS_REQUIRED;

    async fn from_request(request: &Request, body: &mut RequestBody) -> poem::Result<Self> {
        let data = Vec::<u8>::from_request(request, body).await?;
        Ok(Self::parse(&data)?)
    }
}

impl<T: ParseFromJSON + 'static, const STATUS: u16> StrictJson<T, STATUS> {
    /// The body's bytes checked as the module says.
    fn parse(data: &[u8]) -> Result<Self, ApiError> {
        let value: Value = if data.is_empty() {
            Value::Null
        } else {
            serde_json::from_slice(data).map_err(|error| {
                ApiError::bad_request(format!("the body is not valid JSON: {error}"), None)
            })?
        };
        let reject = |field: &str, reason: String| -> ApiError {
            if STATUS == 422 {
                ApiError::unprocessable_field(field, reason)
            } else {
                ApiError::invalid_field(field, reason)
            }
        };
        let (schema, registry) = &*schema_of::<T>();
        if let Err((field, reason)) = check_schema(&value, schema, registry, &mut String::new()) {
            return Err(reject(&field, reason));
        }
        T::parse_from_json(Some(value)).map(Self).map_err(|error| {
            let message = error.into_message();
            let field = validated_field(&message).unwrap_or("body").to_owned();
            let message = plain_validation(&field, &message).unwrap_or(message);
            reject(&field, message)
        })
    }
}

impl<T: ParseFromJSON + 'static, const STATUS: u16> Deferred<StrictJson<T, STATUS>> {
    /// Reads the body now, refused as [`StrictJson`] would have refused it before the
    /// handler ran.
    pub async fn read(self) -> Result<T, ApiError> {
        let (request, mut body) = self.into_parts();
        let json = request
            .content_type()
            .is_some_and(<StrictJson<T, STATUS> as Payload>::check_content_type);
        if !json {
            return Err(ApiError::UnsupportedMediaType(
                crate::error::ErrorEnvelope::new(
                    "UNSUPPORTED_MEDIA_TYPE",
                    "the body must be JSON (`Content-Type: application/json`)",
                    None,
                ),
            ));
        }
        let data = Vec::<u8>::from_request(&request, &mut body)
            .await
            .map_err(refusal)?;
        Ok(StrictJson::<T, STATUS>::parse(&data)?.0)
    }
}

poem_openapi::impl_apirequest_for_payload!(StrictJson<T, STATUS>, T: ParseFromJSON + 'static, const STATUS: u16);

/// A JSON body documented as `S` whose rules its handler checks itself, to list every
/// problem at once (seed 003's request): here only that it is JSON without NUL characters.
/// The document states no rule the handler does not hold, so a body the schema accepts
/// is refused only for what the schema cannot say (a date outside the week).
#[derive(Debug, Clone)]
pub struct ListedJson<S>(pub Value, std::marker::PhantomData<S>);

impl<S: Type> Payload for ListedJson<S> {
    const CONTENT_TYPE: &'static str = "application/json; charset=utf-8";

    fn check_content_type(content_type: &str) -> bool {
        <poem_openapi::payload::Json<Value> as Payload>::check_content_type(content_type)
    }

    fn schema_ref() -> MetaSchemaRef {
        S::schema_ref()
    }

    fn register(registry: &mut Registry) {
        S::register(registry);
    }
}

impl<S: Type + 'static> ParsePayload for ListedJson<S> {
    const IS_REQUIRED: bool = true;

    async fn from_request(request: &Request, body: &mut RequestBody) -> poem::Result<Self> {
        let data = Vec::<u8>::from_request(request, body).await?;
        let value: Value = serde_json::from_slice(&data).map_err(|error| {
            ApiError::bad_request(format!("the body is not valid JSON: {error}"), None)
        })?;
        if let Err((field, reason)) = nul_free(&value, &mut String::new()) {
            return Err(ApiError::invalid_field(&field, reason).into());
        }
        Ok(Self(value, std::marker::PhantomData))
    }
}

poem_openapi::impl_apirequest_for_payload!(ListedJson<S>, S: Type + 'static);

/// A request body documented as `T`'s but read only when the handler asks: a handler that
/// judges something else first (an unsubscribe link's token) answers that judgement
/// whatever the body holds. It reads the body by parsing [`Deferred::into_parts`] as `T`
/// (`T::from_request`), refused with [`refusal`]; one that never does leaves the body to
/// the middleware, which drains it as for any refusal.
pub struct Deferred<T> {
    content_type: Option<String>,
    body: poem::Body,
    kind: std::marker::PhantomData<T>,
}

impl<T> Deferred<T> {
    /// A request carrying the body's media type, and the body, for `T::from_request`.
    pub fn into_parts(self) -> (Request, RequestBody) {
        let mut request = Request::builder();
        if let Some(content_type) = &self.content_type {
            request = request.header(poem::http::header::CONTENT_TYPE, content_type);
        }
        (request.finish(), RequestBody::new(self.body))
    }
}

/// A deferred body's parse error, refused as it would have been before the handler ran:
/// 415 for another media type, 413 past the limit, else 400.
pub fn refusal(error: poem::Error) -> ApiError {
    let message = format!("the body: {error}");
    let envelope = |code: &str| crate::error::ErrorEnvelope::new(code, message.clone(), None);
    match error.status() {
        poem::http::StatusCode::UNSUPPORTED_MEDIA_TYPE => {
            ApiError::UnsupportedMediaType(envelope("UNSUPPORTED_MEDIA_TYPE"))
        }
        poem::http::StatusCode::PAYLOAD_TOO_LARGE => {
            ApiError::PayloadTooLarge(envelope("PAYLOAD_TOO_LARGE"))
        }
        _ => ApiError::bad_request(message, None),
    }
}

impl<'a, T: poem_openapi::ApiExtractor<'a>> poem_openapi::ApiExtractor<'a> for Deferred<T> {
    const TYPES: &'static [poem_openapi::ApiExtractorType] =
        &[poem_openapi::ApiExtractorType::RequestObject];
    type ParamType = ();
    type ParamRawType = ();

    fn register(registry: &mut Registry) {
        T::register(registry);
    }

    fn request_meta() -> Option<poem_openapi::registry::MetaRequest> {
        T::request_meta()
    }

    async fn from_request(
        request: &'a Request,
        body: &mut RequestBody,
        _param_opts: poem_openapi::ExtractParamOptions<Self::ParamType>,
    ) -> poem::Result<Self> {
        Ok(Self {
            content_type: request.content_type().map(str::to_owned),
            body: body.take()?,
            kind: std::marker::PhantomData,
        })
    }
}

/// The field a poem-openapi validator refused: its messages read "field `name`
/// verification failed. ...".
fn validated_field(message: &str) -> Option<&str> {
    let rest = message.split_once("field `")?.1;
    rest.split_once('`').map(|(field, _)| field)
}

/// A poem-openapi validator's refusal ("... field `channels` verification failed.
/// minItems(1)") said as a rule a person reads: "channels must have at least 1 item".
pub(crate) fn plain_validation(field: &str, message: &str) -> Option<String> {
    let rule = message.split_once("verification failed. ")?.1.trim();
    let (name, argument) = rule.strip_suffix(')')?.split_once('(')?;
    let n: f64 = argument.trim().parse().ok()?;
    let items = |n: f64| if n == 1.0 { "item" } else { "items" };
    let characters = |n: f64| if n == 1.0 { "character" } else { "characters" };
    let said = match name {
        "minItems" => format!("must have at least {n} {}", items(n)),
        "maxItems" => format!("must have at most {n} {}", items(n)),
        "minLength" => format!("must be at least {n} {} long", characters(n)),
        "maxLength" => format!("must be at most {n} {} long", characters(n)),
        "minimum" => format!("must be at least {n}"),
        "maximum" => format!("must be at most {n}"),
        _ => return None,
    };
    Some(format!("{field} {said}"))
}

type Schema = Arc<(MetaSchemaRef, Registry)>;

/// `T`'s schema and the schemas it refers to, built once per type.
fn schema_of<T: Type + 'static>() -> Schema {
    static SCHEMAS: LazyLock<RwLock<HashMap<TypeId, Schema>>> = LazyLock::new(Default::default);
    let id = TypeId::of::<T>();
    if let Some(schema) = SCHEMAS.read().expect("schema cache lock").get(&id) {
        return schema.clone();
    }
    let mut registry = Registry::new();
    T::register(&mut registry);
    let schema = Arc::new((T::schema_ref(), registry));
    SCHEMAS
        .write()
        .expect("schema cache lock")
        .entry(id)
        .or_insert(schema)
        .clone()
}

/// The path of the first string or key holding a NUL character (`""` for the body itself).
fn find_nul(value: &Value, path: &mut String) -> Option<String> {
    match value {
        Value::String(s) if s.contains('\0') => Some(path.clone()),
        Value::Array(items) => items.iter().enumerate().find_map(|(i, item)| {
            let len = path.len();
            path.push_str(&format!("[{i}]"));
            let found = find_nul(item, path);
            path.truncate(len);
            found
        }),
        Value::Object(map) => map.iter().find_map(|(key, item)| {
            let len = path.len();
            push_key(path, &key.replace('\0', "\\u0000"));
            let found = if key.contains('\0') {
                Some(path.clone())
            } else {
                find_nul(item, path)
            };
            path.truncate(len);
            found
        }),
        _ => None,
    }
}

fn push_key(path: &mut String, key: &str) {
    if !path.is_empty() {
        path.push('.');
    }
    path.push_str(key);
}

fn resolve<'a>(schema: &'a MetaSchemaRef, registry: &'a Registry) -> Option<&'a MetaSchema> {
    match schema {
        MetaSchemaRef::Inline(schema) => Some(schema),
        MetaSchemaRef::Reference(name) => registry.schemas.get(name),
    }
}

/// Whether the document lets a property be `null`: it says `nullable`, or states no type
/// at all (a free-form value).
fn nullable(schema: &MetaSchemaRef, registry: &Registry) -> bool {
    match schema {
        MetaSchemaRef::Inline(schema) => {
            schema.nullable || (schema.ty.is_empty() && schema.all_of.is_empty())
        }
        MetaSchemaRef::Reference(_) => resolve(schema, registry).is_some_and(|s| s.nullable),
    }
}

/// A string held to its schema's `maxLength` (in characters, as JSON Schema counts) and
/// `pattern`: every rule the document states for a string is enforced here, naming the
/// field, whichever type documents it.
fn check_string(text: &str, schema: &MetaSchema, path: &str) -> Result<(), (String, String)> {
    let field = if path.is_empty() { "body" } else { path };
    if let Some(max) = schema.max_length
        && text.chars().count() > max
    {
        return Err((
            field.to_owned(),
            format!("{field} must be at most {max} characters"),
        ));
    }
    if let Some(pattern) = &schema.pattern {
        let compiled = compiled(pattern);
        if !compiled.is_match(text) {
            return Err((field.to_owned(), format!("{field} {}", compiled.rule(text))));
        }
    }
    Ok(())
}

/// `pattern`, compiled once per pattern (`text::Pattern`).
fn compiled(pattern: &str) -> Arc<Pattern> {
    static COMPILED: LazyLock<RwLock<HashMap<String, Arc<Pattern>>>> =
        LazyLock::new(Default::default);
    let cached = COMPILED
        .read()
        .expect("pattern cache lock")
        .get(pattern)
        .cloned();
    cached.unwrap_or_else(|| {
        let compiled =
            Arc::new(Pattern::compile(pattern).expect("the document's patterns compile"));
        COMPILED
            .write()
            .expect("pattern cache lock")
            .insert(pattern.to_owned(), compiled.clone());
        compiled
    })
}

/// The alternative of a `oneOf` that `value` is held to: the one its discriminator names,
/// or the first (what a body that leaves the discriminator out means: a card is `basic`
/// unless it says otherwise).
fn alternative<'a>(value: &Value, schema: &'a MetaSchema) -> &'a MetaSchemaRef {
    let first = &schema.one_of[0];
    let named = schema.discriminator.as_ref().and_then(|discriminator| {
        let name = value.get(discriminator.property_name)?.as_str()?;
        let (_, target) = discriminator.mapping.iter().find(|(key, _)| key == name)?;
        let target = target.rsplit('/').next()?;
        schema
            .one_of
            .iter()
            .find(|alt| matches!(alt, MetaSchemaRef::Reference(r) if r == target))
    });
    named.unwrap_or(first)
}

/// `value`, read as a value of any shape: refused when a string or a key in it holds NUL.
fn nul_free(value: &Value, path: &mut String) -> Result<(), (String, String)> {
    match find_nul(value, path) {
        None => Ok(()),
        Some(field) => Err(nul_refusal(field)),
    }
}

fn nul_refusal(field: String) -> (String, String) {
    let field = if field.is_empty() {
        "body".to_owned()
    } else {
        field
    };
    let reason = format!("{field} must not contain a NUL character");
    (field, reason)
}

/// A schema that says nothing of its value's shape (a free-form value: `constraints`,
/// `metadata`), whose strings and keys the body still holds to the NUL rule.
fn says_nothing(schema: &MetaSchema) -> bool {
    schema.ty.is_empty()
        && schema.properties.is_empty()
        && schema.all_of.is_empty()
        && schema.one_of.is_empty()
        && schema.items.is_none()
        && schema.additional_properties.is_none()
}

/// Refuses, in the fields the operation reads: a string holding NUL; a non-string value
/// where the schema says `string` (null is left to the type, which knows whether the field
/// is optional); a string its schema's length and pattern refuse. A free-form value is held
/// to the NUL rule throughout; an unknown field is ignored, whatever it holds.
fn check_schema(
    value: &Value,
    schema: &MetaSchemaRef,
    registry: &Registry,
    path: &mut String,
) -> Result<(), (String, String)> {
    let Some(schema) = resolve(schema, registry) else {
        return nul_free(value, path);
    };
    for part in &schema.all_of {
        // A part beside a `$ref` that only describes it (its nullability, its words) is no
        // value of its own.
        if matches!(part, MetaSchemaRef::Inline(inline) if says_nothing(inline)) {
            continue;
        }
        check_schema(value, part, registry, path)?;
    }
    if !schema.one_of.is_empty() {
        return check_schema(value, alternative(value, schema), registry, path);
    }
    if says_nothing(schema) {
        return nul_free(value, path);
    }
    match value {
        Value::Null => Ok(()),
        Value::String(text) if text.contains('\0') => Err(nul_refusal(path.clone())),
        Value::String(text) => check_string(text, schema, path),
        _ if schema.ty == "string" => {
            let field = if path.is_empty() { "body" } else { path };
            Err((field.to_owned(), format!("{field} must be a string")))
        }
        Value::Array(items) => {
            let Some(item_schema) = &schema.items else {
                return nul_free(value, path);
            };
            for (i, item) in items.iter().enumerate() {
                let len = path.len();
                path.push_str(&format!("[{i}]"));
                check_schema(item, item_schema, registry, path)?;
                path.truncate(len);
            }
            Ok(())
        }
        Value::Object(map) => {
            for (key, item) in map {
                let property = schema
                    .properties
                    .iter()
                    .find(|(name, _)| name == key)
                    .map(|(_, s)| s)
                    .or(schema.additional_properties.as_deref());
                if let Some(property) = property {
                    let len = path.len();
                    push_key(path, &key.replace('\0', "\\u0000"));
                    if key.contains('\0') {
                        return Err(nul_refusal(path.clone()));
                    }
                    if item.is_null() && !nullable(property, registry) {
                        // poem-openapi would read it as absent; the document says it is not
                        // nullable, so it is refused as the document says.
                        return Err((path.clone(), format!("{path} must not be null")));
                    }
                    check_schema(item, property, registry, path)?;
                    path.truncate(len);
                }
            }
            Ok(())
        }
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use poem_openapi::Object;
    use serde_json::json;

    use super::*;

    #[derive(Debug, Object)]
    struct Inner {
        label: String,
    }

    #[derive(Debug, Object)]
    struct Outer {
        name: String,
        tags: Vec<String>,
        inner: Option<Inner>,
        count: Option<u32>,
        free: Option<Value>,
        #[oai(validator(pattern = "^[a-z]+$", max_length = 5))]
        code: Option<String>,
        words: Option<Vec<crate::text::Word<4>>>,
        #[oai(nullable)]
        maybe: Option<String>,
    }

    fn check(value: Value) -> Result<(), (String, String)> {
        let (schema, registry) = &*schema_of::<Outer>();
        check_schema(&value, schema, registry, &mut String::new())
    }

    #[test]
    fn strings_must_be_strings_at_any_depth() {
        assert!(check(json!({"name": "a", "tags": ["x"], "inner": {"label": "l"}})).is_ok());
        assert_eq!(
            check(json!({"name": true, "tags": []})).unwrap_err().0,
            "name"
        );
        assert_eq!(
            check(json!({"name": "a", "tags": ["x", 1]})).unwrap_err().0,
            "tags[1]"
        );
        assert_eq!(
            check(json!({"name": "a", "tags": [], "inner": {"label": 1e308}}))
                .unwrap_err()
                .0,
            "inner.label"
        );
        // Free-form values and numbers where numbers belong are left alone.
        assert!(check(json!({"name": "a", "tags": [], "count": 3, "free": {"k": 1}})).is_ok());
    }

    #[test]
    fn null_is_refused_where_the_document_does_not_allow_it() {
        assert_eq!(
            check(json!({"name": "a", "tags": null})).unwrap_err(),
            ("tags".to_owned(), "tags must not be null".to_owned())
        );
        assert_eq!(
            check(json!({"name": "a", "tags": [], "count": null}))
                .unwrap_err()
                .0,
            "count"
        );
        assert_eq!(
            check(json!({"name": "a", "tags": [], "inner": {"label": null}}))
                .unwrap_err()
                .0,
            "inner.label"
        );
        assert!(check(json!({"name": "a", "tags": [], "free": null})).is_ok());
        assert!(check(json!({"name": "a", "tags": [], "maybe": null})).is_ok());
    }

    #[test]
    fn the_documented_length_and_pattern_are_enforced_naming_the_field() {
        assert!(check(json!({"name": "a", "tags": [], "code": "abc", "words": [" ok "]})).is_ok());
        assert_eq!(
            check(json!({"name": "a", "tags": [], "code": "abc1"}))
                .unwrap_err()
                .0,
            "code"
        );
        assert_eq!(
            check(json!({"name": "a", "tags": [], "code": "abcdef"}))
                .unwrap_err()
                .0,
            "code"
        );
        assert_eq!(
            check(json!({"name": "a", "tags": [], "words": ["ok", "a b"]}))
                .unwrap_err()
                .0,
            "words[1]"
        );
        assert_eq!(
            check(json!({"name": "a", "tags": [], "words": ["abcde"]}))
                .unwrap_err()
                .0,
            "words[0]"
        );
    }

    #[test]
    fn a_nul_anywhere_names_its_field() {
        assert_eq!(check(json!({"name": "a\u{0}b"})).unwrap_err().0, "name");
        assert_eq!(
            check(json!({"name": "a", "free": {"k": ["ok", "x\u{0}"]}}))
                .unwrap_err()
                .0,
            "free.k[1]"
        );
        assert_eq!(
            check(json!({"name": "a", "free": {"bad\u{0}key": 1}}))
                .unwrap_err()
                .0,
            "free.bad\\u0000key"
        );
        assert_eq!(
            check(json!({"name": "a", "tags": [], "inner": {"label": "l\u{0}"}}))
                .unwrap_err()
                .0,
            "inner.label"
        );
    }

    #[test]
    fn an_unknown_field_is_ignored_whatever_it_holds() {
        assert!(check(json!({"name": "a", "tags": [], "later": "x\u{0}"})).is_ok());
        assert!(check(json!({"name": "a", "tags": [], "l\u{0}ater": ["\u{0}"]})).is_ok());
        assert!(
            check(json!({"name": "a", "tags": [], "inner": {"label": "l", "more": "\u{0}"}}))
                .is_ok()
        );
    }
}

#[cfg(test)]
mod plain_words {
    use super::plain_validation;

    #[test]
    fn validator_refusals_read_as_rules() {
        let refused = "failed to parse \"CalendarRequest\": field `channels` verification failed. minItems(1)";
        assert_eq!(
            plain_validation("channels", refused).as_deref(),
            Some("channels must have at least 1 item")
        );
        let refused = "field `limit` verification failed. maximum(100)";
        assert_eq!(
            plain_validation("limit", refused).as_deref(),
            Some("limit must be at most 100")
        );
        assert_eq!(plain_validation("x", "something else"), None);
    }
}
