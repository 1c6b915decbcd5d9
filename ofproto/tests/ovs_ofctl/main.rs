//! Differential test against Open vSwitch: messages built in code, encoded by ofproto, must be
//! decoded by `ovs-ofctl` (an independent C implementation) without error, and its text must show
//! the values we put in.
//!
//! All messages go through one `ovs-ofctl ofp-parse FILE` run (seconds for the whole set). Each is
//! preceded by an empty ECHO_REQUEST with xid `0xfeed0000 + i`, whose one-line rendering splits the
//! output per message even when OVS prints a decode error without a header line. On any failure the
//! message is re-run alone with `ofp-print` so its stderr warnings can be attributed.
//!
//! Requires `ovs-ofctl` (Debian `openvswitch-common`; `make deps` installs it, CI has it). Set
//! `OVS_OFCTL_SHOW=1` to print OVS's text for every message.

#[path = "../common/mod.rs"]
mod common;
mod flows;
mod messages;
mod multipart;

use std::process::Command;

use bytes::{Bytes, BytesMut};
use ofproto::Message;

/// One message and the fragments OVS's rendering of it must contain.
pub struct Case {
    pub name: String,
    pub msg: Message,
    pub expect: Vec<String>,
}

pub fn case(name: &str, msg: Message, expect: &[&str]) -> Case {
    Case { name: name.to_string(), msg, expect: expect.iter().map(|s| s.to_string()).collect() }
}

fn all_cases() -> Vec<Case> {
    let mut cases = messages::message_cases();
    cases.extend(flows::match_cases());
    cases.extend(flows::action_cases());
    cases.extend(flows::instruction_cases());
    cases.extend(multipart::multipart_cases());
    cases
}

// ---------------------------------------------------------------------------------------------
// Running ovs-ofctl.

/// xid of the ECHO_REQUEST separating message `i` from the one before it.
const SEPARATOR_XID: u32 = 0xfeed_0000;

/// Markers OVS puts in its text when it cannot decode something (`lib/ofp-print.c`).
const FAILURE_MARKERS: [&str; 4] = ["***", "decode error", "bad ", "(unknown"];

fn ovs_ofctl() -> Command {
    let mut cmd = Command::new("ovs-ofctl");
    // Warnings (e.g. "bad action at offset 16") are how OVS explains a rejection; keep them on
    // stderr, nothing on syslog or a log file.
    cmd.args(["-vconsole:warn", "-vsyslog:off", "-vfile:off"]);
    cmd
}

fn require_ovs_ofctl() {
    match ovs_ofctl().arg("--version").output() {
        Ok(out) if out.status.success() => {}
        Ok(out) => panic!("ovs-ofctl --version failed: {}", String::from_utf8_lossy(&out.stderr)),
        Err(e) => panic!(
            "ovs-ofctl is not installed ({e}). This differential test needs it: run `make deps` \
             (Debian package openvswitch-common; CI installs it)."
        ),
    }
}

/// OVS's text for each message (in order), and everything it wrote to stderr.
fn ofp_parse(frames: &[Bytes]) -> (Vec<String>, String) {
    let mut file = BytesMut::new();
    for (i, frame) in frames.iter().enumerate() {
        Message::EchoRequest(Bytes::new()).encode(SEPARATOR_XID + i as u32, &mut file);
        file.extend_from_slice(frame);
    }
    let path = std::env::temp_dir().join(format!("ofproto-ovs-ofctl-{}.bin", std::process::id()));
    std::fs::write(&path, &file).unwrap_or_else(|e| panic!("cannot write {}: {e}", path.display()));
    let out = ovs_ofctl().arg("ofp-parse").arg(&path).output().expect("run ovs-ofctl ofp-parse");
    let _ = std::fs::remove_file(&path);
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(out.status.success(), "ovs-ofctl ofp-parse failed: {stderr}");
    let mut segments: Vec<String> = Vec::new();
    for line in stdout.lines() {
        let separator = (0..frames.len()).any(|i| {
            line.starts_with(&format!("OFPT_ECHO_REQUEST (OF1.3) (xid={:#x}):", SEPARATOR_XID + i as u32))
        });
        if separator {
            segments.push(String::new());
        } else if let Some(current) = segments.last_mut() {
            current.push_str(line);
            current.push('\n');
        } else {
            panic!("ovs-ofctl output before the first separator: {line}");
        }
    }
    assert_eq!(segments.len(), frames.len(), "one output segment per message:\n{stdout}");
    (segments, stderr)
}

/// `ovs-ofctl ofp-print` on one message: stdout and stderr, for attributing a failure.
fn ofp_print(frame: &[u8]) -> String {
    let out = ovs_ofctl().arg("ofp-print").arg(common::hex(frame)).output().expect("run ovs-ofctl ofp-print");
    format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr))
}

#[test]
fn ovs_decodes_our_messages_with_the_values_we_encoded() {
    require_ovs_ofctl();
    let cases = all_cases();
    let frames: Vec<Bytes> = cases.iter().enumerate().map(|(i, c)| c.msg.to_bytes(i as u32 + 1)).collect();
    let (texts, stderr) = ofp_parse(&frames);
    let show = std::env::var_os("OVS_OFCTL_SHOW").is_some();
    let mut failures = Vec::new();
    for ((c, frame), text) in cases.iter().zip(&frames).zip(&texts) {
        if show {
            eprintln!("== {}\n{text}", c.name);
        }
        let mut problems: Vec<String> = FAILURE_MARKERS
            .iter()
            .filter(|m| text.contains(*m))
            .map(|m| format!("OVS output contains {m:?}"))
            .collect();
        problems
            .extend(c.expect.iter().filter(|e| !text.contains(e.as_str())).map(|e| format!("missing {e:?}")));
        if !problems.is_empty() {
            failures.push(format!(
                "{}: {}\n  hex: {}\n  ovs-ofctl ofp-print says:\n{}",
                c.name,
                problems.join(", "),
                common::hex(frame),
                ofp_print(frame)
            ));
        }
    }
    if !stderr.trim().is_empty() && failures.is_empty() {
        // OVS warned about something without marking any message: find which one.
        for (c, frame) in cases.iter().zip(&frames) {
            let alone = ofp_print(frame);
            if alone.contains("WARN") || alone.contains("ERR") {
                failures.push(format!("{}: ovs-ofctl warns:\n{alone}", c.name));
            }
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} messages fail in ovs-ofctl:\n\n{}",
        failures.len(),
        cases.len(),
        failures.join("\n\n")
    );
    assert!(cases.len() >= 120, "the catalogue shrank to {} messages", cases.len());
}

#[test]
fn every_message_type_is_in_the_catalogue() {
    let mut seen = [false; 30];
    for c in all_cases() {
        if let Some(s) = seen.get_mut(usize::from(c.msg.msg_type().value())) {
            *s = true;
        }
    }
    let missing: Vec<usize> = (0..30).filter(|t| !seen[*t]).collect();
    assert!(missing.is_empty(), "OpenFlow message types without an ovs-ofctl case: {missing:?}");
}

#[test]
fn ovs_rejects_what_it_does_not_implement_for_the_right_reason() {
    require_ovs_ofctl();
    let mut failures = Vec::new();
    for c in flows::ovs_gap_cases() {
        let frame = c.msg.to_bytes(1);
        let text = ofp_print(&frame);
        let missing: Vec<&String> = c.expect.iter().filter(|e| !text.contains(e.as_str())).collect();
        if !missing.is_empty() {
            failures.push(format!("{}: missing {missing:?}\n  hex: {}\n{text}", c.name, common::hex(&frame)));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}
