//! Randomized batches over real fds: handlers add, remove and re-add
//! handlers (their own and others', live and stale keys) from inside every
//! kind of callback, plus timers, notifications, deferred closures and
//! reregistrations. Checked after every batch and over the whole log:
//!
//! * no callback reaches a handler after `remove()` was called for it, and
//!   every callback reaches the handler its key, timer or notification named;
//! * `removed()` runs exactly once per handler, after its deregistration and
//!   before its drop; nothing is registered after `removed()`;
//! * after each batch the loop holds exactly the handlers never removed.

use std::cell::RefCell;
use std::collections::{HashMap, HashSet};
use std::io::{self, Read, Write};
use std::rc::Rc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use evloop::{EventLoop, FakeClock, Handler, HandlerKey, Ops, Readiness, TimerId};
use mio::event::Source;
use mio::net::UnixStream;
use mio::{Interest, Registry, Token};
use proptest::prelude::*;
use proptest::test_runner::{Config, TestRunner};

const RW: Interest = Interest::READABLE.add(Interest::WRITABLE);
/// Keeps the fd count far below the usual limit of 1024.
const MAX_LIVE: usize = 40;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Ev {
    Created(u32),
    Registered(u32),
    Deregistered(u32),
    Callback(u32),
    RemoveRequested(u32),
    Removed(u32),
    Dropped(u32),
}

type SharedLog = Rc<RefCell<Vec<Ev>>>;

#[derive(Clone, Copy, Debug)]
enum Act {
    Nothing,
    RemoveSelf,
    RemoveLive(usize),
    RemoveStale(usize),
    Add { fd: bool, poke: bool },
    AddThenRemove,
    Notify(usize),
    NotifySelf,
    NotifyStale(usize),
    Timer(usize, u8),
    TimerStale(usize),
    CancelTimer(usize),
    Poke(usize),
    DeferRemove(usize),
    DeferAdd,
    Reregister(usize, bool),
}

fn act_strategy() -> impl Strategy<Value = Act> {
    let i = 0usize..64;
    prop_oneof![
        2 => Just(Act::Nothing),
        2 => Just(Act::RemoveSelf),
        3 => i.clone().prop_map(Act::RemoveLive),
        1 => i.clone().prop_map(Act::RemoveStale),
        6 => (any::<bool>(), any::<bool>()).prop_map(|(fd, poke)| Act::Add { fd: fd || poke, poke }),
        1 => Just(Act::AddThenRemove),
        2 => i.clone().prop_map(Act::Notify),
        1 => Just(Act::NotifySelf),
        1 => i.clone().prop_map(Act::NotifyStale),
        3 => (i.clone(), 0u8..40).prop_map(|(t, d)| Act::Timer(t, d)),
        1 => i.clone().prop_map(Act::TimerStale),
        1 => i.clone().prop_map(Act::CancelTimer),
        4 => i.clone().prop_map(Act::Poke),
        1 => i.clone().prop_map(Act::DeferRemove),
        1 => Just(Act::DeferAdd),
        1 => (i, any::<bool>()).prop_map(|(t, w)| Act::Reregister(t, w)),
    ]
}

#[derive(Clone, Debug)]
struct Batch {
    advance_ms: u8,
    pokes: Vec<usize>,
    outside: Option<Act>,
}

#[derive(Clone, Debug)]
struct Scenario {
    initial: Vec<bool>,
    script: Vec<Act>,
    batches: Vec<Batch>,
}

fn scenario() -> impl Strategy<Value = Scenario> {
    let batch = (
        0u8..20,
        prop::collection::vec(0usize..64, 0..10),
        prop::option::weighted(0.3, act_strategy()),
    )
        .prop_map(|(advance_ms, pokes, outside)| Batch {
            advance_ms,
            pokes,
            outside,
        });
    (
        prop::collection::vec(prop::bool::weighted(0.8), 8..24),
        prop::collection::vec(act_strategy(), 16..128),
        prop::collection::vec(batch, 30..70),
    )
        .prop_map(|(initial, script, batches)| Scenario {
            initial,
            script,
            batches,
        })
}

/// A socket that records (de)registration in the shared log.
struct TrackedSrc {
    stream: UnixStream,
    registered: bool,
    id: u32,
    log: SharedLog,
}

impl Source for TrackedSrc {
    fn register(&mut self, r: &Registry, t: Token, i: Interest) -> io::Result<()> {
        self.stream.register(r, t, i)?;
        self.registered = true;
        self.log.borrow_mut().push(Ev::Registered(self.id));
        Ok(())
    }
    fn reregister(&mut self, r: &Registry, t: Token, i: Interest) -> io::Result<()> {
        self.stream.reregister(r, t, i)
    }
    fn deregister(&mut self, r: &Registry) -> io::Result<()> {
        self.stream.deregister(r)?;
        self.registered = false;
        self.log.borrow_mut().push(Ev::Deregistered(self.id));
        Ok(())
    }
}

struct Probe {
    id: u32,
    src: Option<TrackedSrc>,
    log: SharedLog,
}

impl Drop for Probe {
    fn drop(&mut self) {
        self.log.borrow_mut().push(Ev::Dropped(self.id));
    }
}

struct Stress {
    log: SharedLog,
    script: Vec<Act>,
    pos: usize,
    next_id: u32,
    ids: HashMap<HandlerKey, u32>,
    live: Vec<HandlerKey>,
    stale: Vec<HandlerKey>,
    remove_requested: HashSet<u32>,
    peers: HashMap<u32, UnixStream>,
    timer_targets: HashMap<u64, HandlerKey>,
    notify_targets: HashMap<u64, HandlerKey>,
    timer_ids: Vec<TimerId>,
    next_tag: u64,
    violations: Vec<String>,
    /// Handlers that were poked (so had an event pending) when they were
    /// removed from inside a batch: the interesting case.
    removed_with_pending_event: u64,
    poked_this_batch: HashSet<u32>,
    callbacks: u64,
}

impl Stress {
    fn new(script: Vec<Act>) -> Self {
        Self {
            log: SharedLog::default(),
            script,
            pos: 0,
            next_id: 0,
            ids: HashMap::new(),
            live: Vec::new(),
            stale: Vec::new(),
            remove_requested: HashSet::new(),
            peers: HashMap::new(),
            timer_targets: HashMap::new(),
            notify_targets: HashMap::new(),
            timer_ids: Vec::new(),
            next_tag: 0,
            violations: Vec::new(),
            removed_with_pending_event: 0,
            poked_this_batch: HashSet::new(),
            callbacks: 0,
        }
    }

    fn new_probe(&mut self, fd: bool) -> (Probe, u32) {
        let id = self.next_id;
        self.next_id += 1;
        self.log.borrow_mut().push(Ev::Created(id));
        let src = fd.then(|| {
            let (a, b) = UnixStream::pair().expect("socketpair");
            self.peers.insert(id, b);
            TrackedSrc {
                stream: a,
                registered: false,
                id,
                log: self.log.clone(),
            }
        });
        (
            Probe {
                id,
                src,
                log: self.log.clone(),
            },
            id,
        )
    }

    fn pick(list: &[HandlerKey], i: usize) -> Option<HandlerKey> {
        (!list.is_empty()).then(|| list[i % list.len()])
    }

    fn tag(&mut self) -> u64 {
        self.next_tag += 1;
        self.next_tag
    }

    fn poke_key(&mut self, key: HandlerKey) {
        let Some(id) = self.ids.get(&key).copied() else {
            return;
        };
        if let Some(peer) = self.peers.get_mut(&id) {
            match peer.write(b"p") {
                Ok(_) => {
                    self.poked_this_batch.insert(id);
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
                Err(e) => self.violations.push(format!("poke {id}: {e}")),
            }
        }
    }

    fn remove(&mut self, ops: &mut Ops<'_, Self>, key: HandlerKey) {
        let was_live = ops.is_live(key);
        let expected_live = self.live.contains(&key);
        if was_live != expected_live {
            self.violations.push(format!(
                "is_live({key:?}) = {was_live}, expected {expected_live}"
            ));
        }
        if was_live {
            let id = self.ids[&key];
            self.log.borrow_mut().push(Ev::RemoveRequested(id));
            self.remove_requested.insert(id);
            if ops.me().is_some() && self.poked_this_batch.contains(&id) {
                self.removed_with_pending_event += 1;
            }
            self.live.retain(|k| *k != key);
            self.stale.push(key);
        }
        ops.remove(key);
        if ops.is_live(key) {
            self.violations
                .push(format!("{key:?} live right after remove()"));
        }
    }

    fn add(&mut self, ops: &mut Ops<'_, Self>, fd: bool, poke: bool) -> Option<HandlerKey> {
        if self.live.len() >= MAX_LIVE {
            return None;
        }
        let (probe, id) = self.new_probe(fd);
        let key = ops.add(Box::new(probe), RW);
        if self.ids.insert(key, id).is_some() {
            self.violations
                .push(format!("key {key:?} handed out twice"));
        }
        if !ops.is_live(key) {
            self.violations
                .push(format!("new key {key:?} not live at once"));
        }
        self.live.push(key);
        if poke {
            self.poke_key(key);
        }
        Some(key)
    }

    fn act(&mut self, ops: &mut Ops<'_, Self>, act: Act) {
        match act {
            Act::Nothing => {}
            Act::RemoveSelf => {
                if let Some(me) = ops.me() {
                    self.remove(ops, me);
                }
            }
            Act::RemoveLive(i) => {
                if let Some(k) = Self::pick(&self.live, i) {
                    self.remove(ops, k);
                }
            }
            Act::RemoveStale(i) => {
                if let Some(k) = Self::pick(&self.stale, i) {
                    self.remove(ops, k);
                }
            }
            Act::Add { fd, poke } => {
                self.add(ops, fd, poke);
            }
            Act::AddThenRemove => {
                if let Some(k) = self.add(ops, true, true) {
                    self.remove(ops, k);
                }
            }
            Act::Notify(i) => {
                if let Some(k) = Self::pick(&self.live, i) {
                    let tag = self.tag();
                    self.notify_targets.insert(tag, k);
                    ops.notify(k, tag);
                }
            }
            Act::NotifySelf => {
                if let Some(me) = ops.me() {
                    let tag = self.tag();
                    self.notify_targets.insert(tag, me);
                    ops.notify(me, tag);
                }
            }
            Act::NotifyStale(i) => {
                if let Some(k) = Self::pick(&self.stale, i) {
                    let tag = self.tag();
                    self.notify_targets.insert(tag, k);
                    ops.notify(k, tag);
                }
            }
            Act::Timer(i, delay) => {
                if let Some(k) = Self::pick(&self.live, i) {
                    let tag = self.tag();
                    self.timer_targets.insert(tag, k);
                    let id = ops.add_timer(Duration::from_millis(u64::from(delay)), k, tag);
                    self.timer_ids.push(id);
                }
            }
            Act::TimerStale(i) => {
                if let Some(k) = Self::pick(&self.stale, i) {
                    let tag = self.tag();
                    self.timer_targets.insert(tag, k);
                    ops.add_timer(Duration::ZERO, k, tag);
                }
            }
            Act::CancelTimer(i) => {
                if !self.timer_ids.is_empty() {
                    let id = self.timer_ids.swap_remove(i % self.timer_ids.len());
                    ops.cancel_timer(id);
                }
            }
            Act::Poke(i) => {
                if let Some(k) = Self::pick(&self.live, i) {
                    self.poke_key(k);
                }
            }
            Act::DeferRemove(i) => {
                ops.defer(move |w: &mut Self, ops: &mut Ops<'_, Self>| {
                    w.act(ops, Act::RemoveLive(i))
                });
            }
            Act::DeferAdd => {
                ops.defer(|w: &mut Self, ops: &mut Ops<'_, Self>| {
                    w.act(
                        ops,
                        Act::Add {
                            fd: true,
                            poke: true,
                        },
                    )
                });
            }
            Act::Reregister(i, writable) => {
                if let Some(k) = Self::pick(&self.live, i) {
                    ops.reregister(k, if writable { RW } else { Interest::READABLE });
                }
            }
        }
    }

    /// Common checks of every callback, then one or two scripted actions.
    fn callback(&mut self, id: u32, what: &str, ops: &mut Ops<'_, Self>) {
        self.callbacks += 1;
        let me = ops.me();
        match me.and_then(|k| self.ids.get(&k)) {
            Some(&owner) if owner == id => {}
            other => self.violations.push(format!(
                "{what} for handler {id} arrived under key of {other:?}"
            )),
        }
        if self.remove_requested.contains(&id) {
            self.violations
                .push(format!("{what} reached handler {id} after remove()"));
        }
        if me.is_some_and(|k| !ops.is_live(k)) {
            self.violations
                .push(format!("{what}: handler {id} dispatched while not live"));
        }
        self.log.borrow_mut().push(Ev::Callback(id));
        let n = 1 + self.pos % 2;
        for _ in 0..n {
            if self.script.is_empty() {
                break;
            }
            let act = self.script[self.pos % self.script.len()];
            self.pos += 1;
            self.act(ops, act);
            // A handler that removed itself must not go on acting as if
            // it were dispatched; real handlers return here too.
            if me.is_some_and(|k| !ops.is_live(k)) {
                break;
            }
        }
    }
}

impl Handler<Stress> for Probe {
    fn ready(&mut self, w: &mut Stress, ev: Readiness, ops: &mut Ops<'_, Stress>) {
        if (ev.readable || ev.read_closed || ev.error) && (ev.writable || ev.write_closed) {
            w.violations
                .push(format!("handler {}: both halves in one call", self.id));
        }
        if let Some(src) = &mut self.src
            && ev.readable
        {
            let mut buf = [0u8; 512];
            while matches!(src.stream.read(&mut buf), Ok(n) if n > 0) {}
        }
        w.callback(self.id, "ready", ops);
    }

    fn timer(&mut self, w: &mut Stress, tag: u64, ops: &mut Ops<'_, Stress>) {
        if w.timer_targets.remove(&tag) != ops.me() {
            w.violations.push(format!(
                "timer {tag} reached handler {} it was not set for",
                self.id
            ));
        }
        w.callback(self.id, "timer", ops);
    }

    fn notify(&mut self, w: &mut Stress, tag: u64, ops: &mut Ops<'_, Stress>) {
        if w.notify_targets.get(&tag).copied() != ops.me() {
            w.violations.push(format!(
                "notify {tag} reached handler {} it was not sent to",
                self.id
            ));
        }
        w.callback(self.id, "notify", ops);
    }

    fn source(&mut self) -> Option<&mut dyn Source> {
        self.src.as_mut().map(|s| s as &mut dyn Source)
    }

    fn removed(&mut self, w: &mut Stress) {
        if self.src.as_ref().is_some_and(|s| s.registered) {
            w.violations.push(format!(
                "handler {}: removed() while still registered",
                self.id
            ));
        }
        if !w.remove_requested.contains(&self.id) {
            w.violations
                .push(format!("handler {}: removed() without remove()", self.id));
        }
        w.log.borrow_mut().push(Ev::Removed(self.id));
        w.peers.remove(&self.id);
    }
}

/// Positions of one handler's entries in the log.
#[derive(Default)]
struct Trace {
    created: Vec<usize>,
    registered: Vec<usize>,
    deregistered: Vec<usize>,
    callbacks: Vec<usize>,
    requested: Vec<usize>,
    removed: Vec<usize>,
    dropped: Vec<usize>,
}

/// Checks the whole log of one scenario, handler by handler.
fn check_log(log: &[Ev], created: u32) -> Result<(), String> {
    let mut traces: HashMap<u32, Trace> = HashMap::new();
    for (i, ev) in log.iter().enumerate() {
        let (id, list): (u32, fn(&mut Trace) -> &mut Vec<usize>) = match *ev {
            Ev::Created(id) => (id, |t| &mut t.created),
            Ev::Registered(id) => (id, |t| &mut t.registered),
            Ev::Deregistered(id) => (id, |t| &mut t.deregistered),
            Ev::Callback(id) => (id, |t| &mut t.callbacks),
            Ev::RemoveRequested(id) => (id, |t| &mut t.requested),
            Ev::Removed(id) => (id, |t| &mut t.removed),
            Ev::Dropped(id) => (id, |t| &mut t.dropped),
        };
        list(traces.entry(id).or_default()).push(i);
    }
    for id in 0..created {
        let t = traces
            .remove(&id)
            .ok_or_else(|| format!("handler {id} left no trace"))?;
        let (&[c], &[requested], &[removed], &[dropped]) = (
            t.created.as_slice(),
            t.requested.as_slice(),
            t.removed.as_slice(),
            t.dropped.as_slice(),
        ) else {
            return Err(format!(
                "handler {id}: created {}, remove requested {}, removed {}, dropped {} times",
                t.created.len(),
                t.requested.len(),
                t.removed.len(),
                t.dropped.len()
            ));
        };
        if !(c < requested && requested < removed && removed < dropped) {
            return Err(format!(
                "handler {id}: remove() {requested}, removed() {removed}, drop {dropped} out of order"
            ));
        }
        if t.callbacks.iter().any(|&i| i > requested) {
            return Err(format!("handler {id}: callback after remove()"));
        }
        match (t.registered.as_slice(), t.deregistered.as_slice()) {
            ([], []) => {}
            (&[r], &[d]) if r < d && d < removed => {}
            (r, d) => {
                return Err(format!(
                    "handler {id}: registered at {r:?}, deregistered at {d:?}, removed() at {removed}"
                ));
            }
        }
    }
    if !traces.is_empty() {
        return Err(format!("{} unknown handler ids in the log", traces.len()));
    }
    Ok(())
}

static BATCHES: AtomicU64 = AtomicU64::new(0);
static CALLBACKS: AtomicU64 = AtomicU64::new(0);
static INTERESTING: AtomicU64 = AtomicU64::new(0);

fn run_scenario(sc: Scenario) -> Result<(), TestCaseError> {
    let clock = FakeClock::new();
    let mut el: EventLoop<Stress> = EventLoop::with_clock(Rc::new(clock.clone())).expect("loop");
    let mut w = Stress::new(sc.script);

    for fd in sc.initial {
        let (probe, id) = w.new_probe(fd);
        let key = el.add(Box::new(probe), RW).expect("add");
        w.ids.insert(key, id);
        w.live.push(key);
        w.poke_key(key);
    }

    for batch in sc.batches {
        clock.advance(Duration::from_millis(u64::from(batch.advance_ms)));
        for i in batch.pokes {
            if let Some(k) = Stress::pick(&w.live, i) {
                w.poke_key(k);
            }
        }
        if let Some(act) = batch.outside {
            el.with_ops(&mut w, |w, ops| w.act(ops, act));
        }
        el.run_once(&mut w, Some(Duration::ZERO)).expect("run_once");
        BATCHES.fetch_add(1, Ordering::Relaxed);
        w.poked_this_batch.clear();

        prop_assert!(w.violations.is_empty(), "violations: {:?}", w.violations);
        // After the apply step the loop holds exactly the unremoved handlers.
        prop_assert_eq!(el.handler_count(), w.live.len());
        for k in &w.live {
            prop_assert!(el.contains(*k), "live handler {:?} missing", k);
        }
        for k in &w.stale {
            prop_assert!(!el.contains(*k), "removed handler {:?} still there", k);
        }
    }

    for k in w.live.clone() {
        let id = w.ids[&k];
        w.log.borrow_mut().push(Ev::RemoveRequested(id));
        w.remove_requested.insert(id);
    }
    el.shutdown(&mut w);
    prop_assert_eq!(el.handler_count(), 0);
    prop_assert!(w.violations.is_empty(), "violations: {:?}", w.violations);
    CALLBACKS.fetch_add(w.callbacks, Ordering::Relaxed);
    INTERESTING.fetch_add(w.removed_with_pending_event, Ordering::Relaxed);
    let log = w.log.borrow().clone();
    check_log(&log, w.next_id).map_err(TestCaseError::fail)
}

#[test]
fn randomized_batches_never_reach_removed_handlers() {
    let mut runner = TestRunner::new(Config {
        cases: 128,
        failure_persistence: None,
        ..Config::default()
    });
    runner
        .run(&scenario(), run_scenario)
        .expect("property failed");
    let batches = BATCHES.load(Ordering::Relaxed);
    let callbacks = CALLBACKS.load(Ordering::Relaxed);
    let interesting = INTERESTING.load(Ordering::Relaxed);
    eprintln!(
        "{batches} batches, {callbacks} callbacks, {interesting} removals of handlers with pending events"
    );
    // The property must have been exercised, not vacuously true.
    assert!(batches >= 1000, "only {batches} batches");
    assert!(callbacks >= 5 * batches, "only {callbacks} callbacks");
    assert!(
        interesting >= 500,
        "only {interesting} removals of handlers with events in the batch"
    );
}
