//! Training from the API: a run's events followed to its end, stop and resume, one job per project.

use axum::body::Body;
use axum::http::{Request, StatusCode};
use serde_json::{Value, json};

use crate::support::*;

/// A project `p` holding the bundled samples (10 classes, 3 images each).
pub async fn project_with_samples(s: &Server) {
    s.post_json("/api/projects", json!({"name": "p"})).await;
    let mut files = Vec::new();
    for class in std::fs::read_dir(samples()).unwrap().flatten().filter(|e| e.path().is_dir()) {
        for image in std::fs::read_dir(class.path()).unwrap().flatten() {
            let name =
                format!("samples/{}/{}", class.file_name().to_string_lossy(), image.file_name().to_string_lossy());
            files.push((name, std::fs::read(image.path()).unwrap()));
        }
    }
    let refs: Vec<(&str, &[u8])> = files.iter().map(|(n, b)| (n.as_str(), b.as_slice())).collect();
    let (status, body) = s.post_files("/api/projects/p/import", &refs).await;
    assert_eq!(status, StatusCode::OK, "{body}");
}

/// The job's server-sent events until its end, as JSON values.
pub async fn follow(s: &Server) -> Vec<Value> {
    let r = Request::get("/api/projects/p/job/events").header("host", HOST).body(Body::empty()).unwrap();
    let response = tower::ServiceExt::oneshot(s.app(), r).await.unwrap();
    assert_eq!(response.headers()["content-type"], "text/event-stream");
    let bytes = http_body_util::BodyExt::collect(response.into_body()).await.unwrap().to_bytes();
    String::from_utf8_lossy(&bytes)
        .lines()
        .filter_map(|l| l.strip_prefix("data: "))
        .map(|d| serde_json::from_str(d).unwrap())
        .collect()
}

#[tokio::test]
async fn a_run_trains_in_the_background_streams_its_epochs_and_its_model_answers() {
    let s = Server::new(|_| {});
    project_with_samples(&s).await;
    let (status, body) = s.post_json("/api/projects/p/train", json!({"arch": "logreg", "epochs": 2})).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["run"], "exp1");
    let events = follow(&s).await;
    let epochs: Vec<&Value> = events.iter().filter(|e| e["type"] == "epoch").collect();
    assert_eq!(epochs.len(), 2, "{events:?}");
    let end = events.last().unwrap();
    assert_eq!((end["type"].as_str(), end["state"].as_str()), (Some("end"), Some("done")), "{end}");
    assert_eq!(end["result"]["has_model"], true);
    let seqs: Vec<u64> = events.iter().map(|e| e["seq"].as_u64().unwrap()).collect();
    assert!(seqs.windows(2).all(|w| w[1] == w[0] + 1), "{seqs:?}");
    assert!(s.dir.path().join("projects/p/runs/exp1/report.html").is_file());
    let shoe = std::fs::read(samples().join("Sneaker").read_dir().unwrap().next().unwrap().unwrap().path()).unwrap();
    let (status, body) = s.post_files("/api/predict?project=p", &[("shoe.png", &shoe)]).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(follow(&s).await.len(), events.len(), "a late listener replays the same events");
    let (_, runs) = s.get("/api/projects/p/runs").await;
    assert_eq!((runs[0]["name"].as_str(), runs[0]["has_model"].as_bool()), (Some("exp1"), Some(true)), "{runs}");
    assert_eq!(runs[0]["epochs"], 2);
    let (_, detail) = s.get("/api/projects/p/runs/exp1").await;
    assert_eq!(detail["history"].as_array().unwrap().len(), 2, "{detail}");
    assert!(detail["report"]["final_metrics"]["accuracy"].is_number(), "{detail}");
    for (file, magic) in [("model.imgclass", None), ("model.onnx", Some(b"\x08".as_slice()))] {
        let r =
            Request::get(format!("/api/projects/p/runs/exp1/{file}")).header("host", HOST).body(Body::empty()).unwrap();
        let response = tower::ServiceExt::oneshot(s.app(), r).await.unwrap();
        assert_eq!(response.status(), StatusCode::OK, "{file}");
        assert!(response.headers()["content-disposition"].to_str().unwrap().contains("p-exp1."), "{file}");
        let bytes = http_body_util::BodyExt::collect(response.into_body()).await.unwrap().to_bytes();
        assert!(bytes.len() > 1000, "{file}");
        if let Some(m) = magic {
            assert!(bytes.starts_with(m), "{file}: an ONNX ModelProto starts with field 1, ir_version");
        }
    }
    assert_eq!(s.get("/api/projects/p/runs/exp9/model.onnx").await.0, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn a_second_run_while_one_trains_is_refused_and_a_stopped_run_resumes_to_its_end() {
    let s = Server::new(|_| {});
    project_with_samples(&s).await;
    let many = json!({"arch": "cnn", "epochs": 40, "batch_size": 4});
    assert_eq!(s.post_json("/api/projects/p/train", many.clone()).await.0, StatusCode::OK);
    let (status, body) = s.post_json("/api/projects/p/train", many).await;
    assert_eq!(status, StatusCode::CONFLICT, "{body}");
    // Stop once the first epoch has ended, so that there is something to resume.
    loop {
        let (_, view) = s.get("/api/projects/p/job").await;
        if view["events"].as_array().unwrap().iter().any(|e| e["type"] == "epoch") {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    let (status, _) = s.post_json("/api/projects/p/job/stop", json!({})).await;
    assert_eq!(status, StatusCode::OK);
    let end = follow(&s).await.pop().unwrap();
    assert_eq!(end["state"], "stopped", "{end}");
    let trained = end["result"]["epochs"].as_u64().unwrap();
    assert!(trained < 40, "{end}");
    let (status, body) = s.post_json("/api/projects/p/runs/exp1/resume", json!({})).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let end = follow(&s).await.pop().unwrap();
    assert_eq!((end["state"].as_str(), end["result"]["epochs"].as_u64()), (Some("done"), Some(40)), "{end}");
    // The trained CNN explains an image with Grad-CAM.
    let shoe = std::fs::read(samples().join("Sneaker").read_dir().unwrap().next().unwrap().unwrap().path()).unwrap();
    let (status, body) = s.post_files("/api/cam?project=p&class=Bag", &[("shoe.png", &shoe)]).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["cam"]["class"], "Bag");
    assert!(body["overlay"].as_str().unwrap().starts_with("data:image/png;base64,"), "{body}");
    let scratch = s.dir.path().join("projects/.scratch");
    assert!(std::fs::read_dir(scratch).unwrap().next().is_none(), "scratch files are removed");
    let (_, list) = s.get("/api/projects").await;
    assert_eq!(list.as_array().unwrap().len(), 1, "the scratch folder is not a project: {list}");
}

#[tokio::test]
async fn a_bad_option_is_refused_with_its_field_and_no_run_folder_is_left() {
    let s = Server::new(|_| {});
    project_with_samples(&s).await;
    let (status, body) = s.post_json("/api/projects/p/train", json!({"batch_size": 0})).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert!(body["error"].as_str().unwrap().contains("batch_size"), "{body}");
    let (status, _) = s.post_json("/api/projects/p/train", json!({"arch": "transformer"})).await;
    assert!(status.is_client_error());
    assert!(std::fs::read_dir(s.dir.path().join("projects/p/runs")).unwrap().next().is_none());
}

#[tokio::test]
async fn an_empty_project_fails_to_train_with_a_reason_and_leaves_no_run() {
    let s = Server::new(|_| {});
    s.post_json("/api/projects", json!({"name": "p"})).await;
    assert_eq!(s.post_json("/api/projects/p/train", json!({})).await.0, StatusCode::OK);
    let end = follow(&s).await.pop().unwrap();
    assert_eq!(end["state"], "failed", "{end}");
    assert!(!end["message"].as_str().unwrap().is_empty());
    assert!(std::fs::read_dir(s.dir.path().join("projects/p/runs")).unwrap().next().is_none());
}
