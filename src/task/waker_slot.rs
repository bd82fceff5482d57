//! The rule for a stored waker: how a future that returns `Pending` leaves its waker in an
//! `Option<Waker>` that another thread takes and wakes.

use std::task::Waker;

/// Stores `waker` in `slot`, unless the waker already there wakes the same task
/// ([`Waker::will_wake`]); returns the waker it displaced, if any.
///
/// A future re-registers on every `Pending` poll because the task may have been given a
/// different waker since the last one (another runtime, a combinator's per-branch waker), and
/// only the newest is sure to reach it. Keeping an equivalent waker saves a clone and a drop.
///
/// The displaced waker is handed back instead of dropped here: dropping a waker can run any
/// code (a user's `Wake` impl, or the last reference to a task freeing its future), and that
/// code may take the lock that guards `slot`. The caller drops it once the lock is released.
#[must_use = "drop the displaced waker after releasing the lock that guards the slot, not under it"]
pub(crate) fn register_waker(slot: &mut Option<Waker>, waker: &Waker) -> Option<Waker> {
    match slot {
        Some(stored) if stored.will_wake(waker) => None,
        _ => slot.replace(waker.clone()),
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::register_waker;
    use std::sync::Arc;
    use std::task::{Wake, Waker};

    struct Noop;

    impl Wake for Noop {
        fn wake(self: Arc<Self>) {}
    }

    #[test]
    fn an_empty_slot_takes_the_waker() {
        let waker = Waker::from(Arc::new(Noop));
        let mut slot = None;
        assert!(register_waker(&mut slot, &waker).is_none());
        assert!(slot.is_some_and(|stored| stored.will_wake(&waker)));
    }

    #[test]
    fn an_equivalent_waker_is_kept_and_another_is_replaced_and_handed_back() {
        let first = Waker::from(Arc::new(Noop));
        let second = Waker::from(Arc::new(Noop));
        let mut slot = Some(first.clone());
        assert!(register_waker(&mut slot, &first.clone()).is_none());
        let displaced = register_waker(&mut slot, &second).expect("a different task's waker");
        assert!(displaced.will_wake(&first));
        assert!(slot.is_some_and(|stored| stored.will_wake(&second)));
    }
}
