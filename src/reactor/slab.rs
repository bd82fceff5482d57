//! The table from mio tokens to registered sources.
//!
//! Slots live in pages that double in size (32, 64, 128, ... slots) and are allocated only
//! when the earlier ones are full, so a runtime with a handful of sockets stays small and one
//! with a million never copies its table. A freed slot is reused, its **generation** bumped.
//!
//! A token is `generation << INDEX_BITS | index`. The driver may still hold an event for a
//! source that was deregistered a moment ago; if the slot has been reused since, the
//! generations differ and the event is dropped, so a stale token never wakes the slot's new
//! owner (test `stale_token_does_not_reach_the_new_owner`).

use std::io;

use crate::loom::sync::Arc;

use super::scheduled_io::ScheduledIo;

/// Bits of a token that index the slab: up to 16,777,216 live sources.
const INDEX_BITS: u32 = 24;
const INDEX_MASK: usize = (1 << INDEX_BITS) - 1;
/// Generations use the remaining bits but the top one, which keeps every slab token away
/// from the driver's own waker token (`usize::MAX`).
const GENERATION_MASK: usize = (1 << (usize::BITS - INDEX_BITS - 1)) - 1;
/// Slots in the first page; page `p` holds `FIRST_PAGE << p`.
pub(crate) const FIRST_PAGE: usize = 32;

#[derive(Debug)]
struct Slot {
    generation: usize,
    io: Option<Arc<ScheduledIo>>,
}

/// Registered sources, addressed by mio token.
#[derive(Debug, Default)]
pub(crate) struct IoSlab {
    pages: Vec<Vec<Slot>>,
    free: Vec<usize>,
    live: usize,
}

/// Page and offset of slab index `index`.
fn locate(index: usize) -> (usize, usize) {
    // Page p starts at FIRST_PAGE * (2^p - 1); shifting by FIRST_PAGE makes starts powers of two.
    let shifted = index + FIRST_PAGE;
    let page =
        (usize::BITS - 1 - shifted.leading_zeros()) as usize - FIRST_PAGE.trailing_zeros() as usize;
    (page, shifted - (FIRST_PAGE << page))
}

impl IoSlab {
    pub(crate) fn new() -> IoSlab {
        IoSlab::default()
    }

    /// Number of registered sources.
    pub(crate) fn len(&self) -> usize {
        self.live
    }

    /// Number of allocated pages (for tests).
    #[allow(dead_code)]
    pub(crate) fn pages(&self) -> usize {
        self.pages.len()
    }

    /// Stores `io` and returns its token.
    pub(crate) fn insert(&mut self, io: Arc<ScheduledIo>) -> io::Result<mio::Token> {
        let index = match self.free.pop() {
            Some(index) => index,
            None => {
                let next = self.pages.iter().map(Vec::len).sum::<usize>();
                if next > INDEX_MASK {
                    return Err(io::Error::other(
                        "spindle reactor: more than 2^24 sources registered",
                    ));
                }
                let (page, _) = locate(next);
                if page == self.pages.len() {
                    self.pages.push(Vec::with_capacity(FIRST_PAGE << page));
                }
                self.pages[page].push(Slot {
                    generation: 0,
                    io: None,
                });
                next
            }
        };
        let (page, offset) = locate(index);
        let slot = &mut self.pages[page][offset];
        debug_assert!(slot.io.is_none());
        slot.io = Some(io);
        self.live += 1;
        Ok(mio::Token((slot.generation << INDEX_BITS) | index))
    }

    fn slot(&self, token: mio::Token) -> Option<&Slot> {
        let index = token.0 & INDEX_MASK;
        let (page, offset) = locate(index);
        let slot = self.pages.get(page)?.get(offset)?;
        (slot.generation == token.0 >> INDEX_BITS).then_some(slot)
    }

    /// The source registered under `token`, unless it has been removed since.
    pub(crate) fn get(&self, token: mio::Token) -> Option<&Arc<ScheduledIo>> {
        self.slot(token)?.io.as_ref()
    }

    /// Frees the slot of `token`; its next owner gets a new generation.
    pub(crate) fn remove(&mut self, token: mio::Token) -> Option<Arc<ScheduledIo>> {
        self.slot(token)?;
        let index = token.0 & INDEX_MASK;
        let (page, offset) = locate(index);
        let slot = &mut self.pages[page][offset];
        let io = slot.io.take()?;
        slot.generation = (slot.generation + 1) & GENERATION_MASK;
        self.free.push(index);
        self.live -= 1;
        Some(io)
    }

    /// Every registered source.
    pub(crate) fn iter(&self) -> impl Iterator<Item = &Arc<ScheduledIo>> {
        self.pages
            .iter()
            .flatten()
            .filter_map(|slot| slot.io.as_ref())
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;

    #[test]
    fn pages_double() {
        assert_eq!(locate(0), (0, 0));
        assert_eq!(locate(31), (0, 31));
        assert_eq!(locate(32), (1, 0));
        assert_eq!(locate(95), (1, 63));
        assert_eq!(locate(96), (2, 0));
    }

    #[test]
    fn stale_token_does_not_reach_the_new_owner() {
        let mut slab = IoSlab::new();
        let first = Arc::new(ScheduledIo::new());
        let token = slab.insert(first.clone()).unwrap();
        slab.remove(token).unwrap();
        let second = Arc::new(ScheduledIo::new());
        let reused = slab.insert(second.clone()).unwrap();
        assert_eq!(
            reused.0 & INDEX_MASK,
            token.0 & INDEX_MASK,
            "the slot is reused"
        );
        assert!(
            slab.get(token).is_none(),
            "the stale token must not resolve"
        );
        assert!(Arc::ptr_eq(slab.get(reused).unwrap(), &second));
        assert!(
            slab.remove(token).is_none(),
            "a stale remove must not free the new owner"
        );
        assert_eq!(slab.len(), 1);
    }

    #[test]
    fn grows_past_the_first_page() {
        let mut slab = IoSlab::new();
        let tokens: Vec<_> = (0..FIRST_PAGE * 5)
            .map(|_| slab.insert(Arc::new(ScheduledIo::new())).unwrap())
            .collect();
        assert_eq!(slab.pages(), 3); // 32 + 64 + 128 >= 160
        for token in &tokens {
            assert!(slab.get(*token).is_some());
        }
        for token in tokens {
            slab.remove(token).unwrap();
        }
        assert_eq!(slab.len(), 0);
    }
}
