//! Authentication: JWT verification with a pinned algorithm per key, role resolution from the
//! `role`/`roles` claims, and where credentials are read from (the `Authorization` header, then
//! the dashboard's session cookie). Which role a route needs is declared where routes are
//! declared (the server's route groups, `api::SERVER_FN_ROLES`); a route's guard puts the
//! verified [`Principal`] into the request, and handlers take it as [`Caller`].

use crate::role::Role;
use crate::ssr::error::AppError;
use axum::extract::FromRequestParts;
use axum::http::header::{AUTHORIZATION, COOKIE};
use axum::http::request::Parts;
use axum::http::HeaderMap;
use jsonwebtoken::errors::ErrorKind as JwtErrorKind;
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde::{Deserialize, Serialize};
use std::time::Duration;

/// Name of the HttpOnly cookie that carries the dashboard's session token over plain HTTP.
pub const SESSION_COOKIE: &str = "monitor_session";

/// Its name when `COOKIE_SECURE` is set. Browsers accept a `__Host-` cookie only with `Secure`,
/// `Path=/` and no `Domain`, so no sibling subdomain (same site, other origin) can plant or
/// overwrite it: a session cannot be fixed from outside.
pub const SECURE_SESSION_COOKIE: &str = "__Host-monitor_session";

/// Tokens longer than this are refused before any parsing: no legitimate token is this large,
/// and parsing huge inputs is a cheap way to burn our CPU.
pub const MAX_TOKEN_BYTES: usize = 8 * 1024;

/// How the monitor checks tokens, as configured at start-up.
#[derive(Clone, Default)]
pub struct AuthSettings {
    /// HS256 shared secret (`JWT_SECRET`).
    pub secret: Option<String>,
    /// PEM public key (contents of the `JWT_PUBLIC_KEY` file): RSA keys verify RS256, EC keys ES256.
    pub public_key_pem: Option<Vec<u8>>,
    /// When set, tokens must carry this `iss`.
    pub issuer: Option<String>,
    /// When set, tokens must carry this `aud`.
    pub audience: Option<String>,
}

impl std::fmt::Debug for AuthSettings {
    /// Never prints the secret or the key, only whether they are set.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AuthSettings")
            .field("secret", &self.secret.as_ref().map(|_| "***"))
            .field("public_key", &self.public_key_pem.is_some())
            .field("issuer", &self.issuer)
            .field("audience", &self.audience)
            .finish()
    }
}

/// A verified caller.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Principal {
    /// The `sub` claim, or `unknown`.
    pub subject: String,
    /// The highest monitor role among the token's roles.
    pub role: Role,
    /// The `exp` claim, seconds since the epoch.
    pub expires_at: i64,
    /// Identifies the token (a digest, never the token): streams opened with it end when
    /// that session signs out.
    pub token_id: String,
}

impl Principal {
    /// Fails with 403 unless this caller has at least `min`.
    pub fn require(&self, min: Role) -> Result<(), AppError> {
        if self.role >= min {
            Ok(())
        } else {
            Err(AppError::Forbidden { required: min })
        }
    }
}

/// Verifies tokens. Each configured key is bound to exactly one algorithm, so `alg: none`, an
/// HS256 token signed with an RSA public key, or any other algorithm swap is refused before the
/// signature is even checked.
pub struct Authenticator {
    verifiers: Vec<(Algorithm, DecodingKey)>,
    signer: Option<EncodingKey>,
    issuer: Option<String>,
    audience: Option<String>,
}

/// The claims we read. Unknown claims are ignored; `role`/`roles` are read leniently (a wrong type
/// just contributes no role) because tokens come from other systems.
#[derive(Deserialize)]
struct Claims {
    #[serde(default)]
    sub: Option<serde_json::Value>,
    exp: serde_json::Value,
    #[serde(default)]
    role: Option<serde_json::Value>,
    #[serde(default)]
    roles: Option<serde_json::Value>,
}

/// The claims of tokens we issue for local use (`server token`).
#[derive(Serialize)]
struct IssuedClaims<'a> {
    sub: &'a str,
    role: &'a str,
    iat: i64,
    exp: i64,
}

impl Authenticator {
    /// Builds the verifier. Fails with a one-line reason when no key is configured or a key is
    /// unusable.
    pub fn new(settings: &AuthSettings) -> Result<Self, String> {
        let mut verifiers = Vec::new();
        let mut signer = None;
        if let Some(secret) = &settings.secret {
            if secret.len() < 16 {
                return Err("JWT_SECRET must be at least 16 characters long".into());
            }
            let key = DecodingKey::from_secret(secret.as_bytes())
                .map_err(|e| format!("JWT_SECRET is unusable: {e}"))?;
            verifiers.push((Algorithm::HS256, key));
            signer = Some(
                EncodingKey::from_secret(secret.as_bytes())
                    .map_err(|e| format!("JWT_SECRET is unusable: {e}"))?,
            );
        }
        if let Some(pem) = &settings.public_key_pem {
            if let Ok(key) = DecodingKey::from_rsa_pem(pem) {
                verifiers.push((Algorithm::RS256, key));
            } else if let Ok(key) = DecodingKey::from_ec_pem(pem) {
                verifiers.push((Algorithm::ES256, key));
            } else {
                return Err(
                    "JWT_PUBLIC_KEY is not a PEM-encoded RSA or EC (P-256) public key".into(),
                );
            }
        }
        if verifiers.is_empty() {
            return Err("set JWT_SECRET (HS256) or JWT_PUBLIC_KEY (RS256/ES256 PEM file)".into());
        }
        Ok(Self {
            verifiers,
            signer,
            issuer: settings.issuer.clone(),
            audience: settings.audience.clone(),
        })
    }

    /// Checks a token's shape, algorithm, signature, `exp` (required), `nbf` (when present),
    /// issuer and audience (when configured), then resolves its role.
    pub fn verify(&self, token: &str) -> Result<Principal, AppError> {
        if token.len() > MAX_TOKEN_BYTES {
            return Err(unauthorized("token is too large"));
        }
        let header =
            jsonwebtoken::decode_header(token).map_err(|_| unauthorized("token is malformed"))?;
        let Some((algorithm, key)) = self.verifiers.iter().find(|(alg, _)| *alg == header.alg)
        else {
            return Err(unauthorized("token algorithm is not accepted"));
        };
        let mut validation = Validation::new(*algorithm);
        validation.leeway = 30;
        validation.validate_nbf = true;
        validation.set_required_spec_claims(&["exp"]);
        if let Some(issuer) = &self.issuer {
            validation.set_issuer(&[issuer]);
            validation.required_spec_claims.insert("iss".into());
        }
        match &self.audience {
            Some(audience) => {
                validation.set_audience(&[audience]);
                validation.required_spec_claims.insert("aud".into());
            }
            None => validation.validate_aud = false,
        }
        let data = jsonwebtoken::decode::<Claims>(token, key, &validation)
            .map_err(|e| unauthorized(describe_jwt_error(e.kind())))?;
        let claims = data.claims;
        let expires_at = claims
            .exp
            .as_i64()
            .or_else(|| claims.exp.as_f64().map(|f| f as i64))
            .ok_or_else(|| unauthorized("token `exp` claim is not a number"))?;
        let role =
            resolve_role(claims.role.as_ref(), claims.roles.as_ref()).ok_or(AppError::NoRole)?;
        let subject = match claims.sub {
            Some(serde_json::Value::String(s)) if !s.is_empty() => s,
            _ => "unknown".to_owned(),
        };
        Ok(Principal {
            subject,
            role,
            expires_at,
            token_id: token_id(token),
        })
    }

    /// Issues an HS256 token (for local use and the demo). Needs `JWT_SECRET`.
    pub fn issue(&self, role: Role, subject: &str, ttl: Duration) -> Result<String, String> {
        let key = self
            .signer
            .as_ref()
            .ok_or("issuing tokens needs JWT_SECRET (HS256)")?;
        let now = chrono::Utc::now().timestamp();
        let ttl = i64::try_from(ttl.as_secs()).map_err(|_| "ttl is too long")?;
        let claims = IssuedClaims {
            sub: subject,
            role: role.as_str(),
            iat: now,
            exp: now.saturating_add(ttl),
        };
        jsonwebtoken::encode(&Header::new(Algorithm::HS256), &claims, key)
            .map_err(|e| format!("could not sign the token: {e}"))
    }
}

fn unauthorized(text: &str) -> AppError {
    AppError::Unauthorized(text.to_owned())
}

fn describe_jwt_error(kind: &JwtErrorKind) -> &'static str {
    match kind {
        JwtErrorKind::ExpiredSignature => "token has expired",
        JwtErrorKind::ImmatureSignature => "token is not valid yet",
        JwtErrorKind::InvalidSignature => "token signature is invalid",
        JwtErrorKind::InvalidAlgorithm => "token algorithm is not accepted",
        JwtErrorKind::InvalidIssuer => "token issuer is not accepted",
        JwtErrorKind::InvalidAudience => "token audience is not accepted",
        JwtErrorKind::MissingRequiredClaim(_) => "token lacks a required claim (exp, iss or aud)",
        JwtErrorKind::InvalidClaimFormat(_) => "token has a claim of the wrong type",
        _ => "token is malformed",
    }
}

/// The highest known role among `role` (a string) and `roles` (an array of strings).
fn resolve_role(
    role: Option<&serde_json::Value>,
    roles: Option<&serde_json::Value>,
) -> Option<Role> {
    let single = role.and_then(|v| v.as_str()).and_then(Role::parse);
    let many = roles
        .and_then(|v| v.as_array())
        .into_iter()
        .flatten()
        .filter_map(|v| v.as_str().and_then(Role::parse));
    single.into_iter().chain(many).max()
}

/// A digest that names a token without revealing it.
pub fn token_id(token: &str) -> String {
    fred::util::sha1_hash(token)[..20].to_owned()
}

/// Where the dashboard's session lives: an `HttpOnly; SameSite=Strict` cookie, named
/// [`SECURE_SESSION_COOKIE`] (and `Secure`) behind HTTPS, else [`SESSION_COOKIE`].
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct SessionCookie {
    /// `COOKIE_SECURE`: the cookie is `Secure` and `__Host-` prefixed.
    pub secure: bool,
}

impl SessionCookie {
    /// The cookie's name.
    pub fn name(self) -> &'static str {
        if self.secure {
            SECURE_SESSION_COOKIE
        } else {
            SESSION_COOKIE
        }
    }

    /// The value of the session cookie, if the request carries one.
    pub fn read(self, headers: &HeaderMap) -> Option<String> {
        headers
            .get_all(COOKIE)
            .iter()
            .filter_map(|value| value.to_str().ok())
            .flat_map(|value| value.split(';'))
            .filter_map(|pair| pair.trim().split_once('='))
            .find(|(name, value)| *name == self.name() && !value.is_empty())
            .map(|(_, value)| value.to_owned())
    }

    /// A `Set-Cookie` value holding `token` for `max_age` seconds.
    pub fn set(self, token: &str, max_age: i64) -> String {
        format!(
            "{}={token}; HttpOnly; SameSite=Strict; Path=/; Max-Age={max_age}{}",
            self.name(),
            if self.secure { "; Secure" } else { "" }
        )
    }

    /// A `Set-Cookie` value that removes the cookie.
    pub fn clear(self) -> String {
        self.set("", 0)
    }
}

/// Finds the caller's token: `Authorization: Bearer …` first (any case of `Bearer`, as HTTP
/// auth schemes are case-insensitive), then the session cookie. `Ok(None)` means no
/// credentials at all.
pub fn token_from_headers(
    headers: &HeaderMap,
    cookie: SessionCookie,
) -> Result<Option<String>, AppError> {
    if let Some(value) = headers.get(AUTHORIZATION) {
        let value = value
            .to_str()
            .map_err(|_| unauthorized("Authorization header is not valid text"))?;
        let token = value
            .trim()
            .split_once(' ')
            .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer"))
            .map(|(_, token)| token.trim())
            .filter(|t| !t.is_empty())
            .ok_or_else(|| unauthorized("Authorization header must be `Bearer <token>`"))?;
        return Ok(Some(token.to_owned()));
    }
    Ok(cookie.read(headers))
}

/// Authenticates a request from its headers.
pub fn authenticate(
    auth: &Authenticator,
    cookie: SessionCookie,
    headers: &HeaderMap,
) -> Result<Principal, AppError> {
    let token = token_from_headers(headers, cookie)?
        .ok_or_else(|| unauthorized("sign in or send `Authorization: Bearer <token>`"))?;
    auth.verify(&token)
}

/// Authenticates a request and demands `min`: 401 without valid credentials, 403 below `min`.
pub fn authorize(
    auth: &Authenticator,
    cookie: SessionCookie,
    headers: &HeaderMap,
    min: Role,
) -> Result<Principal, AppError> {
    let principal = authenticate(auth, cookie, headers)?;
    principal.require(min)?;
    Ok(principal)
}

/// Extractor: the caller a route group's guard verified (see the server's `routes::guarded`).
/// A handler that takes it outside a guarded group answers 401 to everyone, so a route
/// mounted without a role cannot serve anybody.
pub struct Caller(pub Principal);

impl<S: Send + Sync> FromRequestParts<S> for Caller {
    type Rejection = AppError;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        parts
            .extensions
            .get::<Principal>()
            .cloned()
            .map(Caller)
            .ok_or_else(|| unauthorized("this route has no role guard; nobody may call it"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;
    use serde_json::json;

    const SECRET: &str = "0123456789abcdef-test-secret";

    fn authenticator() -> Authenticator {
        Authenticator::new(&AuthSettings {
            secret: Some(SECRET.into()),
            ..Default::default()
        })
        .expect("valid settings")
    }

    fn sign(claims: serde_json::Value) -> String {
        let key = EncodingKey::from_secret(SECRET.as_bytes()).expect("key");
        jsonwebtoken::encode(&Header::new(Algorithm::HS256), &claims, &key).expect("sign")
    }

    fn in_one_hour() -> i64 {
        chrono::Utc::now().timestamp() + 3600
    }

    #[test]
    fn issued_tokens_verify_with_their_role() {
        let auth = authenticator();
        let token = auth
            .issue(Role::Admin, "alice", Duration::from_secs(60))
            .expect("issue");
        let principal = auth.verify(&token).expect("verify");
        assert_eq!(principal.role, Role::Admin);
        assert_eq!(principal.subject, "alice");
    }

    #[test]
    fn roles_array_yields_the_highest_known_role() {
        let token = sign(json!({"exp": in_one_hour(), "roles": ["USER", "MODERATOR", "ADMIN"]}));
        assert_eq!(
            authenticator().verify(&token).expect("ok").role,
            Role::Admin
        );
    }

    #[test]
    fn a_token_without_a_known_role_is_forbidden() {
        let token = sign(json!({"exp": in_one_hour(), "role": "USER", "roles": [1, "admin"]}));
        assert!(matches!(
            authenticator().verify(&token),
            Err(AppError::NoRole)
        ));
    }

    #[test]
    fn a_token_without_exp_is_refused() {
        let token = sign(json!({"role": "ADMIN"}));
        assert!(matches!(
            authenticator().verify(&token),
            Err(AppError::Unauthorized(_))
        ));
    }

    #[test]
    fn a_too_short_secret_is_a_configuration_error() {
        let error = Authenticator::new(&AuthSettings {
            secret: Some("short".into()),
            ..Default::default()
        })
        .err()
        .expect("must fail");
        assert!(error.contains("16 characters"));
    }

    #[test]
    fn no_key_at_all_is_a_configuration_error() {
        assert!(Authenticator::new(&AuthSettings::default()).is_err());
    }

    #[test]
    fn bearer_header_wins_over_the_cookie() {
        let plain = SessionCookie { secure: false };
        let mut headers = HeaderMap::new();
        headers.insert(
            COOKIE,
            HeaderValue::from_static("a=b; monitor_session=from-cookie"),
        );
        assert_eq!(
            token_from_headers(&headers, plain).expect("ok").as_deref(),
            Some("from-cookie")
        );
        for header in [
            "Bearer from-header",
            "bearer from-header",
            "BEARER  from-header ",
        ] {
            headers.insert(AUTHORIZATION, HeaderValue::from_static(header));
            assert_eq!(
                token_from_headers(&headers, plain).expect("ok").as_deref(),
                Some("from-header"),
                "{header}"
            );
        }
        for header in ["Basic abc", "Bearer", "Bearerabc"] {
            headers.insert(AUTHORIZATION, HeaderValue::from_static(header));
            assert!(token_from_headers(&headers, plain).is_err(), "{header}");
        }
    }

    #[test]
    fn the_secure_cookie_is_host_prefixed_and_the_plain_name_is_then_ignored() {
        let secure = SessionCookie { secure: true };
        assert_eq!(
            secure.set("t", 60),
            "__Host-monitor_session=t; HttpOnly; SameSite=Strict; Path=/; Max-Age=60; Secure"
        );
        let mut headers = HeaderMap::new();
        headers.insert(
            COOKIE,
            HeaderValue::from_static("monitor_session=planted; __Host-monitor_session=mine"),
        );
        assert_eq!(secure.read(&headers).as_deref(), Some("mine"));
        headers.insert(COOKIE, HeaderValue::from_static("monitor_session=planted"));
        assert_eq!(secure.read(&headers), None);
        assert_eq!(
            SessionCookie { secure: false }.read(&headers).as_deref(),
            Some("planted")
        );
    }

    #[test]
    fn issuer_and_audience_are_enforced_when_configured() {
        let auth = Authenticator::new(&AuthSettings {
            secret: Some(SECRET.into()),
            issuer: Some("https://idp.example".into()),
            audience: Some("monitor".into()),
            ..Default::default()
        })
        .expect("ok");
        let good = sign(json!({"exp": in_one_hour(), "role": "ADMIN",
            "iss": "https://idp.example", "aud": "monitor"}));
        assert!(auth.verify(&good).is_ok());
        let wrong_issuer = sign(json!({"exp": in_one_hour(), "role": "ADMIN",
            "iss": "https://evil.example", "aud": "monitor"}));
        assert!(auth.verify(&wrong_issuer).is_err());
        let no_audience = sign(json!({"exp": in_one_hour(), "role": "ADMIN",
            "iss": "https://idp.example"}));
        assert!(auth.verify(&no_audience).is_err());
    }

    /// Generates a key pair with the `openssl` CLI into a fresh temporary directory and returns
    /// (private PKCS#8 PEM, public PEM).
    fn openssl_key_pair(kind: &str) -> (Vec<u8>, Vec<u8>) {
        let dir = std::env::temp_dir().join(format!(
            "monitor-auth-{kind}-{}-{}",
            std::process::id(),
            chrono::Utc::now().timestamp_nanos_opt().unwrap_or(0)
        ));
        std::fs::create_dir_all(&dir).expect("temp dir");
        let private = dir.join("private.pem");
        let public = dir.join("public.pem");
        let algorithm_args: &[&str] = match kind {
            "rsa" => &["-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:2048"],
            _ => &["-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256"],
        };
        let status = std::process::Command::new("openssl")
            .arg("genpkey")
            .args(algorithm_args)
            .arg("-out")
            .arg(&private)
            .status()
            .expect("openssl runs");
        assert!(status.success());
        let status = std::process::Command::new("openssl")
            .args(["pkey", "-pubout", "-in"])
            .arg(&private)
            .arg("-out")
            .arg(&public)
            .status()
            .expect("openssl runs");
        assert!(status.success());
        let pair = (
            std::fs::read(&private).expect("private key"),
            std::fs::read(&public).expect("public key"),
        );
        let _ = std::fs::remove_dir_all(&dir);
        pair
    }

    fn public_key_authenticator(public_pem: &[u8]) -> Authenticator {
        Authenticator::new(&AuthSettings {
            public_key_pem: Some(public_pem.to_vec()),
            ..Default::default()
        })
        .expect("public key accepted")
    }

    #[test]
    fn rs256_and_es256_tokens_verify_with_their_public_keys() {
        for (kind, algorithm) in [("rsa", Algorithm::RS256), ("ec", Algorithm::ES256)] {
            let (private_pem, public_pem) = openssl_key_pair(kind);
            let auth = public_key_authenticator(&public_pem);
            let key = match kind {
                "rsa" => EncodingKey::from_rsa_pem(&private_pem),
                _ => EncodingKey::from_ec_pem(&private_pem),
            }
            .expect("private key");
            let claims = json!({"sub": "svc", "role": "MODERATOR", "exp": in_one_hour()});
            let token = jsonwebtoken::encode(&Header::new(algorithm), &claims, &key).expect("sign");
            assert_eq!(auth.verify(&token).expect(kind).role, Role::Moderator);
        }
    }

    #[test]
    fn hs256_tokens_signed_with_the_public_key_are_refused() {
        // The classic algorithm-confusion attack: use the (public!) RSA key as an HMAC secret.
        let (_, public_pem) = openssl_key_pair("rsa");
        let auth = public_key_authenticator(&public_pem);
        let key = EncodingKey::from_secret(&public_pem).expect("key");
        let claims = json!({"role": "SUPER_ADMIN", "exp": in_one_hour()});
        let token =
            jsonwebtoken::encode(&Header::new(Algorithm::HS256), &claims, &key).expect("sign");
        assert!(matches!(
            auth.verify(&token),
            Err(AppError::Unauthorized(_))
        ));
    }

    #[test]
    fn a_file_that_is_not_a_public_key_is_a_configuration_error() {
        let error = Authenticator::new(&AuthSettings {
            public_key_pem: Some(
                b"-----BEGIN NONSENSE-----\nabc\n-----END NONSENSE-----\n".to_vec(),
            ),
            ..Default::default()
        })
        .err()
        .expect("must fail");
        assert!(error.contains("JWT_PUBLIC_KEY"), "{error}");
    }
}
