//! TLS where it protects something: a server on this machine (a loopback address or a Unix
//! socket), named by a URL that says nothing of `sslmode`, is reached in plaintext first.
//!
//! libpq's default, `prefer`, encrypts whenever the server offers TLS, and Debian's PostgreSQL
//! offers it out of the box (a snakeoil certificate). On loopback the encryption guards no
//! wire and costs about a quarter of a dashboard read's throughput (BENCHMARKS.md, "Issue 22,
//! first finding"). So tally does what libpq's `allow` does there: plaintext, and TLS only if
//! the server refuses plaintext. Any `sslmode` in the URL, or `PGSSLMODE`, is obeyed as written.

use std::net::IpAddr;

use sqlx::Connection;
use sqlx::postgres::{PgConnectOptions, PgConnection, PgSslMode};

/// `options` (parsed from `url`), in plaintext when the server is on this machine, `url` and the
/// environment leave the choice to tally, and the server takes plaintext.
pub(super) async fn plaintext_on_loopback(
    url: &str,
    options: PgConnectOptions,
) -> PgConnectOptions {
    if names_sslmode(url) || std::env::var_os("PGSSLMODE").is_some() || !on_this_machine(&options) {
        return options;
    }
    let plaintext = options.clone().ssl_mode(PgSslMode::Disable);
    match PgConnection::connect_with(&plaintext).await {
        Ok(connection) => {
            let _ = connection.close().await;
            plaintext
        }
        // A server that wants TLS (`hostssl` only), or one that is down: as libpq's default
        // would, and the pools say why when they cannot connect either.
        Err(error) => {
            tracing::debug!(%error, "plaintext refused on loopback; TLS if the server offers it");
            options
        }
    }
}

/// Whether the URL's query says how to use TLS (libpq's `sslmode`, or sqlx's `ssl-mode`).
fn names_sslmode(url: &str) -> bool {
    let Some((_, query)) = url.split_once('?') else {
        return false;
    };
    query
        .split('&')
        .any(|pair| matches!(pair.split('=').next(), Some("sslmode" | "ssl-mode")))
}

/// A Unix socket, `localhost` or a loopback address.
fn on_this_machine(options: &PgConnectOptions) -> bool {
    let host = options.get_host();
    options.get_socket().is_some()
        || host.starts_with('/')
        || host.eq_ignore_ascii_case("localhost")
        || host
            .trim_start_matches('[')
            .trim_end_matches(']')
            .parse::<IpAddr>()
            .is_ok_and(|address| address.is_loopback())
}

#[cfg(test)]
mod tests {
    use super::{names_sslmode, on_this_machine};

    #[test]
    fn an_sslmode_in_the_url_is_seen_under_either_spelling() {
        assert!(!names_sslmode("postgres://u@h/db"));
        assert!(!names_sslmode("postgres://u@h/db?application_name=x"));
        assert!(names_sslmode("postgres://u@h/db?sslmode=prefer"));
        assert!(names_sslmode("postgres://u@h/db?a=b&ssl-mode=require"));
    }

    #[test]
    fn loopback_hosts_and_sockets_are_on_this_machine() {
        let on = |url: &str| on_this_machine(&url.parse().expect("a URL"));
        assert!(on("postgres://u@127.0.0.1:5432/db"));
        assert!(on("postgres://u@127.0.0.2/db"));
        assert!(on("postgres://u@localhost/db"));
        assert!(on("postgres://u@[::1]:5432/db"));
        assert!(on("postgres://u@%2Fvar%2Frun%2Fpostgresql/db"));
        assert!(!on("postgres://u@db.example.com/db"));
        assert!(!on("postgres://u@10.0.0.5/db"));
    }
}
