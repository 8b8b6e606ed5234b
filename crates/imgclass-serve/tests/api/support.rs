//! Requests built by hand and sent to the router in-process (no socket), and tiny images.

use axum::Router;
use axum::body::Body;
use axum::http::{Request, StatusCode};
use http_body_util::BodyExt;
use imgclass_serve::AppState;
use imgclass_serve::config::ServeConfig;
use serde_json::Value;
use tower::ServiceExt;

pub const HOST: &str = "localhost:8080";

/// A server on a fresh root in a temporary folder, with `edit` applied to its config.
pub struct Server {
    pub dir: tempfile::TempDir,
    pub state: AppState,
}

impl Server {
    pub fn new(edit: impl FnOnce(&mut ServeConfig)) -> Server {
        let dir = tempfile::tempdir().unwrap();
        let mut config = ServeConfig::default();
        config.root = dir.path().join("projects");
        edit(&mut config);
        Server { state: AppState::new(config).unwrap(), dir }
    }

    pub fn app(&self) -> Router {
        imgclass_serve::app(self.state.clone())
    }

    pub fn token(&self) -> String {
        self.state.token().to_string()
    }

    /// A request from the page: the right host and the token.
    pub fn page(&self, method: &str, uri: &str) -> axum::http::request::Builder {
        Request::builder().method(method).uri(uri).header("host", HOST).header("x-imgclass-token", self.token())
    }

    /// Sends `request`; the status and the body as JSON (or as a string value).
    pub async fn send(&self, request: Request<Body>) -> (StatusCode, Value) {
        let response = self.app().oneshot(request).await.unwrap();
        let status = response.status();
        let bytes = response.into_body().collect().await.unwrap().to_bytes();
        let body =
            serde_json::from_slice(&bytes).unwrap_or_else(|_| Value::String(String::from_utf8_lossy(&bytes).into()));
        (status, body)
    }

    pub async fn post_json(&self, uri: &str, body: Value) -> (StatusCode, Value) {
        let r = self.page("POST", uri).header("content-type", "application/json").body(Body::from(body.to_string()));
        self.send(r.unwrap()).await
    }

    pub async fn post_files(&self, uri: &str, files: &[(&str, &[u8])]) -> (StatusCode, Value) {
        let (content_type, body) = multipart(files);
        self.send(self.page("POST", uri).header("content-type", content_type).body(Body::from(body)).unwrap()).await
    }

    pub async fn get(&self, uri: &str) -> (StatusCode, Value) {
        self.send(Request::builder().uri(uri).header("host", HOST).body(Body::empty()).unwrap()).await
    }
}

/// A multipart form with one `files` field per `(file name, bytes)`.
pub fn multipart(files: &[(&str, &[u8])]) -> (String, Vec<u8>) {
    let boundary = "imgclass-test-boundary-7d1e";
    let mut body = Vec::new();
    for (name, bytes) in files {
        body.extend_from_slice(format!("--{boundary}\r\n").as_bytes());
        let disposition = format!("Content-Disposition: form-data; name=\"files\"; filename=\"{name}\"\r\n");
        body.extend_from_slice(disposition.as_bytes());
        body.extend_from_slice(b"Content-Type: application/octet-stream\r\n\r\n");
        body.extend_from_slice(bytes);
        body.extend_from_slice(b"\r\n");
    }
    body.extend_from_slice(format!("--{boundary}--\r\n").as_bytes());
    (format!("multipart/form-data; boundary={boundary}"), body)
}

/// A `w` × `h` grey PNG of one shade.
pub fn png(w: u32, h: u32, shade: u8) -> Vec<u8> {
    let mut out = std::io::Cursor::new(Vec::new());
    image::GrayImage::from_pixel(w, h, image::Luma([shade])).write_to(&mut out, image::ImageFormat::Png).unwrap();
    out.into_inner()
}

/// A 1 × 1 PNG whose header declares `w` × `h` pixels (checksum fixed): a decompression bomb's header.
pub fn png_declaring(w: u32, h: u32) -> Vec<u8> {
    let mut bytes = png(1, 1, 0);
    // Signature (8), IHDR length (4), "IHDR" (4), then width and height; the CRC follows the 13 data bytes.
    bytes[16..20].copy_from_slice(&w.to_be_bytes());
    bytes[20..24].copy_from_slice(&h.to_be_bytes());
    let crc = crc32fast::hash(&bytes[12..29]);
    bytes[29..33].copy_from_slice(&crc.to_be_bytes());
    bytes
}

/// A zip of `(name, bytes)` entries, names written as given.
pub fn zip_of(entries: &[(&str, &[u8])]) -> Vec<u8> {
    use std::io::Write;
    let mut w = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    let options = zip::write::SimpleFileOptions::default();
    for (name, bytes) in entries {
        w.start_file(*name, options).unwrap();
        w.write_all(bytes).unwrap();
    }
    w.finish().unwrap().into_inner()
}

/// The bundled samples' folder (10 classes, 28 × 28 grey).
pub fn samples() -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../data/fashion-samples")
}

/// A logistic regression trained one epoch on the samples, saved at `path`.
pub fn train_logreg(data: &std::path::Path, path: &std::path::Path) {
    use imgclass::config::TrainConfig;
    use imgclass::train::{Learner, Silent};
    let source = imgclass::data::Source::open(data).unwrap();
    let mut config = TrainConfig::default();
    config.model.arch = imgclass::models::ArchKind::Logreg.arch();
    config.fit.epochs = 1;
    let split = config.load(&source, &|_, _| {}).unwrap();
    let mut learner = Learner::new(split, config, imgclass::default_device()).unwrap();
    learner.fit(&mut Silent).unwrap();
    learner.save_bundle(path).unwrap();
}
