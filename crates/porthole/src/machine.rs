//! The emulated machine: a VGA card (with its Bochs VBE linear framebuffer) and a PS/2
//! keyboard on a port/memory bus, driven by a built-in guest exactly as a real guest would
//! drive them.
//!
//! Guests that draw at their own pace (the `bench` guest) run on a thread named `vcpu0`, as
//! QEMU's vCPUs do: the devices sit behind one mutex that the vCPU holds while it writes a
//! frame and the loop holds while it renders, and after each frame that wrote something the
//! vCPU asks the loop (through a coalescing notifier) to render at once. Other guests run in
//! time slices on the loop thread.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

use display::{Rect, Surface};
use guest::{Bus, Guest};
use ps2::Ps2Kbd;
use qapi::RunState;
use vga::{LFB_BASE, VBE_PORT_DATA, VBE_PORT_INDEX, Vga};

/// The legacy VGA memory window.
const VGA_WINDOW: std::ops::RangeInclusive<u32> = 0xA_0000..=0xB_FFFF;
/// VGA I/O ports.
const VGA_PORTS: std::ops::RangeInclusive<u16> = 0x3B0..=0x3DF;
/// i8042 data and status/command ports.
const KBD_DATA: u16 = 0x60;
const KBD_STATUS: u16 = 0x64;
/// Name of the vCPU thread (the benchmark harness tells producer from display by it).
pub const VCPU_THREAD: &str = "vcpu0";

/// The devices a guest reaches through the bus.
pub struct Devices {
    /// The VGA card.
    pub vga: Vga,
    /// The keyboard controller.
    pub kbd: Ps2Kbd,
}

impl Devices {
    fn lfb_offset(&self, addr: u32) -> Option<usize> {
        let off = usize::try_from(addr.checked_sub(LFB_BASE)?).ok()?;
        (off < self.vga.vram_size()).then_some(off)
    }

    fn outb(&mut self, port: u16, v: u8) {
        match port {
            p if VGA_PORTS.contains(&p) => self.vga.port_write(p, v),
            VBE_PORT_INDEX | VBE_PORT_DATA => self.vga.vbe_write(port, u16::from(v)),
            KBD_DATA | KBD_STATUS => self.kbd.port_write(port, v),
            _ => {}
        }
    }

    fn inb(&mut self, port: u16) -> u8 {
        match port {
            p if VGA_PORTS.contains(&p) => self.vga.port_read(p),
            VBE_PORT_INDEX | VBE_PORT_DATA => self.vga.vbe_read(port).to_le_bytes()[0],
            KBD_DATA | KBD_STATUS => self.kbd.port_read(port),
            _ => 0xFF,
        }
    }

    fn outw(&mut self, port: u16, v: u16) {
        if matches!(port, VBE_PORT_INDEX | VBE_PORT_DATA) {
            self.vga.vbe_write(port, v);
        } else {
            let [lo, hi] = v.to_le_bytes();
            self.outb(port, lo);
            self.outb(port.wrapping_add(1), hi);
        }
    }

    fn inw(&mut self, port: u16) -> u16 {
        if matches!(port, VBE_PORT_INDEX | VBE_PORT_DATA) {
            self.vga.vbe_read(port)
        } else {
            u16::from_le_bytes([self.inb(port), self.inb(port.wrapping_add(1))])
        }
    }

    fn writeb(&mut self, addr: u32, v: u8) {
        if VGA_WINDOW.contains(&addr) {
            self.vga.mem_write(addr, v);
        } else if let Some(off) = self.lfb_offset(addr) {
            self.vga.lfb_write(off, &[v]);
        }
    }

    fn readb(&mut self, addr: u32) -> u8 {
        if VGA_WINDOW.contains(&addr) {
            self.vga.mem_read(addr)
        } else if let Some(off) = self.lfb_offset(addr) {
            let mut b = [0xFF];
            self.vga.lfb_read(off, &mut b);
            b[0]
        } else {
            0xFF
        }
    }

    fn write_bytes(&mut self, addr: u32, data: &[u8]) {
        if let Some(off) = self.lfb_offset(addr) {
            // Clipped to video memory by the card.
            self.vga.lfb_write(off, data);
        } else {
            for (a, &b) in (addr..).zip(data) {
                self.writeb(a, b);
            }
        }
    }
}

/// The bus of a guest running on the loop thread.
struct InlineBus<'a> {
    dev: &'a mut Devices,
}

impl Bus for InlineBus<'_> {
    fn outb(&mut self, port: u16, v: u8) {
        self.dev.outb(port, v);
    }
    fn inb(&mut self, port: u16) -> u8 {
        self.dev.inb(port)
    }
    fn writeb(&mut self, addr: u32, v: u8) {
        self.dev.writeb(addr, v);
    }
    fn readb(&mut self, addr: u32) -> u8 {
        self.dev.readb(addr)
    }
    fn outw(&mut self, port: u16, v: u16) {
        self.dev.outw(port, v);
    }
    fn inw(&mut self, port: u16) -> u16 {
        self.dev.inw(port)
    }
    fn write_bytes(&mut self, addr: u32, data: &[u8]) {
        self.dev.write_bytes(addr, data);
    }
}

/// The bus of the vCPU thread: takes the device lock at the first access of a frame and
/// keeps it until the frame is done, so the display never renders half a frame.
struct VcpuBus<'a> {
    dev: &'a Mutex<Devices>,
    guard: Option<MutexGuard<'a, Devices>>,
    /// Something was written (the display should look).
    wrote: bool,
}

impl VcpuBus<'_> {
    fn dev(&mut self) -> &mut Devices {
        let dev = self.dev;
        self.guard.get_or_insert_with(|| lock(dev))
    }
}

impl Bus for VcpuBus<'_> {
    fn outb(&mut self, port: u16, v: u8) {
        self.wrote = true;
        self.dev().outb(port, v);
    }
    fn inb(&mut self, port: u16) -> u8 {
        self.dev().inb(port)
    }
    fn writeb(&mut self, addr: u32, v: u8) {
        self.wrote = true;
        self.dev().writeb(addr, v);
    }
    fn readb(&mut self, addr: u32) -> u8 {
        self.dev().readb(addr)
    }
    fn outw(&mut self, port: u16, v: u16) {
        self.wrote = true;
        self.dev().outw(port, v);
    }
    fn inw(&mut self, port: u16) -> u16 {
        self.dev().inw(port)
    }
    fn write_bytes(&mut self, addr: u32, data: &[u8]) {
        self.wrote = true;
        self.dev().write_bytes(addr, data);
    }
}

/// What the loop tells the vCPU thread.
#[derive(Default)]
struct VcpuControl {
    running: bool,
    quit: bool,
    reset: bool,
    /// The loop gave the guest something to do (a mode request): wake a sleeping vCPU.
    poked: bool,
}

struct VcpuShared {
    control: Mutex<VcpuControl>,
    wake: Condvar,
}

/// Locks a mutex; a thread that panicked while holding it leaves data that is still usable
/// here (device registers, guest state), so poisoning is ignored.
fn lock<T: ?Sized>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

impl VcpuShared {
    fn control(&self) -> MutexGuard<'_, VcpuControl> {
        lock(&self.control)
    }
}

enum Runner {
    /// Run in time slices on the loop thread.
    Inline { guest: Box<dyn Guest>, booted: bool },
    /// Runs on its own thread once started. The vCPU holds the guest's lock while it runs a
    /// frame; the loop takes it only to hand over a viewer's mode request.
    Vcpu {
        guest: Arc<Mutex<Box<dyn Guest>>>,
        fps: u32,
        shared: Arc<VcpuShared>,
        thread: Option<std::thread::JoinHandle<()>>,
    },
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
    dev: Arc<Mutex<Devices>>,
    runner: Runner,
    surface: Surface,
    state: RunState,
}

impl Machine {
    /// A powered-on machine with `vgamem_mb` MiB of video memory; the guest boots at the
    /// first refresh while running (a vCPU guest once [`start`](Self::start)ed).
    pub fn new(guest: Box<dyn Guest>, vgamem_mb: u32, start_paused: bool) -> anyhow::Result<Self> {
        let vga = Vga::with_vgamem_mb(vgamem_mb);
        let (w, h) = vga.mode_size();
        let state = if start_paused {
            RunState::Prelaunch
        } else {
            RunState::Running
        };
        let runner = match guest.frame_rate() {
            Some(fps) => Runner::Vcpu {
                fps,
                guest: Arc::new(Mutex::new(guest)),
                shared: Arc::new(VcpuShared {
                    control: Mutex::new(VcpuControl {
                        running: state == RunState::Running,
                        ..VcpuControl::default()
                    }),
                    wake: Condvar::new(),
                }),
                thread: None,
            },
            None => Runner::Inline {
                guest,
                booted: false,
            },
        };
        Ok(Self {
            dev: Arc::new(Mutex::new(Devices {
                vga,
                kbd: Ps2Kbd::new(),
            })),
            runner,
            surface: Surface::new(w, h)?,
            state,
        })
    }

    /// Starts the vCPU thread of a guest that has one; `frame_done` is called (on that
    /// thread) after every frame that wrote to a device. Call once, after `-daemonize`.
    pub fn start(&mut self, frame_done: impl Fn() + Send + 'static) -> anyhow::Result<()> {
        let Runner::Vcpu {
            guest,
            fps,
            shared,
            thread,
            ..
        } = &mut self.runner
        else {
            return Ok(());
        };
        if thread.is_some() {
            return Ok(());
        }
        let (guest, dev, shared, fps) = (
            Arc::clone(guest),
            Arc::clone(&self.dev),
            Arc::clone(shared),
            *fps,
        );
        let handle = std::thread::Builder::new()
            .name(VCPU_THREAD.into())
            .spawn(move || vcpu_main(&guest, &dev, &shared, fps, &frame_done))?;
        *thread = Some(handle);
        Ok(())
    }

    fn dev(&self) -> MutexGuard<'_, Devices> {
        lock(&self.dev)
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
        if let Runner::Vcpu { shared, .. } = &self.runner {
            shared.control().running = s == RunState::Running;
            shared.wake.notify_all();
        }
    }

    /// Runs an inline guest for a slice (if running) and renders the card into the surface.
    pub fn refresh(&mut self, now_ms: u64, run_guest: bool) -> Refresh {
        let mut dev = lock(&self.dev);
        if let Runner::Inline { guest, booted } = &mut self.runner
            && run_guest
            && self.state == RunState::Running
        {
            let mut bus = InlineBus { dev: &mut dev };
            if !*booted {
                guest.reset(&mut bus);
                *booted = true;
            }
            guest.run(&mut bus, now_ms);
        }
        let r = dev.vga.render(&mut self.surface, now_ms);
        if r.resized {
            Refresh::Resized(self.surface.width(), self.surface.height())
        } else {
            Refresh::Dirty(r.dirty)
        }
    }

    /// `system_reset`: devices back to power-on, the guest boots again.
    pub fn reset(&mut self) {
        {
            let mut dev = self.dev();
            dev.vga.reset();
            dev.kbd.reset();
        }
        match &mut self.runner {
            Runner::Inline { booted, .. } => *booted = false,
            Runner::Vcpu { shared, .. } => {
                shared.control().reset = true;
                shared.wake.notify_all();
            }
        }
    }

    /// Input from a viewer or the monitor.
    pub fn input(&mut self, ev: input::InputEvent) {
        match ev {
            input::InputEvent::Key { qcode, down } => self.dev().kbd.key_event(qcode, down),
            // No pointing device on this machine yet: pointer events stop at the input layer.
            input::InputEvent::Pointer { .. } => {}
        }
    }

    /// Whether the guest runs on a vCPU thread of its own.
    pub fn has_vcpu(&self) -> bool {
        matches!(self.runner, Runner::Vcpu { .. })
    }

    /// Whether the guest changes its mode when a viewer asks (SetDesktopSize).
    pub fn resizable(&self) -> bool {
        match &self.runner {
            Runner::Inline { guest, .. } => guest.resizable(),
            Runner::Vcpu { guest, .. } => lock(guest).resizable(),
        }
    }

    /// A viewer asks for a new screen size (SetDesktopSize). Returns whether the guest takes
    /// such requests; it switches at its next frame, and the resize then reaches every
    /// viewer.
    pub fn request_mode(&mut self, width: u32, height: u32) -> bool {
        match &mut self.runner {
            Runner::Inline { guest, .. } => guest.request_mode(width, height),
            Runner::Vcpu { guest, shared, .. } => {
                let taken = lock(guest).request_mode(width, height);
                if taken {
                    shared.control().poked = true;
                    shared.wake.notify_all();
                }
                taken
            }
        }
    }
}

impl Drop for Machine {
    fn drop(&mut self) {
        if let Runner::Vcpu { shared, thread, .. } = &mut self.runner {
            shared.control().quit = true;
            shared.wake.notify_all();
            if let Some(t) = thread.take() {
                let _ = t.join();
            }
        }
    }
}

/// The vCPU thread: one guest frame per period, dropping frames rather than bursting when it
/// falls behind (as the benchmark guest does under QEMU).
fn vcpu_main(
    guest: &Mutex<Box<dyn Guest>>,
    dev: &Mutex<Devices>,
    shared: &VcpuShared,
    fps: u32,
    frame_done: &dyn Fn(),
) {
    let period = Duration::from_secs(1) / fps.max(1);
    let started = Instant::now();
    let mut booted = false;
    let mut next = Instant::now();
    loop {
        {
            let mut c = shared.control();
            while !c.running && !c.quit && !c.reset {
                c = shared.wake.wait(c).unwrap_or_else(PoisonError::into_inner);
                next = Instant::now();
            }
            if c.quit {
                return;
            }
            if std::mem::take(&mut c.reset) {
                booted = false;
            }
            if !c.running {
                continue;
            }
            c.poked = false;
        }
        let mut guest = lock(guest);
        let now_ms = u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX);
        let mut bus = VcpuBus {
            dev,
            guard: None,
            wrote: false,
        };
        if booted {
            guest.run(&mut bus, now_ms);
        } else {
            guest.reset(&mut bus);
            booted = true;
        }
        let wrote = bus.wrote;
        drop(bus);
        // Sleep until the next frame, waking early for a state change; a halted guest
        // sleeps until one comes.
        let halted = guest.halted();
        drop(guest);
        if wrote {
            frame_done();
        }
        next += period;
        let now = Instant::now();
        if now > next + period {
            next = now; // behind by more than a frame: drop, don't burst
        }
        let mut c = shared.control();
        while !c.quit && !c.reset && !c.poked && c.running {
            if halted {
                c = shared.wake.wait(c).unwrap_or_else(PoisonError::into_inner);
                next = Instant::now();
                continue;
            }
            let now = Instant::now();
            if now >= next {
                break;
            }
            c = shared
                .wake
                .wait_timeout(c, next - now)
                .unwrap_or_else(PoisonError::into_inner)
                .0;
        }
    }
}

/// A notifier for [`Machine::start`] that coalesces frames: while one render request is
/// queued on the loop, further frames add nothing.
pub fn coalescing_notifier(send: impl Fn(Arc<AtomicBool>) + Send + 'static) -> impl Fn() + Send {
    let pending = Arc::new(AtomicBool::new(false));
    move || {
        if !pending.swap(true, Ordering::AcqRel) {
            send(Arc::clone(&pending));
        }
    }
}
