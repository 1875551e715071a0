//! A tool's calls to this API, in-process: the request goes through every middleware and
//! route of the API as if it had come over the network, with the MCP caller's
//! `Authorization`, so a tool can do nothing its caller could not do with a plain HTTP
//! client.

use std::sync::{Arc, OnceLock, Weak};

use futures::StreamExt;
use poem::{
    Body, Endpoint, Request, Response,
    endpoint::BoxEndpoint,
    http::{HeaderValue, Method, header},
};
use serde_json::{Value, json};

use super::Caller;
use crate::middleware::activity::Agent;

/// The whole API, set once it is built (`crate::app::endpoint`); held weakly, since the
/// API holds the MCP server that holds this.
#[derive(Clone, Default)]
pub struct ApiHandle(Arc<OnceLock<Weak<BoxEndpoint<'static, Response>>>>);

impl ApiHandle {
    pub fn set(&self, api: &Arc<BoxEndpoint<'static, Response>>) {
        let _ = self.0.set(Arc::downgrade(api));
    }

    fn get(&self) -> Option<Arc<BoxEndpoint<'static, Response>>> {
        self.0.get().and_then(Weak::upgrade)
    }
}

/// What a tool says went wrong: the API's error code, message and details, or one of the
/// tool's own (`INVALID_ARGUMENTS`).
#[derive(Debug, Clone)]
pub(crate) struct Failure {
    pub(crate) status: u16,
    pub(crate) body: Value,
}

impl Failure {
    pub(crate) fn invalid(message: impl Into<String>) -> Self {
        Self {
            status: 400,
            body: json!({ "code": "INVALID_ARGUMENTS", "message": message.into() }),
        }
    }

    pub(crate) fn code(&self) -> &str {
        self.body["code"].as_str().unwrap_or("ERROR")
    }
}

/// The API as one caller sees it.
pub(crate) struct Api<'a> {
    handle: &'a ApiHandle,
    caller: &'a Caller,
    /// The tool calling: its changes are the agent's in the workspace's activity.
    tool: Option<&'a str>,
}

impl<'a> Api<'a> {
    pub(crate) fn new(handle: &'a ApiHandle, caller: &'a Caller) -> Self {
        Self {
            handle,
            caller,
            tool: None,
        }
    }

    /// The API as the tool `name` calls it.
    pub(crate) fn for_tool(self, name: &'a str) -> Self {
        Self {
            tool: Some(name),
            ..self
        }
    }

    /// The caller's key's scopes (`None`: a JWT, which has them all).
    pub(crate) fn scopes(&self) -> Option<&[String]> {
        self.caller.scopes.as_deref()
    }

    /// One call answered in JSON: its body on success, its error otherwise.
    pub(crate) async fn json(
        &self,
        method: Method,
        path: &str,
        body: Option<&Value>,
        headers: &[(&'static str, String)],
    ) -> Result<Value, Failure> {
        let answer = self
            .send(method, path, body, "application/json", headers)
            .await?;
        let status = answer.status().as_u16();
        let value = body_json(answer).await;
        if status >= 400 {
            return Err(failure(status, value));
        }
        Ok(value)
    }

    /// One call answered as NDJSON, to read line by line.
    pub(crate) async fn ndjson(
        &self,
        method: Method,
        path: &str,
        body: Option<&Value>,
    ) -> Result<Lines, Failure> {
        let answer = self
            .send(method, path, body, "application/x-ndjson", &[])
            .await?;
        let status = answer.status().as_u16();
        if status >= 400 {
            return Err(failure(status, body_json(answer).await));
        }
        Ok(Lines {
            stream: Box::pin(answer.into_body().into_bytes_stream()),
            pending: Vec::new(),
        })
    }

    async fn send(
        &self,
        method: Method,
        path: &str,
        body: Option<&Value>,
        accept: &'static str,
        headers: &[(&'static str, String)],
    ) -> Result<Response, Failure> {
        let api = self.handle.get().ok_or_else(|| Failure {
            status: 503,
            body: json!({ "code": "SERVICE_UNAVAILABLE", "message": "the API is stopping" }),
        })?;
        let mut request = Request::builder()
            .method(method)
            .uri_str(path)
            .header(header::AUTHORIZATION, self.caller.authorization.clone())
            .header(
                crate::middleware::REQUEST_ID_HEADER,
                self.caller.request_id.as_str(),
            )
            .header(header::ACCEPT, HeaderValue::from_static(accept));
        if let Some(workspace) = &self.caller.workspace {
            request = request.header(crate::middleware::workspace::HEADER, workspace.clone());
        }
        for (name, value) in headers {
            request = request.header(*name, value.as_str());
        }
        let mut request = match body {
            Some(body) => request
                .content_type("application/json")
                .body(Body::from_json(body).unwrap_or_default()),
            None => request.finish(),
        };
        if let Some(tool) = self.tool {
            request.extensions_mut().insert(Agent {
                tool: tool.to_owned(),
            });
        }
        Ok(match api.call(request).await {
            Ok(answer) => answer,
            Err(error) => error.into_response(),
        })
    }
}

/// An answer's body as JSON (null when it is not).
async fn body_json(answer: Response) -> Value {
    let bytes = answer.into_body().into_bytes().await.unwrap_or_default();
    serde_json::from_slice(&bytes).unwrap_or(Value::Null)
}

/// An error answer: the envelope's `error` (or the whole body when it has none).
fn failure(status: u16, body: Value) -> Failure {
    let error = match body.get("error") {
        Some(error) if error.is_object() => error.clone(),
        _ => json!({ "code": "ERROR", "message": body.to_string() }),
    };
    Failure {
        status,
        body: error,
    }
}

/// An NDJSON answer, line by line.
pub(crate) struct Lines {
    stream:
        std::pin::Pin<Box<dyn futures::Stream<Item = Result<bytes::Bytes, std::io::Error>> + Send>>,
    pending: Vec<u8>,
}

impl Lines {
    /// The next line that is JSON; `None` at the end.
    pub(crate) async fn next(&mut self) -> Option<Value> {
        loop {
            while let Some(end) = self.pending.iter().position(|b| *b == b'\n') {
                let line: Vec<u8> = self.pending.drain(..=end).collect();
                if let Ok(value) = serde_json::from_slice::<Value>(&line) {
                    return Some(value);
                }
            }
            match self.stream.next().await {
                Some(Ok(chunk)) => self.pending.extend_from_slice(&chunk),
                _ => return None,
            }
        }
    }
}
