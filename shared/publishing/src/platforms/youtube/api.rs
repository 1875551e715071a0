//! YouTube's answers: one call under the channel's permits, its status, `Location`,
//! `Retry-After` and JSON read, and Google's refusals said in our words (a spent quota and
//! rate limits wait, never fail).

use chrono::Utc;

use super::{CHANNEL_LIMIT_WAIT, RATE_LIMIT_WAIT, YouTube};
use crate::{
    Failure, FailureKind, Reply,
    http::{self, Answered},
    quota,
};

impl YouTube {
    /// One call with the channel's token, under its permits; `Err`: no answer.
    pub(super) async fn exchange(
        &self,
        request: reqwest::RequestBuilder,
        token: &str,
    ) -> Result<Answered, Reply> {
        http::exchange("YouTube", request.bearer_auth(token)).await
    }

    /// An API call's answer: its JSON, its refusal in our words, or lost (a 5xx).
    pub(super) async fn call(&self, request: reqwest::RequestBuilder, token: &str) -> Reply {
        match self.exchange(request, token).await {
            Ok(answered) => self.reply(answered),
            Err(lost) => lost,
        }
    }

    pub(super) fn reply(&self, answered: Answered) -> Reply {
        answered.reply("YouTube", |answered| self.refusal(answered))
    }

    /// YouTube's refusal in our words, with its `reason`: a spent quota or a rate limit
    /// waits (the quota until midnight Pacific time), never fails.
    pub(super) fn refusal(&self, answered: &Answered) -> Failure {
        let error = &answered.body["error"];
        let reason = error["errors"][0]["reason"].as_str().unwrap_or("");
        let theirs = error["message"].as_str().unwrap_or("");
        let code = match reason.is_empty() {
            true => answered.status.to_string(),
            false => reason.to_owned(),
        };
        let said = |ours: &str| match theirs.is_empty() {
            true => format!("{ours} ({code})"),
            false => format!("{ours}: {theirs} ({code})"),
        };
        let failure = match (answered.status, reason) {
            (401, _) | (_, "authError") => Failure::new(
                FailureKind::Auth,
                "CHANNEL_AUTH_INVALID",
                said("YouTube refused the access token (expired or revoked)"),
            ),
            (_, "quotaExceeded") => {
                let now = Utc::now();
                let window = quota::window(&self.quota(), now);
                let wait = (window.until - now).to_std().unwrap_or(RATE_LIMIT_WAIT);
                Failure::retryable(
                    "DAILY_QUOTA_EXHAUSTED",
                    said("the Google Cloud project's YouTube quota is spent for today; it is shared by everyone who publishes through this Almanac server, and the upload waits until midnight Pacific time"),
                )
                .deferred(wait)
            }
            (_, "uploadLimitExceeded") => Failure::retryable(
                "UPLOAD_LIMIT_EXCEEDED",
                said("YouTube's limit on this channel's uploads in 24 hours was reached; the upload is tried again in an hour"),
            )
            .deferred(CHANNEL_LIMIT_WAIT),
            (429, _) | (_, "rateLimitExceeded" | "userRateLimitExceeded") => Failure::retryable(
                "RATE_LIMITED",
                said("YouTube's rate limit was reached; the upload waits until it lifts"),
            )
            .deferred(answered.retry_after().unwrap_or(RATE_LIMIT_WAIT)),
            (_, "youtubeSignupRequired") => Failure::permanent(
                "PERMISSION_DENIED",
                said("the Google account has no YouTube channel: create one, then connect again"),
            ),
            (_, "commentsDisabled") => Failure::permanent(
                "COMMENTS_DISABLED",
                said("comments are turned off on this video, so the first comment was not posted"),
            ),
            (403, _) => Failure::permanent(
                "PERMISSION_DENIED",
                said("the YouTube channel did not grant the upload permission; connect it again"),
            ),
            _ => Failure::permanent("PLATFORM_REFUSED", said("YouTube refused the video")),
        };
        failure.platform(code)
    }
}

/// A call to YouTube that got no usable answer (or a refusal), as the failure of `step`.
pub(super) fn unanswered_failure(step: &str, reply: Reply) -> Failure {
    match reply {
        Reply::Refused(failure) => failure,
        Reply::Lost(reason, _) => Failure::retryable(
            "PLATFORM_UNAVAILABLE",
            format!("YouTube's {step} could not be reached: {reason}"),
        ),
        Reply::Ok(_) => Failure::retryable(
            "PLATFORM_UNAVAILABLE",
            format!("YouTube's {step} answered without what it should"),
        ),
    }
}
