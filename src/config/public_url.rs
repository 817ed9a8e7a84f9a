//! `TALLY_PUBLIC_URL`: the address clients use to reach this server when it is not the one it
//! sees (behind a reverse proxy, on a public name). `/mcp`'s metadata names it, its 401 points
//! to it, and its host is one `/mcp` accepts in `Host` (against DNS rebinding).

use axum::http::Uri;

/// An absolute `http(s)` URL without query or fragment, kept without its trailing `/`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PublicUrl {
    base: String,
    host: String,
}

impl PublicUrl {
    /// The URL, without a trailing `/`: paths are appended to it (`<base>/mcp`).
    pub fn base(&self) -> &str {
        &self.base
    }

    /// Its host name or address, without port or IPv6 brackets (how rmcp compares `Host`s).
    pub fn host(&self) -> &str {
        &self.host
    }
}

/// Parses `TALLY_PUBLIC_URL`, e.g. `https://tally.example.com` or `https://example.com/tally`.
pub fn parse_public_url(raw: &str) -> Result<PublicUrl, String> {
    let expected = "expected an absolute http:// or https:// URL without query or fragment, \
                    e.g. https://tally.example.com";
    let uri: Uri = raw.parse().map_err(|_| expected.to_owned())?;
    let scheme_ok = matches!(uri.scheme_str(), Some("http" | "https"));
    let Some(authority) = uri.authority().filter(|_| scheme_ok) else {
        return Err(expected.to_owned());
    };
    if uri.query().is_some() || raw.contains('#') || authority.as_str().contains('@') {
        return Err(expected.to_owned());
    }
    let host = authority
        .host()
        .trim_matches(['[', ']'])
        .to_ascii_lowercase();
    Ok(PublicUrl {
        base: raw.trim_end_matches('/').to_owned(),
        host,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_public_url_is_an_absolute_http_url_without_query_or_fragment() {
        let url = parse_public_url("https://Tally.example.com/").unwrap();
        assert_eq!(url.base(), "https://Tally.example.com");
        assert_eq!(url.host(), "tally.example.com");
        let behind = parse_public_url("http://[::1]:8080/tally").unwrap();
        assert_eq!(behind.base(), "http://[::1]:8080/tally");
        assert_eq!(behind.host(), "::1");
        for bad in [
            "tally.example.com",
            "/tally",
            "ftp://tally.example.com",
            "https://tally.example.com/?a=b",
            "https://tally.example.com/#top",
            "https://user@tally.example.com",
            "",
        ] {
            assert!(parse_public_url(bad).is_err(), "{bad:?} accepted");
        }
    }
}
