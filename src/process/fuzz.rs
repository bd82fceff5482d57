//! Not part of the API: the wire-protocol parsers of `frame.rs`, reachable from the property
//! tests (`tests/decode_props.rs`) and the fuzz target (`fuzz/`). Everything here is a thin
//! wrapper that copies results into owned, public types; the parsing is the pool's own.

use super::codec::Encode;
use super::frame::{self, FrameReader, Reply, ReplyBuilder, RequestBuilder, KIND_ITEMS};

/// Item tag: the encoded output.
pub const TAG_OK: u8 = frame::TAG_OK;
/// Item tag: the job panicked; the payload is the message.
pub const TAG_PANICKED: u8 = frame::TAG_PANICKED;
/// Item tag: the input did not decode; the payload is the message.
pub const TAG_BAD_INPUT: u8 = frame::TAG_BAD_INPUT;

/// Item bytes written as they are (an already-encoded input).
struct Raw<'a>(&'a [u8]);

impl Encode for Raw<'_> {
    fn encode(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(self.0);
    }
}

/// A reply body as the parent accepted it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ParsedReply {
    /// A worker's first frame.
    Hello {
        /// Its protocol version.
        version: u32,
        /// Its pid.
        pid: u32,
    },
    /// Results, `(tag, payload)` per item.
    Items {
        /// The request's id.
        job_id: u64,
        /// The items.
        items: Vec<(u8, Vec<u8>)>,
    },
    /// No job of the requested name.
    UnknownJob {
        /// The request's id.
        job_id: u64,
    },
}

/// A RUN body as a worker accepted it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParsedRequest {
    /// The request's id.
    pub job_id: u64,
    /// The job's name.
    pub name: String,
    /// Each item's encoded input.
    pub items: Vec<Vec<u8>>,
}

/// Parses a reply body (no length prefix) as the parent does.
pub fn parse_reply(body: &[u8]) -> Result<ParsedReply, String> {
    Ok(match frame::parse_reply(body)? {
        Reply::Hello { version, pid } => ParsedReply::Hello { version, pid },
        Reply::UnknownJob { job_id } => ParsedReply::UnknownJob { job_id },
        Reply::Items { job_id, count } => {
            let items: Vec<(u8, Vec<u8>)> = frame::reply_items(body)
                .map(|(tag, payload)| (tag, payload.to_vec()))
                .collect();
            // `parse_reply` validated the count; the item walk must agree with it.
            assert_eq!(
                items.len(),
                count as usize,
                "reply_items disagrees with parse_reply"
            );
            ParsedReply::Items { job_id, items }
        }
    })
}

/// Parses a RUN body (no length prefix) as a worker does.
pub fn parse_request(body: &[u8]) -> Result<ParsedRequest, String> {
    let request = frame::parse_request(body)?;
    let items: Vec<Vec<u8>> = request.items().map(<[u8]>::to_vec).collect();
    assert_eq!(
        items.len(),
        request.count as usize,
        "items disagree with count"
    );
    Ok(ParsedRequest {
        job_id: request.job_id,
        name: request.name.to_owned(),
        items,
    })
}

/// A whole RUN frame (prefix included) carrying `items` as they are, or the body length if
/// it exceeds `max_frame_len`.
pub fn request_frame(
    job_id: u64,
    name: &str,
    items: &[Vec<u8>],
    max_frame_len: usize,
) -> Result<Vec<u8>, usize> {
    let mut builder = RequestBuilder::new(job_id, name);
    for item in items {
        builder.push(&Raw(item));
    }
    builder.finish(max_frame_len)
}

/// A whole ITEMS frame (prefix included).
pub fn reply_frame(job_id: u64, items: &[(u8, Vec<u8>)]) -> Vec<u8> {
    let mut builder = ReplyBuilder::new(job_id, KIND_ITEMS);
    for (tag, payload) in items {
        builder.push_item(|out| {
            out.extend_from_slice(payload);
            *tag
        });
    }
    builder.finish()
}

/// A worker's HELLO frame (prefix included).
pub fn hello_frame(pid: u32) -> Vec<u8> {
    frame::hello_frame(pid)
}

/// What the parent's reader made of a byte stream.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct StreamOutcome {
    /// Every complete frame body, in order, with its parse.
    pub frames: Vec<(Vec<u8>, Result<ParsedReply, String>)>,
    /// The reader's error, if it refused a prefix (it stops there, as the pool does).
    pub error: Option<String>,
}

/// Feeds `bytes` to the parent's non-blocking frame reader `chunk` bytes per read (at least
/// 1), taking and parsing frames after every read, as the supervisor does.
pub fn read_stream(bytes: &[u8], chunk: usize, max_frame_len: usize) -> StreamOutcome {
    let mut reader = FrameReader::default();
    let mut outcome = StreamOutcome::default();
    for piece in bytes.chunks(chunk.max(1)) {
        let mut source = piece;
        while !source.is_empty() {
            reader
                .read_from(&mut source)
                .expect("reading from a slice cannot fail");
        }
        loop {
            match reader.next_frame(max_frame_len) {
                Ok(Some(body)) => {
                    let parsed = parse_reply(&body);
                    outcome.frames.push((body, parsed));
                }
                Ok(None) => break,
                Err(err) => {
                    outcome.error = Some(err);
                    return outcome;
                }
            }
        }
    }
    outcome
}

/// The worker's blocking read of one frame from `bytes`, then its parse as a request.
/// `Ok(None)`: clean end-of-file.
pub fn read_request_blocking(
    bytes: &[u8],
    max_frame_len: usize,
) -> Result<Option<ParsedRequest>, String> {
    let mut source = bytes;
    match frame::read_frame_blocking(&mut source, max_frame_len) {
        Ok(None) => Ok(None),
        Ok(Some(body)) => parse_request(&body).map(Some),
        Err(err) => Err(err.to_string()),
    }
}
