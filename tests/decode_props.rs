//! Property tests of the process pool's decoders: the job codec (`Encode`/`Decode`) and the
//! wire-protocol frame parsers (through the hidden `spindle::process::__fuzz` surface, the
//! same one the fuzz target in `fuzz/` drives).
//!
//! For any byte sequence each decoder gives a value or an error: never a panic, never an
//! allocation out of proportion to the input (a 4 GiB length prefix allocates nothing), and
//! it returns (every loop in them is bounded by the input). Generated values round-trip.
//! A counting global allocator measures each thread's peak live bytes, so the allocation
//! bound is checked exactly, not from RSS.

use proptest::prelude::*;
use spindle::process::__fuzz::{self, ParsedReply, ParsedRequest};
use spindle::process::{decode_exact, Decode, Encode, DECODE_ALLOC_FACTOR, DEFAULT_MAX_FRAME_LEN};

#[path = "common/thread_heap.rs"]
mod thread_heap;

use thread_heap::peak_bytes;

#[global_allocator]
static ALLOC: thread_heap::CountingAlloc = thread_heap::CountingAlloc;

/// Decodes `bytes` as a `T`, within `per_byte` bytes of heap per input byte (plus a little).
fn decode_bounded<T: Decode>(bytes: &[u8], per_byte: usize) -> Result<T, String> {
    thread_heap::decode_within(std::any::type_name::<T>(), bytes.len(), per_byte, || {
        decode_exact::<T>(bytes).map_err(|e| e.to_string())
    })
}

fn encoded<T: Encode + ?Sized>(value: &T) -> Vec<u8> {
    let mut bytes = Vec::new();
    value.encode(&mut bytes);
    bytes
}

/// A length prefix, count or `u64` length of 4 GiB and more, followed by a few bytes.
fn huge_prefix() -> impl Strategy<Value = Vec<u8>> {
    (
        (1u64 << 32)..=u64::MAX,
        prop::collection::vec(any::<u8>(), 0..64),
    )
        .prop_map(|(count, tail)| {
            let mut bytes = count.to_le_bytes().to_vec();
            bytes.extend_from_slice(&tail);
            bytes
        })
}

/// Bytes that are often close to valid: a generated value's encoding with some bytes
/// flipped, cut or appended (pure noise rarely gets past the first length check).
fn mutated<T: Encode + std::fmt::Debug>(
    value: impl Strategy<Value = T>,
) -> impl Strategy<Value = Vec<u8>> {
    (
        value,
        prop::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 0..4),
        any::<prop::sample::Index>(),
        prop::collection::vec(any::<u8>(), 0..4),
    )
        .prop_map(|(value, flips, cut, tail)| {
            let mut bytes = encoded(&value);
            if !bytes.is_empty() {
                for (at, byte) in flips {
                    let at = at.index(bytes.len());
                    bytes[at] = byte;
                }
                bytes.truncate(cut.index(bytes.len() + 1));
            }
            bytes.extend_from_slice(&tail);
            bytes
        })
}

type Mixed = (
    u64,
    String,
    Vec<Option<i32>>,
    bool,
    char,
    Result<u8, String>,
);

fn mixed() -> impl Strategy<Value = Mixed> {
    (
        any::<u64>(),
        ".{0,12}",
        prop::collection::vec(any::<Option<i32>>(), 0..8),
        any::<bool>(),
        any::<char>(),
        any::<Result<u8, String>>(),
    )
}

/// Decodes `bytes` as several types; none may panic or over-allocate.
fn decode_as_many_types(bytes: &[u8]) {
    // In-memory size over minimum encoded size, rounded up, bounds each type's allocation
    // per input byte: `Vec<Option<u128>>` holds 32 bytes per 1-byte `None`.
    let _ = decode_bounded::<u64>(bytes, 0);
    let _ = decode_bounded::<String>(bytes, 1);
    let _ = decode_bounded::<Vec<u8>>(bytes, 1);
    let _ = decode_bounded::<Vec<u64>>(bytes, 1);
    let _ = decode_bounded::<Vec<String>>(bytes, 4);
    let _ = decode_bounded::<Vec<Vec<u16>>>(bytes, 4);
    let _ = decode_bounded::<Vec<Option<u128>>>(bytes, 32);
    let _ = decode_bounded::<Option<Vec<char>>>(bytes, 1);
    let _ = decode_bounded::<Vec<Result<bool, String>>>(bytes, 32);
    let _ = decode_bounded::<Mixed>(bytes, 16);
    let _ = decode_bounded::<(usize, isize, f32, f64, i128)>(bytes, 0);
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn codec_any_bytes_decode_or_fail(bytes in prop::collection::vec(any::<u8>(), 0..256)) {
        decode_as_many_types(&bytes);
    }

    #[test]
    fn codec_mutated_encodings_decode_or_fail(bytes in mutated(mixed())) {
        decode_as_many_types(&bytes);
    }

    #[test]
    fn codec_huge_counts_allocate_nothing(bytes in huge_prefix()) {
        // A count of 4 Gi elements and more, with at most 63 bytes behind it: refused before
        // any allocation for the elements.
        prop_assert!(decode_bounded::<Vec<u8>>(&bytes, 1).is_err());
        prop_assert!(decode_bounded::<String>(&bytes, 1).is_err());
        prop_assert!(decode_bounded::<Vec<Vec<u64>>>(&bytes, 4).is_err());
        prop_assert!(decode_bounded::<Option<Vec<u32>>>(&bytes, 1).is_err());
    }

    #[test]
    fn codec_round_trips(value in mixed()) {
        let bytes = encoded(&value);
        prop_assert_eq!(decode_bounded::<Mixed>(&bytes, 16).unwrap(), value);
        // Every strict prefix is an error, and so is a trailing byte.
        for cut in 0..bytes.len() {
            prop_assert!(decode_exact::<Mixed>(&bytes[..cut]).is_err(), "prefix {} accepted", cut);
        }
        let mut longer = bytes.clone();
        longer.push(0);
        prop_assert!(decode_exact::<Mixed>(&longer).is_err());
    }

    #[test]
    fn codec_round_trips_nested(value in any::<Vec<(i64, Option<Vec<bool>>, f64)>>()) {
        let bytes = encoded(&value);
        let back = decode_bounded::<Vec<(i64, Option<Vec<bool>>, f64)>>(&bytes, 4).unwrap();
        // Compare floats by bits: NaN round-trips bit for bit but is not equal to itself.
        let bits = |v: &Vec<(i64, Option<Vec<bool>>, f64)>| -> Vec<(i64, Option<Vec<bool>>, u64)> {
            v.iter().map(|(a, b, c)| (*a, b.clone(), c.to_bits())).collect()
        };
        prop_assert_eq!(bits(&back), bits(&value));
    }
}

/// A random stream of frames, some valid replies, some not.
fn frame_stream() -> impl Strategy<Value = Vec<u8>> {
    let one = prop_oneof![
        // A valid ITEMS reply.
        (
            any::<u64>(),
            prop::collection::vec((0u8..3, prop::collection::vec(any::<u8>(), 0..40)), 0..5)
        )
            .prop_map(|(id, items)| __fuzz::reply_frame(id, &items)),
        any::<u32>().prop_map(__fuzz::hello_frame),
        // A length-prefixed garbage body.
        prop::collection::vec(any::<u8>(), 0..40).prop_map(|body| {
            let mut frame = (body.len() as u32).to_le_bytes().to_vec();
            frame.extend_from_slice(&body);
            frame
        }),
        // Raw garbage, including wild prefixes.
        prop::collection::vec(any::<u8>(), 0..12),
    ];
    prop::collection::vec(one, 0..6).prop_map(|frames| frames.concat())
}

fn reply_items() -> impl Strategy<Value = Vec<(u8, Vec<u8>)>> {
    prop::collection::vec(
        (
            prop_oneof![
                Just(__fuzz::TAG_OK),
                Just(__fuzz::TAG_PANICKED),
                Just(__fuzz::TAG_BAD_INPUT)
            ],
            prop::collection::vec(any::<u8>(), 0..64),
        ),
        0..8,
    )
}

/// The parent's stream reader. Its contract: the buffer grows past its 16 KiB read chunk
/// only for an announced length that passed the maximum, so the peak is within twice (a
/// `Vec` grows by doubling) the maximum plus the read chunk, plus a few copies of the input
/// (frame bodies and their parses).
fn read_stream_bounded(bytes: &[u8], chunk: usize, max_frame_len: usize) -> __fuzz::StreamOutcome {
    let (outcome, peak) = peak_bytes(|| __fuzz::read_stream(bytes, chunk, max_frame_len));
    let bound = 2 * (max_frame_len + 4 + (16 << 10)) + 8 * bytes.len() + 4096;
    assert!(
        peak <= bound,
        "read_stream allocated {peak} bytes at peak (bound {bound})"
    );
    outcome
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn frames_any_bytes_parse_or_fail(
        bytes in prop::collection::vec(any::<u8>(), 0..300),
        chunk in 1usize..64,
        max in prop_oneof![Just(DEFAULT_MAX_FRAME_LEN), 0usize..300],
    ) {
        let _ = read_stream_bounded(&bytes, chunk, max);
        let _ = __fuzz::parse_reply(&bytes);
        let _ = __fuzz::parse_request(&bytes);
        let (_, peak) = peak_bytes(|| __fuzz::read_request_blocking(&bytes, max));
        // The worker's blocking read allocates the announced length once it passed the
        // maximum, before reading the body: at most the maximum.
        prop_assert!(peak <= max + 4096, "read_request_blocking allocated {}", peak);
    }

    #[test]
    fn frames_streams_parse_or_fail(bytes in frame_stream(), chunk in 1usize..64) {
        let _ = read_stream_bounded(&bytes, chunk, DEFAULT_MAX_FRAME_LEN);
        // The same stream in one read gives the same frames: chunking changes nothing.
        prop_assert_eq!(
            __fuzz::read_stream(&bytes, chunk, 1 << 16),
            __fuzz::read_stream(&bytes, bytes.len().max(1), 1 << 16)
        );
    }

    #[test]
    fn frames_huge_prefix_allocates_nothing(prefix in (DEFAULT_MAX_FRAME_LEN as u32 + 1)..=u32::MAX,
                                            tail in prop::collection::vec(any::<u8>(), 0..64)) {
        let mut bytes = prefix.to_le_bytes().to_vec();
        bytes.extend_from_slice(&tail);
        let outcome = read_stream_bounded(&bytes, bytes.len(), DEFAULT_MAX_FRAME_LEN);
        prop_assert!(outcome.frames.is_empty());
        prop_assert!(outcome.error.is_some());
        let (result, peak) =
            peak_bytes(|| __fuzz::read_request_blocking(&bytes, DEFAULT_MAX_FRAME_LEN));
        prop_assert!(result.is_err());
        prop_assert!(peak <= 4096, "refusing a {} byte prefix allocated {}", prefix, peak);
    }

    #[test]
    fn frames_reply_round_trip(job_id in any::<u64>(), items in reply_items(), chunk in 1usize..64) {
        let frame = __fuzz::reply_frame(job_id, &items);
        let expected = ParsedReply::Items { job_id, items };
        prop_assert_eq!(__fuzz::parse_reply(&frame[4..]), Ok(expected.clone()));
        // Through the stream reader, twice in a row, fed in pieces.
        let stream = [frame.clone(), frame].concat();
        let outcome = read_stream_bounded(&stream, chunk, 1 << 16);
        prop_assert_eq!(outcome.error, None);
        let parsed: Vec<_> = outcome.frames.into_iter().map(|(_, parsed)| parsed).collect();
        prop_assert_eq!(parsed, vec![Ok(expected.clone()), Ok(expected)]);
    }

    #[test]
    fn frames_request_round_trip(
        job_id in any::<u64>(),
        name in ".{0,16}",
        items in prop::collection::vec(prop::collection::vec(any::<u8>(), 0..64), 0..8),
    ) {
        let frame = __fuzz::request_frame(job_id, &name, &items, 1 << 16).unwrap();
        let expected = ParsedRequest { job_id, name: name.clone(), items: items.clone() };
        prop_assert_eq!(__fuzz::parse_request(&frame[4..]), Ok(expected.clone()));
        prop_assert_eq!(__fuzz::read_request_blocking(&frame, 1 << 16), Ok(Some(expected)));
        // Every strict prefix of the body is refused; a request over the maximum is refused
        // by the builder.
        for cut in 0..frame.len() - 4 {
            prop_assert!(__fuzz::parse_request(&frame[4..4 + cut]).is_err(), "cut {}", cut);
        }
        let body_len = frame.len() - 4;
        if body_len > 0 {
            prop_assert_eq!(__fuzz::request_frame(job_id, &name, &items, body_len - 1), Err(body_len));
        }
    }
}

#[test]
fn four_gib_prefix_exactly() {
    // The case, spelled out: 0xFFFF_FFFF as a frame length and as a codec count.
    let frame = [0xff, 0xff, 0xff, 0xff, 0, 0, 0, 0];
    let (outcome, peak) = peak_bytes(|| __fuzz::read_stream(&frame, 8, DEFAULT_MAX_FRAME_LEN));
    assert!(outcome.error.unwrap().contains("exceeds the maximum"));
    assert!(peak <= 2 * (16 << 10) + 4096, "peak {peak}");

    let mut count = (u32::MAX as u64).to_le_bytes().to_vec();
    count.extend_from_slice(&[b'x'; 16]);
    let (result, peak) = peak_bytes(|| decode_exact::<String>(&count));
    assert!(result.unwrap_err().message().contains("cannot fit"));
    assert!(peak <= 1024, "peak {peak}");
}

#[test]
fn counting_allocator_sees_allocations() {
    // Negative control for the bounds above: an allocation inside `peak_bytes` is seen,
    // and a decode that does allocate for its count (a real 1,000-byte vector) is measured.
    let (_, peak) = peak_bytes(|| vec![0u8; 10_000]);
    assert!(peak >= 10_000, "peak {peak}");
    let bytes = encoded(&vec![7u8; 1000]);
    let (value, peak) = peak_bytes(|| decode_exact::<Vec<u8>>(&bytes).unwrap());
    assert_eq!(value.len(), 1000);
    assert!(peak >= 1000, "peak {peak}");
}

/// A large value whose `None` encodes to one byte: 112 bytes in memory as `Option<Big>`.
type Big = (u128, u128, u128, u128, u128, u128);

/// A count, then bytes that are mostly `None`/`Some`/`Ok`/`Err` tags: what amplifies most
/// (one byte of input, a whole `Option<Big>` of memory).
fn tag_run() -> impl Strategy<Value = Vec<u8>> {
    prop::collection::vec(
        prop_oneof![30 => Just(0u8), 1 => Just(1u8), 1 => any::<u8>()],
        0..4096,
    )
    .prop_flat_map(|tail| {
        let len = tail.len() as u64;
        (0..=len).prop_map(move |count| {
            let mut bytes = count.to_le_bytes().to_vec();
            bytes.extend_from_slice(&tail);
            bytes
        })
    })
}

/// Decodes `bytes` as the types that amplify most; each stays within the documented
/// factor, whatever the bytes.
fn decode_within_the_factor(bytes: &[u8]) {
    let factor = DECODE_ALLOC_FACTOR;
    let _ = decode_bounded::<Vec<Option<Big>>>(bytes, factor);
    let _ = decode_bounded::<Vec<Vec<Option<Big>>>>(bytes, factor);
    let _ = decode_bounded::<Vec<Result<Big, Big>>>(bytes, factor);
    let _ = decode_bounded::<Vec<(Option<Big>, Option<String>)>>(bytes, factor);
    let _ = decode_bounded::<Option<Vec<Option<Vec<Option<Big>>>>>>(bytes, factor);
    let _ = decode_bounded::<Vec<Option<String>>>(bytes, factor);
    let _ = decode_bounded::<Vec<String>>(bytes, factor);
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn codec_allocation_stays_within_the_factor(bytes in tag_run()) {
        decode_within_the_factor(&bytes);
    }

    #[test]
    fn codec_allocation_of_any_bytes_stays_within_the_factor(
        bytes in prop::collection::vec(any::<u8>(), 0..512)
    ) {
        decode_within_the_factor(&bytes);
    }

    #[test]
    fn codec_values_within_the_factor_decode(nones in 0usize..2048) {
        // A vector of `None`s of the most common wide option, `Option<String>` (24 bytes
        // from one): real values are not refused.
        let value: Vec<Option<String>> = vec![None; nones];
        let bytes = encoded(&value);
        prop_assert_eq!(decode_bounded::<Vec<Option<String>>>(&bytes, DECODE_ALLOC_FACTOR).unwrap(), value);
    }
}

/// The reproducer, at 1 MiB: a count of one element per byte, then zero bytes
/// (each a `None`). The count fits the bytes left, but `count × size_of::<Option<Big>>()`
/// was reserved at once: 117 MiB for 1 MiB (3.4 GiB for 4 MiB). Now it is refused before
/// reserving, and the same bytes as narrower options decode.
#[test]
fn a_mebibyte_of_nones_does_not_amplify() {
    let len = 1 << 20;
    let mut bytes = ((len - 8) as u64).to_le_bytes().to_vec();
    bytes.resize(len, 0);
    let err = decode_bounded::<Vec<Option<Big>>>(&bytes, DECODE_ALLOC_FACTOR).unwrap_err();
    assert!(err.contains("times its encoded size"), "{err}");
    let nones = decode_bounded::<Vec<Option<u64>>>(&bytes, DECODE_ALLOC_FACTOR).unwrap();
    assert_eq!(nones.len(), len - 8);
}
