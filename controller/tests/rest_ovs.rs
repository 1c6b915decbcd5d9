//! The REST API against a real Open vSwitch (userspace datapath): flows written through the API are
//! what `ovs-ofctl dump-flows` shows, flows written with `ovs-ofctl` are what the API reports, and
//! groups, meters, port mods, errors, stats and `/metrics` behave as a Ryu user expects.

mod support;

use std::time::Duration;

use reqwest::StatusCode;
use serde_json::{Value, json};
use support::controller::TestController;
use support::ovs::{OvsInstance, unique_dpid, unique_name};

const TOKEN: &str = "test-token";

struct Api {
    client: reqwest::Client,
}

impl Api {
    fn new() -> Api {
        Api { client: reqwest::Client::new() }
    }

    async fn get(&self, url: &str) -> (StatusCode, Value) {
        let r = self.client.get(url).send().await.expect("GET");
        let status = r.status();
        (status, r.json().await.unwrap_or(Value::Null))
    }

    async fn send(
        &self,
        method: reqwest::Method,
        url: &str,
        body: Option<Value>,
        token: Option<&str>,
    ) -> (StatusCode, Value) {
        let mut req = self.client.request(method, url);
        if let Some(t) = token {
            req = req.bearer_auth(t);
        }
        if let Some(b) = body {
            // Ryu clients typically send `curl -d` bodies without a JSON content type.
            req = req.body(b.to_string());
        }
        let r = req.send().await.expect("request");
        let status = r.status();
        let text = r.text().await.unwrap_or_default();
        (status, serde_json::from_str(&text).unwrap_or(Value::String(text)))
    }

    async fn post(&self, url: &str, body: Value) -> (StatusCode, Value) {
        self.send(reqwest::Method::POST, url, Some(body), Some(TOKEN)).await
    }
}

/// One bridge `br` with internal ports 1 and 2, connected to a fresh controller running l2switch.
struct Rig {
    ovs: OvsInstance,
    ctl: TestController,
    br: String,
    dpid: u64,
}

async fn rig() -> Rig {
    let ctl = TestController::start(&["l2switch"], Some(TOKEN)).await;
    let ovs = OvsInstance::start();
    let br = unique_name("rb");
    let dpid = unique_dpid();
    ovs.add_bridge(&br, dpid, &ctl.of_target());
    ovs.add_internal_port(&br, &unique_name("rp"), 1);
    ovs.add_internal_port(&br, &unique_name("rp"), 2);
    assert!(
        ovs.wait_connected(&br, Duration::from_secs(15)),
        "bridge did not connect:\n{}",
        ovs.vswitchd_log(30)
    );
    ctl.wait_switch(dpid, Duration::from_secs(15)).await;
    Rig { ovs, ctl, br, dpid }
}

/// OVS flows other than the l2switch app's table-miss flow (priority 0).
fn non_miss_flows(ovs: &OvsInstance, br: &str) -> Vec<String> {
    ovs.dump_flows(br).into_iter().filter(|f| !f.contains("priority=0 ")).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn flow_entries_match_what_ovs_holds() {
    let Rig { ovs, ctl, br, dpid } = rig().await;
    let api = Api::new();

    let (status, switches) = api.get(&ctl.url("/stats/switches")).await;
    assert_eq!(status, StatusCode::OK);
    assert!(switches.as_array().unwrap().contains(&json!(dpid)), "{switches}");

    // A flow written through the API is exactly the flow OVS holds.
    let flow = json!({
        "dpid": dpid, "priority": 100, "cookie": 0x42,
        "match": {"in_port": 1, "eth_type": 2048, "ip_proto": 6, "ipv4_dst": "10.0.0.100/32", "tcp_dst": 80},
        "actions": [
            {"type": "SET_FIELD", "field": "eth_dst", "value": "00:00:00:00:00:02"},
            {"type": "SET_FIELD", "field": "ipv4_dst", "value": "10.0.0.2"},
            {"type": "OUTPUT", "port": 2}
        ]
    });
    let (status, _) =
        api.send(reqwest::Method::POST, &ctl.url("/stats/flowentry/add"), Some(flow.clone()), None).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "no token, no flow");
    assert!(non_miss_flows(&ovs, &br).is_empty());
    let (status, body) = api.post(&ctl.url("/stats/flowentry/add"), flow).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(
        non_miss_flows(&ovs, &br),
        vec![
            "cookie=0x42, priority=100,tcp,in_port=1,nw_dst=10.0.0.100,tp_dst=80 \
             actions=set_field:00:00:00:00:00:02->eth_dst,set_field:10.0.0.2->ip_dst,output:2"
                .to_string()
        ]
    );

    // A flow written with ovs-ofctl is reported as OVS holds it.
    ovs.ofctl(
        "add-flow",
        &br,
        &["cookie=0x77,priority=200,udp,in_port=2,nw_src=10.1.0.0/16,tp_dst=53,actions=push_vlan:0x8100,set_field:4101->vlan_vid,output:1,goto_table:3"],
    );
    let (status, flows) = api.get(&ctl.url(&format!("/stats/flow/{dpid}"))).await;
    assert_eq!(status, StatusCode::OK);
    let flows = flows[dpid.to_string()].as_array().unwrap().clone();
    let by_cookie = |c: u64| {
        flows
            .iter()
            .find(|f| f["cookie"] == json!(c))
            .cloned()
            .unwrap_or_else(|| panic!("no flow {c:#x} in {flows:?}"))
    };
    let udp = by_cookie(0x77);
    assert_eq!(udp["priority"], 200);
    assert_eq!(udp["table_id"], 0);
    assert_eq!(
        udp["match"],
        json!({"in_port": 2, "eth_type": 2048, "ip_proto": 17, "ipv4_src": "10.1.0.0/255.255.0.0", "udp_dst": 53})
    );
    assert_eq!(
        udp["actions"],
        json!(["PUSH_VLAN:33024", "SET_FIELD: {vlan_vid:4101}", "OUTPUT:1", "GOTO_TABLE:3"])
    );
    let tcp = by_cookie(0x42);
    assert_eq!(
        tcp["match"],
        json!({"in_port": 1, "eth_type": 2048, "ip_proto": 6, "ipv4_dst": "10.0.0.100", "tcp_dst": 80})
    );
    assert_eq!(
        tcp["actions"],
        json!(["SET_FIELD: {eth_dst:00:00:00:00:00:02}", "SET_FIELD: {ipv4_dst:10.0.0.2}", "OUTPUT:2"])
    );
    let miss = by_cookie(
        flows.iter().find(|f| f["priority"] == 0).expect("table-miss flow")["cookie"].as_u64().unwrap(),
    );
    assert_eq!(miss["actions"], json!(["OUTPUT:CONTROLLER"]));

    // A filtered read returns only the matching flow; aggregate counts it.
    let filter = json!({"cookie": 0x77, "cookie_mask": u64::MAX, "match": {"in_port": 2}});
    let (status, only) = api
        .send(reqwest::Method::POST, &ctl.url(&format!("/stats/flow/{dpid}")), Some(filter.clone()), None)
        .await;
    assert_eq!(status, StatusCode::OK, "{only}");
    assert_eq!(only[dpid.to_string()].as_array().unwrap().len(), 1, "{only}");
    let (_, agg) = api
        .send(reqwest::Method::POST, &ctl.url(&format!("/stats/aggregateflow/{dpid}")), Some(filter), None)
        .await;
    assert_eq!(agg[dpid.to_string()][0]["flow_count"], 1, "{agg}");
    let (_, agg) = api.get(&ctl.url(&format!("/stats/aggregateflow/0x{dpid:x}"))).await;
    assert_eq!(agg[dpid.to_string()][0]["flow_count"], 3, "hex dpid in the path, three flows: {agg}");

    // modify_strict replaces the actions of exactly that flow.
    let modify = json!({
        "dpid": dpid, "priority": 100,
        "match": {"in_port": 1, "eth_type": 2048, "ip_proto": 6, "ipv4_dst": "10.0.0.100", "tcp_dst": 80},
        "actions": [{"type": "OUTPUT", "port": "LOCAL"}]
    });
    let (status, body) = api.post(&ctl.url("/stats/flowentry/modify_strict"), modify.clone()).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert!(
        non_miss_flows(&ovs, &br).contains(
            &"cookie=0x42, priority=100,tcp,in_port=1,nw_dst=10.0.0.100,tp_dst=80 actions=LOCAL".to_string()
        ),
        "{:?}",
        non_miss_flows(&ovs, &br)
    );

    // An action the switch refuses surfaces as a 400 naming the OpenFlow error.
    let bad = json!({"dpid": dpid, "priority": 5, "match": {"in_port": 1}, "actions": [{"type": "GROUP", "group_id": 4242}]});
    let (status, body) = api.post(&ctl.url("/stats/flowentry/add"), bad).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert_eq!(body["error"], "rejected by switch", "{body}");
    assert_eq!(body["of_error"]["type"], 2, "OFPET_BAD_ACTION: {body}");

    // delete_strict removes that flow only; delete by match removes the other.
    let (status, _) = api.post(&ctl.url("/stats/flowentry/delete_strict"), modify).await;
    assert_eq!(status, StatusCode::OK);
    let left = non_miss_flows(&ovs, &br);
    assert_eq!(left.len(), 1, "{left:?}");
    assert!(left[0].starts_with("cookie=0x77"), "{left:?}");
    let (status, _) = api
        .post(
            &ctl.url("/stats/flowentry/delete"),
            json!({"dpid": dpid, "table_id": "ALL", "match": {"in_port": 2}}),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    assert!(non_miss_flows(&ovs, &br).is_empty());

    // clear removes everything, the table-miss flow included.
    let (status, _) = api
        .send(reqwest::Method::DELETE, &ctl.url(&format!("/stats/flowentry/clear/{dpid}")), None, Some(TOKEN))
        .await;
    assert_eq!(status, StatusCode::OK);
    assert!(ovs.dump_flows(&br).is_empty(), "{:?}", ovs.dump_flows(&br));

    let (status, _) = api.get(&ctl.url("/stats/flow/12345")).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn groups_meters_ports_and_stats_on_real_ovs() {
    let Rig { ovs, ctl, br, dpid } = rig().await;
    let api = Api::new();
    let key = dpid.to_string();

    // Groups.
    let group = json!({"dpid": dpid, "type": "ALL", "group_id": 1, "buckets": [
        {"actions": [{"type": "OUTPUT", "port": 1}]}, {"actions": [{"type": "OUTPUT", "port": 2}]}
    ]});
    let (status, body) = api.post(&ctl.url("/stats/groupentry/add"), group).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let dump = ovs.ofctl("dump-groups", &br, &[]);
    assert!(dump.contains("group_id=1,type=all,bucket=actions=output:1,bucket=actions=output:2"), "{dump}");
    let (_, desc) = api.get(&ctl.url(&format!("/stats/groupdesc/{dpid}"))).await;
    assert_eq!(desc[&key][0]["type"], "ALL", "{desc}");
    assert_eq!(desc[&key][0]["buckets"][1]["actions"], json!(["OUTPUT:2"]), "{desc}");
    let (status, body) = api
        .post(&ctl.url("/stats/groupentry/modify"), json!({"dpid": dpid, "type": "INDIRECT", "group_id": 1, "buckets": [{"actions": [{"type": "OUTPUT", "port": 2}]}]}))
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert!(ovs.ofctl("dump-groups", &br, &[]).contains("group_id=1,type=indirect,bucket=actions=output:2"));
    let (_, stats) = api.get(&ctl.url(&format!("/stats/group/{dpid}/1"))).await;
    assert_eq!(stats[&key][0]["group_id"], 1, "{stats}");
    let (_, features) = api.get(&ctl.url(&format!("/stats/groupfeatures/{dpid}"))).await;
    assert!(features[&key][0]["types"].as_array().unwrap().contains(&json!("SELECT")), "{features}");
    let (status, body) = api
        .post(&ctl.url("/stats/groupentry/add"), json!({"dpid": dpid, "type": "ALL", "group_id": 1}))
        .await;
    assert_eq!(
        (status, body["of_error"]["type"].clone()),
        (StatusCode::BAD_REQUEST, json!(6)),
        "group exists: {body}"
    );
    let (status, _) =
        api.post(&ctl.url("/stats/groupentry/delete"), json!({"dpid": dpid, "group_id": 1})).await;
    assert_eq!(status, StatusCode::OK);
    assert!(!ovs.ofctl("dump-groups", &br, &[]).contains("group_id=1"));

    // Meters (the userspace datapath implements them).
    let meter = json!({
        "dpid": dpid, "flags": ["KBPS", "BURST", "STATS"], "meter_id": 1,
        "bands": [{"type": "DROP", "rate": 1000, "burst_size": 100}]
    });
    let (status, body) = api.post(&ctl.url("/stats/meterentry/add"), meter).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let dump = ovs.ofctl("dump-meters", &br, &[]);
    assert!(
        dump.contains("meter=1 kbps burst stats bands=")
            && dump.contains("type=drop rate=1000 burst_size=100"),
        "{dump}"
    );
    let (_, config) = api.get(&ctl.url(&format!("/stats/meterconfig/{dpid}"))).await;
    assert_eq!(
        config[&key][0],
        json!({"flags": ["KBPS", "BURST", "STATS"], "meter_id": 1, "bands": [{"type": "DROP", "rate": 1000, "burst_size": 100}]})
    );
    let (_, mstats) = api.get(&ctl.url(&format!("/stats/meter/{dpid}/1"))).await;
    assert_eq!(mstats[&key][0]["meter_id"], 1, "{mstats}");
    let flow = json!({"dpid": dpid, "priority": 10, "match": {"in_port": 1}, "actions": [{"type": "METER", "meter_id": 1}, {"type": "OUTPUT", "port": 2}]});
    let (status, body) = api.post(&ctl.url("/stats/flowentry/add"), flow).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert!(
        non_miss_flows(&ovs, &br).iter().any(|f| f.contains("actions=meter:1,output:2")),
        "{:?}",
        non_miss_flows(&ovs, &br)
    );
    let (_, flows) = api.get(&ctl.url(&format!("/stats/flow/{dpid}"))).await;
    assert!(
        flows[&key].as_array().unwrap().iter().any(|f| f["actions"] == json!(["METER:1", "OUTPUT:2"])),
        "{flows}"
    );
    let (status, _) =
        api.post(&ctl.url("/stats/meterentry/delete"), json!({"dpid": dpid, "meter_id": 1})).await;
    assert_eq!(status, StatusCode::OK);
    assert!(!ovs.ofctl("dump-meters", &br, &[]).contains("meter=1"));

    // Ports: descriptions (a veth port added now shows up), a PORT_MOD, statistics.
    let veth = unique_name("rv");
    ovs.add_veth_port(&br, &veth, &unique_name("rv"), 3);
    let deadline = std::time::Instant::now() + Duration::from_secs(5);
    while !ctl.controller.registry.ports(dpid).unwrap_or_default().iter().any(|p| p.port_no.0 == 3) {
        assert!(std::time::Instant::now() < deadline, "PORT_STATUS for the veth port never arrived");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let (_, ports) = api.get(&ctl.url(&format!("/stats/portdesc/{dpid}"))).await;
    let ports = ports[&key].as_array().unwrap().clone();
    let numbers: Vec<Value> = ports.iter().map(|p| p["port_no"].clone()).collect();
    assert!(
        numbers.contains(&json!(1)) && numbers.contains(&json!(2)) && numbers.contains(&json!("LOCAL")),
        "{ports:?}"
    );
    assert!(ports.iter().any(|p| p["name"] == json!(br)), "the bridge's own port: {ports:?}");
    assert!(ports.iter().any(|p| p["port_no"] == 3 && p["name"] == json!(veth)), "the veth port: {ports:?}");
    let (status, body) = api
        .post(
            &ctl.url("/stats/portdesc/modify"),
            json!({"dpid": dpid, "port_no": 1, "config": 32, "mask": 32}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let show = ovs.ofctl("show", &br, &[]);
    assert!(show.contains("NO_FWD"), "{show}");
    let (status, _) = api
        .post(
            &ctl.url("/stats/portdesc/modify"),
            json!({"dpid": dpid, "port_no": 99, "config": 32, "mask": 32}),
        )
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (_, pstats) = api.get(&ctl.url(&format!("/stats/port/{dpid}/1"))).await;
    assert_eq!(pstats[&key].as_array().unwrap().len(), 1, "{pstats}");
    assert_eq!(pstats[&key][0]["port_no"], 1);
    // `ALL` in the path is every port, as in Ryu (sent as OFPP_ANY, not as the port OFPP_ALL).
    let (_, every) = api.get(&ctl.url(&format!("/stats/port/{dpid}"))).await;
    let (status, all) = api.get(&ctl.url(&format!("/stats/port/{dpid}/ALL"))).await;
    assert_eq!(status, StatusCode::OK, "{all}");
    let ports = |v: &Value| -> Vec<Value> {
        let mut p: Vec<Value> = v[&key].as_array().unwrap().iter().map(|e| e["port_no"].clone()).collect();
        p.sort_by_key(|n| n.to_string());
        p
    };
    assert!(ports(&all).len() > 1, "{all}");
    assert_eq!(ports(&all), ports(&every));

    // Switch description, tables, role.
    let (_, desc) = api.get(&ctl.url(&format!("/stats/desc/{dpid}"))).await;
    assert_eq!(desc[&key]["mfr_desc"], "Nicira, Inc.", "{desc}");
    let (_, tables) = api.get(&ctl.url(&format!("/stats/table/{dpid}"))).await;
    assert_eq!(tables[&key][0]["table_id"], 0, "{tables}");
    let (_, role) = api.get(&ctl.url(&format!("/stats/role/{dpid}"))).await;
    assert_eq!(role[&key][0]["role"], "EQUAL", "{role}");
    let (status, body) = api.post(&ctl.url("/stats/role"), json!({"dpid": dpid, "role": "MASTER"})).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (_, role) = api.get(&ctl.url(&format!("/stats/role/{dpid}"))).await;
    assert_eq!(role[&key][0]["role"], "MASTER", "{role}");

    // The poller fills the of_port_* gauges.
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let poller = rudder_controller::rest::spawn_port_stats_poller(
        ctl.controller.clone(),
        Duration::from_millis(200),
        async {
            let _ = stopped.await;
        },
    );
    let needle = format!("of_port_tx_packets{{dpid=\"{dpid}\",port=\"1\"}}");
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    loop {
        let text = api.client.get(ctl.url("/metrics")).send().await.unwrap().text().await.unwrap();
        if text.contains(&needle) {
            break;
        }
        assert!(std::time::Instant::now() < deadline, "{needle} never appeared in:\n{text}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let _ = stop.send(());
    poller.await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn queue_config_and_experimenter_on_real_ovs() {
    let Rig { ovs: _ovs, ctl, br: _br, dpid } = rig().await;
    let api = Api::new();
    let key = dpid.to_string();

    // Ryu's /stats/queueconfig: one entry per reply, the port as asked, no queues without QoS.
    let (status, body) = api.get(&ctl.url(&format!("/stats/queueconfig/{dpid}"))).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body[&key], json!([{"port": "ANY", "queues": []}]), "{body}");
    let (status, body) = api.get(&ctl.url(&format!("/stats/queueconfig/{dpid}/1"))).await;
    assert_eq!((status, body[&key][0]["port"].clone()), (StatusCode::OK, json!(1)), "{body}");
    let (status, body) = api.get(&ctl.url(&format!("/stats/queueconfig/{dpid}/x"))).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    // `ALL` is every port, as in Ryu, for queue configs and queue stats alike.
    let (status, body) = api.get(&ctl.url(&format!("/stats/queueconfig/{dpid}/ALL"))).await;
    assert_eq!((status, body[&key][0]["port"].clone()), (StatusCode::OK, json!("ANY")), "{body}");
    let (status, body) = api.get(&ctl.url(&format!("/stats/queue/{dpid}/ALL"))).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (status, body) = api.get(&ctl.url(&format!("/stats/queue/{dpid}/ALL/ALL"))).await;
    assert_eq!(status, StatusCode::OK, "{body}");

    // Ryu's /stats/experimenter: a Nicira message Open vSwitch knows (NXT_SET_PACKET_IN_FORMAT,
    // subtype 16, to the standard format it already uses) is accepted; an experimenter id it does not
    // know is refused, and the refusal is reported.
    let url = ctl.url(&format!("/stats/experimenter/{dpid}"));
    let nicira = json!({"experimenter": 0x2320, "exp_type": 16, "data_type": "base64", "data": "AAAAAA=="});
    let (status, body) = api.post(&url, nicira).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (status, body) =
        api.post(&url, json!({"experimenter": 0x00ab_cdef, "exp_type": 1, "data": "x"})).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (StatusCode::BAD_REQUEST, Some("rejected by switch")),
        "{body}"
    );
    // A body too long for one OpenFlow message is refused before anything is sent: sent with a capped
    // length, its tail would reach the switch as further messages of the caller's choosing.
    let flow_mod_tail = "BA4AUAAAAAA".repeat(2000);
    let (status, body) = api
        .post(&url, json!({"experimenter": 0x2320, "exp_type": 16, "data_type": "ascii", "data": "x".repeat(65_520) + &flow_mod_tail}))
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert!(
        body["detail"].as_str().is_some_and(|d| d.contains("over OpenFlow's 65535-byte message limit")),
        "{body}"
    );
    let (status, _) =
        api.send(reqwest::Method::POST, &url, Some(json!({"experimenter": 0x2320})), None).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    // The switch is still there and answering.
    let (status, _) = api.get(&ctl.url(&format!("/stats/desc/{dpid}"))).await;
    assert_eq!(status, StatusCode::OK);
}
