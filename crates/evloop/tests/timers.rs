//! Timers on a fake clock: no sleeps, except one test that checks the poll
//! timeout against the real clock.

mod common;

use std::rc::Rc;
use std::time::{Duration, Instant};

use common::{Probe, World, of};
use evloop::{Clock, EventLoop, FakeClock, HandlerKey, TimerId};
use mio::Interest;
use slotmap::Key;

const NOW: Option<Duration> = Some(Duration::ZERO);

fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

fn fake_loop() -> (EventLoop<World>, FakeClock, World) {
    let clock = FakeClock::new();
    (
        EventLoop::with_clock(Rc::new(clock.clone())).expect("loop"),
        clock,
        World::default(),
    )
}

fn add(el: &mut EventLoop<World>, w: &mut World, p: Probe) -> HandlerKey {
    let name = p.name;
    let key = el.add(Box::new(p), Interest::READABLE).expect("add");
    w.keys.insert(name, key);
    key
}

fn bare(el: &mut EventLoop<World>, w: &mut World, name: &'static str) -> HandlerKey {
    let p = Probe::bare(name, w);
    add(el, w, p)
}

#[test]
fn timers_fire_in_deadline_order_then_creation_order() {
    let (mut el, clock, mut w) = fake_loop();
    let a = bare(&mut el, &mut w, "a");
    let b = bare(&mut el, &mut w, "b");
    let t0 = clock.now();
    el.with_ops(&mut w, |_, ops| {
        assert_eq!(ops.now(), t0);
        ops.add_timer(ms(30), a, 1);
        ops.add_timer(ms(10), b, 2);
        ops.add_timer_at(t0 + ms(20), a, 3);
        ops.add_timer(ms(10), a, 4);
    });
    el.run_once(&mut w, NOW).expect("run");
    assert!(w.entries().is_empty(), "nothing is due yet");
    clock.advance(ms(15));
    el.run_once(&mut w, NOW).expect("run");
    assert_eq!(w.entries(), ["b.timer:2", "a.timer:4"]);
    w.clear();
    clock.advance(ms(100));
    el.run_once(&mut w, NOW).expect("run");
    assert_eq!(w.entries(), ["a.timer:3", "a.timer:1"]);
    w.clear();
    clock.advance(ms(100));
    el.run_once(&mut w, NOW).expect("run");
    assert!(w.entries().is_empty(), "timers fire once");
}

#[test]
fn cancelled_timers_never_fire_even_when_already_due() {
    let (mut el, clock, mut w) = fake_loop();
    let victim_id = Rc::new(std::cell::Cell::new(None::<TimerId>));
    let v = victim_id.clone();
    let a = Probe::bare("a", &w).on_timer(move |_, tag, ops| {
        if tag == 1 {
            // Due in the same batch, not fired yet: cancelling still wins.
            ops.cancel_timer(v.get().expect("set"));
        }
    });
    let a = add(&mut el, &mut w, a);
    let b = bare(&mut el, &mut w, "b");
    el.with_ops(&mut w, |_, ops| {
        ops.add_timer(ms(5), a, 1);
        victim_id.set(Some(ops.add_timer(ms(6), b, 2)));
        let gone = ops.add_timer(ms(1), b, 3);
        ops.cancel_timer(gone);
        ops.cancel_timer(gone);
        ops.add_timer(ms(7), b, 4);
    });
    clock.advance(ms(10));
    el.run_once(&mut w, NOW).expect("run");
    assert_eq!(w.entries(), ["a.timer:1", "b.timer:4"]);
}

#[test]
fn timer_of_a_removed_handler_never_fires() {
    let (mut el, clock, mut w) = fake_loop();
    // a's timer fires first in the batch and removes b, whose timer is due
    // in the same batch; c is removed in an earlier batch.
    let a = Probe::bare("a", &w).on_timer(|world, _, ops| ops.remove(world.key("b")));
    let a = add(&mut el, &mut w, a);
    let b = Probe::bare("b", &w).on_timer(|_, _, _| panic!("b was removed"));
    let b = add(&mut el, &mut w, b);
    let c = Probe::bare("c", &w).on_timer(|_, _, _| panic!("c was removed"));
    let c = add(&mut el, &mut w, c);
    el.with_ops(&mut w, |_, ops| {
        ops.add_timer(ms(1), a, 1);
        ops.add_timer(ms(2), b, 2);
        ops.add_timer(ms(50), c, 3);
        ops.remove(c);
        // A timer for a removed key is accepted but inert.
        ops.add_timer(ms(1), c, 4);
    });
    assert_eq!(of(&w.entries(), "c"), ["c.removed", "c.drop"]);
    // c's slot is reused by d; c's timers must not reach d.
    let d = bare(&mut el, &mut w, "d");
    assert_ne!(c, d);
    assert_eq!(
        c.data().as_ffi() & 0xffff_ffff,
        d.data().as_ffi() & 0xffff_ffff,
        "slot not reused"
    );
    clock.advance(ms(100));
    w.clear();
    el.run_once(&mut w, NOW).expect("run");
    assert_eq!(w.entries(), ["a.timer:1", "b.removed", "b.drop"]);
}

#[test]
fn due_timer_makes_the_poll_non_blocking() {
    let (mut el, clock, mut w) = fake_loop();
    let a = bare(&mut el, &mut w, "a");
    el.with_ops(&mut w, |_, ops| {
        ops.add_timer(ms(10), a, 1);
    });
    clock.advance(ms(10));
    let started = Instant::now();
    // No caller timeout: only the due timer can end this poll.
    el.run_once(&mut w, None).expect("run");
    assert!(started.elapsed() < Duration::from_secs(1));
    assert_eq!(w.entries(), ["a.timer:1"]);
}

#[test]
fn zero_delay_timer_rearmed_from_its_callback_fires_once_per_iteration() {
    let (mut el, _clock, mut w) = fake_loop();
    let a = Probe::bare("a", &w).on_timer(|_, tag, ops| {
        ops.add_timer(Duration::ZERO, ops.me().expect("me"), tag + 1);
    });
    let a = add(&mut el, &mut w, a);
    el.with_ops(&mut w, |_, ops| {
        ops.add_timer(Duration::ZERO, a, 0);
    });
    for _ in 0..3 {
        el.run_once(&mut w, None).expect("run");
    }
    assert_eq!(w.entries(), ["a.timer:0", "a.timer:1", "a.timer:2"]);
}

/// With the real clock the poll sleeps until the next timer, not longer.
#[test]
fn poll_timeout_follows_the_next_timer_on_the_system_clock() {
    let mut el: EventLoop<World> = EventLoop::new().expect("loop");
    let mut w = World::default();
    let a = bare(&mut el, &mut w, "a");
    el.with_ops(&mut w, |_, ops| {
        ops.add_timer(ms(30), a, 1);
    });
    let started = Instant::now();
    while w.entries().is_empty() {
        el.run_once(&mut w, None).expect("run");
        assert!(
            started.elapsed() < Duration::from_secs(5),
            "timer never fired"
        );
    }
    assert!(started.elapsed() >= ms(30));
    assert_eq!(w.entries(), ["a.timer:1"]);
}
