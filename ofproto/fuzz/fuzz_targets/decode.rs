//! Arbitrary bytes through the framer and the decoder, as a connection would see them: no input may
//! panic, loop or allocate without bound.
#![no_main]

use bytes::{Bytes, BytesMut};
use libfuzzer_sys::fuzz_target;
use ofproto::{Framer, Message};

fuzz_target!(|data: &[u8]| {
    // As one frame, whatever its length field says (decode must check it against the bytes).
    let _ = Message::decode(&Bytes::copy_from_slice(data));

    // As a stream: frame after frame until the framer wants more bytes or gives up.
    let mut stream = BytesMut::from(data);
    let framer = Framer::default();
    while let Ok(Some(frame)) = framer.next_frame(&mut stream) {
        let _ = Message::decode(&frame);
    }
});
