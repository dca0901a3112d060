//! Signals through signal-hook-mio. This file is its own test process, so
//! raising signals here does not disturb other tests.

mod common;

use std::time::{Duration, Instant};

use common::World;
use evloop::{EventLoop, Ops};
use signal_hook::consts::{SIGHUP, SIGINT, SIGTERM};
use signal_hook::low_level::raise;

#[test]
fn sighup_reaches_the_callback_and_can_quit_the_loop() {
    let mut el: EventLoop<World> = EventLoop::new().expect("loop");
    let mut w = World::default();
    el.add_signals(
        &[SIGINT, SIGTERM, SIGHUP],
        |world: &mut World, signal, ops: &mut Ops<'_, World>| {
            assert!(
                ops.me().is_some(),
                "signals are dispatched like any handler"
            );
            world.push(format!("signal:{signal}"));
            ops.quit();
        },
    )
    .expect("signals");
    assert_eq!(el.handler_count(), 0, "signal sets are internal");
    raise(SIGHUP).expect("raise");
    let started = Instant::now();
    while !el.is_quitting() && started.elapsed() < Duration::from_secs(5) {
        el.run_once(&mut w, Some(Duration::from_secs(1)))
            .expect("run");
    }
    assert_eq!(w.entries(), [format!("signal:{SIGHUP}")]);
    // run() returns at once since quit() was called.
    el.run(&mut w).expect("run");
}
