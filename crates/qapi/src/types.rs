//! QMP types, named and shaped as in QEMU's qapi/ schema.

use std::fmt;

use serde::{Deserialize, Serialize};
use zeroize::Zeroizing;

/// A password passed through a command. Never printed: `Debug` shows `<redacted>`,
/// and the memory is wiped on drop.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct Password(Zeroizing<String>);

impl Serialize for Password {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.0)
    }
}

impl<'de> Deserialize<'de> for Password {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        String::deserialize(d).map(Self::new)
    }
}

impl Password {
    /// Wraps a password.
    pub fn new(s: impl Into<String>) -> Self {
        Self(Zeroizing::new(s.into()))
    }

    /// The password bytes (for the auth check only).
    pub fn as_bytes(&self) -> &[u8] {
        self.0.as_bytes()
    }

    /// The password as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Password {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("<redacted>")
    }
}

/// `VersionTriple`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct VersionTriple {
    /// Major version.
    pub major: i64,
    /// Minor version.
    pub minor: i64,
    /// Micro version.
    pub micro: i64,
}

/// `VersionInfo`: `query-version`'s result. `qemu` carries Porthole's own version.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct VersionInfo {
    /// The version triple.
    pub qemu: VersionTriple,
    /// Free-form package text (QEMU: the distribution's package version).
    pub package: String,
}

/// `RunState` (the subset Porthole can be in, with QEMU's names).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum RunState {
    /// Started with `-S`, never run yet.
    Prelaunch,
    /// Running.
    Running,
    /// Stopped by `stop`.
    Paused,
    /// Shutting down.
    Shutdown,
    /// An internal error stopped the guest.
    InternalError,
}

impl RunState {
    /// QEMU's name for the state.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Prelaunch => "prelaunch",
            Self::Running => "running",
            Self::Paused => "paused",
            Self::Shutdown => "shutdown",
            Self::InternalError => "internal-error",
        }
    }
}

/// `StatusInfo`: `query-status`'s result.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StatusInfo {
    /// Whether the guest runs.
    pub running: bool,
    /// The run state.
    pub status: RunState,
}

/// `NameInfo`: `query-name`'s result.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NameInfo {
    /// The `-name` given, if any.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub name: Option<String>,
}

/// `NetworkAddressFamily`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum NetworkAddressFamily {
    /// IPv4.
    Ipv4,
    /// IPv6.
    Ipv6,
    /// A UNIX socket.
    Unix,
    /// VSOCK.
    Vsock,
    /// Anything else.
    Unknown,
}

impl NetworkAddressFamily {
    /// QEMU's name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Ipv4 => "ipv4",
            Self::Ipv6 => "ipv6",
            Self::Unix => "unix",
            Self::Vsock => "vsock",
            Self::Unknown => "unknown",
        }
    }
}

/// `VncBasicInfo`, also the shape of `VNC_CONNECTED`'s client.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct VncBasicInfo {
    /// Host address (or socket path).
    pub host: String,
    /// Port (or empty for UNIX sockets).
    pub service: String,
    /// Address family.
    pub family: NetworkAddressFamily,
    /// Whether this is a websocket connection/listener.
    pub websocket: bool,
}

/// `VncServerInfo`: a listener and its auth string (legacy form).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct VncServerInfo {
    /// The listener's address.
    #[serde(flatten)]
    pub base: VncBasicInfo,
    /// Legacy auth text, e.g. `vnc` or `vencrypt+x509+vnc`.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub auth: Option<String>,
}

/// `VncClientInfo`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct VncClientInfo {
    /// The client's address.
    #[serde(flatten)]
    pub base: VncBasicInfo,
    /// The client certificate's distinguished name, when verified.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub x509_dname: Option<String>,
    /// The SASL user name, when SASL was used.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub sasl_username: Option<String>,
}

/// `VncInfo`: `query-vnc`'s result (first display, first listener).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct VncInfo {
    /// Whether a VNC display exists.
    pub enabled: bool,
    /// Listener host.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub host: Option<String>,
    /// Listener family.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub family: Option<NetworkAddressFamily>,
    /// Listener port.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub service: Option<String>,
    /// Legacy auth text.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub auth: Option<String>,
    /// Connected clients.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub clients: Option<Vec<VncClientInfo>>,
}

/// `VncPrimaryAuth`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum VncPrimaryAuth {
    /// No authentication.
    None,
    /// VNC (DES challenge) authentication.
    Vnc,
    /// RA2.
    Ra2,
    /// RA2ne.
    Ra2ne,
    /// Tight.
    Tight,
    /// Ultra.
    Ultra,
    /// TLS.
    Tls,
    /// VeNCrypt (see the sub-auth).
    Vencrypt,
    /// SASL.
    Sasl,
}

impl VncPrimaryAuth {
    /// QEMU's name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::None => "none",
            Self::Vnc => "vnc",
            Self::Ra2 => "ra2",
            Self::Ra2ne => "ra2ne",
            Self::Tight => "tight",
            Self::Ultra => "ultra",
            Self::Tls => "tls",
            Self::Vencrypt => "vencrypt",
            Self::Sasl => "sasl",
        }
    }
}

/// `VncVencryptSubAuth`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum VncVencryptSubAuth {
    /// x509, no further auth.
    X509None,
    /// x509 + VNC auth.
    X509Vnc,
    /// x509 + plain.
    X509Plain,
    /// x509 + SASL.
    X509Sasl,
    /// anonymous TLS, no further auth.
    TlsNone,
    /// anonymous TLS + VNC auth.
    TlsVnc,
    /// anonymous TLS + plain.
    TlsPlain,
    /// anonymous TLS + SASL.
    TlsSasl,
}

impl VncVencryptSubAuth {
    /// QEMU's name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::X509None => "x509-none",
            Self::X509Vnc => "x509-vnc",
            Self::X509Plain => "x509-plain",
            Self::X509Sasl => "x509-sasl",
            Self::TlsNone => "tls-none",
            Self::TlsVnc => "tls-vnc",
            Self::TlsPlain => "tls-plain",
            Self::TlsSasl => "tls-sasl",
        }
    }
}

/// `VncServerInfo2`: one listener of a display.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct VncServerInfo2 {
    /// The listener's address.
    #[serde(flatten)]
    pub base: VncBasicInfo,
    /// Primary auth on this listener.
    pub auth: VncPrimaryAuth,
    /// VeNCrypt sub-auth, when `auth` is `vencrypt`.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub vencrypt: Option<VncVencryptSubAuth>,
}

/// `VncInfo2`: one display, for `query-vnc-servers`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct VncInfo2 {
    /// Display id (`default` for the first).
    pub id: String,
    /// Its listeners.
    pub server: Vec<VncServerInfo2>,
    /// Its clients.
    pub clients: Vec<VncClientInfo>,
    /// Primary auth.
    pub auth: VncPrimaryAuth,
    /// VeNCrypt sub-auth.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub vencrypt: Option<VncVencryptSubAuth>,
    /// The display device it shows.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub display: Option<String>,
}

/// `DisplayProtocol`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum DisplayProtocol {
    /// VNC.
    Vnc,
    /// SPICE (not supported by Porthole; accepted by the schema, refused by the command).
    Spice,
}

/// `SetPasswordAction`: what happens to connected clients.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum SetPasswordAction {
    /// Leave them connected (QEMU's only choice for VNC).
    #[default]
    Keep,
    /// Fail if any client is connected.
    Fail,
    /// Disconnect them.
    Disconnect,
}

/// `SetPasswordOptions` (flat union on protocol; the vnc branch adds `display`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SetPasswordOptions {
    /// The display protocol.
    pub protocol: DisplayProtocol,
    /// The new password.
    pub password: Password,
    /// What to do with connected clients.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub connected: Option<SetPasswordAction>,
    /// Which VNC display (vnc only); default the first.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub display: Option<String>,
}

/// `ExpirePasswordOptions`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ExpirePasswordOptions {
    /// The display protocol.
    pub protocol: DisplayProtocol,
    /// `now`, `never`, `+SECONDS` or an absolute epoch.
    pub time: String,
    /// Which VNC display (vnc only).
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub display: Option<String>,
}

/// `ImageFormat` for `screendump`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ImageFormat {
    /// Portable pixmap (the default).
    #[default]
    Ppm,
    /// PNG.
    Png,
}

/// `screendump` arguments.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ScreendumpArgs {
    /// Output file.
    pub filename: String,
    /// Display device id.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub device: Option<String>,
    /// Head of the device (needs `device`).
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub head: Option<i64>,
    /// Image format.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub format: Option<ImageFormat>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn password_debug_is_redacted() {
        let opts = SetPasswordOptions {
            protocol: DisplayProtocol::Vnc,
            password: Password::new("hunter2"),
            connected: None,
            display: None,
        };
        let shown = format!("{opts:?}");
        assert!(!shown.contains("hunter2"), "{shown}");
        assert!(shown.contains("<redacted>"));
    }

    #[test]
    fn wire_names_match_qemu() {
        let c = VncClientInfo {
            base: VncBasicInfo {
                host: "127.0.0.1".into(),
                service: "5901".into(),
                family: NetworkAddressFamily::Ipv4,
                websocket: false,
            },
            x509_dname: Some("CN=x".into()),
            sasl_username: None,
        };
        let v = serde_json::to_value(&c).unwrap();
        assert_eq!(
            v,
            serde_json::json!({"host":"127.0.0.1","service":"5901","family":"ipv4","websocket":false,"x509_dname":"CN=x"})
        );
        let s = serde_json::to_value(StatusInfo {
            running: false,
            status: RunState::Prelaunch,
        })
        .unwrap();
        assert_eq!(s, serde_json::json!({"running":false,"status":"prelaunch"}));
    }

    #[test]
    fn unknown_members_rejected() {
        let r: Result<ExpirePasswordOptions, _> =
            serde_json::from_value(serde_json::json!({"protocol":"vnc","time":"now","bogus":1}));
        assert!(r.is_err());
    }
}
