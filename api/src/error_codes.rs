//! The catalogue of error codes a client (the web app, an agent, a generated client) can
//! meet: in answers' `error.code`, in a job's, an intent's or a delivery's `error.code`. The
//! OpenAPI document lists it (`x-almanac-error-codes` on `ErrorDetail.code`); the web app
//! has a sentence for each in English and French; a structure test finds every code the
//! source raises here.

/// Each code, with what it means for whoever calls the API.
pub const CATALOGUE: &[(&str, &str)] = &[
    (
        "ACCOUNT_NOT_LINKED",
        "The account is not linked to the brand.",
    ),
    (
        "ADDRESS_UNSUBSCRIBED",
        "The address unsubscribed from the digest.",
    ),
    (
        "ADMIN_ONLY",
        "The operator endpoints need a service-role token or the admin token.",
    ),
    (
        "AI_OUTPUT_INCOMPLETE",
        "The AI's answer stopped before it was complete.",
    ),
    ("AI_OUTPUT_INVALID", "The AI's answer could not be read."),
    (
        "AI_PROVIDER_REFUSED",
        "The AI provider refused the request.",
    ),
    (
        "AI_PROVIDER_UNAVAILABLE",
        "The AI provider is not answering.",
    ),
    (
        "ALREADY_PUBLISHED",
        "The entry is already published on that channel.",
    ),
    (
        "ANALYTICS_SCOPE_MISSING",
        "The channel's connection does not allow reading its numbers.",
    ),
    (
        "API_KEY_LIMIT",
        "The account holds the most API keys it may.",
    ),
    ("BRAND_NOT_FOUND", "No such brand."),
    ("BUDGET_EXCEEDED", "The day's AI allowance is used up."),
    (
        "CALENDAR_COMPLETE",
        "Every slot is already written; nothing to continue.",
    ),
    (
        "CALENDAR_REQUEST_INVALID",
        "A stored calendar request no longer reads.",
    ),
    (
        "CALENDAR_TIMEOUT",
        "The run reached the time limit; what it wrote is kept.",
    ),
    ("CANCELLED", "The job was cancelled."),
    (
        "CAPTION_INVALID",
        "The caption holds something the platform refuses.",
    ),
    ("CAPTION_REQUIRED", "The platform needs a caption."),
    (
        "CAPTION_TOO_LONG",
        "The caption is longer than the platform takes.",
    ),
    (
        "CARD_TYPE_MISMATCH",
        "The change is for another type of card.",
    ),
    (
        "CHANNEL_AMBIGUOUS",
        "Several accounts of the platform are connected; name the one to post as.",
    ),
    (
        "CHANNEL_AUTH_INVALID",
        "The channel's access expired or was withdrawn.",
    ),
    (
        "CHANNEL_HOST_REFUSED",
        "An address the platform named is not one Almanac fetches from.",
    ),
    (
        "CHANNEL_NOT_CONNECTED",
        "No connected account for the entry's platform.",
    ),
    (
        "COMMENTS_DISABLED",
        "The post's comments are turned off, so its first comment was not posted.",
    ),
    (
        "COMMENT_NOT_YOURS",
        "A comment is changed or deleted by its writer only.",
    ),
    (
        "CREDENTIALS_REFUSED",
        "The platform refused the handle and app password.",
    ),
    (
        "CREDENTIALS_UNSUPPORTED",
        "The platform connects through its sign-in page, not credentials.",
    ),
    (
        "DAILY_QUOTA_EXHAUSTED",
        "The platform's daily allowance of posts is used up.",
    ),
    ("DATABASE_UNAVAILABLE", "The database did not answer."),
    (
        "DELIVERY_IN_PROGRESS",
        "The webhook delivery is still being sent.",
    ),
    (
        "DELIVERY_UNCERTAIN",
        "An email attempt stopped while sending; not sent again.",
    ),
    ("DRAFT_UNSUPPORTED", "The platform has no drafts."),
    ("DUPLICATE_CARD", "The deck already holds this card."),
    (
        "DUPLICATE_POST",
        "The platform refuses a post identical to a recent one.",
    ),
    (
        "EDIT_CONFLICT",
        "Someone changed it since it was read; nothing was changed.",
    ),
    (
        "EMAIL_TEMPORARY",
        "The email provider refused for now; tried again.",
    ),
    (
        "FIRST_COMMENT_NOT_SENT",
        "The post went out, but its first comment could not be sent.",
    ),
    (
        "FIRST_COMMENT_SCOPE_MISSING",
        "The channel's connection does not allow commenting: connect it again to post first comments.",
    ),
    (
        "FIRST_COMMENT_TOO_LONG",
        "The first comment is longer than the platform takes in a comment.",
    ),
    (
        "FIRST_COMMENT_UNCONFIRMED",
        "The first comment's answer was lost: it may be under the post, and is never sent again.",
    ),
    (
        "FIRST_COMMENT_UNSUPPORTED",
        "The platform takes no comment from other apps under this post.",
    ),
    ("FORBIDDEN", "The caller may not do this."),
    ("GENERATION_FAILED", "The AI could not write this draft."),
    (
        "GENERATION_IN_PROGRESS",
        "Another generation of the user is running.",
    ),
    ("HEADERS_TOO_LARGE", "The request's headers are too large."),
    (
        "HISTORY_TRUNCATED",
        "Some of the stream's events are no longer kept; the saved result has them.",
    ),
    (
        "IDEMPOTENCY_KEY_REUSED",
        "The idempotency key was used for another request.",
    ),
    ("ID_TAKEN", "The id is already used."),
    (
        "INSUFFICIENT_SCOPE",
        "The API key lacks the scope the operation needs.",
    ),
    (
        "INTENT_DUPLICATE",
        "The entry already has an unfinished or published post on the channel.",
    ),
    ("INTENT_NOT_CANCELLABLE", "The post is already being sent."),
    (
        "INTENT_NOT_RETRYABLE",
        "The post's status no longer allows a retry.",
    ),
    ("INTERNAL", "An unexpected error; quote the request id."),
    (
        "INVALID_ACCOUNT_ID",
        "The account id is not one the platform uses.",
    ),
    (
        "INVALID_ARGUMENTS",
        "An MCP tool was called with arguments it does not take.",
    ),
    ("INVITATION_EXPIRED", "The workspace invitation expired."),
    (
        "INVITATION_NOT_YOURS",
        "The workspace invitation was sent to another address than the caller's.",
    ),
    (
        "INVITATION_REVOKED",
        "The workspace invitation was withdrawn.",
    ),
    (
        "INVITATION_USED",
        "The workspace invitation was accepted already.",
    ),
    ("JOB_EXPIRED", "The job's record is no longer kept."),
    ("JOB_FINISHED", "The job has already ended."),
    (
        "LAST_OWNER",
        "The change would leave the workspace without an owner.",
    ),
    (
        "MEDIA_CHANGED",
        "The video changed while its upload was opened; tried again.",
    ),
    (
        "MEDIA_FORMAT_UNSUPPORTED",
        "The platform does not take this kind of file.",
    ),
    (
        "MEDIA_IN_USE",
        "Entries still to go out use the media; details name them.",
    ),
    (
        "MEDIA_MIXED",
        "The platform does not mix pictures and videos in one post.",
    ),
    (
        "MEDIA_PROCESSING_FAILED",
        "The platform could not process the media.",
    ),
    (
        "MEDIA_PROCESSING_SLOW",
        "The platform was still processing the media; tried again.",
    ),
    ("MEDIA_QUOTA_EXCEEDED", "The user's media library is full."),
    ("MEDIA_REQUIRED", "The platform needs a picture or a video."),
    ("MEDIA_STORE_UNAVAILABLE", "The media store did not answer."),
    ("MEDIA_TOO_LARGE", "The file is larger than the limit."),
    ("MEDIA_UNREACHABLE", "The entry's media could not be read."),
    (
        "MEDIA_UNSUPPORTED",
        "The platform does not take the entry's media.",
    ),
    (
        "METHOD_NOT_ALLOWED",
        "The path does not answer this method.",
    ),
    (
        "MISSING_ACCOUNT",
        "No account of the platform for the placement.",
    ),
    (
        "NOTHING_NEW",
        "The sources had nothing new since the last digest.",
    ),
    (
        "NOT_AN_APPROVER",
        "The caller is not an approver of the review's step asked now, or asked for the review.",
    ),
    (
        "NOT_AN_AUTH_FAILURE",
        "The post did not fail on the account's sign-in.",
    ),
    (
        "NOT_CONFIRMED",
        "The platform never confirmed the post; check before sending it again.",
    ),
    ("NOT_FOUND", "No such resource."),
    ("NOT_PUBLISHED", "The entry has not been published."),
    (
        "NOT_QUEUED",
        "The entry is not among the channel's queued posts to come.",
    ),
    (
        "NO_ACCOUNT",
        "The platform named no account for the sign-in.",
    ),
    ("NO_CHANNEL", "The Google account has no YouTube channel."),
    ("NO_FREE_SLOT", "No free time slot is left in the range."),
    ("NO_PAGES", "Facebook shared no Page to post to."),
    (
        "NO_SOURCE_READABLE",
        "None of the theme's sources could be read.",
    ),
    (
        "OAUTH_CODE_MISSING",
        "The platform's answer held no authorization code.",
    ),
    (
        "OAUTH_DENIED",
        "The person declined the platform's consent.",
    ),
    (
        "OAUTH_EXCHANGE_FAILED",
        "The platform did not exchange the sign-in for tokens.",
    ),
    (
        "OAUTH_NOT_CONFIGURED",
        "The server has no OAuth app for the platform.",
    ),
    (
        "OAUTH_STATE_INVALID",
        "The sign-in link expired or was already used.",
    ),
    (
        "OAUTH_STATE_NOT_YOURS",
        "The sign-in was started by another user.",
    ),
    (
        "ORGANIC_GENERATION_IN_PROGRESS",
        "The brand's week is being generated.",
    ),
    (
        "ORGANIC_REQUEST_INVALID",
        "A stored organic request no longer reads.",
    ),
    ("PAYLOAD_INVALID", "A queued job's payload no longer reads."),
    ("PAYLOAD_TOO_LARGE", "The body is larger than the limit."),
    (
        "PERMISSION_DENIED",
        "The account did not grant the publishing permission.",
    ),
    (
        "PLACEMENT_AMBIGUOUS",
        "The placement is saved in several weeks; name the week.",
    ),
    ("PLACEMENT_CONFLICT", "Another placement holds that time."),
    (
        "PLATFORM_BUSY",
        "The platform asked to wait; tried again later.",
    ),
    ("PLATFORM_REFUSED", "The platform refused the post."),
    ("PLATFORM_UNAVAILABLE", "The platform did not answer."),
    (
        "PRIVACY_LEVEL_NOT_ALLOWED",
        "The account does not allow the chosen privacy level.",
    ),
    (
        "PUBLISH_DISABLED",
        "Publishing is switched off for the user.",
    ),
    (
        "PUBLISH_STATE_INVALID",
        "The publish's saved state is not what it needs.",
    ),
    (
        "PUBLISH_UNCONFIRMED",
        "The platform did not confirm the post in time.",
    ),
    ("PUBLISH_UNKNOWN", "Whether the post went out is not known."),
    (
        "QUEUE_NO_SLOTS",
        "The channel has no posting times to queue into.",
    ),
    (
        "QUOTA_FULL",
        "The platform's daily allowance is already planned.",
    ),
    (
        "QUOTA_UNREADABLE",
        "The platform did not say how many posts are left.",
    ),
    (
        "RATE_LIMITED",
        "Too many requests; wait as Retry-After says.",
    ),
    (
        "REMOVED_FROM_QUEUE",
        "Taken out of the queue before it went out.",
    ),
    (
        "REQUEST_TIMEOUT",
        "The request's body took too long to arrive.",
    ),
    (
        "REVIEW_EXPIRED",
        "The entry was not approved by its time (or changed after it was approved), so it was not published.",
    ),
    (
        "REVIEW_INCOMPATIBLE",
        "A repeat rewritten by the AI cannot go out on a channel that asks for review.",
    ),
    (
        "REVIEW_NOT_ENABLED",
        "No review policy applies to the entry's channel.",
    ),
    (
        "REVIEW_NOT_IN_PROGRESS",
        "The entry is not waiting for a decision.",
    ),
    (
        "REVIEW_REQUIRED",
        "The entry's channel asks for review and the entry is not approved at its content now.",
    ),
    (
        "REVIEW_VERSION_CHANGED",
        "The decision names another content version than the entry's.",
    ),
    (
        "REVOKED_ACCESS_TOKEN",
        "The platform withdrew the account's access.",
    ),
    (
        "ROLE_REQUIRED",
        "The caller's role in the workspace does not allow the operation (`details.role` names the role it needs).",
    ),
    (
        "RUN_NOT_CONTINUABLE",
        "The run cannot be continued; regenerate.",
    ),
    ("RUN_NOT_FINISHED", "The run is still generating."),
    ("RUN_SUPERSEDED", "A later run of the calendar exists."),
    ("SCHEDULE_PASSED", "The entry's time has passed."),
    (
        "SERVICE_UNAVAILABLE",
        "A dependency is down or busy; retry as Retry-After says.",
    ),
    ("SESSION_NOT_ACCEPTED", "The page's session was refused."),
    (
        "SIGN_IN_LINK_EXPIRED",
        "The emailed sign-in link has expired.",
    ),
    (
        "SIGN_IN_LINK_INVALID",
        "The sign-in link is not one of this server's.",
    ),
    (
        "SIGN_IN_LINK_USED",
        "The emailed sign-in link was already used.",
    ),
    ("STORAGE_FAILED", "The request could not be saved."),
    ("STORE_UNAVAILABLE", "The store did not answer."),
    ("STREAM_ENDED", "The stream ended without its final frame."),
    (
        "STREAM_ERROR",
        "The stream's store is unreachable; reconnect with the last id.",
    ),
    (
        "SUGGESTION_ALREADY_ACCEPTED",
        "The suggestion is already a card.",
    ),
    (
        "SYNTHESIS_MISSING",
        "The synthesis to send no longer exists.",
    ),
    ("TEXT_TOO_LONG", "The text is longer than the limit."),
    ("THEME_MISSING", "The theme no longer exists."),
    ("TIMEOUT", "The job reached its time limit."),
    (
        "TITLE_INVALID",
        "The title holds something the platform refuses.",
    ),
    ("TITLE_REQUIRED", "The platform needs a title."),
    (
        "TOKEN_STORE_UNCONFIGURED",
        "The server has no encryption key for secrets.",
    ),
    (
        "TOO_MANY_HASHTAGS",
        "More hashtags than the platform takes.",
    ),
    (
        "TOO_MANY_MEDIA",
        "The post carries more media than the platform takes in one post.",
    ),
    (
        "TOO_MANY_MENTIONS",
        "More mentions than the platform takes.",
    ),
    (
        "TOO_MANY_REVIEW_LINKS",
        "The calendar has as many working review links as it may: revoke some first.",
    ),
    ("TREND_NOT_FOUND", "The trend is no longer in the library."),
    ("UNAUTHORIZED", "No valid credentials."),
    ("UNKNOWN_EVENT_TYPE", "An event type Almanac does not send."),
    ("UNKNOWN_PLATFORM", "A platform Almanac does not know."),
    (
        "UNSUPPORTED_CHANNEL",
        "No adapter publishes to the channel.",
    ),
    (
        "UNSUPPORTED_MEDIA_TYPE",
        "The body's content type is not one the operation takes.",
    ),
    (
        "UPLOAD_LIMIT_EXCEEDED",
        "The platform's upload limit for the day was reached.",
    ),
    (
        "UPLOAD_SESSION_EXPIRED",
        "The platform's upload session expired; a new one is opened.",
    ),
    (
        "USERS_REQUIRED",
        "A flag's rollout to some users names none.",
    ),
    ("USERS_UNEXPECTED", "A flag's state takes no list of users."),
    (
        "VALIDATION_FAILED",
        "The request is invalid; details name the field.",
    ),
    (
        "VIDEO_TOO_LONG",
        "A video lasts longer than the platform takes.",
    ),
    (
        "VIDEO_TOO_SHORT",
        "A video is shorter than the platform takes.",
    ),
    (
        "VIDEO_TOO_WIDE",
        "A video's frame is wider than the platform takes.",
    ),
    ("WEBHOOK_DISABLED", "The endpoint is paused."),
    ("WEBHOOK_GONE", "The endpoint answered that it is gone."),
    (
        "WEBHOOK_LIMIT",
        "The account holds the most endpoints it may.",
    ),
    ("WEBHOOK_REFUSED", "The endpoint refused the delivery."),
    (
        "WEBHOOK_SECRET_UNREADABLE",
        "The endpoint's signing secret cannot be read.",
    ),
    ("WEBHOOK_TIMEOUT", "The endpoint did not answer in time."),
    ("WEBHOOK_UNREACHABLE", "The endpoint could not be reached."),
    (
        "WEBHOOK_URL_REFUSED",
        "The endpoint's address is not public https.",
    ),
    ("WEEK_EMPTY", "The week has no saved placements."),
    (
        "WORKSPACE_NOT_FOUND",
        "No such workspace, or the caller is not a member of it.",
    ),
    (
        "WORKSPACE_PERSONAL",
        "A personal workspace cannot be deleted or shared.",
    ),
];
