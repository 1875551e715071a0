//! The API keys' wire types.

use crate::{envelope::Envelope, text::Text};
use almanac_shared::{api_keys::Scope, store::api_keys::KeyRow};
use chrono::{DateTime, Utc};
use poem_openapi::Object;
use uuid::Uuid;

/// A personal API key, as its owner sees it: never the key itself.
#[derive(Debug, Clone, Object)]
#[oai(rename_all = "camelCase")]
pub struct ApiKey {
    pub id: Uuid,
    pub name: String,
    /// `alm_` and the key's next 8 characters: enough to tell keys apart.
    pub prefix: String,
    pub scopes: Vec<Scope>,
    pub created_at: DateTime<Utc>,
    /// When a request last used it (noted at most once a minute).
    #[oai(nullable)]
    pub last_used_at: Option<DateTime<Utc>>,
    /// When it stops working; null: never.
    #[oai(nullable)]
    pub expires_at: Option<DateTime<Utc>>,
}

/// A key with the key itself, shown this once.
#[derive(Debug, Clone, Object)]
#[oai(rename_all = "camelCase")]
pub struct ApiKeyWithSecret {
    #[oai(flatten)]
    pub api_key: ApiKey,
    /// `alm_` and 43 base64url characters: send it as `Authorization: Bearer <key>`. Shown
    /// only now; Almanac keeps its digest alone.
    pub key: String,
}

#[derive(Debug, Clone, Object)]
pub struct ApiKeyList {
    pub items: Vec<ApiKey>,
}

#[derive(Debug, Clone, Object)]
#[oai(rename_all = "camelCase")]
pub struct NewApiKey {
    /// What it is for ("CI", "my agent").
    pub name: Text<1, 100>,
    /// What it may do: `read` (every GET), `write` (every other operation but publishing),
    /// `publish` (channels, publish intents, publishing a calendar).
    #[oai(validator(min_items = 1, max_items = 3, unique_items))]
    pub scopes: Vec<Scope>,
    /// When it stops working (in the future); absent or null: never.
    #[oai(nullable)]
    pub expires_at: Option<DateTime<Utc>>,
}

crate::enveloped!(ApiKey, ApiKeyWithSecret, ApiKeyList);

pub type ApiKeyWithSecretEnvelope = Envelope<ApiKeyWithSecret>;

pub type ApiKeyListEnvelope = Envelope<ApiKeyList>;

impl From<KeyRow> for ApiKey {
    fn from(row: KeyRow) -> Self {
        Self {
            id: row.id,
            name: row.name,
            prefix: row.prefix,
            // The column holds only these words (its check constraint).
            scopes: row
                .scopes
                .iter()
                .filter_map(|scope| Scope::parse(scope))
                .collect(),
            created_at: row.created_at,
            last_used_at: row.last_used_at,
            expires_at: row.expires_at,
        }
    }
}
