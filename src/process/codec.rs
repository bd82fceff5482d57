//! Typed job inputs and outputs: [`Encode`] and [`Decode`], a small binary format.
//!
//! Integers and floats are little-endian and fixed-width (`usize`/`isize` travel as 64 bits),
//! `bool` is one byte (0 or 1), `String` and `Vec<T>` are a `u64` count then their contents,
//! `Option<T>`/`Result<T, E>` a tag byte then the payload, tuples their fields in order.
//!
//! Decoding never panics and never trusts a length: a count is checked against the bytes
//! actually left (every value takes at least [`Decode::MIN_ENCODED_LEN`] bytes) before
//! anything is allocated for it.
//!
//! # The allocation bound
//! Decoding `n` bytes allocates at most [`DECODE_ALLOC_FACTOR`] × `n` bytes (64 × `n`): a
//! [`Reader`] carries that budget and decoders charge it before allocating. Tested with a
//! counting allocator in `tests/decode_props.rs`.
//!
//! ```
//! use spindle::process::{Decode, Encode, Reader};
//!
//! let value = (7u32, String::from("seven"), vec![Some(1.5f64), None]);
//! let mut bytes = Vec::new();
//! value.encode(&mut bytes);
//! let mut reader = Reader::new(&bytes);
//! let back = <(u32, String, Vec<Option<f64>>)>::decode(&mut reader).unwrap();
//! reader.finish().unwrap();
//! assert_eq!(back, value);
//! ```

use std::fmt;

/// Decoding `n` bytes allocates at most this many times `n` bytes, plus a few hundred bytes
/// for an error message, whatever the bytes say.
///
/// Each [`Reader`] has a budget of `DECODE_ALLOC_FACTOR × n` bytes, and every decoder
/// charges what it is about to allocate before allocating it ([`Reader::charge`]):
/// `Vec<T>` charges `count × size_of::<T>()` before it reserves, `String` its length. A
/// value that would need more than the budget is a [`DecodeError`], found before the
/// allocation. Checking a count against the bytes left is not enough on its own: a `None`
/// takes one byte but an `Option<T>` takes `size_of::<T>()` or more in memory, so 4 MiB of
/// zero bytes read as a vector of wide options would otherwise reserve gigabytes.
///
/// Sixty-four covers the ratios of in-memory to encoded size that ordinary values reach (a
/// `None` of `Option<String>` is 24 bytes from one; of `Option<u128>`, 32), so real values
/// decode, and only inputs that would amplify more are refused. `Serde<T>` (feature
/// `serde`) charges the same budget; its collections grow by doubling, so its peak is
/// within twice the budget.
pub const DECODE_ALLOC_FACTOR: usize = 64;

/// A value that can be sent to or from a worker process.
///
/// Implemented for integers and floats (little-endian, fixed width; `usize`/`isize` as 64
/// bits), `bool`, `char`, `String`/`str`, `Vec<T>`/`[T]` (a `u64` count, then the items),
/// `Option<T>` and `Result<T, E>` (a tag byte, then the payload) and tuples of up to six.
/// For your own types, implement `Encode`/[`Decode`] (write the fields in order), send them
/// as tuples, or, with the `serde` feature, wrap a serde type in `Serde<T>`, which writes
/// this same encoding (a struct as its fields in order).
pub trait Encode {
    /// Appends this value's encoding to `out`.
    fn encode(&self, out: &mut Vec<u8>);
}

/// A value that can be rebuilt from the bytes [`Encode`] wrote.
pub trait Decode: Sized {
    /// The fewest bytes any value of this type encodes to; at least 1. `Vec<T>` uses it to
    /// reject a count the remaining input cannot hold, before allocating.
    const MIN_ENCODED_LEN: usize = 1;

    /// Reads one value from the front of `input`. Must not panic on any input, and must
    /// [`charge`](Reader::charge) what it allocates before allocating it (the decoders of
    /// the fields it reads charge for themselves).
    fn decode(input: &mut Reader<'_>) -> Result<Self, DecodeError>;
}

/// Why bytes could not be decoded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DecodeError {
    message: String,
}

impl DecodeError {
    /// An error with the given explanation.
    pub fn new(message: impl Into<String>) -> DecodeError {
        DecodeError {
            message: message.into(),
        }
    }

    /// The explanation.
    pub fn message(&self) -> &str {
        &self.message
    }
}

impl fmt::Display for DecodeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for DecodeError {}

/// A cursor over bytes being decoded, with the allocation budget of what it decodes (see
/// [`DECODE_ALLOC_FACTOR`]).
#[derive(Debug, Clone)]
pub struct Reader<'a> {
    bytes: &'a [u8],
    /// Heap bytes the decoders may still allocate.
    budget: usize,
    /// The input's length when the reader was made.
    #[cfg_attr(not(feature = "serde"), allow(dead_code))] // read by `Serde<T>` only
    start_len: usize,
}

impl<'a> Reader<'a> {
    /// A reader at the start of `bytes`, with a budget of [`DECODE_ALLOC_FACTOR`] ×
    /// `bytes.len()` heap bytes.
    pub fn new(bytes: &'a [u8]) -> Reader<'a> {
        Reader {
            bytes,
            budget: bytes.len().saturating_mul(DECODE_ALLOC_FACTOR),
            start_len: bytes.len(),
        }
    }

    /// Nothing has been read yet: the value about to be decoded is the outermost one.
    #[cfg_attr(not(feature = "serde"), allow(dead_code))]
    pub(crate) fn at_start(&self) -> bool {
        self.bytes.len() == self.start_len
    }

    /// Charges `bytes` heap bytes, about to be allocated, against the budget; an error if
    /// they do not fit (nothing is charged then).
    pub fn charge(&mut self, bytes: usize) -> Result<(), DecodeError> {
        match self.budget.checked_sub(bytes) {
            Some(left) => {
                self.budget = left;
                Ok(())
            }
            None => Err(DecodeError::new(format!(
                "the decoded value would take more than {DECODE_ALLOC_FACTOR} times its \
                 encoded size in memory ({bytes} more bytes asked, {} left of the budget)",
                self.budget
            ))),
        }
    }

    /// Charges `count` values of `T` (a vector's buffer) against the budget.
    pub fn charge_for<T>(&mut self, count: usize) -> Result<(), DecodeError> {
        let bytes = count.saturating_mul(std::mem::size_of::<T>());
        self.charge(bytes)
    }

    /// Bytes not read yet.
    pub fn remaining(&self) -> usize {
        self.bytes.len()
    }

    /// Takes the next `n` bytes.
    pub fn take(&mut self, n: usize) -> Result<&'a [u8], DecodeError> {
        if n > self.bytes.len() {
            return Err(DecodeError::new(format!(
                "input ends early: {n} bytes needed, {} left",
                self.bytes.len()
            )));
        }
        let (head, tail) = self.bytes.split_at(n);
        self.bytes = tail;
        Ok(head)
    }

    /// Takes the next `N` bytes as an array.
    pub fn take_array<const N: usize>(&mut self) -> Result<[u8; N], DecodeError> {
        let mut array = [0u8; N];
        array.copy_from_slice(self.take(N)?);
        Ok(array)
    }

    /// Reads a `u64` count of values of `min_len` bytes or more each, checking that the
    /// rest of the input can hold that many.
    pub fn take_count(&mut self, min_len: usize) -> Result<usize, DecodeError> {
        let count = u64::from_le_bytes(self.take_array()?);
        let fits = (self.bytes.len() / min_len.max(1)) as u64;
        if count > fits {
            return Err(DecodeError::new(format!(
                "count {count} cannot fit in the {} bytes left",
                self.bytes.len()
            )));
        }
        Ok(count as usize)
    }

    /// Succeeds if every byte was read.
    pub fn finish(self) -> Result<(), DecodeError> {
        if self.bytes.is_empty() {
            Ok(())
        } else {
            Err(DecodeError::new(format!(
                "{} unexpected bytes after the value",
                self.bytes.len()
            )))
        }
    }
}

/// Decodes exactly one `T` from `bytes`: trailing bytes are an error.
pub fn decode_exact<T: Decode>(bytes: &[u8]) -> Result<T, DecodeError> {
    let mut reader = Reader::new(bytes);
    let value = T::decode(&mut reader)?;
    reader.finish()?;
    Ok(value)
}

fn encode_count(count: usize, out: &mut Vec<u8>) {
    out.extend_from_slice(&(count as u64).to_le_bytes());
}

macro_rules! fixed_width {
    ($($ty:ty),*) => {$(
        impl Encode for $ty {
            fn encode(&self, out: &mut Vec<u8>) {
                out.extend_from_slice(&self.to_le_bytes());
            }
        }

        impl Decode for $ty {
            const MIN_ENCODED_LEN: usize = std::mem::size_of::<$ty>();

            fn decode(input: &mut Reader<'_>) -> Result<Self, DecodeError> {
                Ok(<$ty>::from_le_bytes(input.take_array()?))
            }
        }
    )*};
}

fixed_width!(u8, u16, u32, u64, u128, i8, i16, i32, i64, i128, f32, f64);

impl Encode for usize {
    fn encode(&self, out: &mut Vec<u8>) {
        (*self as u64).encode(out);
    }
}

impl Decode for usize {
    const MIN_ENCODED_LEN: usize = 8;

    fn decode(input: &mut Reader<'_>) -> Result<Self, DecodeError> {
        let value = u64::decode(input)?;
        usize::try_from(value)
            .map_err(|_| DecodeError::new(format!("{value} does not fit in a usize")))
    }
}

impl Encode for isize {
    fn encode(&self, out: &mut Vec<u8>) {
        (*self as i64).encode(out);
    }
}

impl Decode for isize {
    const MIN_ENCODED_LEN: usize = 8;

    fn decode(input: &mut Reader<'_>) -> Result<Self, DecodeError> {
        let value = i64::decode(input)?;
        isize::try_from(value)
            .map_err(|_| DecodeError::new(format!("{value} does not fit in an isize")))
    }
}

impl Encode for bool {
    fn encode(&self, out: &mut Vec<u8>) {
        out.push(u8::from(*self));
    }
}

impl Decode for bool {
    fn decode(input: &mut Reader<'_>) -> Result<Self, DecodeError> {
        match u8::decode(input)? {
            0 => Ok(false),
            1 => Ok(true),
            other => Err(DecodeError::new(format!("{other} is not a bool (0 or 1)"))),
        }
    }
}

impl Encode for char {
    fn encode(&self, out: &mut Vec<u8>) {
        u32::from(*self).encode(out);
    }
}

impl Decode for char {
    const MIN_ENCODED_LEN: usize = 4;

    fn decode(input: &mut Reader<'_>) -> Result<Self, DecodeError> {
        let value = u32::decode(input)?;
        char::from_u32(value).ok_or_else(|| DecodeError::new(format!("{value:#x} is not a char")))
    }
}

impl Encode for str {
    fn encode(&self, out: &mut Vec<u8>) {
        encode_count(self.len(), out);
        out.extend_from_slice(self.as_bytes());
    }
}

impl Encode for String {
    fn encode(&self, out: &mut Vec<u8>) {
        self.as_str().encode(out);
    }
}

impl Decode for String {
    const MIN_ENCODED_LEN: usize = 8;

    fn decode(input: &mut Reader<'_>) -> Result<Self, DecodeError> {
        let len = input.take_count(1)?;
        input.charge(len)?;
        let bytes = input.take(len)?;
        match std::str::from_utf8(bytes) {
            Ok(text) => Ok(text.to_owned()),
            Err(err) => Err(DecodeError::new(format!("string is not UTF-8: {err}"))),
        }
    }
}

impl<T: Encode> Encode for [T] {
    fn encode(&self, out: &mut Vec<u8>) {
        encode_count(self.len(), out);
        for item in self {
            item.encode(out);
        }
    }
}

impl<T: Encode> Encode for Vec<T> {
    fn encode(&self, out: &mut Vec<u8>) {
        self.as_slice().encode(out);
    }
}

impl<T: Decode> Decode for Vec<T> {
    const MIN_ENCODED_LEN: usize = 8;

    fn decode(input: &mut Reader<'_>) -> Result<Self, DecodeError> {
        let count = input.take_count(T::MIN_ENCODED_LEN)?;
        // Exactly what `with_capacity` reserves: this is the whole buffer, never regrown.
        input.charge_for::<T>(count)?;
        let mut items = Vec::with_capacity(count);
        for _ in 0..count {
            items.push(T::decode(input)?);
        }
        Ok(items)
    }
}

impl<T: Encode + ?Sized> Encode for &T {
    fn encode(&self, out: &mut Vec<u8>) {
        (**self).encode(out);
    }
}

impl<T: Encode> Encode for Option<T> {
    fn encode(&self, out: &mut Vec<u8>) {
        match self {
            None => out.push(0),
            Some(value) => {
                out.push(1);
                value.encode(out);
            }
        }
    }
}

impl<T: Decode> Decode for Option<T> {
    fn decode(input: &mut Reader<'_>) -> Result<Self, DecodeError> {
        match u8::decode(input)? {
            0 => Ok(None),
            1 => T::decode(input).map(Some),
            other => Err(DecodeError::new(format!("{other} is not an Option tag"))),
        }
    }
}

impl<T: Encode, E: Encode> Encode for Result<T, E> {
    fn encode(&self, out: &mut Vec<u8>) {
        match self {
            Ok(value) => {
                out.push(0);
                value.encode(out);
            }
            Err(err) => {
                out.push(1);
                err.encode(out);
            }
        }
    }
}

impl<T: Decode, E: Decode> Decode for Result<T, E> {
    fn decode(input: &mut Reader<'_>) -> Result<Self, DecodeError> {
        match u8::decode(input)? {
            0 => T::decode(input).map(Ok),
            1 => E::decode(input).map(Err),
            other => Err(DecodeError::new(format!("{other} is not a Result tag"))),
        }
    }
}

macro_rules! tuple {
    ($($name:ident)+) => {
        impl<$($name: Encode),+> Encode for ($($name,)+) {
            #[allow(non_snake_case)]
            fn encode(&self, out: &mut Vec<u8>) {
                let ($($name,)+) = self;
                $($name.encode(out);)+
            }
        }

        impl<$($name: Decode),+> Decode for ($($name,)+) {
            const MIN_ENCODED_LEN: usize = 0 $(+ $name::MIN_ENCODED_LEN)+;

            fn decode(input: &mut Reader<'_>) -> Result<Self, DecodeError> {
                Ok(($($name::decode(input)?,)+))
            }
        }
    };
}

tuple!(A);
tuple!(A B);
tuple!(A B C);
tuple!(A B C D);
tuple!(A B C D E);
tuple!(A B C D E F);

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;

    fn round_trip<T: Encode + Decode + PartialEq + fmt::Debug>(value: T) {
        let mut bytes = Vec::new();
        value.encode(&mut bytes);
        assert_eq!(decode_exact::<T>(&bytes).unwrap(), value);
        // Every strict prefix is rejected, never panics.
        for cut in 0..bytes.len() {
            assert!(
                decode_exact::<T>(&bytes[..cut]).is_err(),
                "prefix {cut} accepted"
            );
        }
    }

    #[test]
    fn values_round_trip_and_truncations_are_errors() {
        round_trip(0u8);
        round_trip(u64::MAX);
        round_trip(-5i32);
        round_trip(i128::MIN);
        round_trip(usize::MAX);
        round_trip(-1isize);
        round_trip(1.25f64);
        round_trip(-0.5f32);
        round_trip(true);
        round_trip('λ');
        round_trip(String::from("héllo"));
        round_trip(String::new());
        round_trip(vec![1u8, 2, 3]);
        round_trip(vec![vec![1u16], vec![], vec![2, 3]]);
        round_trip(Some(String::from("x")));
        round_trip(None::<u32>);
        round_trip(Ok::<u8, String>(3));
        round_trip(Err::<u8, String>("bad".into()));
        round_trip((1u8, -2i64, String::from("t"), vec![true], Some(4.0f64), 'c'));
    }

    #[test]
    fn trailing_bytes_are_an_error() {
        let mut bytes = Vec::new();
        7u32.encode(&mut bytes);
        bytes.push(0);
        let err = decode_exact::<u32>(&bytes).unwrap_err();
        assert!(err.message().contains("1 unexpected bytes"), "{err}");
    }

    #[test]
    fn huge_counts_are_rejected_before_allocating() {
        // A count of 2^64 - 1 elements in a 16-byte input: must fail, not try to allocate.
        let mut bytes = u64::MAX.to_le_bytes().to_vec();
        bytes.extend_from_slice(&[0; 8]);
        assert!(decode_exact::<Vec<u64>>(&bytes).is_err());
        assert!(decode_exact::<Vec<u8>>(&bytes).is_err());
        assert!(decode_exact::<String>(&bytes).is_err());
        // 2 elements of at least 8 bytes each cannot fit in 8 bytes.
        let mut bytes = 2u64.to_le_bytes().to_vec();
        bytes.extend_from_slice(&[0; 8]);
        let err = decode_exact::<Vec<u64>>(&bytes).unwrap_err();
        assert!(err.message().contains("cannot fit"), "{err}");
    }

    #[test]
    fn invalid_tags_and_text_are_errors() {
        assert!(decode_exact::<bool>(&[2]).is_err());
        assert!(decode_exact::<Option<u8>>(&[9, 0]).is_err());
        assert!(decode_exact::<Result<u8, u8>>(&[2, 0]).is_err());
        assert!(decode_exact::<char>(&0xD800u32.to_le_bytes()).is_err());
        let mut bytes = 2u64.to_le_bytes().to_vec();
        bytes.extend_from_slice(&[0xff, 0xfe]);
        assert!(decode_exact::<String>(&bytes).is_err());
    }

    #[test]
    fn garbage_never_panics() {
        // A deterministic pseudo-random byte stream (xorshift), fed to several decoders.
        let mut state = 0x9e37_79b9_7f4a_7c15u64;
        let mut decoded_some = 0;
        for len in 0..200 {
            let bytes: Vec<u8> = (0..len)
                .map(|_| {
                    state ^= state << 13;
                    state ^= state >> 7;
                    state ^= state << 17;
                    state as u8
                })
                .collect();
            decoded_some += usize::from(decode_exact::<Vec<String>>(&bytes).is_ok());
            decoded_some += usize::from(decode_exact::<(u8, Option<Vec<u16>>)>(&bytes).is_ok());
            decoded_some += usize::from(decode_exact::<Result<char, bool>>(&bytes).is_ok());
        }
        // Random bytes rarely form a valid value; the point is that none of this panicked.
        assert!(decoded_some < 600);
    }
}
