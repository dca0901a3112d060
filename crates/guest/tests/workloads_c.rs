//! `guest::workloads` against the benchmark's own C frame generators.
//!
//! Each test compiles the shared generators (`workloads.c` from the
//! benchmark's `common` folder) with `tests/c/dump_frames.c` into a
//! temporary directory, runs the program, and compares every frame it
//! dumps with the Rust one: frame counter, counter as read back, dirty
//! rectangles and every pixel. The text-mode workload is compared with an
//! independent C transcription in `dump_frames.c`.
//!
//! The `common` folder is `$PORTHOLE_BENCH_COMMON` if set, else
//! `shared/bench/common` next to the repository. Without it, or without a C
//! compiler (`$CC`, default `cc`), the tests fail: they never skip.

use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

use guest::workloads::{
    DirtyRect, Kind, MIN_HEIGHT, MIN_WIDTH, TextWorkload, Workload, read_counter,
};

/// The folder holding the benchmark's `workloads.c` and `workloads.h`.
fn common_dir() -> PathBuf {
    match std::env::var_os("PORTHOLE_BENCH_COMMON") {
        Some(dir) => PathBuf::from(dir),
        None => Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/bench/common"),
    }
}

/// The compiled reference program, in a directory removed on drop.
struct Reference {
    dir: PathBuf,
    exe: PathBuf,
}

impl Drop for Reference {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

static BUILDS: AtomicUsize = AtomicUsize::new(0);

impl Reference {
    fn build() -> Reference {
        let common = common_dir();
        for file in ["workloads.c", "workloads.h"] {
            assert!(
                common.join(file).is_file(),
                "the benchmark's shared frame generators are missing: no {file} in {}. \
                 These tests compare against them and cannot run without them; set \
                 PORTHOLE_BENCH_COMMON to the folder that holds workloads.c and workloads.h.",
                common.display()
            );
        }
        let nanos = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.subsec_nanos());
        let dir = std::env::temp_dir().join(format!(
            "porthole-workloads-c-{}-{}-{nanos}",
            std::process::id(),
            BUILDS.fetch_add(1, Ordering::Relaxed)
        ));
        std::fs::create_dir_all(&dir).unwrap_or_else(|e| panic!("creating {}: {e}", dir.display()));
        let reference = Reference {
            exe: dir.join("dump_frames"),
            dir,
        };
        let cc = std::env::var_os("CC").unwrap_or_else(|| OsString::from("cc"));
        let dumper = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/c/dump_frames.c");
        let out = Command::new(&cc)
            .arg("-O2")
            .arg("-DWL_HOSTED")
            .arg("-I")
            .arg(&common)
            .arg(common.join("workloads.c"))
            .arg(&dumper)
            .arg("-o")
            .arg(&reference.exe)
            .output()
            .unwrap_or_else(|e| panic!("running the C compiler {cc:?}: {e}"));
        assert!(
            out.status.success(),
            "compiling the C reference failed ({}):\n{}",
            out.status,
            String::from_utf8_lossy(&out.stderr)
        );
        reference
    }

    fn run(&self, args: &[&str]) -> Vec<u8> {
        let out = Command::new(&self.exe)
            .args(args)
            .output()
            .unwrap_or_else(|e| panic!("running {}: {e}", self.exe.display()));
        assert!(
            out.status.success(),
            "dump_frames {args:?} failed ({}):\n{}",
            out.status,
            String::from_utf8_lossy(&out.stderr)
        );
        out.stdout
    }
}

/// Little-endian words out of the reference's output.
struct Reader<'a> {
    bytes: &'a [u8],
    at: usize,
}

impl<'a> Reader<'a> {
    fn new(bytes: &'a [u8]) -> Self {
        Reader { bytes, at: 0 }
    }

    fn take(&mut self, n: usize) -> &'a [u8] {
        let Some(chunk) = self.bytes.get(self.at..self.at + n) else {
            panic!(
                "reference output ends early: {} bytes, wanted {n} more at {}",
                self.bytes.len(),
                self.at
            );
        };
        self.at += n;
        chunk
    }

    fn u32(&mut self) -> u32 {
        u32::from_le_bytes(self.take(4).try_into().unwrap())
    }

    fn u32s(&mut self, n: usize) -> Vec<u32> {
        self.take(n * 4)
            .chunks_exact(4)
            .map(|b| u32::from_le_bytes(b.try_into().unwrap()))
            .collect()
    }

    fn u16s(&mut self, n: usize) -> Vec<u16> {
        self.take(n * 2)
            .chunks_exact(2)
            .map(|b| u16::from_le_bytes(b.try_into().unwrap()))
            .collect()
    }

    fn at_end(&self) -> bool {
        self.at == self.bytes.len()
    }
}

/// Panics with the first differing pixel if `ours` and `theirs` differ.
fn assert_same_pixels(ours: &[u32], theirs: &[u32], width: usize, what: &str) {
    assert_eq!(ours.len(), theirs.len(), "{what}: pixel count");
    if ours == theirs {
        return;
    }
    let differ = ours.iter().zip(theirs).filter(|(a, b)| a != b).count();
    let first = ours.iter().zip(theirs).position(|(a, b)| a != b).unwrap();
    panic!(
        "{what}: {differ} pixels differ; first at ({}, {}): Rust {:06X}, C {:06X}",
        first % width,
        first / width,
        ours[first],
        theirs[first]
    );
}

/// Compares the first frame and `steps` more of `kind` at `w`×`h`.
fn compare(reference: &Reference, kind: Kind, w: u32, h: u32, steps: u32) {
    let out = reference.run(&[
        kind.name(),
        &w.to_string(),
        &h.to_string(),
        &steps.to_string(),
    ]);
    let mut r = Reader::new(&out);
    let mut wl = Workload::new(kind, w, h);
    assert_eq!((wl.width(), wl.height()), (w, h), "size not taken as is");
    let width = usize::try_from(w).unwrap();
    let count = width * usize::try_from(h).unwrap();
    for n in 0..=steps {
        if n > 0 {
            wl.step();
        }
        let what = format!("{kind} {w}x{h} frame {n}");
        assert_eq!(wl.frame(), r.u32(), "{what}: counter");
        let shown = read_counter(wl.pixels(), width).unwrap_or(u32::MAX);
        assert_eq!(shown, r.u32(), "{what}: counter read back");
        let nrects = r.u32();
        let rects: Vec<DirtyRect> = (0..nrects)
            .map(|_| DirtyRect {
                x: r.u32(),
                y: r.u32(),
                w: r.u32(),
                h: r.u32(),
            })
            .collect();
        assert_eq!(wl.dirty(), &rects[..], "{what}: dirty rectangles");
        assert_same_pixels(wl.pixels(), &r.u32s(count), width, &what);
    }
    assert!(r.at_end(), "{kind} {w}x{h}: reference wrote more frames");
}

#[test]
fn all_kinds_at_1024x768() {
    let reference = Reference::build();
    for kind in Kind::ALL {
        compare(&reference, kind, 1024, 768, 8);
    }
}

#[test]
fn all_kinds_at_an_odd_size() {
    let reference = Reference::build();
    for kind in Kind::ALL {
        compare(&reference, kind, 333, 217, 5);
    }
}

#[test]
fn full_and_scroll_at_1920x1080() {
    let reference = Reference::build();
    for kind in [Kind::Full, Kind::Scroll] {
        compare(&reference, kind, 1920, 1080, 3);
    }
}

/// Small screens for many frames: the box hits every edge, the counter
/// reaches two digits, scroll works with few lines.
#[test]
fn all_kinds_at_small_sizes() {
    let reference = Reference::build();
    for (w, h) in [(MIN_WIDTH, MIN_HEIGHT), (150, 100), (131, 260), (257, 95)] {
        for kind in Kind::ALL {
            compare(&reference, kind, w, h, 60);
        }
    }
}

#[test]
fn text_matches_c() {
    let reference = Reference::build();
    let steps = 60;
    let out = reference.run(&["text", "80", "25", &steps.to_string()]);
    let mut r = Reader::new(&out);
    let mut cells = [0u16; 80 * 25];
    for (i, cell) in (0u32..).zip(cells.iter_mut()) {
        *cell = (i.wrapping_mul(40503).wrapping_add(12345) & 0xFFFF)
            .try_into()
            .unwrap();
    }
    let mut text = TextWorkload::new();
    assert_eq!(text.frame(), 0);
    for n in 1..=steps {
        text.step(&mut cells);
        assert_eq!(text.frame(), r.u32(), "text frame {n}: counter");
        let theirs = r.u16s(80 * 25);
        if let Some(i) = cells.iter().zip(&theirs).position(|(a, b)| a != b) {
            panic!(
                "text frame {n}: cell ({}, {}) is {:04X} in Rust, {:04X} in C",
                i % 80,
                i / 80,
                cells[i],
                theirs[i]
            );
        }
    }
    assert!(r.at_end(), "text: reference wrote more frames");
}
