//! Built-in guests: small programs that run "inside" the machine.
//!
//! Design: a guest sees the machine only through a [`Bus`] — port I/O and
//! physical memory — exactly as software on a PC would. It programs the VGA
//! card through its registers, writes characters to video memory at
//! `0xB8000`, and reads the keyboard from the i8042 at ports `0x60`/`0x64`.
//! It never touches the host: no files, no processes, no environment, no
//! clock other than the `now_ms` it is handed.
//!
//! The machine calls [`Guest::reset`] at power-on and reset, and
//! [`Guest::run`] for one time slice every 10–30 ms while it runs (never
//! while paused). A slice does a bounded amount of work; every wait on a
//! device is a bounded poll, so a guest can never hang the event loop.
//! Guests are deterministic: the same key presses give the same video
//! memory.
//!
//! Guests: `console` (the default; boot screen and a line editor, and `mode WxH` for a
//! Bochs VBE graphics screen), `bars` (text-mode colour bars) and `bench` (benchmark
//! workloads). See [`GUESTS`] and [`new_guest`].

#![forbid(unsafe_code)]

pub mod bars;
pub mod bench;
pub mod console;
pub mod graphics;
pub mod keyboard;
#[cfg(test)]
mod testbus;
pub mod text;
pub mod vbe;
pub mod workloads;

/// The guest's view of the machine: port I/O and physical memory.
///
/// A PC machine routes VGA ports `0x3B0..=0x3DF` and memory
/// `0xA0000..=0xBFFFF` to the VGA card and ports `0x60`/`0x64` to the
/// keyboard controller. Unrouted ports read `0xFF`; unrouted memory reads
/// `0xFF`; writes to either are ignored.
pub trait Bus {
    /// Writes a byte to an I/O port.
    fn outb(&mut self, port: u16, v: u8);
    /// Reads a byte from an I/O port.
    fn inb(&mut self, port: u16) -> u8;
    /// Writes a byte of physical memory.
    fn writeb(&mut self, addr: u32, v: u8);
    /// Reads a byte of physical memory.
    fn readb(&mut self, addr: u32) -> u8;
    /// Writes a 16-bit I/O port (`out dx, ax`). By default two byte writes, low byte first;
    /// 16-bit ports such as the Bochs VBE index/data pair override it.
    fn outw(&mut self, port: u16, v: u16) {
        let [lo, hi] = v.to_le_bytes();
        self.outb(port, lo);
        self.outb(port.wrapping_add(1), hi);
    }
    /// Reads a 16-bit I/O port (two byte reads by default).
    fn inw(&mut self, port: u16) -> u16 {
        let lo = self.inb(port);
        let hi = self.inb(port.wrapping_add(1));
        u16::from_le_bytes([lo, hi])
    }
    /// Writes consecutive bytes of physical memory (`rep movsb`); by default one byte at a
    /// time. Buses with a linear framebuffer override it to copy whole runs.
    fn write_bytes(&mut self, addr: u32, data: &[u8]) {
        for (a, &b) in (addr..).zip(data) {
            self.writeb(a, b);
        }
    }
}

/// What the boot screen tells the user about the machine.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct BootInfo {
    /// Product name for the title bar (e.g. "Porthole").
    pub product: String,
    /// Product version for the title bar.
    pub version: String,
    /// The machine's `-name`, if any.
    pub name: Option<String>,
    /// Further lines, e.g. "VNC display 127.0.0.1:1 (port 5901), password
    /// required". At most [`console::MAX_BOOT_LINES`] are shown.
    pub lines: Vec<String>,
}

/// A built-in guest program. Guests are `Send` so that a machine may run one on a vCPU
/// thread of its own.
pub trait Guest: Send {
    /// The guest's name as given to [`new_guest`].
    fn name(&self) -> &'static str;
    /// Power-on or reset: program the hardware and draw the first screen.
    fn reset(&mut self, bus: &mut dyn Bus);
    /// One time slice at machine time `now_ms`.
    fn run(&mut self, bus: &mut dyn Bus, now_ms: u64);
    /// Frames per second for a guest that draws at its own pace on a vCPU thread (one
    /// [`run`](Self::run) per frame), or `None` for one run in time slices by the machine.
    fn frame_rate(&self) -> Option<u32> {
        None
    }
    /// Asks the guest to switch its screen to `width`×`height` (a viewer's SetDesktopSize,
    /// QEMU's `dpy_set_ui_info`). Returns whether the guest takes such requests; the switch
    /// itself happens in a later [`run`](Self::run).
    fn request_mode(&mut self, _width: u32, _height: u32) -> bool {
        false
    }
    /// Whether the guest has nothing more to draw until something happens (a reset or a
    /// mode request): a vCPU then sleeps instead of running empty frames, as a guest that
    /// halts does.
    fn halted(&self) -> bool {
        false
    }
    /// Whether [`request_mode`](Self::request_mode) can ever succeed.
    fn resizable(&self) -> bool {
        false
    }
}

/// The guests, as `(name, one-line description)`; the first is the default.
pub const GUESTS: &[(&str, &str)] = &[
    (
        "console",
        "boot screen and a line editor in VGA text mode; 'mode WxH' shows a VBE \
         graphics screen (default)",
    ),
    ("bars", "the 16 text-mode colours as vertical bars"),
    (
        "bench",
        "benchmark workloads on a Bochs VBE framebuffer, on thread vcpu0 \
         (bench,workload=full|noise|scroll|box|static|text,width=W,height=H,fps=N)",
    ),
];

/// Name of the default guest.
pub const DEFAULT_GUEST: &str = "console";

/// Longest guest name echoed back in an error.
pub const MAX_NAME_IN_ERROR: usize = 64;

/// Errors of this crate.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum Error {
    /// No built-in guest has this name.
    #[error("unknown guest '{name}' (choices: {choices})")]
    UnknownGuest {
        /// The name asked for (cut to [`MAX_NAME_IN_ERROR`] characters).
        name: String,
        /// The valid names, comma-separated.
        choices: String,
    },
}

/// Creates the guest called `name`, which shows `info` on its screen.
///
/// # Errors
/// [`Error::UnknownGuest`] if no guest has that name; the message lists the
/// choices.
pub fn new_guest(name: &str, info: BootInfo) -> Result<Box<dyn Guest>, Error> {
    match name {
        "console" => Ok(Box::new(console::Console::new(info))),
        "bars" => Ok(Box::new(bars::Bars::new(info))),
        "bench" => Ok(Box::new(bench::Bench::new(bench::Config::default()))),
        _ => Err(Error::UnknownGuest {
            name: name.chars().take(MAX_NAME_IN_ERROR).collect(),
            choices: GUESTS
                .iter()
                .map(|(n, _)| *n)
                .collect::<Vec<_>>()
                .join(", "),
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_listed_guest_can_be_created() {
        for (name, description) in GUESTS {
            let g = new_guest(name, BootInfo::default()).unwrap();
            assert_eq!(g.name(), *name);
            assert!(!description.is_empty());
        }
        assert_eq!(GUESTS[0].0, DEFAULT_GUEST);
    }

    #[test]
    fn unknown_guest_names_the_choices() {
        let err = new_guest("doom", BootInfo::default()).err().unwrap();
        assert_eq!(
            err.to_string(),
            "unknown guest 'doom' (choices: console, bars, bench)"
        );
        let long = "y".repeat(1000);
        let Err(Error::UnknownGuest { name, .. }) = new_guest(&long, BootInfo::default()) else {
            panic!("expected an error");
        };
        assert_eq!(name.len(), MAX_NAME_IN_ERROR);
    }
}
