//! Dispatch semantics: removal during a batch, halves of an event, deferred
//! additions, registration order, bounded after-batch work.

mod common;

use std::cell::Cell;
use std::io;
use std::rc::Rc;
use std::time::{Duration, Instant};

use common::{Log, Probe, World, of, poke};
use evloop::{Error, EventLoop, Handler, HandlerKey, MAX_QUEUE_ROUNDS, Ops, Readiness};
use mio::event::Source;
use mio::{Interest, Registry, Token};
use slotmap::Key;

const RW: Interest = Interest::READABLE.add(Interest::WRITABLE);
const BATCH: Option<Duration> = Some(Duration::from_secs(2));

fn new_loop() -> (EventLoop<World>, World) {
    (EventLoop::new().expect("loop"), World::default())
}

fn add(el: &mut EventLoop<World>, w: &mut World, p: Probe, interest: Interest) -> HandlerKey {
    let name = p.name;
    let key = el.add(Box::new(p), interest).expect("add");
    w.keys.insert(name, key);
    key
}

fn position(log: &[String], entry: &str) -> usize {
    log.iter()
        .position(|e| e == entry)
        .unwrap_or_else(|| panic!("{entry} missing from {log:?}"))
}

/// QEMU 2007 (cafffd4024, 6ab43fdc31): a read callback removed its own
/// IOHandler, which freed it, and the loop then ran the write callback of
/// the freed record. Here the fd is readable and writable in one batch, the
/// read half removes the handler, and the write half must never run.
#[test]
fn qemu_2007_read_handler_removes_itself_while_writable() {
    let (mut el, mut w) = new_loop();
    let (victim, mut victim_peer) = Probe::socket("victim", &w);
    let victim = victim
        .on_read(|_, ops| {
            let me = ops.me().expect("dispatching");
            ops.remove(me);
            assert!(!ops.is_live(me));
        })
        .on_write(|_, _| panic!("write half ran after the read half removed the handler"));
    let (control, mut control_peer) = Probe::socket("control", &w);
    add(&mut el, &mut w, victim, RW);
    add(&mut el, &mut w, control, RW);
    poke(&mut victim_peer);
    poke(&mut control_peer);

    el.run_once(&mut w, BATCH).expect("run");
    let log = w.entries();
    // The control proves that the event of this batch had both halves.
    assert_eq!(
        of(&log, "control"),
        ["control.register", "control.read", "control.write"]
    );
    assert_eq!(
        of(&log, "victim"),
        [
            "victim.register",
            "victim.read",
            "victim.deregister",
            "victim.removed",
            "victim.drop"
        ]
    );
    assert!(!el.contains(w.key("victim")));
    assert_eq!(el.handler_count(), 1);
}

/// Whoever is dispatched first removes all the others, whose events are
/// later in the same batch: those events are dropped.
#[test]
fn removing_another_handler_drops_its_later_event_in_the_batch() {
    const NAMES: [&str; 6] = ["h0", "h1", "h2", "h3", "h4", "h5"];
    let (mut el, mut w) = new_loop();
    let first = Rc::new(Cell::new(None::<HandlerKey>));
    let mut peers = Vec::new();
    for name in NAMES {
        let (p, mut peer) = Probe::socket(name, &w);
        let first = first.clone();
        let p = p.on_read(move |world, ops| {
            if first.get().is_none() {
                let me = ops.me().expect("dispatching");
                first.set(Some(me));
                for n in NAMES {
                    let k = world.key(n);
                    if k != me {
                        ops.remove(k);
                        // Idempotent.
                        ops.remove(k);
                    }
                }
            } else {
                panic!("a removed handler was dispatched");
            }
        });
        add(&mut el, &mut w, p, RW);
        poke(&mut peer);
        peers.push(peer);
    }
    w.clear();
    el.run_once(&mut w, BATCH).expect("run");
    let log = w.entries();
    let winner = NAMES
        .iter()
        .copied()
        .find(|n| Some(w.key(n)) == first.get())
        .expect("someone ran");
    assert_eq!(
        of(&log, winner),
        [format!("{winner}.read"), format!("{winner}.write")]
    );
    for n in NAMES.iter().filter(|n| **n != winner) {
        assert_eq!(
            of(&log, n),
            [
                format!("{n}.deregister"),
                format!("{n}.removed"),
                format!("{n}.drop")
            ],
            "{n} got a callback after removal"
        );
    }
    assert_eq!(el.handler_count(), 1);
}

/// A key freed in batch N whose slot is reused in batch N+1 is stale: it
/// gets nothing and cannot touch the new handler, which gets only its own
/// events.
#[test]
fn token_reuse_across_batches_old_key_is_stale() {
    let (mut el, mut w) = new_loop();
    let (a, _a_peer) = Probe::socket("a", &w);
    let a = a.on_write(|_, _| panic!("a must not be dispatched after its removal"));
    let (b, mut b_peer) = Probe::socket("b", &w);
    let b = b.on_read(|world, ops| {
        // Batch N: remove a. Batch N+1: add c, which takes a's slot.
        if ops.is_live(world.key("a")) {
            ops.remove(world.key("a"));
        } else if !world.keys.contains_key("c") {
            let (c, c_peer) = Probe::socket("c", world);
            let c = c.on_read(|world, ops| assert_eq!(ops.me(), Some(world.key("c"))));
            let key = ops.add(Box::new(c), Interest::READABLE);
            world.keys.insert("c", key);
            world.peers.insert("c", c_peer);
        }
    });
    // a is added first so that a's event is not what removes a.
    let a_key = add(&mut el, &mut w, a, Interest::READABLE);
    add(&mut el, &mut w, b, Interest::READABLE);

    poke(&mut b_peer);
    el.run_once(&mut w, BATCH).expect("batch N");
    assert!(!el.contains(a_key));
    poke(&mut b_peer);
    el.run_once(&mut w, BATCH).expect("batch N+1");
    let c_key = w.key("c");
    assert_ne!(a_key, c_key);
    assert_eq!(
        a_key.data().as_ffi() & 0xffff_ffff,
        c_key.data().as_ffi() & 0xffff_ffff,
        "slot not reused"
    );

    w.clear();
    el.with_ops(&mut w, |_, ops| {
        assert!(!ops.is_live(a_key));
        ops.notify(a_key, 7);
        ops.add_timer(Duration::ZERO, a_key, 8);
        ops.remove(a_key);
        ops.reregister(a_key, Interest::WRITABLE);
        assert!(ops.is_live(c_key));
    });
    poke(w.peers.get_mut("c").expect("c peer"));
    el.run_once(&mut w, BATCH).expect("batch N+2");
    assert_eq!(w.entries(), ["c.read"]);
    assert!(el.contains(c_key));
    assert!(!el.contains(a_key));
}

/// `Ops::add` gives a key that is valid at once (notify works), but the
/// source is registered only after the batch's queued work.
#[test]
fn ops_add_key_valid_at_once_registered_after_the_batch() {
    let (mut el, mut w) = new_loop();
    let (parent, mut parent_peer) = Probe::socket("parent", &w);
    let parent = parent.on_read(|world, ops| {
        let (child, peer) = Probe::socket("child", world);
        let key = ops.add(Box::new(child), RW);
        assert!(ops.is_live(key));
        ops.notify(key, 1);
        world.keys.insert("child", key);
        world.peers.insert("child", peer);
    });
    add(&mut el, &mut w, parent, Interest::READABLE);
    w.clear();
    poke(&mut parent_peer);
    el.run_once(&mut w, BATCH).expect("run");
    assert_eq!(
        w.entries(),
        ["parent.read", "child.notify:1", "child.register"]
    );
    w.clear();
    el.run_once(&mut w, BATCH).expect("run");
    assert_eq!(w.entries(), ["child.write"]);
    assert_eq!(el.handler_count(), 2);
}

/// Added and removed in the same batch: never registered, removed() once.
#[test]
fn added_and_removed_in_one_batch_is_never_registered() {
    let (mut el, mut w) = new_loop();
    w.clear();
    el.with_ops(&mut w, |world, ops| {
        let (child, _peer) = Probe::socket("child", world);
        let key = ops.add(Box::new(child), RW);
        ops.notify(key, 3);
        ops.remove(key);
    });
    assert_eq!(w.entries(), ["child.removed", "child.drop"]);
    assert_eq!(el.handler_count(), 0);
}

/// A source whose registration always fails.
struct Unregistrable;

impl Source for Unregistrable {
    fn register(&mut self, _: &Registry, _: Token, _: Interest) -> io::Result<()> {
        Err(io::Error::other("refused"))
    }
    fn reregister(&mut self, _: &Registry, _: Token, _: Interest) -> io::Result<()> {
        Err(io::Error::other("refused"))
    }
    fn deregister(&mut self, _: &Registry) -> io::Result<()> {
        panic!("never registered, must not be deregistered")
    }
}

struct Failing {
    src: Unregistrable,
    log: Log,
}

impl Handler<World> for Failing {
    fn ready(&mut self, _: &mut World, _: Readiness, _: &mut Ops<'_, World>) {
        panic!("never registered, cannot be ready");
    }
    fn notify(&mut self, w: &mut World, tag: u64, _: &mut Ops<'_, World>) {
        w.push(format!("failing.notify:{tag}"));
    }
    fn timer(&mut self, _: &mut World, _: u64, _: &mut Ops<'_, World>) {
        panic!("removed handler got a timer");
    }
    fn source(&mut self) -> Option<&mut dyn Source> {
        Some(&mut self.src)
    }
    fn removed(&mut self, w: &mut World) {
        w.push("failing.removed");
    }
}

impl Drop for Failing {
    fn drop(&mut self) {
        self.log.borrow_mut().push("failing.drop".into());
    }
}

#[test]
fn registration_failure_logs_removes_and_drops() {
    let (mut el, mut w) = new_loop();
    let err = el
        .add(
            Box::new(Failing {
                src: Unregistrable,
                log: w.log.clone(),
            }),
            RW,
        )
        .expect_err("must fail");
    assert!(matches!(err, Error::Register(_)));
    assert_eq!(
        w.entries(),
        ["failing.drop"],
        "setup-time failure: dropped without removed()"
    );
    assert_eq!(el.handler_count(), 0);

    w.clear();
    let key = el.with_ops(&mut w, |world, ops| {
        let key = ops.add(
            Box::new(Failing {
                src: Unregistrable,
                log: world.log.clone(),
            }),
            RW,
        );
        ops.notify(key, 1);
        ops.add_timer(Duration::ZERO, key, 2);
        key
    });
    assert_eq!(
        w.entries(),
        ["failing.notify:1", "failing.removed", "failing.drop"]
    );
    assert!(!el.contains(key));
    el.run_once(&mut w, Some(Duration::ZERO)).expect("run");
    assert_eq!(el.handler_count(), 0);
}

/// Reregistering with WRITABLE (an out-queue became non-empty) produces a
/// write half after the batch.
#[test]
fn reregister_adds_writable_after_the_batch() {
    let (mut el, mut w) = new_loop();
    let (p, mut peer) = Probe::socket("p", &w);
    let p = p.on_read(|_, ops| {
        let me = ops.me().expect("dispatching");
        ops.reregister(me, Interest::READABLE);
        ops.reregister(me, RW); // the last call wins
    });
    add(&mut el, &mut w, p, Interest::READABLE);
    poke(&mut peer);
    el.run_once(&mut w, BATCH).expect("run");
    assert_eq!(w.entries(), ["p.register", "p.read", "p.reregister"]);
    w.clear();
    el.run_once(&mut w, BATCH).expect("run");
    assert_eq!(w.entries(), ["p.write"]);
}

/// Notifications and deferred closures run after every event of the batch,
/// in the order they were queued, and skip handlers removed by then.
#[test]
fn notify_and_defer_run_after_the_batch_in_fifo_order() {
    let (mut el, mut w) = new_loop();
    let (a, mut a_peer) = Probe::socket("a", &w);
    let a = a.on_read(|world, ops| {
        let b = world.key("b");
        let c = world.key("c");
        ops.notify(b, 1);
        ops.defer(move |world: &mut World, ops: &mut Ops<'_, World>| {
            assert_eq!(ops.me(), None);
            world.push("deferred");
            ops.remove(c);
            ops.notify(b, 3);
        });
        ops.notify(c, 9);
        ops.notify(b, 2);
    });
    let (b, mut b_peer) = Probe::socket("b", &w);
    // The deferred closure removes c before c's notification comes up.
    let c =
        Probe::bare("c", &w).on_notify(|_, _, _| panic!("c was removed before this notification"));
    add(&mut el, &mut w, a, Interest::READABLE);
    add(&mut el, &mut w, b, Interest::READABLE);
    add(&mut el, &mut w, c, Interest::READABLE);
    poke(&mut a_peer);
    poke(&mut b_peer);
    w.clear();
    el.run_once(&mut w, BATCH).expect("run");
    let log = w.entries();
    let reads: Vec<_> = log.iter().take(2).cloned().collect();
    assert!(
        reads.contains(&"a.read".into()) && reads.contains(&"b.read".into()),
        "{log:?}"
    );
    assert_eq!(
        log[2..],
        [
            "b.notify:1",
            "deferred",
            "b.notify:2",
            "b.notify:3",
            "c.removed",
            "c.drop"
        ]
    );
}

/// Two handlers that notify each other forever cannot hang the loop: each
/// batch runs a bounded number of rounds, the rest waits, and the next poll
/// does not block, so I/O keeps flowing.
#[test]
fn notify_ping_pong_is_bounded_and_does_not_block_the_poll() {
    let (mut el, mut w) = new_loop();
    let ping =
        Probe::bare("ping", &w).on_notify(|world, tag, ops| ops.notify(world.key("pong"), tag + 1));
    let pong =
        Probe::bare("pong", &w).on_notify(|world, tag, ops| ops.notify(world.key("ping"), tag + 1));
    let (io, mut io_peer) = Probe::socket("io", &w);
    add(&mut el, &mut w, ping, Interest::READABLE);
    add(&mut el, &mut w, pong, Interest::READABLE);
    add(&mut el, &mut w, io, Interest::READABLE);
    w.clear();
    el.with_ops(&mut w, |world, ops| ops.notify(world.key("ping"), 0));
    assert_eq!(w.entries().len(), MAX_QUEUE_ROUNDS);

    w.clear();
    poke(&mut io_peer);
    let started = Instant::now();
    el.run_once(&mut w, Some(Duration::from_secs(5)))
        .expect("run");
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "poll blocked with work pending"
    );
    let log = w.entries();
    assert_eq!(log[0], "io.read");
    assert_eq!(log.len(), 1 + MAX_QUEUE_ROUNDS);
}

/// `run` returns once a callback calls `quit`.
#[test]
fn quit_from_a_notification_ends_run() {
    let (mut el, mut w) = new_loop();
    let p = Probe::bare("p", &w).on_notify(|_, tag, ops| {
        if tag == 3 {
            ops.quit();
        } else {
            ops.notify(ops.me().expect("me"), tag + 1);
        }
    });
    add(&mut el, &mut w, p, Interest::READABLE);
    el.with_ops(&mut w, |world, ops| ops.notify(world.key("p"), 0));
    assert!(el.is_quitting());
    el.run(&mut w).expect("run");
    assert_eq!(
        w.entries(),
        ["p.notify:0", "p.notify:1", "p.notify:2", "p.notify:3"]
    );
}

/// `shutdown` gives every handler its removed() once, after deregistration.
#[test]
fn shutdown_removes_every_handler_once() {
    let (mut el, mut w) = new_loop();
    let (a, _pa) = Probe::socket("a", &w);
    let b = Probe::bare("b", &w);
    add(&mut el, &mut w, a, RW);
    add(&mut el, &mut w, b, RW);
    el.with_ops(&mut w, |world, ops| {
        ops.notify(world.key("a"), 1);
        ops.remove(world.key("b"));
        ops.add_timer(Duration::ZERO, world.key("a"), 2);
    });
    w.clear();
    el.shutdown(&mut w);
    assert_eq!(w.entries(), ["a.deregister", "a.removed", "a.drop"]);
    assert_eq!(el.handler_count(), 0);
    el.run_once(&mut w, Some(Duration::ZERO))
        .expect("loop still usable");
    assert_eq!(w.entries().len(), 3);
    let log = w.entries();
    assert!(position(&log, "a.deregister") < position(&log, "a.removed"));
}
