//! The sample photos the page offers as one-click inputs: the image files of the configured samples
//! directory (`models/samples/` from `make model`), with the labels `expected.json` lists for them.
//!
//! A file is served only if the directory listing contains its exact name, so no path from the URL
//! ever reaches the file system.

use std::path::Path;

use axum::Json;
use axum::extract::{Path as UrlPath, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use serde_json::Value;

use super::{DashboardError, DashboardState};

/// Largest sample file served (the classify limit: anything larger could not be classified anyway).
const MAX_SAMPLE_BYTES: u64 = super::CLASSIFY_BODY_LIMIT as u64;

/// One entry of `GET /dashboard/api/samples`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Sample {
    pub name: String,
    pub url: String,
    pub content_type: &'static str,
    pub bytes: u64,
    /// Top labels `expected.json` gives for this file (best first), empty when it lists none.
    pub expected: Vec<String>,
}

/// The content type of an image file name the node can decode, by extension.
pub fn image_type(name: &str) -> Option<&'static str> {
    let ext = name.rsplit_once('.')?.1.to_ascii_lowercase();
    Some(match ext.as_str() {
        "png" => "image/png",
        "jpg" | "jpeg" => "image/jpeg",
        "gif" => "image/gif",
        "webp" => "image/webp",
        "bmp" => "image/bmp",
        _ => return None,
    })
}

/// The image files of `dir`, sorted by name.
pub fn scan(dir: &Path) -> Result<Vec<Sample>, DashboardError> {
    let unavailable =
        |reason: String| DashboardError::SamplesUnavailable { dir: dir.display().to_string(), reason };
    let entries = std::fs::read_dir(dir).map_err(|e| unavailable(e.to_string()))?;
    let expected = read_expected(dir);
    let mut samples = Vec::new();
    for entry in entries {
        let entry = entry.map_err(|e| unavailable(e.to_string()))?;
        let Ok(name) = entry.file_name().into_string() else { continue };
        let Some(content_type) = image_type(&name) else { continue };
        let Ok(meta) = entry.metadata() else { continue };
        if !meta.is_file() || meta.len() > MAX_SAMPLE_BYTES {
            continue;
        }
        let labels = expected.get(&name).and_then(Value::as_array).map(|v| expected_labels(v));
        samples.push(Sample {
            url: format!("/dashboard/api/samples/{}", percent_encode(&name)),
            name,
            content_type,
            bytes: meta.len(),
            expected: labels.unwrap_or_default(),
        });
    }
    samples.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(samples)
}

/// `expected.json`: `{"chelsea.png": [["tiger cat", 0.381], ...]}`; anything unreadable counts as empty.
fn read_expected(dir: &Path) -> serde_json::Map<String, Value> {
    std::fs::read(dir.join("expected.json"))
        .ok()
        .and_then(|bytes| serde_json::from_slice::<Value>(&bytes).ok())
        .and_then(|v| v.as_object().cloned())
        .unwrap_or_default()
}

fn expected_labels(entries: &[Value]) -> Vec<String> {
    entries
        .iter()
        .filter_map(|e| match e {
            Value::Array(pair) => pair.first().and_then(Value::as_str).map(str::to_string),
            Value::String(s) => Some(s.clone()),
            _ => None,
        })
        .collect()
}

/// Percent-encodes everything but unreserved URL characters (RFC 3986 §2.3).
fn percent_encode(name: &str) -> String {
    let mut out = String::with_capacity(name.len());
    for b in name.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// `GET /dashboard/api/samples`.
pub async fn list(State(state): State<DashboardState>) -> Result<Json<Vec<Sample>>, DashboardError> {
    let dir = state.samples_dir().to_path_buf();
    let samples = tokio::task::spawn_blocking(move || scan(&dir))
        .await
        .map_err(|e| DashboardError::SamplesUnavailable { dir: "?".into(), reason: e.to_string() })??;
    Ok(Json(samples))
}

/// `GET /dashboard/api/samples/{name}`: the file's bytes.
pub async fn get(
    State(state): State<DashboardState>,
    UrlPath(name): UrlPath<String>,
) -> Result<Response, DashboardError> {
    let dir = state.samples_dir().to_path_buf();
    let listed = tokio::task::spawn_blocking({
        let dir = dir.clone();
        move || scan(&dir)
    })
    .await
    .map_err(|e| DashboardError::SamplesUnavailable {
        dir: dir.display().to_string(),
        reason: e.to_string(),
    })??;
    let Some(sample) = listed.into_iter().find(|s| s.name == name) else {
        return Err(DashboardError::UnknownSample(name));
    };
    let bytes = tokio::fs::read(dir.join(&sample.name)).await.map_err(|e| {
        DashboardError::SamplesUnavailable { dir: dir.display().to_string(), reason: e.to_string() }
    })?;
    Ok((
        StatusCode::OK,
        [
            (header::CONTENT_TYPE, HeaderValue::from_static(sample.content_type)),
            (header::CACHE_CONTROL, HeaderValue::from_static("max-age=300")),
        ],
        bytes,
    )
        .into_response())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn image_types_by_extension() {
        assert_eq!(image_type("a.PNG"), Some("image/png"));
        assert_eq!(image_type("rocket.jpg"), Some("image/jpeg"));
        assert_eq!(image_type("expected.json"), None);
        assert_eq!(image_type("README"), None);
    }

    #[test]
    fn names_are_url_safe() {
        assert_eq!(percent_encode("chelsea.png"), "chelsea.png");
        assert_eq!(percent_encode("a b/..%.png"), "a%20b%2F..%25.png");
    }

    #[test]
    fn scan_lists_images_with_expected_labels() {
        let dir = std::env::temp_dir().join(format!("rudder-dash-samples-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("b.png"), b"\x89PNG").unwrap();
        std::fs::write(dir.join("a.jpg"), b"\xff\xd8\xff").unwrap();
        std::fs::write(dir.join("notes.txt"), b"x").unwrap();
        std::fs::write(dir.join("expected.json"), br#"{"b.png": [["tiger cat", 0.4], ["tabby", 0.1]]}"#)
            .unwrap();
        let samples = scan(&dir).unwrap();
        std::fs::remove_dir_all(&dir).unwrap();
        let names: Vec<_> = samples.iter().map(|s| s.name.as_str()).collect();
        assert_eq!(names, ["a.jpg", "b.png"]);
        assert_eq!(samples[1].expected, ["tiger cat", "tabby"]);
        assert!(samples[0].expected.is_empty());
        assert_eq!(samples[1].url, "/dashboard/api/samples/b.png");
        assert_eq!(samples[1].bytes, 4);
    }

    #[test]
    fn missing_directory_is_a_named_404() {
        let err = scan(Path::new("/nonexistent/rudder-samples")).unwrap_err();
        assert_eq!(err.status(), StatusCode::NOT_FOUND);
        assert!(err.to_string().starts_with("samples directory /nonexistent/rudder-samples:"), "{err}");
    }
}
