//! The `serde` feature: [`Serde<T>`], a serde data format written for this crate that maps
//! serde's data model onto codec.rs's encoding, so a value has one encoding whichever path
//! writes it. The mapping and the decoding rules are documented once, on [`Serde`] (this
//! module is private; `Serde` is re-exported from `spindle::process`).
//!
//! # Implementation notes
//!
//! - `Serializer` appends to the caller's `Vec<u8>`. A sequence or map writes a zero count
//!   and patches it in `end`, so sequences of unknown length need no second buffer; it also
//!   checks that each element (map entry) wrote at least one byte, the promise the decoder's
//!   count check relies on.
//! - `Deserializer` reads from codec.rs's [`Reader`] and borrows strings and bytes from it.
//!   Counts go through `Reader::take_count` (checked against the bytes left), fixed-width
//!   values through the codec.rs `Decode` impls, so both paths reject the same bad bytes
//!   with the same messages.
//! - Both sides count nesting at the same points (option some, newtype, enum, sequence,
//!   tuple, struct, map; a variant's fields belong to its enum's level), so a value that
//!   encodes within [`MAX_DEPTH`] also decodes.
//!
//! Tests: the unit tests below (unknown-length sequences, the zero-size and depth rules on
//! both sides, skipped fields, visitors that stop early), `tests/serde_format.rs` (round
//! trips of derived types, agreement with codec.rs, malformed input under an allocation
//! bound, property tests) and `tests/process_serde.rs` (a pool whose workers run serde jobs).

use std::any::type_name;
use std::fmt;

use serde::de::{
    self, DeserializeOwned, DeserializeSeed, EnumAccess, IntoDeserializer, MapAccess, SeqAccess,
    VariantAccess, Visitor,
};
use serde::ser::{self, Serialize};

use super::codec::{Decode, DecodeError, Encode, Reader};

/// How deep options, newtypes, enums, sequences, tuples, structs and maps may nest in a
/// [`Serde`] value, when encoding and when decoding.
const MAX_DEPTH: usize = 256;

/// A serde type as a job input or output (feature `serde`): [`Encode`] when
/// `T: Serialize`, [`Decode`] when `T: DeserializeOwned`.
///
/// Register and submit the wrapper type on both sides: `register("scale", |Serde(p):
/// Serde<Point>| …)`, `pool.submit::<Serde<Point>, Serde<Point>>("scale", Serde(p))`. It
/// composes with the codec.rs types: `(u32, Serde<Point>)` and `Vec<Serde<Point>>` work.
///
/// ```
/// use serde::{Deserialize, Serialize};
/// use spindle::process::{decode_exact, Encode, Jobs, Serde};
///
/// #[derive(Debug, PartialEq, Serialize, Deserialize)]
/// struct Point {
///     x: i32,
///     y: i32,
/// }
///
/// // What the pool's workers run; submit with `pool.submit::<Serde<Point>, Serde<Point>>`.
/// let jobs = Jobs::new().register("scale", |Serde(p): Serde<Point>| {
///     Serde(Point { x: p.x * 2, y: p.y * 2 })
/// });
/// assert!(jobs.contains("scale"));
///
/// // A struct travels as its fields in order: the same bytes as the tuple (1i32, -2i32).
/// let mut bytes = Vec::new();
/// Serde(Point { x: 1, y: -2 }).encode(&mut bytes);
/// let mut tuple = Vec::new();
/// (1i32, -2i32).encode(&mut tuple);
/// assert_eq!(bytes, tuple);
/// assert_eq!(decode_exact::<Serde<Point>>(&bytes).unwrap().0, Point { x: 1, y: -2 });
/// ```
///
/// # Encoding
///
/// serde's data model maps onto the encoding [`Encode`] uses, so a value has the same
/// bytes whichever path writes it:
///
/// | serde data model | bytes | codec.rs type with the same bytes |
/// |---|---|---|
/// | bool | one byte, 0 or 1 | `bool` |
/// | i8 … i128, u8 … u128, f32, f64 | little-endian, fixed width | the same types; `usize`/`isize` are 64 bits both ways |
/// | char | its scalar value as a `u32` | `char` |
/// | string, bytes | a `u64` count, then the bytes | `String`, `Vec<u8>` |
/// | option | a tag byte (0 none, 1 some), then the value | `Option<T>` |
/// | unit, unit struct | nothing | |
/// | newtype struct | the inner value | the inner type |
/// | sequence | a `u64` count, then the elements | `Vec<T>` |
/// | tuple, tuple struct, struct | the fields in order: no count, no names | tuples |
/// | map | a `u64` count, then key, value, key, value, … | |
/// | enum variant | the variant index as a `u32`, then the payload as above | |
///
/// One type differs: serde sees `Result` as an enum, so it travels with a 4-byte variant
/// index where codec.rs writes a tag byte.
///
/// # Decoding
///
/// The rules of codec.rs hold: decoding never panics and never trusts a length.
///
/// - **Counts.** Every element of a sequence and every map entry takes at least one byte,
///   so a count larger than the bytes left is rejected before anything is allocated or
///   looped over, and an element that takes no bytes is an error when it is read. No room
///   is reserved from a count (the size hint is `None`): collections grow as elements
///   actually arrive, so memory stays in proportion to the input.
/// - **Allocation.** Decoding `n` bytes allocates at most 2 ×
///   [`DECODE_ALLOC_FACTOR`](super::DECODE_ALLOC_FACTOR) × `n` bytes at peak (plus a few
///   hundred for an error message, and up to eight `size_of::<T>()` that the outermost
///   value's own options may take uncharged, as below). The budget of codec.rs is charged before each allocation:
///   sequence elements twice their size and map entries four times (the room
///   collections hold beyond what they fill), strings and bytes their length, and every
///   option and enum its size, since behind a `Box` one byte of `None` would allocate a
///   whole `T` (an option that is itself the element just charged is not charged again;
///   the outermost value's inline options draw on an allowance of eight `T`s first). A
///   value that would need more is a decode error, found before the allocation. The encoding side keeps
///   its half of the rule: an element that encodes to no bytes (in a `Vec<()>`, a sequence
///   of unit structs) is refused there, so nothing is encoded that would not decode. For
///   the same reason a zero-sized `T` cannot be an element of a codec.rs `Vec<Serde<T>>`.
/// - **Depth.** Options, newtypes, enums, sequences, tuples, structs and maps nest at most
///   256 deep, checked on both sides, so the recursion a crafted input for a recursive type
///   (a tree, a linked list) can cause is bounded to 256 levels.
/// - **Not self-describing.** The bytes carry no types or names, so `deserialize_any`,
///   `deserialize_ignored_any` and `deserialize_identifier` are errors that say so. What
///   needs them does not work here: untagged and internally tagged enums,
///   `#[serde(flatten)]` (such a struct encodes, as a map keyed by field names, but does not
///   decode), `skip_serializing_if` (the encoding side refuses a skipped field) and
///   `serde_json::Value`.
/// - The format says it is not human-readable, so types with a compact binary form (IP
///   addresses, for one) use it.
/// - Trailing bytes are an error wherever codec.rs treats them as one (`decode_exact`,
///   every job input and output).
///
/// # Panics
///
/// [`Encode`] cannot return an error, so `encode` panics if serializing fails: the
/// `Serialize` impl returns an error, a field is skipped, a sequence element or map entry
/// encodes to no bytes, or the value nests deeper than 256 levels. `submit` and `map`
/// encode inputs in the caller, so the panic is the caller's; a worker encodes outputs
/// inside the job, so there it fails that job only, as
/// [`ProcessError::Panicked`](super::ProcessError::Panicked).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Serde<T>(pub T);

impl<T> Serde<T> {
    /// The wrapped value.
    pub fn into_inner(self) -> T {
        self.0
    }
}

impl<T> From<T> for Serde<T> {
    fn from(value: T) -> Serde<T> {
        Serde(value)
    }
}

impl<T: Serialize> Encode for Serde<T> {
    fn encode(&self, out: &mut Vec<u8>) {
        let start = out.len();
        if let Err(err) = encode_value(&self.0, out) {
            out.truncate(start);
            panic!("cannot encode a {} with serde: {err}", type_name::<T>());
        }
    }
}

impl<T: DeserializeOwned> Decode for Serde<T> {
    // `MIN_ENCODED_LEN` stays 1: only a zero-sized `T` (unit, a unit struct) encodes to
    // less, and such a `Serde<T>` cannot be an element of a codec.rs `Vec`.
    fn decode(input: &mut Reader<'_>) -> Result<Self, DecodeError> {
        // The outermost value's own options and enums are inline in the `T` the caller
        // holds, not on the heap: they may use an allowance of a few `T`s (see `Serde`'s
        // docs). Only the outermost value: a `Serde` inside a codec.rs `Vec` was charged
        // for by the `Vec`, and granting each element an allowance would amplify.
        let allowance = if input.at_start() {
            INLINE_ALLOWANCE_TS.saturating_mul(std::mem::size_of::<T>())
        } else {
            0
        };
        T::deserialize(&mut Deserializer::new(input, allowance)).map(Serde)
    }
}

/// What a sequence element is charged, in multiples of its size: a `Vec` grows by doubling
/// (no room is reserved from a count), so at a reallocation it holds its old buffer and one
/// twice as big, three times what it filled; charging two keeps the peak within 1.5 times
/// the budget.
const SEQ_SLACK: usize = 2;

/// What a map key and a map value are each charged, in multiples of their size: a hash map
/// holds up to about 2.3 slots per entry (3.4 while it grows), plus a control byte each; a
/// B-tree's nodes are at least half full. Four keeps the peak within 1.5 times the budget.
const MAP_SLACK: usize = 4;

/// The outermost `T`'s options and enums may charge up to this many `T`s to its allowance
/// rather than to the input's budget: each level of options nested inline in `T` counts
/// about `size_of::<T>()` once more.
const INLINE_ALLOWANCE_TS: usize = 8;

/// Appends `value`'s encoding to `out`; on error `out` holds a partial encoding.
fn encode_value<T: Serialize + ?Sized>(value: &T, out: &mut Vec<u8>) -> Result<(), EncodeError> {
    value.serialize(&mut Serializer { out, depth: 0 })
}

/// Why a value could not be encoded.
#[derive(Debug)]
struct EncodeError(String);

impl fmt::Display for EncodeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for EncodeError {}

impl ser::Error for EncodeError {
    fn custom<M: fmt::Display>(message: M) -> EncodeError {
        EncodeError(message.to_string())
    }
}

/// Decode errors from serde impls (`invalid_value`, `missing_field`, …) are ordinary
/// [`DecodeError`]s.
impl de::Error for DecodeError {
    fn custom<M: fmt::Display>(message: M) -> DecodeError {
        DecodeError::new(message.to_string())
    }
}

fn too_deep() -> String {
    format!("the value nests deeper than {MAX_DEPTH} levels")
}

// ---------------------------------------------------------------------------------------
// Encoding
// ---------------------------------------------------------------------------------------

/// Writes serde's data model into a byte buffer.
struct Serializer<'a> {
    out: &'a mut Vec<u8>,
    /// Open compound values, checked against [`MAX_DEPTH`] exactly where the decoder
    /// checks it.
    depth: usize,
}

impl Serializer<'_> {
    fn enter(&mut self) -> Result<(), EncodeError> {
        if self.depth >= MAX_DEPTH {
            return Err(EncodeError(too_deep()));
        }
        self.depth += 1;
        Ok(())
    }

    fn leave(&mut self) {
        self.depth -= 1;
    }

    fn put(&mut self, bytes: &[u8]) {
        self.out.extend_from_slice(bytes);
    }

    fn put_count(&mut self, count: usize) {
        self.put(&(count as u64).to_le_bytes());
    }

    fn put_variant(&mut self, index: u32) {
        self.put(&index.to_le_bytes());
    }

    /// Starts a sequence or map: a count of zero for now, filled in by `end` (so a
    /// sequence of unknown length needs no second buffer).
    fn begin_counted(&mut self) -> Result<Counted<'_, Self>, EncodeError> {
        self.enter()?;
        let count_at = self.out.len();
        self.put_count(0);
        Ok(Counted {
            ser: self,
            count_at,
            count: 0,
            entry_start: count_at,
        })
    }

    fn begin_fields(&mut self) -> Result<Fields<'_, Self>, EncodeError> {
        self.enter()?;
        Ok(Fields { ser: self })
    }
}

/// The open sequence or map: counts its elements and checks that each took at least one
/// byte (the decoder rejects a count larger than the bytes left).
struct Counted<'s, S> {
    ser: &'s mut S,
    count_at: usize,
    count: u64,
    /// Where the current element or map entry began.
    entry_start: usize,
}

impl<'a> Counted<'_, Serializer<'a>> {
    fn start_entry(&mut self) {
        self.entry_start = self.ser.out.len();
    }

    fn finish_entry(&mut self, what: &str) -> Result<(), EncodeError> {
        if self.ser.out.len() == self.entry_start {
            return Err(EncodeError(format!(
                "{what} {} encodes to no bytes (a zero-sized type such as `()`); sequences and \
                 maps need at least one byte per {what}, so that a decoder can check a count \
                 against the bytes left",
                self.count
            )));
        }
        self.count += 1;
        Ok(())
    }

    fn end(self) -> Result<(), EncodeError> {
        let Counted {
            ser,
            count_at,
            count,
            ..
        } = self;
        ser.out[count_at..count_at + 8].copy_from_slice(&count.to_le_bytes());
        ser.leave();
        Ok(())
    }
}

/// The open tuple, struct or variant: fields in order, nothing else.
struct Fields<'s, S> {
    ser: &'s mut S,
}

fn skipped_field(key: &str) -> EncodeError {
    EncodeError(format!(
        "field `{key}` was skipped (`skip_serializing_if`?): the encoding has no field names, \
         so every field must be written"
    ))
}

impl<'s, 'a> ser::Serializer for &'s mut Serializer<'a> {
    type Ok = ();
    type Error = EncodeError;
    type SerializeSeq = Counted<'s, Serializer<'a>>;
    type SerializeTuple = Fields<'s, Serializer<'a>>;
    type SerializeTupleStruct = Fields<'s, Serializer<'a>>;
    type SerializeTupleVariant = Fields<'s, Serializer<'a>>;
    type SerializeMap = Counted<'s, Serializer<'a>>;
    type SerializeStruct = Fields<'s, Serializer<'a>>;
    type SerializeStructVariant = Fields<'s, Serializer<'a>>;

    fn is_human_readable(&self) -> bool {
        false
    }

    fn serialize_bool(self, value: bool) -> Result<(), EncodeError> {
        self.put(&[u8::from(value)]);
        Ok(())
    }

    fn serialize_i8(self, value: i8) -> Result<(), EncodeError> {
        self.put(&value.to_le_bytes());
        Ok(())
    }

    fn serialize_i16(self, value: i16) -> Result<(), EncodeError> {
        self.put(&value.to_le_bytes());
        Ok(())
    }

    fn serialize_i32(self, value: i32) -> Result<(), EncodeError> {
        self.put(&value.to_le_bytes());
        Ok(())
    }

    fn serialize_i64(self, value: i64) -> Result<(), EncodeError> {
        self.put(&value.to_le_bytes());
        Ok(())
    }

    fn serialize_i128(self, value: i128) -> Result<(), EncodeError> {
        self.put(&value.to_le_bytes());
        Ok(())
    }

    fn serialize_u8(self, value: u8) -> Result<(), EncodeError> {
        self.put(&[value]);
        Ok(())
    }

    fn serialize_u16(self, value: u16) -> Result<(), EncodeError> {
        self.put(&value.to_le_bytes());
        Ok(())
    }

    fn serialize_u32(self, value: u32) -> Result<(), EncodeError> {
        self.put(&value.to_le_bytes());
        Ok(())
    }

    fn serialize_u64(self, value: u64) -> Result<(), EncodeError> {
        self.put(&value.to_le_bytes());
        Ok(())
    }

    fn serialize_u128(self, value: u128) -> Result<(), EncodeError> {
        self.put(&value.to_le_bytes());
        Ok(())
    }

    fn serialize_f32(self, value: f32) -> Result<(), EncodeError> {
        self.put(&value.to_le_bytes());
        Ok(())
    }

    fn serialize_f64(self, value: f64) -> Result<(), EncodeError> {
        self.put(&value.to_le_bytes());
        Ok(())
    }

    fn serialize_char(self, value: char) -> Result<(), EncodeError> {
        self.put(&u32::from(value).to_le_bytes());
        Ok(())
    }

    fn serialize_str(self, value: &str) -> Result<(), EncodeError> {
        self.serialize_bytes(value.as_bytes())
    }

    fn serialize_bytes(self, value: &[u8]) -> Result<(), EncodeError> {
        self.put_count(value.len());
        self.put(value);
        Ok(())
    }

    fn serialize_none(self) -> Result<(), EncodeError> {
        self.put(&[0]);
        Ok(())
    }

    fn serialize_some<T: Serialize + ?Sized>(self, value: &T) -> Result<(), EncodeError> {
        self.put(&[1]);
        self.enter()?;
        value.serialize(&mut *self)?;
        self.leave();
        Ok(())
    }

    fn serialize_unit(self) -> Result<(), EncodeError> {
        Ok(())
    }

    fn serialize_unit_struct(self, _name: &'static str) -> Result<(), EncodeError> {
        Ok(())
    }

    fn serialize_unit_variant(
        self,
        _name: &'static str,
        index: u32,
        _variant: &'static str,
    ) -> Result<(), EncodeError> {
        // An enum is one level deep to the decoder, whatever its payload.
        self.enter()?;
        self.put_variant(index);
        self.leave();
        Ok(())
    }

    fn serialize_newtype_struct<T: Serialize + ?Sized>(
        self,
        _name: &'static str,
        value: &T,
    ) -> Result<(), EncodeError> {
        self.enter()?;
        value.serialize(&mut *self)?;
        self.leave();
        Ok(())
    }

    fn serialize_newtype_variant<T: Serialize + ?Sized>(
        self,
        _name: &'static str,
        index: u32,
        _variant: &'static str,
        value: &T,
    ) -> Result<(), EncodeError> {
        self.enter()?;
        self.put_variant(index);
        value.serialize(&mut *self)?;
        self.leave();
        Ok(())
    }

    fn serialize_seq(self, _len: Option<usize>) -> Result<Self::SerializeSeq, EncodeError> {
        self.begin_counted()
    }

    fn serialize_tuple(self, _len: usize) -> Result<Self::SerializeTuple, EncodeError> {
        self.begin_fields()
    }

    fn serialize_tuple_struct(
        self,
        _name: &'static str,
        _len: usize,
    ) -> Result<Self::SerializeTupleStruct, EncodeError> {
        self.begin_fields()
    }

    fn serialize_tuple_variant(
        self,
        _name: &'static str,
        index: u32,
        _variant: &'static str,
        _len: usize,
    ) -> Result<Self::SerializeTupleVariant, EncodeError> {
        let fields = self.begin_fields()?;
        fields.ser.put_variant(index);
        Ok(fields)
    }

    fn serialize_map(self, _len: Option<usize>) -> Result<Self::SerializeMap, EncodeError> {
        self.begin_counted()
    }

    fn serialize_struct(
        self,
        _name: &'static str,
        _len: usize,
    ) -> Result<Self::SerializeStruct, EncodeError> {
        self.begin_fields()
    }

    fn serialize_struct_variant(
        self,
        _name: &'static str,
        index: u32,
        _variant: &'static str,
        _len: usize,
    ) -> Result<Self::SerializeStructVariant, EncodeError> {
        let fields = self.begin_fields()?;
        fields.ser.put_variant(index);
        Ok(fields)
    }
}

impl ser::SerializeSeq for Counted<'_, Serializer<'_>> {
    type Ok = ();
    type Error = EncodeError;

    fn serialize_element<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<(), EncodeError> {
        self.start_entry();
        value.serialize(&mut *self.ser)?;
        self.finish_entry("element")
    }

    fn end(self) -> Result<(), EncodeError> {
        Counted::end(self)
    }
}

impl ser::SerializeMap for Counted<'_, Serializer<'_>> {
    type Ok = ();
    type Error = EncodeError;

    fn serialize_key<T: Serialize + ?Sized>(&mut self, key: &T) -> Result<(), EncodeError> {
        self.start_entry();
        key.serialize(&mut *self.ser)
    }

    fn serialize_value<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<(), EncodeError> {
        value.serialize(&mut *self.ser)?;
        self.finish_entry("entry")
    }

    fn end(self) -> Result<(), EncodeError> {
        Counted::end(self)
    }
}

macro_rules! fields {
    ($($trait:ident :: $method:ident),*) => {$(
        impl ser::$trait for Fields<'_, Serializer<'_>> {
            type Ok = ();
            type Error = EncodeError;

            fn $method<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<(), EncodeError> {
                value.serialize(&mut *self.ser)
            }

            fn end(self) -> Result<(), EncodeError> {
                self.ser.leave();
                Ok(())
            }
        }
    )*};
}

fields!(
    SerializeTuple::serialize_element,
    SerializeTupleStruct::serialize_field,
    SerializeTupleVariant::serialize_field
);

macro_rules! named_fields {
    ($($trait:ident),*) => {$(
        impl ser::$trait for Fields<'_, Serializer<'_>> {
            type Ok = ();
            type Error = EncodeError;

            fn serialize_field<T: Serialize + ?Sized>(
                &mut self,
                _key: &'static str,
                value: &T,
            ) -> Result<(), EncodeError> {
                value.serialize(&mut *self.ser)
            }

            fn skip_field(&mut self, key: &'static str) -> Result<(), EncodeError> {
                Err(skipped_field(key))
            }

            fn end(self) -> Result<(), EncodeError> {
                self.ser.leave();
                Ok(())
            }
        }
    )*};
}

named_fields!(SerializeStruct, SerializeStructVariant);

// ---------------------------------------------------------------------------------------
// Decoding
// ---------------------------------------------------------------------------------------

/// Reads serde's data model from a codec.rs [`Reader`].
struct Deserializer<'r, 'de> {
    input: &'r mut Reader<'de>,
    /// Open compound values; see [`MAX_DEPTH`].
    depth: usize,
    /// Bytes the outermost value's inline options and enums may take without charging the
    /// input's budget (see `Serde::decode`).
    allowance: usize,
    /// The sequence element or map key or value just charged for: `(bytes left, depth,
    /// size charged)` where it starts. An option or enum that is that very element is paid
    /// for already.
    prepaid: Option<(usize, usize, usize)>,
}

impl<'r, 'de> Deserializer<'r, 'de> {
    fn new(input: &'r mut Reader<'de>, allowance: usize) -> Self {
        Deserializer {
            input,
            depth: 0,
            allowance,
            prepaid: None,
        }
    }

    /// Charges a collection's element of type `T`, about to be read, against the budget:
    /// `slack` times its size, serde's collections holding more than they fill (see
    /// [`SEQ_SLACK`], [`MAP_SLACK`]).
    fn charge_element<T>(&mut self, slack: usize) -> Result<(), DecodeError> {
        let size = std::mem::size_of::<T>();
        self.input.charge(size.saturating_mul(slack))?;
        self.prepaid = Some((self.input.remaining(), self.depth, size));
        Ok(())
    }

    /// Charges an option or enum of type `T` about to be read. Their encodings are the
    /// smallest for their size (a `None` is one byte, a unit variant four), so one behind a
    /// `Box` (`Vec<Box<Option<Big>>>`, a recursive tree) would allocate far more than the
    /// bytes it took: each is charged its size, unless it is the element just charged, or
    /// the outermost value's allowance covers it.
    fn charge_tagged<T>(&mut self) -> Result<(), DecodeError> {
        let size = std::mem::size_of::<T>();
        if let Some((remaining, depth, paid)) = self.prepaid.take() {
            if remaining == self.input.remaining() && depth == self.depth && paid >= size {
                return Ok(());
            }
        }
        let covered = size.min(self.allowance);
        self.allowance -= covered;
        self.input.charge(size - covered)
    }

    /// Runs `read` one level deeper, failing first if that is past [`MAX_DEPTH`].
    fn nested<T>(
        &mut self,
        read: impl FnOnce(&mut Self) -> Result<T, DecodeError>,
    ) -> Result<T, DecodeError> {
        if self.depth >= MAX_DEPTH {
            return Err(DecodeError::new(too_deep()));
        }
        self.depth += 1;
        let result = read(self);
        self.depth -= 1;
        result
    }

    /// A `u64` count then that many bytes, the count checked before anything is taken.
    fn counted_bytes(&mut self) -> Result<&'de [u8], DecodeError> {
        let len = self.input.take_count(1)?;
        // The visitor may copy them (into a `String`, a `Vec<u8>`).
        self.input.charge(len)?;
        self.input.take(len)
    }

    /// Hands `count` elements (or entries, for a map) to `visitor`, which must read them
    /// all: one left unread would leave the input misaligned.
    fn elements<V: Visitor<'de>>(
        &mut self,
        count: usize,
        visitor: V,
        items: Items,
    ) -> Result<V::Value, DecodeError> {
        let mut elements = Elements {
            de: self,
            left: count,
            value_pending: false,
            items,
            remaining_before: 0,
        };
        let value = if items == Items::CountedMap {
            visitor.visit_map(&mut elements)?
        } else {
            visitor.visit_seq(&mut elements)?
        };
        if elements.left != 0 || elements.value_pending {
            return Err(DecodeError::new(format!(
                "the visitor left {} of {count} elements unread",
                elements.left + usize::from(elements.value_pending)
            )));
        }
        Ok(value)
    }
}

/// Not in the format: the bytes say nothing about their type.
fn not_self_describing(what: &str) -> DecodeError {
    DecodeError::new(format!(
        "{what} is not supported: the process pool's encoding is not self-describing (no \
         types or names in the bytes), so untagged and internally tagged enums, \
         #[serde(flatten)] and self-describing types like serde_json::Value cannot be decoded"
    ))
}

macro_rules! fixed_width {
    ($($method:ident => $visit:ident($ty:ty)),* $(,)?) => {$(
        fn $method<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DecodeError> {
            visitor.$visit(<$ty>::decode(self.input)?)
        }
    )*};
}

impl<'de> de::Deserializer<'de> for &mut Deserializer<'_, 'de> {
    type Error = DecodeError;

    fn is_human_readable(&self) -> bool {
        false
    }

    fn deserialize_any<V: Visitor<'de>>(self, _visitor: V) -> Result<V::Value, DecodeError> {
        Err(not_self_describing("deserialize_any"))
    }

    fn deserialize_ignored_any<V: Visitor<'de>>(
        self,
        _visitor: V,
    ) -> Result<V::Value, DecodeError> {
        Err(not_self_describing(
            "skipping a value (deserialize_ignored_any)",
        ))
    }

    fn deserialize_identifier<V: Visitor<'de>>(self, _visitor: V) -> Result<V::Value, DecodeError> {
        Err(not_self_describing(
            "a field or variant name (deserialize_identifier)",
        ))
    }

    fn deserialize_bool<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DecodeError> {
        visitor.visit_bool(bool::decode(self.input)?)
    }

    fixed_width! {
        deserialize_i8 => visit_i8(i8),
        deserialize_i16 => visit_i16(i16),
        deserialize_i32 => visit_i32(i32),
        deserialize_i64 => visit_i64(i64),
        deserialize_i128 => visit_i128(i128),
        deserialize_u8 => visit_u8(u8),
        deserialize_u16 => visit_u16(u16),
        deserialize_u32 => visit_u32(u32),
        deserialize_u64 => visit_u64(u64),
        deserialize_u128 => visit_u128(u128),
        deserialize_f32 => visit_f32(f32),
        deserialize_f64 => visit_f64(f64),
        deserialize_char => visit_char(char),
    }

    fn deserialize_str<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DecodeError> {
        match std::str::from_utf8(self.counted_bytes()?) {
            Ok(text) => visitor.visit_borrowed_str(text),
            Err(err) => Err(DecodeError::new(format!("string is not UTF-8: {err}"))),
        }
    }

    fn deserialize_string<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DecodeError> {
        self.deserialize_str(visitor)
    }

    fn deserialize_bytes<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DecodeError> {
        visitor.visit_borrowed_bytes(self.counted_bytes()?)
    }

    fn deserialize_byte_buf<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DecodeError> {
        self.deserialize_bytes(visitor)
    }

    fn deserialize_option<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DecodeError> {
        self.charge_tagged::<V::Value>()?;
        match u8::decode(self.input)? {
            0 => visitor.visit_none(),
            1 => self.nested(|de| visitor.visit_some(de)),
            other => Err(DecodeError::new(format!("{other} is not an Option tag"))),
        }
    }

    fn deserialize_unit<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DecodeError> {
        visitor.visit_unit()
    }

    fn deserialize_unit_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        visitor: V,
    ) -> Result<V::Value, DecodeError> {
        visitor.visit_unit()
    }

    fn deserialize_newtype_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        visitor: V,
    ) -> Result<V::Value, DecodeError> {
        self.nested(|de| visitor.visit_newtype_struct(de))
    }

    fn deserialize_seq<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DecodeError> {
        self.nested(|de| {
            // At least one byte per element: the encoding side refuses zero-sized ones.
            let count = de.input.take_count(1)?;
            de.elements(count, visitor, Items::Counted)
        })
    }

    fn deserialize_tuple<V: Visitor<'de>>(
        self,
        len: usize,
        visitor: V,
    ) -> Result<V::Value, DecodeError> {
        self.nested(|de| de.elements(len, visitor, Items::Fields))
    }

    fn deserialize_tuple_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        len: usize,
        visitor: V,
    ) -> Result<V::Value, DecodeError> {
        self.deserialize_tuple(len, visitor)
    }

    fn deserialize_map<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DecodeError> {
        self.nested(|de| {
            // At least one byte per entry, key and value together.
            let count = de.input.take_count(1)?;
            de.elements(count, visitor, Items::CountedMap)
        })
    }

    fn deserialize_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        fields: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, DecodeError> {
        self.deserialize_tuple(fields.len(), visitor)
    }

    fn deserialize_enum<V: Visitor<'de>>(
        self,
        _name: &'static str,
        _variants: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, DecodeError> {
        self.charge_tagged::<V::Value>()?;
        self.nested(|de| visitor.visit_enum(de))
    }
}

/// What [`Deserializer::elements`] reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Items {
    /// The fields of a tuple or struct: a fixed number, any of which may be zero-sized.
    Fields,
    /// A sequence after its count: each element takes at least one byte.
    Counted,
    /// A map after its count: each entry (key and value together) takes at least one byte.
    CountedMap,
}

/// The elements of one sequence, tuple or struct, or the entries of one map.
struct Elements<'d, 'r, 'de> {
    de: &'d mut Deserializer<'r, 'de>,
    left: usize,
    /// A map key was read and its value not yet.
    value_pending: bool,
    items: Items,
    /// The input left before the current counted element (for a map entry: before its key).
    remaining_before: usize,
}

impl Elements<'_, '_, '_> {
    /// Marks the start of a counted element.
    fn element_starts(&mut self) {
        self.remaining_before = self.de.input.remaining();
    }

    /// A counted element that took no bytes is an error: the count was checked against the
    /// bytes left on the promise of one byte per element, and without it a huge count of
    /// zero-sized elements would keep the decoder busy for `count` rounds on no input.
    fn element_ends(&self) -> Result<(), DecodeError> {
        if self.items != Items::Fields && self.de.input.remaining() == self.remaining_before {
            return Err(DecodeError::new(
                "a counted element took no bytes (zero-sized elements cannot be counted)",
            ));
        }
        Ok(())
    }
}

impl<'de> SeqAccess<'de> for Elements<'_, '_, 'de> {
    type Error = DecodeError;

    fn next_element_seed<T: DeserializeSeed<'de>>(
        &mut self,
        seed: T,
    ) -> Result<Option<T::Value>, DecodeError> {
        if self.left == 0 {
            return Ok(None);
        }
        self.left -= 1;
        if self.items != Items::Fields {
            // A field is inline in its struct; an element is in the collection's buffer.
            self.de.charge_element::<T::Value>(SEQ_SLACK)?;
        }
        self.element_starts();
        let element = seed.deserialize(&mut *self.de)?;
        self.element_ends()?;
        Ok(Some(element))
    }

    /// None: serde's collections reserve room for the hinted number of elements before
    /// reading any, and a count is only checked against the bytes left, so a hint would let
    /// every level of a nested input reserve far more than the input could ever fill.
    fn size_hint(&self) -> Option<usize> {
        None
    }
}

impl<'de> MapAccess<'de> for Elements<'_, '_, 'de> {
    type Error = DecodeError;

    fn next_key_seed<K: DeserializeSeed<'de>>(
        &mut self,
        seed: K,
    ) -> Result<Option<K::Value>, DecodeError> {
        if self.left == 0 {
            return Ok(None);
        }
        if self.value_pending {
            return Err(DecodeError::new(
                "a map key was read twice without its value",
            ));
        }
        self.left -= 1;
        self.value_pending = true;
        // The control byte of a hash map's slot, with the key.
        self.de.input.charge(MAP_SLACK)?;
        self.de.charge_element::<K::Value>(MAP_SLACK)?;
        self.element_starts();
        seed.deserialize(&mut *self.de).map(Some)
    }

    fn next_value_seed<V: DeserializeSeed<'de>>(
        &mut self,
        seed: V,
    ) -> Result<V::Value, DecodeError> {
        if !self.value_pending {
            return Err(DecodeError::new("a map value was read before its key"));
        }
        self.value_pending = false;
        self.de.charge_element::<V::Value>(MAP_SLACK)?;
        let value = seed.deserialize(&mut *self.de)?;
        self.element_ends()?;
        Ok(value)
    }

    /// None, as for sequences.
    fn size_hint(&self) -> Option<usize> {
        None
    }
}

impl<'de> EnumAccess<'de> for &mut Deserializer<'_, 'de> {
    type Error = DecodeError;
    type Variant = Self;

    fn variant_seed<V: DeserializeSeed<'de>>(
        self,
        seed: V,
    ) -> Result<(V::Value, Self), DecodeError> {
        // The variant's index; the enum's own visitor rejects one it does not have.
        let index = u32::decode(self.input)?;
        let variant =
            seed.deserialize(IntoDeserializer::<DecodeError>::into_deserializer(index))?;
        Ok((variant, self))
    }
}

impl<'de> VariantAccess<'de> for &mut Deserializer<'_, 'de> {
    type Error = DecodeError;

    fn unit_variant(self) -> Result<(), DecodeError> {
        Ok(())
    }

    fn newtype_variant_seed<T: DeserializeSeed<'de>>(
        self,
        seed: T,
    ) -> Result<T::Value, DecodeError> {
        seed.deserialize(self)
    }

    fn tuple_variant<V: Visitor<'de>>(
        self,
        len: usize,
        visitor: V,
    ) -> Result<V::Value, DecodeError> {
        // Already one level down: `deserialize_enum` counted the enum.
        self.elements(len, visitor, Items::Fields)
    }

    fn struct_variant<V: Visitor<'de>>(
        self,
        fields: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, DecodeError> {
        self.elements(fields.len(), visitor, Items::Fields)
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;
    use crate::process::codec::decode_exact;
    use serde::{Deserialize, Serialize};

    fn encode<T: Serialize>(value: &T) -> Result<Vec<u8>, String> {
        let mut out = Vec::new();
        encode_value(value, &mut out).map_err(|err| err.to_string())?;
        Ok(out)
    }

    /// Serializes the even numbers of `0..n` through an iterator whose length serde does
    /// not know (`collect_seq` of a `filter`), so the count is filled in afterwards.
    struct Evens(u32);

    impl Serialize for Evens {
        fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
            serializer.collect_seq((0..self.0).filter(|n| n % 2 == 0))
        }
    }

    #[test]
    fn sequences_of_unknown_length_get_their_count_afterwards() {
        let bytes = encode(&Evens(7)).unwrap();
        let mut expected = Vec::new();
        vec![0u32, 2, 4, 6].encode(&mut expected);
        assert_eq!(bytes, expected);
        assert_eq!(
            decode_exact::<Serde<Vec<u32>>>(&bytes).unwrap().0,
            [0, 2, 4, 6]
        );
    }

    #[derive(Debug, PartialEq, Serialize, Deserialize)]
    struct Unit;

    #[test]
    fn zero_sized_elements_are_refused_when_encoding() {
        // Empty is fine; one zero-sized element is not (the decoder could not bound it).
        assert_eq!(encode(&Vec::<()>::new()).unwrap(), [0; 8]);
        let err = encode(&vec![(), ()]).unwrap_err();
        assert!(err.contains("element 0 encodes to no bytes"), "{err}");
        let err = encode(&vec![Unit]).unwrap_err();
        assert!(err.contains("no bytes"), "{err}");
        let err = encode(&std::collections::BTreeMap::from([((), ())])).unwrap_err();
        assert!(err.contains("entry 0 encodes to no bytes"), "{err}");
        // A zero-sized key is fine when its value has bytes, and zero-sized values are fine
        // outside sequences.
        assert!(encode(&std::collections::BTreeMap::from([((), 1u8)])).is_ok());
        assert_eq!(encode(&((), Unit, 5u8)).unwrap(), [5]);
        // The decoding side of the rule: 3 elements cannot fit in no bytes.
        let mut bytes = Vec::new();
        3u64.encode(&mut bytes);
        assert!(decode_exact::<Serde<Vec<()>>>(&bytes).is_err());
    }

    #[derive(Debug, PartialEq, Serialize, Deserialize)]
    enum List {
        Nil,
        Cons(u8, Box<List>),
    }

    fn list(len: usize) -> List {
        (0..len).fold(List::Nil, |tail, n| List::Cons(n as u8, Box::new(tail)))
    }

    #[test]
    fn depth_is_limited_alike_on_both_sides() {
        // Each Cons is one level (the enum); the tuple variant's fields are part of it.
        let deepest = list(MAX_DEPTH - 1);
        let bytes = encode(&deepest).unwrap();
        assert_eq!(decode_exact::<Serde<List>>(&bytes).unwrap().0, deepest);

        let err = encode(&list(MAX_DEPTH)).unwrap_err();
        assert!(err.contains("deeper than 256"), "{err}");

        // A crafted input a thousand times deeper than allowed: an error, not a stack
        // overflow.
        let mut bytes = Vec::new();
        for _ in 0..MAX_DEPTH * 1000 {
            bytes.extend_from_slice(&1u32.to_le_bytes());
            bytes.push(0);
        }
        bytes.extend_from_slice(&0u32.to_le_bytes());
        let err = decode_exact::<Serde<List>>(&bytes).unwrap_err();
        assert!(err.message().contains("deeper than 256"), "{err}");
    }

    #[derive(Serialize)]
    struct Skips {
        a: u8,
        #[serde(skip_serializing_if = "Option::is_none")]
        b: Option<u8>,
    }

    #[test]
    fn skipped_fields_and_failing_impls_are_encode_errors() {
        assert_eq!(encode(&Skips { a: 1, b: Some(2) }).unwrap(), [1, 1, 2]);
        let err = encode(&Skips { a: 1, b: None }).unwrap_err();
        assert!(err.contains("field `b` was skipped"), "{err}");

        struct Fails;
        impl Serialize for Fails {
            fn serialize<S: serde::Serializer>(&self, _: S) -> Result<S::Ok, S::Error> {
                Err(ser::Error::custom("not today"))
            }
        }
        assert_eq!(encode(&Fails).unwrap_err(), "not today");

        // Through `Encode`: a panic naming the type, and `out` left as it was.
        let mut out = vec![9];
        let panic = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            Serde((7u8, Fails)).encode(&mut out)
        }))
        .unwrap_err();
        let message = panic.downcast_ref::<String>().unwrap();
        assert!(message.contains("cannot encode a (u8, "), "{message}");
        assert!(message.ends_with("not today"), "{message}");
        assert_eq!(out, [9]);
    }

    /// Reads one element of a two-element sequence and stops.
    #[derive(Debug)]
    struct FirstOnly;

    impl<'de> Deserialize<'de> for FirstOnly {
        fn deserialize<D: de::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
            struct Visit;
            impl<'de> Visitor<'de> for Visit {
                type Value = FirstOnly;
                fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                    f.write_str("a sequence")
                }
                fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<FirstOnly, A::Error> {
                    seq.next_element::<u8>()?;
                    Ok(FirstOnly)
                }
            }
            deserializer.deserialize_seq(Visit)
        }
    }

    #[test]
    fn visitors_must_read_every_element() {
        let mut bytes = Vec::new();
        vec![1u8, 2].encode(&mut bytes);
        let err = decode_exact::<Serde<FirstOnly>>(&bytes).unwrap_err();
        assert!(
            err.message().contains("left 1 of 2 elements unread"),
            "{err}"
        );
    }

    #[test]
    fn self_describing_requests_are_clear_errors() {
        #[derive(Debug, Deserialize)]
        #[serde(untagged)]
        #[allow(dead_code)]
        enum Either {
            Number(u8),
            Text(String),
        }
        let err = decode_exact::<Serde<Either>>(&[1]).unwrap_err();
        assert!(err.message().contains("not self-describing"), "{err}");
    }
}
