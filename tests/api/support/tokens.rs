//! Tokens: the one secret every test app verifies with, the one way to get a valid token for a
//! user ([`token`]), and the parts to build a token by hand, right or wrong in one way.

use std::path::Path;
use std::sync::OnceLock;

use chrono::{Duration, Utc};
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde_json::{Value, json};
use tally::auth::{AuthConfig, Authenticator};
use tally::domain::UserId;

/// The HS256 secret every test app verifies with (and the real `tally serve` of the crash
/// tests); the only copy.
pub const TEST_SECRET: &str = "a-test-secret-that-is-at-least-32-bytes-long";

/// The key configuration of every test app: HS256 with [`TEST_SECRET`].
pub fn test_auth_config() -> AuthConfig {
    AuthConfig {
        secret: Some(TEST_SECRET.into()),
        ..AuthConfig::default()
    }
}

/// A valid token for `user`, an hour long: minted by tally's own `Authenticator` with
/// [`TEST_SECRET`], as `tally token` mints one.
pub fn token(user: &str) -> String {
    static MINTER: OnceLock<Authenticator> = OnceLock::new();
    let minter = MINTER.get_or_init(|| {
        // A configured secret never touches the data directory.
        Authenticator::from_config(&test_auth_config(), Path::new("/nonexistent"))
            .expect("an authenticator with the test secret")
    });
    let user = UserId::parse(user).unwrap_or_else(|error| panic!("user {user:?}: {error}"));
    minter
        .mint(&user, Utc::now() + Duration::hours(1))
        .expect("mint a token")
}

/// Claims valid for an hour, naming `sub`: the start of a token built by hand.
pub fn claims(sub: &str) -> Value {
    json!({ "sub": sub, "exp": (Utc::now() + Duration::hours(1)).timestamp() })
}

/// `claims` signed with `algorithm` and `secret` (an HMAC algorithm): a token built by hand.
pub fn signed(algorithm: Algorithm, secret: &[u8], claims: &Value) -> String {
    let key = EncodingKey::from_secret(secret);
    jsonwebtoken::encode(&Header::new(algorithm), claims, &key).unwrap()
}
