//! Request ids: taken from the client's `x-request-id` header when it is sane, generated
//! otherwise, and kept in a task-local so errors and logs anywhere in the request can name it.

use std::future::Future;
use std::hash::{BuildHasher, RandomState};
use std::sync::LazyLock;
use std::sync::atomic::{AtomicU64, Ordering};

use axum::http::HeaderMap;

pub const HEADER: &str = "x-request-id";
/// Client-supplied ids longer than this are replaced (they end up in logs and responses).
const MAX_CLIENT_ID_LEN: usize = 128;

tokio::task_local! {
    static REQUEST_ID: String;
}

/// The id of the request being served by the current task, if any.
pub fn current() -> Option<String> {
    REQUEST_ID.try_with(Clone::clone).ok()
}

/// Runs `future` with `id` as the current request id.
pub async fn scope<F: Future>(id: String, future: F) -> F::Output {
    REQUEST_ID.scope(id, future).await
}

/// The client's id when it is short printable ASCII, else a fresh one.
pub fn from_headers(headers: &HeaderMap) -> String {
    headers
        .get(HEADER)
        .and_then(|v| v.to_str().ok())
        .filter(|s| !s.is_empty() && s.len() <= MAX_CLIENT_ID_LEN && s.bytes().all(|b| b.is_ascii_graphic()))
        .map(str::to_owned)
        .unwrap_or_else(generate)
}

/// A process-unique id: a random per-process prefix (so ids from different nodes do not collide)
/// and a counter.
pub fn generate() -> String {
    static PREFIX: LazyLock<u64> = LazyLock::new(|| RandomState::new().hash_one(std::process::id()));
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    format!("{:016x}-{n:08x}", *PREFIX)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn client_id_is_kept_when_sane_and_replaced_otherwise() {
        let mut headers = HeaderMap::new();
        headers.insert(HEADER, "abc-123".parse().expect("header"));
        assert_eq!(from_headers(&headers), "abc-123");
        headers.insert(HEADER, "x".repeat(500).parse().expect("header"));
        assert_ne!(from_headers(&headers).len(), 500);
        headers.insert(HEADER, "has space".parse().expect("header"));
        assert_ne!(from_headers(&headers), "has space");
    }

    #[test]
    fn generated_ids_are_unique() {
        assert_ne!(generate(), generate());
    }

    #[tokio::test]
    async fn current_is_set_inside_scope_only() {
        assert_eq!(current(), None);
        let inside = scope("r1".into(), async { current() }).await;
        assert_eq!(inside.as_deref(), Some("r1"));
    }
}
