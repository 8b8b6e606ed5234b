//! The page: HTML, CSS and JavaScript written by hand, embedded in the binary, so the app
//! works offline and needs no build step. The page's copy of the token is written into its
//! HTML when it is served.

use axum::extract::{Path, State};
use axum::http::header;
use axum::response::{Html, IntoResponse, Response};

use crate::AppState;

const INDEX: &str = include_str!("../assets/index.html");
const STYLE: &str = include_str!("../assets/style.css");

/// The page's scripts, loaded in this order: helpers, the Teach tab, the other tabs, the wiring.
const SCRIPTS: &[(&str, &str)] = &[
    ("common.js", include_str!("../assets/common.js")),
    ("teach.js", include_str!("../assets/teach.js")),
    ("look.js", include_str!("../assets/look.js")),
    ("app.js", include_str!("../assets/app.js")),
];

/// Headers every asset carries: no framing by other sites, no type sniffing, nothing loaded
/// from elsewhere.
const SECURITY: [(header::HeaderName, &str); 3] = [
    (header::X_FRAME_OPTIONS, "DENY"),
    (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
    (
        header::CONTENT_SECURITY_POLICY,
        "default-src 'self'; img-src 'self' blob: data:; media-src 'self' blob: mediastream:; style-src 'self'; script-src 'self'; connect-src 'self'; frame-ancestors 'none'",
    ),
];

/// `GET /`: the page, with its token.
pub async fn index(State(state): State<AppState>) -> Response {
    (SECURITY, Html(INDEX.replace("{{TOKEN}}", state.token()))).into_response()
}

/// `GET /js/{name}`: one of the page's scripts.
pub async fn script(Path(name): Path<String>) -> Response {
    match SCRIPTS.iter().find(|(n, _)| *n == name) {
        Some((_, text)) => {
            (SECURITY, [(header::CONTENT_TYPE, "text/javascript; charset=utf-8")], *text).into_response()
        }
        None => crate::error::ApiError::NotFound(format!("no script {name:?}")).into_response(),
    }
}

/// `GET /style.css`.
pub async fn style() -> Response {
    (SECURITY, [(header::CONTENT_TYPE, "text/css; charset=utf-8")], STYLE).into_response()
}
