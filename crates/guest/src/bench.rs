//! The "bench" guest: the frame workloads of the project's benchmark harness, drawn the way
//! the harness's multiboot guest draws them under QEMU — a mode set through the Bochs VBE
//! ports and pixels written to the linear framebuffer — or, for `text`, VGA text mode
//! scrolling at `0xB8000`.
//!
//! The machine runs it on a vCPU thread of its own at [`Config::fps`] frames per second
//! ([`Guest::frame_rate`]); each [`Guest::run`] draws one frame and writes only the
//! rectangles the workload changed. A viewer's SetDesktopSize is honoured in graphics
//! workloads: the next frame sets the new mode and starts the workload again at that size.

use crate::text::{self, COLS, ROWS, TEXT_BASE};
use crate::workloads::{self, DirtyRect, Kind, TextWorkload, Workload};
use crate::{Bus, Guest};

/// Default mode width.
pub const DEFAULT_WIDTH: u32 = 1024;
/// Default mode height.
pub const DEFAULT_HEIGHT: u32 = 768;
/// Default frame rate.
pub const DEFAULT_FPS: u32 = 60;
/// Highest frame rate accepted.
pub const MAX_FPS: u32 = 1000;
/// Widest mode the guest asks for (the card's VBE limit).
pub const MAX_WIDTH: u32 = workloads::MAX_WIDTH;
/// Tallest mode the guest asks for.
pub const MAX_HEIGHT: u32 = workloads::MAX_HEIGHT;

/// What the guest draws.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BenchWorkload {
    /// A framebuffer workload.
    Graphics(Kind),
    /// VGA text mode, one new line per frame.
    Text,
}

/// The guest's options (`-guest bench,workload=...,width=...,height=...,fps=...`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Config {
    /// The workload.
    pub workload: BenchWorkload,
    /// Mode width in pixels (graphics workloads).
    pub width: u32,
    /// Mode height in pixels.
    pub height: u32,
    /// Frames per second.
    pub fps: u32,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            workload: BenchWorkload::Graphics(Kind::Scroll),
            width: DEFAULT_WIDTH,
            height: DEFAULT_HEIGHT,
            fps: DEFAULT_FPS,
        }
    }
}

/// The workload names, as `-guest bench,workload=` takes them.
pub const WORKLOAD_NAMES: &[&str] = &["full", "noise", "scroll", "box", "static", "text"];

impl BenchWorkload {
    /// Parses a workload name.
    pub fn from_name(s: &str) -> Option<Self> {
        if s == "text" {
            return Some(Self::Text);
        }
        Kind::from_name(s).map(Self::Graphics)
    }
}

/// Why a size cannot be a mode of this guest.
pub fn check_size(width: u32, height: u32) -> Result<(), String> {
    if !(workloads::MIN_WIDTH..=MAX_WIDTH).contains(&width) {
        return Err(format!(
            "width {width} is outside {}..={MAX_WIDTH}",
            workloads::MIN_WIDTH
        ));
    }
    if !(workloads::MIN_HEIGHT..=MAX_HEIGHT).contains(&height) {
        return Err(format!(
            "height {height} is outside {}..={MAX_HEIGHT}",
            workloads::MIN_HEIGHT
        ));
    }
    Ok(())
}

/// The bench guest.
pub struct Bench {
    cfg: Config,
    /// The graphics workload and the mode it runs in.
    gfx: Option<Workload>,
    text: TextWorkload,
    /// What the text screen shows (attribute << 8 | character).
    cells: Box<[u16; COLS * ROWS]>,
    /// A mode asked for by a viewer, applied at the next frame.
    pending_mode: Option<(u32, u32)>,
    /// The whole frame must be written (after a reset or a mode change).
    full: bool,
    /// One scan line as bytes, reused.
    row: Vec<u8>,
}

impl std::fmt::Debug for Bench {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Bench")
            .field("cfg", &self.cfg)
            .finish_non_exhaustive()
    }
}

impl Bench {
    /// A bench guest with these options.
    #[must_use]
    pub fn new(cfg: Config) -> Self {
        Self {
            cfg,
            gfx: None,
            text: TextWorkload::new(),
            cells: Box::new([0x0720; COLS * ROWS]),
            pending_mode: None,
            full: true,
            row: Vec::new(),
        }
    }

    fn start_graphics(&mut self, bus: &mut dyn Bus, kind: Kind, width: u32, height: u32) {
        // The harness's guest sets its mode with the same register sequence.
        let (w, h) = crate::vbe::set_mode_32bpp(bus, width, height);
        // The card may give less than asked for (too little video memory); draw what it shows.
        let (w, h) = (w.max(workloads::MIN_WIDTH), h.max(workloads::MIN_HEIGHT));
        self.gfx = Some(Workload::new(kind, w, h));
        self.full = true;
    }

    fn draw_text(&mut self, bus: &mut dyn Bus, old: &[u16; COLS * ROWS]) {
        for (i, (&new, &was)) in self.cells.iter().zip(old.iter()).enumerate() {
            if new != was || self.full {
                let at = TEXT_BASE + u32::try_from(i * 2).unwrap_or(0);
                let [ch, attr] = new.to_le_bytes();
                bus.writeb(at, ch);
                bus.writeb(at + 1, attr);
            }
        }
    }
}

fn to_usize(v: u32) -> usize {
    usize::try_from(v).unwrap_or(usize::MAX)
}

impl Guest for Bench {
    fn name(&self) -> &'static str {
        "bench"
    }

    fn reset(&mut self, bus: &mut dyn Bus) {
        self.pending_mode = None;
        self.full = true;
        match self.cfg.workload {
            BenchWorkload::Text => {
                text::set_mode3(bus, false);
                text::load_font(bus, vga::FONT_8X16);
                self.text = TextWorkload::new();
                self.cells.fill(0x0720);
                let old = *self.cells;
                self.draw_text(bus, &old);
            }
            BenchWorkload::Graphics(kind) => {
                self.start_graphics(bus, kind, self.cfg.width, self.cfg.height);
            }
        }
        self.run_flush(bus);
    }

    fn run(&mut self, bus: &mut dyn Bus, _now_ms: u64) {
        if let (Some((w, h)), BenchWorkload::Graphics(kind)) =
            (self.pending_mode.take(), self.cfg.workload)
        {
            self.start_graphics(bus, kind, w, h);
        } else {
            match self.cfg.workload {
                BenchWorkload::Text => {
                    let old = *self.cells;
                    self.text.step(&mut self.cells);
                    self.draw_text(bus, &old);
                    self.full = false;
                    return;
                }
                BenchWorkload::Graphics(_) => {
                    if let Some(wl) = &mut self.gfx {
                        wl.step();
                    }
                }
            }
        }
        self.run_flush(bus);
    }

    fn frame_rate(&self) -> Option<u32> {
        Some(self.cfg.fps)
    }

    fn request_mode(&mut self, width: u32, height: u32) -> bool {
        if !self.resizable() || check_size(width, height).is_err() {
            return false;
        }
        self.pending_mode = Some((width, height));
        true
    }

    fn resizable(&self) -> bool {
        matches!(self.cfg.workload, BenchWorkload::Graphics(_))
    }

    fn halted(&self) -> bool {
        // `static` draws its one frame and then halts, as the harness's guest does.
        self.cfg.workload == BenchWorkload::Graphics(Kind::Static)
            && self.gfx.is_some()
            && !self.full
            && self.pending_mode.is_none()
    }
}

impl Bench {
    /// Writes what the last step changed (everything after a mode set) to the framebuffer.
    fn run_flush(&mut self, bus: &mut dyn Bus) {
        let Some(wl) = &self.gfx else {
            return;
        };
        let whole = [DirtyRect {
            x: 0,
            y: 0,
            w: wl.width(),
            h: wl.height(),
        }];
        let rects = if self.full { &whole[..] } else { wl.dirty() };
        let pitch = u64::from(wl.width());
        for r in rects {
            let w = to_usize(r.w);
            for y in r.y..r.y.saturating_add(r.h).min(wl.height()) {
                let first = u64::from(y) * pitch + u64::from(r.x);
                let start = usize::try_from(first).unwrap_or(usize::MAX);
                if let Some(src) = wl.pixels().get(start..start.saturating_add(w)) {
                    crate::vbe::write_pixels(bus, first, src, &mut self.row);
                }
            }
        }
        self.full = false;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    use crate::testbus::CardBus;

    fn frame_of(bus: &mut CardBus) -> display::Surface {
        bus.frame()
    }

    #[test]
    fn every_graphics_workload_shows_the_generator_frames() {
        for kind in Kind::ALL {
            let cfg = Config {
                workload: BenchWorkload::Graphics(kind),
                width: 320,
                height: 200,
                fps: 60,
            };
            let mut g = Bench::new(cfg);
            let mut reference = Workload::new(kind, 320, 200);
            let mut bus = CardBus::new();
            assert!(!g.halted(), "{kind:?} halted before it drew");
            g.reset(&mut bus);
            // Only `static` halts once its frame is drawn.
            assert_eq!(g.halted(), kind == Kind::Static, "{kind:?}");
            for frame in 0..4 {
                let s = frame_of(&mut bus);
                assert_eq!((s.width(), s.height()), (320, 200), "{kind:?}");
                assert_eq!(s.pixels(), reference.pixels(), "{kind:?} frame {frame}");
                g.run(&mut bus, 0);
                reference.step();
            }
        }
    }

    #[test]
    fn a_requested_mode_restarts_the_workload_at_that_size() {
        let mut g = Bench::new(Config {
            workload: BenchWorkload::Graphics(Kind::Box),
            ..Config::default()
        });
        let mut bus = CardBus::new();
        g.reset(&mut bus);
        assert!(g.resizable());
        assert!(!g.request_mode(0, 0));
        assert!(!g.request_mode(MAX_WIDTH + 8, 600));
        assert!(g.request_mode(800, 600));
        g.run(&mut bus, 0);
        let s = frame_of(&mut bus);
        assert_eq!((s.width(), s.height()), (800, 600));
        assert_eq!(s.pixels(), Workload::new(Kind::Box, 800, 600).pixels());
    }

    #[test]
    fn text_workload_scrolls_text_mode_and_cannot_resize() {
        let mut g = Bench::new(Config {
            workload: BenchWorkload::Text,
            ..Config::default()
        });
        let mut bus = CardBus::new();
        g.reset(&mut bus);
        assert!(!g.resizable());
        assert!(!g.request_mode(1024, 768));
        let mut cells = [0x0720u16; COLS * ROWS];
        let mut reference = TextWorkload::new();
        for _ in 0..30 {
            g.run(&mut bus, 0);
            reference.step(&mut cells);
        }
        assert_eq!(frame_of(&mut bus).width(), 720);
        for (i, c) in cells.iter().enumerate() {
            let at = TEXT_BASE + u32::try_from(i * 2).unwrap();
            let [ch, attr] = c.to_le_bytes();
            assert_eq!(bus.vga.mem_read(at), ch, "cell {i}");
            assert_eq!(bus.vga.mem_read(at + 1), attr, "cell {i}");
        }
    }
}
