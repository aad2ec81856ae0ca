//! Compressed objects, decided by their first bytes: gzip and zstd are decompressed as they stream in; other
//! formats a CSV loader cannot read are refused naming what they are; anything else passes through uncopied.
//!
//! The object's own first bytes decide, never its key's extension or `Content-Encoding`: `aws s3 cp
//! --content-encoding gzip` keeps a `.csv` name, Firehose writes keys without an extension, and a `.gz` key may
//! hold plain text. Both codecs read every way producers write them: gzip as several members one after another
//! (`cat a.gz b.gz`, Firehose, `pigz`), zstd as several frames (with skippable frames). Integrity is checked as
//! the codec defines it: gzip's CRC-32 and length per member, zstd's content checksum when the frame carries one.
//! A stream that is corrupt, cut short or followed by bytes that are no new member fails the object, naming the
//! compressed byte offset where it went wrong.
//!
//! [`Decompressor`] is push-based, like the text decoder and CSV parser after it: it takes the body's chunks as
//! they arrive and hands on the decompressed bytes in pieces of at most [`PIECE`] bytes, so memory stays bounded
//! whatever the object size (gzip keeps its 32 KiB window; a zstd frame the window its producer chose, at most
//! 128 MiB, 8 MiB for `zstd -19`). Uncompressed input costs nothing: each chunk is handed on as it came.
//!
//! Parquet files never come through here (the Parquet reader reads the footer with range requests), so a `PAR1`
//! object is refused like the other formats.

use std::fmt::Write;

use flate2::{Crc, Decompress, FlushDecompress, Status};
use zstd::stream::raw::{Decoder as ZstdDecoder, InBuffer, Operation, OutBuffer};

use crate::error::ObjectError;
use crate::spec::Compression;

/// The largest piece of decompressed bytes handed on at once.
pub const PIECE: usize = 64 << 10;

/// How many leading bytes decide what an object is (bzip2's stream and block magic together are 10).
const SNIFF_BYTES: usize = 10;

/// A gzip member header longer than this (a file name or comment field that never ends) is refused.
const GZIP_HEADER_MAX: usize = 64 << 10;

/// What an object's first bytes say it is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Magic {
    Gzip,
    Zstd,
    Bzip2,
    Xz,
    Zip,
    Parquet,
    /// No known magic: text, as far as this module can tell.
    Other,
}

impl Magic {
    /// Tells the format from an object's first bytes (up to [`SNIFF_BYTES`]; fewer only at the object's end).
    fn of(head: &[u8]) -> Self {
        const BZIP2_BLOCK: &[u8] = b"\x31\x41\x59\x26\x53\x59";
        const BZIP2_END: &[u8] = b"\x17\x72\x45\x38\x50\x90";
        let skippable_zstd =
            head.len() >= 4 && head[0] & 0xF0 == 0x50 && head[1..4] == [0x2A, 0x4D, 0x18];
        if head.starts_with(b"\x1F\x8B") {
            Self::Gzip
        } else if head.starts_with(b"\x28\xB5\x2F\xFD") || skippable_zstd {
            Self::Zstd
        } else if head.len() >= 10
            && head.starts_with(b"BZh")
            && (b'1'..=b'9').contains(&head[3])
            && (head[4..10] == *BZIP2_BLOCK || head[4..10] == *BZIP2_END)
        {
            Self::Bzip2
        } else if head.starts_with(b"\xFD7zXZ\x00") {
            Self::Xz
        } else if head.starts_with(b"PK\x03\x04") || head.starts_with(b"PK\x05\x06") {
            Self::Zip
        } else if head.starts_with(b"PAR1") {
            Self::Parquet
        } else {
            Self::Other
        }
    }

    /// How a human calls it, after "the object is".
    fn describe(self, head: &[u8]) -> String {
        match self {
            Self::Gzip => "gzip-compressed".to_owned(),
            Self::Zstd => "zstd-compressed".to_owned(),
            Self::Bzip2 => "bzip2-compressed (starts with \"BZh\")".to_owned(),
            Self::Xz => "xz-compressed (starts with FD 37 7A 58 5A 00)".to_owned(),
            Self::Zip => "a zip archive (starts with \"PK\\x03\\x04\")".to_owned(),
            Self::Parquet => "a Parquet file (starts with \"PAR1\")".to_owned(),
            Self::Other if head.is_empty() => "empty".to_owned(),
            Self::Other => {
                let mut text = "not compressed (first bytes".to_owned();
                for byte in head.iter().take(8) {
                    let _ = write!(text, " {byte:02X}");
                }
                text.push(')');
                text
            }
        }
    }

    /// What to do instead, for the formats etl refuses.
    fn advice(self) -> &'static str {
        match self {
            Self::Bzip2 | Self::Xz => "recompress it with gzip or zstd",
            Self::Zip => "extract it and upload the files it holds",
            Self::Parquet => "declare format = \"parquet\" in the spec's [source] table",
            Self::Gzip | Self::Zstd | Self::Other => "",
        }
    }
}

/// The decompression state of one object; see the module header.
pub struct Decompressor {
    mode: Compression,
    /// Compressed bytes taken so far (the offset of the next chunk's first byte).
    offset: u64,
    state: State,
}

enum State {
    /// The first bytes, until there are enough to tell the format (they may span chunks).
    Sniffing(Vec<u8>),
    /// Handed on as they come.
    Plain,
    Gzip(Box<Gzip>),
    Zstd(Box<Zstd>),
}

impl Decompressor {
    /// A decompressor for one object in the spec's `compression` mode (`auto`: told by the first bytes).
    pub fn new(mode: Compression) -> Self {
        let state = match mode {
            Compression::None => State::Plain,
            Compression::Auto | Compression::Gzip | Compression::Zstd => {
                State::Sniffing(Vec::with_capacity(SNIFF_BYTES))
            }
        };
        Self {
            mode,
            offset: 0,
            state,
        }
    }

    /// Takes the object's next `chunk` (`last` once, with its end, the chunk possibly empty) and hands the
    /// decompressed bytes to `out` in pieces of at most [`PIECE`] bytes; an uncompressed chunk is handed on
    /// as it is. An error of `out` stops the push and is returned.
    pub fn push<F>(&mut self, chunk: &[u8], last: bool, out: &mut F) -> Result<(), ObjectError>
    where
        F: FnMut(&[u8]) -> Result<(), ObjectError>,
    {
        let at = self.offset;
        self.offset += chunk.len() as u64;
        let mut rest = chunk;
        if let State::Sniffing(head) = &mut self.state {
            let take = (SNIFF_BYTES - head.len()).min(rest.len());
            let whole_head_here = head.is_empty() && take == SNIFF_BYTES;
            if !whole_head_here {
                head.extend_from_slice(&rest[..take]);
                rest = &rest[take..];
                if head.len() < SNIFF_BYTES && !last {
                    return Ok(());
                }
            }
            let head = std::mem::take(head);
            let magic = Magic::of(if whole_head_here { rest } else { &head });
            self.state = self.choose(magic, if whole_head_here { rest } else { &head })?;
            if !whole_head_here {
                // The bytes held back go first; they started at offset `at - head.len() + take`.
                let head_at = at + take as u64 - head.len() as u64;
                self.feed(&head, head_at, false, out)?;
                return self.feed(rest, at + take as u64, last, out);
            }
        }
        self.feed(rest, at, last, out)
    }

    /// The state for what the first bytes say, or the reason the object is refused.
    fn choose(&self, magic: Magic, head: &[u8]) -> Result<State, ObjectError> {
        let mismatch = |expected: Compression| ObjectError::CompressionMismatch {
            expected: expected.name(),
            found: magic.describe(head),
        };
        match (self.mode, magic) {
            (Compression::Auto | Compression::Gzip, Magic::Gzip) => {
                Ok(State::Gzip(Box::new(Gzip::new())))
            }
            (Compression::Auto | Compression::Zstd, Magic::Zstd) => {
                Ok(State::Zstd(Box::new(Zstd::new()?)))
            }
            (Compression::Auto, Magic::Other) | (Compression::None, _) => Ok(State::Plain),
            (Compression::Auto, refused) => Err(ObjectError::Unreadable {
                found: refused.describe(head),
                advice: refused.advice(),
            }),
            (expected @ (Compression::Gzip | Compression::Zstd), _) => Err(mismatch(expected)),
        }
    }

    fn feed<F>(&mut self, input: &[u8], at: u64, last: bool, out: &mut F) -> Result<(), ObjectError>
    where
        F: FnMut(&[u8]) -> Result<(), ObjectError>,
    {
        match &mut self.state {
            State::Sniffing(_) => unreachable!("sniffing ends before any byte is fed"),
            State::Plain => {
                if input.is_empty() {
                    Ok(())
                } else {
                    out(input)
                }
            }
            State::Gzip(gzip) => gzip.push(input, at, last, out),
            State::Zstd(zstd) => zstd.push(input, at, last, out),
        }
    }
}

/// Decompressed bytes waiting to be handed on, and the one check of what they turned out to be.
struct Pending {
    buf: Vec<u8>,
    filled: usize,
    /// The codec's name until the first piece has been checked for a format inside the compression.
    unchecked: Option<&'static str>,
}

impl Pending {
    fn new(codec: &'static str) -> Self {
        Self {
            buf: vec![0; PIECE],
            filled: 0,
            unchecked: Some(codec),
        }
    }

    fn is_full(&self) -> bool {
        self.filled == self.buf.len()
    }

    /// Hands the bytes on. The first piece is either full or the whole content, so it holds the content's first
    /// bytes: a Parquet file, a zip or a second compression inside is refused as the outer one would be.
    fn flush<F>(&mut self, out: &mut F) -> Result<(), ObjectError>
    where
        F: FnMut(&[u8]) -> Result<(), ObjectError>,
    {
        if self.filled == 0 {
            return Ok(());
        }
        let piece = &self.buf[..self.filled];
        if let Some(codec) = self.unchecked.take() {
            let inner = Magic::of(&piece[..piece.len().min(SNIFF_BYTES)]);
            if inner != Magic::Other {
                let advice = match inner {
                    Magic::Parquet => {
                        "upload the Parquet file as it is (its pages are compressed already)"
                    }
                    Magic::Gzip | Magic::Zstd => "it is compressed twice: decompress it once",
                    other => other.advice(),
                };
                return Err(ObjectError::Unreadable {
                    found: format!("{}, inside {codec}", inner.describe(piece)),
                    advice,
                });
            }
        }
        out(piece)?;
        self.filled = 0;
        Ok(())
    }
}

/// Where a gzip stream is: in a member's header, its deflate data, its trailer, or between members.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    Header,
    Deflate,
    Trailer,
    Between,
}

/// A gzip stream of one or more members (RFC 1952), inflated with `flate2`'s raw deflate decoder; headers and
/// trailers are read here, so member boundaries and their checks are explicit.
struct Gzip {
    phase: Phase,
    inflate: Decompress,
    crc: Crc,
    /// Members begun (1 for the first).
    member: u64,
    /// The compressed offset where the current member began.
    member_at: u64,
    /// Header or trailer bytes that span chunks.
    held: Vec<u8>,
    pending: Pending,
}

impl Gzip {
    fn new() -> Self {
        Self {
            phase: Phase::Between,
            inflate: Decompress::new(false),
            crc: Crc::new(),
            member: 0,
            member_at: 0,
            held: Vec::new(),
            pending: Pending::new("gzip"),
        }
    }

    fn error(problem: impl Into<String>, offset: u64) -> ObjectError {
        ObjectError::Decompress {
            codec: "gzip",
            problem: problem.into(),
            offset,
        }
    }

    fn push<F>(
        &mut self,
        mut input: &[u8],
        mut at: u64,
        last: bool,
        out: &mut F,
    ) -> Result<(), ObjectError>
    where
        F: FnMut(&[u8]) -> Result<(), ObjectError>,
    {
        while !input.is_empty() {
            let used = match self.phase {
                Phase::Between => {
                    self.member += 1;
                    self.member_at = at;
                    self.phase = Phase::Header;
                    0
                }
                Phase::Header => self.header(input)?,
                Phase::Deflate => self.inflate(input, at, out)?,
                Phase::Trailer => self.trailer(input, at)?,
            };
            input = &input[used..];
            at += used as u64;
        }
        if last {
            if self.phase == Phase::Deflate {
                self.drain(at, out)?;
            }
            if self.phase != Phase::Between {
                let what = match self.phase {
                    Phase::Header => "header",
                    Phase::Deflate => "deflate data",
                    Phase::Trailer | Phase::Between => "trailer",
                };
                return Err(Self::error(
                    format!("stream truncated in the {what} of member {}", self.member),
                    at,
                ));
            }
            self.pending.flush(out)?;
        }
        Ok(())
    }

    /// Reads the current member's header; returns the input bytes used.
    fn header(&mut self, input: &[u8]) -> Result<usize, ObjectError> {
        let before = self.held.len();
        let parsed = if before == 0 {
            parse_header(input)
        } else {
            let take = input.len().min(GZIP_HEADER_MAX.saturating_sub(before));
            self.held.extend_from_slice(&input[..take]);
            parse_header(&self.held)
        };
        let problem = match parsed {
            Ok(Some(len)) => {
                self.held.clear();
                self.phase = Phase::Deflate;
                self.inflate.reset(false);
                self.crc.reset();
                return Ok(len - before);
            }
            Ok(None) if before + input.len() < GZIP_HEADER_MAX => {
                if before == 0 {
                    self.held.extend_from_slice(input);
                }
                return Ok(input.len());
            }
            Ok(None) => format!(
                "header of member {} is over {GZIP_HEADER_MAX} bytes",
                self.member
            ),
            Err(problem) if self.member > 1 => {
                format!("garbage after member {} ({problem})", self.member - 1)
            }
            Err(problem) => format!("{problem} in the header of member 1"),
        };
        Err(Self::error(problem, self.member_at))
    }

    /// Inflates from `input`; returns the input bytes used.
    fn inflate<F>(&mut self, input: &[u8], at: u64, out: &mut F) -> Result<usize, ObjectError>
    where
        F: FnMut(&[u8]) -> Result<(), ObjectError>,
    {
        if self.pending.is_full() {
            self.pending.flush(out)?;
        }
        let (used, wrote, status) = self.step(input, at)?;
        if used == 0 && wrote == 0 && status != Status::StreamEnd {
            // With input and room for output, inflate always moves; not moving would loop forever.
            return Err(Self::error("corrupt deflate stream (no progress)", at));
        }
        Ok(used)
    }

    /// At the object's end: what the inflater still holds, when the output was full as the input ran out.
    fn drain<F>(&mut self, at: u64, out: &mut F) -> Result<(), ObjectError>
    where
        F: FnMut(&[u8]) -> Result<(), ObjectError>,
    {
        while self.phase == Phase::Deflate {
            if self.pending.is_full() {
                self.pending.flush(out)?;
            }
            let (_, wrote, status) = self.step(&[], at)?;
            if wrote == 0 && status != Status::StreamEnd {
                break;
            }
        }
        Ok(())
    }

    /// One inflate call into the pending buffer; returns input used, output written and the status.
    fn step(&mut self, input: &[u8], at: u64) -> Result<(usize, usize, Status), ObjectError> {
        let (in_before, out_before) = (self.inflate.total_in(), self.inflate.total_out());
        let room = &mut self.pending.buf[self.pending.filled..];
        let result = self.inflate.decompress(input, room, FlushDecompress::None);
        let used = usize::try_from(self.inflate.total_in() - in_before).unwrap_or(usize::MAX);
        let wrote = usize::try_from(self.inflate.total_out() - out_before).unwrap_or(usize::MAX);
        let status = result.map_err(|e| {
            let reason = e.message().unwrap_or("invalid data");
            Self::error(
                format!("corrupt deflate stream ({reason})"),
                at + used as u64,
            )
        })?;
        let start = self.pending.filled;
        self.crc.update(&self.pending.buf[start..start + wrote]);
        self.pending.filled += wrote;
        if status == Status::StreamEnd {
            self.phase = Phase::Trailer;
        }
        Ok((used, wrote, status))
    }

    /// Reads the current member's 8-byte trailer and checks it; returns the input bytes used.
    fn trailer(&mut self, input: &[u8], at: u64) -> Result<usize, ObjectError> {
        let take = (8 - self.held.len()).min(input.len());
        self.held.extend_from_slice(&input[..take]);
        if self.held.len() < 8 {
            return Ok(take);
        }
        let word = |i: usize| {
            u32::from_le_bytes([
                self.held[i],
                self.held[i + 1],
                self.held[i + 2],
                self.held[i + 3],
            ])
        };
        let (crc, size) = (word(0), word(4));
        let trailer_at = at + take as u64 - 8;
        if crc != self.crc.sum() {
            return Err(Self::error(
                format!(
                    "CRC-32 mismatch in member {} (trailer {crc:08x}, data {:08x})",
                    self.member,
                    self.crc.sum()
                ),
                trailer_at,
            ));
        }
        if size != self.crc.amount() {
            return Err(Self::error(
                format!(
                    "length mismatch in member {} (trailer {size}, data {} mod 2^32)",
                    self.member,
                    self.crc.amount()
                ),
                trailer_at + 4,
            ));
        }
        self.held.clear();
        self.phase = Phase::Between;
        Ok(take)
    }
}

/// The length of the gzip member header at the start of `bytes`, `None` when more bytes are needed, or what is
/// wrong with it.
fn parse_header(bytes: &[u8]) -> Result<Option<usize>, String> {
    const FHCRC: u8 = 0x02;
    const FEXTRA: u8 = 0x04;
    const FNAME: u8 = 0x08;
    const FCOMMENT: u8 = 0x10;
    let magic = [0x1F, 0x8B];
    let seen = bytes.len().min(2);
    if bytes[..seen] != magic[..seen] {
        return Err("not a gzip header".to_owned());
    }
    if bytes.len() < 10 {
        return Ok(None);
    }
    if bytes[2] != 8 {
        return Err(format!("compression method {} is not deflate", bytes[2]));
    }
    let flags = bytes[3];
    if flags & 0xE0 != 0 {
        return Err(format!("reserved flag bits set ({flags:#04x})"));
    }
    let mut len = 10;
    if flags & FEXTRA != 0 {
        let Some(xlen) = bytes.get(len..len + 2) else {
            return Ok(None);
        };
        len += 2 + usize::from(u16::from_le_bytes([xlen[0], xlen[1]]));
    }
    for flag in [FNAME, FCOMMENT] {
        if flags & flag != 0 {
            let Some(field) = bytes.get(len..) else {
                return Ok(None);
            };
            let Some(end) = memchr::memchr(0, field) else {
                return Ok(None);
            };
            len += end + 1;
        }
    }
    if flags & FHCRC != 0 {
        let Some(stored) = bytes.get(len..len + 2) else {
            return Ok(None);
        };
        let mut crc = Crc::new();
        crc.update(&bytes[..len]);
        let stored = u16::from_le_bytes([stored[0], stored[1]]);
        // The header CRC is the low 16 bits of the header's CRC-32.
        if u32::from(stored) != crc.sum() & 0xFFFF {
            return Err("header CRC mismatch".to_owned());
        }
        len += 2;
    }
    Ok((bytes.len() >= len).then_some(len))
}

/// A zstd stream of one or more frames; `libzstd` reads frame after frame and checks each frame's content
/// checksum when it has one.
struct Zstd {
    decoder: ZstdDecoder<'static>,
    /// `libzstd`'s last hint: 0 when a frame has just ended and is fully handed out.
    hint: usize,
    pending: Pending,
}

impl Zstd {
    fn new() -> Result<Self, ObjectError> {
        let decoder = ZstdDecoder::new().map_err(|e| Self::error(&e, 0))?;
        Ok(Self {
            decoder,
            hint: 1,
            pending: Pending::new("zstd"),
        })
    }

    fn error(error: &std::io::Error, offset: u64) -> ObjectError {
        ObjectError::Decompress {
            codec: "zstd",
            problem: error.to_string().to_lowercase(),
            offset,
        }
    }

    fn push<F>(
        &mut self,
        mut input: &[u8],
        mut at: u64,
        last: bool,
        out: &mut F,
    ) -> Result<(), ObjectError>
    where
        F: FnMut(&[u8]) -> Result<(), ObjectError>,
    {
        while !input.is_empty() {
            let used = self.step(input, at, out)?;
            input = &input[used..];
            at += used as u64;
        }
        if last {
            // What the decoder still holds, when the output was full as the input ran out.
            while self.hint != 0 {
                let wrote_before = self.pending.filled;
                self.step(&[], at, out)?;
                if self.pending.filled == wrote_before && !self.pending.is_full() {
                    break;
                }
            }
            if self.hint != 0 {
                return Err(ObjectError::Decompress {
                    codec: "zstd",
                    problem: "stream truncated in a frame".to_owned(),
                    offset: at,
                });
            }
            self.pending.flush(out)?;
        }
        Ok(())
    }

    /// One decoder call; returns the input bytes used.
    fn step<F>(&mut self, input: &[u8], at: u64, out: &mut F) -> Result<usize, ObjectError>
    where
        F: FnMut(&[u8]) -> Result<(), ObjectError>,
    {
        if self.pending.is_full() {
            self.pending.flush(out)?;
        }
        let mut source = InBuffer::around(input);
        let mut target = OutBuffer::around_pos(&mut self.pending.buf[..], self.pending.filled);
        let result = self.decoder.run(&mut source, &mut target);
        let (used, filled) = (source.pos(), target.pos());
        self.hint = result.map_err(|e| Self::error(&e, at + used as u64))?;
        self.pending.filled = filled;
        Ok(used)
    }
}

#[cfg(test)]
mod tests {
    use std::io::Write as _;
    use std::process::{Command, Stdio};

    use flate2::GzBuilder;
    use flate2::write::GzEncoder;

    use crate::error::ObjectError;
    use crate::source::compress::{Compression, Decompressor, PIECE};

    /// Pushes `chunks` (then an empty last push); returns the output, or the error.
    fn run(mode: Compression, chunks: &[&[u8]]) -> Result<Vec<u8>, ObjectError> {
        let mut d = Decompressor::new(mode);
        let mut got = Vec::new();
        let mut collect = |piece: &[u8]| {
            assert!(
                !piece.is_empty() && piece.len() <= PIECE,
                "piece of {}",
                piece.len()
            );
            got.extend_from_slice(piece);
            Ok(())
        };
        for chunk in chunks {
            d.push(chunk, false, &mut collect)?;
        }
        d.push(&[], true, &mut collect)?;
        Ok(got)
    }

    /// The splits of `bytes` to try: at every position for small inputs (at ~100 spread positions for large),
    /// one-byte chunks for small inputs, and 4 KiB chunks.
    fn splits(bytes: &[u8]) -> Vec<Vec<&[u8]>> {
        let step = (bytes.len() / 100).max(1);
        let mut splits: Vec<Vec<&[u8]>> = (0..=bytes.len())
            .step_by(step)
            .chain([bytes.len()])
            .map(|at| vec![&bytes[..at], &bytes[at..]])
            .collect();
        if bytes.len() <= 4096 {
            splits.push(bytes.chunks(1).collect());
        }
        splits.push(bytes.chunks(4096).collect());
        splits
    }

    /// Decompresses `bytes` split every way, checking each gives `expected`.
    #[track_caller]
    fn check(mode: Compression, bytes: &[u8], expected: &[u8]) {
        for chunks in splits(bytes) {
            let got =
                run(mode, &chunks).unwrap_or_else(|e| panic!("{e} ({} chunks)", chunks.len()));
            assert!(got == expected, "output differs ({} chunks)", chunks.len());
        }
    }

    /// Decompresses `bytes` split every way, checking each fails with a message containing `expected`.
    #[track_caller]
    fn check_fails(mode: Compression, bytes: &[u8], expected: &str) {
        for chunks in splits(bytes) {
            match run(mode, &chunks) {
                Err(e) => {
                    let message = e.to_string();
                    assert!(message.contains(expected), "{message:?} lacks {expected:?}");
                    assert!(!message.contains('\n'));
                }
                Ok(_) => panic!("no error ({} chunks), expected {expected:?}", chunks.len()),
            }
        }
    }

    fn gzip(data: &[u8]) -> Vec<u8> {
        let mut e = GzEncoder::new(Vec::new(), flate2::Compression::default());
        e.write_all(data).unwrap();
        e.finish().unwrap()
    }

    fn zstd(data: &[u8], checksum: bool) -> Vec<u8> {
        let mut e = zstd::stream::write::Encoder::new(Vec::new(), 3).unwrap();
        e.include_checksum(checksum).unwrap();
        e.write_all(data).unwrap();
        e.finish().unwrap()
    }

    /// CSV-like text that compresses as real data does, `rows` lines long.
    fn text(rows: usize) -> Vec<u8> {
        let mut t = b"id,name,score\n".to_vec();
        for i in 0..rows {
            let _ = writeln!(t, "{i},\"person {}\",{}", i * 7919 % 1000, i % 101);
        }
        t
    }

    /// The output of an installed CLI (`gzip`, `zstd`) fed `input`, or `None` when it is not installed.
    fn cli(program: &str, args: &[&str], input: &[u8]) -> Option<Vec<u8>> {
        let mut child = Command::new(program)
            .args(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .ok()?;
        let mut stdin = child.stdin.take().unwrap();
        let input = input.to_vec();
        let writer = std::thread::spawn(move || stdin.write_all(&input));
        let out = child.wait_with_output().unwrap();
        writer.join().unwrap().unwrap();
        assert!(out.status.success(), "{program} {args:?} failed");
        Some(out.stdout)
    }

    #[test]
    fn gzip_single_and_multi_member_with_empty_members() {
        let (a, b) = (text(50), text(3));
        check(Compression::Auto, &gzip(&a), &a);
        check(Compression::Gzip, &gzip(&a), &a);
        // `cat a.gz b.gz`, with an empty member first, between and last.
        let multi = [gzip(b""), gzip(&a), gzip(b""), gzip(&b), gzip(b"")].concat();
        check(Compression::Auto, &multi, &[a.clone(), b.clone()].concat());
        check(Compression::Auto, &gzip(b""), b"");
        // Header fields: name, comment, extra field, header CRC.
        let mut e = GzBuilder::new()
            .filename("a.csv")
            .comment("made by a test")
            .extra(vec![1, 2, 3, 4])
            .mtime(1_700_000_000)
            .write(Vec::new(), flate2::Compression::best());
        e.write_all(&b).unwrap();
        let mut fields = e.finish().unwrap();
        // Set FHCRC and insert the header CRC (low 16 bits of the header's CRC-32) before the deflate data.
        let header_len = 10 + 2 + 4 + "a.csv\0".len() + "made by a test\0".len();
        fields[3] |= 0x02;
        let mut crc = flate2::Crc::new();
        crc.update(&fields[..header_len]);
        let low = u16::try_from(crc.sum() & 0xFFFF).unwrap().to_le_bytes();
        fields.splice(header_len..header_len, low);
        check(
            Compression::Auto,
            &[fields.clone(), gzip(&a)].concat(),
            &[b.clone(), a.clone()].concat(),
        );
        fields[header_len] ^= 1;
        check_fails(
            Compression::Auto,
            &fields,
            "gzip: header CRC mismatch in the header of member 1 at compressed byte 0",
        );
    }

    #[test]
    fn large_outputs_come_in_bounded_pieces() {
        let big = text(60_000);
        assert!(big.len() > 10 * PIECE);
        let compressed = [gzip(&big), gzip(&big)].concat();
        check(
            Compression::Auto,
            &compressed,
            &[big.clone(), big.clone()].concat(),
        );
        let compressed = [zstd(&big, true), zstd(&big, false)].concat();
        check(Compression::Auto, &compressed, &[big.clone(), big].concat());
    }

    #[test]
    fn the_gzip_and_zstd_command_line_tools_are_read() {
        let data = text(5000);
        // gzip -c names no file from stdin; pigz-style concatenation through two runs.
        if let Some(one) = cli("gzip", &["-c", "-9"], &data) {
            let two = cli("gzip", &["-c", "-1"], &data).unwrap();
            check(
                Compression::Auto,
                &[one, two].concat(),
                &[data.clone(), data.clone()].concat(),
            );
        }
        if let Some(one) = cli("zstd", &["-c", "-q", "-19"], &data) {
            let two = cli("zstd", &["-c", "-q", "--no-check"], &data).unwrap();
            check(
                Compression::Auto,
                &[one, two].concat(),
                &[data.clone(), data].concat(),
            );
        }
    }

    #[test]
    fn zstd_frames_skippable_frames_and_checksums() {
        let (a, b) = (text(40), text(2));
        check(Compression::Auto, &zstd(&a, true), &a);
        check(Compression::Zstd, &zstd(&a, false), &a);
        check(Compression::Auto, &zstd(b"", true), b"");
        // A skippable frame (magic 0x184D2A50, 4-byte length, payload), then two frames.
        let mut skippable = vec![0x50, 0x2A, 0x4D, 0x18, 3, 0, 0, 0, 9, 9, 9];
        skippable.extend_from_slice(&zstd(&a, true));
        skippable.extend_from_slice(&zstd(&b, false));
        check(Compression::Auto, &skippable, &[a.clone(), b].concat());
    }

    #[test]
    fn corrupt_truncated_and_trailing_garbage_fail_naming_the_offset() {
        let a = text(200);
        let good = gzip(&a);
        let n = good.len();
        check_fails(
            Compression::Auto,
            &good[..n - 3],
            &format!(
                "gzip: stream truncated in the trailer of member 1 at compressed byte {}",
                n - 3
            ),
        );
        check_fails(
            Compression::Auto,
            &good[..n / 2],
            &format!(
                "gzip: stream truncated in the deflate data of member 1 at compressed byte {}",
                n / 2
            ),
        );
        check_fails(
            Compression::Auto,
            &good[..5],
            "gzip: stream truncated in the header of member 1 at compressed byte 5",
        );
        let garbage = [good.clone(), b"junk!".to_vec()].concat();
        check_fails(
            Compression::Auto,
            &garbage,
            &format!("gzip: garbage after member 1 (not a gzip header) at compressed byte {n}"),
        );
        let mut bad_crc = good.clone();
        bad_crc[n - 8] ^= 0xFF;
        check_fails(
            Compression::Auto,
            &bad_crc,
            "CRC-32 mismatch in member 1 (trailer",
        );
        check_fails(
            Compression::Auto,
            &bad_crc,
            &format!("at compressed byte {}", n - 8),
        );
        let mut bad_len = good.clone();
        bad_len[n - 1] ^= 0xFF;
        check_fails(
            Compression::Auto,
            &bad_len,
            &format!(
                "length mismatch in member 1 (trailer {}",
                u32::from_le_bytes(bad_len[n - 4..].try_into().unwrap())
            ),
        );
        // A stored block's length check (LEN vs NLEN) makes a reliable corruption: deflate level 0.
        let mut stored = GzEncoder::new(Vec::new(), flate2::Compression::none());
        stored.write_all(b"id\n1\n").unwrap();
        let mut stored = stored.finish().unwrap();
        stored[12] ^= 0xFF;
        check_fails(Compression::Auto, &stored, "gzip: corrupt deflate stream (");
        check_fails(
            Compression::Auto,
            &[0x1F, 0x8B, 7, 0, 0, 0, 0, 0, 0, 0, 1],
            "compression method 7 is not deflate in the header of member 1 at compressed byte 0",
        );

        let z = zstd(&a, true);
        let m = z.len();
        check_fails(
            Compression::Auto,
            &z[..m - 1],
            &format!(
                "zstd: stream truncated in a frame at compressed byte {}",
                m - 1
            ),
        );
        let mut bad_checksum = z.clone();
        bad_checksum[m - 1] ^= 0xFF;
        check_fails(
            Compression::Auto,
            &bad_checksum,
            "zstd: restored data doesn't match checksum at compressed byte",
        );
        check_fails(
            Compression::Auto,
            &[z.clone(), b"junk!".to_vec()].concat(),
            "zstd: unknown frame descriptor at compressed byte",
        );
    }

    #[test]
    fn other_formats_are_refused_naming_what_they_are() {
        let bzip2 = b"BZh91AY&SY\x01\x02\x03\x04";
        let xz = b"\xFD7zXZ\x00\x00\x04\xE6\xD6\xB4\x46";
        check_fails(
            Compression::Auto,
            bzip2,
            "the object is bzip2-compressed (starts with \"BZh\"), which etl does not read: recompress it with gzip or zstd",
        );
        check_fails(
            Compression::Auto,
            xz,
            "the object is xz-compressed (starts with FD 37 7A 58 5A 00)",
        );
        check_fails(
            Compression::Auto,
            b"PK\x03\x04\x14\x00\x00\x00\x08\x00",
            "the object is a zip archive",
        );
        check_fails(
            Compression::Auto,
            b"PAR1\x15\x04\x15\x10\x15\x14",
            "a Parquet file (starts with \"PAR1\"), which etl does not read: declare format = \"parquet\"",
        );
        check_fails(
            Compression::Auto,
            &gzip(b"PAR1\x15\x04\x15\x10\x15\x14 more"),
            "the object is a Parquet file (starts with \"PAR1\"), inside gzip",
        );
        check_fails(
            Compression::Auto,
            &zstd(&gzip(b"id\n"), true),
            "the object is gzip-compressed, inside zstd, which etl does not read: it is compressed twice",
        );
        check_fails(
            Compression::Gzip,
            b"id,name\n1,a\n",
            "the spec says compression = \"gzip\", but the object is not compressed (first bytes 69 64 2C 6E 61 6D 65 0A)",
        );
        check_fails(
            Compression::Zstd,
            &gzip(b"x"),
            "compression = \"zstd\", but the object is gzip-compressed",
        );
        check_fails(Compression::Gzip, b"", "but the object is empty");
        // Text that merely starts like a magic is text.
        check(
            Compression::Auto,
            b"BZh9 is a column\n",
            b"BZh9 is a column\n",
        );
        check(Compression::Auto, b"PK,id\n", b"PK,id\n");
    }

    #[test]
    fn uncompressed_input_is_handed_on_uncopied() {
        let data = text(20);
        for mode in [Compression::Auto, Compression::None] {
            let mut d = Decompressor::new(mode);
            let mut pieces: Vec<(*const u8, usize)> = Vec::new();
            let (first, second) = data.split_at(100);
            let mut record = |piece: &[u8]| {
                pieces.push((piece.as_ptr(), piece.len()));
                Ok(())
            };
            d.push(first, false, &mut record).unwrap();
            d.push(second, false, &mut record).unwrap();
            d.push(&[], true, &mut record).unwrap();
            assert_eq!(
                pieces,
                [
                    (first.as_ptr(), first.len()),
                    (second.as_ptr(), second.len())
                ]
            );
        }
        // A head spanning chunks is the one part held back (at most 10 bytes); the rest is still uncopied.
        let mut d = Decompressor::new(Compression::Auto);
        let mut got = Vec::new();
        let mut pointers = Vec::new();
        let mut record = |piece: &[u8]| {
            got.extend_from_slice(piece);
            pointers.push(piece.as_ptr());
            Ok(())
        };
        d.push(&data[..3], false, &mut record).unwrap();
        d.push(&data[3..], true, &mut record).unwrap();
        assert_eq!(got, data);
        assert_eq!(pointers[1], data[10..].as_ptr());
        // `none` never looks: a gzip object is read as it is.
        let compressed = gzip(b"x");
        check(Compression::None, &compressed, &compressed);
    }

    #[test]
    fn an_error_of_the_consumer_stops_the_push() {
        let mut d = Decompressor::new(Compression::Auto);
        let result = d.push(&gzip(&text(10)), true, &mut |_| Err(ObjectError::Empty));
        assert!(matches!(result, Err(ObjectError::Empty)));
    }
}
