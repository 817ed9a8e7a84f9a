//! Real JWT validation: which tokens open `GET /api/dashboard` under which key configuration.
//! Tokens are signed here with the test-only keys in `tests/fixtures/` (see its README).

use std::path::{Path, PathBuf};
use std::sync::Arc;

use axum::Router;
use axum::http::{StatusCode, header};
use chrono::{Duration, Utc};
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde_json::{Value, json};
use tally::auth::{AuthConfig, Authenticator, KeyError, SECRET_FILE};
use tally::background::Background;
use tally::clock::Clock;
use tally::domain::UserId;
use tally::http::router;

use crate::support::{
    Backend, TEST_SECRET, TestDb, TestRequest, TestResponse, claims, send_to, serving, signed,
    test_auth_config, token,
};

/// The three asymmetric algorithms, each with its fixture key pair.
const KEY_PAIRS: [(Algorithm, &str, &str); 3] = [
    (Algorithm::RS256, "rsa-private.pem", "rsa-public.pem"),
    (Algorithm::ES256, "ec-private.pem", "ec-public.pem"),
    (
        Algorithm::EdDSA,
        "ed25519-private.pem",
        "ed25519-public.pem",
    ),
];

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(name)
}

/// The real router on a fresh SQLite database, verifying tokens as `config` says.
struct KeyedApp {
    router: Router,
    _background: Background,
    _db: TestDb,
}

impl KeyedApp {
    async fn start(config: AuthConfig) -> KeyedApp {
        let db = TestDb::create(Backend::Sqlite).await.expect("sqlite");
        let store = db.open_store(Default::default()).await;
        let auth = Authenticator::from_config(&config, db.dir.path()).expect("authenticator");
        let (state, background) = serving(store, Arc::new(auth), Clock::system()).await;
        KeyedApp {
            router: router(state),
            _background: background,
            _db: db,
        }
    }

    async fn with_public_key(file: &str) -> KeyedApp {
        KeyedApp::start(AuthConfig {
            public_key_file: Some(fixture(file)),
            ..AuthConfig::default()
        })
        .await
    }

    /// HS256 with the test apps' secret.
    async fn with_secret() -> KeyedApp {
        KeyedApp::start(test_auth_config()).await
    }

    /// `GET /api/dashboard` with `Authorization: Bearer <token>`.
    async fn dashboard(&self, token: &str) -> TestResponse {
        send_to(
            &self.router,
            TestRequest::get("/api/dashboard").bearer(token),
        )
        .await
    }

    async fn assert_accepts(&self, token: &str, why: &str) {
        let response = self.dashboard(token).await;
        assert_eq!(response.status, StatusCode::OK, "{why}: {}", response.body);
    }

    async fn assert_refuses(&self, token: &str, why: &str) -> TestResponse {
        let response = self.dashboard(token).await;
        assert_eq!(response.status, StatusCode::UNAUTHORIZED, "{why}");
        response.assert_problem(401, "unauthorized");
        let challenge = response.headers.get(header::WWW_AUTHENTICATE);
        assert!(
            challenge.is_some_and(|value| value.as_bytes().starts_with(b"Bearer")),
            "{why}: a 401 names the Bearer scheme"
        );
        response
    }
}

/// `claims` signed with `algorithm` and the PEM private key fixture `file`.
fn signed_with_key(algorithm: Algorithm, file: &str, claims: &Value) -> String {
    let pem = std::fs::read(fixture(file)).unwrap();
    let key = match algorithm {
        Algorithm::RS256 => EncodingKey::from_rsa_pem(&pem),
        Algorithm::ES256 => EncodingKey::from_ec_pem(&pem),
        Algorithm::EdDSA => EncodingKey::from_ed_pem(&pem),
        other => panic!("no fixture for {other:?}"),
    }
    .unwrap();
    jsonwebtoken::encode(&Header::new(algorithm), claims, &key).unwrap()
}

/// `claims` signed with HS256 and the secret the test apps are configured with.
fn hs256(claims: &Value) -> String {
    signed_with_secret(TEST_SECRET.as_bytes(), claims)
}

/// `claims` signed with HS256 and `secret`.
fn signed_with_secret(secret: &[u8], claims: &Value) -> String {
    signed(Algorithm::HS256, secret, claims)
}

/// The payload segment (base64url) of a token.
fn payload_of(token: &str) -> &str {
    token.split('.').nth(1).unwrap()
}

/// An unsigned token: the header `{"alg":"none","typ":"JWT"}`, the payload, no signature.
fn unsigned(claims: &Value) -> String {
    format!(
        "eyJhbGciOiJub25lIiwidHlwIjoiSldUIn0.{}.",
        payload_of(&hs256(claims))
    )
}

#[tokio::test]
async fn an_hs256_token_minted_with_the_configured_secret_is_accepted() {
    let app = KeyedApp::with_secret().await;
    // `token` mints with tally's own `Authenticator` and the same secret.
    app.assert_accepts(&token("alice"), "minted like `tally token`")
        .await;
    let external = hs256(&claims("alice"));
    app.assert_accepts(&external, "signed elsewhere with the same secret")
        .await;
}

#[tokio::test]
async fn an_hs256_token_with_another_secret_or_a_tampered_payload_is_refused() {
    let app = KeyedApp::with_secret().await;
    let other = signed_with_secret(&[b'x'; 40], &claims("alice"));
    app.assert_refuses(&other, "another secret").await;

    // Mallory's claims spliced between the header and signature of a genuine token for Alice.
    let genuine = hs256(&claims("alice"));
    let parts: Vec<&str> = genuine.split('.').collect();
    let forged = hs256(&claims("mallory"));
    let tampered = format!("{}.{}.{}", parts[0], payload_of(&forged), parts[2]);
    app.assert_refuses(&tampered, "payload changed after signing")
        .await;
}

#[tokio::test]
async fn tokens_signed_with_rsa_ec_and_ed25519_keys_are_accepted_with_the_matching_public_key() {
    for (algorithm, private, public) in KEY_PAIRS {
        let app = KeyedApp::with_public_key(public).await;
        let token = signed_with_key(algorithm, private, &claims("alice"));
        app.assert_accepts(&token, &format!("{algorithm:?} with {public}"))
            .await;
    }
}

#[tokio::test]
async fn tokens_signed_with_another_key_type_are_refused() {
    for (_, _, public) in KEY_PAIRS {
        let app = KeyedApp::with_public_key(public).await;
        for (algorithm, private, other_public) in KEY_PAIRS {
            if other_public == public {
                continue;
            }
            let token = signed_with_key(algorithm, private, &claims("alice"));
            app.assert_refuses(&token, &format!("{algorithm:?} token, server has {public}"))
                .await;
        }
    }
}

#[tokio::test]
async fn a_token_signed_with_another_key_of_the_same_type_is_refused() {
    let app = KeyedApp::with_public_key("rsa-public.pem").await;
    let token = signed_with_key(Algorithm::RS256, "rsa-other-private.pem", &claims("alice"));
    app.assert_refuses(&token, "another RSA key").await;
}

#[tokio::test]
async fn a_token_with_alg_none_is_refused_whatever_the_key() {
    let token = unsigned(&claims("alice"));
    KeyedApp::with_secret()
        .await
        .assert_refuses(&token, "alg none, HS256 secret configured")
        .await;
    KeyedApp::with_public_key("rsa-public.pem")
        .await
        .assert_refuses(&token, "alg none, RSA key configured")
        .await;
}

#[tokio::test]
async fn an_hs256_token_is_refused_when_a_public_key_is_configured() {
    for (_, _, public) in KEY_PAIRS {
        let app = KeyedApp::with_public_key(public).await;
        // The classic confusion attack: the public key itself used as the HMAC secret.
        let pem = std::fs::read(fixture(public)).unwrap();
        let confused = signed_with_secret(&pem, &claims("alice"));
        app.assert_refuses(&confused, &format!("HS256 keyed with {public}"))
            .await;
        let plain = hs256(&claims("alice"));
        app.assert_refuses(&plain, &format!("HS256 token, server has {public}"))
            .await;
    }
}

#[tokio::test]
async fn an_expired_token_is_refused() {
    let app = KeyedApp::with_secret().await;
    let expired =
        json!({ "sub": "alice", "exp": (Utc::now() - Duration::seconds(30)).timestamp() });
    let refused = app.assert_refuses(&hs256(&expired), "expired").await;
    assert_eq!(
        refused.body["detail"],
        "the bearer token has expired: get a new one"
    );
    let expired_rsa = signed_with_key(Algorithm::RS256, "rsa-private.pem", &expired);
    let refused = KeyedApp::with_public_key("rsa-public.pem")
        .await
        .assert_refuses(&expired_rsa, "expired RS256")
        .await;
    assert!(refused.body["detail"].as_str().unwrap().contains("expired"));
    // Expired and forged: only the signature is talked about.
    let forged = signed_with_secret(b"another secret of at least thirty-two bytes", &expired);
    let refused = app.assert_refuses(&forged, "expired, another key").await;
    assert_eq!(refused.body["detail"], "the bearer token is not valid");
}

#[tokio::test]
async fn a_token_is_refused_before_its_nbf_and_accepted_from_it() {
    let app = KeyedApp::with_secret().await;
    let in_an_hour = (Utc::now() + Duration::hours(1)).timestamp();
    let early = json!({ "sub": "alice", "exp": in_an_hour + 60, "nbf": in_an_hour });
    app.assert_refuses(&hs256(&early), "nbf in an hour").await;
    let started = json!({ "sub": "alice", "exp": in_an_hour, "nbf": Utc::now().timestamp() - 30 });
    app.assert_accepts(&hs256(&started), "nbf 30 s ago").await;
}

#[tokio::test]
async fn a_token_naming_a_critical_header_extension_is_refused() {
    // RFC 7515 §4.1.11: a recipient that does not understand every extension `crit` lists
    // must refuse the token; tally understands none.
    let app = KeyedApp::with_secret().await;
    let mut header = Header::new(Algorithm::HS256);
    header.crit = Some(vec!["exp".into()]);
    let key = EncodingKey::from_secret(TEST_SECRET.as_bytes());
    let token = jsonwebtoken::encode(&header, &claims("alice"), &key).unwrap();
    app.assert_refuses(&token, "crit: [exp]").await;
}

#[tokio::test]
async fn a_token_without_exp_is_refused() {
    let app = KeyedApp::with_secret().await;
    let no_exp = json!({ "sub": "alice" });
    app.assert_refuses(&hs256(&no_exp), "no exp").await;
}

#[tokio::test]
async fn issuer_and_audience_are_enforced_when_configured() {
    let app = KeyedApp::start(AuthConfig {
        issuer: Some("https://id.example".into()),
        audience: Some("tally".into()),
        ..test_auth_config()
    })
    .await;
    let token = |iss: Option<&str>, aud: Option<&str>| {
        let mut claims = claims("alice");
        if let Some(iss) = iss {
            claims["iss"] = json!(iss);
        }
        if let Some(aud) = aud {
            claims["aud"] = json!(aud);
        }
        hs256(&claims)
    };
    let right = token(Some("https://id.example"), Some("tally"));
    app.assert_accepts(&right, "right iss and aud").await;

    let refused = [
        (
            "wrong iss",
            token(Some("https://evil.example"), Some("tally")),
        ),
        ("missing iss", token(None, Some("tally"))),
        (
            "wrong aud",
            token(Some("https://id.example"), Some("other")),
        ),
        ("missing aud", token(Some("https://id.example"), None)),
    ];
    let mut accepted = Vec::new();
    for (why, token) in refused {
        if app.dashboard(&token).await.status != StatusCode::UNAUTHORIZED {
            accepted.push(why);
        }
    }
    assert_eq!(accepted, Vec::<&str>::new(), "tokens that should get 401");
}

#[tokio::test]
async fn an_audience_list_that_names_tally_is_accepted() {
    // RFC 7519 §4.1.3: `aud` may be an array; identity providers often send one.
    let mut claims = claims("alice");
    claims["aud"] = json!(["tally", "billing"]);
    let token = hs256(&claims);
    let checking = KeyedApp::start(AuthConfig {
        audience: Some("tally".into()),
        ..test_auth_config()
    })
    .await;
    let not_checking = KeyedApp::with_secret().await;
    let statuses = (
        checking.dashboard(&token).await.status,
        not_checking.dashboard(&token).await.status,
    );
    assert_eq!(
        statuses,
        (StatusCode::OK, StatusCode::OK),
        "(audience configured, no audience configured)"
    );
}

#[tokio::test]
async fn a_subject_over_128_characters_with_a_control_character_or_no_path_segment_is_refused() {
    let app = KeyedApp::with_secret().await;
    let sign = |sub: &str| hs256(&claims(sub));
    app.assert_accepts(&sign(&"é".repeat(128)), "128 characters")
        .await;
    app.assert_refuses(&sign(&"a".repeat(129)), "129 characters")
        .await;
    app.assert_refuses(&sign("ali\u{7}ce"), "a control character")
        .await;
    app.assert_refuses(&sign(""), "an empty subject").await;
    for unsafe_segment in [".", "..", "alice/admin", "/"] {
        app.assert_refuses(&sign(unsafe_segment), unsafe_segment)
            .await;
    }
    app.assert_accepts(&sign("a.l.i.c.e"), "dots beside other characters")
        .await;
    let no_sub = json!({ "exp": (Utc::now() + Duration::hours(1)).timestamp() });
    app.assert_refuses(&hs256(&no_sub), "no sub").await;
}

#[test]
fn a_secret_shorter_than_32_bytes_is_refused_at_startup() {
    let dir = tempfile::tempdir().unwrap();
    let with_secret = |secret: &str| AuthConfig {
        secret: Some(secret.into()),
        ..AuthConfig::default()
    };
    let short = Authenticator::from_config(&with_secret(&"s".repeat(31)), dir.path());
    assert!(matches!(short, Err(KeyError::ShortSecret)));
    assert!(Authenticator::from_config(&with_secret(&"s".repeat(32)), dir.path()).is_ok());
    assert!(
        !dir.path().join(SECRET_FILE).exists(),
        "a configured secret generates no file"
    );
}

#[test]
fn a_file_that_holds_no_public_key_is_refused_at_startup() {
    let dir = tempfile::tempdir().unwrap();
    let config = |file: &str| AuthConfig {
        public_key_file: Some(fixture(file)),
        ..AuthConfig::default()
    };
    let not_a_key = Authenticator::from_config(&config("README.md"), dir.path());
    assert!(matches!(not_a_key, Err(KeyError::UnknownKey(_))));
    let missing = Authenticator::from_config(&config("no-such-key.pem"), dir.path());
    assert!(matches!(missing, Err(KeyError::KeyFile { .. })));
}

#[test]
fn without_a_configured_key_a_private_secret_file_is_generated_and_reused() {
    let dir = tempfile::tempdir().unwrap();
    let data_dir = dir.path().join("data");
    let first = Authenticator::from_config(&AuthConfig::default(), &data_dir).unwrap();
    let path = data_dir.join(SECRET_FILE);
    let secret = std::fs::read(&path).expect("the secret file is created");
    assert!(secret.len() >= 32, "a 256-bit secret");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&path).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600, "only the owner may read the secret");
    }

    let second = Authenticator::from_config(&AuthConfig::default(), &data_dir).unwrap();
    assert_eq!(
        std::fs::read(&path).unwrap(),
        secret,
        "reused, not replaced"
    );
    let alice = UserId::parse("alice").unwrap();
    let expires = Utc::now() + Duration::hours(1);
    let token = first.mint(&alice, expires).unwrap();
    assert_eq!(second.verify(&token).unwrap(), alice);
    let token = second.mint(&alice, expires).unwrap();
    assert_eq!(first.verify(&token).unwrap(), alice);

    let elsewhere = tempfile::tempdir().unwrap();
    let stranger = Authenticator::from_config(&AuthConfig::default(), elsewhere.path()).unwrap();
    assert!(
        stranger.verify(&token).is_err(),
        "another data directory has another secret"
    );
}

#[test]
fn an_empty_or_short_secret_file_is_refused_rather_than_used_as_a_key() {
    let dir = tempfile::tempdir().unwrap();
    for content in ["", "\n", &"s".repeat(31)] {
        std::fs::write(dir.path().join(SECRET_FILE), content).unwrap();
        let refused = Authenticator::from_config(&AuthConfig::default(), dir.path());
        assert!(
            matches!(refused, Err(KeyError::ShortSecretFile(_))),
            "{content:?}"
        );
    }
}

#[test]
fn servers_starting_at_once_on_a_new_data_directory_agree_on_one_secret() {
    let dir = tempfile::tempdir().unwrap();
    let data_dir = dir.path().join("data");
    let alice = UserId::parse("alice").unwrap();
    let expires = Utc::now() + Duration::hours(1);
    let authenticators: Vec<Authenticator> = std::thread::scope(|scope| {
        let starts: Vec<_> = (0..8)
            .map(|_| scope.spawn(|| Authenticator::from_config(&AuthConfig::default(), &data_dir)))
            .collect();
        starts
            .into_iter()
            .map(|start| start.join().unwrap().expect("every start succeeds"))
            .collect()
    });
    let token = authenticators[0].mint(&alice, expires).unwrap();
    for authenticator in &authenticators {
        assert_eq!(authenticator.verify(&token).unwrap(), alice);
    }
    let files: Vec<_> = std::fs::read_dir(&data_dir).unwrap().collect();
    assert_eq!(files.len(), 1, "no draft is left behind");
}

#[cfg(unix)]
#[test]
fn a_secret_path_that_is_a_dangling_link_is_an_error_not_a_hang() {
    let dir = tempfile::tempdir().unwrap();
    std::os::unix::fs::symlink(dir.path().join("nowhere"), dir.path().join(SECRET_FILE)).unwrap();
    let refused = Authenticator::from_config(&AuthConfig::default(), dir.path());
    assert!(matches!(refused, Err(KeyError::Io { .. })));
}
