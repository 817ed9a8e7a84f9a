//! TLS to PostgreSQL: a server of its own that takes TLS connections only, with a certificate
//! authority this test makes. `sslmode` and `sslrootcert` in the URL mean what they mean to
//! libpq: verify-full with the right authority works, a wrong authority, a wrong host name and
//! plaintext are refused.

use std::path::Path;
use std::sync::Arc;

use axum::http::StatusCode;
use rcgen::{BasicConstraints, CertificateParams, CertifiedIssuer, IsCa, KeyPair};
use serde_json::json;
use tally::auth::Authenticator;
use tally::clock::Clock;
use tally::http::router;
use tally::store::SqliteOptions;

use crate::support::process::Server;
use crate::support::{
    Backend, TEST_SECRET, TestDb, TestRequest, send_to, serving, test_auth_config, tls_only_server,
};

/// A certificate authority, and a server certificate for `localhost` it signed.
struct Authority {
    certificate: String,
    server_certificate: String,
    server_key: String,
}

fn authority() -> Authority {
    let mut params = CertificateParams::new(Vec::<String>::new()).expect("authority");
    params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    let authority = CertifiedIssuer::self_signed(params, KeyPair::generate().expect("key"))
        .expect("self-signed authority");
    let server_key = KeyPair::generate().expect("server key");
    let server = CertificateParams::new(vec!["localhost".to_owned()])
        .expect("server certificate")
        .signed_by(&server_key, &authority)
        .expect("signed");
    Authority {
        certificate: authority.pem(),
        server_certificate: server.pem(),
        server_key: server_key.serialize_pem(),
    }
}

#[tokio::test]
#[cfg_attr(
    postgres_unavailable,
    ignore = "PostgreSQL is not available: install its server binaries"
)]
async fn postgres_over_tls_is_verified_as_sslmode_says() {
    let ours = authority();
    let theirs = authority();
    let server = tls_only_server(&ours.server_certificate, &ours.server_key)
        .expect("PostgreSQL's server binaries are installed")
        .expect("the TLS-only server starts");
    let dir = tempfile::tempdir().expect("temporary folder");
    let our_ca = dir.path().join("ours.pem");
    let their_ca = dir.path().join("theirs.pem");
    std::fs::write(&our_ca, &ours.certificate).unwrap();
    std::fs::write(&their_ca, &theirs.certificate).unwrap();
    // The server's URL names 127.0.0.1; its certificate names localhost.
    let by_name = server.url.replace("127.0.0.1", "localhost");
    let with = |url: &str, query: String| format!("{url}?{query}");

    let verified = with(
        &by_name,
        format!("sslmode=verify-full&sslrootcert={}", our_ca.display()),
    );
    serves_a_command(&verified, dir.path()).await;
    // Encrypted without checking the certificate; and without `sslmode`, on loopback, tally
    // tries plaintext first and takes TLS when this server insists.
    serves_a_command(&with(&by_name, "sslmode=require".into()), dir.path()).await;
    serves_a_command(&server.url, dir.path()).await;

    let refused = [
        (
            "a certificate from another authority",
            "invalid peer certificate",
            with(
                &by_name,
                format!("sslmode=verify-full&sslrootcert={}", their_ca.display()),
            ),
        ),
        (
            "a host name the certificate does not name",
            "certificate not valid for name",
            with(
                &server.url,
                format!("sslmode=verify-full&sslrootcert={}", our_ca.display()),
            ),
        ),
        (
            "plaintext",
            "no encryption",
            with(&by_name, "sslmode=disable".into()),
        ),
    ];
    for (what, why, url) in refused {
        let opened = tally::store::open(&url, SqliteOptions::default()).await;
        let error = opened
            .err()
            .unwrap_or_else(|| panic!("{what} was accepted"));
        assert!(error.to_string().contains(why), "{what}: {error}");
    }
}

#[tokio::test]
#[cfg_attr(
    postgres_unavailable,
    ignore = "PostgreSQL is not available: install its server binaries or set TALLY_TEST_POSTGRES_URL"
)]
async fn a_server_on_loopback_is_reached_in_plaintext_unless_the_url_names_an_sslmode() {
    let db = TestDb::create(Backend::Postgres)
        .await
        .expect("PostgreSQL was available when this test binary was built");
    // The server's own view: whether it offers TLS at all (Debian's does, out of the box).
    let offers_tls = db.texts("show ssl").await == ["on"];
    let url = db.session_url();
    let separator = if url.contains('?') { '&' } else { '?' };
    for (query, encrypted) in [("", false), ("&sslmode=prefer", offers_tls)] {
        let name = format!("tally_tls_{}", uuid::Uuid::now_v7().simple());
        let url = format!("{url}{separator}application_name={name}{query}");
        let root = tempfile::tempdir().unwrap();
        let env = [("TALLY_DATABASE_URL", url.as_str())];
        let mut server = Server::start_with(root.path(), Some(TEST_SECRET), &env).await;
        let create = TestRequest::post("/api/tasks").user("alice");
        let created = server.send(create.json(json!({ "title": "t" }))).await;
        assert_eq!(created.status, StatusCode::CREATED, "{}", server.log());
        let connections = db
            .texts_with(
                "select ssl::text from pg_stat_ssl join pg_stat_activity using (pid) \
                 where application_name = $1",
                &name,
            )
            .await;
        assert!(
            !connections.is_empty(),
            "{query:?}: no connection of the server's seen"
        );
        let expected = encrypted.to_string();
        assert!(
            connections.iter().all(|ssl| *ssl == expected),
            "{query:?}: TLS {connections:?}, expected {expected}"
        );
        server.stop().await;
    }
}

/// Opens the store at `url` (migrating it), and creates a task through the API.
async fn serves_a_command(url: &str, data_dir: &Path) {
    let store = tally::store::open(url, SqliteOptions::default())
        .await
        .unwrap_or_else(|error| panic!("{url}: {error}"));
    let auth =
        Arc::new(Authenticator::from_config(&test_auth_config(), data_dir).expect("authenticator"));
    let (state, background) = serving(store.clone(), auth, Clock::system()).await;
    let app = router(state);
    let create = TestRequest::post("/api/tasks").user("alice");
    let created = send_to(&app, create.json(json!({ "title": "over TLS" }))).await;
    assert_eq!(created.status, StatusCode::CREATED, "{created:?}");
    background.shutdown().await;
    store.close().await;
}
