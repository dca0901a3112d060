//! Character devices for monitors: QEMU's `-chardev` and the legacy strings of `-monitor`
//! and `-qmp` (`stdio`, `none`, `unix:PATH[,opts]`, `tcp:HOST:PORT[,opts]`).

use std::path::PathBuf;

use anyhow::{Result, bail};
use qemuopts::{Key, Kind, Opts, OptsSpec};

/// What a character device is.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Backend {
    /// Standard input/output.
    Stdio,
    /// A listening UNIX socket.
    Unix {
        /// Socket path.
        path: PathBuf,
        /// Block start-up until the first client connects.
        wait: bool,
    },
    /// A listening TCP socket.
    Tcp {
        /// Host to bind.
        host: String,
        /// Port.
        port: u16,
        /// Block start-up until the first client connects.
        wait: bool,
    },
}

/// One character device.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ChardevSpec {
    /// Its id (`-chardev ...,id=`; `compat_monitor0`, `compat_monitor1`, ... for -monitor/-qmp).
    pub id: String,
    /// Its backend.
    pub backend: Backend,
}

impl ChardevSpec {
    /// QEMU's `query-chardev` filename for the device.
    pub fn filename(&self) -> String {
        match &self.backend {
            Backend::Stdio => "stdio".to_owned(),
            Backend::Unix { path, .. } => format!("unix:{},server=on", path.display()),
            Backend::Tcp { host, port, .. } => format!("tcp:{host}:{port},server=on"),
        }
    }

    /// The device is a socket that blocks start-up until a client connects.
    pub fn waits(&self) -> bool {
        matches!(
            self.backend,
            Backend::Unix { wait: true, .. } | Backend::Tcp { wait: true, .. }
        )
    }
}

const COMPAT_KEYS: &[Key] = &[
    Key {
        name: "server",
        kind: Kind::Bool,
        help: "listen (must be on)",
    },
    Key {
        name: "wait",
        kind: Kind::Bool,
        help: "wait for a client before starting",
    },
    Key {
        name: "nodelay",
        kind: Kind::Bool,
        help: "TCP_NODELAY (tcp only; always on)",
    },
];

const COMPAT_SPEC: OptsSpec = OptsSpec {
    option: "chardev",
    implied: Some("dev"),
    keys: COMPAT_KEYS,
    repeatable: &[],
};

const CHARDEV_SPEC: OptsSpec = OptsSpec {
    option: "chardev",
    implied: Some("backend"),
    keys: &[
        Key {
            name: "backend",
            kind: Kind::Str,
            help: "socket or stdio",
        },
        Key {
            name: "id",
            kind: Kind::Id,
            help: "device id",
        },
        Key {
            name: "path",
            kind: Kind::Str,
            help: "UNIX socket path",
        },
        Key {
            name: "host",
            kind: Kind::Str,
            help: "TCP host",
        },
        Key {
            name: "port",
            kind: Kind::Str,
            help: "TCP port",
        },
        Key {
            name: "server",
            kind: Kind::Bool,
            help: "listen (must be on)",
        },
        Key {
            name: "wait",
            kind: Kind::Bool,
            help: "wait for a client before starting",
        },
        Key {
            name: "nodelay",
            kind: Kind::Bool,
            help: "TCP_NODELAY (always on)",
        },
        Key {
            name: "signal",
            kind: Kind::Bool,
            help: "stdio: Ctrl-C ends Porthole (default on)",
        },
    ],
    repeatable: &[],
};

fn server_and_wait(o: &Opts) -> Result<bool> {
    if o.get_bool("server") != Some(true) {
        bail!("only server=on sockets are supported (Porthole does not connect out)");
    }
    // QEMU's default for a server socket is wait=on.
    Ok(o.get_bool("wait").unwrap_or(true))
}

fn tcp_port(s: &str) -> Result<u16> {
    s.parse().map_err(|_| anyhow::anyhow!("invalid port '{s}'"))
}

/// Parses a legacy device string (`-monitor`, `-qmp`). `Ok(None)` for `none`.
pub fn parse_compat(id: &str, s: &str) -> Result<Option<ChardevSpec>> {
    let o = qemuopts::parse(&COMPAT_SPEC, s).map_err(|e| anyhow::anyhow!("{e}"))?;
    let dev = o.get("dev").unwrap_or_default();
    let backend = if dev == "none" || dev == "stdio" {
        if o.len() > 1 {
            bail!("'{dev}' takes no options");
        }
        if dev == "none" {
            return Ok(None);
        }
        Backend::Stdio
    } else if let Some(path) = dev.strip_prefix("unix:") {
        if path.is_empty() {
            bail!("a socket path is required after 'unix:'");
        }
        Backend::Unix {
            path: PathBuf::from(path),
            wait: server_and_wait(&o)?,
        }
    } else if let Some(addr) = dev.strip_prefix("tcp:") {
        let (host, port) = match addr.strip_prefix('[') {
            Some(r) => r
                .split_once("]:")
                .ok_or_else(|| anyhow::anyhow!("'{dev}': expected tcp:HOST:PORT"))?,
            None => addr
                .rsplit_once(':')
                .ok_or_else(|| anyhow::anyhow!("'{dev}': expected tcp:HOST:PORT"))?,
        };
        Backend::Tcp {
            host: host.to_owned(),
            port: tcp_port(port)?,
            wait: server_and_wait(&o)?,
        }
    } else {
        bail!("'{dev}' is not a valid char driver (stdio, none, unix:PATH, tcp:HOST:PORT)");
    };
    Ok(Some(ChardevSpec {
        id: id.to_owned(),
        backend,
    }))
}

/// Parses `-chardev BACKEND,id=ID,...`.
pub fn parse_chardev(s: &str) -> Result<ChardevSpec> {
    let o = qemuopts::parse(&CHARDEV_SPEC, s).map_err(|e| anyhow::anyhow!("{e}"))?;
    let id = o
        .get("id")
        .ok_or_else(|| anyhow::anyhow!("Parameter 'id' is missing"))?
        .to_owned();
    let backend = match o.get("backend").unwrap_or_default() {
        "stdio" => {
            for k in ["path", "host", "port", "server", "wait", "nodelay"] {
                if o.contains(k) {
                    bail!("Invalid parameter '{k}'");
                }
            }
            Backend::Stdio
        }
        "socket" => {
            if o.contains("signal") {
                bail!("Invalid parameter 'signal'");
            }
            let wait = server_and_wait(&o)?;
            match (o.get("path"), o.get("host"), o.get("port")) {
                (Some(p), None, None) => Backend::Unix {
                    path: PathBuf::from(p),
                    wait,
                },
                (None, h, Some(port)) => Backend::Tcp {
                    host: h.unwrap_or("0.0.0.0").to_owned(),
                    port: tcp_port(port)?,
                    wait,
                },
                (Some(_), _, _) => bail!("'path' cannot be combined with 'host' or 'port'"),
                (None, _, None) => bail!("chardev: socket: 'path' or 'port' is required"),
            }
        }
        "" => bail!("chardev: a backend is required (socket or stdio)"),
        b => bail!("'{b}' is not a valid char driver name (Porthole has socket and stdio)"),
    };
    Ok(ChardevSpec { id, backend })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn compat_forms() {
        assert_eq!(parse_compat("m", "none").unwrap(), None);
        assert_eq!(
            parse_compat("m", "stdio").unwrap().unwrap().backend,
            Backend::Stdio
        );
        assert_eq!(
            parse_compat("m", "unix:/tmp/q.sock,server=on,wait=off")
                .unwrap()
                .unwrap()
                .backend,
            Backend::Unix {
                path: "/tmp/q.sock".into(),
                wait: false
            }
        );
        assert_eq!(
            parse_compat("m", "unix:/tmp/q.sock,server")
                .unwrap()
                .unwrap()
                .backend,
            Backend::Unix {
                path: "/tmp/q.sock".into(),
                wait: true
            }
        );
        assert_eq!(
            parse_compat("m", "tcp:127.0.0.1:4444,server=on,wait=off")
                .unwrap()
                .unwrap()
                .backend,
            Backend::Tcp {
                host: "127.0.0.1".into(),
                port: 4444,
                wait: false
            }
        );
        assert_eq!(
            parse_compat("m", "tcp:[::1]:4444,server=on,wait=off")
                .unwrap()
                .unwrap()
                .backend,
            Backend::Tcp {
                host: "::1".into(),
                port: 4444,
                wait: false
            }
        );
        assert!(
            parse_compat("m", "bogus:x")
                .unwrap_err()
                .to_string()
                .contains("bogus:x")
        );
        assert!(
            parse_compat("m", "unix:/tmp/x").is_err(),
            "client sockets are refused"
        );
        assert!(
            parse_compat("m", "tcp:h:4444,server=on,foo=1")
                .unwrap_err()
                .to_string()
                .contains("foo")
        );
    }

    #[test]
    fn chardev_forms() {
        let c = parse_chardev("socket,id=qmp0,path=/tmp/q.sock,server=on,wait=off").unwrap();
        assert_eq!(c.id, "qmp0");
        assert_eq!(c.filename(), "unix:/tmp/q.sock,server=on");
        assert!(!c.waits());
        assert!(parse_chardev("socket,id=c0").is_err());
        assert!(
            parse_chardev("socket,path=/x,server=on")
                .unwrap_err()
                .to_string()
                .contains("id")
        );
        assert!(parse_chardev("pty,id=p").is_err());
        assert_eq!(parse_chardev("stdio,id=s").unwrap().backend, Backend::Stdio);
    }
}
