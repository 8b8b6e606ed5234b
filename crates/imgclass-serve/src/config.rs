//! What `imgclass serve` is started with: where it listens, the folder its projects live in,
//! the model it predicts with when none is named, and the limits every request is held to.
//! Defaults live here only; the CLI fills these structs from its flags.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::PathBuf;

/// How the server runs.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct ServeConfig {
    /// The address to listen on: loopback unless another is asked for.
    pub host: IpAddr,
    /// The port (0: any free port).
    pub port: u16,
    /// The folder that holds the projects; nothing outside it (and the model's file) is read or written.
    pub root: PathBuf,
    /// The bundle `POST /api/predict` uses when the request names no project.
    pub model: Option<PathBuf>,
    /// Request limits.
    pub limits: Limits,
}

impl Default for ServeConfig {
    fn default() -> Self {
        ServeConfig {
            host: IpAddr::V4(Ipv4Addr::LOCALHOST),
            port: 8080,
            root: PathBuf::from("imgclass-projects"),
            model: None,
            limits: Limits::default(),
        }
    }
}

impl ServeConfig {
    /// The socket address to bind.
    pub fn addr(&self) -> SocketAddr {
        SocketAddr::new(self.host, self.port)
    }

    /// Whether the server listens on loopback only (then requests must also name a loopback host).
    pub fn is_loopback(&self) -> bool {
        self.host.is_loopback()
    }
}

/// The most a request may carry.
#[derive(Debug, Clone, Copy, PartialEq)]
#[non_exhaustive]
pub struct Limits {
    /// Bytes in one request body (413 above; the page uploads large folders in several requests).
    pub body_bytes: usize,
    /// Bytes a zip's entries may hold once inflated, all together.
    pub zip_bytes: u64,
    /// Entries (files and folders) in one zip.
    pub zip_entries: usize,
    /// Pixels an uploaded image may declare; larger ones are refused before decoding allocates.
    pub max_pixels: u64,
    /// Images in one prediction request.
    pub predict_images: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            body_bytes: 20 << 20,
            zip_bytes: 1 << 30,
            zip_entries: 20_000,
            max_pixels: 64_000_000,
            predict_images: 256,
        }
    }
}
