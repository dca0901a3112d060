//! Shared test fixtures: a world with a log, a probe handler that logs every
//! callback, and a source wrapper that logs (de)registration.
#![allow(dead_code)]

use std::cell::{Cell, RefCell};
use std::collections::HashMap;
use std::io::{self, Read, Write};
use std::rc::Rc;

use evloop::{Handler, HandlerKey, Ops, Readiness};
use mio::event::Source;
use mio::net::UnixStream;
use mio::{Interest, Registry, Token};

/// Shared log of everything that happens, in order.
pub type Log = Rc<RefCell<Vec<String>>>;

/// The world handed to callbacks.
#[derive(Default)]
pub struct World {
    pub log: Log,
    pub keys: HashMap<&'static str, HandlerKey>,
    /// Other ends of sockets created inside callbacks, kept open here.
    pub peers: HashMap<&'static str, UnixStream>,
}

impl World {
    pub fn key(&self, name: &str) -> HandlerKey {
        self.keys[name]
    }

    pub fn push(&self, s: impl Into<String>) {
        self.log.borrow_mut().push(s.into());
    }

    pub fn entries(&self) -> Vec<String> {
        self.log.borrow().clone()
    }

    pub fn clear(&self) {
        self.log.borrow_mut().clear();
    }
}

/// A `UnixStream` that logs `name.register`/`name.deregister` and tracks
/// whether it is registered.
pub struct Tracked {
    pub stream: UnixStream,
    pub registered: Rc<Cell<bool>>,
    name: &'static str,
    log: Log,
}

impl Source for Tracked {
    fn register(
        &mut self,
        registry: &Registry,
        token: Token,
        interest: Interest,
    ) -> io::Result<()> {
        self.stream.register(registry, token, interest)?;
        self.registered.set(true);
        self.log
            .borrow_mut()
            .push(format!("{}.register", self.name));
        Ok(())
    }

    fn reregister(
        &mut self,
        registry: &Registry,
        token: Token,
        interest: Interest,
    ) -> io::Result<()> {
        self.stream.reregister(registry, token, interest)?;
        self.log
            .borrow_mut()
            .push(format!("{}.reregister", self.name));
        Ok(())
    }

    fn deregister(&mut self, registry: &Registry) -> io::Result<()> {
        self.stream.deregister(registry)?;
        self.registered.set(false);
        self.log
            .borrow_mut()
            .push(format!("{}.deregister", self.name));
        Ok(())
    }
}

pub type Hook = Box<dyn FnMut(&mut World, &mut Ops<'_, World>)>;
pub type TagHook = Box<dyn FnMut(&mut World, u64, &mut Ops<'_, World>)>;

/// A handler that logs `name.read`, `name.write`, `name.timer:T`,
/// `name.notify:T`, `name.removed`, `name.drop`, and runs optional hooks.
pub struct Probe {
    pub name: &'static str,
    pub src: Option<Tracked>,
    pub on_read: Option<Hook>,
    pub on_write: Option<Hook>,
    pub on_timer: Option<TagHook>,
    pub on_notify: Option<TagHook>,
    log: Log,
}

impl Probe {
    /// A probe without an fd.
    pub fn bare(name: &'static str, world: &World) -> Self {
        Self {
            name,
            src: None,
            on_read: None,
            on_write: None,
            on_timer: None,
            on_notify: None,
            log: world.log.clone(),
        }
    }

    /// A probe on one end of a fresh socket pair; returns the other end.
    pub fn socket(name: &'static str, world: &World) -> (Self, UnixStream) {
        let (a, b) = UnixStream::pair().expect("socketpair");
        let mut p = Self::bare(name, world);
        p.src = Some(Tracked {
            stream: a,
            registered: Rc::new(Cell::new(false)),
            name,
            log: world.log.clone(),
        });
        (p, b)
    }

    pub fn on_read(mut self, f: impl FnMut(&mut World, &mut Ops<'_, World>) + 'static) -> Self {
        self.on_read = Some(Box::new(f));
        self
    }

    pub fn on_write(mut self, f: impl FnMut(&mut World, &mut Ops<'_, World>) + 'static) -> Self {
        self.on_write = Some(Box::new(f));
        self
    }

    pub fn on_timer(
        mut self,
        f: impl FnMut(&mut World, u64, &mut Ops<'_, World>) + 'static,
    ) -> Self {
        self.on_timer = Some(Box::new(f));
        self
    }

    pub fn on_notify(
        mut self,
        f: impl FnMut(&mut World, u64, &mut Ops<'_, World>) + 'static,
    ) -> Self {
        self.on_notify = Some(Box::new(f));
        self
    }
}

impl Handler<World> for Probe {
    fn ready(&mut self, world: &mut World, ev: Readiness, ops: &mut Ops<'_, World>) {
        let read = ev.readable || ev.read_closed || ev.error;
        let write = ev.writable || ev.write_closed;
        assert!(
            !(read && write),
            "{}: read and write halves in one call: {ev:?}",
            self.name
        );
        if read {
            world.push(format!("{}.read", self.name));
            if let Some(src) = &mut self.src {
                let mut buf = [0u8; 256];
                while matches!(src.stream.read(&mut buf), Ok(n) if n > 0) {}
            }
            if let Some(f) = &mut self.on_read {
                f(world, ops);
            }
        } else if write {
            world.push(format!("{}.write", self.name));
            if let Some(f) = &mut self.on_write {
                f(world, ops);
            }
        } else {
            world.push(format!("{}.spurious", self.name));
        }
    }

    fn timer(&mut self, world: &mut World, tag: u64, ops: &mut Ops<'_, World>) {
        world.push(format!("{}.timer:{tag}", self.name));
        if let Some(f) = &mut self.on_timer {
            f(world, tag, ops);
        }
    }

    fn notify(&mut self, world: &mut World, tag: u64, ops: &mut Ops<'_, World>) {
        world.push(format!("{}.notify:{tag}", self.name));
        if let Some(f) = &mut self.on_notify {
            f(world, tag, ops);
        }
    }

    fn source(&mut self) -> Option<&mut dyn Source> {
        self.src.as_mut().map(|s| s as &mut dyn Source)
    }

    fn removed(&mut self, world: &mut World) {
        if let Some(src) = &self.src {
            assert!(
                !src.registered.get(),
                "{}: removed() before deregistration",
                self.name
            );
        }
        world.push(format!("{}.removed", self.name));
    }
}

impl Drop for Probe {
    fn drop(&mut self) {
        self.log.borrow_mut().push(format!("{}.drop", self.name));
    }
}

/// Writes one byte so that the other end becomes readable.
pub fn poke(peer: &mut UnixStream) {
    peer.write_all(b"!").expect("poke");
}

/// Entries of `log` that start with `prefix.`.
pub fn of(log: &[String], prefix: &str) -> Vec<String> {
    let p = format!("{prefix}.");
    log.iter().filter(|e| e.starts_with(&p)).cloned().collect()
}
