//! The single-threaded event loop: one `mio::Poll`, one owner of every socket.
//!
//! # Design
//!
//! The caller owns the world `S` (machine, VNC server, monitors) and passes
//! `&mut S` into [`EventLoop::run_once`]; the loop hands it to every callback.
//! Handlers ([`Handler`]) own their fd and their per-connection state. During
//! a callback they only see a restricted [`Ops`] handle: it can add, remove and
//! reregister handlers, set timers, queue notifications and deferred closures,
//! but never reach the loop or another handler directly, so nothing re-enters.
//!
//! Handlers live in a generational [`slotmap`]; the key is the `mio::Token`.
//! Removal only marks the slot. A marked handler gets no callback at all from
//! that moment on: not the write half of the same event, not a later event of
//! the batch, no timer, no notification. Slots are freed only after the batch,
//! so a key (index + version) is never reused while events for it may still be
//! in the batch, and a token whose version is gone decodes to nothing. This is
//! QEMU's 2007 `IOHandler` use-after-free (read callback frees the record, the
//! loop then calls the write callback) made impossible by construction.
//!
//! One `run_once` is:
//!
//! 1. `poll` with timeout `min(caller's, next timer)`, or zero when work is
//!    left over from a previous iteration; `EINTR` is retried.
//! 2. The batch: each I/O event is dispatched as up to two [`Handler::ready`]
//!    calls, the read half (`readable`, `read_closed`, `error`) and then the
//!    write half (`writable`, `write_closed`), with a liveness check before
//!    each. Then every timer that expired by [`Clock::now`] fires, in deadline
//!    order, through the same checked dispatch.
//! 3. The apply step: queued [`Ops::defer`] closures and [`Ops::notify`]
//!    notifications in FIFO order (bounded per batch, see
//!    [`MAX_QUEUE_ROUNDS`] and [`MAX_QUEUED_PER_BATCH`]; leftovers stay queued
//!    and make the next poll non-blocking), then removals (deregister, then
//!    [`Handler::removed`], then drop, which closes the fd), then
//!    reregistrations, then registration of handlers added by [`Ops::add`].
//! 4. Closures sent through [`Remote`] from other threads (the stdin thread),
//!    followed by the same apply step.
//!
//! The waker and signal sets are internal handlers in the same slotmap, so
//! every token decodes the same way. Time comes from an injectable [`Clock`]
//! ([`FakeClock`] in tests), so timer tests need no sleeps.

#[cfg(not(target_pointer_width = "64"))]
compile_error!("evloop encodes 64-bit slotmap keys in mio::Token and needs a 64-bit target");

mod clock;
mod event_loop;
mod ops;
mod timers;

use std::io;

pub use clock::{Clock, FakeClock, SystemClock};
pub use event_loop::{EVENTS_CAPACITY, EventLoop, MAX_REMOTE_PER_BATCH, Remote};
pub use ops::{MAX_QUEUE_ROUNDS, MAX_QUEUED_PER_BATCH, Ops};
pub use timers::TimerId;

/// Re-exported so that handlers name the same `mio` types as the loop.
pub use mio;

slotmap::new_key_type! {
    /// Generational key of a handler; also its `mio::Token`. A key of a removed
    /// handler stays invalid forever (the slot's version moves on).
    pub struct HandlerKey;
}

/// Encodes a key as a token (64-bit targets only, checked at compile time).
pub(crate) fn token_of(key: HandlerKey) -> mio::Token {
    use slotmap::Key;
    let raw = key.data().as_ffi();
    // usize is 64 bits wide (compile_error above), so this never fails.
    mio::Token(usize::try_from(raw).unwrap_or(usize::MAX))
}

/// Decodes a token back into a key; `None` only for values no key produces.
pub(crate) fn key_of(token: mio::Token) -> Option<HandlerKey> {
    let raw = u64::try_from(token.0).ok()?;
    Some(HandlerKey::from(slotmap::KeyData::from_ffi(raw)))
}

/// Readiness of a handler's source, as passed to [`Handler::ready`].
///
/// The loop never sets read-side and write-side flags in the same call: a
/// mio event is split into a read half (`readable`, `read_closed`, `error`)
/// and a write half (`writable`, `write_closed`), delivered as two calls in
/// that order, and the second is skipped if the handler was removed by then.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Readiness {
    /// Data (or a connection, for listeners) can be read.
    pub readable: bool,
    /// The socket accepts writes.
    pub writable: bool,
    /// The peer closed its write side (EOF after the buffered data).
    pub read_closed: bool,
    /// Our write side is closed (the peer hung up or reset).
    pub write_closed: bool,
    /// The source reported an error; a read or `take_error` will tell which.
    pub error: bool,
}

impl Readiness {
    /// Splits a mio event into its read half and its write half.
    pub(crate) fn split(ev: &mio::event::Event) -> (Option<Self>, Option<Self>) {
        let read = Self {
            readable: ev.is_readable(),
            read_closed: ev.is_read_closed(),
            error: ev.is_error(),
            ..Self::default()
        };
        let write = Self {
            writable: ev.is_writable(),
            write_closed: ev.is_write_closed(),
            ..Self::default()
        };
        let has_read = read != Self::default();
        let has_write = write != Self::default();
        // An event with no flag we know (spurious, or priority data) still
        // gets one call, so that the handler drains its source.
        let read = (has_read || !has_write).then_some(read);
        (read, has_write.then_some(write))
    }
}

/// Something the loop dispatches to: usually a socket plus its state.
///
/// Every callback gets the world `S` and an [`Ops`] handle. After
/// [`Ops::remove`] was called for this handler (by itself or by anyone else)
/// no callback of this trait runs again except [`Handler::removed`].
pub trait Handler<S> {
    /// Readiness on this handler's source. mio is edge-triggered: drain the
    /// source to `WouldBlock` (including bytes a TLS or websocket layer has
    /// already buffered), or no further event arrives. One event comes as a
    /// read-half call and then a write-half call (see [`Readiness`]).
    fn ready(&mut self, state: &mut S, ev: Readiness, ops: &mut Ops<'_, S>);

    /// A timer set with [`Ops::add_timer`] or [`Ops::add_timer_at`] for this
    /// handler fired; `tag` is the caller's.
    fn timer(&mut self, _state: &mut S, _tag: u64, _ops: &mut Ops<'_, S>) {}

    /// A notification sent with [`Ops::notify`]; delivered after the batch in
    /// which it was sent.
    fn notify(&mut self, _state: &mut S, _tag: u64, _ops: &mut Ops<'_, S>) {}

    /// The source to register and deregister; `None` for handlers without an
    /// fd (timer-only or notification-only). Must return the same source
    /// every time.
    fn source(&mut self) -> Option<&mut dyn mio::event::Source>;

    /// Called exactly once, after deregistration and just before the handler
    /// is dropped (the drop closes the fd), so that it can remove its entries
    /// from the world. Not called when the whole [`EventLoop`] is dropped;
    /// use [`EventLoop::shutdown`] for that.
    fn removed(&mut self, _state: &mut S) {}
}

/// Errors of the event loop.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// `epoll_create` failed.
    #[error("cannot create the poll instance")]
    Poll(#[source] io::Error),
    /// The loop's waker (eventfd) could not be created.
    #[error("cannot create the event loop's waker")]
    Waker(#[source] io::Error),
    /// A handler's source could not be registered.
    #[error("cannot register a handler's source with the event loop")]
    Register(#[source] io::Error),
    /// The signal handlers could not be installed.
    #[error("cannot install the signal handlers")]
    Signals(#[source] io::Error),
    /// `epoll_wait` failed with something other than `EINTR`.
    #[error("waiting for events failed")]
    Wait(#[source] io::Error),
    /// [`Remote::send`] after the loop was dropped.
    #[error("the event loop is gone")]
    LoopGone,
    /// [`Remote::send`] queued the closure but could not wake the loop.
    #[error("cannot wake the event loop")]
    Wake(#[source] io::Error),
}

#[cfg(test)]
mod tests {
    use super::*;
    use slotmap::SlotMap;

    #[test]
    fn token_round_trips_keys_with_versions() {
        let mut map: SlotMap<HandlerKey, ()> = SlotMap::with_key();
        let a = map.insert(());
        map.remove(a);
        let b = map.insert(());
        assert_ne!(a, b, "slot reuse must bump the version");
        assert_eq!(key_of(token_of(a)), Some(a));
        assert_eq!(key_of(token_of(b)), Some(b));
        assert_ne!(token_of(a), token_of(b));
        assert!(!map.contains_key(key_of(token_of(a)).unwrap_or_default()));
    }
}
