//! `imgclass serve`: it prints its URL first, answers there, warns when it listens beyond
//! loopback, and refuses a model it cannot load before listening.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::process::{Child, Stdio};

use super::*;

/// Kills the server when the test ends, however it ends.
struct Running(Child);

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// `GET path` on `host:port` over a plain socket; the response's status line and body.
fn get(port: &str, path: &str) -> (String, String) {
    let mut s = TcpStream::connect(format!("127.0.0.1:{port}")).unwrap();
    write!(s, "GET {path} HTTP/1.1\r\nHost: localhost:{port}\r\nConnection: close\r\n\r\n").unwrap();
    let mut response = String::new();
    s.read_to_string(&mut response).unwrap();
    let status = response.lines().next().unwrap_or("").to_string();
    let body = response.split("\r\n\r\n").nth(1).unwrap_or("").to_string();
    (status, body)
}

#[test]
fn serve_prints_its_url_first_and_answers_there() {
    let t = tempfile::tempdir().unwrap();
    let root = t.path().join("projects");
    let child = bin().args(["serve", "--port", "0", "--root"]).arg(&root).stdout(Stdio::piped()).spawn().unwrap();
    let mut server = Running(child);
    let mut lines = BufReader::new(server.0.stdout.take().unwrap()).lines();
    let url = lines.next().unwrap().unwrap();
    let port =
        url.strip_prefix("http://localhost:").and_then(|p| p.strip_suffix('/')).unwrap_or_else(|| panic!("{url}"));
    let (status, body) = get(port, "/api/health");
    assert!(status.contains("200"), "{status}\n{body}");
    assert!(body.contains("\"status\":\"ok\""), "{body}");
    assert!(lines.any(|l| l.unwrap().contains("x-imgclass-token")));
    assert!(root.is_dir());
}

#[test]
fn serve_refuses_a_model_it_cannot_load_before_listening() {
    let t = tempfile::tempdir().unwrap();
    let bad = t.path().join("bad.imgclass");
    std::fs::write(&bad, b"not a bundle").unwrap();
    let err = fails(run(bin().args(["serve", "--port", "0", "--model"]).arg(&bad).arg("--root").arg(t.path())));
    assert!(err.contains("bad.imgclass") && err.contains("cannot be loaded"), "{err}");
}

#[test]
fn serve_beyond_loopback_warns_that_other_machines_can_reach_it() {
    let t = tempfile::tempdir().unwrap();
    let child = bin()
        .args(["serve", "--host", "0.0.0.0", "--port", "0", "--root"])
        .arg(t.path())
        .stderr(Stdio::piped())
        .stdout(Stdio::null())
        .spawn()
        .unwrap();
    let mut server = Running(child);
    let first = BufReader::new(server.0.stderr.take().unwrap()).lines().next().unwrap().unwrap();
    assert!(first.contains("warning: listening on 0.0.0.0: other machines can reach this server"), "{first}");
}
