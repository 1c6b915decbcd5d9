//! Whatever decodes must survive a round trip: decode -> encode -> decode gives the same message and
//! xid, and encoding that again gives the same bytes (encoding is deterministic and lengths are
//! computed, so nothing the decoder accepted may be lost or invented by the encoder).
#![no_main]

use bytes::Bytes;
use libfuzzer_sys::fuzz_target;
use ofproto::Message;

fuzz_target!(|data: &[u8]| {
    let frame = Bytes::copy_from_slice(data);
    let Ok((header, message)) = Message::decode(&frame) else { return };
    let encoded = message.to_bytes(header.xid);
    let (header2, message2) = match Message::decode(&encoded) {
        Ok(decoded) => decoded,
        Err(e) => panic!(
            "re-encoded {} does not decode: {e}\n  input:   {data:02x?}\n  encoded: {:02x?}",
            header.msg_type.spec_name(),
            &encoded[..]
        ),
    };
    assert_eq!(header2.xid, header.xid);
    assert_eq!(
        message2,
        message,
        "decode(encode(m)) != m\n  input:   {data:02x?}\n  encoded: {:02x?}",
        &encoded[..]
    );
    let encoded2 = message2.to_bytes(header2.xid);
    assert_eq!(encoded2, encoded, "re-encoding is not stable");
});
