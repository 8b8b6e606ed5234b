//! Cleaning from the API: the job, its suspects, the page's decisions applied and undone by
//! the code of `imgclass clean apply` and `undo`.

use axum::http::StatusCode;
use serde_json::json;

use crate::support::*;
use crate::train::{follow, project_with_samples};

#[tokio::test]
async fn a_cleaning_lists_suspects_and_its_decisions_are_applied_and_undone() {
    let s = Server::new(|_| {});
    project_with_samples(&s).await;
    let (status, body) = s.post_json("/api/projects/p/clean", json!({"folds": 2, "epochs": 1})).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(s.post_json("/api/projects/p/train", json!({})).await.0, StatusCode::CONFLICT, "one job per project");
    let end = follow(&s).await.pop().unwrap();
    assert_eq!(end["state"], "done", "{end}");
    let (status, suspects) = s.get("/api/projects/p/clean").await;
    assert_eq!(status, StatusCode::OK, "{suspects}");
    let rows = suspects.as_array().unwrap();
    let first = rows.iter().find(|r| r["issue"] == "label_error").unwrap_or_else(|| panic!("{suspects}"));
    let (file, label) = (first["file"].as_str().unwrap().to_string(), first["label"].as_str().unwrap().to_string());
    assert!(s.dir.path().join("projects/p/data").join(&file).is_file(), "{file}");
    let target = if label == "Bag" { "Coat" } else { "Bag" };
    let decision = json!({"decisions": [{"file": file, "action": format!("relabel:{target}")}]});
    let (status, applied) = s.post_json("/api/projects/p/clean/apply", decision).await;
    assert_eq!(status, StatusCode::OK, "{applied}");
    assert_eq!(applied["relabelled"], 1);
    let name = file.rsplit('/').next().unwrap();
    let moved = s.dir.path().join("projects/p/data").join(target).join(name);
    assert!(moved.is_file() && !s.dir.path().join("projects/p/data").join(&file).exists());
    let (status, undone) = s.post_json("/api/projects/p/clean/undo", json!({})).await;
    assert_eq!((status, undone["reverted"].as_u64()), (StatusCode::OK, Some(1)), "{undone}");
    assert!(s.dir.path().join("projects/p/data").join(&file).is_file() && !moved.exists());
    let bad = json!({"decisions": [{"file": "../../etc/passwd", "action": "delete"}]});
    assert_eq!(s.post_json("/api/projects/p/clean/apply", bad).await.0, StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn suspects_before_any_cleaning_are_not_found() {
    let s = Server::new(|_| {});
    s.post_json("/api/projects", json!({"name": "p"})).await;
    assert_eq!(s.get("/api/projects/p/clean").await.0, StatusCode::NOT_FOUND);
}
