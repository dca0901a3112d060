//! Injectable time source for timers.

use std::cell::Cell;
use std::rc::Rc;
use std::time::{Duration, Instant};

/// Where the loop reads the current time for its timers ([`crate::Ops::now`]).
pub trait Clock {
    /// The current instant.
    fn now(&self) -> Instant;
}

/// The real monotonic clock (`Instant::now`).
#[derive(Clone, Copy, Debug, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> Instant {
        Instant::now()
    }
}

/// A manually driven clock for tests. Clones share one cell, so a test keeps
/// a clone and moves time while the loop holds another.
#[derive(Clone, Debug)]
pub struct FakeClock {
    now: Rc<Cell<Instant>>,
}

impl FakeClock {
    /// A fake clock that starts at the real current instant and then stands
    /// still until told otherwise.
    pub fn new() -> Self {
        Self {
            now: Rc::new(Cell::new(Instant::now())),
        }
    }

    /// Moves time forward by `by`.
    ///
    /// # Panics
    /// If the result does not fit in an `Instant` (test misuse).
    pub fn advance(&self, by: Duration) {
        let next = self
            .now
            .get()
            .checked_add(by)
            .expect("FakeClock advanced past Instant's range");
        self.now.set(next);
    }

    /// Sets the current instant (it may go backwards; timers then wait).
    pub fn set(&self, at: Instant) {
        self.now.set(at);
    }
}

impl Default for FakeClock {
    fn default() -> Self {
        Self::new()
    }
}

impl Clock for FakeClock {
    fn now(&self) -> Instant {
        self.now.get()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fake_clock_clones_share_time() {
        let a = FakeClock::new();
        let b = a.clone();
        let t0 = a.now();
        b.advance(Duration::from_secs(3));
        assert_eq!(a.now(), t0 + Duration::from_secs(3));
        a.set(t0);
        assert_eq!(b.now(), t0);
    }
}
