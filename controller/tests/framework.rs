//! The OpenFlow framework end to end over TCP, with emulated switches whose behaviour the tests
//! control: handshake (and bad input during it), l2switch forwarding, version negotiation, malformed input isolation, echo
//! keepalive, reconnection, and request/reply matching with multipart reassembly.

use std::net::SocketAddr;
use std::time::Duration;

use ofproto::action::Action;
use ofproto::error_msg::{BadRequestCode, ErrorMsg, ErrorType, HelloFailedCode};
use ofproto::instruction::Instruction;
use ofproto::multipart::{Desc, MultipartReply, MultipartReplyBody, MultipartRequest, MultipartRequestBody};
use ofproto::types::FixedStr;
use ofproto::{MacAddr, Message, PortNo};
use rudder_controller::bench::emulated::{EmulatedSwitch, EmulatorError, ethernet_frame};
use rudder_controller::ofp::RequestError;
use rudder_controller::ofp::datapath::MAX_MULTIPART_REPLY;
use rudder_controller::{Config, Controller};
use tokio::net::TcpListener;
use tokio::sync::oneshot;

struct Running {
    addr: SocketAddr,
    controller: Controller,
    stop: Option<oneshot::Sender<()>>,
    task: tokio::task::JoinHandle<anyhow::Result<()>>,
}

impl Running {
    async fn stop(mut self) {
        let _ = self.stop.take().map(|s| s.send(()));
        let _ = tokio::time::timeout(Duration::from_secs(5), &mut self.task).await;
    }
}

async fn start(mut config: Config) -> Running {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    config.listen = vec![addr];
    config.api_listen = None;
    let (stop_tx, stop_rx) = oneshot::channel::<()>();
    let (ready_tx, ready_rx) = oneshot::channel();
    let task = tokio::spawn(rudder_controller::run(
        config,
        vec![listener],
        async move {
            let _ = stop_rx.await;
        },
        move |c| {
            let _ = ready_tx.send(c);
        },
    ));
    let controller = ready_rx.await.expect("controller started");
    Running { addr, controller, stop: Some(stop_tx), task }
}

async fn wait_for(what: &str, mut cond: impl FnMut() -> bool) {
    for _ in 0..300 {
        if cond() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    panic!("timed out waiting for {what}");
}

fn mac(n: u8) -> MacAddr {
    MacAddr([0, 0, 0, 0, 0, n])
}

/// Receives until a message that `pick` accepts (skipping others), within 5 s.
async fn recv_until<T>(sw: &mut EmulatedSwitch, mut pick: impl FnMut(u32, Message) -> Option<T>) -> T {
    loop {
        let (xid, msg) = sw.recv_timeout(Duration::from_secs(5)).await.expect("message from controller");
        if let Some(t) = pick(xid, msg) {
            return t;
        }
    }
}

/// Reads until the controller closes the connection (each read within 5 s) and returns the last
/// OFPT_ERROR it sent on the way, with its xid.
async fn last_error_before_close(sw: &mut EmulatedSwitch) -> (u32, ErrorMsg) {
    let mut error = None;
    loop {
        match tokio::time::timeout(Duration::from_secs(5), sw.recv_raw()).await.expect("answer or close") {
            Ok((xid, Message::Error(e))) => error = Some((xid, e)),
            Ok(_) => {}
            Err(_) => break,
        }
    }
    error.expect("an OFPT_ERROR before the close")
}

#[tokio::test]
async fn handshake_configures_the_switch_and_registers_it() {
    let ctl = start(Config::default()).await;
    let mut sw = EmulatedSwitch::connect_with_version(ctl.addr, 0xabc, 3, 4).await.unwrap();
    let seen = sw.complete_handshake(Duration::from_secs(5)).await.unwrap();

    let set_config = seen.iter().find_map(|m| match m {
        Message::SetConfig(c) => Some(c),
        _ => None,
    });
    assert_eq!(set_config.expect("SET_CONFIG sent").miss_send_len, 0xffff, "no buffering by default");
    let flows: Vec<_> =
        seen.iter().filter_map(|m| if let Message::FlowMod(f) = m { Some(f) } else { None }).collect();
    assert_eq!(flows.len(), 2, "delete-all then table-miss: {flows:?}");
    assert_eq!(flows[0].command, ofproto::flow::FlowModCommand::Delete);
    assert_eq!(flows[1].priority, 0, "table-miss flow has priority 0");
    assert!(flows[1].r#match.fields.is_empty(), "table-miss matches everything");

    wait_for("registration", || ctl.controller.registry.get(0xabc).is_some()).await;
    assert_eq!(ctl.controller.registry.ports(0xabc).unwrap().len(), 3);
    drop(sw);
    wait_for("deregistration", || ctl.controller.registry.get(0xabc).is_none()).await;
    ctl.stop().await;
}

#[tokio::test]
async fn l2switch_floods_unknown_and_installs_flows_for_learned_macs() {
    let ctl = start(Config::default()).await;
    let mut sw = EmulatedSwitch::connect(ctl.addr, 1, 4).await.unwrap();

    // Host 1 on port 1 broadcasts: flooded, nothing installed.
    sw.send(&EmulatedSwitch::packet_in(1, ethernet_frame(MacAddr::BROADCAST, mac(1), 64))).await.unwrap();
    let (_, msg) = sw.recv_timeout(Duration::from_secs(5)).await.unwrap();
    let Message::PacketOut(po) = msg else { panic!("expected PACKET_OUT, got {msg:?}") };
    assert_eq!(po.actions, vec![Action::Output { port: PortNo::FLOOD, max_len: 0 }]);
    assert_eq!(po.in_port, PortNo(1));

    // Host 2 on port 2 answers host 1: a flow to port 1 and the packet sent there.
    sw.send(&EmulatedSwitch::packet_in(2, ethernet_frame(mac(1), mac(2), 64))).await.unwrap();
    let (_, msg) = sw.recv_timeout(Duration::from_secs(5)).await.unwrap();
    let Message::FlowMod(flow) = msg else { panic!("expected FLOW_MOD, got {msg:?}") };
    assert_eq!(
        flow.instructions,
        vec![Instruction::ApplyActions(vec![Action::Output { port: PortNo(1), max_len: 0 }])]
    );
    let (_, msg) = sw.recv_timeout(Duration::from_secs(5)).await.unwrap();
    let Message::PacketOut(po) = msg else { panic!("expected PACKET_OUT, got {msg:?}") };
    assert_eq!(po.actions, vec![Action::Output { port: PortNo(1), max_len: 0 }]);
    ctl.stop().await;
}

#[tokio::test]
async fn switch_without_openflow13_gets_hello_failed_and_is_closed() {
    let ctl = start(Config::default()).await;
    let mut sw = EmulatedSwitch::connect_with_version(ctl.addr, 7, 1, 0x01).await.unwrap();
    let mut got_error = None;
    loop {
        match tokio::time::timeout(Duration::from_secs(5), sw.next_frame()).await.expect("answer") {
            Ok(frame) => {
                if frame[1] == 1 {
                    let (_, msg) = Message::decode(&frame).unwrap();
                    got_error = Some(msg);
                }
            }
            Err(EmulatorError::Closed) | Err(EmulatorError::Io(_)) => break,
            Err(e) => panic!("{e}"),
        }
    }
    let Some(Message::Error(err)) = got_error else { panic!("expected HELLO_FAILED, got {got_error:?}") };
    assert_eq!(err.error, ErrorType::HelloFailed(HelloFailedCode::Incompatible));
    assert!(ctl.controller.registry.is_empty());
    ctl.stop().await;
}

#[tokio::test]
async fn malformed_message_closes_only_that_connection() {
    let ctl = start(Config::default()).await;
    let mut good = EmulatedSwitch::connect(ctl.addr, 1, 2).await.unwrap();
    let mut bad = EmulatedSwitch::connect(ctl.addr, 2, 2).await.unwrap();
    wait_for("both switches", || ctl.controller.registry.len() == 2).await;

    // A PACKET_IN whose 12-byte body cannot hold the fixed part (buffer_id .. cookie, match).
    let garbage = [0x04u8, 10, 0, 20, 0, 0, 0, 9, 0xde, 0xad, 0xbe, 0xef, 1, 2, 3, 4, 5, 6, 7, 8];
    bad.send_raw(&garbage).await.unwrap();
    let (xid, err) = last_error_before_close(&mut bad).await;
    assert_eq!(xid, 9, "the error carries the offending xid");
    assert_eq!(err.error, ErrorType::BadRequest(BadRequestCode::BadLen));
    assert_eq!(&err.data[..], &garbage[..], "the offending bytes are returned");
    wait_for("bad switch removed", || ctl.controller.registry.get(2).is_none()).await;

    // The good switch still forwards.
    good.send(&EmulatedSwitch::packet_in(1, ethernet_frame(MacAddr::BROADCAST, mac(1), 64))).await.unwrap();
    let (_, msg) = good.recv_timeout(Duration::from_secs(5)).await.unwrap();
    assert!(matches!(msg, Message::PacketOut(_)), "{msg:?}");
    assert_eq!(ctl.controller.metrics.malformed.with_label_values(&["decode"]).get(), 1);
    ctl.stop().await;
}

#[tokio::test]
async fn handshake_answers_unknown_types_and_reports_malformed_replies() {
    let ctl = start(Config::default()).await;

    // An unknown message type while the controller waits for FEATURES_REPLY gets BAD_TYPE, and the
    // handshake goes on.
    let mut odd = EmulatedSwitch::connect_with_version(ctl.addr, 1, 2, 0x04).await.unwrap();
    let unknown = [0x04u8, 99, 0, 10, 0, 0, 0, 0x33, 0xab, 0xcd];
    odd.send_raw(&unknown).await.unwrap();
    let seen = odd.complete_handshake(Duration::from_secs(10)).await.expect("handshake completes");
    let err = seen
        .iter()
        .find_map(|m| if let Message::Error(e) = m { Some(e) } else { None })
        .expect("an OFPT_ERROR for the unknown type");
    assert_eq!(err.error, ErrorType::BadRequest(BadRequestCode::BadType));
    assert_eq!(&err.data[..], &unknown[..]);
    wait_for("the switch up", || ctl.controller.registry.get(1).is_some()).await;

    // A FEATURES_REPLY cut short (12 body bytes of 24) gets BAD_LEN with its xid and bytes before
    // the close, and the switch never comes up.
    let mut bad = EmulatedSwitch::connect_with_version(ctl.addr, 2, 2, 0x04).await.unwrap();
    let xid = recv_until(&mut bad, |xid, m| matches!(m, Message::FeaturesRequest).then_some(xid)).await;
    let mut garbage = vec![0x04u8, 6, 0, 20];
    garbage.extend(xid.to_be_bytes());
    garbage.extend([0u8; 12]);
    bad.send_raw(&garbage).await.unwrap();
    let (err_xid, err) = last_error_before_close(&mut bad).await;
    assert_eq!(err_xid, xid);
    assert_eq!(err.error, ErrorType::BadRequest(BadRequestCode::BadLen));
    assert_eq!(&err.data[..], &garbage[..]);
    assert!(ctl.controller.registry.get(2).is_none());
    assert_eq!(ctl.controller.metrics.malformed.with_label_values(&["decode"]).get(), 1);
    ctl.stop().await;
}

#[tokio::test]
async fn silent_switch_is_disconnected_after_missed_echoes() {
    let mut config = Config::default();
    config.openflow.echo_interval_ms = 100;
    config.openflow.echo_missed_limit = 2;
    let ctl = start(config).await;
    let mut sw = EmulatedSwitch::connect(ctl.addr, 5, 1).await.unwrap();
    sw.answer_echo = false;
    let started = std::time::Instant::now();
    let mut echoes = 0;
    loop {
        match tokio::time::timeout(Duration::from_secs(5), sw.recv_raw()).await.expect("closed in time") {
            Ok((_, Message::EchoRequest(_))) => echoes += 1,
            Ok(_) => {}
            Err(_) => break,
        }
    }
    assert_eq!(echoes, 2, "two unanswered echoes, then the disconnect");
    assert!(started.elapsed() < Duration::from_secs(2), "disconnected after {:?}", started.elapsed());

    // A switch that answers stays connected.
    let mut alive = EmulatedSwitch::connect(ctl.addr, 6, 1).await.unwrap();
    let answered = tokio::time::timeout(Duration::from_millis(700), alive.recv()).await;
    assert!(answered.is_err(), "an answering switch must not be dropped: {answered:?}");
    assert!(ctl.controller.registry.get(6).is_some());
    ctl.stop().await;
}

#[tokio::test]
async fn reconnecting_switch_replaces_its_old_connection() {
    let ctl = start(Config::default()).await;
    let mut first = EmulatedSwitch::connect(ctl.addr, 9, 1).await.unwrap();
    wait_for("first", || ctl.controller.registry.get(9).is_some()).await;
    let first_conn = ctl.controller.registry.get(9).unwrap().conn_id();
    let _second = EmulatedSwitch::connect(ctl.addr, 9, 1).await.unwrap();
    wait_for("second", || ctl.controller.registry.get(9).is_some_and(|d| d.conn_id() != first_conn)).await;
    let r = tokio::time::timeout(Duration::from_secs(5), first.recv()).await.expect("closed");
    assert!(r.is_err(), "the old connection should be closed, got {r:?}");
    assert_eq!(ctl.controller.registry.len(), 1);
    ctl.stop().await;
}

#[tokio::test]
async fn requests_match_replies_and_reassemble_multipart() {
    let ctl = start(Config::default()).await;
    let mut sw = EmulatedSwitch::connect(ctl.addr, 3, 1).await.unwrap();
    wait_for("switch", || ctl.controller.registry.get(3).is_some()).await;
    let dp = ctl.controller.registry.get(3).unwrap();

    // PORT_DESC answered in two parts, the first with REPLY_MORE, an unrelated message in between.
    let requester = tokio::spawn({
        let dp = dp.clone();
        async move { dp.request(&Message::MultipartRequest(MultipartRequest::port_desc())).await }
    });
    let xid = recv_until(&mut sw, |xid, m| {
        matches!(m, Message::MultipartRequest(ref r) if r.body == MultipartRequestBody::PortDesc)
            .then_some(xid)
    })
    .await;
    let port = sw.ports[0].clone();
    let mut part1 = MultipartReply::new(MultipartReplyBody::PortDesc(vec![port.clone()]));
    part1.flags = 1; // OFPMPF_REPLY_MORE
    let part2 = MultipartReply::new(MultipartReplyBody::PortDesc(vec![port]));
    sw.send(&EmulatedSwitch::packet_in(1, ethernet_frame(MacAddr::BROADCAST, mac(1), 64))).await.unwrap();
    sw.send_xid(xid, &Message::MultipartReply(part1)).await.unwrap();
    sw.send_xid(xid, &Message::MultipartReply(part2)).await.unwrap();
    let reply = requester.await.unwrap().unwrap();
    let Message::MultipartReply(MultipartReply { body: MultipartReplyBody::PortDesc(all), .. }) = reply
    else {
        panic!("{reply:?}")
    };
    assert_eq!(all.len(), 2, "both parts reassembled");

    // An OFPT_ERROR answering a request is returned to the requester.
    let requester = tokio::spawn({
        let dp = dp.clone();
        async move { dp.request(&Message::MultipartRequest(MultipartRequest::desc())).await }
    });
    let xid = recv_until(&mut sw, |xid, m| matches!(m, Message::MultipartRequest(_)).then_some(xid)).await;
    let err = ErrorMsg::new(ErrorType::BadRequest(BadRequestCode::BadMultipart), &[4, 18, 0, 16]);
    sw.send_xid(xid, &Message::Error(err)).await.unwrap();
    match requester.await.unwrap() {
        Err(RequestError::Switch(e)) => {
            assert_eq!(e.error, ErrorType::BadRequest(BadRequestCode::BadMultipart))
        }
        other => panic!("expected the switch's error, got {other:?}"),
    }

    // A DESC request answered normally.
    let requester = tokio::spawn({
        let dp = dp.clone();
        async move { dp.request(&Message::MultipartRequest(MultipartRequest::desc())).await }
    });
    let xid = recv_until(&mut sw, |xid, m| matches!(m, Message::MultipartRequest(_)).then_some(xid)).await;
    let desc = Desc {
        mfr_desc: FixedStr::new("Rudder"),
        hw_desc: FixedStr::new("emulated"),
        sw_desc: FixedStr::new("test"),
        serial_num: FixedStr::new("1"),
        dp_desc: FixedStr::new("s3"),
    };
    sw.send_xid(
        xid,
        &Message::MultipartReply(MultipartReply::new(MultipartReplyBody::Desc(Box::new(desc.clone())))),
    )
    .await
    .unwrap();
    match requester.await.unwrap() {
        Ok(Message::MultipartReply(MultipartReply { body: MultipartReplyBody::Desc(d), .. })) => {
            assert_eq!(*d, desc)
        }
        other => panic!("expected DESC, got {other:?}"),
    }

    // A reply whose REPLY_MORE parts never end fails its request at the size limit instead of
    // taking the controller's memory; the connection stays.
    let requester = tokio::spawn({
        let dp = dp.clone();
        async move { dp.request(&Message::MultipartRequest(MultipartRequest::port_desc())).await }
    });
    let xid = recv_until(&mut sw, |xid, m| matches!(m, Message::MultipartRequest(_)).then_some(xid)).await;
    let mut endless = MultipartReply::new(MultipartReplyBody::PortDesc(vec![sw.ports[0].clone(); 1000]));
    endless.flags = 1; // OFPMPF_REPLY_MORE
    let endless = Message::MultipartReply(endless);
    let mut sent = 0;
    while !requester.is_finished() {
        assert!(sent < 2 * MAX_MULTIPART_REPLY, "no limit after {sent} bytes");
        sw.send_xid(xid, &endless).await.unwrap();
        sent += 64_016;
    }
    match requester.await.unwrap() {
        Err(RequestError::Multipart(m)) => assert!(m.contains("64 MiB"), "{m}"),
        other => panic!("expected the size limit, got {other:?}"),
    }
    assert!(sent >= MAX_MULTIPART_REPLY, "failed early, after {sent} bytes");
    let requester = tokio::spawn({
        let dp = dp.clone();
        async move { dp.request(&Message::MultipartRequest(MultipartRequest::desc())).await }
    });
    let xid = recv_until(&mut sw, |xid, m| {
        matches!(m, Message::MultipartRequest(ref r) if r.body != MultipartRequestBody::PortDesc)
            .then_some(xid)
    })
    .await;
    let reply = MultipartReply::new(MultipartReplyBody::Desc(Box::new(desc)));
    sw.send_xid(xid, &Message::MultipartReply(reply)).await.unwrap();
    assert!(requester.await.unwrap().is_ok(), "the connection still serves requests");
    ctl.stop().await;
}

/// A switch that stops reading fills its own queue; the app must not wait on it, so the other
/// switches keep being served, a new switch still comes up, and the stuck one is disconnected.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_switch_that_stops_reading_does_not_stall_the_others() {
    let mut config = Config::default();
    config.openflow.echo_interval_ms = 200;
    config.openflow.echo_missed_limit = 2;
    let ctl = start(config).await;
    let mut stuck = EmulatedSwitch::connect(ctl.addr, 0x51, 2).await.unwrap();
    let mut busy = EmulatedSwitch::connect(ctl.addr, 0x52, 2).await.unwrap();
    // Enough flooded broadcasts that the PACKET_OUTs fill the socket buffers and the queue, none
    // of which `stuck` reads.
    let frame = ethernet_frame(MacAddr::BROADCAST, mac(7), 1400);
    for _ in 0..12_000 {
        stuck.send(&EmulatedSwitch::packet_in(1, frame.clone())).await.unwrap();
    }
    let flooded = |_, msg| matches!(msg, Message::PacketOut(_)).then_some(());
    for n in 0..3 {
        busy.send(&EmulatedSwitch::packet_in(1, ethernet_frame(MacAddr::BROADCAST, mac(8 + n), 64)))
            .await
            .unwrap();
        recv_until(&mut busy, flooded).await;
    }
    let mut late = EmulatedSwitch::connect(ctl.addr, 0x53, 2).await.unwrap();
    late.send(&EmulatedSwitch::packet_in(1, ethernet_frame(MacAddr::BROADCAST, mac(20), 64))).await.unwrap();
    recv_until(&mut late, flooded).await;
    // `busy` keeps reading (and so answering echoes) while `stuck` misses its echoes.
    let deadline = std::time::Instant::now() + Duration::from_secs(5);
    while ctl.controller.registry.get(0x51).is_some() {
        assert!(std::time::Instant::now() < deadline, "the stuck switch was not disconnected");
        let _ = busy.recv_timeout(Duration::from_millis(50)).await;
    }
    assert!(ctl.controller.registry.get(0x52).is_some(), "a reading switch stays connected");
    drop(stuck);
    ctl.stop().await;
}
