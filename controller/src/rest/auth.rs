//! Bearer-token check for the mutating routes: an extractor, so a handler that changes the switch
//! cannot be written without it, and it runs before the body is read.

use axum::extract::FromRequestParts;
use axum::http::HeaderValue;
use axum::http::header::{AUTHORIZATION, WWW_AUTHENTICATE};
use axum::http::request::Parts;
use axum::response::Response;

use super::ApiState;
use super::error::ApiError;

/// Proof that the request carried `Authorization: Bearer <token>` (or that no token is configured).
pub struct Authorized;

impl FromRequestParts<ApiState> for Authorized {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &ApiState) -> Result<Self, Self::Rejection> {
        let Some(expected) = state.token.as_deref() else { return Ok(Authorized) };
        let presented = parts
            .headers
            .get(AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(bearer_token)
            .unwrap_or("");
        if constant_time_eq(presented.as_bytes(), expected.as_bytes()) {
            Ok(Authorized)
        } else {
            Err(ApiError::Unauthorized)
        }
    }
}

/// `response` with the `WWW-Authenticate: Bearer` challenge that a 401 carries (RFC 6750 §3).
pub fn with_challenge(mut response: Response) -> Response {
    response.headers_mut().insert(WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
    response
}

/// The token of an `Authorization: Bearer <token>` value; the scheme is case-insensitive
/// (RFC 7235 §2.1), so `bearer` and `BEARER` count too.
fn bearer_token(value: &str) -> Option<&str> {
    let (scheme, token) = value.trim().split_once(' ')?;
    scheme.eq_ignore_ascii_case("bearer").then(|| token.trim())
}

/// Compares without an early exit, so the time taken does not reveal how many leading bytes of a
/// guess were right. (The length of the token is not secret-dependent work: every byte of the longer
/// input is visited either way.)
pub fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    let len = a.len().max(b.len());
    let mut diff = u8::from(a.len() != b.len());
    for i in 0..len {
        diff |= a.get(i).copied().unwrap_or(0) ^ b.get(i).copied().unwrap_or(0);
    }
    std::hint::black_box(diff) == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_scheme_is_case_insensitive() {
        assert_eq!(bearer_token("Bearer s3cret"), Some("s3cret"));
        assert_eq!(bearer_token("bearer s3cret"), Some("s3cret"));
        assert_eq!(bearer_token("BEARER   s3cret "), Some("s3cret"));
        assert_eq!(bearer_token("Basic czNjcmV0"), None);
        assert_eq!(bearer_token("Bearer"), None);
    }

    #[test]
    fn compares_whole_values() {
        assert!(constant_time_eq(b"secret", b"secret"));
        assert!(!constant_time_eq(b"secret", b"secreT"));
        assert!(!constant_time_eq(b"secret", b"secret2"));
        assert!(!constant_time_eq(b"", b"x"));
        assert!(constant_time_eq(b"", b""));
    }
}
