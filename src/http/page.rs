//! The built-in dashboard page at `GET /`: a few files embedded in the binary (no CDN, no
//! build step), served with a Content-Security-Policy that allows only scripts, styles and
//! requests of this origin, so nothing inline and nothing injected can run.

use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr};
use std::sync::LazyLock;

use axum::Router;
use axum::extract::Path;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;

use super::AppState;
use super::conditional::{IfNoneMatch, digest};
use super::error::ApiError;

/// What the page may load and run: its own files and requests to its own origin, nothing
/// inline, no frames around it, no forms posted anywhere.
const CONTENT_SECURITY_POLICY: &str = "default-src 'none'; script-src 'self'; style-src 'self'; \
    img-src 'self'; connect-src 'self'; base-uri 'none'; form-action 'none'; \
    frame-ancestors 'none'";

/// One embedded file and its type.
struct Asset {
    name: &'static str,
    content_type: &'static str,
    body: &'static str,
}

macro_rules! asset {
    ($name:literal, $content_type:expr) => {
        Asset {
            name: $name,
            content_type: $content_type,
            body: include_str!(concat!("../../assets/", $name)),
        }
    };
}

const JS: &str = "text/javascript; charset=utf-8";

/// The page's files (`assets/` in the repository).
const ASSETS: [Asset; 15] = [
    asset!("index.html", "text/html; charset=utf-8"),
    asset!("app.css", "text/css; charset=utf-8"),
    asset!("icon.svg", "image/svg+xml"),
    asset!("app.js", JS),
    asset!("api.js", JS),
    asset!("dom.js", JS),
    asset!("edit.js", JS),
    asset!("figures.js", JS),
    asset!("live.js", JS),
    asset!("tasks.js", JS),
    asset!("team.js", JS),
    asset!("team-figures.js", JS),
    asset!("team-share.js", JS),
    asset!("teams.js", JS),
    asset!("trend.js", JS),
];

/// Each file's `ETag`, computed once: a hash of its bytes, so a new build's files are fetched
/// anew and unchanged ones answered 304.
static TAGS: LazyLock<Vec<String>> = LazyLock::new(|| {
    ASSETS
        .iter()
        .map(|asset| format!("\"{}\"", digest(asset.body.as_bytes())))
        .collect()
});

/// `GET /` and `GET /assets/{name}`. Not part of the API, so not in its description.
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/", get(index))
        .route("/assets/{name}", get(asset))
}

/// The address that opens the page signed in with `token` on a server listening on `listen`
/// (`tally token --link`). The token rides in the fragment, which browsers never send, so no
/// server or proxy log sees it; the page moves it into the tab's storage at once.
pub fn sign_in_link(listen: SocketAddr, token: &str) -> String {
    format!("http://{}/#token={token}", reachable(listen))
}

/// Where a browser on this machine reaches a server listening on `listen`: a server on every
/// address (`0.0.0.0`, `[::]`) by loopback, which a browser can open.
pub fn reachable(listen: SocketAddr) -> SocketAddr {
    let mut reachable = listen;
    if listen.ip().is_unspecified() {
        reachable.set_ip(match listen {
            SocketAddr::V4(_) => Ipv4Addr::LOCALHOST.into(),
            SocketAddr::V6(_) => Ipv6Addr::LOCALHOST.into(),
        });
    }
    reachable
}

async fn index(if_none_match: IfNoneMatch) -> Response {
    serve(0, &if_none_match)
}

async fn asset(Path(name): Path<String>, if_none_match: IfNoneMatch) -> Response {
    match ASSETS.iter().position(|asset| asset.name == name) {
        Some(index) if name != "index.html" => serve(index, &if_none_match),
        _ => ApiError::NotFound("no such file".into()).into_response(),
    }
}

fn serve(index: usize, if_none_match: &IfNoneMatch) -> Response {
    let asset = &ASSETS[index];
    let etag = TAGS[index].as_str();
    let mut response = if if_none_match.matches(etag) {
        StatusCode::NOT_MODIFIED.into_response()
    } else {
        ([(header::CONTENT_TYPE, asset.content_type)], asset.body).into_response()
    };
    let headers = response.headers_mut();
    headers.insert(
        header::ETAG,
        HeaderValue::from_str(etag).expect("a hex tag"),
    );
    // Checked each time (a 304 when unchanged), so an upgraded server's page is never mixed
    // with an older one's scripts.
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    guard(headers, CONTENT_SECURITY_POLICY);
    response
}

/// The headers of a page that holds a token in its tab (this one, and `/docs` beside it on the
/// same origin): what it may load and run (`policy`), no type sniffing, no referrer.
pub(crate) fn guard(headers: &mut axum::http::HeaderMap, policy: &'static str) {
    headers.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(policy),
    );
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    headers.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_sign_in_link_names_an_address_a_browser_can_open() {
        let link = |listen: &str| sign_in_link(listen.parse().unwrap(), "a.b.c");
        assert_eq!(link("127.0.0.1:8080"), "http://127.0.0.1:8080/#token=a.b.c");
        assert_eq!(link("0.0.0.0:80"), "http://127.0.0.1:80/#token=a.b.c");
        assert_eq!(link("[::]:8080"), "http://[::1]:8080/#token=a.b.c");
        assert_eq!(link("10.1.2.3:9000"), "http://10.1.2.3:9000/#token=a.b.c");
    }

    #[test]
    fn every_asset_the_page_names_is_served() {
        let page = ASSETS[0].body;
        for asset in &ASSETS[1..] {
            let named = page.contains(&format!("/assets/{}", asset.name))
                || ASSETS
                    .iter()
                    .any(|other| other.body.contains(&format!("./{}'", asset.name)));
            assert!(named, "{} is embedded but nothing loads it", asset.name);
        }
        for script in ASSETS.iter().filter(|asset| asset.content_type == JS) {
            for import in script.body.split("from './").skip(1) {
                let name = import.split('\'').next().unwrap();
                assert!(
                    ASSETS.iter().any(|asset| asset.name == name),
                    "{} imports {name}, which is not embedded",
                    script.name
                );
            }
        }
    }
}
