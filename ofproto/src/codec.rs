//! Shared parse and emit machinery. Crate-internal.
//!
//! Parsing: nom parsers over `&[u8]` with [`WireErr`] as the error, which records the field name and how
//! many bytes were left when the failure happened. [`crate::message::Message::decode`] turns that into a
//! [`DecodeError`](crate::error::DecodeError) with an absolute offset (`frame_len - remaining`), so inner
//! parsers never track positions. nom's `Incomplete` is never produced: every parser here works on
//! complete input (`nom::number::complete`), the framing layer guarantees whole messages.
//!
//! Emitting: everything appends to a `BytesMut`. Length and padding fields are written by the
//! [`LenPatch`] back-patch helper and [`pad_to`]; callers of the public API never set them.

use bytes::{BufMut, Bytes, BytesMut};
use nom::error::{ErrorKind, ParseError};

use crate::error::DecodeErrorKind;

/// Internal parse error: the failing field, the bytes remaining at the failure point, and the kind.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct WireErr {
    pub field: &'static str,
    pub remaining: usize,
    pub kind: DecodeErrorKind,
}

impl<'a> ParseError<&'a [u8]> for WireErr {
    fn from_error_kind(input: &'a [u8], _kind: ErrorKind) -> Self {
        // On complete input the only way nom's byte parsers fail is running out of bytes.
        WireErr { field: "", remaining: input.len(), kind: DecodeErrorKind::Truncated }
    }

    fn append(_input: &'a [u8], _kind: ErrorKind, other: Self) -> Self {
        other
    }
}

pub(crate) type PResult<'a, O> = nom::IResult<&'a [u8], O, WireErr>;

/// Names the field a parser reads, for the error (keeps an inner, more specific name).
pub(crate) fn field<'a, O>(
    name: &'static str,
    mut parser: impl FnMut(&'a [u8]) -> PResult<'a, O>,
) -> impl FnMut(&'a [u8]) -> PResult<'a, O> {
    move |input| {
        parser(input).map_err(|e| {
            e.map(|mut err| {
                if err.field.is_empty() {
                    err.field = name;
                }
                err
            })
        })
    }
}

/// A failure of `kind` at the start of `input`, blamed on `field`.
#[cold]
pub(crate) fn fail(input: &[u8], field: &'static str, kind: DecodeErrorKind) -> nom::Err<WireErr> {
    nom::Err::Error(WireErr { field, remaining: input.len(), kind })
}

pub(crate) fn bad_value(input: &[u8], field: &'static str, value: u64) -> nom::Err<WireErr> {
    fail(input, field, DecodeErrorKind::BadValue { value })
}

pub(crate) fn bad_length(input: &[u8], field: &'static str, value: usize) -> nom::Err<WireErr> {
    fail(input, field, DecodeErrorKind::BadLength { value })
}

/// Splits off exactly `len` bytes (`Truncated` if fewer remain), blaming `field`.
pub(crate) fn take_exact<'a>(input: &'a [u8], len: usize, field: &'static str) -> PResult<'a, &'a [u8]> {
    if input.len() < len {
        return Err(fail(input, field, DecodeErrorKind::Truncated));
    }
    let (head, rest) = input.split_at(len);
    Ok((rest, head))
}

/// Runs `parser` on exactly the first `len` bytes of `input` and requires it to consume all of them.
///
/// This is how every length-prefixed structure is read: the inner parser can neither read past its
/// declared end nor leave bytes unread.
pub(crate) fn within<'a, O>(
    input: &'a [u8],
    len: usize,
    field: &'static str,
    parser: impl FnOnce(&'a [u8]) -> PResult<'a, O>,
) -> PResult<'a, O> {
    let (rest, inner) = take_exact(input, len, field)?;
    let (left, out) = parser(inner).map_err(|e| rebase(e, rest.len()))?;
    if !left.is_empty() {
        return Err(trailing(field, left.len(), rest.len()));
    }
    Ok((rest, out))
}

/// Makes an error from inside a bounded part relative to the whole input again: errors inside the
/// part count their remaining bytes from the part's end, so add the `after` bytes that follow it.
/// Error paths are kept out of line so the parsers' success paths stay short.
#[cold]
pub(crate) fn rebase(err: nom::Err<WireErr>, after: usize) -> nom::Err<WireErr> {
    err.map(|mut err| {
        err.remaining += after;
        err
    })
}

/// `count` bytes left unread at the end of a bounded part that `after` more bytes follow.
#[cold]
fn trailing(field: &'static str, count: usize, after: usize) -> nom::Err<WireErr> {
    nom::Err::Error(WireErr {
        field,
        remaining: count + after,
        kind: DecodeErrorKind::TrailingBytes { count },
    })
}

/// Parses items with `item` until `input` is exhausted. `item` must consume at least one byte.
pub(crate) fn many_until_empty<'a, O>(
    mut input: &'a [u8],
    mut item: impl FnMut(&'a [u8]) -> PResult<'a, O>,
) -> PResult<'a, Vec<O>> {
    let mut out = Vec::new();
    while !input.is_empty() {
        let before = input.len();
        let (rest, value) = item(input)?;
        if rest.len() >= before {
            // Defensive: a zero-length item would loop forever.
            return Err(bad_length(input, "length", 0));
        }
        out.push(value);
        input = rest;
    }
    Ok((input, out))
}

/// Skips `n` padding bytes. Padding content is not checked (senders are not required to zero it) but
/// it must be present.
pub(crate) fn pad(input: &[u8], n: usize) -> PResult<'_, ()> {
    let (rest, _) = take_exact(input, n, "pad")?;
    Ok((rest, ()))
}

/// Reads a 2-byte length field at the start of a TLV (after a 2-byte type) and checks it against the
/// minimum size of the structure and the bytes available. Returns the length.
pub(crate) fn check_tlv_len(
    input: &[u8],
    declared: usize,
    min: usize,
    field_name: &'static str,
) -> Result<usize, nom::Err<WireErr>> {
    if declared < min {
        return Err(bad_length(input, field_name, declared));
    }
    if declared > input.len() {
        return Err(fail(input, field_name, DecodeErrorKind::Truncated));
    }
    Ok(declared)
}

/// Zero-copy view of `part` (a sub-slice of `src`) as `Bytes`. Falls back to a copy if `part` is not
/// inside `src`, so a caller mistake can never panic.
pub(crate) fn share(src: &Bytes, part: &[u8]) -> Bytes {
    if part.is_empty() {
        return Bytes::new();
    }
    let start = src.as_ptr() as usize;
    let p = part.as_ptr() as usize;
    if p >= start && p + part.len() <= start + src.len() {
        src.slice_ref(part)
    } else {
        Bytes::copy_from_slice(part)
    }
}

// ---------------------------------------------------------------------------------------------------
// Emit side.

/// A length field to back-patch once the structure it measures has been written.
///
/// ```ignore
/// let len = LenPatch::u16_at(buf, start, buf.len()); // after writing the type, before the length
/// buf.put_u16(0);                                     // placeholder
/// ... write body ...
/// len.finish(buf);                                    // writes buf.len() - start
/// ```
#[derive(Debug, Clone, Copy)]
pub(crate) struct LenPatch {
    start: usize,
    at: usize,
}

impl LenPatch {
    /// Writes a 2-byte placeholder now; the structure being measured began at `start`.
    pub(crate) fn u16(buf: &mut BytesMut, start: usize) -> Self {
        let at = buf.len();
        buf.put_u16(0);
        LenPatch { start, at }
    }

    /// Patches the length to the bytes written since `start` (including padding already added).
    pub(crate) fn finish(self, buf: &mut BytesMut) {
        let len = buf.len() - self.start;
        let len = u16::try_from(len).unwrap_or(u16::MAX);
        buf[self.at..self.at + 2].copy_from_slice(&len.to_be_bytes());
    }
}

/// Appends zero bytes until the structure that started at `start` is a multiple of `align` long.
#[inline]
pub(crate) fn pad_to(buf: &mut BytesMut, start: usize, align: usize) {
    let len = buf.len() - start;
    let padded = len.div_ceil(align) * align;
    put_zeros(buf, padded - len);
}

/// Appends `n` zero bytes.
///
/// OpenFlow padding is almost always under 8 bytes (structures align to 8): that case writes one
/// fixed 8-byte block and trims it, a single store instead of a call to `memset` with a run-time
/// length, which showed up at 5 % of a FLOW_MOD encode.
#[inline]
pub(crate) fn put_zeros(buf: &mut BytesMut, n: usize) {
    if n <= ZERO_BLOCK.len() {
        let end = buf.len() + n;
        buf.put_slice(&ZERO_BLOCK);
        buf.truncate(end);
    } else {
        buf.put_bytes(0, n);
    }
}

const ZERO_BLOCK: [u8; 8] = [0; 8];

/// A message body (everything after `ofp_header`): how each message family plugs into
/// [`crate::message::Message`]'s decode and encode dispatch.
pub(crate) trait Body: Sized {
    /// Parses the body. `input` is exactly the body (bounded by the header's length); `src` is the
    /// whole frame, for zero-copy payloads via [`share`]. Must consume all of `input` or fail.
    fn parse<'a>(input: &'a [u8], src: &Bytes) -> PResult<'a, Self>;

    /// Appends the body; the header and its length are written by the caller.
    fn emit(&self, buf: &mut BytesMut);
}

#[cfg(test)]
mod tests {
    use super::*;
    use nom::number::complete::{be_u16, be_u32};

    #[test]
    fn within_rejects_trailing_and_short() {
        let data = [0u8, 1, 0, 2, 9];
        let r = within(&data, 4, "x", |i| field("a", be_u16)(i));
        assert!(matches!(
            r,
            Err(nom::Err::Error(WireErr { kind: DecodeErrorKind::TrailingBytes { count: 2 }, .. }))
        ));
        let r = within(&data, 9, "x", |i| field("a", be_u16)(i));
        assert!(matches!(
            r,
            Err(nom::Err::Error(WireErr { kind: DecodeErrorKind::Truncated, field: "x", .. }))
        ));
    }

    #[test]
    fn within_reports_offsets_relative_to_the_whole_input() {
        // 2 bytes bounded, then 3 more bytes after the bounded part.
        let data = [0u8, 1, 9, 9, 9];
        let err = within(&data, 2, "x", |i| field("a", be_u32)(i)).unwrap_err();
        let nom::Err::Error(err) = err else { panic!() };
        assert_eq!(data.len() - err.remaining, 0, "the failing field starts at offset 0");
        let err = within(&data, 3, "x", |i| field("a", be_u16)(i)).unwrap_err();
        let nom::Err::Error(err) = err else { panic!() };
        assert_eq!(data.len() - err.remaining, 2, "the trailing byte is at offset 2");
    }

    #[test]
    fn len_patch_and_padding() {
        let mut buf = BytesMut::new();
        buf.put_u16(7);
        let len = LenPatch::u16(&mut buf, 0);
        buf.put_u8(1);
        pad_to(&mut buf, 0, 8);
        len.finish(&mut buf);
        assert_eq!(&buf[..], &[0, 7, 0, 8, 1, 0, 0, 0]);
    }

    #[test]
    fn put_zeros_writes_exactly_n_zero_bytes() {
        for n in 0..20 {
            let mut buf = BytesMut::from(&[9u8, 9][..]);
            put_zeros(&mut buf, n);
            assert_eq!(buf.len(), 2 + n, "n = {n}");
            assert!(buf[2..].iter().all(|&b| b == 0), "n = {n}");
            assert_eq!(&buf[..2], &[9, 9]);
        }
    }

    #[test]
    fn share_is_zero_copy() {
        let src = Bytes::from_static(b"hello world");
        let part = share(&src, &src[6..]);
        assert_eq!(part.as_ptr(), src[6..].as_ptr());
        let foreign = share(&src, b"xyz");
        assert_eq!(&foreign[..], b"xyz");
    }
}
