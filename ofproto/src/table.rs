//! TABLE_MOD (OF1.3.5 §7.3.3): configure a flow table (in OF1.3 only the deprecated miss bits).

use bytes::{BufMut, Bytes, BytesMut};
use nom::number::complete::{be_u8, be_u32};
use serde::Serialize;

use crate::codec::{Body, PResult, field, pad, put_zeros};

/// Size of `ofp_table_mod` after `ofp_header`: table_id, pad[3], config.
pub const TABLE_MOD_BODY_LEN: usize = 8;
const TABLE_MOD_PAD: usize = 3;
const _: () = assert!(1 + TABLE_MOD_PAD + 4 == TABLE_MOD_BODY_LEN);

/// `ofp_table_config` bits.
pub mod table_config {
    /// `OFPTC_DEPRECATED_MASK`: bits OF1.1/1.2 used for table-miss behaviour; OF1.3 ignores them.
    pub const DEPRECATED_MASK: u32 = 3;
}

/// OFPT_TABLE_MOD.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TableMod {
    /// The table to configure, or `TABLE_ALL` (0xff) for every table.
    pub table_id: u8,
    /// `ofp_table_config` bits, see [`table_config`].
    pub config: u32,
}

impl Body for TableMod {
    fn parse<'a>(input: &'a [u8], _src: &Bytes) -> PResult<'a, Self> {
        let (rest, table_id) = field("table_id", be_u8)(input)?;
        let (rest, ()) = pad(rest, TABLE_MOD_PAD)?;
        let (rest, config) = field("config", be_u32)(rest)?;
        Ok((rest, TableMod { table_id, config }))
    }

    fn emit(&self, buf: &mut BytesMut) {
        buf.put_u8(self.table_id);
        put_zeros(buf, TABLE_MOD_PAD);
        buf.put_u32(self.config);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::DecodeErrorKind;
    use crate::message::Message;
    use crate::types::TABLE_ALL;

    /// TABLE_MOD for all tables with the deprecated mask set (pad bytes zero).
    static TABLE_MOD: [u8; 16] = [
        0x04, 0x11, 0x00, 0x10, 0x00, 0x00, 0x00, 0x07, // header, xid 7
        0xff, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x03, // table ALL, pad, config 3
    ];

    #[test]
    fn test_parse() {
        let (_, msg) = Message::decode(&Bytes::from_static(&TABLE_MOD)).unwrap();
        assert_eq!(
            msg,
            Message::TableMod(TableMod { table_id: TABLE_ALL, config: table_config::DEPRECATED_MASK })
        );
    }

    #[test]
    fn test_emit() {
        let msg = Message::TableMod(TableMod { table_id: TABLE_ALL, config: table_config::DEPRECATED_MASK });
        assert_eq!(&msg.to_bytes(7)[..], &TABLE_MOD);
    }

    /// `bytes` cut to `len`, with the header length patched so the body parser sees the cut.
    fn cut(bytes: &[u8], len: usize) -> Bytes {
        let mut v = bytes[..len].to_vec();
        v[2..4].copy_from_slice(&(len as u16).to_be_bytes());
        Bytes::from(v)
    }

    #[test]
    fn wrong_length() {
        for len in 8..TABLE_MOD.len() {
            let err = Message::decode(&cut(&TABLE_MOD, len)).unwrap_err();
            assert_eq!(err.kind, DecodeErrorKind::Truncated, "cut at {len}");
        }
        let mut long = TABLE_MOD.to_vec();
        long[3] = 17;
        long.push(0);
        let err = Message::decode(&Bytes::from(long)).unwrap_err();
        assert_eq!((err.offset, err.kind), (16, DecodeErrorKind::TrailingBytes { count: 1 }));
    }
}
