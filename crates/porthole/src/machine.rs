//! The emulated machine: a VGA card and a PS/2 keyboard on a port/memory bus, driven by a
//! built-in guest exactly as a real guest would drive them.

use display::{Rect, Surface};
use guest::{BootInfo, Bus, Guest};
use ps2::Ps2Kbd;
use qapi::RunState;
use vga::Vga;

/// The legacy VGA memory window.
const VGA_WINDOW: std::ops::RangeInclusive<u32> = 0xA_0000..=0xB_FFFF;
/// VGA I/O ports.
const VGA_PORTS: std::ops::RangeInclusive<u16> = 0x3B0..=0x3DF;
/// i8042 data and status/command ports.
const KBD_DATA: u16 = 0x60;
const KBD_STATUS: u16 = 0x64;

struct MachineBus<'a> {
    vga: &'a mut Vga,
    kbd: &'a mut Ps2Kbd,
}

impl Bus for MachineBus<'_> {
    fn outb(&mut self, port: u16, v: u8) {
        match port {
            p if VGA_PORTS.contains(&p) => self.vga.port_write(p, v),
            KBD_DATA | KBD_STATUS => self.kbd.port_write(port, v),
            _ => {}
        }
    }

    fn inb(&mut self, port: u16) -> u8 {
        match port {
            p if VGA_PORTS.contains(&p) => self.vga.port_read(p),
            KBD_DATA | KBD_STATUS => self.kbd.port_read(port),
            _ => 0xFF,
        }
    }

    fn writeb(&mut self, addr: u32, v: u8) {
        if VGA_WINDOW.contains(&addr) {
            self.vga.mem_write(addr, v);
        }
    }

    fn readb(&mut self, addr: u32) -> u8 {
        if VGA_WINDOW.contains(&addr) {
            self.vga.mem_read(addr)
        } else {
            0xFF
        }
    }
}

/// What one refresh changed on the surface.
pub enum Refresh {
    /// The surface changed size; everything is new.
    Resized(u32, u32),
    /// These areas changed.
    Dirty(Vec<Rect>),
}

/// The machine.
pub struct Machine {
    vga: Vga,
    kbd: Ps2Kbd,
    guest: Box<dyn Guest>,
    surface: Surface,
    state: RunState,
    booted: bool,
}

impl Machine {
    /// A powered-on machine; the guest boots at the first refresh while running.
    pub fn new(guest_name: &str, info: BootInfo, start_paused: bool) -> anyhow::Result<Self> {
        let guest = guest::new_guest(guest_name, info)?;
        let vga = Vga::new();
        let (w, h) = vga.mode_size();
        Ok(Self {
            vga,
            kbd: Ps2Kbd::new(),
            guest,
            surface: Surface::new(w, h)?,
            state: if start_paused {
                RunState::Prelaunch
            } else {
                RunState::Running
            },
            booted: false,
        })
    }

    /// The display surface.
    pub fn surface(&self) -> &Surface {
        &self.surface
    }

    /// Current run state.
    pub fn run_state(&self) -> RunState {
        self.state
    }

    /// Sets the run state (`stop`, `cont`).
    pub fn set_run_state(&mut self, s: RunState) {
        self.state = s;
    }

    /// Runs the guest for a slice (if running) and renders the card into the surface.
    pub fn refresh(&mut self, now_ms: u64, run_guest: bool) -> Refresh {
        if run_guest && self.state == RunState::Running {
            let mut bus = MachineBus {
                vga: &mut self.vga,
                kbd: &mut self.kbd,
            };
            if !self.booted {
                self.guest.reset(&mut bus);
                self.booted = true;
            }
            self.guest.run(&mut bus, now_ms);
        }
        let r = self.vga.render(&mut self.surface, now_ms);
        if r.resized {
            Refresh::Resized(self.surface.width(), self.surface.height())
        } else {
            Refresh::Dirty(r.dirty)
        }
    }

    /// `system_reset`: devices back to power-on, the guest boots again.
    pub fn reset(&mut self) {
        self.vga.reset();
        self.kbd.reset();
        self.booted = false;
    }

    /// Input from a viewer or the monitor.
    pub fn input(&mut self, ev: input::InputEvent) {
        match ev {
            input::InputEvent::Key { qcode, down } => self.kbd.key_event(qcode, down),
            // No pointing device on this machine yet: pointer events stop at the input layer.
            input::InputEvent::Pointer { .. } => {}
        }
    }
}
