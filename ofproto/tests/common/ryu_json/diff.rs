//! Field-by-field comparison of Ryu's JSON (expected) with ours (actual), reporting every
//! difference with its JSON path, plus the explicit list of Ryu fields ofproto's model does not hold.

use serde_json::Value;

/// Ryu keys that have no counterpart in ofproto's data model, per Ryu class, with the reason.
/// Everything not listed here is compared.
fn not_modelled(class: &str, key: &str) -> Option<&'static str> {
    // Nicira actions: the lead's data model keeps experimenter actions as (experimenter, bytes); the
    // common header (type, len, experimenter, subtype) is compared, the decoded Nicira fields are not.
    // Their bytes are covered by the byte-exact round trip.
    const NX_HEADER: [&str; 4] = ["type", "len", "experimenter", "subtype"];
    if class.starts_with("NXAction") && class != "NXActionUnknown" && !NX_HEADER.contains(&key) {
        return Some("Nicira action payload is opaque bytes in ofproto (round-trip checked)");
    }
    match (class, key) {
        // ONF flow-monitor (ONF EXT-187) is an experimenter multipart: ofproto keeps its body opaque.
        ("ONFFlowMonitorStatsRequest", "body") => {
            Some("ONF flow-monitor body is opaque experimenter data in ofproto")
        }
        _ => None,
    }
}

/// The innermost Ryu class on the path (an object key that starts with an upper-case letter).
fn class_of(path: &[String]) -> &str {
    path.iter()
        .rev()
        .map(String::as_str)
        .find(|k| k.starts_with(|c: char| c.is_ascii_uppercase()))
        .unwrap_or("")
}

/// Outcome of a comparison: differences (the test fails on any) and fields skipped on purpose.
#[derive(Default, Debug)]
pub struct Report {
    pub differences: Vec<String>,
    pub skipped: Vec<String>,
    /// Leaf values compared and found equal (so a test can show it compared something).
    pub compared: usize,
}

pub fn compare(expected: &Value, actual: &Value) -> Report {
    let mut report = Report::default();
    walk(expected, actual, &mut Vec::new(), &mut report);
    report
}

fn render(path: &[String]) -> String {
    if path.is_empty() { "$".to_string() } else { format!("$.{}", path.join(".")) }
}

fn short(v: &Value) -> String {
    let s = v.to_string();
    if s.len() > 160 {
        format!("{}...", &s[..s.char_indices().nth(160).map_or(s.len(), |(i, _)| i)])
    } else {
        s
    }
}

fn walk(expected: &Value, actual: &Value, path: &mut Vec<String>, report: &mut Report) {
    match (expected, actual) {
        (Value::Object(e), Value::Object(a)) => {
            let class = class_of(path).to_string();
            for (key, ev) in e {
                if let Some(reason) = not_modelled(&class, key) {
                    report.skipped.push(format!("{}.{key}: {reason}", render(path)));
                    continue;
                }
                path.push(key.clone());
                match a.get(key) {
                    Some(av) => walk(ev, av, path, report),
                    None => report.differences.push(format!(
                        "{}: missing in ours (Ryu: {})",
                        render(path),
                        short(ev)
                    )),
                }
                path.pop();
            }
            for (key, av) in a {
                if !e.contains_key(key) {
                    path.push(key.clone());
                    report.differences.push(format!(
                        "{}: not in Ryu's JSON (ours: {})",
                        render(path),
                        short(av)
                    ));
                    path.pop();
                }
            }
        }
        (Value::Array(e), Value::Array(a)) => {
            if e.len() != a.len() {
                report.differences.push(format!(
                    "{}: {} elements in Ryu's JSON, {} in ours\n    Ryu:  {}\n    ours: {}",
                    render(path),
                    e.len(),
                    a.len(),
                    short(expected),
                    short(actual)
                ));
            }
            for (i, (ev, av)) in e.iter().zip(a).enumerate() {
                path.push(format!("[{i}]"));
                walk(ev, av, path, report);
                path.pop();
            }
        }
        // Ryu rendered this payload with its packet library instead of base64: render ours the same
        // way (from the bytes we decoded) and compare that.
        (Value::Object(e), Value::String(b64)) if e.contains_key("Packet") => {
            match crate::common::unbase64(b64).and_then(|bytes| super::packet_library::render(&bytes)) {
                Some(rendered) => walk(expected, &rendered, path, report),
                None => report.differences.push(format!(
                    "{}: Ryu decoded the payload as a packet, ours cannot be rendered: {}",
                    render(path),
                    short(actual)
                )),
            }
        }
        _ if expected == actual => report.compared += 1,
        _ => report.differences.push(format!(
            "{}: Ryu {} != ours {}",
            render(path),
            short(expected),
            short(actual)
        )),
    }
}
