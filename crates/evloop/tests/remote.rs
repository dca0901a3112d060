//! `Remote::send` from other threads.

mod common;

use std::rc::Rc;
use std::thread;
use std::time::{Duration, Instant};

use common::{Probe, World, poke};
use evloop::{Error, EventLoop, Ops, Remote};
use mio::Interest;

fn assert_send_sync_clone<T: Send + Sync + Clone>() {}

#[test]
fn remote_is_send_sync_and_clone_even_for_a_non_send_world() {
    // World holds Rc, so it is neither Send nor Sync.
    assert_send_sync_clone::<Remote<World>>();
    assert_send_sync_clone::<Remote<Rc<()>>>();
}

#[test]
fn remote_send_from_another_thread_wakes_a_blocked_run_once() {
    let mut el: EventLoop<World> = EventLoop::new().expect("loop");
    let mut w = World::default();
    let remote = el.remote();
    let sender = thread::spawn(move || {
        thread::sleep(Duration::from_millis(100));
        remote
            .send(|world: &mut World, ops: &mut Ops<'_, World>| {
                assert_eq!(ops.me(), None);
                world.push("from-thread");
            })
            .expect("send");
    });
    let started = Instant::now();
    // Long caller timeout and no timers: only the waker can end this poll.
    while w.entries().is_empty() && started.elapsed() < Duration::from_secs(10) {
        el.run_once(&mut w, Some(Duration::from_secs(10)))
            .expect("run");
    }
    sender.join().expect("sender thread");
    assert_eq!(w.entries(), ["from-thread"]);
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "the waker did not end the poll"
    );
}

/// The closure runs after every event of the batch (like event-manager's
/// endpoint), and the work it queues is applied in the same iteration.
#[test]
fn remote_closure_runs_after_the_batch_and_its_work_is_applied() {
    let mut el: EventLoop<World> = EventLoop::new().expect("loop");
    let mut w = World::default();
    let (p, mut peer) = Probe::socket("p", &w);
    let key = el.add(Box::new(p), Interest::READABLE).expect("add");
    w.keys.insert("p", key);
    w.clear();
    let remote = el.remote();
    // Queue the closure first, then make p readable: both are in one batch.
    thread::spawn(move || {
        remote
            .send(|world: &mut World, ops: &mut Ops<'_, World>| {
                world.push("remote");
                let p = world.key("p");
                ops.notify(p, 5);
                ops.defer(move |_: &mut World, ops: &mut Ops<'_, World>| ops.remove(p));
            })
            .expect("send");
    })
    .join()
    .expect("thread");
    poke(&mut peer);
    el.run_once(&mut w, Some(Duration::from_secs(2)))
        .expect("run");
    assert_eq!(
        w.entries(),
        [
            "p.read",
            "remote",
            "p.notify:5",
            "p.deregister",
            "p.removed",
            "p.drop"
        ]
    );
    assert!(!el.contains(key));
}

#[test]
fn remote_send_after_the_loop_is_dropped_fails() {
    let el: EventLoop<World> = EventLoop::new().expect("loop");
    let remote = el.remote();
    drop(el);
    let err = remote
        .send(|_: &mut World, _: &mut Ops<'_, World>| {})
        .expect_err("loop is gone");
    assert!(matches!(err, Error::LoopGone));
}
