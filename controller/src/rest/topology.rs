//! Ryu's topology REST API (`ryu/app/rest_topology.py`), served from the topology app's
//! [`TopologyView`]:
//!
//! - `GET /v1.0/topology/switches[/{dpid}]`: `[{"dpid", "ports": [port...]}]`
//! - `GET /v1.0/topology/links[/{dpid}]`: `[{"src": port, "dst": port}]`, one entry per direction;
//!   with a dpid, the links leaving that switch
//! - `GET /v1.0/topology/hosts[/{dpid}]`: `[{"mac", "ipv4", "ipv6", "port": port}]`; with a dpid, the
//!   hosts attached to that switch
//!
//! where a port is `{"dpid": "%016x", "port_no": "%08x", "hw_addr", "name"}`. As in Ryu, a dpid no
//! switch has gives an empty list; a dpid that is not hexadecimal gives 400.

use axum::Json;
use axum::Router;
use axum::extract::State;
use axum::routing::get;

use super::error::{ApiError, PathArgs};
use crate::apps::topology::TopologyView;
use crate::apps::topology::view::{HostView, LinkView, SwitchView};

/// The `/v1.0/topology/*` routes.
pub fn router(view: TopologyView) -> Router {
    Router::new()
        .route("/v1.0/topology/switches", get(switches))
        .route("/v1.0/topology/switches/{dpid}", get(switches_of))
        .route("/v1.0/topology/links", get(links))
        .route("/v1.0/topology/links/{dpid}", get(links_of))
        .route("/v1.0/topology/hosts", get(hosts))
        .route("/v1.0/topology/hosts/{dpid}", get(hosts_of))
        .with_state(view)
}

/// Ryu's `dpid_lib.str_to_dpid`: up to 16 hex digits.
fn parse_dpid(text: &str) -> Result<u64, ApiError> {
    if text.is_empty() || text.len() > 16 {
        return Err(ApiError::BadRequest(format!("dpid: {text:?} is not 1 to 16 hex digits")));
    }
    u64::from_str_radix(text, 16)
        .map_err(|_| ApiError::BadRequest(format!("dpid: {text:?} is not hexadecimal")))
}

async fn switches(State(view): State<TopologyView>) -> Json<Vec<SwitchView>> {
    Json(view.snapshot().switches)
}

async fn switches_of(
    State(view): State<TopologyView>,
    PathArgs(dpid): PathArgs<String>,
) -> Result<Json<Vec<SwitchView>>, ApiError> {
    let dpid = parse_dpid(&dpid)?;
    Ok(Json(view.snapshot().switches.into_iter().filter(|s| s.dpid == dpid).collect()))
}

async fn links(State(view): State<TopologyView>) -> Json<Vec<LinkView>> {
    Json(view.snapshot().links)
}

async fn links_of(
    State(view): State<TopologyView>,
    PathArgs(dpid): PathArgs<String>,
) -> Result<Json<Vec<LinkView>>, ApiError> {
    let dpid = parse_dpid(&dpid)?;
    Ok(Json(view.snapshot().links.into_iter().filter(|l| l.src.dpid == dpid).collect()))
}

async fn hosts(State(view): State<TopologyView>) -> Json<Vec<HostView>> {
    Json(view.snapshot().hosts)
}

async fn hosts_of(
    State(view): State<TopologyView>,
    PathArgs(dpid): PathArgs<String>,
) -> Result<Json<Vec<HostView>>, ApiError> {
    let dpid = parse_dpid(&dpid)?;
    Ok(Json(view.snapshot().hosts.into_iter().filter(|h| h.port.dpid == dpid).collect()))
}

#[cfg(test)]
mod tests {
    use std::time::Instant;

    use axum::body::Body;
    use axum::http::{Request, StatusCode};
    use ofproto::{MacAddr, PortNo};
    use serde_json::{Value, json};
    use tower::ServiceExt;

    use super::*;
    use crate::apps::topology::graph::{Endpoint, PortInfo, TopologyGraph};

    fn view() -> TopologyView {
        let now = Instant::now();
        let mut g = TopologyGraph::new();
        for dpid in [1, 2] {
            let ports = (1..=2).map(|n| PortInfo {
                port_no: PortNo(n),
                hw_addr: MacAddr([2, 0, 0, 0, dpid as u8, n as u8]),
                name: format!("s{dpid}-eth{n}"),
                up: true,
            });
            g.add_switch(dpid, ports, now);
        }
        let (a, b) = (Endpoint::new(1, PortNo(1)), Endpoint::new(2, PortNo(1)));
        g.learn_link(a, b, now);
        g.learn_link(b, a, now);
        g.learn_host(
            MacAddr([0, 0, 0, 0, 0, 2]),
            Endpoint::new(2, PortNo(2)),
            Some([10, 0, 0, 2].into()),
            None,
        );
        TopologyView::new(g)
    }

    async fn get_json(path: &str) -> (StatusCode, Value) {
        let resp = router(view()).oneshot(Request::get(path).body(Body::empty()).unwrap()).await.unwrap();
        let status = resp.status();
        let body = axum::body::to_bytes(resp.into_body(), 1 << 20).await.unwrap();
        (status, serde_json::from_slice(&body).unwrap_or(Value::Null))
    }

    #[tokio::test]
    async fn lists_in_ryus_shapes() {
        let (status, sw) = get_json("/v1.0/topology/switches").await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(sw.as_array().unwrap().len(), 2);
        assert_eq!(
            sw[1]["ports"][0],
            json!({"dpid": "0000000000000002", "port_no": "00000001", "hw_addr": "02:00:00:00:02:01", "name": "s2-eth1"})
        );

        let (_, links) = get_json("/v1.0/topology/links").await;
        assert_eq!(links.as_array().unwrap().len(), 2, "one entry per direction");
        let (_, from2) = get_json("/v1.0/topology/links/0000000000000002").await;
        assert_eq!(from2.as_array().unwrap().len(), 1);
        assert_eq!(from2[0]["src"]["dpid"], "0000000000000002");
        assert_eq!(from2[0]["dst"]["dpid"], "0000000000000001");

        let (_, hosts) = get_json("/v1.0/topology/hosts").await;
        assert_eq!(hosts[0]["mac"], "00:00:00:00:00:02");
        assert_eq!(hosts[0]["ipv4"], json!(["10.0.0.2"]));
        assert_eq!(hosts[0]["port"]["dpid"], "0000000000000002");
    }

    #[tokio::test]
    async fn filters_by_dpid() {
        let (_, sw) = get_json("/v1.0/topology/switches/0000000000000001").await;
        assert_eq!(sw.as_array().unwrap().len(), 1);
        assert_eq!(sw[0]["dpid"], "0000000000000001");
        let (_, hosts) = get_json("/v1.0/topology/hosts/1").await;
        assert_eq!(hosts, json!([]), "no host on switch 1");
        let (status, none) = get_json("/v1.0/topology/switches/00000000000000ff").await;
        assert_eq!((status, none), (StatusCode::OK, json!([])));
    }

    #[tokio::test]
    async fn bad_dpid_is_400_naming_it() {
        let (status, body) = get_json("/v1.0/topology/links/xyz").await;
        assert_eq!(status, StatusCode::BAD_REQUEST);
        assert!(body.to_string().contains("xyz"), "{body}");
        let (status, _) = get_json("/v1.0/topology/hosts/00000000000000001").await;
        assert_eq!(status, StatusCode::BAD_REQUEST);
    }
}
