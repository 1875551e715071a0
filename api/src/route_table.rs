//! The route table: every route of the OpenAPI document and the undocumented ones, with
//! its methods, whether each takes a body, which take no credentials and the scope each
//! needs of an API key and the role each needs of a member.

use std::sync::LazyLock;

use almanac_shared::{api_keys::Scope, workspaces::Role};
use poem::http::{HeaderValue, Method};

use crate::{roles::ROLE_EXTENSION, scopes::SCOPE_EXTENSION};

/// Where the MCP server answers (`crate::mcp`): no operation of the document, its own label.
pub const MCP_PATH: &str = "/mcp";

/// A route of the API: its template, its segments (parameters as `{name}`) and the methods
/// it serves, each with whether its operation takes a request body.
pub(crate) struct RouteEntry {
    pub(crate) template: String,
    pub(crate) segments: Vec<String>,
    pub(crate) methods: Vec<(String, bool)>,
    /// The methods whose operation takes no credentials (an OAuth callback, health).
    pub(crate) public: Vec<String>,
    /// The methods whose operation takes an API key, with the scope it needs.
    pub(crate) scopes: Vec<(String, Scope)>,
    /// The methods whose operation acts in a workspace, with the role it needs there.
    pub(crate) roles: Vec<(String, Role)>,
    /// Each documented method's `operationId`.
    pub(crate) operations: Vec<(String, String)>,
}

/// Every route: the OpenAPI document's, plus the undocumented ones.
pub(crate) static ROUTES: LazyLock<Vec<RouteEntry>> = LazyLock::new(|| {
    let spec: serde_json::Value =
        serde_json::from_str(crate::contract::json()).expect("the spec is JSON");
    let mut routes: Vec<RouteEntry> = spec["paths"]
        .as_object()
        .into_iter()
        .flatten()
        .map(|(path, item)| {
            let methods = item
                .as_object()
                .into_iter()
                .flatten()
                .map(|(method, operation)| {
                    let body = operation.get("requestBody").is_some();
                    (method.to_ascii_uppercase(), body)
                })
                .collect();
            let public = item
                .as_object()
                .into_iter()
                .flatten()
                .filter(|(_, operation)| operation["security"].as_array().is_none_or(Vec::is_empty))
                .map(|(method, _)| method.to_ascii_uppercase())
                .collect();
            let scopes = item
                .as_object()
                .into_iter()
                .flatten()
                .filter_map(|(method, operation)| {
                    let scope = Scope::parse(operation[SCOPE_EXTENSION].as_str()?)?;
                    Some((method.to_ascii_uppercase(), scope))
                })
                .collect();
            let roles = item
                .as_object()
                .into_iter()
                .flatten()
                .filter_map(|(method, operation)| {
                    let role = Role::parse(operation[ROLE_EXTENSION].as_str()?)?;
                    Some((method.to_ascii_uppercase(), role))
                })
                .collect();
            let operations = item
                .as_object()
                .into_iter()
                .flatten()
                .filter_map(|(method, operation)| {
                    let id = operation["operationId"].as_str()?;
                    Some((method.to_ascii_uppercase(), id.to_owned()))
                })
                .collect();
            RouteEntry {
                public,
                scopes,
                roles,
                operations,
                ..RouteEntry::new(path, methods)
            }
        })
        .collect();
    let undocumented: [(&str, &[(&str, bool)]); 7] = [
        ("/openapi.json", &[("GET", false)]),
        ("/docs", &[("GET", false)]),
        ("/metrics", &[("GET", false)]),
        ("/app/config.json", &[("GET", false)]),
        ("/app/dev-login", &[("POST", true)]),
        ("/app/admin-session", &[("POST", true), ("DELETE", false)]),
        (
            "/app/session",
            &[("GET", false), ("POST", true), ("DELETE", false)],
        ),
    ];
    for (path, methods) in undocumented {
        let methods = methods
            .iter()
            .map(|(m, body)| ((*m).into(), *body))
            .collect();
        routes.push(RouteEntry::new(path, methods));
    }
    routes
});

impl RouteEntry {
    pub(crate) fn new(template: &str, methods: Vec<(String, bool)>) -> Self {
        Self {
            template: template.to_owned(),
            segments: segments(template).map(str::to_owned).collect(),
            methods,
            public: Vec::new(),
            scopes: Vec::new(),
            roles: Vec::new(),
            operations: Vec::new(),
        }
    }

    /// The `operationId` of `method` here (`HEAD` as `GET`).
    pub(crate) fn operation(&self, method: &Method) -> Option<&str> {
        let method = documented(method);
        self.operations
            .iter()
            .find(|(m, _)| m == method)
            .map(|(_, id)| id.as_str())
    }

    /// The role a member needs for `method` here (`HEAD` as `GET`); `None` where the
    /// operation acts in no workspace.
    pub(crate) fn role(&self, method: &Method) -> Option<Role> {
        let method = documented(method);
        self.roles
            .iter()
            .find(|(m, _)| m == method)
            .map(|(_, role)| *role)
    }

    /// The scope an API key needs for `method` here (`HEAD` as `GET`); `None` where the
    /// operation takes no key.
    pub(crate) fn scope(&self, method: &Method) -> Option<Scope> {
        let method = documented(method);
        self.scopes
            .iter()
            .find(|(m, _)| m == method)
            .map(|(_, scope)| *scope)
    }

    /// Whether the route serves `method` (`HEAD` where it serves `GET`).
    pub(crate) fn serves(&self, method: &Method) -> bool {
        self.methods
            .iter()
            .any(|(m, _)| m == method.as_str() || (method == Method::HEAD && m.as_str() == "GET"))
    }

    /// Whether the operation at `method` here takes no credentials.
    pub(crate) fn is_public(&self, method: &Method) -> bool {
        self.public.iter().any(|m| m == method.as_str())
    }

    /// The name of each parameter with the (percent-encoded) segment of `path` it takes.
    pub(crate) fn parameters<'p>(&self, path: &'p str) -> impl Iterator<Item = (&str, &'p str)> {
        self.segments
            .iter()
            .zip(segments(path))
            .filter_map(|(template, given)| {
                let name = template.strip_prefix('{')?.strip_suffix('}')?;
                Some((name, given))
            })
    }
}

/// The document's name of the operation `method` reaches (`HEAD` is `GET`'s).
fn documented(method: &Method) -> &str {
    if method == Method::HEAD {
        "GET"
    } else {
        method.as_str()
    }
}

pub(crate) fn segments(path: &str) -> impl Iterator<Item = &str> {
    path.trim_end_matches('/').split('/')
}

/// The route `path` matches (a literal segment wins over a parameter: `/api/cards/export`
/// over `/api/cards/{id}`).
pub(crate) fn route(path: &str) -> Option<&'static RouteEntry> {
    let wanted: Vec<&str> = segments(path).collect();
    ROUTES
        .iter()
        .filter(|route| {
            route.segments.len() == wanted.len()
                && route
                    .segments
                    .iter()
                    .zip(&wanted)
                    .all(|(t, w)| t == w || (t.starts_with('{') && !w.is_empty()))
        })
        .min_by_key(|route| route.segments.iter().filter(|t| t.starts_with('{')).count())
}

/// Whether the documented operation at `method` `path` takes no credentials: a session
/// cookie that comes along is no concern of it.
pub fn takes_no_credentials(method: &Method, path: &str) -> bool {
    route(path).is_some_and(|route| route.is_public(method))
}

/// The methods of the route `path` matches.
pub(crate) fn route_methods(path: &str) -> Option<&'static [(String, bool)]> {
    route(path).map(|route| route.methods.as_slice())
}

/// `Allow` for a path: the methods of its route.
pub(crate) fn allowed_methods(path: &str) -> Option<HeaderValue> {
    let methods: Vec<&str> = route_methods(path)?
        .iter()
        .map(|(method, _)| method.as_str())
        .collect();
    HeaderValue::from_str(&methods.join(", ")).ok()
}

/// Whether the operation at `method` `path` reads a request body (true for a request that
/// matches no operation: its body is refused like any other).
#[cfg(test)]
pub(crate) fn takes_body(method: &str, path: &str) -> bool {
    route_takes_body(route(path), method)
}

/// [`takes_body`] of a request whose route was looked up already.
pub(crate) fn route_takes_body(route: Option<&'static RouteEntry>, method: &str) -> bool {
    route
        .and_then(|route| route.methods.iter().find(|(m, _)| m == method))
        .is_none_or(|(_, body)| *body)
}
