//! The MCP handler: the server's description, its tools and the calendars as resources
//! (`almanac://calendars/{id}`), each call made as the caller the transport authenticated
//! ([`super::Caller`], carried in the HTTP request's extensions).

use std::sync::Arc;

use poem::http::Method;
use rmcp::{
    ErrorData, RoleServer, ServerHandler,
    model::{
        CallToolRequestParams, CallToolResponse, CallToolResult, ContentBlock,
        ListResourceTemplatesResult, ListResourcesResult, ListToolsResult, PaginatedRequestParams,
        ReadResourceRequestParams, ReadResourceResponse, ReadResourceResult, ResourceContents,
        ServerCapabilities, ServerConfig, Tool,
    },
    service::RequestContext,
};
use serde_json::{Value, json};

use super::{
    Caller,
    api::{Api, ApiHandle, Failure},
    catalogue,
    progress::Progress,
    tools,
};
use crate::state::AppState;

/// The scheme of the calendars' resources.
const CALENDAR_URI: &str = "almanac://calendars/";

#[derive(Clone)]
pub(crate) struct Server {
    api: ApiHandle,
    state: AppState,
    tools: Arc<Vec<Tool>>,
}

impl Server {
    pub(crate) fn new(state: AppState, api: ApiHandle) -> Self {
        let tools = catalogue::tools()
            .into_iter()
            .map(|tool| serde_json::from_value(tool).expect("every tool is an MCP tool"))
            .collect();
        Self {
            api,
            state,
            tools: Arc::new(tools),
        }
    }
}

fn caller(context: &RequestContext<RoleServer>) -> Result<Caller, ErrorData> {
    context
        .extensions
        .get::<http::request::Parts>()
        .and_then(|parts| parts.extensions.get::<Caller>())
        .cloned()
        .ok_or_else(|| ErrorData::internal_error("the request carries no caller", None))
}

/// A tool's failure as its result: the API's error (`code`, `message`, `details`).
fn failed(failure: Failure) -> CallToolResult {
    let text = format!(
        "{}: {}",
        failure.code(),
        failure.body["message"].as_str().unwrap_or_default()
    );
    let mut result = CallToolResult::error(vec![ContentBlock::text(text)]);
    result.structured_content = Some(json!({ "error": failure.body, "status": failure.status }));
    result
}

fn succeeded(value: Value) -> CallToolResult {
    let text = serde_json::to_string(&value).unwrap_or_default();
    let mut result = CallToolResult::success(vec![ContentBlock::text(text)]);
    result.structured_content = Some(match value {
        Value::Object(_) => value,
        other => json!({ "result": other }),
    });
    result
}

impl ServerHandler for Server {
    fn get_info(&self) -> ServerConfig {
        let capabilities = ServerCapabilities::builder()
            .enable_tools()
            .enable_resources()
            .build();
        ServerConfig::new(capabilities).with_instructions(
            "Almanac plans content calendars, organic weeks, flashcards and news syntheses, \
             and publishes calendar entries to social networks at most once. Plan with \
             plan_calendar, check with dry_run_publish, publish with an idempotencyKey, then \
             follow each intent with get_publish_receipt: its status says whether the post \
             went out once, failed, or is being settled without posting again.",
        )
    }

    async fn list_tools(
        &self,
        _request: Option<PaginatedRequestParams>,
        _context: RequestContext<RoleServer>,
    ) -> Result<ListToolsResult, ErrorData> {
        Ok(ListToolsResult::with_all_items(self.tools.as_ref().clone()))
    }

    fn get_tool(&self, name: &str) -> Option<Tool> {
        self.tools.iter().find(|tool| tool.name == name).cloned()
    }

    async fn call_tool(
        &self,
        request: CallToolRequestParams,
        context: RequestContext<RoleServer>,
    ) -> Result<CallToolResponse, ErrorData> {
        let caller = caller(&context)?;
        let api = Api::new(&self.api, &caller).for_tool(&request.name);
        let progress = Progress {
            to: context
                .meta
                .get_progress_token()
                .map(|token| (context.peer.clone(), token)),
        };
        let arguments = request.arguments.unwrap_or_default();
        tracing::info!(tool = %request.name, "MCP tool called");
        let outcome = tools::call(&request.name, arguments, &api, &progress, &self.state).await;
        Ok(match outcome {
            Ok(value) => succeeded(value),
            Err(failure) => failed(failure),
        }
        .into())
    }

    async fn list_resources(
        &self,
        _request: Option<PaginatedRequestParams>,
        context: RequestContext<RoleServer>,
    ) -> Result<ListResourcesResult, ErrorData> {
        let caller = caller(&context)?;
        let calendars = Api::new(&self.api, &caller)
            .json(Method::GET, "/v1/calendars", None, &[])
            .await
            .map_err(protocol_error)?;
        let resources = calendars["data"]["items"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|calendar| {
                serde_json::from_value(json!({
                    "uri": format!("{CALENDAR_URI}{}", calendar["id"].as_str()?),
                    "name": calendar["name"],
                    "mimeType": "application/json",
                }))
                .ok()
            })
            .collect();
        Ok(ListResourcesResult::with_all_items(resources))
    }

    async fn list_resource_templates(
        &self,
        _request: Option<PaginatedRequestParams>,
        _context: RequestContext<RoleServer>,
    ) -> Result<ListResourceTemplatesResult, ErrorData> {
        let template = serde_json::from_value(json!({
            "uriTemplate": format!("{CALENDAR_URI}{{id}}"),
            "name": "calendar",
            "description": "A calendar with its saved entries, as JSON (GET /v1/calendars/{id}).",
            "mimeType": "application/json",
        }))
        .map_err(|e| ErrorData::internal_error(e.to_string(), None))?;
        Ok(ListResourceTemplatesResult::with_all_items(vec![template]))
    }

    async fn read_resource(
        &self,
        request: ReadResourceRequestParams,
        context: RequestContext<RoleServer>,
    ) -> Result<ReadResourceResponse, ErrorData> {
        let caller = caller(&context)?;
        let id = request
            .uri
            .strip_prefix(CALENDAR_URI)
            .and_then(|id| id.parse::<uuid::Uuid>().ok())
            .ok_or_else(|| {
                ErrorData::resource_not_found(format!("no resource {}", request.uri), None)
            })?;
        let calendar = Api::new(&self.api, &caller)
            .json(Method::GET, &format!("/v1/calendars/{id}"), None, &[])
            .await
            .map_err(|failure| match failure.status {
                404 => ErrorData::resource_not_found(format!("no resource {}", request.uri), None),
                _ => protocol_error(failure),
            })?;
        let text = serde_json::to_string(&calendar["data"]).unwrap_or_default();
        let contents = ResourceContents::text(text, request.uri).with_mime_type("application/json");
        Ok(ReadResourceResult::new(vec![contents]).into())
    }
}

fn protocol_error(failure: Failure) -> ErrorData {
    let message = failure.body["message"]
        .as_str()
        .unwrap_or("the API refused")
        .to_owned();
    ErrorData::invalid_request(message, Some(failure.body))
}
