//! An object's bytes as the UTF-8 text the CSV parser reads.
//!
//! UTF-8, the default, passes through untouched, so the common case costs no copy. A byte-order mark at the very
//! start decides over the spec's declared encoding, as in browsers: a UTF-8 mark is dropped (Excel's "CSV UTF-8"),
//! a UTF-16 one switches to decoding UTF-16 (Excel's "Unicode Text"), a UTF-32 one fails the object naming it
//! (`encoding_rs` follows the WHATWG standard, which has no UTF-32). Any other declared encoding (`windows-1252`,
//! which Excel's plain "CSV" writes on Windows; `iso-8859-15`; `shift_jis`; ...) is decoded with `encoding_rs`.
//!
//! A byte sequence that is malformed in its encoding becomes one `0xFF` byte, which is neither valid UTF-8 nor any
//! CSV delimiter or quote: the row that holds it is rejected as invalid UTF-8, with its line, instead of being
//! loaded altered (a replacement character) or failing the rest of the object.

use encoding_rs::{Decoder, DecoderResult, Encoding, UTF_8};

use crate::error::ObjectError;

/// Byte-order marks of encodings `encoding_rs` cannot decode; checked before its own (UTF-32LE's begins with
/// UTF-16LE's).
const UTF32_BOMS: [(&[u8], &str); 2] =
    [(b"\xFF\xFE\0\0", "UTF-32LE"), (b"\0\0\xFE\xFF", "UTF-32BE")];

/// How many bytes at the start of an object are held back to tell its byte-order mark.
const HEAD_BYTES: usize = 4;

/// What a malformed input sequence becomes: never valid UTF-8, never a delimiter, quote or line end.
const MALFORMED: u8 = 0xFF;

/// The decoding state of one object.
pub struct TextInput {
    declared: &'static Encoding,
    /// The object's first bytes, until there are enough to tell its byte-order mark (it may span chunks).
    head: Option<Vec<u8>>,
    /// `None` while the text is UTF-8 and passes through.
    decoder: Option<Decoder>,
    out: Vec<u8>,
}

impl TextInput {
    /// A decoder for one object in the `declared` encoding, unless a byte-order mark says otherwise.
    pub fn new(declared: &'static Encoding) -> Self {
        Self {
            declared,
            head: Some(Vec::with_capacity(HEAD_BYTES)),
            decoder: None,
            out: Vec::new(),
        }
    }

    /// The UTF-8 text of the next `chunk` of the object (with any bytes held back before it); `last` once, at its
    /// end, with the remaining bytes (possibly none).
    pub fn decode<'a>(&'a mut self, chunk: &'a [u8], last: bool) -> Result<&'a [u8], ObjectError> {
        let Some(head) = &mut self.head else {
            return Ok(match &mut self.decoder {
                None => chunk,
                Some(decoder) => {
                    self.out.clear();
                    transcode(decoder, chunk, last, &mut self.out);
                    &self.out
                }
            });
        };
        let held = head.len();
        let take = (HEAD_BYTES - held).min(chunk.len());
        head.extend_from_slice(&chunk[..take]);
        if head.len() < HEAD_BYTES && !last {
            return Ok(&[]);
        }
        let head = std::mem::take(head);
        self.head = None;
        if let Some(&(_, name)) = UTF32_BOMS.iter().find(|(bom, _)| head.starts_with(bom)) {
            return Err(ObjectError::Encoding { encoding: name });
        }
        let (encoding, mark) = Encoding::for_bom(&head).unwrap_or((self.declared, 0));
        if encoding == UTF_8 && held == 0 {
            // The whole head came from this chunk: the text is the chunk after the mark, uncopied.
            return Ok(&chunk[mark..]);
        }
        self.out.clear();
        if encoding == UTF_8 {
            self.out.extend_from_slice(&head[mark..]);
            self.out.extend_from_slice(&chunk[take..]);
        } else {
            let decoder = self
                .decoder
                .insert(encoding.new_decoder_without_bom_handling());
            transcode(decoder, &head[mark..], false, &mut self.out);
            transcode(decoder, &chunk[take..], last, &mut self.out);
        }
        Ok(&self.out)
    }
}

/// Appends the UTF-8 of `src` to `out`, each malformed sequence as one [`MALFORMED`] byte.
fn transcode(decoder: &mut Decoder, mut src: &[u8], last: bool, out: &mut Vec<u8>) {
    loop {
        let start = out.len();
        let room = decoder
            .max_utf8_buffer_length_without_replacement(src.len())
            .unwrap_or(src.len())
            .max(16);
        out.resize(start + room, 0);
        let (result, read, written) =
            decoder.decode_to_utf8_without_replacement(src, &mut out[start..], last);
        out.truncate(start + written);
        src = &src[read..];
        match result {
            DecoderResult::InputEmpty => return,
            DecoderResult::OutputFull => {}
            DecoderResult::Malformed(..) => out.push(MALFORMED),
        }
    }
}

#[cfg(test)]
mod tests {
    use encoding_rs::{SHIFT_JIS, WINDOWS_1252};

    use super::*;

    /// Decodes `bytes` split at every position (and byte by byte), checking each gives `expected`.
    #[track_caller]
    fn check(declared: &'static Encoding, bytes: &[u8], expected: &[u8]) {
        let mut splits: Vec<Vec<&[u8]>> = (0..=bytes.len())
            .map(|at| vec![&bytes[..at], &bytes[at..]])
            .collect();
        splits.push(bytes.chunks(1).collect());
        for chunks in splits {
            let mut input = TextInput::new(declared);
            let mut got = Vec::new();
            for chunk in &chunks {
                got.extend_from_slice(input.decode(chunk, false).unwrap());
            }
            got.extend_from_slice(input.decode(&[], true).unwrap());
            assert_eq!(got, expected, "{chunks:?}");
        }
    }

    fn utf16(text: &str, to_bytes: fn(u16) -> [u8; 2]) -> Vec<u8> {
        text.encode_utf16().flat_map(to_bytes).collect()
    }

    #[test]
    fn utf8_passes_through_and_a_leading_utf8_mark_is_dropped_once() {
        check(UTF_8, "a,é\n".as_bytes(), "a,é\n".as_bytes());
        check(
            UTF_8,
            "\u{feff}a\n\u{feff}b".as_bytes(),
            "a\n\u{feff}b".as_bytes(),
        );
        check(UTF_8, "\u{feff}".as_bytes(), b"");
        check(UTF_8, b"", b"");
        check(UTF_8, b"\xEF\xBBx\n\xEF", b"\xEF\xBBx\n\xEF");
        // Invalid UTF-8 is left for the row check, which rejects the row naming the byte.
        check(UTF_8, b"a\xFFb", b"a\xFFb");
    }

    #[test]
    fn a_utf16_mark_decides_over_the_declared_encoding() {
        let text = "\u{feff}id\tname\r\n1\tJosé 日本 😀\r\n";
        let expected = "id\tname\r\n1\tJosé 日本 😀\r\n".as_bytes();
        check(UTF_8, &utf16(text, u16::to_le_bytes), expected);
        check(UTF_8, &utf16(text, u16::to_be_bytes), expected);
        check(WINDOWS_1252, &utf16(text, u16::to_le_bytes), expected);
    }

    #[test]
    fn a_declared_encoding_is_decoded() {
        check(WINDOWS_1252, b"caf\xE9,\x80 5\n", "café,€ 5\n".as_bytes());
        check(SHIFT_JIS, b"\x93\xFA\x96\x7B,x\n", "日本,x\n".as_bytes());
        // A UTF-8 mark still wins: the file says what it is.
        check(WINDOWS_1252, "\u{feff}café".as_bytes(), "café".as_bytes());
    }

    #[test]
    fn a_malformed_sequence_becomes_one_byte_that_is_never_utf8_nor_csv_syntax() {
        // An unpaired surrogate (0xDC2C holds a comma's byte) in UTF-16LE, and a truncated Shift_JIS pair at the end.
        let mut bytes = utf16("\u{feff}a", u16::to_le_bytes);
        bytes.extend_from_slice(&[0x2C, 0xDC]);
        bytes.extend_from_slice(&utf16("b\n", u16::to_le_bytes));
        check(UTF_8, &bytes, b"a\xFFb\n");
        check(SHIFT_JIS, b"x\n\x93", b"x\n\xFF");
    }

    #[test]
    fn a_utf32_mark_fails_the_object_naming_it() {
        let le: Vec<u8> = "\u{feff}a,b\n"
            .chars()
            .flat_map(|c| u32::from(c).to_le_bytes())
            .collect();
        let be: Vec<u8> = "\u{feff}a,b\n"
            .chars()
            .flat_map(|c| u32::from(c).to_be_bytes())
            .collect();
        for (bytes, name) in [(le, "UTF-32LE"), (be, "UTF-32BE")] {
            for at in 0..=bytes.len() {
                let mut input = TextInput::new(UTF_8);
                let result = input
                    .decode(&bytes[..at], false)
                    .map(<[u8]>::len)
                    .and_then(|_| input.decode(&bytes[at..], true).map(<[u8]>::len));
                match result {
                    Err(ObjectError::Encoding { encoding }) => assert_eq!(encoding, name),
                    other => panic!("{name} split at {at}: {other:?}"),
                }
            }
        }
    }
}
