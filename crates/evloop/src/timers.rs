//! Timer heap with lazy cancellation.
//!
//! The heap holds `(deadline, seq)`; the map holds the live timers by `seq`.
//! Cancelling removes the map entry only; the heap entry is skipped when it
//! surfaces, and the heap is rebuilt when stale entries outnumber live ones.

use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap};
use std::time::Instant;

use crate::HandlerKey;

/// Identifies one timer for [`crate::Ops::cancel_timer`]. Ids are never
/// reused during the loop's lifetime.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct TimerId(pub(crate) u64);

/// What fires when a timer expires.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct TimerEntry {
    pub(crate) key: HandlerKey,
    pub(crate) tag: u64,
}

/// Minimum heap size before stale entries trigger a rebuild.
const COMPACT_MIN: usize = 64;

#[derive(Debug, Default)]
pub(crate) struct Timers {
    heap: BinaryHeap<Reverse<(Instant, u64)>>,
    live: HashMap<u64, TimerEntry>,
    next_seq: u64,
}

impl Timers {
    /// A fresh id that no other timer has or will have.
    pub(crate) fn next_id(&mut self) -> TimerId {
        let id = TimerId(self.next_seq);
        self.next_seq += 1;
        id
    }

    /// Schedules `entry` at `at`.
    pub(crate) fn add(&mut self, at: Instant, entry: TimerEntry) -> TimerId {
        let id = self.next_id();
        self.heap.push(Reverse((at, id.0)));
        self.live.insert(id.0, entry);
        id
    }

    /// Cancels a timer; a no-op for fired, cancelled or unknown ids.
    pub(crate) fn cancel(&mut self, id: TimerId) {
        if self.live.remove(&id.0).is_some() {
            self.compact();
        }
    }

    /// Drops every timer of `key` (its handler is being freed).
    pub(crate) fn purge(&mut self, key: HandlerKey) {
        let before = self.live.len();
        self.live.retain(|_, e| e.key != key);
        if self.live.len() != before {
            self.compact();
        }
    }

    /// Drops every timer.
    pub(crate) fn clear(&mut self) {
        self.heap.clear();
        self.live.clear();
    }

    /// The earliest live deadline, discarding cancelled heap entries on top.
    pub(crate) fn next_deadline(&mut self) -> Option<Instant> {
        while let Some(&Reverse((at, seq))) = self.heap.peek() {
            if self.live.contains_key(&seq) {
                return Some(at);
            }
            self.heap.pop();
        }
        None
    }

    /// Pops the ids of all live timers due at `now`, earliest first (ties in
    /// creation order). Their entries stay in the map until [`Timers::take`],
    /// so a cancel between collection and firing still wins.
    pub(crate) fn expired(&mut self, now: Instant) -> Vec<TimerId> {
        let mut due = Vec::new();
        while let Some(&Reverse((at, seq))) = self.heap.peek() {
            if at > now {
                break;
            }
            self.heap.pop();
            if self.live.contains_key(&seq) {
                due.push(TimerId(seq));
            }
        }
        due
    }

    /// Removes and returns a live timer (it is firing now).
    pub(crate) fn take(&mut self, id: TimerId) -> Option<TimerEntry> {
        self.live.remove(&id.0)
    }

    /// Number of live timers.
    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.live.len()
    }

    fn compact(&mut self) {
        if self.heap.len() > COMPACT_MIN && self.heap.len() > 2 * self.live.len() {
            let live = &self.live;
            self.heap.retain(|Reverse((_, seq))| live.contains_key(seq));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use slotmap::SlotMap;
    use std::time::Duration;

    fn keys() -> (HandlerKey, HandlerKey) {
        let mut m: SlotMap<HandlerKey, ()> = SlotMap::with_key();
        (m.insert(()), m.insert(()))
    }

    #[test]
    fn expired_in_deadline_then_creation_order() {
        let (a, _) = keys();
        let t0 = Instant::now();
        let mut t = Timers::default();
        let late = t.add(
            t0 + Duration::from_millis(20),
            TimerEntry { key: a, tag: 1 },
        );
        let first = t.add(
            t0 + Duration::from_millis(10),
            TimerEntry { key: a, tag: 2 },
        );
        let second = t.add(
            t0 + Duration::from_millis(10),
            TimerEntry { key: a, tag: 3 },
        );
        assert_eq!(t.next_deadline(), Some(t0 + Duration::from_millis(10)));
        assert_eq!(t.expired(t0 + Duration::from_millis(9)), vec![]);
        assert_eq!(
            t.expired(t0 + Duration::from_millis(15)),
            vec![first, second]
        );
        assert_eq!(t.take(first).map(|e| e.tag), Some(2));
        assert_eq!(t.take(second).map(|e| e.tag), Some(3));
        assert_eq!(t.expired(t0 + Duration::from_millis(20)), vec![late]);
    }

    #[test]
    fn cancel_and_purge_are_lazy_but_complete() {
        let (a, b) = keys();
        let t0 = Instant::now();
        let mut t = Timers::default();
        let x = t.add(t0, TimerEntry { key: a, tag: 0 });
        let y = t.add(t0 + Duration::from_secs(1), TimerEntry { key: b, tag: 0 });
        t.add(t0 + Duration::from_secs(2), TimerEntry { key: a, tag: 0 });
        t.cancel(x);
        t.cancel(x);
        assert_eq!(t.next_deadline(), Some(t0 + Duration::from_secs(1)));
        t.purge(b);
        assert_eq!(t.next_deadline(), Some(t0 + Duration::from_secs(2)));
        assert_eq!(t.expired(t0 + Duration::from_secs(5)).len(), 1);
        assert_eq!(t.take(y), None);
    }

    #[test]
    fn heap_is_compacted_when_mostly_cancelled() {
        let (a, _) = keys();
        let t0 = Instant::now();
        let mut t = Timers::default();
        let ids: Vec<_> = (0..1000u64)
            .map(|i| t.add(t0 + Duration::from_secs(i), TimerEntry { key: a, tag: i }))
            .collect();
        for id in &ids[..990] {
            t.cancel(*id);
        }
        assert_eq!(t.len(), 10);
        assert!(
            t.heap.len() <= 2 * COMPACT_MIN.max(10),
            "heap kept {} stale entries",
            t.heap.len()
        );
    }
}
