//! The page's static files, compiled into the binary (`include_str!`/`include_bytes!`: there is no
//! build step and the machine may be offline, so nothing is fetched at run time).
//!
//! Caching: each file's ETag is a hash of its bytes computed at compile time; responses say
//! `Cache-Control: no-cache`, so the browser revalidates and gets 304 while the file is unchanged. The
//! page links its CSS and JS with `?v=<version>` (a hash of every asset), so a new build is never mixed
//! with an old cached script.

use std::sync::LazyLock;

use axum::extract::Path;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};

use super::DashboardError;

const INDEX_HTML: &str = include_str!("assets/index.html");

/// One embedded file.
struct Asset {
    name: &'static str,
    content_type: &'static str,
    bytes: &'static [u8],
    etag: u64,
}

const fn embed(name: &'static str, content_type: &'static str, bytes: &'static [u8]) -> Asset {
    Asset { name, content_type, bytes, etag: fnv1a(bytes, FNV_OFFSET) }
}

const ASSETS: [Asset; 3] = [
    embed("app.css", "text/css; charset=utf-8", include_bytes!("assets/app.css")),
    embed("app.js", "text/javascript; charset=utf-8", include_bytes!("assets/app.js")),
    embed("favicon.svg", "image/svg+xml", include_bytes!("assets/favicon.svg")),
];

const FNV_OFFSET: u64 = 0xcbf2_9ce4_8422_2325;

/// FNV-1a, 64 bits: a `const fn` so ETags cost nothing at run time (not a security hash; it only has
/// to change when a file does).
const fn fnv1a(bytes: &[u8], mut hash: u64) -> u64 {
    let mut i = 0;
    while i < bytes.len() {
        hash ^= bytes[i] as u64;
        hash = hash.wrapping_mul(0x0100_0000_01b3);
        i += 1;
    }
    hash
}

/// The version of the whole asset set (page included): 16 hex digits.
pub fn version() -> &'static str {
    static VERSION: LazyLock<String> = LazyLock::new(|| {
        let mut hash = fnv1a(INDEX_HTML.as_bytes(), FNV_OFFSET);
        for a in &ASSETS {
            hash = fnv1a(a.bytes, hash);
        }
        format!("{hash:016x}")
    });
    &VERSION
}

/// The page with its asset links versioned.
fn index_html() -> &'static str {
    static PAGE: LazyLock<String> = LazyLock::new(|| INDEX_HTML.replace("{{VERSION}}", version()));
    &PAGE
}

/// `GET /dashboard/`.
pub async fn index(request_headers: HeaderMap) -> Response {
    let etag = format!("\"{}\"", version());
    respond(&request_headers, &etag, "text/html; charset=utf-8", index_html().as_bytes())
}

/// `GET /dashboard/assets/{file}`.
pub async fn asset(Path(file): Path<String>, request_headers: HeaderMap) -> Response {
    match ASSETS.iter().find(|a| a.name == file) {
        Some(a) => respond(&request_headers, &format!("\"{:016x}\"", a.etag), a.content_type, a.bytes),
        None => DashboardError::UnknownAsset(file).into_response(),
    }
}

fn respond(
    request_headers: &HeaderMap,
    etag: &str,
    content_type: &'static str,
    body: &'static [u8],
) -> Response {
    let etag_value = HeaderValue::from_str(etag).unwrap_or(HeaderValue::from_static("\"0\""));
    let revalidated = request_headers
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.split(',').any(|tag| tag.trim() == etag || tag.trim() == "*"));
    let cache = (header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    if revalidated {
        return (StatusCode::NOT_MODIFIED, [(header::ETAG, etag_value), cache]).into_response();
    }
    (
        StatusCode::OK,
        [(header::CONTENT_TYPE, HeaderValue::from_static(content_type)), (header::ETAG, etag_value), cache],
        body,
    )
        .into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fnv1a_matches_the_reference_vectors() {
        // From the FNV reference (draft-eastlake-fnv): "" and "a".
        assert_eq!(fnv1a(b"", FNV_OFFSET), 0xcbf2_9ce4_8422_2325);
        assert_eq!(fnv1a(b"a", FNV_OFFSET), 0xaf63_dc4c_8601_ec8c);
    }

    #[test]
    fn page_links_versioned_assets_only_from_this_origin() {
        let page = index_html();
        assert!(!page.contains("{{VERSION}}"));
        for a in &ASSETS {
            assert!(page.contains(&format!("/dashboard/assets/{}?v={}", a.name, version())), "{}", a.name);
        }
        assert!(!page.contains("http://") && !page.contains("https://"), "no external resources");
        assert!(!has_inline_handler(page), "no inline event handlers (the CSP forbids them)");
        assert!(!page.contains("<script>") && !page.contains(" style="), "no inline script or style");
    }

    /// Whether some tag has an `on...=` attribute.
    fn has_inline_handler(html: &str) -> bool {
        html.split('<').any(|tag| {
            let tag = tag.split('>').next().unwrap_or_default();
            tag.split_whitespace().skip(1).any(|attr| {
                let name = attr.split('=').next().unwrap_or_default();
                attr.contains('=') && name.len() > 2 && name.starts_with("on")
            })
        })
    }
}
