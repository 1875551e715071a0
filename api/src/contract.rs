//! The OpenAPI document as served (`/openapi.json`, `/docs`) and committed
//! (`docs/api/openapi.yaml`): what poem-openapi derives from the routes, finished with the
//! rule every string of this API follows and no derive can state: it never holds U+0000.
//! The strict body refuses a NUL anywhere (`crate::body`), the middleware in a path or a
//! query, and Postgres could not store one; a client or a fuzzer reading the document
//! knows it too:
//!
//! - every string schema with no `enum`, `format` or `pattern` of its own gets
//!   [`NO_NUL`] (the patterns the code states exclude it themselves, `crate::text`);
//! - every free-form object (a value of any shape, or a map whose keys are the client's,
//!   such as `constraints` or `metadata`) says in its description that strings inside it,
//!   its keys included, may not hold U+0000. The rule is said, not declared: OpenAPI 3.0
//!   has no `propertyNames`, and a strict validator refuses a document using it; the
//!   server enforces the rule.
//!
//! It also states, for every operation an API key may call (those with `ApiKeyAuth`), the
//! scope it needs (`x-almanac-scope`, by [`crate::scopes::scope_for`]; the key's check
//! reads it back through the route table) and the 403 `INSUFFICIENT_SCOPE` a key without
//! it meets; and for every user operation (a person's credentials) the role it needs in
//! the workspace it acts in (`x-almanac-role`, by [`crate::roles::role_for`]), the
//! `Almanac-Workspace` header that chooses the workspace, and the 403 `ROLE_REQUIRED` a
//! member short of the role meets.
//!
//! The document is walked in the order poem-openapi wrote it (a YAML mapping keeps its
//! order), so the committed file reads as before.

use std::sync::LazyLock;

use poem_openapi::OpenApiService;
use serde_yaml::{Mapping, Value};

use crate::routes::{
    admin::{AdminApi, ConsoleApi},
    analytics::AnalyticsApi,
    api_keys::ApiKeysApi,
    calendar_generation::{CalendarGenerationApi, ContinueApi},
    cards::CardsApi,
    client_review::{GuestReviewApi, ReviewLinkApi},
    comments::CommentApi,
    generations::GenerationsApi,
    health::HealthApi,
    jobs::JobsApi,
    me::MeApi,
    media::MediaApi,
    notifications::NotificationApi,
    organic::{
        OrganicBrandsApi, OrganicDraftsApi, OrganicGenerateApi, OrganicLibraryApi, OrganicWeeksApi,
    },
    platforms::PlatformsApi,
    posts::PostsApi,
    publishing::{ChannelsApi, EvergreenApi, PublishApi, QueueApi, QuotaApi, SlotsApi},
    review::ReviewApi,
    saved_calendars::{SavedCalendarsApi, feed::CalendarFeedApi, live::CalendarLiveApi},
    schedules::SchedulesApi,
    suggestions::SuggestionsApi,
    themes::ThemesApi,
    unsubscribe::UnsubscribeApi,
    usage::UsageApi,
    webhooks::WebhooksApi,
    workspaces::{WorkspacesApi, activity::ActivityApi, invitations::InvitationsApi},
};

/// Every operation of the API, by family (nested so that the tuple has `Default`).
pub type Apis = (
    HealthApi,
    (GenerationsApi, SuggestionsApi, CardsApi),
    JobsApi,
    (
        CalendarGenerationApi,
        ContinueApi,
        SavedCalendarsApi,
        CalendarFeedApi,
        CalendarLiveApi,
        PostsApi,
    ),
    (ThemesApi, SchedulesApi, UnsubscribeApi),
    (
        OrganicBrandsApi,
        OrganicLibraryApi,
        OrganicGenerateApi,
        OrganicWeeksApi,
        OrganicDraftsApi,
    ),
    (
        ChannelsApi,
        SlotsApi,
        QueueApi,
        QuotaApi,
        EvergreenApi,
        PublishApi,
        PlatformsApi,
        MediaApi,
    ),
    (
        AdminApi,
        ConsoleApi,
        UsageApi,
        WebhooksApi,
        ApiKeysApi,
        MeApi,
    ),
    (WorkspacesApi, InvitationsApi, ActivityApi, ReviewApi),
    (ReviewLinkApi, GuestReviewApi, CommentApi, NotificationApi),
    AnalyticsApi,
);

/// The OpenAPI service: the source of `/openapi.json` and `docs/api/openapi.yaml`.
pub fn openapi_service() -> OpenApiService<Apis, ()> {
    OpenApiService::new(Apis::default(), "Almanac API", env!("CARGO_PKG_VERSION")).description(
        "Almanac runs AI content work: submit a job, then poll it or stream its progress. \
         Authenticate with `Authorization: Bearer <JWT>` (HS256, `aud = authenticated`), \
         or with a personal API key, `Authorization: Bearer alm_…` (`POST /v1/api-keys`), \
         within its scopes: each operation names the one it needs in `x-almanac-scope`. \
         Errors are JSON: `{\"data\": null, \"error\": {\"code\", \"message\", \"details\"?}, \
         \"meta\": {\"requestId\"}}`.",
    )
}

/// The finished document, as `docs/api/openapi.yaml` holds it.
pub fn openapi_yaml() -> String {
    yaml()
}

/// A string without U+0000, as a pattern ECMA 262, Python's `re` and Rust's `regex` read
/// alike.
pub const NO_NUL: &str = r"^[^\u0000]*$";

/// What a free-form object's description gains.
const FREE_FORM_NOTE: &str =
    "Strings inside it, its keys included, may not hold U+0000 (the NUL character).";

/// The finished document.
static DOCUMENT: LazyLock<Value> = LazyLock::new(|| {
    let derived = openapi_service().spec();
    // JSON is YAML: read in order.
    let mut document: Value = serde_yaml::from_str(&derived).expect("the derived spec is JSON");
    finish(&mut document);
    document
});

/// The document as JSON, written once.
static JSON: LazyLock<String> =
    LazyLock::new(|| serde_json::to_string_pretty(&*DOCUMENT).expect("the document serialises"));

/// The document, as JSON (what `/openapi.json` and `/docs` serve, and the route table reads).
pub fn json() -> &'static str {
    &JSON
}

/// The document, as YAML (`docs/api/openapi.yaml`, `almanac-api openapi`).
pub fn yaml() -> String {
    serde_yaml::to_string(&*DOCUMENT).expect("the document serialises")
}

/// The operations whose request body may hold a value of any shape (a calendar's
/// `constraints`, a seed's `metadata`): no schema can keep U+0000 out of the strings inside
/// such a value, so the fuzzer gate is told not to put it there (`tests/fuzz/`).
pub fn operations_with_free_form_bodies() -> Vec<String> {
    let document = &*DOCUMENT;
    let named = &document["components"]["schemas"];
    let mut found = Vec::new();
    for (_, item) in document["paths"].as_mapping().into_iter().flatten() {
        for (_, operation) in item.as_mapping().into_iter().flatten() {
            let holds_any = operation["requestBody"]["content"]
                .as_mapping()
                .into_iter()
                .flatten()
                .any(|(_, media)| holds_any_value(&media["schema"], false, named, &mut Vec::new()));
            if let (true, Some(id)) = (holds_any, operation["operationId"].as_str()) {
                found.push(id.to_owned());
            }
        }
    }
    found
}

/// Whether a value of `schema` may hold, somewhere, a value of any shape (`part`: one part
/// of an `allOf`, as in [`refine`]).
fn holds_any_value<'a>(
    schema: &'a Value,
    part: bool,
    named: &'a Value,
    seen: &mut Vec<&'a str>,
) -> bool {
    let Some(map) = schema.as_mapping() else {
        return false;
    };
    if let Some(target) = text(map, "$ref") {
        let name = target.rsplit('/').next().unwrap_or_default();
        if seen.contains(&name) {
            return false;
        }
        seen.push(name);
        return holds_any_value(&named[name], false, named, seen);
    }
    if !part && text(map, "type").is_none() && free_form(map) {
        return true;
    }
    let sequence = |key: &str| {
        map.get(key)
            .and_then(Value::as_sequence)
            .into_iter()
            .flatten()
    };
    if sequence("allOf").any(|part| holds_any_value(part, true, named, seen)) {
        return true;
    }
    let properties = map
        .get("properties")
        .and_then(Value::as_mapping)
        .into_iter()
        .flatten()
        .map(|(_, property)| property);
    let inner = ["items", "additionalProperties"]
        .iter()
        .filter_map(|key| map.get(*key));
    sequence("oneOf")
        .chain(sequence("anyOf"))
        .chain(properties)
        .chain(inner)
        .any(|inner| holds_any_value(inner, false, named, seen))
}

/// Applies the module's rules to every schema of `document`: each operation's parameters,
/// bodies and answers (headers included), and the named schemas.
fn finish(document: &mut Value) {
    workspace_parameter(document);
    if let Some(paths) = document.get_mut("paths").and_then(Value::as_mapping_mut) {
        for (path, item) in paths.iter_mut() {
            let path = path.as_str().unwrap_or_default();
            for (method, operation) in item.as_mapping_mut().into_iter().flatten() {
                operation_schemas(operation);
                key_scope(method.as_str().unwrap_or_default(), path, operation);
                workspace_role(method.as_str().unwrap_or_default(), path, operation);
            }
        }
    }
    if let Some(schemas) = document
        .get_mut("components")
        .and_then(|c| c.get_mut("schemas"))
        .and_then(Value::as_mapping_mut)
    {
        for (name, named) in schemas.iter_mut() {
            schema(named);
            if name.as_str().is_some_and(|name| CLOSED.contains(&name))
                && let Some(object) = named.as_mapping_mut()
            {
                object.insert("additionalProperties".into(), Value::Bool(false));
            }
        }
        if let Some(code) = schemas
            .get_mut("ErrorDetail")
            .and_then(|detail| detail.get_mut("properties"))
            .and_then(|properties| properties.get_mut("code"))
            .and_then(Value::as_mapping_mut)
        {
            code.insert(ERROR_CODES.into(), error_codes());
        }
    }
}

/// The extension on `ErrorDetail.code` that lists every code and what it means.
pub const ERROR_CODES: &str = "x-almanac-error-codes";

/// The catalogue of error codes ([`crate::error_codes::CATALOGUE`]), as the document lists it.
fn error_codes() -> Value {
    Value::Mapping(
        crate::error_codes::CATALOGUE
            .iter()
            .map(|(code, meaning)| (Value::from(*code), Value::from(*meaning)))
            .collect(),
    )
}

/// Bodies whose unknown fields are refused (400 naming the field), and documented so: a
/// bulk action's filter with a misspelt field must not act on more jobs than meant.
const CLOSED: [&str; 1] = ["BulkRequest"];

/// The security scheme of API keys.
const KEY_SCHEME: &str = "ApiKeyAuth";

/// What a 403 says on an operation that answers none of its own.
const SCOPE_REFUSAL: &str = "An API key without the scope this operation needs \
     (`INSUFFICIENT_SCOPE`; `details.scope` names it).";

/// An operation a key may call: the scope it needs, and the 403 a key without it meets.
fn key_scope(method: &str, path: &str, operation: &mut Value) {
    let takes_keys = operation["security"]
        .as_sequence()
        .into_iter()
        .flatten()
        .any(|requirement| requirement.get(KEY_SCHEME).is_some());
    let Some(operation) = operation.as_mapping_mut().filter(|_| takes_keys) else {
        return;
    };
    let scope = crate::scopes::scope_for(method, path);
    operation.insert(crate::scopes::SCOPE_EXTENSION.into(), scope.as_str().into());
    let Some(responses) = operation
        .get_mut("responses")
        .and_then(Value::as_mapping_mut)
    else {
        return;
    };
    add_refusal(responses, "403", SCOPE_REFUSAL);
}

/// Documents the refusal `status` (an error envelope, as the 401 every such operation has)
/// unless the operation documents it already; in the order of statuses.
fn add_refusal(responses: &mut Mapping, status: &str, description: &str) {
    if responses.contains_key(status) {
        return;
    }
    let Some(mut refusal) = responses.get("401").cloned() else {
        return;
    };
    refusal["description"] = description.into();
    let mut ordered = Mapping::new();
    let mut placed = false;
    for (known, response) in std::mem::take(responses) {
        if !placed && known.as_str().is_some_and(|known| known > status) {
            ordered.insert(status.into(), refusal.clone());
            placed = true;
        }
        ordered.insert(known, response);
    }
    if !placed {
        ordered.insert(status.into(), refusal);
    }
    *responses = ordered;
}

/// The schemes a person's own credentials travel in: an operation taking one is a user
/// operation, acting in a workspace.
const PERSON_SCHEMES: [&str; 2] = ["BearerAuth", "SessionAuth"];

/// What a 403 says about roles.
const ROLE_REFUSAL: &str = "Your role in this workspace does not allow this \
     (`ROLE_REQUIRED`; `details.role` names the role it needs).";

/// The header choosing the workspace a list or a creation acts in.
const WORKSPACE_HEADER: &str = "Almanac-Workspace";

/// The header's parameter, once in `components.parameters`.
const WORKSPACE_PARAMETER: &str = "AlmanacWorkspace";

/// `components.parameters`: the `Almanac-Workspace` header every user operation takes.
fn workspace_parameter(document: &mut Value) {
    let parameter: Value = serde_yaml::from_str(&format!(
        "{{name: {WORKSPACE_HEADER}, in: header, required: false, \
         description: \"The workspace a list or a creation acts in (its id, as GET \
         /v1/workspaces lists them); without it, your personal workspace. An operation on one \
         resource acts in the resource's workspace. Not a UUID: 400 `VALIDATION_FAILED`; not a \
         member: 404 `WORKSPACE_NOT_FOUND`.\", \
         schema: {{type: string, format: uuid}}}}"
    ))
    .expect("the header's parameter is YAML");
    if let Some(components) = document
        .get_mut("components")
        .and_then(Value::as_mapping_mut)
    {
        let parameters = components
            .entry("parameters".into())
            .or_insert_with(|| Value::Mapping(Mapping::new()));
        if let Some(parameters) = parameters.as_mapping_mut() {
            parameters.insert(WORKSPACE_PARAMETER.into(), parameter);
        }
    }
}

/// A user operation: the role it needs, the header choosing its workspace and the 403 a
/// member short of the role meets.
fn workspace_role(method: &str, path: &str, operation: &mut Value) {
    let is_users = operation["security"]
        .as_sequence()
        .into_iter()
        .flatten()
        .any(|requirement| PERSON_SCHEMES.iter().any(|s| requirement.get(*s).is_some()));
    let Some(operation) = operation.as_mapping_mut().filter(|_| is_users) else {
        return;
    };
    let role = crate::roles::role_for(method, path);
    operation.insert(crate::roles::ROLE_EXTENSION.into(), role.as_str().into());
    let header: Value = serde_yaml::from_str(&format!(
        "{{$ref: '#/components/parameters/{WORKSPACE_PARAMETER}'}}"
    ))
    .expect("the header's reference is YAML");
    let parameters = operation
        .entry("parameters".into())
        .or_insert_with(|| Value::Sequence(Vec::new()));
    if let Some(parameters) = parameters.as_sequence_mut() {
        parameters.push(header);
    }
    let Some(responses) = operation
        .get_mut("responses")
        .and_then(Value::as_mapping_mut)
    else {
        return;
    };
    // A reader's operation refuses no role.
    if role > almanac_shared::workspaces::Role::Viewer {
        match responses.get_mut("403") {
            Some(refusal) => {
                let said = refusal["description"].as_str().unwrap_or_default();
                refusal["description"] = format!("{said} Or: {ROLE_REFUSAL}").into();
            }
            None => add_refusal(responses, "403", ROLE_REFUSAL),
        }
    }
    add_refusal(responses, "400", WORKSPACE_MALFORMED);
    add_refusal(responses, "404", WORKSPACE_UNKNOWN);
}

/// What a 400 says on an operation that answers none of its own.
const WORKSPACE_MALFORMED: &str = "`Almanac-Workspace` is not a workspace's id \
     (`VALIDATION_FAILED`, `details.field: \"Almanac-Workspace\"`).";

/// What a 404 says on an operation that answers none of its own.
const WORKSPACE_UNKNOWN: &str = "You are not a member of the workspace `Almanac-Workspace` \
     names (`WORKSPACE_NOT_FOUND`).";

fn operation_schemas(operation: &mut Value) {
    let operation_id = operation["operationId"].as_str().map(str::to_owned);
    let operation_id = operation_id.as_deref();
    for parameter in operation
        .get_mut("parameters")
        .and_then(Value::as_sequence_mut)
        .into_iter()
        .flatten()
    {
        if let Some(s) = parameter.get_mut("schema") {
            schema(s);
        }
    }
    if let Some(body) = operation.get_mut("requestBody") {
        content_schemas(body);
        // An upload's parts are the ones named (`file` and `altText`).
        if operation_id == Some("uploadMedia")
            && let Some(form) = body
                .get_mut("content")
                .and_then(|c| c.get_mut("multipart/form-data"))
                .and_then(|m| m.get_mut("schema"))
                .and_then(Value::as_mapping_mut)
        {
            form.insert("additionalProperties".into(), Value::Bool(false));
        }
    }
    for (_, answer) in operation
        .get_mut("responses")
        .and_then(Value::as_mapping_mut)
        .into_iter()
        .flatten()
    {
        content_schemas(answer);
        for (_, header) in answer
            .get_mut("headers")
            .and_then(Value::as_mapping_mut)
            .into_iter()
            .flatten()
        {
            if let Some(s) = header.get_mut("schema") {
                schema(s);
            }
        }
    }
}

/// The schemas of a body's or an answer's media types.
fn content_schemas(holder: &mut Value) {
    for (_, media) in holder
        .get_mut("content")
        .and_then(Value::as_mapping_mut)
        .into_iter()
        .flatten()
    {
        if let Some(s) = media.get_mut("schema") {
            schema(s);
        }
    }
}

fn text<'a>(node: &'a Mapping, key: &str) -> Option<&'a str> {
    node.get(key).and_then(Value::as_str)
}

/// One schema and those inside it.
fn schema(node: &mut Value) {
    refine(node, false);
}

/// One schema, or one part of an `allOf` (`part`: a property's description or
/// nullability beside its type's `$ref`, which is no free-form value of its own), and those
/// inside it.
fn refine(node: &mut Value, part: bool) {
    let Some(map) = node.as_mapping_mut() else {
        return;
    };
    let plain_string = text(map, "type") == Some("string")
        && !["enum", "format", "pattern"]
            .iter()
            .any(|key| map.contains_key(*key));
    if plain_string {
        map.insert("pattern".into(), NO_NUL.into());
    }
    if !part && free_form(map) {
        let description = match text(map, "description") {
            Some(said) => format!("{} {FREE_FORM_NOTE}", said.trim_end()),
            None => FREE_FORM_NOTE.to_owned(),
        };
        map.insert("description".into(), description.into());
    }
    for key in ["items", "additionalProperties", "not"] {
        if let Some(inner) = map.get_mut(key) {
            schema(inner);
        }
    }
    for key in ["allOf", "oneOf", "anyOf"] {
        for inner in map
            .get_mut(key)
            .and_then(Value::as_sequence_mut)
            .into_iter()
            .flatten()
        {
            refine(inner, key == "allOf");
        }
    }
    for (_, property) in map
        .get_mut("properties")
        .and_then(Value::as_mapping_mut)
        .into_iter()
        .flatten()
    {
        schema(property);
    }
}

/// Whether a schema lets the client choose an object's keys: a value of any shape (no
/// type, no reference, no composition), or an object of `additionalProperties` alone.
fn free_form(map: &Mapping) -> bool {
    let shaped = [
        "$ref",
        "allOf",
        "oneOf",
        "anyOf",
        "enum",
        "properties",
        "items",
    ]
    .iter()
    .any(|key| map.contains_key(*key));
    match text(map, "type") {
        None => !shaped,
        Some("object") => {
            !shaped
                && map
                    .get("additionalProperties")
                    .is_some_and(|a| a != &Value::Bool(false))
        }
        Some(_) => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_strings_and_free_form_objects_learn_the_rule_and_nothing_else_changes() {
        let mut document: Value = serde_yaml::from_str(
            r#"
paths:
  /x/{id}:
    post:
      parameters:
      - name: id
        in: path
        schema: { type: string }
      - name: day
        in: query
        schema: { type: string, pattern: '^[0-9]+$' }
      requestBody:
        content:
          application/json:
            schema:
              type: object
              properties:
                kind: { type: string, enum: [a, b] }
                at: { type: string, format: date-time }
                note: { type: string, maxLength: 3 }
                tags: { type: array, items: { type: string } }
                constraints: { nullable: true, description: Anything. }
                accounts: { type: object, additionalProperties: { type: string } }
                ref: { $ref: '#/components/schemas/Y' }
                described: { allOf: [{ $ref: '#/components/schemas/Y' }, { nullable: true, description: Said. }] }
      responses:
        '200':
          headers:
            ETag: { schema: { type: string } }
          content:
            text/csv:
              schema: { type: string }
components:
  schemas:
    Y:
      type: object
      properties:
        name: { type: string }
        detail: {}
"#,
        )
        .unwrap();
        finish(&mut document);
        let op = &document["paths"]["/x/{id}"]["post"];
        assert_eq!(op["parameters"][0]["schema"]["pattern"], NO_NUL);
        assert_eq!(op["parameters"][1]["schema"]["pattern"], "^[0-9]+$");
        let body = &op["requestBody"]["content"]["application/json"]["schema"]["properties"];
        assert!(body["kind"].get("pattern").is_none());
        assert!(body["at"].get("pattern").is_none());
        assert_eq!(body["note"]["pattern"], NO_NUL);
        assert_eq!(body["note"]["maxLength"], 3);
        assert_eq!(body["tags"]["items"]["pattern"], NO_NUL);
        assert!(body["constraints"].get("propertyNames").is_none());
        assert_eq!(
            body["constraints"]["description"],
            format!("Anything. {FREE_FORM_NOTE}")
        );
        assert!(body["accounts"].get("propertyNames").is_none());
        assert_eq!(body["accounts"]["additionalProperties"]["pattern"], NO_NUL);
        assert!(body["ref"].get("propertyNames").is_none());
        assert_eq!(
            body["described"]["allOf"][1],
            serde_yaml::from_str::<Value>("{ nullable: true, description: Said. }").unwrap(),
            "a part of an allOf is no value of its own"
        );
        assert_eq!(
            op["responses"]["200"]["headers"]["ETag"]["schema"]["pattern"],
            NO_NUL
        );
        assert_eq!(
            op["responses"]["200"]["content"]["text/csv"]["schema"]["pattern"],
            NO_NUL
        );
        let named = &document["components"]["schemas"]["Y"];
        assert!(named.get("propertyNames").is_none(), "a shaped object");
        assert_eq!(named["properties"]["name"]["pattern"], NO_NUL);
        assert_eq!(
            named["properties"]["detail"]["description"], FREE_FORM_NOTE,
            "a free-form object says the rule"
        );
        // The order poem-openapi wrote is kept.
        let keys: Vec<&str> = body
            .as_mapping()
            .unwrap()
            .keys()
            .map(|k| k.as_str().unwrap())
            .collect();
        assert_eq!(
            keys,
            [
                "kind",
                "at",
                "note",
                "tags",
                "constraints",
                "accounts",
                "ref",
                "described"
            ]
        );
    }

    #[test]
    fn the_rule_reads_alike_in_rust() {
        let rule = regex::Regex::new(NO_NUL).unwrap();
        assert!(rule.is_match("plain text, é and 🎉"));
        assert!(rule.is_match(""));
        assert!(!rule.is_match("a\0b"));
    }
}
