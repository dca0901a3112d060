//! Hostile QMP input cannot make a session allocate without bound: the heap
//! is measured with a counting allocator while a caller that follows the
//! `Session` contract (read only while `wants_input()`, send all output)
//! feeds tens of MiB of abusive input.
//!
//! This file is its own test binary with a single test, so no other test
//! allocates while it measures.

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicUsize, Ordering};

use monitor::qmp::{Greeting, MAX_MESSAGE_BYTES, MAX_NESTING, Session};
use serde_json::json;

/// Counts live heap bytes and their high-water mark.
struct Counting;

static LIVE: AtomicUsize = AtomicUsize::new(0);
static PEAK: AtomicUsize = AtomicUsize::new(0);

fn grew(bytes: usize) {
    let now = LIVE.fetch_add(bytes, Ordering::Relaxed) + bytes;
    PEAK.fetch_max(now, Ordering::Relaxed);
}

fn shrank(bytes: usize) {
    LIVE.fetch_sub(bytes, Ordering::Relaxed);
}

// SAFETY: every method forwards to the system allocator with the caller's
// arguments unchanged and only adds bookkeeping, so `System`'s guarantees
// carry over.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        // SAFETY: the caller guarantees `layout` has a non-zero size.
        let p = unsafe { System.alloc(layout) };
        if !p.is_null() {
            grew(layout.size());
        }
        p
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: `ptr` was returned by this allocator (hence by `System`)
        // for `layout`, as the caller guarantees.
        unsafe { System.dealloc(ptr, layout) };
        shrank(layout.size());
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        // SAFETY: the caller's guarantees for `realloc` are passed on as is.
        let p = unsafe { System.realloc(ptr, layout, new_size) };
        if !p.is_null() {
            shrank(layout.size());
            grew(new_size);
        }
        p
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

/// Bytes a caller reads from the socket at a time.
const READ_SIZE: usize = 4096;

/// The most a session may hold at once, whatever it is fed: a message being
/// parsed and the eight queued ones at their limits, plus buffers.
const BOUND: usize = 24 << 20;

/// Plays a well-behaved caller over `input` and returns the session's peak
/// heap use. `replies` says whether the caller answers requests (if not, the
/// first request stays in flight and the queue fills).
fn peak_of(input: &[u8], replies: bool) -> usize {
    let greeting = Greeting {
        major: 10,
        minor: 2,
        micro: 50,
        package: String::new(),
        capabilities: Vec::new(),
    };
    let base = LIVE.load(Ordering::Relaxed);
    PEAK.store(base, Ordering::Relaxed);
    {
        let mut s = Session::new(&greeting, false);
        s.feed(br#"{"execute": "qmp_capabilities"}"#);
        assert!(s.next_request().is_none());
        let mut rest = input;
        while !rest.is_empty() {
            if !s.wants_input() {
                assert!(!replies, "a caller that replies always gets to read");
                break;
            }
            let (chunk, tail) = rest.split_at(rest.len().min(READ_SIZE));
            rest = tail;
            s.feed(chunk);
            while let Some(req) = s.next_request() {
                if replies {
                    s.reply(req.id, Ok(json!({})));
                }
            }
            drop(s.take_output());
        }
    }
    PEAK.load(Ordering::Relaxed) - base
}

fn repeat_to(unit: &[u8], len: usize) -> Vec<u8> {
    unit.iter().copied().cycle().take(len).collect()
}

#[test]
fn hostile_input_keeps_session_memory_bounded() {
    let total = 2 << 20;
    let big_request = {
        let mut v = br#"{"execute": "x", "arguments": {"s": ""#.to_vec();
        v.extend(std::iter::repeat_n(b'z', MAX_MESSAGE_BYTES - 64));
        v.extend_from_slice(br#""}}"#);
        v
    };
    let mut pseudo_random = Vec::with_capacity(total);
    let mut x: u32 = 0x1234_5678;
    while pseudo_random.len() < total / 4 {
        x ^= x << 13;
        x ^= x >> 17;
        x ^= x << 5;
        pseudo_random.extend_from_slice(&x.to_le_bytes());
    }
    let cases: Vec<(&str, Vec<u8>)> = vec![
        ("open brackets", repeat_to(b"[", total)),
        ("nesting at the limit", {
            let one = format!("{}{}", "[".repeat(MAX_NESTING), "]".repeat(MAX_NESTING));
            repeat_to(one.as_bytes(), total)
        }),
        ("unterminated string", {
            let mut v = b"{\"execute\": \"".to_vec();
            v.extend(repeat_to("é{".as_bytes(), total));
            v
        }),
        ("endless array", {
            let mut v = b"[".to_vec();
            v.extend(repeat_to(b"0,", total));
            v
        }),
        ("endless object", {
            let mut v = b"{".to_vec();
            for i in 0..(total / 16) {
                v.extend_from_slice(format!("\"k{i}\":{{}},").as_bytes());
            }
            v
        }),
        // More than the queue holds: eight wait while one is in flight.
        (
            "large requests",
            repeat_to(&big_request, 10 * MAX_MESSAGE_BYTES),
        ),
        (
            "small requests",
            repeat_to(br#"{"execute": "stop", "id": [1, 2, 3]}"#, total),
        ),
        // Each error costs a reply; a little is enough to see the output drain.
        ("errors", repeat_to(b"\x1b@}", total / 16)),
        ("random bytes", pseudo_random),
    ];
    for (name, input) in &cases {
        for replies in [true, false] {
            let peak = peak_of(input, replies);
            eprintln!("{name} (replies: {replies}): peak {peak} bytes");
            assert!(
                peak < BOUND,
                "{name} (replies: {replies}): peak {peak} bytes"
            );
        }
    }
}
