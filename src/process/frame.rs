//! The wire protocol between the pool and one worker: length-prefixed frames on the worker's
//! own socket.
//!
//! ```text
//! frame   = len:u32le body                       (len = body length, at most max_frame_len)
//! body    = job_id:u64le kind:u8 rest
//! parent -> worker
//!   RUN        rest = name:(u64le len, UTF-8) count:u32le (item_len:u32le item_bytes)*
//! worker -> parent
//!   HELLO      rest = version:u32le pid:u32le                 (job_id 0, once, at start)
//!   ITEMS      rest = count:u32le (tag:u8 item_len:u32le item_bytes)*
//!                     tag OK: the encoded output; PANICKED / BAD_INPUT: a UTF-8 message
//!   UNKNOWN    rest = (empty): no job of that name
//! ```
//!
//! Every request is a batch: `submit` sends one item, `map` sends a chunk. Each item carries
//! its own length, so one undecodable input or output spoils only that item.
//!
//! Parsing validates everything before trusting it: a length prefix over the maximum is
//! rejected before any allocation, counts and item lengths must add up exactly, and no
//! input makes a parser panic (unit tests below feed truncated frames, 4 GiB prefixes and
//! garbage).

use std::io::{self, Read};

use super::codec::{Encode, Reader};

/// Bumped whenever the wire format changes; a worker built against another version is
/// refused at its HELLO.
pub(crate) const PROTOCOL_VERSION: u32 = 1;

/// The default largest frame body: 64 MiB.
pub const DEFAULT_MAX_FRAME_LEN: usize = 64 << 20;

pub(crate) const KIND_RUN: u8 = 1;
pub(crate) const KIND_ITEMS: u8 = 2;
pub(crate) const KIND_UNKNOWN: u8 = 3;
pub(crate) const KIND_HELLO: u8 = 4;

pub(crate) const TAG_OK: u8 = 0;
pub(crate) const TAG_PANICKED: u8 = 1;
pub(crate) const TAG_BAD_INPUT: u8 = 2;

const PREFIX_LEN: usize = 4;
/// job id + kind
const BODY_HEADER_LEN: usize = 9;

/// Builds one RUN frame, item by item.
#[derive(Debug)]
pub(crate) struct RequestBuilder {
    frame: Vec<u8>,
    count_at: usize,
    count: u32,
    too_big: bool,
}

impl RequestBuilder {
    pub(crate) fn new(job_id: u64, name: &str) -> RequestBuilder {
        let mut frame = Vec::with_capacity(64);
        frame.extend_from_slice(&[0; PREFIX_LEN]);
        frame.extend_from_slice(&job_id.to_le_bytes());
        frame.push(KIND_RUN);
        name.encode(&mut frame);
        let count_at = frame.len();
        frame.extend_from_slice(&0u32.to_le_bytes());
        RequestBuilder {
            frame,
            count_at,
            count: 0,
            too_big: false,
        }
    }

    pub(crate) fn push(&mut self, input: &impl Encode) {
        let len_at = self.frame.len();
        self.frame.extend_from_slice(&[0; 4]);
        input.encode(&mut self.frame);
        let len = self.frame.len() - len_at - 4;
        match u32::try_from(len) {
            Ok(len) => self.frame[len_at..len_at + 4].copy_from_slice(&len.to_le_bytes()),
            Err(_) => self.too_big = true,
        }
        self.count += 1;
    }

    pub(crate) fn count(&self) -> u32 {
        self.count
    }

    /// The finished frame, or its body length if that exceeds `max_frame_len`.
    pub(crate) fn finish(mut self, max_frame_len: usize) -> Result<Vec<u8>, usize> {
        let body_len = self.frame.len() - PREFIX_LEN;
        if self.too_big || body_len > max_frame_len || body_len > u32::MAX as usize {
            return Err(body_len);
        }
        self.frame[..PREFIX_LEN].copy_from_slice(&(body_len as u32).to_le_bytes());
        let count_at = self.count_at;
        self.frame[count_at..count_at + 4].copy_from_slice(&self.count.to_le_bytes());
        Ok(self.frame)
    }
}

/// A parsed RUN body: the items are validated slices of it.
#[derive(Debug)]
pub(crate) struct Request<'a> {
    pub(crate) job_id: u64,
    pub(crate) name: &'a str,
    pub(crate) count: u32,
    items: &'a [u8],
}

impl<'a> Request<'a> {
    /// Each item's bytes, in order.
    pub(crate) fn items(&self) -> impl Iterator<Item = &'a [u8]> {
        let mut rest = self.items;
        (0..self.count).map_while(move |_| {
            let (len, tail) = split_u32(rest)?;
            let (item, tail) = tail.split_at_checked(len as usize)?;
            rest = tail;
            Some(item)
        })
    }
}

fn split_u32(bytes: &[u8]) -> Option<(u32, &[u8])> {
    let (head, tail) = bytes.split_at_checked(4)?;
    Some((u32::from_le_bytes(head.try_into().ok()?), tail))
}

fn split_header(body: &[u8]) -> Result<(u64, u8, &[u8]), String> {
    let Some((head, rest)) = body.split_at_checked(BODY_HEADER_LEN) else {
        return Err(format!("frame of {} bytes is too short", body.len()));
    };
    let mut id = [0u8; 8];
    id.copy_from_slice(&head[..8]);
    Ok((u64::from_le_bytes(id), head[8], rest))
}

/// Parses a RUN body (worker side).
pub(crate) fn parse_request(body: &[u8]) -> Result<Request<'_>, String> {
    let (job_id, kind, rest) = split_header(body)?;
    if kind != KIND_RUN {
        return Err(format!("expected a RUN frame, got kind {kind}"));
    }
    let mut reader = Reader::new(rest);
    let name_len = reader.take_count(1).map_err(|e| format!("job name: {e}"))?;
    let name = reader
        .take(name_len)
        .map_err(|e| format!("job name: {e}"))?;
    let name = std::str::from_utf8(name).map_err(|e| format!("job name: {e}"))?;
    let count = u32::from_le_bytes(reader.take_array().map_err(|e| format!("count: {e}"))?);
    let items = reader.take(reader.remaining()).unwrap_or_default();
    // Walk the items once so `Request::items` can trust the lengths.
    let mut rest = items;
    for index in 0..count {
        let Some((len, tail)) = split_u32(rest) else {
            return Err(format!("item {index} of {count}: length missing"));
        };
        let Some((_, tail)) = tail.split_at_checked(len as usize) else {
            return Err(format!(
                "item {index} of {count}: {len} bytes announced, fewer sent"
            ));
        };
        rest = tail;
    }
    if !rest.is_empty() {
        return Err(format!("{} bytes after the last item", rest.len()));
    }
    Ok(Request {
        job_id,
        name,
        count,
        items,
    })
}

/// Builds one ITEMS reply (worker side), item by item, writing outputs in place.
#[derive(Debug)]
pub(crate) struct ReplyBuilder {
    frame: Vec<u8>,
    count: u32,
}

impl ReplyBuilder {
    pub(crate) fn new(job_id: u64, kind: u8) -> ReplyBuilder {
        let mut frame = Vec::with_capacity(64);
        frame.extend_from_slice(&[0; PREFIX_LEN]);
        frame.extend_from_slice(&job_id.to_le_bytes());
        frame.push(kind);
        if kind == KIND_ITEMS {
            frame.extend_from_slice(&0u32.to_le_bytes());
        }
        ReplyBuilder { frame, count: 0 }
    }

    /// Appends an item: `write` appends the payload and says which tag it earned.
    pub(crate) fn push_item(&mut self, write: impl FnOnce(&mut Vec<u8>) -> u8) {
        let head_at = self.frame.len();
        self.frame.extend_from_slice(&[0; 5]);
        let tag = write(&mut self.frame);
        let len = (self.frame.len() - head_at - 5) as u32;
        self.frame[head_at] = tag;
        self.frame[head_at + 1..head_at + 5].copy_from_slice(&len.to_le_bytes());
        self.count += 1;
    }

    /// The frame bytes (prefix included).
    pub(crate) fn finish(mut self) -> Vec<u8> {
        let body_len = (self.frame.len() - PREFIX_LEN) as u32;
        self.frame[..PREFIX_LEN].copy_from_slice(&body_len.to_le_bytes());
        if self.frame[PREFIX_LEN + 8] == KIND_ITEMS {
            let at = PREFIX_LEN + BODY_HEADER_LEN;
            self.frame[at..at + 4].copy_from_slice(&self.count.to_le_bytes());
        }
        self.frame
    }
}

/// The HELLO frame a worker sends first.
pub(crate) fn hello_frame(pid: u32) -> Vec<u8> {
    let mut builder = ReplyBuilder::new(0, KIND_HELLO);
    builder
        .frame
        .extend_from_slice(&PROTOCOL_VERSION.to_le_bytes());
    builder.frame.extend_from_slice(&pid.to_le_bytes());
    builder.finish()
}

/// A reply frame as the parent sees it, validated.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Reply {
    Hello { version: u32, pid: u32 },
    Items { job_id: u64, count: u32 },
    UnknownJob { job_id: u64 },
}

/// Parses and fully validates a reply body (parent side).
pub(crate) fn parse_reply(body: &[u8]) -> Result<Reply, String> {
    let (job_id, kind, rest) = split_header(body)?;
    match kind {
        KIND_HELLO => {
            let mut reader = Reader::new(rest);
            let version = u32::from_le_bytes(reader.take_array().map_err(|e| e.to_string())?);
            let pid = u32::from_le_bytes(reader.take_array().map_err(|e| e.to_string())?);
            reader.finish().map_err(|e| format!("HELLO: {e}"))?;
            Ok(Reply::Hello { version, pid })
        }
        KIND_UNKNOWN if rest.is_empty() => Ok(Reply::UnknownJob { job_id }),
        KIND_UNKNOWN => Err("UNKNOWN frame with a payload".to_owned()),
        KIND_ITEMS => {
            let Some((count, mut items)) = split_u32(rest) else {
                return Err("ITEMS frame without a count".to_owned());
            };
            for index in 0..count {
                let Some((&tag, tail)) = items.split_first() else {
                    return Err(format!("item {index} of {count} missing"));
                };
                if !matches!(tag, TAG_OK | TAG_PANICKED | TAG_BAD_INPUT) {
                    return Err(format!("item {index}: unknown tag {tag}"));
                }
                let Some((len, tail)) = split_u32(tail) else {
                    return Err(format!("item {index}: length missing"));
                };
                let Some((_, tail)) = tail.split_at_checked(len as usize) else {
                    return Err(format!("item {index}: {len} bytes announced, fewer sent"));
                };
                items = tail;
            }
            if !items.is_empty() {
                return Err(format!("{} bytes after the last item", items.len()));
            }
            Ok(Reply::Items { job_id, count })
        }
        other => Err(format!("unknown frame kind {other}")),
    }
}

/// The items of an ITEMS body that [`parse_reply`] accepted: `(tag, payload)` pairs.
pub(crate) fn reply_items(body: &[u8]) -> impl Iterator<Item = (u8, &[u8])> {
    let mut rest = body.get(BODY_HEADER_LEN + 4..).unwrap_or_default();
    std::iter::from_fn(move || {
        let (&tag, tail) = rest.split_first()?;
        let (len, tail) = split_u32(tail)?;
        let (payload, tail) = tail.split_at_checked(len as usize)?;
        rest = tail;
        Some((tag, payload))
    })
}

/// Reads length-prefixed frames from a non-blocking stream as bytes arrive (parent side).
///
/// The buffer grows only for frames whose announced length passed the maximum check, so a
/// bogus prefix costs nothing.
#[derive(Debug, Default)]
pub(crate) struct FrameReader {
    /// Zeroed scratch space; `filled` bytes of it are data.
    buf: Vec<u8>,
    filled: usize,
}

/// How much room a read asks for at least.
const READ_CHUNK: usize = 16 << 10;

impl FrameReader {
    /// Reads once from `source` into the buffer. `Ok(0)` is end-of-file.
    pub(crate) fn read_from(&mut self, source: &mut impl Read) -> io::Result<usize> {
        if self.buf.len() - self.filled < READ_CHUNK {
            self.buf.resize(self.filled + READ_CHUNK, 0);
        }
        let n = source.read(&mut self.buf[self.filled..])?;
        self.filled += n;
        Ok(n)
    }

    /// Takes the next complete frame body, if one has arrived.
    pub(crate) fn next_frame(&mut self, max_frame_len: usize) -> Result<Option<Vec<u8>>, String> {
        let Some(prefix) = self.buf[..self.filled].first_chunk::<PREFIX_LEN>() else {
            return Ok(None);
        };
        let len = u32::from_le_bytes(*prefix) as usize;
        if len > max_frame_len {
            return Err(format!(
                "frame of {len} bytes exceeds the maximum of {max_frame_len}"
            ));
        }
        let total = PREFIX_LEN + len;
        if self.filled < total {
            if self.buf.len() < total {
                self.buf.resize(total, 0);
            }
            return Ok(None);
        }
        let body = self.buf[PREFIX_LEN..total].to_vec();
        self.buf.copy_within(total..self.filled, 0);
        self.filled -= total;
        Ok(Some(body))
    }

    /// Bytes received but not yet taken as frames.
    #[cfg(all(test, not(loom)))] // its only user, the tests module, is not built under loom
    pub(crate) fn buffered(&self) -> usize {
        self.filled
    }
}

/// Reads one frame body with blocking reads (worker side). `Ok(None)`: end-of-file at a
/// frame boundary, the parent's way of saying "exit".
pub(crate) fn read_frame_blocking(
    source: &mut impl Read,
    max_frame_len: usize,
) -> io::Result<Option<Vec<u8>>> {
    let mut prefix = [0u8; PREFIX_LEN];
    let mut got = 0;
    while got < PREFIX_LEN {
        match source.read(&mut prefix[got..]) {
            Ok(0) if got == 0 => return Ok(None),
            Ok(0) => return Err(io::ErrorKind::UnexpectedEof.into()),
            Ok(n) => got += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    let len = u32::from_le_bytes(prefix) as usize;
    if len > max_frame_len {
        return Err(io::Error::new(
            io::ErrorKind::InvalidData,
            format!("frame of {len} bytes exceeds the maximum of {max_frame_len}"),
        ));
    }
    let mut body = vec![0u8; len];
    source.read_exact(&mut body)?;
    Ok(Some(body))
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;

    fn body(frame: &[u8]) -> &[u8] {
        &frame[PREFIX_LEN..]
    }

    #[test]
    fn request_round_trip() {
        let mut builder = RequestBuilder::new(42, "square");
        builder.push(&3u64);
        builder.push(&String::from("x"));
        let frame = builder.finish(1 << 20).unwrap();
        let len = u32::from_le_bytes(frame[..4].try_into().unwrap()) as usize;
        assert_eq!(len, frame.len() - 4);
        let request = parse_request(body(&frame)).unwrap();
        assert_eq!(
            (request.job_id, request.name, request.count),
            (42, "square", 2)
        );
        let items: Vec<&[u8]> = request.items().collect();
        assert_eq!(items[0], &3u64.to_le_bytes());
        assert_eq!(items[1].len(), 9);
    }

    #[test]
    fn request_over_the_maximum_is_refused() {
        let mut builder = RequestBuilder::new(1, "echo");
        builder.push(&vec![0u8; 1000]);
        assert!(matches!(builder.finish(100), Err(len) if len > 1000));
    }

    #[test]
    fn reply_round_trip() {
        let mut builder = ReplyBuilder::new(7, KIND_ITEMS);
        builder.push_item(|out| {
            9u64.encode(out);
            TAG_OK
        });
        builder.push_item(|out| {
            out.extend_from_slice(b"boom");
            TAG_PANICKED
        });
        let frame = builder.finish();
        assert_eq!(
            parse_reply(body(&frame)).unwrap(),
            Reply::Items {
                job_id: 7,
                count: 2
            }
        );
        let items: Vec<(u8, &[u8])> = reply_items(body(&frame)).collect();
        assert_eq!(
            items,
            vec![
                (TAG_OK, &9u64.to_le_bytes()[..]),
                (TAG_PANICKED, &b"boom"[..])
            ]
        );

        let hello = hello_frame(1234);
        assert_eq!(
            parse_reply(body(&hello)).unwrap(),
            Reply::Hello {
                version: PROTOCOL_VERSION,
                pid: 1234
            }
        );
        let unknown = ReplyBuilder::new(5, KIND_UNKNOWN).finish();
        assert_eq!(
            parse_reply(body(&unknown)).unwrap(),
            Reply::UnknownJob { job_id: 5 }
        );
    }

    #[test]
    fn truncated_frames_are_errors_not_panics() {
        let mut builder = ReplyBuilder::new(7, KIND_ITEMS);
        builder.push_item(|out| {
            out.extend_from_slice(b"abc");
            TAG_OK
        });
        let reply = builder.finish();
        let mut request = RequestBuilder::new(3, "job");
        request.push(&1u32);
        let request = request.finish(1 << 20).unwrap();
        for cut in 0..body(&reply).len() {
            assert!(
                parse_reply(&body(&reply)[..cut]).is_err(),
                "reply cut at {cut}"
            );
        }
        for cut in 0..body(&request).len() {
            assert!(
                parse_request(&body(&request)[..cut]).is_err(),
                "request cut at {cut}"
            );
        }
    }

    #[test]
    fn bad_tags_counts_and_kinds_are_errors() {
        let mut builder = ReplyBuilder::new(7, KIND_ITEMS);
        builder.push_item(|_| 99);
        assert!(parse_reply(body(&builder.finish()))
            .unwrap_err()
            .contains("tag 99"));

        let mut frame = ReplyBuilder::new(1, KIND_ITEMS).finish();
        frame[PREFIX_LEN + BODY_HEADER_LEN] = 200; // count 200, no items
        assert!(parse_reply(body(&frame)).is_err());

        let mut frame = ReplyBuilder::new(1, KIND_UNKNOWN).finish();
        frame[PREFIX_LEN + 8] = 77;
        assert!(parse_reply(body(&frame)).unwrap_err().contains("kind 77"));
        frame.push(1);
        assert!(parse_reply(body(&frame)).is_err());
    }

    #[test]
    fn four_gib_prefix_is_refused_without_allocating() {
        let mut reader = FrameReader::default();
        let mut source: &[u8] = &[0xff, 0xff, 0xff, 0xff, 1, 2, 3];
        reader.read_from(&mut source).unwrap();
        let err = reader.next_frame(DEFAULT_MAX_FRAME_LEN).unwrap_err();
        assert!(err.contains("4294967295 bytes exceeds"), "{err}");
        assert!(
            reader.buf.len() <= READ_CHUNK,
            "buffer grew to {}",
            reader.buf.len()
        );

        let mut source: &[u8] = &[0xff, 0xff, 0xff, 0xff];
        let err = read_frame_blocking(&mut source, DEFAULT_MAX_FRAME_LEN).unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::InvalidData);
    }

    #[test]
    fn frames_split_across_reads_are_reassembled() {
        let mut stream = hello_frame(1);
        let mut builder = ReplyBuilder::new(9, KIND_ITEMS);
        builder.push_item(|out| {
            out.extend_from_slice(&[7; 40_000]);
            TAG_OK
        });
        stream.extend_from_slice(&builder.finish());
        let mut reader = FrameReader::default();
        let mut frames = Vec::new();
        // Feed three bytes at a time.
        for piece in stream.chunks(3) {
            let mut source = piece;
            reader.read_from(&mut source).unwrap();
            while let Some(frame) = reader.next_frame(1 << 20).unwrap() {
                frames.push(parse_reply(&frame).unwrap());
            }
        }
        assert_eq!(
            frames,
            vec![
                Reply::Hello {
                    version: PROTOCOL_VERSION,
                    pid: 1
                },
                Reply::Items {
                    job_id: 9,
                    count: 1
                }
            ]
        );
        assert_eq!(reader.buffered(), 0);
    }

    #[test]
    fn blocking_reader_sees_clean_and_unclean_eof() {
        let mut empty: &[u8] = &[];
        assert!(read_frame_blocking(&mut empty, 100).unwrap().is_none());
        let mut partial: &[u8] = &[5, 0];
        assert!(read_frame_blocking(&mut partial, 100).is_err());
        let mut short_body: &[u8] = &[5, 0, 0, 0, 1];
        assert!(read_frame_blocking(&mut short_body, 100).is_err());
    }
}
