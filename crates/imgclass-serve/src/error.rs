//! The one error type of the web app's handlers: what went wrong, as the HTTP status and JSON
//! body a client gets. A user's mistake (a bad name, a file too large, a model that cannot read
//! the image) is a 4xx with a message that says what to do; a failure of the server itself is
//! logged on standard error with its cause and answered with a 500 that leaks nothing.

use axum::Json;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::json;

/// A handler's error.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// The request is malformed or names something that cannot be (400).
    #[error("{0}")]
    BadRequest(String),
    /// The request needs the page's token or a matching Origin (403).
    #[error("{0}")]
    Forbidden(String),
    /// The request names a host that is not this server's (421): a DNS-rebinding page.
    #[error("{0}")]
    WrongHost(String),
    /// Nothing of that name (404).
    #[error("{0}")]
    NotFound(String),
    /// It exists already, or a job of that kind is running (409).
    #[error("{0}")]
    Conflict(String),
    /// The body, a zip or an image is over a limit (413).
    #[error("{0}")]
    TooLarge(String),
    /// The request is well formed but cannot be done with this data or model (422).
    #[error("{0}")]
    Unprocessable(String),
    /// The library refused the input: its message names the file or field (400).
    #[error(transparent)]
    Library(imgclass::Error),
    /// The server failed (500): logged, not shown.
    #[error("{context}")]
    Internal {
        /// What the server was doing.
        context: String,
        /// Why it failed.
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
}

/// A handler's result.
pub type ApiResult<T> = Result<T, ApiError>;

impl ApiError {
    /// A server failure while doing `context`.
    pub fn internal(context: impl Into<String>, source: impl Into<Box<dyn std::error::Error + Send + Sync>>) -> Self {
        ApiError::Internal { context: context.into(), source: source.into() }
    }

    /// The HTTP status.
    pub fn status(&self) -> StatusCode {
        match self {
            ApiError::BadRequest(_) | ApiError::Library(_) => StatusCode::BAD_REQUEST,
            ApiError::Forbidden(_) => StatusCode::FORBIDDEN,
            ApiError::WrongHost(_) => StatusCode::MISDIRECTED_REQUEST,
            ApiError::NotFound(_) => StatusCode::NOT_FOUND,
            ApiError::Conflict(_) => StatusCode::CONFLICT,
            ApiError::TooLarge(_) => StatusCode::PAYLOAD_TOO_LARGE,
            ApiError::Unprocessable(_) => StatusCode::UNPROCESSABLE_ENTITY,
            ApiError::Internal { .. } => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }
}

impl From<imgclass::Error> for ApiError {
    /// The library's input errors are the client's; its I/O errors are the server's.
    fn from(e: imgclass::Error) -> Self {
        match e {
            imgclass::Error::Io { .. } => ApiError::internal("imgclass", e),
            imgclass::Error::RunInUse { .. } => ApiError::Conflict(chain(&e)),
            e => ApiError::Library(e),
        }
    }
}

/// The largest error body [`json_errors`] rewrites (the framework's rejections are a line).
const MAX_REWRITTEN: usize = 64 << 10;

/// Middleware: an error response that is not JSON — axum's own rejections of a malformed JSON
/// body, query string or path, a wrong method, a body over the limit — becomes the same
/// `{"error", "status"}` object as the handlers' errors, keeping its status and text.
pub async fn json_errors(request: axum::extract::Request, next: axum::middleware::Next) -> Response {
    let response = next.run(request).await;
    let status = response.status();
    let is_json = response
        .headers()
        .get(axum::http::header::CONTENT_TYPE)
        .is_some_and(|t| t.as_bytes().starts_with(b"application/json"));
    if !(status.is_client_error() || status.is_server_error()) || is_json {
        return response;
    }
    let text = axum::body::to_bytes(response.into_body(), MAX_REWRITTEN).await.unwrap_or_default();
    let mut message = String::from_utf8_lossy(&text).trim().to_string();
    if message.is_empty() {
        message = status.canonical_reason().unwrap_or("error").to_lowercase();
    }
    (status, Json(json!({ "error": message, "status": status.as_u16() }))).into_response()
}

/// The cause chain of `e`, one `: ` between causes (as `{:#}` prints an anyhow error).
pub(crate) fn chain(e: &dyn std::error::Error) -> String {
    let mut text = e.to_string();
    let mut cause = e.source();
    while let Some(c) = cause {
        let next = c.to_string();
        if !text.contains(&next) {
            text = format!("{text}: {next}");
        }
        cause = c.source();
    }
    text
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let status = self.status();
        let message = match &self {
            ApiError::Internal { .. } => {
                eprintln!("imgclass serve: error: {}", chain(&self));
                "the server failed; its terminal says why".to_string()
            }
            e => chain(e),
        };
        (status, Json(json!({ "error": message, "status": status.as_u16() }))).into_response()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_internal_error_is_a_500_that_does_not_show_its_cause() {
        let e = ApiError::internal("writing /secret/place", std::io::Error::other("disk full"));
        assert_eq!(e.status(), StatusCode::INTERNAL_SERVER_ERROR);
        let body = format!("{:?}", e.into_response().into_body());
        assert!(!body.contains("secret"), "{body}");
    }

    #[test]
    fn a_library_decode_error_is_the_clients_and_names_the_file() {
        let e: ApiError = imgclass::data::decode_image(b"not an image", "x.png".as_ref(), 10).unwrap_err().into();
        assert_eq!(e.status(), StatusCode::BAD_REQUEST);
        assert!(chain(&e).contains("x.png"), "{}", chain(&e));
    }
}
