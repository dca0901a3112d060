//! One VNC client: socket, bounded write queue, RFB session, update scheduling.

use std::cell::Cell;
use std::io::{self, Read, Write};
use std::marker::PhantomData;
use std::rc::Rc;
use std::time::{Duration, SystemTime};

use chan::Channel;
use display::Rect;
use evloop::{Handler, HandlerKey, Ops, Readiness};
use rfb::{Event, Phase, ServerConfig, ServerSession};

use crate::VncHost;
use crate::server::{ClientState, SharePolicy, VncEventKind, VncServer};
use crate::stream::Stream;

/// Notification tag: the display changed, send an update if one was requested.
pub const NOTIFY_UPDATE: u64 = 1;
/// Notification tag: the read budget ran out, read more after the batch.
const NOTIFY_READ: u64 = 2;
/// Notification tag: the Plain login worker accepted the credentials.
const NOTIFY_PLAIN_ACCEPTED: u64 = 3;
/// Notification tag: the Plain login worker refused the credentials.
const NOTIFY_PLAIN_REFUSED: u64 = 4;
/// Timer tag: the pre-authentication deadline.
pub(crate) const TIMER_PREAUTH: u64 = 1;

/// A client must be through authentication and ClientInit within this time (QEMU has no
/// such deadline; TigerVNC uses 120 s).
pub const PREAUTH_TIMEOUT: Duration = Duration::from_secs(60);
/// Bytes read from one client per callback before yielding to the others.
const READ_BUDGET: usize = 256 * 1024;
/// Size of one read.
const READ_CHUNK: usize = 16 * 1024;
/// Output queue level below which incremental updates are produced (QEMU: max(1 MiB, one frame)).
const THROTTLE_MIN: usize = 1 << 20;
/// A client whose queue exceeds this many times the throttle level is disconnected
/// (QEMU's VNC_THROTTLE_OUTPUT_LIMIT_SCALE, CVE-2017-15124).
const THROTTLE_LIMIT_SCALE: usize = 5;

pub(crate) struct ClientHandler<S> {
    /// The socket, plain or (after VeNCrypt's StartTls) TLS. `None` only while switching.
    chan: Option<Channel<Stream>>,
    /// TLS credentials for this session (fixed at connect time, as QEMU's sessions keep a
    /// reference to the credentials they started with), and the tls-authz object id.
    tls: Option<crate::server::TlsSetup>,
    /// The TLS handshake is running.
    handshaking: bool,
    /// TLS is the outer layer of a wss client (not VeNCrypt's: the RFB session does not
    /// wait for it).
    outer_tls: bool,
    /// The WebSocket layer of clients that came in on the `websocket=` listener.
    ws: Option<chan::ws::WsServer>,
    session: ServerSession,
    challenge: [u8; 16],
    key: Rc<Cell<Option<HandlerKey>>>,
    out: Vec<u8>,
    out_pos: usize,
    /// Area of an outstanding FramebufferUpdateRequest, and whether it was non-incremental.
    pending: Option<(Rect, bool)>,
    /// Framebuffer size as this client knows it.
    client_size: (u32, u32),
    /// The user name of a Plain login being checked on the worker.
    plain_pending: Option<String>,
    /// Input is left unread while the output queue is over the throttle level (the client is
    /// not reading what it asked for); reading resumes once the queue drains, and TCP pushes
    /// back on the client meanwhile.
    read_paused: bool,
    closing: bool,
    _state: PhantomData<fn(&mut S)>,
}

impl<S: VncHost> ClientHandler<S> {
    pub(crate) fn new(
        stream: Stream,
        vnc: &VncServer,
        key: Rc<Cell<Option<HandlerKey>>>,
        skipauth: bool,
        websocket: bool,
    ) -> Result<Self, crate::Error> {
        let mut challenge = [0u8; 16];
        crypto::random_bytes(&mut challenge).map_err(crate::Error::Random)?;
        let security = if skipauth {
            rfb::Security::None
        } else if websocket {
            vnc.ws_security()
        } else {
            vnc.security()
        };
        let tls = if skipauth {
            None
        } else {
            vnc.config.tls.clone()
        };
        let session = ServerSession::new(ServerConfig {
            security,
            challenge,
            name: vnc.config.desktop_name.clone(),
            // SetDesktopSize beyond what a surface can be is an invalid layout.
            max_desktop_width: clamp_u16(display::MAX_WIDTH),
            max_desktop_height: clamp_u16(display::MAX_HEIGHT),
        });
        let ws = websocket.then(|| {
            chan::ws::WsServer::new(chan::ws::WsConfig {
                allowed_origins: vnc.config.websocket_origins.clone(),
                // QEMU insists on the `binary` subprotocol; noVNC 1.3 offers none by default.
                require_binary_protocol: false,
            })
        });
        // wss: with TLS credentials the WebSocket listener speaks TLS from the first byte.
        let (chan, handshaking) = match (&ws, &tls) {
            (Some(_), Some(t)) => {
                let ssl = t.creds.new_session().map_err(crate::Error::TlsSession)?;
                let t = chan::tls::TlsStream::accept(ssl, stream).map_err(crate::Error::Channel)?;
                (Channel::Tls(Box::new(t)), true)
            }
            _ => (Channel::Plain(stream), false),
        };
        Ok(Self {
            chan: Some(chan),
            outer_tls: ws.is_some() && handshaking,
            ws,
            tls,
            handshaking,
            session,
            challenge,
            key,
            out: Vec::new(),
            out_pos: 0,
            pending: None,
            client_size: (0, 0),
            plain_pending: None,
            read_paused: false,
            closing: false,
            _state: PhantomData,
        })
    }

    fn me(&self) -> Option<HandlerKey> {
        self.key.get()
    }

    fn queued(&self) -> usize {
        self.out.len() - self.out_pos
    }

    fn close(&mut self, ops: &mut Ops<'_, S>, why: &str) {
        if !self.closing {
            log::debug!("VNC client {:?}: closing: {why}", self.me());
            self.closing = true;
            if let Some(k) = self.me() {
                ops.remove(k);
            }
        }
    }

    /// Moves the session's output into the queue; enforces the hard cap.
    fn take_output(&mut self, state: &mut S, ops: &mut Ops<'_, S>) {
        let session_out = self.session.take_output();
        let o = match &mut self.ws {
            Some(ws) => {
                if !session_out.is_empty() {
                    ws.send(&session_out);
                }
                ws.take_output()
            }
            None => session_out,
        };
        if o.is_empty() {
            self.session.recycle_output(o);
            return;
        }
        if self.out_pos == self.out.len() {
            // Everything queued before was written: the new output becomes the queue as it
            // is, and the old queue's allocation goes back to the session.
            let old = std::mem::replace(&mut self.out, o);
            self.out_pos = 0;
            self.session.recycle_output(old);
        } else {
            self.out.extend_from_slice(&o);
            self.session.recycle_output(o);
        }
        let limit = throttle_level(state) * THROTTLE_LIMIT_SCALE;
        if self.queued() > limit {
            self.close(ops, "output queue over its limit (client not reading)");
        }
    }

    /// Writes as much of the queue as the socket takes; starts TLS once VeNCrypt's accept
    /// byte is out.
    fn flush(&mut self, ops: &mut Ops<'_, S>) {
        let Some(chan) = self.chan.as_mut() else {
            return;
        };
        while self.out_pos < self.out.len() {
            match chan.write(&self.out[self.out_pos..]) {
                Ok(0) => {
                    self.close(ops, "write returned 0");
                    return;
                }
                Ok(n) => self.out_pos += n,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => {
                    self.close(ops, &format!("write: {e}"));
                    return;
                }
            }
        }
        if chan.has_pending_write() {
            match chan.flush() {
                Ok(()) => {}
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
                Err(e) => {
                    self.close(ops, &format!("write: {e}"));
                    return;
                }
            }
        }
        let drained = !chan.has_pending_write();
        if self.out_pos == self.out.len() {
            self.out.clear();
            self.out_pos = 0;
            // Protocol failure or rejected auth: close once the reason is out.
            if self.session.phase() == Phase::Closed && drained {
                self.close(ops, "session over");
            } else if self.session.awaiting_tls() && !self.handshaking && drained {
                self.begin_tls(ops);
            }
        } else if self.out_pos > THROTTLE_MIN {
            self.out.drain(..self.out_pos);
            self.out_pos = 0;
        }
    }

    /// VeNCrypt accepted a subtype and its accept byte is out: wrap the socket in TLS.
    fn begin_tls(&mut self, ops: &mut Ops<'_, S>) {
        let ssl = match self.tls.as_ref().map(|t| t.creds.new_session()) {
            Some(Ok(ssl)) => ssl,
            Some(Err(e)) => {
                log::warn!("VNC: cannot start a TLS session: {e}");
                self.close(ops, "TLS setup failed");
                return;
            }
            None => {
                self.close(ops, "VeNCrypt without TLS credentials");
                return;
            }
        };
        let Some(Channel::Plain(stream)) = self.chan.take() else {
            self.close(ops, "TLS requested twice");
            return;
        };
        match chan::tls::TlsStream::accept(ssl, stream) {
            Ok(t) => {
                self.chan = Some(Channel::Tls(Box::new(t)));
                self.handshaking = true;
            }
            Err(e) => self.close(ops, &format!("TLS: {e}")),
        }
    }

    /// Drives the TLS handshake; once done, checks the peer (verify-peer, tls-authz) and
    /// resumes the RFB session inside TLS.
    fn drive_handshake(&mut self, state: &mut S, ops: &mut Ops<'_, S>) {
        let Some(Channel::Tls(t)) = self.chan.as_mut() else {
            return;
        };
        match t.handshake() {
            Ok(chan::tls::Handshake::Done) => {}
            Ok(_) => return,
            Err(e) => {
                log::info!("VNC client {:?}: TLS handshake failed: {e}", self.me());
                self.close(ops, "TLS handshake failed");
                return;
            }
        }
        self.handshaking = false;
        let Some(tls) = self.tls.clone() else { return };
        let dname = match crypto::tls::verify_peer_after_handshake(t.ssl(), &tls.creds) {
            Ok(dn) => dn,
            Err(e) => {
                log::info!(
                    "VNC client {:?}: client certificate refused: {e}",
                    self.me()
                );
                self.close(ops, "client certificate refused");
                return;
            }
        };
        if let Some(authz) = &tls.authz {
            let identity = dname.clone().unwrap_or_default();
            if !state.authorize(authz, &identity) {
                log::info!(
                    "VNC client {:?}: tls-authz '{authz}' denies '{identity}'",
                    self.me()
                );
                self.close(ops, "denied by tls-authz");
                return;
            }
        }
        if let Some(e) = self.me().and_then(|k| state.vnc().entry_mut(k)) {
            e.info.x509_dname = dname;
        }
        if !self.outer_tls {
            self.session.tls_established();
        }
        self.take_output(state, ops);
    }

    fn read_input(&mut self, state: &mut S, ops: &mut Ops<'_, S>) {
        let mut buf = [0u8; READ_CHUNK];
        let mut budget = READ_BUDGET;
        while !self.closing {
            if budget == 0 {
                // This client had its share of the turn: the rest waits for the next one,
                // after every other ready source.
                if let Some(k) = self.me() {
                    ops.notify_next_turn(k, NOTIFY_READ);
                }
                break;
            }
            if !self.handshaking && self.queued() > throttle_level(state) {
                self.read_paused = true;
                break;
            }
            if self.handshaking {
                self.drive_handshake(state, ops);
                if self.handshaking || self.closing {
                    break;
                }
            }
            let Some(chan) = self.chan.as_mut() else {
                break;
            };
            match chan.read(&mut buf) {
                Ok(0) => {
                    self.close(ops, "end of stream");
                    return;
                }
                Ok(n) => {
                    budget = budget.saturating_sub(n);
                    let fed = match self.ws.as_mut() {
                        None => self.session.feed(&buf[..n]),
                        Some(ws) => {
                            if let Err(e) = ws.feed(&buf[..n]) {
                                // The refusal (HTTP status or close frame) is queued: send it.
                                log::debug!("VNC WebSocket client {:?}: {e}", self.me());
                                self.take_output(state, ops);
                                self.flush(ops);
                                self.close(ops, "WebSocket error");
                                return;
                            }
                            let mut payload = Vec::new();
                            ws.read_payload(&mut payload);
                            let peer_closed = ws.close_reason().is_some();
                            let fed = self.session.feed(&payload);
                            if peer_closed {
                                self.take_output(state, ops);
                                self.flush(ops);
                                self.close(ops, "WebSocket closed");
                                return;
                            }
                            // Handshake reply and pongs.
                            self.take_output(state, ops);
                            fed
                        }
                    };
                    self.process_events(state, ops);
                    if let Err(e) = fed {
                        log::debug!("VNC client {:?}: protocol error: {e}", self.me());
                        self.take_output(state, ops);
                        self.flush(ops);
                        self.close(ops, "protocol error");
                        return;
                    }
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                    // OpenSSL may hold decrypted bytes with no new edge coming for them.
                    if !self.chan.as_ref().is_some_and(Channel::pending_plaintext) {
                        break;
                    }
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => {
                    self.close(ops, &format!("read: {e}"));
                    return;
                }
            }
        }
        if !self.closing {
            self.try_update(state, ops);
            self.flush(ops);
        }
    }

    fn process_events(&mut self, state: &mut S, ops: &mut Ops<'_, S>) {
        while let Some(ev) = self.session.next_event() {
            if self.closing {
                return;
            }
            match ev {
                Event::VncAuthResponse(resp) => {
                    let verdict =
                        state
                            .vnc()
                            .check_vnc_auth(&self.challenge, &resp, SystemTime::now());
                    if let Err(reason) = verdict {
                        log::info!(
                            "VNC client {:?}: authentication rejected: {reason}",
                            self.me()
                        );
                    }
                    self.session.auth_result(verdict);
                }
                Event::ClientInit { shared } => self.client_init(shared, state, ops),
                // The accept byte goes out in the clear first; flush() then starts TLS.
                Event::StartTls => {}
                Event::PlainAuth { username, password } => {
                    self.start_plain_check(state, username, password);
                }
                Event::SetPixelFormat(_) => {
                    // Everything must be resent in the new format.
                    if let Some(e) = self.me().and_then(|k| state.vnc().entry_mut(k)) {
                        e.dirty.mark_all();
                    }
                }
                Event::SetEncodings(_) | Event::CutText(_) => {}
                Event::UpdateRequest {
                    incremental,
                    x,
                    y,
                    w,
                    h,
                } => {
                    let area = Rect {
                        x: x.into(),
                        y: y.into(),
                        w: w.into(),
                        h: h.into(),
                    };
                    if !incremental
                        && let Some(e) = self.me().and_then(|k| state.vnc().entry_mut(k))
                    {
                        e.dirty.mark(area);
                    }
                    let force = !incremental || self.pending.is_some_and(|(_, f)| f);
                    let area = match self.pending {
                        Some((old, _)) => old.union(&area),
                        None => area,
                    };
                    self.pending = Some((area, force));
                }
                Event::Key { down, keysym } => match input::keysym_to_qcode(keysym) {
                    Some(qcode) => state.input(input::InputEvent::Key { qcode, down }),
                    None => log::debug!("VNC: no key for keysym {keysym:#x}"),
                },
                Event::Pointer { buttons, x, y } => {
                    state.input(input::InputEvent::Pointer {
                        buttons,
                        x: x.into(),
                        y: y.into(),
                    });
                }
                Event::SetDesktopSize { width, height, .. } => {
                    // Answered at once, in order. A change the guest makes later is
                    // announced to every client by the surface-resized path.
                    let status = state.request_desktop_size(width.into(), height.into());
                    log::debug!(
                        "VNC client {:?}: SetDesktopSize {width}x{height}: {status:?}",
                        self.me()
                    );
                    self.session.desktop_size_reply(status);
                }
            }
            self.take_output(state, ops);
        }
        // Draining the queue may have written the session's own answers (an invalid
        // SetDesktopSize, the layout for a non-incremental request).
        if !self.closing {
            self.take_output(state, ops);
        }
    }

    /// Sends Plain credentials to the worker; its verdict comes back as a notification.
    fn start_plain_check(
        &mut self,
        state: &mut S,
        username: String,
        password: zeroize::Zeroizing<Vec<u8>>,
    ) {
        let (Some(me), Some(remote)) = (self.me(), state.remote()) else {
            self.session.auth_result(Err("Authentication failed"));
            return;
        };
        let reply = Box::new(move |ok: bool| {
            let tag = if ok {
                NOTIFY_PLAIN_ACCEPTED
            } else {
                NOTIFY_PLAIN_REFUSED
            };
            // The loop may be gone at shutdown; the client with it.
            let _ = remote.send(move |_: &mut S, ops: &mut Ops<'_, S>| ops.notify(me, tag));
        });
        match state.vnc().check_plain(username.clone(), password, reply) {
            Ok(()) => self.plain_pending = Some(username),
            Err(reason) => self.session.auth_result(Err(reason)),
        }
    }

    /// The worker's verdict on this client's Plain login.
    fn finish_plain_check(&mut self, accepted: bool, state: &mut S, ops: &mut Ops<'_, S>) {
        let Some(username) = self.plain_pending.take() else {
            return;
        };
        if accepted {
            log::info!("VNC client {:?}: Plain login as {username:?}", self.me());
            if let Some(e) = self.me().and_then(|k| state.vnc().entry_mut(k)) {
                e.info.sasl_username = Some(username);
            }
            self.session.auth_result(Ok(()));
        } else {
            // The user name is not logged: people type passwords into it.
            log::info!(
                "VNC client {:?}: Plain login refused (unknown user or wrong password)",
                self.me()
            );
            self.session.auth_result(Err("Authentication failed"));
        }
        self.take_output(state, ops);
        // Input held while the check ran (ClientInit, even requests) is processed now.
        self.process_events(state, ops);
        if !self.closing {
            self.try_update(state, ops);
            self.flush(ops);
        }
    }

    fn client_init(&mut self, shared: bool, state: &mut S, ops: &mut Ops<'_, S>) {
        let Some(me) = self.me() else { return };
        let vnc = state.vnc();
        let others: Vec<(HandlerKey, ClientState)> = vnc
            .clients
            .iter()
            .filter(|c| c.key != me && ops.is_live(c.key))
            .map(|c| (c.key, c.state))
            .collect();
        match vnc.config.share {
            SharePolicy::AllowExclusive if !shared => {
                for (k, _) in &others {
                    ops.remove(*k);
                }
            }
            SharePolicy::AllowExclusive => {
                if others
                    .iter()
                    .any(|(_, s)| *s == ClientState::Initialized { shared: false })
                {
                    self.close(ops, "an exclusive client is connected");
                    return;
                }
            }
            SharePolicy::ForceShared if !shared => {
                self.close(ops, "exclusive access asked for with share=force-shared");
                return;
            }
            SharePolicy::ForceShared | SharePolicy::Ignore => {}
        }
        let initialized = others
            .iter()
            .filter(|(_, s)| matches!(s, ClientState::Initialized { .. }))
            .count();
        if initialized >= vnc.config.connections {
            self.close(ops, "too many clients");
            return;
        }
        let (vnc, surface) = state.vnc_and_surface();
        let (w, h) = (surface.width(), surface.height());
        let Some(entry) = vnc.entry_mut(me) else {
            return;
        };
        entry.state = ClientState::Initialized { shared };
        entry.dirty.resize(w, h);
        let ev = {
            let entry = vnc.clients.iter().find(|c| c.key == me);
            entry.and_then(|e| vnc.event(VncEventKind::Initialized, e))
        };
        self.client_size = (w, h);
        self.session.server_init(clamp_u16(w), clamp_u16(h));
        if let Some(ev) = ev {
            state.vnc_event(ev);
        }
    }

    /// Sends an update if one is requested and the queue has room.
    fn try_update(&mut self, state: &mut S, ops: &mut Ops<'_, S>) {
        let Some((area, force)) = self.pending else {
            return;
        };
        let Some(me) = self.me() else { return };
        if self.session.phase() != Phase::Normal || self.queued() > throttle_level(state) {
            return;
        }
        let (vnc, surface) = state.vnc_and_surface();
        let Some(entry) = vnc.entry_mut(me) else {
            return;
        };
        let (sw, sh) = (surface.width(), surface.height());
        let mut area = area;
        let mut resized = false;
        // ExtendedDesktopSize or DesktopSize, whichever the client listed; one that
        // listed neither keeps its size and gets the part of the surface inside it.
        if (sw, sh) != self.client_size
            && self
                .session
                .write_desktop_size(clamp_u16(sw), clamp_u16(sh))
        {
            self.client_size = (sw, sh);
            entry.dirty.mark_all();
            area = Rect {
                x: 0,
                y: 0,
                w: sw,
                h: sh,
            };
            resized = true;
        }
        let (cw, ch) = (self.client_size.0.min(sw), self.client_size.1.min(sh));
        let area = area.clamp_to(cw, ch);
        let rects = entry.dirty.take_rects_in(area);
        if rects.is_empty() && !resized && !force {
            return; // incremental: answer when something changes
        }
        let fb = rfb::Framebuffer {
            pixels: surface.pixels(),
            width: sw,
            height: sh,
            stride: sw,
        };
        let rects: Vec<rfb::Rect> = rects
            .iter()
            .map(|r| rfb::Rect {
                x: r.x,
                y: r.y,
                w: r.w,
                h: r.h,
            })
            .collect();
        self.session.write_update(&fb, &rects);
        self.pending = None;
        self.take_output(state, ops);
    }
}

fn clamp_u16(v: u32) -> u16 {
    u16::try_from(v).unwrap_or(u16::MAX)
}

fn throttle_level<S: VncHost>(state: &mut S) -> usize {
    let (_, surface) = state.vnc_and_surface();
    let frame = usize::try_from(u64::from(surface.width()) * u64::from(surface.height()) * 4)
        .unwrap_or(usize::MAX);
    frame.max(THROTTLE_MIN)
}

impl<S: VncHost> Handler<S> for ClientHandler<S> {
    fn ready(&mut self, state: &mut S, ev: Readiness, ops: &mut Ops<'_, S>) {
        if self.handshaking {
            self.drive_handshake(state, ops);
            if self.closing {
                return;
            }
            if !self.handshaking {
                // Handshake done: the client may have sent RFB bytes already.
                self.read_input(state, ops);
                return;
            }
        }
        if ev.writable {
            self.take_output(state, ops);
            self.flush(ops);
            if !self.closing {
                self.try_update(state, ops);
                self.flush(ops);
            }
            if self.read_paused && !self.closing && self.queued() <= throttle_level(state) {
                // The client read its updates: what it sent meanwhile is read now (no new
                // readable edge would come for it).
                self.read_paused = false;
                self.read_input(state, ops);
                return;
            }
        }
        if !self.closing && (ev.readable || ev.read_closed || ev.error) {
            self.read_input(state, ops);
        }
    }

    fn timer(&mut self, state: &mut S, tag: u64, ops: &mut Ops<'_, S>) {
        if tag == TIMER_PREAUTH
            && let Some(e) = self.me().and_then(|k| state.vnc().entry_mut(k))
            && e.state == ClientState::Connecting
        {
            self.close(ops, "not authenticated in time");
        }
    }

    fn notify(&mut self, state: &mut S, tag: u64, ops: &mut Ops<'_, S>) {
        match tag {
            NOTIFY_READ => self.read_input(state, ops),
            NOTIFY_PLAIN_ACCEPTED => self.finish_plain_check(true, state, ops),
            NOTIFY_PLAIN_REFUSED => self.finish_plain_check(false, state, ops),
            _ => {
                self.try_update(state, ops);
                self.flush(ops);
            }
        }
    }

    fn source(&mut self) -> Option<&mut dyn mio::event::Source> {
        self.chan.as_mut().map(|c| c as &mut dyn mio::event::Source)
    }

    fn removed(&mut self, state: &mut S) {
        let Some(me) = self.me() else { return };
        let vnc = state.vnc();
        if let Some(ev) = vnc
            .remove_client(me)
            .and_then(|e| vnc.event(VncEventKind::Disconnected, &e))
        {
            state.vnc_event(ev);
        }
    }
}
