//! Sends one workload request and turns whatever happens into a [`RequestRecord`]: the HTTP client
//! (one TCP connection per request, or kept-alive connections), the images it posts, and how a
//! reply names its serving node and top-1 label.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use bytes::Bytes;

use super::record::RequestRecord;

/// An image to post, read once at start.
#[derive(Debug, Clone)]
pub struct Image {
    pub name: String,
    pub content_type: &'static str,
    pub bytes: Bytes,
}

/// The `Content-Type` of an image file, from its extension; `None` for anything else.
pub fn image_content_type(path: &Path) -> Option<&'static str> {
    let ext = path.extension()?.to_str()?.to_ascii_lowercase();
    Some(match ext.as_str() {
        "png" => "image/png",
        "jpg" | "jpeg" => "image/jpeg",
        "gif" => "image/gif",
        "bmp" => "image/bmp",
        "webp" => "image/webp",
        _ => return None,
    })
}

/// Loads the images named by `paths`: files, or directories whose image files (by extension) are
/// all taken, in name order. Errors name the path and say what is wrong.
pub fn load_images(paths: &[PathBuf]) -> anyhow::Result<Vec<Image>> {
    let mut files = Vec::new();
    for path in paths {
        if path.is_dir() {
            let mut found: Vec<PathBuf> = std::fs::read_dir(path)
                .map_err(|e| anyhow::anyhow!("reading image directory {}: {e}", path.display()))?
                .filter_map(|entry| entry.ok().map(|e| e.path()))
                .filter(|p| p.is_file() && image_content_type(p).is_some())
                .collect();
            if found.is_empty() {
                anyhow::bail!("{} holds no image (.png, .jpg, .jpeg, .gif, .bmp, .webp)", path.display());
            }
            found.sort();
            files.extend(found);
        } else {
            if image_content_type(path).is_none() {
                anyhow::bail!(
                    "{} is not an image file (.png, .jpg, .jpeg, .gif, .bmp, .webp)",
                    path.display()
                );
            }
            files.push(path.clone());
        }
    }
    files
        .into_iter()
        .map(|path| {
            let bytes =
                std::fs::read(&path).map_err(|e| anyhow::anyhow!("reading image {}: {e}", path.display()))?;
            Ok(Image {
                name: path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default(),
                content_type: image_content_type(&path).unwrap_or("application/octet-stream"),
                bytes: Bytes::from(bytes),
            })
        })
        .collect()
}

/// The HTTP client of one workload run.
#[derive(Debug, Clone)]
pub struct WorkloadClient {
    client: reqwest::Client,
}

impl WorkloadClient {
    /// `keep_alive: false` keeps no idle connection, so every request opens a new TCP connection
    /// (a new flow for the load balancer). Proxies from the environment are ignored: the workload
    /// must reach the VIP itself.
    pub fn new(keep_alive: bool, timeout: Duration) -> anyhow::Result<WorkloadClient> {
        let mut builder =
            reqwest::Client::builder().no_proxy().timeout(timeout).connect_timeout(timeout).tcp_nodelay(true);
        if !keep_alive {
            builder = builder.pool_max_idle_per_host(0);
        }
        let client = builder.build().map_err(|e| anyhow::anyhow!("building the HTTP client: {e}"))?;
        Ok(WorkloadClient { client })
    }

    /// Sends one request (a POST of `image`, or a GET without one) and records it; never fails:
    /// a failure is a record with an error kind. `t0` is the run's start.
    pub async fn send(&self, url: &str, image: Option<&Image>, t0: Instant) -> RequestRecord {
        let started = Instant::now();
        let request = match image {
            Some(img) => self
                .client
                .post(url)
                .header(reqwest::header::CONTENT_TYPE, img.content_type)
                .body(img.bytes.clone()),
            None => self.client.get(url),
        };
        let mut record = RequestRecord {
            start_s: started.duration_since(t0).as_secs_f64(),
            latency_ms: 0.0,
            status: None,
            error: None,
            node: None,
            label: None,
            url: url.to_string(),
        };
        let outcome = match request.send().await {
            Ok(response) => {
                let status = response.status().as_u16();
                record.status = Some(status);
                let header_node =
                    response.headers().get("x-node-id").and_then(|v| v.to_str().ok()).map(str::to_string);
                match response.bytes().await {
                    Ok(body) => {
                        let (node, label) = reply_identity(&body);
                        record.node = node.or(header_node);
                        record.label = label;
                        (200..300).contains(&status).then_some(()).ok_or(format!("http_{status}"))
                    }
                    Err(e) => Err(error_kind(&e).to_string()),
                }
            }
            Err(e) => Err(error_kind(&e).to_string()),
        };
        record.latency_ms = started.elapsed().as_secs_f64() * 1000.0;
        record.error = outcome.err();
        record
    }
}

/// The error kinds a CSV and summary use, from most to least specific.
pub fn error_kind(e: &reqwest::Error) -> &'static str {
    if e.is_timeout() {
        "timeout"
    } else if e.is_connect() {
        "connect"
    } else if e.is_body() || e.is_decode() {
        "body"
    } else if e.is_request() {
        "request"
    } else {
        "other"
    }
}

/// `node_id` and `predictions[0].label` of a JSON reply (a `/predict` or `/health` body); `None`s
/// for anything else.
pub fn reply_identity(body: &[u8]) -> (Option<String>, Option<String>) {
    let Ok(json) = serde_json::from_slice::<serde_json::Value>(body) else {
        return (None, None);
    };
    let text = |v: Option<&serde_json::Value>| v.and_then(|v| v.as_str()).map(str::to_string);
    (
        text(json.get("node_id")),
        text(json.get("predictions").and_then(|p| p.get(0)).and_then(|p| p.get("label"))),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reply_identity_reads_predict_and_health_bodies() {
        let predict =
            br#"{"predictions":[{"class_id":282,"label":"tiger cat","confidence":0.4}],"node_id":"n1"}"#;
        assert_eq!(reply_identity(predict), (Some("n1".into()), Some("tiger cat".into())));
        assert_eq!(reply_identity(br#"{"status":"ok","node_id":"n2"}"#), (Some("n2".into()), None));
        assert_eq!(reply_identity(b"not json"), (None, None));
        assert_eq!(reply_identity(br#"{"predictions":[]}"#), (None, None));
    }

    #[test]
    fn images_by_extension_and_clear_errors() {
        assert_eq!(image_content_type(Path::new("a/b.PNG")), Some("image/png"));
        assert_eq!(image_content_type(Path::new("x.jpeg")), Some("image/jpeg"));
        assert_eq!(image_content_type(Path::new("notes.txt")), None);
        let e = load_images(&[PathBuf::from("/nonexistent/cat.png")]).unwrap_err();
        assert!(e.to_string().contains("/nonexistent/cat.png"), "{e}");
        let e = load_images(&[PathBuf::from("Cargo.toml")]).unwrap_err();
        assert!(e.to_string().contains("not an image"), "{e}");
    }

    #[tokio::test]
    async fn refused_connection_is_a_connect_error() {
        // Bind then drop, so the port is (almost certainly) closed.
        let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let client = WorkloadClient::new(false, Duration::from_secs(2)).unwrap();
        let r = client.send(&format!("http://127.0.0.1:{port}/health"), None, Instant::now()).await;
        assert_eq!(r.error.as_deref(), Some("connect"));
        assert_eq!(r.status, None);
        assert!(r.latency_ms >= 0.0);
    }
}
