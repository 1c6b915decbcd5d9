//! The load balancer's REST API (`/lb/*`), served when the `lb` app runs:
//!
//! - `GET /lb/pools` → `[Pool]`; `POST /lb/pools` (a pool as in the `[[lb.pools]]` TOML, as JSON) →
//!   201 `Pool`; `GET /lb/pools/{pool}`; `DELETE /lb/pools/{pool}` → 204 (its rules leave every switch)
//! - `GET /lb/pools/{pool}/backends`; `POST` (a backend as JSON) → 201; `DELETE .../{ip}` → 204;
//!   `PATCH .../{ip}` with `{"weight": 3}` and/or `{"draining": true}` → 200 `Backend`
//! - `GET|PUT /lb/pools/{pool}/algorithm` with `{"algorithm": "round_robin"}`
//! - `GET /lb/stats` → `{"pools": [Pool]}` with per-backend health, breaker, flows, traffic, share
//!
//! Errors are `{"error": "<what failed>", "field": "<JSON key>"}` (field only when one is to blame):
//! 400 bad JSON or value, 401 missing token, 404 unknown pool or backend, 409 duplicate, 503 app
//! stopped. Mutating routes need the bearer token when one is configured ([`super::auth`]).

use std::net::Ipv4Addr;

use axum::Json;
use axum::Router;
use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{FromRequestParts, Path, State};
use axum::http::StatusCode;
use axum::http::request::Parts;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use serde::de::DeserializeOwned;
use serde_json::{Map, Value, json};

use super::ApiState;
use super::auth::Authorized;
use crate::apps::lb::LbHandle;
use crate::apps::lb::algorithm::Algorithm;
use crate::apps::lb::config::{BackendConfig, PoolConfig};
use crate::apps::lb::handle::{BackendPatch, LbError};

/// A failed `/lb` request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LbApiError {
    pub status: StatusCode,
    pub error: String,
    pub field: Option<String>,
}

impl LbApiError {
    fn bad(field: impl Into<String>, error: impl Into<String>) -> LbApiError {
        LbApiError { status: StatusCode::BAD_REQUEST, error: error.into(), field: Some(field.into()) }
    }
}

impl From<LbError> for LbApiError {
    fn from(e: LbError) -> LbApiError {
        LbApiError {
            status: StatusCode::from_u16(e.status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR),
            error: e.to_string(),
            field: e.field().map(str::to_string),
        }
    }
}

impl From<super::ApiError> for LbApiError {
    fn from(e: super::ApiError) -> LbApiError {
        let field = match e {
            super::ApiError::PayloadTooLarge(_) => Some("body".to_string()),
            _ => None,
        };
        LbApiError { status: e.status(), error: e.to_string(), field }
    }
}

impl IntoResponse for LbApiError {
    fn into_response(self) -> Response {
        let body = match self.field {
            Some(field) => json!({"error": self.error, "field": field}),
            None => json!({"error": self.error}),
        };
        let response = (self.status, Json(body)).into_response();
        if self.status == StatusCode::UNAUTHORIZED { super::auth::with_challenge(response) } else { response }
    }
}

type LbResult<T> = Result<T, LbApiError>;

/// Path parameters; a malformed segment (percent-encoded bytes that are not UTF-8, say) is a 400
/// in the `/lb` error shape, not axum's plain-text rejection.
pub struct LbPath<T>(pub T);

impl<T: DeserializeOwned + Send, S: Send + Sync> FromRequestParts<S> for LbPath<T> {
    type Rejection = LbApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        match Path::<T>::from_request_parts(parts, state).await {
            Ok(Path(t)) => Ok(LbPath(t)),
            Err(r) => Err(LbApiError::bad("path", r.body_text())),
        }
    }
}

/// The `/lb/*` routes (merged into the API by [`super::router`] when the app runs).
pub fn routes() -> Router<ApiState> {
    Router::new()
        .route("/lb/pools", get(list_pools).post(add_pool))
        .route("/lb/pools/{pool}", get(get_pool).delete(remove_pool))
        .route("/lb/pools/{pool}/backends", get(list_backends).post(add_backend))
        .route("/lb/pools/{pool}/backends/{ip}", axum::routing::delete(remove_backend).patch(patch_backend))
        .route("/lb/pools/{pool}/algorithm", get(get_algorithm).put(set_algorithm))
        .route("/lb/stats", get(stats))
}

fn handle(state: &ApiState) -> LbResult<&LbHandle> {
    state.controller.lb.as_ref().ok_or(LbError::Stopped.into())
}

/// Authorization first (before the body is read), with the `/lb` error shape.
fn authorized(auth: Result<Authorized, super::ApiError>) -> LbResult<()> {
    auth.map(|_| ()).map_err(LbApiError::from)
}

/// The body, read after the authorization check (an over-long body is a JSON 413).
fn body_bytes(body: Result<Bytes, BytesRejection>) -> LbResult<Bytes> {
    body.map_err(|r| LbApiError::from(super::ApiError::from(r)))
}

fn parse_ip(text: &str) -> LbResult<Ipv4Addr> {
    text.parse().map_err(|_| LbApiError::bad("ip", format!("{text:?} is not an IPv4 address")))
}

/// Parses a JSON object body into `T`, naming the key at fault when it does not fit: each key is
/// tried alone against `T`'s defaults, so an unknown key, a wrong type or a bad value is pinned to
/// its field (one level into arrays of objects, e.g. `backends[1].weight`).
pub fn parse_body<T: DeserializeOwned>(body: &[u8]) -> LbResult<T> {
    let value: Value = serde_json::from_slice(body)
        .map_err(|e| LbApiError::bad("body", format!("the body is not JSON: {e}")))?;
    let Value::Object(map) = &value else {
        return Err(LbApiError::bad("body", "the body must be a JSON object"));
    };
    serde_json::from_value::<T>(value.clone())
        .map_err(|e| LbApiError::bad(field_at_fault::<T>(map), e.to_string()))
}

fn field_at_fault<T: DeserializeOwned>(map: &Map<String, Value>) -> String {
    for (key, v) in map {
        let alone = Value::Object(Map::from_iter([(key.clone(), v.clone())]));
        if serde_json::from_value::<T>(alone).is_ok() {
            continue;
        }
        // One level into an array of objects (pool backends).
        if let Value::Array(items) = v {
            for (i, item) in items.iter().enumerate() {
                if let Value::Object(inner) = item
                    && serde_json::from_value::<BackendConfig>(item.clone()).is_err()
                {
                    return format!("{key}[{i}].{}", field_at_fault::<BackendConfig>(inner));
                }
            }
        }
        return key.clone();
    }
    "body".to_string()
}

async fn list_pools(State(state): State<ApiState>) -> LbResult<Response> {
    Ok(Json(handle(&state)?.pools().await?).into_response())
}

async fn add_pool(
    State(state): State<ApiState>,
    auth: Result<Authorized, super::ApiError>,
    body: Result<Bytes, BytesRejection>,
) -> LbResult<Response> {
    authorized(auth)?;
    let config: PoolConfig = parse_body(&body_bytes(body)?)?;
    let pool = handle(&state)?.add_pool(config).await?;
    Ok((StatusCode::CREATED, Json(pool)).into_response())
}

async fn get_pool(State(state): State<ApiState>, LbPath(pool): LbPath<String>) -> LbResult<Response> {
    Ok(Json(handle(&state)?.pool(&pool).await?).into_response())
}

async fn remove_pool(
    State(state): State<ApiState>,
    auth: Result<Authorized, super::ApiError>,
    LbPath(pool): LbPath<String>,
) -> LbResult<StatusCode> {
    authorized(auth)?;
    handle(&state)?.remove_pool(&pool).await?;
    Ok(StatusCode::NO_CONTENT)
}

async fn list_backends(State(state): State<ApiState>, LbPath(pool): LbPath<String>) -> LbResult<Response> {
    Ok(Json(handle(&state)?.backends(&pool).await?).into_response())
}

async fn add_backend(
    State(state): State<ApiState>,
    auth: Result<Authorized, super::ApiError>,
    LbPath(pool): LbPath<String>,
    body: Result<Bytes, BytesRejection>,
) -> LbResult<Response> {
    authorized(auth)?;
    let config: BackendConfig = parse_body(&body_bytes(body)?)?;
    let backend = handle(&state)?.add_backend(&pool, config).await?;
    Ok((StatusCode::CREATED, Json(backend)).into_response())
}

async fn remove_backend(
    State(state): State<ApiState>,
    auth: Result<Authorized, super::ApiError>,
    LbPath((pool, ip)): LbPath<(String, String)>,
) -> LbResult<StatusCode> {
    authorized(auth)?;
    handle(&state)?.remove_backend(&pool, parse_ip(&ip)?).await?;
    Ok(StatusCode::NO_CONTENT)
}

async fn patch_backend(
    State(state): State<ApiState>,
    auth: Result<Authorized, super::ApiError>,
    LbPath((pool, ip)): LbPath<(String, String)>,
    body: Result<Bytes, BytesRejection>,
) -> LbResult<Response> {
    authorized(auth)?;
    let patch: BackendPatch = parse_body(&body_bytes(body)?)?;
    let backend = handle(&state)?.patch_backend(&pool, parse_ip(&ip)?, patch).await?;
    Ok(Json(backend).into_response())
}

async fn get_algorithm(State(state): State<ApiState>, LbPath(pool): LbPath<String>) -> LbResult<Response> {
    let algorithm = handle(&state)?.algorithm(&pool).await?;
    Ok(Json(json!({"algorithm": algorithm})).into_response())
}

/// `{"algorithm": NAME}` → the algorithm, or 400 naming the known ones.
pub fn parse_algorithm(body: &[u8]) -> LbResult<Algorithm> {
    let value: Value = serde_json::from_slice(body)
        .map_err(|e| LbApiError::bad("body", format!("the body is not JSON: {e}")))?;
    if let Some(key) = value.as_object().and_then(|m| m.keys().find(|k| *k != "algorithm")) {
        return Err(LbApiError::bad(
            key.clone(),
            format!("unknown key {key:?} (expected only \"algorithm\")"),
        ));
    }
    let name = match value.get("algorithm") {
        Some(Value::String(s)) => s.clone(),
        Some(other) => return Err(LbApiError::bad("algorithm", format!("expected a string, got {other}"))),
        None => return Err(LbApiError::bad("algorithm", "missing")),
    };
    serde_json::from_value(Value::String(name.clone())).map_err(|_| {
        let known: Vec<&str> = Algorithm::ALL.iter().map(|a| a.name()).collect();
        LbApiError::bad("algorithm", format!("unknown algorithm {name:?} (known: {})", known.join(", ")))
    })
}

async fn set_algorithm(
    State(state): State<ApiState>,
    auth: Result<Authorized, super::ApiError>,
    LbPath(pool): LbPath<String>,
    body: Result<Bytes, BytesRejection>,
) -> LbResult<Response> {
    authorized(auth)?;
    let algorithm = parse_algorithm(&body_bytes(body)?)?;
    let algorithm = handle(&state)?.set_algorithm(&pool, algorithm).await?;
    Ok(Json(json!({"algorithm": algorithm})).into_response())
}

async fn stats(State(state): State<ApiState>) -> LbResult<Response> {
    Ok(Json(handle(&state)?.stats().await?).into_response())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bad_bodies_name_their_field() {
        let err = parse_body::<PoolConfig>(br#"{"name": "v1", "vipp": "10.0.0.1"}"#).unwrap_err();
        assert_eq!((err.status, err.field.as_deref()), (StatusCode::BAD_REQUEST, Some("vipp")));
        let err = parse_body::<PoolConfig>(br#"{"name": "v1", "vip": "10.0.0.300"}"#).unwrap_err();
        assert_eq!(err.field.as_deref(), Some("vip"));
        let err = parse_body::<PoolConfig>(
            br#"{"name": "v1", "backends": [{"ip": "10.0.0.1"}, {"ip": "10.0.0.2", "weight": -1}]}"#,
        )
        .unwrap_err();
        assert_eq!(err.field.as_deref(), Some("backends[1].weight"));
        let err = parse_body::<PoolConfig>(b"[1]").unwrap_err();
        assert_eq!(err.field.as_deref(), Some("body"));
        let ok = parse_body::<PoolConfig>(br#"{"name": "v1", "vip": "10.0.0.100", "algorithm": "random"}"#)
            .expect("valid");
        assert_eq!(ok.algorithm, Algorithm::Random);
    }

    #[test]
    fn unknown_algorithm_lists_the_known_ones() {
        let err = parse_algorithm(br#"{"algorithm": "foo"}"#).unwrap_err();
        assert_eq!(err.field.as_deref(), Some("algorithm"));
        assert!(err.error.starts_with("unknown algorithm \"foo\" (known: round_robin,"), "{}", err.error);
        assert_eq!(parse_algorithm(br#"{"algorithm": "wildcard"}"#), Ok(Algorithm::Wildcard));
        assert_eq!(parse_algorithm(b"{}").unwrap_err().error, "missing");
    }
}
