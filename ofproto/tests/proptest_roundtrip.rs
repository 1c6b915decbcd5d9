//! Property tests: for arbitrary messages of every family (`common::strategies`),
//! `decode(encode(m)) == m`, the header is right, and encoding the decoded value gives the same bytes.
//!
//! The default case count keeps the suite fast in a dev build; raise it with `PROPTEST_CASES`.

mod common;

use ofproto::{Message, OFP_VERSION};
use proptest::prelude::*;

/// Cases per property unless `PROPTEST_CASES` says otherwise.
const DEFAULT_CASES: u32 = 4_000;

fn config() -> ProptestConfig {
    let cases = std::env::var("PROPTEST_CASES").ok().and_then(|v| v.parse().ok()).unwrap_or(DEFAULT_CASES);
    ProptestConfig { cases, ..ProptestConfig::default() }
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn decode_inverts_encode(msg in common::strategies::message(), xid in any::<u32>()) {
        let bytes = msg.to_bytes(xid);
        prop_assert_eq!(bytes[0], OFP_VERSION);
        prop_assert_eq!(bytes[1], msg.msg_type().value());
        prop_assert_eq!(usize::from(u16::from_be_bytes([bytes[2], bytes[3]])), bytes.len());
        prop_assert_eq!(u32::from_be_bytes([bytes[4], bytes[5], bytes[6], bytes[7]]), xid);
        let (header, decoded) = match Message::decode(&bytes) {
            Ok(ok) => ok,
            Err(err) => return Err(TestCaseError::fail(format!("{err} decoding {}", common::hex(&bytes)))),
        };
        prop_assert_eq!(header.xid, xid);
        prop_assert_eq!(&decoded, &msg);
        prop_assert_eq!(decoded.to_bytes(xid), bytes);
    }

    #[test]
    fn encoding_appends_after_existing_bytes(msg in common::strategies::message()) {
        // `encode` appends: a message written after others has the same bytes as one written alone,
        // so every length is relative to the message's own start.
        let alone = msg.to_bytes(9);
        let mut buf = bytes::BytesMut::from(&b"previous message"[..]);
        msg.encode(9, &mut buf);
        prop_assert_eq!(&buf[16..], &alone[..]);
    }
}

#[test]
fn strategies_cover_every_message_type() {
    // The strategy is only as good as its coverage: draw until every OF1.3 type (0..=29) and an
    // unknown type have appeared.
    use proptest::strategy::ValueTree;
    use proptest::test_runner::TestRunner;
    let strategy = common::strategies::message();
    let mut runner = TestRunner::deterministic();
    let mut seen = [false; 31];
    for _ in 0..20_000 {
        let msg = strategy.new_tree(&mut runner).expect("strategy").current();
        seen[usize::from(msg.msg_type().value()).min(30)] = true;
        if seen.iter().all(|s| *s) {
            return;
        }
    }
    let missing: Vec<usize> = (0..31).filter(|t| !seen[*t]).collect();
    panic!("message types never generated: {missing:?}");
}
