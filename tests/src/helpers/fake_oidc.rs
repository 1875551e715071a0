//! A local OpenID Connect provider: discovery, keys (one Ed25519 key), an authorization
//! endpoint that signs in whoever the test says at once, and a token endpoint that checks
//! the client's secret, the code and its PKCE verifier, then answers an ID token the test
//! may bend ([`Bend`]) to see each check refuse it.

use std::sync::{Arc, Mutex};

use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD};
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use poem::{
    EndpointExt, Request, Response, Route, get, handler,
    http::StatusCode,
    listener::{Acceptor, Listener, TcpListener},
    post,
    web::{Data, Form, Json, Query},
};
use serde::Deserialize;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

pub const CLIENT_ID: &str = "almanac-test-client";
pub const CLIENT_SECRET: &str = "almanac-test-client-secret";
const KID: &str = "key-1";

/// How the next ID token is made wrong (or not).
#[derive(Debug, Clone, Default)]
pub struct Bend {
    /// Claims set over the right ones (`null` removes one).
    pub claims: Value,
    /// Signed by another key under the same key id.
    pub stranger_key: bool,
    /// Signed with HS256, keyed with the client secret.
    pub hs256: bool,
}

/// Who signs in next, and what the provider saw.
#[derive(Debug, Default)]
struct Shared {
    sub: String,
    email: String,
    bend: Bend,
    /// The last authorization request: nonce, PKCE challenge.
    nonce: String,
    challenge: String,
    code: String,
    /// Token requests the provider answered with an ID token.
    tokens_issued: usize,
}

#[derive(Clone)]
pub struct FakeOidc {
    pub issuer: String,
    shared: Arc<Mutex<Shared>>,
    seed: [u8; 32],
}

/// An Ed25519 seed as PKCS #8 (what `jsonwebtoken` signs with).
fn pkcs8(seed: &[u8; 32]) -> Vec<u8> {
    let mut der = vec![
        0x30, 0x2e, 0x02, 0x01, 0x00, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x04, 0x22, 0x04,
        0x20,
    ];
    der.extend_from_slice(seed);
    der
}

impl FakeOidc {
    pub async fn start() -> Self {
        let acceptor = TcpListener::bind("127.0.0.1:0")
            .into_acceptor()
            .await
            .unwrap();
        let port = acceptor.local_addr()[0].as_socket_addr().unwrap().port();
        let fake = Self {
            issuer: format!("http://127.0.0.1:{port}"),
            shared: Arc::default(),
            seed: rand::random(),
        };
        let app = Route::new()
            .at("/.well-known/openid-configuration", get(discovery))
            .at("/jwks", get(jwks))
            .at("/authorize", get(authorize))
            .at("/token", post(token))
            .data(fake.clone());
        tokio::spawn(poem::Server::new_with_acceptor(acceptor).run(app));
        fake
    }

    /// The settings that point the app at this provider.
    pub fn env(&self) -> Vec<(&'static str, String)> {
        vec![
            ("OIDC_ISSUER_URL", self.issuer.clone()),
            ("OIDC_CLIENT_ID", CLIENT_ID.into()),
            ("OIDC_CLIENT_SECRET", CLIENT_SECRET.into()),
            ("OIDC_LABEL", "Sign in with Example SSO".into()),
        ]
    }

    /// The next sign-in is `sub` with `email`, its token bent by `bend`.
    pub fn next(&self, sub: &str, email: &str, bend: Bend) {
        let mut shared = self.shared.lock().unwrap();
        shared.sub = sub.to_owned();
        shared.email = email.to_owned();
        shared.bend = bend;
    }

    /// ID tokens issued so far.
    pub fn tokens_issued(&self) -> usize {
        self.shared.lock().unwrap().tokens_issued
    }

    fn public_key(&self) -> String {
        let key = ed25519_dalek::SigningKey::from_bytes(&self.seed);
        URL_SAFE_NO_PAD.encode(key.verifying_key().to_bytes())
    }

    fn id_token(&self, shared: &Shared) -> String {
        let now = chrono::Utc::now().timestamp();
        let mut claims = json!({
            "iss": self.issuer, "sub": shared.sub, "aud": CLIENT_ID, "exp": now + 300,
            "iat": now, "nonce": shared.nonce, "email": shared.email, "email_verified": true,
            "name": "Ana Lima",
        });
        if let Value::Object(bent) = &shared.bend.claims {
            for (key, value) in bent {
                match value {
                    Value::Null => claims.as_object_mut().unwrap().remove(key),
                    value => claims
                        .as_object_mut()
                        .unwrap()
                        .insert(key.clone(), value.clone()),
                };
            }
        }
        if shared.bend.hs256 {
            let mut header = Header::new(Algorithm::HS256);
            header.kid = Some(KID.into());
            let key = EncodingKey::from_secret(CLIENT_SECRET.as_bytes());
            return jsonwebtoken::encode(&header, &claims, &key).unwrap();
        }
        let seed = if shared.bend.stranger_key {
            rand::random()
        } else {
            self.seed
        };
        let mut header = Header::new(Algorithm::EdDSA);
        header.kid = Some(KID.into());
        jsonwebtoken::encode(&header, &claims, &EncodingKey::from_ed_der(&pkcs8(&seed))).unwrap()
    }
}

#[handler]
fn discovery(fake: Data<&FakeOidc>) -> Json<Value> {
    let base = &fake.issuer;
    Json(json!({
        "issuer": base,
        "authorization_endpoint": format!("{base}/authorize"),
        "token_endpoint": format!("{base}/token"),
        "jwks_uri": format!("{base}/jwks"),
        "token_endpoint_auth_methods_supported": ["client_secret_basic"],
        "id_token_signing_alg_values_supported": ["EdDSA"],
    }))
}

#[handler]
fn jwks(fake: Data<&FakeOidc>) -> Json<Value> {
    Json(json!({ "keys": [{
        "kty": "OKP", "crv": "Ed25519", "x": fake.public_key(), "kid": KID, "alg": "EdDSA", "use": "sig",
    }]}))
}

#[derive(Deserialize)]
struct Authorize {
    response_type: String,
    client_id: String,
    redirect_uri: String,
    state: String,
    nonce: String,
    code_challenge: String,
    code_challenge_method: String,
    scope: String,
}

/// Signs the next person in at once: 303 back to the app with a code.
#[handler]
fn authorize(fake: Data<&FakeOidc>, Query(asked): Query<Authorize>) -> Response {
    assert_eq!(
        (asked.response_type.as_str(), asked.client_id.as_str()),
        ("code", CLIENT_ID)
    );
    assert_eq!(asked.code_challenge_method, "S256");
    assert!(
        asked.scope.split(' ').any(|s| s == "openid"),
        "{}",
        asked.scope
    );
    let code = URL_SAFE_NO_PAD.encode(rand::random::<[u8; 16]>());
    let mut shared = fake.shared.lock().unwrap();
    shared.nonce = asked.nonce;
    shared.challenge = asked.code_challenge;
    shared.code = code.clone();
    let mut back = url::Url::parse(&asked.redirect_uri).unwrap();
    back.query_pairs_mut()
        .append_pair("code", &code)
        .append_pair("state", &asked.state);
    Response::builder()
        .status(StatusCode::SEE_OTHER)
        .header("location", back.as_str())
        .finish()
}

#[derive(Deserialize)]
struct TokenRequest {
    grant_type: String,
    code: String,
    code_verifier: String,
}

/// The ID token for a good code, verifier and client secret; 400 `invalid_grant` else.
#[handler]
fn token(req: &Request, fake: Data<&FakeOidc>, Form(asked): Form<TokenRequest>) -> Response {
    let basic = format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode(format!("{CLIENT_ID}:{CLIENT_SECRET}"))
    );
    let mut shared = fake.shared.lock().unwrap();
    let challenge = URL_SAFE_NO_PAD.encode(Sha256::digest(asked.code_verifier.as_bytes()));
    let good = req.header("authorization") == Some(basic.as_str())
        && asked.grant_type == "authorization_code"
        && asked.code == shared.code
        && challenge == shared.challenge;
    if !good {
        return Response::builder()
            .status(StatusCode::BAD_REQUEST)
            .content_type("application/json")
            .body(r#"{"error":"invalid_grant"}"#);
    }
    shared.code.clear();
    shared.tokens_issued += 1;
    let id_token = fake.id_token(&shared);
    Response::builder().content_type("application/json").body(
        json!({ "access_token": "at", "token_type": "Bearer", "expires_in": 300, "id_token": id_token })
            .to_string(),
    )
}
