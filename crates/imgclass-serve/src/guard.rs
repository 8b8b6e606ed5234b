//! Who may ask what. The server is reached only through loopback names unless told to listen
//! elsewhere, and a request that changes anything must come from the page.
//!
//! - **Host.** On a loopback address the `Host` header must be `localhost`, `127.0.0.1` or
//!   `[::1]` (any port): a web page that rebinds its own domain name to 127.0.0.1 ("DNS
//!   rebinding") cannot read answers meant for the page. 421 otherwise.
//! - **Origin.** A request with an `Origin` header must come from the server's own origin
//!   (`http://` + its `Host`); a form another site submits is refused with 403.
//! - **Token.** A request that changes anything (every method but GET, HEAD and OPTIONS,
//!   except the read-only predictions) must carry the page's token in `x-imgclass-token` or
//!   come with a matching `Origin`. The token is drawn from the OS's random source at start,
//!   written into the page, and printed for scripts.

use axum::extract::{Request, State};
use axum::http::{HeaderMap, Method, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use crate::AppState;
use crate::error::ApiError;

/// The header that carries the token.
pub const TOKEN_HEADER: &str = "x-imgclass-token";

/// Requests that change nothing although they are POSTs: predictions read an image and answer.
const READ_ONLY_POSTS: &[&str] = &["/api/predict", "/api/predict/batch", "/api/cam"];

/// A fresh token: 128 random bits as hex.
pub fn new_token() -> Result<String, getrandom::Error> {
    let mut bytes = [0u8; 16];
    getrandom::fill(&mut bytes)?;
    Ok(bytes.iter().map(|b| format!("{b:02x}")).collect())
}

/// Equality that takes as long whatever the first differing byte.
fn same(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// The host name of a `Host` header, without its port.
fn host_name(host: &str) -> &str {
    if host.starts_with('[') {
        return host.split_once(']').map_or(host, |(h, _)| &host[..h.len() + 1]);
    }
    host.rsplit_once(':').map_or(host, |(h, _)| h)
}

/// Why `headers` may not make a `method` request to `path` (for a server on loopback or not),
/// or `None` when they may.
pub fn refusal(headers: &HeaderMap, method: &Method, path: &str, loopback: bool, token: &str) -> Option<ApiError> {
    let host = headers.get(header::HOST).and_then(|h| h.to_str().ok()).unwrap_or("");
    if loopback && !matches!(host_name(host), "localhost" | "127.0.0.1" | "[::1]") {
        return Some(ApiError::WrongHost(format!(
            "host {host:?} is not this server's; open http://127.0.0.1 or http://localhost"
        )));
    }
    let origin = headers.get(header::ORIGIN).and_then(|h| h.to_str().ok());
    let same_origin = origin.is_some_and(|o| o == format!("http://{host}"));
    if origin.is_some() && !same_origin {
        return Some(ApiError::Forbidden(format!("requests from {} may not use this server", origin.unwrap_or(""))));
    }
    let changes = !matches!(*method, Method::GET | Method::HEAD | Method::OPTIONS) && !READ_ONLY_POSTS.contains(&path);
    let has_token = headers.get(TOKEN_HEADER).is_some_and(|t| same(t.as_bytes(), token.as_bytes()));
    if changes && !has_token && !same_origin {
        return Some(ApiError::Forbidden(format!(
            "this request changes files: send the token `imgclass serve` printed in the {TOKEN_HEADER} header"
        )));
    }
    None
}

/// The middleware: [`refusal`] for every request.
pub async fn guard(State(state): State<AppState>, request: Request, next: Next) -> Response {
    let loopback = state.config().is_loopback();
    match refusal(request.headers(), request.method(), request.uri().path(), loopback, state.token()) {
        Some(e) => e.into_response(),
        None => next.run(request).await,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.insert(*k, HeaderValue::from_str(v).unwrap());
        }
        h
    }

    #[test]
    fn host_names_lose_their_port() {
        assert_eq!(host_name("localhost:8080"), "localhost");
        assert_eq!(host_name("[::1]:8080"), "[::1]");
        assert_eq!(host_name("127.0.0.1"), "127.0.0.1");
    }

    #[test]
    fn tokens_are_long_random_and_compared_whole() {
        let (a, b) = (new_token().unwrap(), new_token().unwrap());
        assert_eq!(a.len(), 32);
        assert_ne!(a, b);
        assert!(same(a.as_bytes(), a.as_bytes()) && !same(a.as_bytes(), b.as_bytes()) && !same(b"ab", b"abc"));
    }

    #[test]
    fn a_rebound_host_name_is_refused_on_loopback_only() {
        let h = headers(&[("host", "evil.example:8080")]);
        assert!(refusal(&h, &Method::GET, "/api/health", true, "t").is_some());
        assert!(refusal(&h, &Method::GET, "/api/health", false, "t").is_none());
    }

    #[test]
    fn a_change_needs_the_token_or_the_pages_origin_and_a_foreign_origin_is_refused() {
        let post = |pairs: &[(&'static str, &str)], path| refusal(&headers(pairs), &Method::POST, path, true, "secret");
        assert!(post(&[("host", "localhost:1")], "/api/projects").is_some());
        assert!(post(&[("host", "localhost:1"), (TOKEN_HEADER, "wrong")], "/api/projects").is_some());
        assert!(post(&[("host", "localhost:1"), (TOKEN_HEADER, "secret")], "/api/projects").is_none());
        assert!(post(&[("host", "localhost:1"), ("origin", "http://localhost:1")], "/api/projects").is_none());
        let foreign = [("host", "localhost:1"), ("origin", "https://evil.example"), (TOKEN_HEADER, "secret")];
        assert!(post(&foreign, "/api/projects").is_some());
        assert!(post(&[("host", "localhost:1")], "/api/predict").is_none());
        assert!(post(&[("host", "localhost:1"), ("origin", "https://evil.example")], "/api/predict").is_some());
    }
}
