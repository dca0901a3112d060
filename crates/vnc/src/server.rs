//! Server-wide VNC state: configuration, password and expiry, connected clients.

use std::path::PathBuf;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use display::{DirtyMap, Rect};
use evloop::HandlerKey;
use qapi::{
    NetworkAddressFamily, Password, QmpError, SetPasswordAction, VncBasicInfo, VncClientInfo,
    VncInfo, VncInfo2, VncPrimaryAuth, VncServerInfo, VncServerInfo2,
};

/// Where a display listens.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Listen {
    /// TCP on `host` (empty: every address), display number `display` (port 5900+display),
    /// trying up to display `to`.
    Tcp {
        /// Host name or address; empty means all addresses.
        host: String,
        /// Display number.
        display: u16,
        /// Last display number to try (`to=`).
        to: Option<u16>,
        /// `ipv4=` restriction.
        ipv4: Option<bool>,
        /// `ipv6=` restriction.
        ipv6: Option<bool>,
    },
    /// A UNIX socket path.
    Unix(PathBuf),
    /// `-vnc none`: the display exists but does not listen.
    None,
}

/// Authentication on the VNC port.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AuthMode {
    /// No authentication.
    None,
    /// VNC (DES challenge) authentication; every client is rejected until a password is set.
    Vnc,
    /// VeNCrypt Plain (user name and password inside TLS) against the `userstore=` object;
    /// only with TLS.
    Plain,
}

/// `share=`: what the ClientInit shared flag does.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum SharePolicy {
    /// An exclusive client drops the others; a shared client is refused while an exclusive one is there.
    #[default]
    AllowExclusive,
    /// A client asking for exclusive access is dropped.
    ForceShared,
    /// The flag is ignored.
    Ignore,
}

/// Where the WebSocket listener is (`websocket=`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum WsListen {
    /// TCP host and port.
    Tcp {
        /// Host (empty: every address).
        host: String,
        /// Port.
        port: u16,
    },
    /// A UNIX socket path.
    Unix(PathBuf),
}

/// TLS on the VNC port (VeNCrypt): the credentials object and an optional authz object.
#[derive(Clone)]
pub struct TlsSetup {
    /// The `tls-creds` object's id.
    pub creds_id: String,
    /// The loaded credentials (sessions keep the ones they started with).
    pub creds: crypto::tls::ServerCreds,
    /// The `tls-authz` object's id, checked against the client certificate's DN.
    pub authz: Option<String>,
}

impl std::fmt::Debug for TlsSetup {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TlsSetup")
            .field("creds_id", &self.creds_id)
            .field("authz", &self.authz)
            .finish()
    }
}

/// The display's configuration, from `-vnc`.
#[derive(Clone, Debug)]
pub struct VncConfig {
    /// Display id (`default`).
    pub id: String,
    /// Where to listen.
    pub listen: Listen,
    /// Authentication.
    pub auth: AuthMode,
    /// Share policy.
    pub share: SharePolicy,
    /// At most this many clients (`connections=`, default 32).
    pub connections: usize,
    /// Desktop name sent in ServerInit.
    pub desktop_name: String,
    /// VeNCrypt TLS, when `tls-creds=` is given (on the WebSocket listener: wss).
    pub tls: Option<TlsSetup>,
    /// The WebSocket listener (`websocket=`).
    pub websocket: Option<WsListen>,
    /// `websocket-origin=` allowlist (Porthole extension); `None` accepts any origin.
    pub websocket_origins: Option<Vec<String>>,
    /// `userstore=` (Porthole extension): VeNCrypt Plain logins, with [`AuthMode::Plain`].
    pub plain: Option<crate::PlainSetup>,
}

/// When the password expires.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Expiry {
    /// Never (the default).
    Never,
    /// At this many seconds after the epoch; valid while `now <= at`.
    At(u64),
}

impl Expiry {
    /// Parses `expire_password`'s `time`: `now`, `never`, `+SECONDS`, or absolute epoch seconds.
    pub fn parse(time: &str, now: SystemTime) -> Result<Self, QmpError> {
        let bad = || QmpError::generic(format!("Parameter 'time' doesn't take value '{time}'"));
        let now_s = now.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs());
        match time {
            "now" => Ok(Self::At(0)),
            "never" => Ok(Self::Never),
            t if t.starts_with('+') => {
                let n: u64 = t[1..].parse().map_err(|_| bad())?;
                Ok(Self::At(now_s.saturating_add(n)))
            }
            t => t.parse::<u64>().map(Self::At).map_err(|_| bad()),
        }
    }

    fn expired(self, now: SystemTime) -> bool {
        match self {
            Self::Never => false,
            Self::At(at) => {
                let now_s = now
                    .duration_since(UNIX_EPOCH)
                    .unwrap_or(Duration::ZERO)
                    .as_secs();
                at < now_s
            }
        }
    }
}

/// Where a client is in its life.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ClientState {
    /// Connected, not yet through authentication and ClientInit.
    Connecting,
    /// Authenticated and initialised; `shared` is its ClientInit flag.
    Initialized {
        /// ClientInit's shared flag.
        shared: bool,
    },
}

/// What happened to a client, for QMP events.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum VncEventKind {
    /// Socket accepted (before auth).
    Connected,
    /// Through auth and ClientInit.
    Initialized,
    /// Gone.
    Disconnected,
}

/// A connection event with QEMU's payload shapes.
#[derive(Clone, Debug)]
pub struct VncEvent {
    /// Which event.
    pub kind: VncEventKind,
    /// The listener the client came in on.
    pub server: VncServerInfo,
    /// The client.
    pub client: VncClientInfo,
}

pub(crate) struct ClientEntry {
    pub(crate) key: HandlerKey,
    pub(crate) info: VncClientInfo,
    pub(crate) listener: Option<usize>,
    pub(crate) state: ClientState,
    pub(crate) dirty: DirtyMap,
}

pub(crate) struct ListenerInfo {
    pub(crate) info: VncBasicInfo,
}

/// The display's server state, kept in the loop state.
pub struct VncServer {
    pub(crate) config: VncConfig,
    password: Option<Password>,
    expiry: Expiry,
    pub(crate) clients: Vec<ClientEntry>,
    pub(crate) listeners: Vec<ListenerInfo>,
    surface_size: (u32, u32),
    /// The Plain login worker, started on the first login.
    plain_checker: Option<crate::plain::PlainChecker>,
}

impl VncServer {
    /// A server with no listener yet (the listener module adds them when binding).
    pub fn new(config: VncConfig, surface_size: (u32, u32)) -> Self {
        Self {
            config,
            password: None,
            expiry: Expiry::Never,
            clients: Vec::new(),
            listeners: Vec::new(),
            surface_size,
            plain_checker: None,
        }
    }

    /// The configuration.
    pub fn config(&self) -> &VncConfig {
        &self.config
    }

    /// Sets the password. Fails as QEMU does when the display has no VNC password auth; then,
    /// per `connected`, keeps, refuses (if clients are connected), or disconnects clients.
    /// Returns the keys of clients to disconnect.
    pub fn set_password(
        &mut self,
        password: Password,
        connected: SetPasswordAction,
    ) -> Result<Vec<HandlerKey>, QmpError> {
        if self.config.auth != AuthMode::Vnc {
            return Err(QmpError::generic("Could not set password"));
        }
        if connected == SetPasswordAction::Fail && !self.clients.is_empty() {
            return Err(QmpError::generic(format!(
                "Could not set password: {} client(s) connected and connected=fail",
                self.clients.len()
            )));
        }
        self.password = Some(password);
        Ok(match connected {
            SetPasswordAction::Disconnect => self.clients.iter().map(|c| c.key).collect(),
            SetPasswordAction::Keep | SetPasswordAction::Fail => Vec::new(),
        })
    }

    /// Sets when the password expires.
    pub fn expire_password(&mut self, expiry: Expiry) -> Result<(), QmpError> {
        if self.config.auth != AuthMode::Vnc {
            return Err(QmpError::generic("Could not set password expire time"));
        }
        self.expiry = expiry;
        Ok(())
    }

    /// Checks a VNC auth response. `Err` carries the reason sent to the client.
    pub(crate) fn check_vnc_auth(
        &self,
        challenge: &[u8; 16],
        response: &[u8; 16],
        now: SystemTime,
    ) -> Result<(), &'static str> {
        let Some(pw) = &self.password else {
            return Err("Authentication failed: no password is set");
        };
        if self.expiry.expired(now) {
            return Err("Authentication failed: password expired");
        }
        if crypto::vnc_auth_check(pw.as_bytes(), challenge, response) {
            Ok(())
        } else {
            Err("Authentication failed")
        }
    }

    /// Hands VeNCrypt Plain credentials to the worker; `reply` gets the verdict there.
    /// `Err` carries the reason sent to the client when no check could be queued.
    pub(crate) fn check_plain(
        &mut self,
        username: String,
        password: zeroize::Zeroizing<Vec<u8>>,
        reply: crate::plain::Reply,
    ) -> Result<(), &'static str> {
        let Some(plain) = &self.config.plain else {
            return Err("Authentication failed");
        };
        let store = std::sync::Arc::clone(&plain.store);
        let checker = match &mut self.plain_checker {
            Some(c) => c,
            slot @ None => match crate::plain::PlainChecker::spawn() {
                Ok(c) => slot.insert(c),
                Err(e) => {
                    log::error!("VNC: cannot start the Plain login worker: {e}");
                    return Err("Authentication failed");
                }
            },
        };
        checker.submit(store, username, password, reply)
    }

    /// Marks rectangles of the surface dirty for every initialised client; returns the keys to
    /// notify with [`crate::NOTIFY_UPDATE`].
    pub fn mark_dirty(&mut self, rects: &[Rect]) -> Vec<HandlerKey> {
        let mut keys = Vec::new();
        for c in &mut self.clients {
            if matches!(c.state, ClientState::Initialized { .. }) {
                for r in rects {
                    c.dirty.mark(*r);
                }
                keys.push(c.key);
            }
        }
        keys
    }

    /// The surface changed size: every client's dirty map follows; returns the keys to notify.
    pub fn surface_resized(&mut self, w: u32, h: u32) -> Vec<HandlerKey> {
        self.surface_size = (w, h);
        for c in &mut self.clients {
            c.dirty.resize(w, h);
            c.dirty.mark_all();
        }
        self.clients.iter().map(|c| c.key).collect()
    }

    /// Keys of every connected client.
    pub fn client_keys(&self) -> Vec<HandlerKey> {
        self.clients.iter().map(|c| c.key).collect()
    }

    /// Number of connected clients (any state).
    pub fn client_count(&self) -> usize {
        self.clients.len()
    }

    pub(crate) fn entry_mut(&mut self, key: HandlerKey) -> Option<&mut ClientEntry> {
        self.clients.iter_mut().find(|c| c.key == key)
    }

    pub(crate) fn add_client(
        &mut self,
        key: HandlerKey,
        info: VncClientInfo,
        listener: Option<usize>,
    ) {
        let (w, h) = self.surface_size;
        self.clients.push(ClientEntry {
            key,
            info,
            listener,
            state: ClientState::Connecting,
            dirty: DirtyMap::new(w, h),
        });
    }

    pub(crate) fn remove_client(&mut self, key: HandlerKey) -> Option<ClientEntry> {
        let i = self.clients.iter().position(|c| c.key == key)?;
        Some(self.clients.remove(i))
    }

    /// The event for `entry`, or `None` for clients that did not come through a listener
    /// (QEMU sends no VNC events for them).
    pub(crate) fn event(&self, kind: VncEventKind, entry: &ClientEntry) -> Option<VncEvent> {
        let listener = entry.listener?;
        Some(VncEvent {
            kind,
            server: self.server_info(listener),
            client: entry.info.clone(),
        })
    }

    /// The RFB security type offered to WebSocket clients: TLS, if any, is the outer wss, so
    /// the inner auth uses the no-TLS mapping (as QEMU).
    pub(crate) fn ws_security(&self) -> rfb::Security {
        match self.config.auth {
            AuthMode::None => rfb::Security::None,
            // Plain is never offered in the clear; the start-up checks keep it off the
            // WebSocket listener, and this fallback refuses everybody (no VNC password can
            // be set on a Plain display).
            AuthMode::Vnc | AuthMode::Plain => rfb::Security::VncAuth,
        }
    }

    /// The RFB security type new clients are offered.
    pub(crate) fn security(&self) -> rfb::Security {
        use rfb::VencryptSubtype as V;
        let Some(tls) = &self.config.tls else {
            return match self.config.auth {
                AuthMode::None => rfb::Security::None,
                // Plain without TLS: see ws_security.
                AuthMode::Vnc | AuthMode::Plain => rfb::Security::VncAuth,
            };
        };
        let x509 = tls.creds.kind() == crypto::tls::CredsKind::X509;
        rfb::Security::VeNCrypt(match (x509, self.config.auth) {
            (true, AuthMode::None) => V::X509None,
            (true, AuthMode::Vnc) => V::X509Vnc,
            (true, AuthMode::Plain) => V::X509Plain,
            (false, AuthMode::None) => V::TlsNone,
            (false, AuthMode::Vnc) => V::TlsVnc,
            (false, AuthMode::Plain) => V::TlsPlain,
        })
    }

    /// The TLS setup, if any.
    pub fn tls(&self) -> Option<&TlsSetup> {
        self.config.tls.as_ref()
    }

    /// Attaches other TLS credentials (`display-update tls-creds=`); sessions already up keep
    /// theirs.
    pub fn set_tls(&mut self, tls: Option<TlsSetup>) {
        self.config.tls = tls;
    }

    fn legacy_auth(&self) -> String {
        match self.security() {
            rfb::Security::None => "none".into(),
            rfb::Security::VncAuth => "vnc".into(),
            rfb::Security::VeNCrypt(v) => format!("vencrypt+{}", v.qapi_name().replace('-', "+")),
        }
    }

    fn primary_auth(&self) -> VncPrimaryAuth {
        match self.security() {
            rfb::Security::None => VncPrimaryAuth::None,
            rfb::Security::VncAuth => VncPrimaryAuth::Vnc,
            rfb::Security::VeNCrypt(_) => VncPrimaryAuth::Vencrypt,
        }
    }

    fn vencrypt_sub(&self) -> Option<qapi::VncVencryptSubAuth> {
        match self.security() {
            rfb::Security::VeNCrypt(v) => qapi::VncVencryptSubAuth::from_name(v.qapi_name()),
            _ => None,
        }
    }

    pub(crate) fn server_info(&self, listener: usize) -> VncServerInfo {
        let base = self.listeners.get(listener).map_or_else(
            || VncBasicInfo {
                host: String::new(),
                service: String::new(),
                family: NetworkAddressFamily::Unknown,
                websocket: false,
            },
            |l| l.info.clone(),
        );
        VncServerInfo {
            host: base.host,
            service: base.service,
            family: base.family,
            websocket: base.websocket,
            auth: Some(self.legacy_auth()),
        }
    }

    /// `query-vnc`: first listener only, as QEMU.
    pub fn query_vnc(&self) -> VncInfo {
        let first = self.listeners.first().map(|l| &l.info);
        VncInfo {
            enabled: true,
            host: first.map(|i| i.host.clone()),
            family: first.map(|i| i.family),
            service: first.map(|i| i.service.clone()),
            auth: Some(self.legacy_auth()),
            clients: Some(self.clients.iter().map(|c| c.info.clone()).collect()),
        }
    }

    /// One `VncInfo2` for `query-vnc-servers`.
    pub fn query_vnc_server(&self) -> VncInfo2 {
        VncInfo2 {
            id: self.config.id.clone(),
            server: self
                .listeners
                .iter()
                .map(|l| VncServerInfo2 {
                    host: l.info.host.clone(),
                    service: l.info.service.clone(),
                    family: l.info.family,
                    websocket: l.info.websocket,
                    auth: self.primary_auth(),
                    vencrypt: self.vencrypt_sub(),
                })
                .collect(),
            clients: self.clients.iter().map(|c| c.info.clone()).collect(),
            auth: self.primary_auth(),
            vencrypt: self.vencrypt_sub(),
            display: None,
        }
    }

    /// Human-readable listener addresses (`127.0.0.1:5901`, `unix:/path`), for the boot screen.
    pub fn listener_descriptions(&self) -> Vec<String> {
        self.listeners
            .iter()
            .map(|l| match l.info.family {
                NetworkAddressFamily::Unix => format!("unix:{}", l.info.host),
                NetworkAddressFamily::Ipv6 => format!("[{}]:{}", l.info.host, l.info.service),
                _ => format!("{}:{}", l.info.host, l.info.service),
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn server(auth: AuthMode) -> VncServer {
        VncServer::new(
            VncConfig {
                id: "default".into(),
                listen: Listen::None,
                auth,
                share: SharePolicy::AllowExclusive,
                connections: 32,
                desktop_name: "Porthole".into(),
                tls: None,
                websocket: None,
                websocket_origins: None,
                plain: None,
            },
            (720, 400),
        )
    }

    #[test]
    fn expiry_forms() {
        let now = UNIX_EPOCH + Duration::from_secs(1000);
        assert_eq!(Expiry::parse("now", now).unwrap(), Expiry::At(0));
        assert_eq!(Expiry::parse("never", now).unwrap(), Expiry::Never);
        assert_eq!(Expiry::parse("+60", now).unwrap(), Expiry::At(1060));
        assert_eq!(Expiry::parse("1234", now).unwrap(), Expiry::At(1234));
        let e = Expiry::parse("soon", now).unwrap_err();
        assert_eq!(e.desc, "Parameter 'time' doesn't take value 'soon'");
        assert!(Expiry::parse("+x", now).is_err());
        // QEMU: expires < now fails, so expiry exactly now is still valid.
        assert!(!Expiry::At(1000).expired(now));
        assert!(Expiry::At(999).expired(now));
    }

    #[test]
    fn password_rules() {
        let mut s = server(AuthMode::None);
        assert_eq!(
            s.set_password(Password::new("x"), SetPasswordAction::Keep)
                .unwrap_err()
                .desc,
            "Could not set password"
        );
        let mut s = server(AuthMode::Vnc);
        let ch = [7u8; 16];
        let good = crypto::vnc_auth_response(b"secret", &ch);
        let now = SystemTime::now();
        assert!(
            s.check_vnc_auth(&ch, &good, now).is_err(),
            "rejected before a password is set"
        );
        s.set_password(Password::new("secret"), SetPasswordAction::Keep)
            .unwrap();
        assert!(s.check_vnc_auth(&ch, &good, now).is_ok());
        let bad = crypto::vnc_auth_response(b"secreT", &ch);
        assert!(s.check_vnc_auth(&ch, &bad, now).is_err());
        s.expire_password(Expiry::At(0)).unwrap();
        assert!(
            s.check_vnc_auth(&ch, &good, now)
                .unwrap_err()
                .contains("expired")
        );
        s.expire_password(Expiry::Never).unwrap();
        assert!(s.check_vnc_auth(&ch, &good, now).is_ok());
    }
}
