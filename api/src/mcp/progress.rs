//! A tool call's progress notifications, sent when its client asked for them (a progress
//! token in the request's `_meta`).

use rmcp::{RoleServer, model::ProgressToken, service::Peer};
use serde_json::json;

/// Progress notifications of one call, when its client asked for them (a progress token).
pub(crate) struct Progress {
    pub(crate) to: Option<(Peer<RoleServer>, ProgressToken)>,
}

impl Progress {
    pub(crate) async fn step(&self, progress: f64, total: Option<f64>, message: String) {
        let Some((peer, token)) = &self.to else {
            return;
        };
        let mut param = json!({ "progressToken": token, "progress": progress, "message": message });
        if let Some(total) = total {
            param["total"] = total.into();
        }
        if let Ok(param) = serde_json::from_value(param) {
            // A client gone away loses its notifications; the call goes on.
            let _ = peer.notify_progress(param).await;
        }
    }
}
