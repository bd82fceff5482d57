//! The `serde` feature's format (`spindle::process::Serde`): derived types round-trip, the
//! bytes agree with codec.rs's for the same shape, and malformed input is an error, never a
//! panic or an allocation out of proportion to the input. A counting global allocator
//! measures each thread's peak live bytes, as in `tests/decode_props.rs`.

use std::collections::{BTreeMap, HashMap};
use std::fmt::Debug;

use proptest::prelude::*;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use spindle::process::{decode_exact, Encode, Serde, DECODE_ALLOC_FACTOR};

#[path = "common/thread_heap.rs"]
mod thread_heap;

use thread_heap::peak_bytes;

#[global_allocator]
static ALLOC: thread_heap::CountingAlloc = thread_heap::CountingAlloc;

/// Decodes `bytes` as a `Serde<T>`, checking that the peak allocation stays within
/// `per_byte` bytes per input byte plus a small constant (error messages).
fn decode_bounded<T: DeserializeOwned>(bytes: &[u8], per_byte: usize) -> Result<T, String> {
    thread_heap::decode_within(std::any::type_name::<T>(), bytes.len(), per_byte, || {
        decode_exact::<Serde<T>>(bytes)
            .map(Serde::into_inner)
            .map_err(|err| err.to_string())
    })
}

fn encoded<T: Encode + ?Sized>(value: &T) -> Vec<u8> {
    let mut bytes = Vec::new();
    value.encode(&mut bytes);
    bytes
}

fn serde_encoded<T: Serialize>(value: T) -> Vec<u8> {
    encoded(&Serde(value))
}

/// Decodes `bytes` through serde as the type of `_like`.
fn decode_like<T: DeserializeOwned>(bytes: &[u8], _like: &T) -> T {
    decode_exact::<Serde<T>>(bytes).unwrap().0
}

/// Encodes `value`, decodes it back, and checks that every strict prefix and one trailing
/// byte are errors.
fn round_trip<T: Serialize + DeserializeOwned + PartialEq + Debug>(value: T) -> Vec<u8> {
    let bytes = serde_encoded(&value);
    assert_eq!(decode_bounded::<T>(&bytes, 64).unwrap(), value);
    for cut in 0..bytes.len() {
        assert!(
            decode_exact::<Serde<T>>(&bytes[..cut]).is_err(),
            "prefix {cut} of {} accepted",
            bytes.len()
        );
    }
    let mut longer = bytes.clone();
    longer.push(0);
    let err = decode_exact::<Serde<T>>(&longer).unwrap_err();
    assert!(err.message().contains("1 unexpected bytes"), "{err}");
    bytes
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct Point {
    x: i32,
    y: i32,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
enum Shape {
    Empty,
    Circle(f64),
    Segment(Point, Point),
    Polygon {
        name: String,
        corners: Vec<Point>,
        closed: bool,
    },
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct Marker;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct Meters(f64);

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct Pair(u8, String);

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct Everything {
    id: u64,
    small: i8,
    wide: i128,
    wider: u128,
    ratio: f32,
    size: usize,
    offset: isize,
    letter: char,
    flag: bool,
    names: Vec<String>,
    maybe: Option<Option<u16>>,
    shapes: HashMap<String, Vec<Shape>>,
    triples: Vec<(u8, String, Option<Point>)>,
    ordered: BTreeMap<i64, (bool, char)>,
    unit: (),
    marker: Marker,
    length: Meters,
    pair: Pair,
    array: [u16; 3],
    boxed: Box<Shape>,
    text: String,
}

fn everything() -> Everything {
    Everything {
        id: u64::MAX,
        small: -7,
        wide: i128::MIN,
        wider: u128::MAX - 1,
        ratio: 0.25,
        size: usize::MAX,
        offset: -1,
        letter: 'λ',
        flag: true,
        names: vec!["ann".into(), String::new(), "bö".into()],
        maybe: Some(None),
        shapes: HashMap::from([
            ("none".to_owned(), vec![]),
            ("some".to_owned(), vec![Shape::Empty, Shape::Circle(1.5)]),
        ]),
        triples: vec![
            (1, "one".into(), None),
            (2, "two".into(), Some(Point { x: -1, y: 1 })),
        ],
        ordered: BTreeMap::from([(-5, (true, 'a')), (5, (false, '💡'))]),
        unit: (),
        marker: Marker,
        length: Meters(3.5),
        pair: Pair(9, "nine".into()),
        array: [1, 2, 3],
        boxed: Box::new(Shape::Polygon {
            name: "tri".into(),
            corners: vec![
                Point { x: 0, y: 0 },
                Point { x: 1, y: 0 },
                Point { x: 0, y: 1 },
            ],
            closed: true,
        }),
        text: "héllo, wörld".into(),
    }
}

#[test]
fn derived_structs_round_trip() {
    round_trip(Point {
        x: i32::MIN,
        y: i32::MAX,
    });
    round_trip(everything());
    round_trip(vec![everything(), everything()]);
    round_trip(Marker);
    round_trip(Meters(-0.0));
    round_trip(Pair(0, String::new()));
    round_trip(Some(Box::new(Point { x: 1, y: 2 })));
}

#[test]
fn enums_round_trip_with_a_u32_variant_index() {
    let unit = round_trip(Shape::Empty);
    assert_eq!(unit, 0u32.to_le_bytes());
    let newtype = round_trip(Shape::Circle(2.0));
    assert_eq!(newtype, encoded(&(1u32, 2.0f64)));
    let tuple = round_trip(Shape::Segment(Point { x: 1, y: 2 }, Point { x: 3, y: 4 }));
    assert_eq!(tuple, encoded(&(2u32, 1i32, 2i32, 3i32, 4i32)));
    let polygon = Shape::Polygon {
        name: "square".into(),
        corners: vec![Point { x: 0, y: 0 }, Point { x: 0, y: 1 }],
        closed: false,
    };
    let bytes = round_trip(polygon);
    assert_eq!(
        bytes,
        encoded(&(3u32, "square", vec![(0i32, 0i32), (0, 1)], false))
    );
}

#[test]
fn nested_std_types_round_trip() {
    round_trip(vec![Some(vec![String::from("a")]), None, Some(vec![])]);
    round_trip(HashMap::from([
        (1u32, vec![(true, 'x')]),
        (2, vec![]),
        (3, vec![(false, '\0')]),
    ]));
    round_trip(BTreeMap::from([(
        String::from("k"),
        Some(HashMap::from([(0u8, ())])),
    )]));
    round_trip((1u8, (2u16, (3u32, (4u64, String::from("deep"))))));
    round_trip(Option::<Option<Option<u8>>>::Some(Some(None)));
    round_trip(String::new());
    round_trip(Vec::<Point>::new());
    round_trip(((), Marker, 1u8));
    round_trip(vec![Ok::<u8, String>(5), Err("five".into())]);
    round_trip((std::time::Duration::new(5, 7), 1u16..9, 'a'..='z'));
    round_trip(std::net::Ipv4Addr::new(10, 0, 0, 1)); // compact: not human-readable
    assert_eq!(
        serde_encoded(std::net::Ipv4Addr::new(10, 0, 0, 1)),
        [10, 0, 0, 1]
    );
}

#[test]
fn tuples_encode_as_codec_does() {
    // The same value through both paths: the same bytes, and each decodes the other's.
    let value = (
        7u32,
        String::from("seven"),
        vec![Some(1.5f64), None],
        true,
        'λ',
        -3i128,
    );
    let codec = encoded(&value);
    let serde = serde_encoded(&value);
    assert_eq!(serde, codec);
    assert_eq!(decode_like(&codec, &value), value);
    assert_eq!(
        decode_exact::<(u32, String, Vec<Option<f64>>, bool, char, i128)>(&serde).unwrap(),
        value
    );

    let nested = (
        usize::MAX,
        -1isize,
        vec![vec![String::from("a"), String::new()], vec![]],
        Some((0u8, String::from("x"))),
        Option::<u16>::None,
        (f32::MIN_POSITIVE, u128::MAX),
    );
    assert_eq!(serde_encoded(&nested), encoded(&nested));

    // Structs are tuples of their fields; newtypes are their inner value; a map is the
    // codec.rs encoding of a Vec of pairs.
    assert_eq!(
        serde_encoded(Point { x: 5, y: -6 }),
        encoded(&(5i32, -6i32))
    );
    assert_eq!(serde_encoded(Meters(2.5)), encoded(&2.5f64));
    let map = BTreeMap::from([(1u8, String::from("a")), (2, String::from("b"))]);
    let pairs: Vec<(u8, String)> = map.clone().into_iter().collect();
    assert_eq!(serde_encoded(&map), encoded(&pairs));

    // The one difference: serde's Result is an enum (a u32 index), codec.rs's a tag byte.
    assert_eq!(serde_encoded(Ok::<u8, u8>(5)), [0, 0, 0, 0, 5]);
    assert_eq!(encoded(&Ok::<u8, u8>(5)), [0, 5]);
}

#[test]
fn serde_values_compose_with_codec_types() {
    let value = (3u8, Serde(Point { x: 1, y: 2 }), vec![Serde(Shape::Empty)]);
    let bytes = encoded(&value);
    let back = decode_exact::<(u8, Serde<Point>, Vec<Serde<Shape>>)>(&bytes).unwrap();
    assert_eq!(back, value);
}

/// A count, then `tail`.
fn counted(count: u64, tail: &[u8]) -> Vec<u8> {
    let mut bytes = count.to_le_bytes().to_vec();
    bytes.extend_from_slice(tail);
    bytes
}

#[test]
fn huge_counts_are_refused_before_allocating() {
    for count in [1u64 << 32, u32::MAX as u64, u64::MAX, 17] {
        let bytes = counted(count, &[0; 16]);
        let errors = [
            decode_bounded::<Vec<u8>>(&bytes, 0).unwrap_err(),
            decode_bounded::<Vec<u64>>(&bytes, 0).unwrap_err(),
            decode_bounded::<String>(&bytes, 0).unwrap_err(),
            decode_bounded::<HashMap<u32, u32>>(&bytes, 0).unwrap_err(),
            decode_bounded::<Vec<()>>(&bytes, 0).unwrap_err(),
            decode_bounded::<Vec<Marker>>(&bytes, 0).unwrap_err(),
            decode_bounded::<Vec<Vec<Shape>>>(&bytes, 0).unwrap_err(),
        ];
        for err in errors {
            assert!(err.contains("cannot fit"), "count {count}: {err}");
        }
    }
    // Inside a struct: `names` of `Everything` claims 4 Gi strings.
    let mut bytes = encoded(&(1u64, 2i8, 3i128, 4u128, 0.5f32, 5u64));
    bytes.extend_from_slice(&encoded(&(6i64, 'c', true)));
    bytes.extend_from_slice(&counted(1 << 32, &[0; 64]));
    let err = decode_bounded::<Everything>(&bytes, 0).unwrap_err();
    assert!(err.contains("cannot fit"), "{err}");
    // A count that fits the bytes but not the elements: serde's own collections reserve
    // cautiously, and the elements run out.
    let err = decode_bounded::<Vec<u64>>(&counted(16, &[0; 16]), 2).unwrap_err();
    assert!(err.contains("input ends early"), "{err}");
}

#[test]
fn bad_tags_text_and_trailing_bytes_are_errors() {
    let cases: [(&str, Result<(), String>); 9] = [
        (
            "option tag 2",
            decode_bounded::<Option<u8>>(&[2, 0], 0).map(drop),
        ),
        ("bool 2", decode_bounded::<bool>(&[2], 0).map(drop)),
        (
            "char 0xD800",
            decode_bounded::<char>(&0xD800u32.to_le_bytes(), 0).map(drop),
        ),
        (
            "variant 4 of 4",
            decode_bounded::<Shape>(&4u32.to_le_bytes(), 0).map(drop),
        ),
        (
            "variant u32::MAX",
            decode_bounded::<Shape>(&u32::MAX.to_le_bytes(), 0).map(drop),
        ),
        (
            "not UTF-8",
            decode_bounded::<String>(&counted(2, &[0xff, 0xfe]), 0).map(drop),
        ),
        (
            "not UTF-8, as a map key",
            decode_bounded::<HashMap<String, u8>>(&counted(1, &counted(1, &[0xc0, 7])), 0)
                .map(drop),
        ),
        (
            "trailing byte",
            decode_bounded::<Point>(&[0; 9], 0).map(drop),
        ),
        ("empty input", decode_bounded::<Point>(&[], 0).map(drop)),
    ];
    for (what, result) in cases {
        let err = result.expect_err(what);
        assert!(!err.is_empty(), "{what}");
    }
    let err = decode_bounded::<Shape>(&4u32.to_le_bytes(), 0).unwrap_err();
    assert!(err.contains("variant index"), "{err}");
    let err = decode_bounded::<String>(&counted(2, &[0xff, 0xfe]), 0).unwrap_err();
    assert!(err.contains("not UTF-8"), "{err}");
}

#[test]
fn self_describing_types_are_refused_clearly() {
    #[derive(Debug, Serialize, Deserialize)]
    struct Flattened {
        a: u8,
        #[serde(flatten)]
        rest: HashMap<String, u8>,
    }
    // Flattening turns the struct into a map keyed by field names: it encodes, but the
    // names cannot be read back as identifiers.
    let bytes = serde_encoded(Flattened {
        a: 1,
        rest: HashMap::from([("b".to_owned(), 2)]),
    });
    let err = decode_bounded::<Flattened>(&bytes, 0).unwrap_err();
    assert!(err.contains("not self-describing"), "{err}");
    let err = decode_bounded::<serde_json::Value>(&[0; 8], 0).unwrap_err();
    assert!(err.contains("deserialize_any"), "{err}");
}

/// Decodes `bytes` as several serde types; none may panic or over-allocate. The bound per
/// input byte is the in-memory size of the largest element over its smallest encoding.
fn decode_as_many_types(bytes: &[u8]) {
    let _ = decode_bounded::<Everything>(bytes, 64);
    let _ = decode_bounded::<Vec<Shape>>(bytes, 64);
    let _ = decode_bounded::<HashMap<String, Option<u8>>>(bytes, 64);
    let _ = decode_bounded::<BTreeMap<u8, Vec<Point>>>(bytes, 128);
    let _ = decode_bounded::<Vec<Option<Marker>>>(bytes, 8);
    let _ = decode_bounded::<(Shape, Point, Option<String>)>(bytes, 8);
}

#[test]
fn garbage_never_panics() {
    // A deterministic xorshift byte stream, cut at every length up to 300.
    let mut state = 0x2545_f491_4f6c_dd1du64;
    for len in 0..300 {
        let bytes: Vec<u8> = (0..len)
            .map(|_| {
                state ^= state << 13;
                state ^= state >> 7;
                state ^= state << 17;
                state as u8
            })
            .collect();
        decode_as_many_types(&bytes);
    }
}

#[test]
fn counting_allocator_sees_allocations() {
    // Negative control for the bounds above.
    let bytes = serde_encoded(vec![7u64; 1000]);
    let (value, peak) = peak_bytes(|| decode_exact::<Serde<Vec<u64>>>(&bytes).unwrap());
    assert_eq!(value.0.len(), 1000);
    assert!(peak >= 8000, "peak {peak}");
}

fn point() -> impl Strategy<Value = Point> {
    (any::<i32>(), any::<i32>()).prop_map(|(x, y)| Point { x, y })
}

fn shape() -> impl Strategy<Value = Shape> {
    prop_oneof![
        Just(Shape::Empty),
        // Finite, so equality holds after the trip.
        (-1e9f64..1e9).prop_map(Shape::Circle),
        (point(), point()).prop_map(|(a, b)| Shape::Segment(a, b)),
        (
            ".{0,8}",
            prop::collection::vec(point(), 0..5),
            any::<bool>()
        )
            .prop_map(|(name, corners, closed)| Shape::Polygon {
                name,
                corners,
                closed
            }),
    ]
}

/// Bytes close to valid: a value's encoding with some bytes flipped, cut or appended.
fn mutated(value: impl Strategy<Value = Vec<Shape>>) -> impl Strategy<Value = Vec<u8>> {
    (
        value,
        prop::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 0..4),
        any::<prop::sample::Index>(),
        prop::collection::vec(any::<u8>(), 0..4),
    )
        .prop_map(|(value, flips, cut, tail)| {
            let mut bytes = serde_encoded(value);
            for (at, byte) in flips {
                let at = at.index(bytes.len());
                bytes[at] = byte;
            }
            bytes.truncate(cut.index(bytes.len() + 1));
            bytes.extend_from_slice(&tail);
            bytes
        })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn shapes_round_trip(shapes in prop::collection::vec(shape(), 0..6)) {
        let bytes = serde_encoded(&shapes);
        prop_assert_eq!(decode_bounded::<Vec<Shape>>(&bytes, 64).unwrap(), shapes);
    }

    #[test]
    fn tuples_agree_with_codec(
        value in (any::<u64>(), ".{0,12}", prop::collection::vec(any::<Option<i32>>(), 0..8),
                  any::<bool>(), any::<char>(), any::<(u8, i16)>())
    ) {
        let bytes = encoded(&value);
        prop_assert_eq!(&serde_encoded(&value), &bytes);
        prop_assert_eq!(decode_like(&bytes, &value), value);
    }

    #[test]
    fn any_bytes_decode_or_fail(bytes in prop::collection::vec(any::<u8>(), 0..256)) {
        decode_as_many_types(&bytes);
    }

    #[test]
    fn mutated_encodings_decode_or_fail(bytes in mutated(prop::collection::vec(shape(), 0..4))) {
        decode_as_many_types(&bytes);
        let _ = decode_bounded::<Vec<Shape>>(&bytes, 64);
    }
}

#[derive(Debug, PartialEq, Serialize, Deserialize)]
enum Tree {
    Leaf(u8),
    Node(Box<Tree>, Box<Tree>),
}

/// A tree whose nodes hold a count of children: each level of a crafted input can claim as
/// many children as there are bytes left.
#[derive(Debug, PartialEq, Serialize, Deserialize)]
enum Forest {
    Leaf([u64; 16]),
    Node(Vec<Forest>),
}

#[test]
fn nested_counts_reserve_nothing_the_input_cannot_fill() {
    // 100 levels of `Node` with a count of "every byte left", then the input ends: each
    // level's `Vec<Forest>` (136-byte elements) must not reserve room for that count. With a
    // size hint, serde reserved up to 1 MiB per level: 90 MB at peak for 1.5 kB of input.
    let levels = 100u64;
    let mut bytes = Vec::new();
    for level in 0..levels {
        // Each level is 12 bytes: a `u32` variant index and a `u64` count.
        let left_after_this_level = (levels - level - 1) * 12;
        bytes.extend_from_slice(&1u32.to_le_bytes());
        bytes.extend_from_slice(&left_after_this_level.to_le_bytes());
    }
    let err = decode_bounded::<Forest>(&bytes, 64).unwrap_err();
    assert!(err.contains("input ends early"), "{err}");
}

#[test]
fn counted_zero_sized_elements_are_refused_when_decoding() {
    // A count of 8 unit elements fits the 8 bytes that follow (a `u64`), but units take no
    // bytes: the encoder refuses to write this, and the decoder must refuse to read it,
    // or a large count of them keeps it looping on no input.
    let bytes = counted(8, &7u64.to_le_bytes());
    let err = decode_bounded::<(Vec<()>, u64)>(&bytes, 0).unwrap_err();
    assert!(err.contains("took no bytes"), "{err}");
    // The same for map entries whose key and value are both zero-sized.
    let err = decode_bounded::<(BTreeMap<(), ()>, u64)>(&bytes, 0).unwrap_err();
    assert!(err.contains("took no bytes"), "{err}");
    // A set of units nested in a sequence: the quadratic case (each inner count claims
    // every byte left) now fails at the first inner element.
    let mut nested = counted(4_000, &[]);
    for inner in 0..4_000u64 {
        // Each inner count claims every byte after it.
        nested.extend_from_slice(&((4_000 - inner - 1) * 8).to_le_bytes());
    }
    let err = decode_bounded::<Vec<std::collections::HashSet<()>>>(&nested, 0).unwrap_err();
    assert!(err.contains("took no bytes"), "{err}");
}

#[test]
fn deep_recursive_input_is_an_error_not_a_stack_overflow() {
    // Node(Node(Node(… 256,000 levels: nothing a real value of this size would need.
    let mut bytes = 1u32.to_le_bytes().repeat(256_000);
    bytes.extend_from_slice(&[0, 0, 0, 0, 7]);
    let err = decode_bounded::<Tree>(&bytes, 0).unwrap_err();
    assert!(err.contains("nests deeper than 256 levels"), "{err}");

    // A shallow tree is fine, and one deeper than the limit is refused when encoding too.
    let tree = |depth: usize| {
        (0..depth).fold(Tree::Leaf(0), |tree, n| {
            Tree::Node(Box::new(tree), Box::new(Tree::Leaf(n as u8)))
        })
    };
    round_trip(tree(100));
    let panic = std::panic::catch_unwind(|| serde_encoded(tree(300))).unwrap_err();
    let message = panic.downcast_ref::<String>().unwrap();
    assert!(
        message.contains("nests deeper than 256 levels"),
        "{message}"
    );
}

/// Wide in memory (208 bytes as an `Option`), one byte as a `None`: wider than the bound
/// per byte, so a decoder that allocates what the bytes imply breaks it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct Wide {
    words: [u128; 12],
}

/// A recursive type whose boxes hold wide options: every node allocates far more than the
/// bytes it takes.
#[derive(Debug, Serialize, Deserialize)]
enum WideTree {
    Leaf,
    Node(Box<(WideTree, Option<Wide>)>, Box<WideTree>),
}

/// A count, then bytes that are mostly option tags and variant indexes.
fn tag_run() -> impl Strategy<Value = Vec<u8>> {
    prop::collection::vec(
        prop_oneof![30 => Just(0u8), 1 => Just(1u8), 1 => any::<u8>()],
        0..2048,
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

/// The documented bound for `Serde<T>`: twice the codec's factor at peak.
const SERDE_PER_BYTE: usize = 2 * DECODE_ALLOC_FACTOR;

fn decode_serde_within_the_bound(bytes: &[u8]) {
    let _ = decode_bounded::<Vec<Option<Wide>>>(bytes, SERDE_PER_BYTE);
    let _ = decode_bounded::<Vec<Box<Option<Wide>>>>(bytes, SERDE_PER_BYTE);
    let _ = decode_bounded::<Vec<Vec<Option<Wide>>>>(bytes, SERDE_PER_BYTE);
    let _ = decode_bounded::<Vec<Result<Wide, Wide>>>(bytes, SERDE_PER_BYTE);
    let _ = decode_bounded::<HashMap<u8, Option<Wide>>>(bytes, SERDE_PER_BYTE);
    let _ = decode_bounded::<BTreeMap<u16, Box<Option<Wide>>>>(bytes, SERDE_PER_BYTE);
    let _ = decode_bounded::<WideTree>(bytes, SERDE_PER_BYTE);
    let _ = decode_bounded::<Vec<WideTree>>(bytes, SERDE_PER_BYTE);
    let _ = decode_bounded::<Vec<Option<String>>>(bytes, SERDE_PER_BYTE);
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn serde_allocation_stays_within_the_bound(bytes in tag_run()) {
        decode_serde_within_the_bound(&bytes);
    }

    #[test]
    fn serde_allocation_of_any_bytes_stays_within_the_bound(
        bytes in prop::collection::vec(any::<u8>(), 0..512)
    ) {
        decode_serde_within_the_bound(&bytes);
    }

    #[test]
    fn serde_values_within_the_bound_decode(nones in 0usize..1024, some in any::<Option<u8>>()) {
        // Real values are not refused: a run of the common wide `None`, and a lone outermost
        // `None` of a wide type (its allowance).
        let value: Vec<Option<String>> = vec![None; nones];
        prop_assert_eq!(decode_bounded::<Vec<Option<String>>>(&serde_encoded(&value), SERDE_PER_BYTE).unwrap(), value);
        let lone: Option<(Wide, Option<u8>)> = None;
        let back = decode_bounded::<Option<(Wide, Option<u8>)>>(&serde_encoded(&lone), SERDE_PER_BYTE).unwrap();
        prop_assert_eq!(back, lone);
        let _ = some;
    }
}

#[test]
fn a_mebibyte_of_nones_does_not_amplify_through_serde() {
    let len = 1 << 20;
    let bytes = counted((len - 8) as u64, &vec![0; len - 8]);
    for err in [
        decode_bounded::<Vec<Option<Wide>>>(&bytes, SERDE_PER_BYTE).unwrap_err(),
        decode_bounded::<Vec<Box<Option<Wide>>>>(&bytes, SERDE_PER_BYTE).unwrap_err(),
    ] {
        assert!(err.contains("times its encoded size"), "{err}");
    }
    let nones = decode_bounded::<Vec<Option<u64>>>(&bytes, SERDE_PER_BYTE).unwrap();
    assert_eq!(nones.len(), len - 8);
}
