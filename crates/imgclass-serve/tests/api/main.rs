//! The web app's API, in-process: every safety rule of `imgclass serve` and what the page
//! does with projects, classes, images and predictions.

mod browser;
mod clean;
mod support;
mod train;

use axum::body::Body;
use axum::http::{Request, StatusCode};
use serde_json::json;
use support::*;

#[tokio::test]
async fn health_answers_without_a_token_and_the_page_carries_its_token_and_policy() {
    let s = Server::new(|_| {});
    let (status, body) = s.get("/api/health").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["status"], "ok");
    let response =
        tower::ServiceExt::oneshot(s.app(), Request::get("/").header("host", HOST).body(Body::empty()).unwrap())
            .await
            .unwrap();
    assert_eq!(response.headers()["x-frame-options"], "DENY");
    assert!(response.headers()["content-security-policy"].to_str().unwrap().contains("default-src 'self'"));
    let html = http_body_util::BodyExt::collect(response.into_body()).await.unwrap().to_bytes();
    let html = String::from_utf8_lossy(&html).into_owned();
    assert!(html.contains(&s.token()));
    for script in html.split("<script src=\"").skip(1).map(|rest| rest.split('"').next().unwrap()) {
        let (status, body) = s.get(script).await;
        assert_eq!(status, StatusCode::OK, "{script}");
        assert!(body.as_str().is_some_and(|js| js.contains("\"use strict\"")), "{script}");
    }
    assert_eq!(s.get("/js/..%2Fsrc%2Flib.rs").await.0, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn a_change_without_the_token_or_the_pages_origin_is_forbidden() {
    let s = Server::new(|_| {});
    let create = |builder: axum::http::request::Builder| {
        builder.header("content-type", "application/json").body(Body::from(r#"{"name":"p"}"#)).unwrap()
    };
    let bare = Request::post("/api/projects").header("host", HOST);
    assert_eq!(s.send(create(bare)).await.0, StatusCode::FORBIDDEN);
    let wrong = Request::post("/api/projects").header("host", HOST).header("x-imgclass-token", "0123");
    assert_eq!(s.send(create(wrong)).await.0, StatusCode::FORBIDDEN);
    let foreign = s.page("POST", "/api/projects").header("origin", "https://evil.example");
    assert_eq!(s.send(create(foreign)).await.0, StatusCode::FORBIDDEN);
    assert!(!s.dir.path().join("projects/p").exists());
    let same_origin = Request::post("/api/projects").header("host", HOST).header("origin", format!("http://{HOST}"));
    assert_eq!(s.send(create(same_origin)).await.0, StatusCode::OK);
}

#[tokio::test]
async fn the_frameworks_own_rejections_are_json_errors_too() {
    let s = Server::new(|c| c.limits.body_bytes = 4096);
    let (status, body) = s.post_files("/api/predict?tta=sideways", &[("a.png", &png(4, 4, 1))]).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert!(body["error"].as_str().unwrap().contains("sideways"), "{body}");
    let (status, body) = s.send(s.page("POST", "/api/health").body(Body::empty()).unwrap()).await;
    assert_eq!((status, body["status"].as_u64()), (StatusCode::METHOD_NOT_ALLOWED, Some(405)), "{body}");
    let broken =
        s.page("POST", "/api/projects").header("content-type", "application/json").body(Body::from("{\"name\":"));
    let (status, body) = s.send(broken.unwrap()).await;
    assert!(status.is_client_error() && body["error"].is_string(), "{status} {body}");
    let declared =
        s.page("POST", "/api/projects").header("content-type", "application/json").header("content-length", "10000");
    let (status, body) = s.send(declared.body(Body::from(vec![b' '; 10_000])).unwrap()).await;
    assert_eq!((status, body["status"].as_u64()), (StatusCode::PAYLOAD_TOO_LARGE, Some(413)), "{body}");
}

#[tokio::test]
async fn a_host_that_is_not_loopback_is_misdirected() {
    let s = Server::new(|_| {});
    let r = Request::get("/api/projects").header("host", "rebound.example:8080").body(Body::empty()).unwrap();
    assert_eq!(s.send(r).await.0, StatusCode::MISDIRECTED_REQUEST);
}

#[tokio::test]
async fn projects_and_classes_are_made_listed_and_refused_twice_or_with_bad_names() {
    let s = Server::new(|_| {});
    assert_eq!(s.post_json("/api/projects", json!({"name": "pets"})).await.0, StatusCode::OK);
    assert_eq!(s.post_json("/api/projects", json!({"name": "pets"})).await.0, StatusCode::CONFLICT);
    for bad in ["..", "../x", "a/b", ".hidden", ""] {
        let (status, body) = s.post_json("/api/projects", json!({"name": bad})).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{bad}: {body}");
    }
    assert_eq!(s.post_json("/api/projects/pets/classes", json!({"name": "cat"})).await.0, StatusCode::OK);
    assert_eq!(s.get("/api/projects/%2E%2E").await.0, StatusCode::BAD_REQUEST);
    assert_eq!(s.get("/api/projects/nope").await.0, StatusCode::NOT_FOUND);
    let (_, list) = s.get("/api/projects").await;
    assert_eq!(list, json!([{"name": "pets", "classes": 1, "images": 0, "runs": 0}]));
}

#[tokio::test]
async fn images_are_uploaded_to_a_class_and_served_back() {
    let s = Server::new(|_| {});
    s.post_json("/api/projects", json!({"name": "p"})).await;
    let image = png(8, 8, 200);
    let (status, body) = s.post_files("/api/projects/p/classes/cat/images", &[("photos/cat/a.png", &image)]).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["added"], json!(["cat/a.png"]));
    let r = Request::get("/api/projects/p/classes/cat/images/a.png").header("host", HOST).body(Body::empty()).unwrap();
    let response = tower::ServiceExt::oneshot(s.app(), r).await.unwrap();
    assert_eq!(response.headers()["content-type"], "image/png");
    let bytes = http_body_util::BodyExt::collect(response.into_body()).await.unwrap().to_bytes();
    assert_eq!(&bytes[..], &image[..]);
    assert_eq!(s.get("/api/projects/p/classes/cat/images/..").await.0, StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn a_zip_of_class_folders_is_imported_and_a_zip_slip_keeps_nothing() {
    let s = Server::new(|_| {});
    s.post_json("/api/projects", json!({"name": "p"})).await;
    let (a, b) = (png(4, 4, 10), png(4, 4, 20));
    let good = zip_of(&[("pets/cat/1.png", &a), ("pets/dog/1.png", &b), ("__MACOSX/pets/._x", b"junk")]);
    let (status, body) = s.post_files("/api/projects/p/import", &[("pets.zip", &good)]).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["added"], json!(["cat/1.png", "dog/1.png"]));
    let evil = zip_of(&[("cat/2.png", &a), ("../../escaped.png", &b)]);
    let (status, body) = s.post_files("/api/projects/p/import", &[("evil.zip", &evil)]).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert!(!s.dir.path().join("escaped.png").exists() && !s.dir.path().join("projects/escaped.png").exists());
    assert_eq!(s.get("/api/projects/p").await.1["classes"][0]["count"], 1);
}

#[tokio::test]
async fn an_upload_path_that_climbs_is_refused() {
    let s = Server::new(|_| {});
    s.post_json("/api/projects", json!({"name": "p"})).await;
    let image = png(4, 4, 1);
    for bad in ["../../x.png", "/etc/x.png", "C:\\x.png"] {
        let (status, body) = s.post_files("/api/projects/p/classes/cat/images", &[(bad, &image)]).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{bad}: {body}");
    }
}

#[tokio::test]
async fn a_body_over_the_limit_is_413_and_a_pixel_bomb_is_refused_before_decoding() {
    let s = Server::new(|c| c.limits.body_bytes = 4096);
    s.post_json("/api/projects", json!({"name": "p"})).await;
    let big = vec![7u8; 10_000];
    let (status, _) = s.post_files("/api/projects/p/classes/cat/images", &[("big.png", &big)]).await;
    assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE);
    let bomb = png_declaring(50_000, 50_000);
    assert!(bomb.len() < 100);
    let (status, body) = s.post_files("/api/projects/p/classes/cat/images", &[("bomb.png", &bomb)]).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert!(body["error"].as_str().unwrap().contains("pixels"), "{body}");
}

#[cfg(unix)]
#[tokio::test]
async fn a_project_that_links_out_of_the_root_is_refused() {
    let s = Server::new(|_| {});
    let outside = s.dir.path().join("outside");
    std::fs::create_dir_all(outside.join("data/cat")).unwrap();
    std::os::unix::fs::symlink(&outside, s.dir.path().join("projects/linked")).unwrap();
    let (status, _) = s.post_files("/api/projects/linked/classes/cat/images", &[("a.png", &png(4, 4, 1))]).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert_eq!(s.get("/api/projects/linked").await.0, StatusCode::FORBIDDEN);
    assert!(std::fs::read_dir(outside.join("data/cat")).unwrap().next().is_none());
}

#[tokio::test]
async fn predictions_come_from_the_default_model_or_a_projects_newest_run() {
    let t = tempfile::tempdir().unwrap();
    let model = t.path().join("model.imgclass");
    train_logreg(&samples(), &model);
    let s = Server::new(|c| c.model = Some(model.clone()));
    let sneaker = std::fs::read(samples().join("Sneaker").read_dir().unwrap().next().unwrap().unwrap().path()).unwrap();
    let (status, body) = s.post_files("/api/predict?k=3", &[("shoe.png", &sneaker)]).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["file"], "shoe.png");
    assert_eq!(body["top"].as_array().unwrap().len(), 3);
    let p: f64 = body["top"].as_array().unwrap().iter().map(|c| c["probability"].as_f64().unwrap()).sum();
    assert!(p > 0.0 && p <= 1.0 + 1e-5, "{body}");
    let (status, body) = s.post_files("/api/predict", &[("notes.txt", b"hello")]).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    let (status, body) = s.post_files("/api/predict/batch", &[("a.png", &sneaker), ("b.txt", b"no")]).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!((body["predictions"].as_array().unwrap().len(), body["skipped"].as_array().unwrap().len()), (1, 1));
    let (status, _) = s.post_files("/api/predict?project=p", &[("a.png", &sneaker)]).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    s.post_json("/api/projects", json!({"name": "p"})).await;
    let run = s.dir.path().join("projects/p/runs/exp1");
    std::fs::create_dir_all(&run).unwrap();
    std::fs::copy(&model, run.join("model.imgclass")).unwrap();
    let (status, body) = s.post_files("/api/predict?project=p&k=1", &[("a.png", &sneaker)]).await;
    assert_eq!((status, body["top"].as_array().unwrap().len()), (StatusCode::OK, 1), "{body}");
    let bomb = png_declaring(50_000, 50_000);
    let (status, body) = s.post_files("/api/predict", &[("bomb.png", &bomb)]).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    let (status, body) = s.post_files("/api/cam", &[("shoe.png", &sneaker)]).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert!(body["error"].as_str().unwrap().contains("convolutional"), "{body}");
}

#[tokio::test]
async fn without_a_model_a_prediction_says_how_to_get_one() {
    let s = Server::new(|_| {});
    let (status, body) = s.post_files("/api/predict", &[("a.png", &png(4, 4, 1))]).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(body["error"].as_str().unwrap().contains("--model"), "{body}");
}
