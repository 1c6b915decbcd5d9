//! Hex text to bytes, tolerant of the ways people paste hex: spaces, newlines, commas, colons and a
//! `0x` prefix per token (`04 0e 00 50`, `0x04,0x0e`, `040e0050`, `04:0e:00:50`).

/// Why a hex string could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum HexError {
    #[error("invalid hex character {found:?} at position {position}")]
    InvalidChar { found: char, position: usize },
    #[error("odd number of hex digits ({digits}): the last byte is incomplete")]
    OddLength { digits: usize },
}

/// Parses hex text into bytes. Separators (whitespace, `,`, `:`) may appear between any two bytes;
/// a `0x`/`0X` prefix is allowed at the start of each token.
pub fn parse_hex(text: &str) -> Result<Vec<u8>, HexError> {
    let mut out = Vec::with_capacity(text.len() / 2);
    let mut high: Option<u8> = None;
    let mut digits = 0usize;
    let mut chars = text.char_indices().peekable();
    // True at the start of a token, where a `0x` prefix may appear.
    let mut token_start = true;
    while let Some((position, c)) = chars.next() {
        if c.is_whitespace() || c == ',' || c == ':' {
            token_start = true;
            continue;
        }
        if token_start && c == '0' && matches!(chars.peek(), Some((_, 'x' | 'X'))) {
            chars.next();
            token_start = false;
            continue;
        }
        token_start = false;
        let nibble = c.to_digit(16).ok_or(HexError::InvalidChar { found: c, position })? as u8;
        digits += 1;
        match high.take() {
            None => high = Some(nibble),
            Some(h) => out.push(h << 4 | nibble),
        }
    }
    if high.is_some() {
        return Err(HexError::OddLength { digits });
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_common_paste_styles() {
        let want = vec![0x04, 0x0e, 0x00, 0x50];
        for text in [
            "040e0050",
            "04 0e 00 50",
            "0x04 0x0e 0x00 0x50",
            "0x040e0050",
            "04:0e:00:50",
            "0x04,0x0E,\n0x00,0x50\n",
        ] {
            assert_eq!(parse_hex(text), Ok(want.clone()), "{text:?}");
        }
        assert_eq!(parse_hex("  \n"), Ok(vec![]));
    }

    #[test]
    fn rejects_bad_characters_and_odd_digits() {
        assert_eq!(parse_hex("04 0g"), Err(HexError::InvalidChar { found: 'g', position: 4 }));
        assert_eq!(parse_hex("04 0"), Err(HexError::OddLength { digits: 3 }));
        // `x` is only a prefix at the start of a token.
        assert_eq!(parse_hex("040x"), Err(HexError::InvalidChar { found: 'x', position: 3 }));
    }
}
