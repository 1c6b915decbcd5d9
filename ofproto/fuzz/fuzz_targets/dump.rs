//! The `rudder-ofdump` library path on arbitrary input: format detection, pcap/pcapng walking,
//! link/IP/TCP parsing, TCP reassembly, stream resynchronisation and both output formats.
#![no_main]

use bytes::Bytes;
use libfuzzer_sys::fuzz_target;
use ofproto::dump::{self, DumpOptions};

fuzz_target!(|data: &[u8]| {
    if let Ok(result) = dump::run(Bytes::copy_from_slice(data), &DumpOptions::default()) {
        for record in &result.records {
            let _ = dump::format_text(record);
            let _ = dump::format_json(record);
        }
    }
});
