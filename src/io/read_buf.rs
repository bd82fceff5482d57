//! [`ReadBuf`]: a buffer over possibly-uninitialised memory that a reader fills from the front.

use std::fmt;
use std::mem::MaybeUninit;

/// A borrowed buffer a reader fills without the caller zeroing it first.
///
/// The memory is in three consecutive parts: `filled` (bytes read so far), then initialised but
/// unfilled bytes, then uninitialised bytes. `filled <= initialized <= capacity` always holds,
/// and only safe code can move `filled` up to `initialized`; moving `initialized` up takes
/// [`assume_init`](Self::assume_init), whose caller promises the bytes were written.
///
/// ```
/// use std::mem::MaybeUninit;
/// use spindle::io::ReadBuf;
///
/// let mut storage = [MaybeUninit::<u8>::uninit(); 16];
/// let mut buf = ReadBuf::uninit(&mut storage);
/// buf.put_slice(b"hello");
/// assert_eq!(buf.filled(), b"hello");
/// assert_eq!(buf.remaining(), 11);
/// ```
pub struct ReadBuf<'a> {
    buf: &'a mut [MaybeUninit<u8>],
    filled: usize,
    initialized: usize,
}

impl<'a> ReadBuf<'a> {
    /// A buffer over initialised memory: nothing filled yet, all of it initialised.
    pub fn new(buf: &'a mut [u8]) -> ReadBuf<'a> {
        let initialized = buf.len();
        // SAFETY: `u8` and `MaybeUninit<u8>` have the same layout. The one thing a
        // `&mut [MaybeUninit<u8>]` allows that a `&mut [u8]` does not is writing uninitialised
        // bytes; `ReadBuf` never does (its safe methods write initialised bytes only, and
        // `unfilled_mut`'s callers promise not to), so the `u8`s stay initialised.
        let buf = unsafe { &mut *(buf as *mut [u8] as *mut [MaybeUninit<u8>]) };
        ReadBuf {
            buf,
            filled: 0,
            initialized,
        }
    }

    /// A buffer over memory that may be uninitialised: nothing filled or initialised yet.
    pub fn uninit(buf: &'a mut [MaybeUninit<u8>]) -> ReadBuf<'a> {
        ReadBuf {
            buf,
            filled: 0,
            initialized: 0,
        }
    }

    /// The whole buffer's length.
    pub fn capacity(&self) -> usize {
        self.buf.len()
    }

    /// How many more bytes fit: `capacity() - filled().len()`.
    pub fn remaining(&self) -> usize {
        self.capacity() - self.filled
    }

    /// The bytes filled so far.
    pub fn filled(&self) -> &[u8] {
        // SAFETY: `filled <= initialized`, and the first `initialized` bytes are initialised
        // (the type's invariant), so this is a slice of initialised `u8`s.
        unsafe { &*(&self.buf[..self.filled] as *const [MaybeUninit<u8>] as *const [u8]) }
    }

    /// The bytes filled so far, mutably.
    pub fn filled_mut(&mut self) -> &mut [u8] {
        // SAFETY: as in `filled`; a `&mut [u8]` can only write initialised bytes.
        unsafe { &mut *(&mut self.buf[..self.filled] as *mut [MaybeUninit<u8>] as *mut [u8]) }
    }

    /// The initialised part (filled or not).
    pub fn initialized(&self) -> &[u8] {
        // SAFETY: the first `initialized` bytes are initialised (the type's invariant).
        unsafe { &*(&self.buf[..self.initialized] as *const [MaybeUninit<u8>] as *const [u8]) }
    }

    /// Zeroes whatever of the unfilled part is not initialised yet, then returns the whole
    /// unfilled part as initialised bytes to write into (then [`advance`](Self::advance)).
    pub fn initialize_unfilled(&mut self) -> &mut [u8] {
        self.initialize_unfilled_to(self.remaining())
    }

    /// Like [`initialize_unfilled`](Self::initialize_unfilled), for the first `n` unfilled
    /// bytes only.
    ///
    /// # Panics
    /// If `n > remaining()`.
    pub fn initialize_unfilled_to(&mut self, n: usize) -> &mut [u8] {
        assert!(
            n <= self.remaining(),
            "n exceeds the buffer's remaining space"
        );
        let end = self.filled + n;
        if self.initialized < end {
            for byte in &mut self.buf[self.initialized..end] {
                byte.write(0);
            }
            self.initialized = end;
        }
        // SAFETY: `end <= initialized` now, so `filled..end` is initialised.
        unsafe { &mut *(&mut self.buf[self.filled..end] as *mut [MaybeUninit<u8>] as *mut [u8]) }
    }

    /// The unfilled part, possibly uninitialised, for a reader that writes into it directly
    /// (a `recv` into the buffer); then [`assume_init`](Self::assume_init) and
    /// [`advance`](Self::advance) by how much it wrote.
    ///
    /// # Safety
    /// The caller must not write uninitialised bytes (`MaybeUninit::uninit()`) into the slice:
    /// some of it may be initialised memory that a `&mut [u8]` (from [`new`](Self::new)) still
    /// treats as initialised.
    pub unsafe fn unfilled_mut(&mut self) -> &mut [MaybeUninit<u8>] {
        &mut self.buf[self.filled..]
    }

    /// Marks the first `n` unfilled bytes initialised (it never un-initialises).
    ///
    /// # Safety
    /// The first `n` bytes of the unfilled part must have been initialised.
    pub unsafe fn assume_init(&mut self, n: usize) {
        let end = self.filled + n;
        if end > self.initialized {
            self.initialized = end;
        }
    }

    /// Counts `n` more bytes as filled.
    ///
    /// # Panics
    /// If that would fill bytes that are not initialised.
    pub fn advance(&mut self, n: usize) {
        let filled = self.filled.checked_add(n).expect("filled overflow");
        self.set_filled(filled);
    }

    /// Sets how many bytes are filled (it may go down, e.g. to drop a partial read).
    ///
    /// # Panics
    /// If `n` is past the initialised part.
    pub fn set_filled(&mut self, n: usize) {
        assert!(
            n <= self.initialized,
            "filled must not become larger than initialized"
        );
        self.filled = n;
    }

    /// Forgets the filled bytes (they stay initialised).
    pub fn clear(&mut self) {
        self.filled = 0;
    }

    /// Appends `bytes` to the filled part.
    ///
    /// # Panics
    /// If `bytes` does not fit (`bytes.len() > remaining()`).
    pub fn put_slice(&mut self, bytes: &[u8]) {
        assert!(
            bytes.len() <= self.remaining(),
            "put_slice: {} bytes do not fit in {} remaining",
            bytes.len(),
            self.remaining()
        );
        let end = self.filled + bytes.len();
        for (slot, byte) in self.buf[self.filled..end].iter_mut().zip(bytes) {
            slot.write(*byte);
        }
        if self.initialized < end {
            self.initialized = end;
        }
        self.filled = end;
    }
}

impl fmt::Debug for ReadBuf<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ReadBuf")
            .field("filled", &self.filled)
            .field("initialized", &self.initialized)
            .field("capacity", &self.capacity())
            .finish()
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;

    #[test]
    fn uninit_buffer_fills_from_the_front() {
        let mut storage = [MaybeUninit::<u8>::uninit(); 8];
        let mut buf = ReadBuf::uninit(&mut storage);
        assert_eq!((buf.capacity(), buf.remaining()), (8, 8));
        assert!(buf.initialized().is_empty());
        buf.put_slice(b"ab");
        let unfilled = buf.initialize_unfilled_to(3);
        unfilled.copy_from_slice(b"cde");
        buf.advance(3);
        assert_eq!(buf.filled(), b"abcde");
        assert_eq!(buf.initialized().len(), 5);
        buf.filled_mut()[0] = b'A';
        assert_eq!(buf.filled(), b"Abcde");
        buf.set_filled(1);
        assert_eq!(buf.filled(), b"A");
        assert_eq!(
            buf.initialized().len(),
            5,
            "shrinking filled keeps the init"
        );
        buf.clear();
        assert_eq!(buf.remaining(), 8);
        assert_eq!(buf.initialize_unfilled().len(), 8);
        assert_eq!(buf.initialized().len(), 8);
    }

    #[test]
    fn new_buffer_is_initialised() {
        let mut storage = [7u8; 4];
        let mut buf = ReadBuf::new(&mut storage);
        assert_eq!(buf.initialized(), &[7, 7, 7, 7]);
        buf.advance(2); // initialised memory may be filled without writing
        assert_eq!(buf.filled(), &[7, 7]);
    }

    #[test]
    fn assume_init_after_a_raw_write() {
        let mut storage = [MaybeUninit::<u8>::uninit(); 4];
        let mut buf = ReadBuf::uninit(&mut storage);
        // SAFETY: writes initialised bytes only.
        let unfilled = unsafe { buf.unfilled_mut() };
        unfilled[0].write(1);
        unfilled[1].write(2);
        // SAFETY: the first two unfilled bytes were written just above.
        unsafe { buf.assume_init(2) };
        buf.advance(2);
        assert_eq!(buf.filled(), &[1, 2]);
    }

    #[test]
    #[should_panic(expected = "filled must not become larger than initialized")]
    fn advancing_past_the_initialised_part_panics() {
        let mut storage = [MaybeUninit::<u8>::uninit(); 4];
        ReadBuf::uninit(&mut storage).advance(1);
    }

    #[test]
    #[should_panic(expected = "do not fit")]
    fn put_slice_past_the_end_panics() {
        let mut storage = [0u8; 2];
        ReadBuf::new(&mut storage).put_slice(b"abc");
    }
}
