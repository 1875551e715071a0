//! The platforms' OAuth: the authorize URL (TikTok with PKCE), the code exchange, and token
//! refresh. Lifetimes always come from the platform's `expires_in`: they have changed
//! over time, and hard-coded ones go stale.

use base64::Engine;
use rand::RngCore;
use serde_json::Value;
use sha2::{Digest, Sha256};

use super::{Failure, FailureKind, Platform, Platforms};

/// Tokens a platform issued.
#[derive(Clone)]
pub struct Tokens {
    pub access_token: String,
    pub refresh_token: Option<String>,
    /// Seconds, as the platform said.
    pub expires_in: Option<i64>,
    pub refresh_expires_in: Option<i64>,
    /// TikTok's `open_id`, Instagram's `user_id`.
    pub account_id: Option<String>,
    pub scope: Option<String>,
}

impl std::fmt::Debug for Tokens {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Tokens")
            .field("expires_in", &self.expires_in)
            .field("account_id", &self.account_id)
            .finish_non_exhaustive()
    }
}

/// A random URL-safe string of `bytes` random bytes.
pub fn random_token(bytes: usize) -> String {
    let mut raw = vec![0u8; bytes];
    rand::rng().fill_bytes(&mut raw);
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(raw)
}

/// PKCE's S256 challenge of `verifier`.
pub fn challenge(verifier: &str) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes()))
}

/// Where the platform sends the browser back to.
pub fn redirect_uri(platforms: &Platforms, platform: Platform) -> String {
    format!(
        "{}/v1/channels/{platform}/callback",
        platforms.settings.redirect_base_url.trim_end_matches('/')
    )
}

/// The app's client id, or why connecting cannot start.
pub fn client_id(platforms: &Platforms, platform: Platform) -> Result<&str, String> {
    let settings = platforms.of(platform);
    match (&settings.client_id, &settings.client_secret) {
        (Some(id), Some(_)) => Ok(id),
        _ => Err(match platform {
            Platform::Tiktok => {
                "TikTok is not configured: set TIKTOK_CLIENT_KEY and TIKTOK_CLIENT_SECRET"
            }
            Platform::Instagram => {
                "Instagram is not configured: set INSTAGRAM_APP_ID and INSTAGRAM_APP_SECRET"
            }
        }
        .into()),
    }
}

/// The URL the user opens to grant access.
pub fn authorize_url(
    platforms: &Platforms,
    platform: Platform,
    state: &str,
    verifier: Option<&str>,
) -> Result<String, String> {
    let client = client_id(platforms, platform)?;
    let mut url = url::Url::parse(&platforms.of(platform).authorize_url)
        .map_err(|e| format!("the {platform} authorize URL is not a URL: {e}"))?;
    {
        let mut query = url.query_pairs_mut();
        match platform {
            Platform::Tiktok => {
                query
                    .append_pair("client_key", client)
                    .append_pair("scope", "user.info.basic,video.publish,video.upload");
            }
            Platform::Instagram => {
                query.append_pair("client_id", client).append_pair(
                    "scope",
                    "instagram_business_basic,instagram_business_content_publish",
                );
            }
        }
        query
            .append_pair("response_type", "code")
            .append_pair("redirect_uri", &redirect_uri(platforms, platform))
            .append_pair("state", state);
        if let Some(verifier) = verifier {
            query
                .append_pair("code_challenge", &challenge(verifier))
                .append_pair("code_challenge_method", "S256");
        }
    }
    Ok(url.into())
}

/// Exchanges the callback's code for tokens (Instagram's short-lived token is exchanged
/// for a long-lived one).
pub async fn exchange_code(
    platforms: &Platforms,
    platform: Platform,
    code: &str,
    verifier: Option<&str>,
) -> Result<Tokens, Failure> {
    let (client, secret) = app_credentials(platforms, platform)?;
    let redirect = redirect_uri(platforms, platform);
    match platform {
        Platform::Tiktok => {
            let mut form = vec![
                ("client_key", client),
                ("client_secret", secret),
                ("code", code),
                ("grant_type", "authorization_code"),
                ("redirect_uri", redirect.as_str()),
            ];
            if let Some(verifier) = verifier {
                form.push(("code_verifier", verifier));
            }
            tokens(&post_grant(platforms, platform, &form).await?, "open_id")
        }
        Platform::Instagram => {
            let form = [
                ("client_id", client),
                ("client_secret", secret),
                ("grant_type", "authorization_code"),
                ("redirect_uri", redirect.as_str()),
                ("code", code),
            ];
            let short = tokens(&post_grant(platforms, platform, &form).await?, "user_id")?;
            let query = [
                ("grant_type", "ig_exchange_token"),
                ("client_secret", secret),
                ("access_token", short.access_token.as_str()),
            ];
            let mut long = graph_grant(platforms, "access_token", &query).await?;
            long.account_id = short.account_id;
            long.scope = short.scope;
            Ok(long)
        }
    }
}

/// A refreshed token: TikTok's `refresh_token` grant (the refresh token rotates),
/// Instagram's `ig_refresh_token` of a still valid long-lived token.
pub async fn refresh(
    platforms: &Platforms,
    platform: Platform,
    access_token: &str,
    refresh_token: Option<&str>,
) -> Result<Tokens, Failure> {
    match platform {
        Platform::Tiktok => {
            let Some(refresh_token) = refresh_token else {
                return Err(Failure::new(
                    FailureKind::Auth,
                    "CHANNEL_AUTH_INVALID",
                    "TikTok's access token expired and there is no refresh token: connect the channel again",
                ));
            };
            let (client, secret) = app_credentials(platforms, platform)?;
            let form = [
                ("client_key", client),
                ("client_secret", secret),
                ("grant_type", "refresh_token"),
                ("refresh_token", refresh_token),
            ];
            tokens(&post_grant(platforms, platform, &form).await?, "open_id")
        }
        Platform::Instagram => {
            let query = [
                ("grant_type", "ig_refresh_token"),
                ("access_token", access_token),
            ];
            graph_grant(platforms, "refresh_access_token", &query).await
        }
    }
}

/// The app's client id and secret, or `OAUTH_NOT_CONFIGURED`.
fn app_credentials(platforms: &Platforms, platform: Platform) -> Result<(&str, &str), Failure> {
    let id = client_id(platforms, platform)
        .map_err(|m| Failure::permanent("OAUTH_NOT_CONFIGURED", m))?;
    let secret = platforms
        .of(platform)
        .client_secret
        .as_ref()
        .map_or("", |s| s.expose());
    Ok((id, secret))
}

/// A grant posted as a form to the platform's token URL.
async fn post_grant(
    platforms: &Platforms,
    platform: Platform,
    form: &[(&str, &str)],
) -> Result<Value, Failure> {
    let request = platforms
        .http
        .post(&platforms.of(platform).token_url)
        .form(form);
    token_call(request, platform).await
}

/// A grant asked of Instagram's Graph API (`access_token`, `refresh_access_token`).
async fn graph_grant(
    platforms: &Platforms,
    path: &str,
    query: &[(&str, &str)],
) -> Result<Tokens, Failure> {
    let base = &platforms.settings.instagram.api_base_url;
    let request = platforms
        .http
        .get(format!("{}/{path}", base.trim_end_matches('/')))
        .query(query);
    tokens(&token_call(request, Platform::Instagram).await?, "user_id")
}

/// A token endpoint's JSON, or its refusal (auth: the grant was refused) or unavailability.
async fn token_call(
    request: reqwest::RequestBuilder,
    platform: Platform,
) -> Result<Value, Failure> {
    let response = request.send().await.map_err(|error| {
        Failure::retryable(
            "PLATFORM_UNAVAILABLE",
            format!(
                "{}'s token endpoint could not be reached{}",
                platform.label(),
                if error.is_timeout() { " (timeout)" } else { "" }
            ),
        )
    })?;
    let status = response.status().as_u16();
    let body: Value = response.json().await.unwrap_or(Value::Null);
    let refused = body
        .get("error")
        .filter(|e| !e.is_null() && e.get("code").and_then(Value::as_str) != Some("ok"));
    if (200..300).contains(&status) && refused.is_none() && body.get("access_token").is_some() {
        return Ok(body);
    }
    if status >= 500 {
        return Err(Failure::retryable(
            "PLATFORM_UNAVAILABLE",
            format!("{}'s token endpoint answered {status}", platform.label()),
        ));
    }
    let code = match &body["error"] {
        Value::String(code) => code.clone(),
        Value::Object(error) => error
            .get("code")
            .map(|c| c.as_str().map_or_else(|| c.to_string(), str::to_owned))
            .unwrap_or_default(),
        _ => status.to_string(),
    };
    let description = body["error_description"]
        .as_str()
        .or(body["error"]["message"].as_str())
        .or(body["error_message"].as_str())
        .unwrap_or("the grant was refused");
    Err(Failure::new(
        FailureKind::Auth,
        "CHANNEL_AUTH_INVALID",
        format!(
            "{} refused the token request: {description} ({code})",
            platform.label()
        ),
    )
    .platform(code))
}

fn tokens(body: &Value, account_field: &str) -> Result<Tokens, Failure> {
    let text = |key: &str| {
        body[key]
            .as_str()
            .map(str::to_owned)
            .or_else(|| match &body[key] {
                Value::Number(n) => Some(n.to_string()),
                _ => None,
            })
    };
    let access_token = text("access_token").ok_or_else(|| {
        Failure::retryable(
            "PLATFORM_UNAVAILABLE",
            "the token answer had no access_token",
        )
    })?;
    Ok(Tokens {
        access_token,
        refresh_token: text("refresh_token"),
        expires_in: body["expires_in"].as_i64(),
        refresh_expires_in: body["refresh_expires_in"].as_i64(),
        account_id: text(account_field),
        scope: text("scope").or_else(|| {
            body["permissions"].as_array().map(|p| {
                p.iter()
                    .filter_map(Value::as_str)
                    .collect::<Vec<_>>()
                    .join(",")
            })
        }),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_pkce_challenge_is_rfc_7636s() {
        // RFC 7636, appendix B.
        assert_eq!(
            challenge("dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"),
            "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"
        );
        assert_eq!(random_token(32).len(), 43);
        assert_ne!(random_token(32), random_token(32));
    }

    #[test]
    fn token_answers_are_read_with_their_lifetimes() {
        let body = serde_json::json!({"access_token": "act.1", "expires_in": 7200,
            "refresh_token": "rft.1", "refresh_expires_in": 15552000, "open_id": "open-1",
            "scope": "video.publish"});
        let t = tokens(&body, "open_id").unwrap();
        assert_eq!(t.expires_in, Some(7200));
        assert_eq!(t.account_id.as_deref(), Some("open-1"));
        assert!(!format!("{t:?}").contains("act.1"));
        let ig = tokens(
            &serde_json::json!({"access_token": "IG", "user_id": 1784}),
            "user_id",
        )
        .unwrap();
        assert_eq!(ig.account_id.as_deref(), Some("1784"));
    }
}
