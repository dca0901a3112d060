//! The handler table, the after-batch queues, and the restricted [`Ops`]
//! handle that callbacks get.

use std::collections::VecDeque;
use std::rc::Rc;
use std::time::{Duration, Instant};

use mio::{Interest, Registry};
use slotmap::SlotMap;

use crate::timers::{TimerEntry, Timers};
use crate::{Clock, Handler, HandlerKey, TimerId, token_of};

/// Most rounds of deferred closures and notifications run after one batch. A
/// round runs what was queued before it started; work queued by that work
/// goes to the next round. Leftovers wait for the next loop iteration (whose
/// poll then does not block), so a notify ping-pong cannot starve I/O.
pub const MAX_QUEUE_ROUNDS: usize = 64;

/// Most deferred closures and notifications run after one batch, whatever the
/// number of rounds (bounds fan-out as [`MAX_QUEUE_ROUNDS`] bounds depth).
pub const MAX_QUEUED_PER_BATCH: usize = 4096;

/// A closure queued with [`Ops::defer`] or [`crate::EventLoop::with_ops`].
pub(crate) type Deferred<S> = Box<dyn FnOnce(&mut S, &mut Ops<'_, S>)>;

/// After-batch work, run in FIFO order.
pub(crate) enum Work<S> {
    Defer(Deferred<S>),
    Notify(HandlerKey, u64),
}

/// One handler's entry in the table.
pub(crate) struct Slot<S> {
    /// `None` only while the handler is being dispatched (it is moved out so
    /// that the callback can get `&mut` to the rest of the table via `Ops`).
    pub(crate) handler: Option<Box<dyn Handler<S>>>,
    pub(crate) interest: Interest,
    /// Its source is registered with the poll instance.
    pub(crate) registered: bool,
    /// `remove` was called: no callback any more, freed after the batch.
    pub(crate) removing: bool,
    /// A reregistration with `interest` is queued.
    pub(crate) rereg_queued: bool,
    /// Loop-internal (waker, signal set): not counted, the waker is not
    /// removable.
    pub(crate) internal: bool,
    /// The waker's slot: never removed.
    pub(crate) pinned: bool,
}

impl<S> Slot<S> {
    pub(crate) fn new(handler: Box<dyn Handler<S>>, interest: Interest) -> Self {
        Self {
            handler: Some(handler),
            interest,
            registered: false,
            removing: false,
            rereg_queued: false,
            internal: false,
            pinned: false,
        }
    }
}

/// Everything a callback may touch through [`Ops`].
pub(crate) struct Core<S> {
    pub(crate) handlers: SlotMap<HandlerKey, Slot<S>>,
    pub(crate) queue: VecDeque<Work<S>>,
    /// Removed during this batch, in removal order; freed in the apply step.
    pub(crate) dead: Vec<HandlerKey>,
    /// Added during this batch, in order; registered in the apply step.
    pub(crate) born: Vec<HandlerKey>,
    /// Reregistrations queued during this batch.
    pub(crate) rereg: Vec<HandlerKey>,
    pub(crate) timers: Timers,
    pub(crate) clock: Rc<dyn Clock>,
    pub(crate) quit: bool,
    /// Notifications for the next iteration, after the next poll ([`Ops::notify_next_turn`]).
    pub(crate) next_turn: Vec<(HandlerKey, u64)>,
}

impl<S> Core<S> {
    pub(crate) fn new(clock: Rc<dyn Clock>) -> Self {
        Self {
            handlers: SlotMap::with_key(),
            queue: VecDeque::new(),
            dead: Vec::new(),
            born: Vec::new(),
            rereg: Vec::new(),
            timers: Timers::default(),
            clock,
            quit: false,
            next_turn: Vec::new(),
        }
    }

    pub(crate) fn is_live(&self, key: HandlerKey) -> bool {
        self.handlers.get(key).is_some_and(|s| !s.removing)
    }

    /// Calls `call` on the handler of `key` unless it is gone or marked for
    /// removal. This check runs before every single callback; it is the only
    /// way the loop reaches a handler during a batch.
    pub(crate) fn dispatch(
        &mut self,
        key: HandlerKey,
        state: &mut S,
        call: impl FnOnce(&mut dyn Handler<S>, &mut S, &mut Ops<'_, S>),
    ) -> bool {
        let Some(slot) = self.handlers.get_mut(key) else {
            log::trace!("evloop: nothing for stale key {key:?}");
            return false;
        };
        if slot.removing {
            log::trace!("evloop: {key:?} is being removed, callback skipped");
            return false;
        }
        // Dispatch never nests, so the handler is always present here unless
        // an earlier callback of this handler panicked.
        let Some(mut handler) = slot.handler.take() else {
            return false;
        };
        {
            let mut ops = Ops {
                core: self,
                me: Some(key),
            };
            call(handler.as_mut(), state, &mut ops);
        }
        // Slots are freed only in the apply step, never during a callback.
        match self.handlers.get_mut(key) {
            Some(slot) => slot.handler = Some(handler),
            None => log::error!("evloop: slot of {key:?} vanished during its own callback"),
        }
        true
    }

    /// Runs queued closures and notifications, bounded by
    /// [`MAX_QUEUE_ROUNDS`] and [`MAX_QUEUED_PER_BATCH`].
    pub(crate) fn run_queue(&mut self, state: &mut S) {
        let mut done = 0usize;
        for _ in 0..MAX_QUEUE_ROUNDS {
            let round = self.queue.len();
            if round == 0 {
                return;
            }
            for _ in 0..round {
                if done == MAX_QUEUED_PER_BATCH {
                    return;
                }
                let Some(work) = self.queue.pop_front() else {
                    return;
                };
                done += 1;
                match work {
                    Work::Defer(f) => {
                        let mut ops = Ops {
                            core: self,
                            me: None,
                        };
                        f(state, &mut ops);
                    }
                    Work::Notify(key, tag) => {
                        self.dispatch(key, state, |h, s, o| h.notify(s, tag, o));
                    }
                }
            }
        }
        if !self.queue.is_empty() {
            log::debug!(
                "evloop: {} queued callbacks left for the next iteration",
                self.queue.len()
            );
        }
    }

    /// Frees every handler marked for removal: deregister, `removed()`, drop.
    pub(crate) fn reap(&mut self, registry: &Registry, state: &mut S) {
        for key in std::mem::take(&mut self.dead) {
            let Some(slot) = self.handlers.remove(key) else {
                continue;
            };
            self.timers.purge(key);
            let Some(mut handler) = slot.handler else {
                log::error!("evloop: handler {key:?} was lost by a panic; not calling removed()");
                continue;
            };
            if slot.registered
                && let Some(src) = handler.source()
                && let Err(e) = registry.deregister(src)
            {
                log::warn!("evloop: deregistering {key:?} failed: {e}");
            }
            handler.removed(state);
            drop(handler);
        }
    }

    /// Applies queued reregistrations (after removals, so dead ones are gone).
    pub(crate) fn reregister_queued(&mut self, registry: &Registry) {
        for key in std::mem::take(&mut self.rereg) {
            let Some(slot) = self.handlers.get_mut(key) else {
                continue;
            };
            slot.rereg_queued = false;
            if slot.removing || !slot.registered {
                continue;
            }
            let interest = slot.interest;
            if let Some(src) = slot.handler.as_mut().and_then(|h| h.source())
                && let Err(e) = registry.reregister(src, token_of(key), interest)
            {
                log::warn!("evloop: reregistering {key:?} failed: {e}");
            }
        }
    }

    /// Registers handlers added during the batch. A handler whose source
    /// cannot be registered is logged, told `removed()` and dropped.
    pub(crate) fn register_born(&mut self, registry: &Registry, state: &mut S) {
        for key in std::mem::take(&mut self.born) {
            let Some(slot) = self.handlers.get_mut(key) else {
                continue;
            };
            if slot.removing {
                // Freed by the next reap (its key is on `dead`).
                continue;
            }
            let interest = slot.interest;
            let Some(handler) = slot.handler.as_mut() else {
                continue;
            };
            let Some(src) = handler.source() else {
                continue;
            };
            match registry.register(src, token_of(key), interest) {
                Ok(()) => slot.registered = true,
                Err(e) => {
                    log::warn!("evloop: registering new handler {key:?} failed, dropping it: {e}");
                    slot.removing = true;
                    self.dead.push(key);
                }
            }
        }
        // Registration failures are freed right away, not a batch later.
        self.reap(registry, state);
    }

    /// Queued work, then removals, then reregistrations, then registrations.
    pub(crate) fn apply(&mut self, registry: &Registry, state: &mut S) {
        self.run_queue(state);
        self.reap(registry, state);
        self.reregister_queued(registry);
        self.register_born(registry, state);
    }
}

/// Restricted handle given to callbacks. It never exposes the loop itself:
/// everything it does is either immediate bookkeeping (marking a removal,
/// adding a timer) or queued until after the current batch.
pub struct Ops<'a, S> {
    pub(crate) core: &'a mut Core<S>,
    pub(crate) me: Option<HandlerKey>,
}

impl<S> Ops<'_, S> {
    /// The handler being dispatched; `None` in [`Ops::defer`] closures,
    /// [`crate::EventLoop::with_ops`] and [`crate::Remote::send`] closures.
    pub fn me(&self) -> Option<HandlerKey> {
        self.me
    }

    /// Adds a handler. Its key is valid at once (timers and notifications
    /// may target it); its source is registered after the batch. If that
    /// registration fails the failure is logged and the handler gets
    /// `removed()` and is dropped.
    pub fn add(&mut self, handler: Box<dyn Handler<S>>, interest: Interest) -> HandlerKey {
        let key = self.core.handlers.insert(Slot::new(handler, interest));
        self.core.born.push(key);
        key
    }

    /// Removes a handler (this one or any other); idempotent, and a no-op for
    /// stale keys. From this call on the handler gets no callback at all:
    /// not the write half of the current event, not a later event of this
    /// batch, no timer, no notification. After the batch it is deregistered,
    /// then [`Handler::removed`] runs, then it is dropped.
    pub fn remove(&mut self, key: HandlerKey) {
        let Some(slot) = self.core.handlers.get_mut(key) else {
            return;
        };
        if slot.removing {
            return;
        }
        if slot.pinned {
            log::warn!("evloop: refusing to remove the loop's waker");
            return;
        }
        slot.removing = true;
        self.core.dead.push(key);
    }

    /// Changes the interest of a live handler's source (for example adds
    /// `WRITABLE` while an out-queue is non-empty). Applied after the batch;
    /// the last call in a batch wins. A no-op for stale or removed keys.
    pub fn reregister(&mut self, key: HandlerKey, interest: Interest) {
        let Some(slot) = self.core.handlers.get_mut(key) else {
            return;
        };
        if slot.removing {
            return;
        }
        slot.interest = interest;
        if !slot.rereg_queued {
            slot.rereg_queued = true;
            self.core.rereg.push(key);
        }
    }

    /// Sets a timer that calls [`Handler::timer`] of `key` with `tag` once
    /// [`Ops::now`] reaches `at`. A timer of a removed handler never fires;
    /// one for a stale key gets an id but does nothing.
    pub fn add_timer_at(&mut self, at: Instant, key: HandlerKey, tag: u64) -> TimerId {
        if self.core.is_live(key) {
            self.core.timers.add(at, TimerEntry { key, tag })
        } else {
            self.core.timers.next_id()
        }
    }

    /// [`Ops::add_timer_at`] `now() + after`. A deadline beyond what
    /// `Instant` can hold never fires.
    pub fn add_timer(&mut self, after: Duration, key: HandlerKey, tag: u64) -> TimerId {
        match self.now().checked_add(after) {
            Some(at) => self.add_timer_at(at, key, tag),
            None => self.core.timers.next_id(),
        }
    }

    /// Cancels a timer; a no-op if it already fired or was cancelled. A timer
    /// that is due in the current batch but has not fired yet does not fire.
    pub fn cancel_timer(&mut self, id: TimerId) {
        self.core.timers.cancel(id);
    }

    /// Queues a call of [`Handler::notify`] of `key` with `tag` for the next loop iteration:
    /// after the next poll (which then does not wait), so every other ready source is
    /// served first. A handler that stopped after its share of work (a read budget) re-arms
    /// itself with this; [`Ops::notify`] would run it again in the same batch. Skipped if
    /// `key` is removed by then.
    pub fn notify_next_turn(&mut self, key: HandlerKey, tag: u64) {
        self.core.next_turn.push((key, tag));
    }

    /// Queues a call of [`Handler::notify`] of `key` with `tag` after the
    /// batch, in FIFO order with [`Ops::defer`] closures. Skipped if `key` is
    /// removed by then.
    pub fn notify(&mut self, key: HandlerKey, tag: u64) {
        self.core.queue.push_back(Work::Notify(key, tag));
    }

    /// Queues a cross-component action that runs after the batch with the
    /// world and a fresh `Ops` (whose [`Ops::me`] is `None`).
    pub fn defer(&mut self, f: impl FnOnce(&mut S, &mut Ops<'_, S>) + 'static) {
        self.core.queue.push_back(Work::Defer(Box::new(f)));
    }

    /// The loop's clock (injected; see [`crate::EventLoop::with_clock`]).
    pub fn now(&self) -> Instant {
        self.core.clock.now()
    }

    /// Asks [`crate::EventLoop::run`] to return after the current iteration.
    pub fn quit(&mut self) {
        self.core.quit = true;
    }

    /// Whether `key` names a handler that has not been removed; false from
    /// the moment [`Ops::remove`] is called for it.
    pub fn is_live(&self, key: HandlerKey) -> bool {
        self.core.is_live(key)
    }
}
