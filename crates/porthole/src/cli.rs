//! The command line: QEMU-compatible options into a validated [`Config`].

use std::path::PathBuf;

use anyhow::{Result, anyhow, bail};
use qemuopts::{Key, Kind, OptionDef, Opts, OptsSpec};
use vnc::{AuthMode, Listen, SharePolicy};

use crate::chardev::{self, Backend, ChardevSpec};

/// Every option, in `--help` order.
pub const OPTIONS: &[OptionDef] = &[
    OptionDef {
        name: "vnc",
        arg: Some("[host]:d[,opts]"),
        help: "VNC display: TCP port 5900+d on host (every address if empty),\n\
               or unix:PATH (socket created with mode 0600), or none.\n\
               opts: to=L (try displays d..L), ipv4=on|off, ipv6=on|off,\n\
               password=on (VNC auth; every client is refused until a\n\
               password is set with 'change vnc password'),\n\
               password-secret=ID (password from a secret object),\n\
               share=allow-exclusive|force-shared|ignore,\n\
               tls-creds=ID (VeNCrypt TLS with a tls-creds-x509/anon object),\n\
               tls-authz=ID (authz object checked against the client certificate\n\
               DN; needs x509 credentials with verify-peer=on),\n\
               userstore=ID (with tls-creds: VeNCrypt X509Plain/TLSPlain, user name\n\
               and password checked against a userstore object; Porthole extension),\n\
               websocket=on|PORT|HOST:PORT|unix:PATH (RFB over WebSocket for noVNC;\n\
               wss with tls-creds), websocket-origin=ORIGIN (allowlist, repeatable),\n\
               connections=N (default 32), lossy=on|off (allow lossy encodings;\n\
               Porthole has none yet), id=NAME",
    },
    OptionDef {
        name: "monitor",
        arg: Some("dev"),
        help: "HMP monitor: stdio, none, unix:PATH,server=on,wait=off or\n\
               tcp:HOST:PORT,server=on,wait=off",
    },
    OptionDef {
        name: "qmp",
        arg: Some("dev"),
        help: "QMP monitor: unix:PATH,server=on,wait=off, tcp:HOST:PORT,server=on,wait=off,\n\
               or stdio (wait=on, QEMU's default, waits for the first client)",
    },
    OptionDef {
        name: "qmp-pretty",
        arg: Some("dev"),
        help: "like -qmp, with indented JSON",
    },
    OptionDef {
        name: "chardev",
        arg: Some("backend,id=ID[,opts]"),
        help: "character device for -mon: socket,id=ID,path=PATH,server=on,wait=off\n\
               or socket,id=ID,host=H,port=N,server=on,wait=off, or stdio,id=ID",
    },
    OptionDef {
        name: "mon",
        arg: Some("chardev=ID[,mode=readline|control][,pretty=on|off]"),
        help: "monitor on a -chardev: mode=readline (HMP, default) or control (QMP)",
    },
    OptionDef {
        name: "display",
        arg: Some("none"),
        help: "local display: only 'none' (Porthole has no window)",
    },
    OptionDef {
        name: "nodefaults",
        arg: None,
        help: "create no default display (otherwise, with neither -vnc nor\n\
               -display, VNC listens on localhost:0,to=99 as QEMU does)",
    },
    OptionDef {
        name: "name",
        arg: Some("string"),
        help: "machine name: in the VNC desktop name and 'info name'",
    },
    OptionDef {
        name: "S",
        arg: None,
        help: "start paused: the guest runs after 'cont' (VNC serves meanwhile)",
    },
    OptionDef {
        name: "object",
        arg: Some("TYPE,id=ID[,prop=value...] or JSON"),
        help: "create an object, as QMP object-add (JSON form: '{\"qom-type\": ...}'):\n\
               secret,id=ID,data=S|file=F[,format=raw|base64][,keyid=ID,iv=IV]\n\
               tls-creds-x509,id=ID,dir=DIR,endpoint=server[,verify-peer=on|off]\n\
               [,sanity-check=on|off][,passwordid=ID]\n\
               tls-creds-anon,id=ID,endpoint=server[,dir=DIR]\n\
               authz-simple,id=ID,identity=DN   (write ',' in a DN as ',,')\n\
               authz-listfile,id=ID,filename=FILE[,refresh=on|off]\n\
               userstore,id=ID,filename=FILE[,refresh=on|off]   (users for -vnc\n\
               userstore=; add them with porthole-passwd FILE USER)\n\
               authz-list: JSON form only (rules are a list)",
    },
    OptionDef {
        name: "guest",
        arg: Some("name[,opts]"),
        help: "built-in guest to run ('-guest help' lists them; default console).\n\
               bench,workload=W,width=N,height=N,fps=N: the benchmark workloads\n\
               (full|noise|scroll|box|static|text; default scroll at 1024x768, 60 fps)\n\
               on a Bochs VBE framebuffer, drawn by thread vcpu0; viewers may resize it",
    },
    OptionDef {
        name: "global",
        arg: Some("driver.prop=value"),
        help: "device property; only VGA.vgamem_mb=N exists: video memory in MiB\n\
               (default 16), adjusted as QEMU does to 1-512 and a power of two",
    },
    OptionDef {
        name: "daemonize",
        arg: None,
        help: "detach once every listener is ready; errors before that go to the\n\
               caller's stderr with exit status 1",
    },
    OptionDef {
        name: "pidfile",
        arg: Some("file"),
        help: "write the process id to file (locked; removed at exit)",
    },
    OptionDef {
        name: "version",
        arg: None,
        help: "print the version and exit",
    },
    OptionDef {
        name: "h",
        arg: None,
        help: "print this help and exit (also -help, --help)",
    },
    OptionDef {
        name: "help",
        arg: None,
        help: "",
    },
];

const VNC_SPEC: OptsSpec = OptsSpec {
    option: "vnc",
    implied: Some("vnc"),
    keys: &[
        Key {
            name: "vnc",
            kind: Kind::Str,
            help: "[host]:d, unix:PATH or none",
        },
        Key {
            name: "to",
            kind: Kind::Number,
            help: "last display number to try",
        },
        Key {
            name: "ipv4",
            kind: Kind::Bool,
            help: "use IPv4",
        },
        Key {
            name: "ipv6",
            kind: Kind::Bool,
            help: "use IPv6",
        },
        Key {
            name: "password",
            kind: Kind::Bool,
            help: "VNC password authentication",
        },
        Key {
            name: "password-secret",
            kind: Kind::Id,
            help: "secret object holding the password",
        },
        Key {
            name: "share",
            kind: Kind::Str,
            help: "allow-exclusive|force-shared|ignore",
        },
        Key {
            name: "tls-creds",
            kind: Kind::Id,
            help: "tls-creds-x509/anon object: VeNCrypt TLS",
        },
        Key {
            name: "tls-authz",
            kind: Kind::Id,
            help: "authz object checked against the client certificate's DN",
        },
        Key {
            name: "userstore",
            kind: Kind::Id,
            help: "userstore object: VeNCrypt Plain logins (user name and password) inside TLS",
        },
        Key {
            name: "websocket",
            kind: Kind::Str,
            help: "WebSocket listener: on (port 5700+d), PORT, HOST:PORT or unix:PATH",
        },
        Key {
            name: "websocket-origin",
            kind: Kind::Str,
            help: "allowed Origin of WebSocket clients (repeatable; default any)",
        },
        Key {
            name: "connections",
            kind: Kind::Number,
            help: "maximum number of clients",
        },
        Key {
            name: "lossy",
            kind: Kind::Bool,
            help: "allow lossy encodings (none are implemented yet: raw only)",
        },
        Key {
            name: "id",
            kind: Kind::Id,
            help: "display id",
        },
    ],
    repeatable: &["websocket-origin"],
};

const MON_SPEC: OptsSpec = OptsSpec {
    option: "mon",
    implied: Some("chardev"),
    keys: &[
        Key {
            name: "chardev",
            kind: Kind::Id,
            help: "the -chardev id",
        },
        Key {
            name: "mode",
            kind: Kind::Str,
            help: "readline (HMP) or control (QMP)",
        },
        Key {
            name: "pretty",
            kind: Kind::Bool,
            help: "indented JSON (control only)",
        },
    ],
    repeatable: &[],
};

/// What a monitor speaks.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MonitorMode {
    /// HMP (`mode=readline`).
    Readline,
    /// QMP (`mode=control`), optionally pretty-printed.
    Control {
        /// Indented JSON.
        pretty: bool,
    },
}

/// A monitor on a character device.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MonitorSpec {
    /// The device.
    pub chardev: ChardevSpec,
    /// HMP or QMP.
    pub mode: MonitorMode,
}

/// An `-object` from the command line, as QMP `object-add` arguments.
pub struct ObjectSpec {
    /// The option as typed (for messages).
    pub typed: String,
    /// `qom-type`, `id` and the properties.
    pub args: serde_json::Map<String, serde_json::Value>,
}

/// The VNC display from `-vnc`.
pub struct VncSpec {
    /// Display id.
    pub id: String,
    /// Where to listen.
    pub listen: Listen,
    /// Authentication.
    pub auth: AuthMode,
    /// Secret holding the initial password.
    pub password_secret: Option<String>,
    /// `tls-creds=`: a tls-creds-x509/anon object id.
    pub tls_creds: Option<String>,
    /// `tls-authz=`: an authz object id checked against the client certificate's DN.
    pub tls_authz: Option<String>,
    /// `userstore=`: a userstore object id (VeNCrypt Plain logins).
    pub userstore: Option<String>,
    /// `websocket=`.
    pub websocket: Option<vnc::WsListen>,
    /// `websocket-origin=` allowlist.
    pub websocket_origins: Option<Vec<String>>,
    /// Share policy.
    pub share: SharePolicy,
    /// Client limit.
    pub connections: usize,
    /// `lossy=`: lossy encodings allowed (QEMU's option; kept for the encoders that use it).
    pub lossy: bool,
}

/// Everything the command line asked for.
pub struct Config {
    /// The VNC display, if any.
    pub vnc: Option<VncSpec>,
    /// Every character device, in command-line order (for query-chardev).
    pub chardevs: Vec<ChardevSpec>,
    /// HMP and QMP monitors.
    pub monitors: Vec<MonitorSpec>,
    /// `-daemonize`.
    pub daemonize: bool,
    /// `-pidfile`.
    pub pidfile: Option<PathBuf>,
    /// `-name`.
    pub name: Option<String>,
    /// `-S`.
    pub start_paused: bool,
    /// `-guest`.
    pub guest: GuestSpec,
    /// `-global VGA.vgamem_mb`.
    pub vgamem_mb: u32,
    /// Secret objects.
    pub objects: Vec<ObjectSpec>,
}

/// The guest from `-guest`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum GuestSpec {
    /// A guest that takes no options, by name.
    Named(String),
    /// `bench` with its options.
    Bench(guest::bench::Config),
}

const GUEST_BENCH_SPEC: OptsSpec = OptsSpec {
    option: "guest",
    implied: Some("guest"),
    keys: &[
        Key {
            name: "guest",
            kind: Kind::Str,
            help: "guest name",
        },
        Key {
            name: "workload",
            kind: Kind::Str,
            help: "full|noise|scroll|box|static|text",
        },
        Key {
            name: "width",
            kind: Kind::Number,
            help: "mode width in pixels",
        },
        Key {
            name: "height",
            kind: Kind::Number,
            help: "mode height in pixels",
        },
        Key {
            name: "fps",
            kind: Kind::Number,
            help: "frames per second",
        },
    ],
    repeatable: &[],
};

/// `-guest NAME[,opts]`.
fn guest_spec(arg: &str) -> Result<std::result::Result<GuestSpec, String>> {
    let name = arg.split(',').next().unwrap_or_default();
    if !guest::GUESTS.iter().any(|(n, _)| *n == name) {
        let names: Vec<&str> = guest::GUESTS.iter().map(|(n, _)| *n).collect();
        bail!(
            "-guest {arg}: unknown guest '{name}' (choices: {})",
            names.join(", ")
        );
    }
    if name != "bench" {
        if name != arg {
            bail!("-guest {arg}: guest '{name}' takes no options");
        }
        return Ok(Ok(GuestSpec::Named(name.to_owned())));
    }
    let o = match parse_opts(&GUEST_BENCH_SPEC, "guest", arg)? {
        Ok(o) => o,
        Err(help) => return Ok(Err(help)),
    };
    let mut cfg = guest::bench::Config::default();
    if let Some(w) = o.get("workload") {
        cfg.workload = guest::bench::BenchWorkload::from_name(w).ok_or_else(|| {
            anyhow!(
                "-guest {arg}: Parameter 'workload' does not accept value '{w}' ({})",
                guest::bench::WORKLOAD_NAMES.join(", ")
            )
        })?;
    }
    let number = |key: &str, default: u32| -> Result<u32> {
        match o.get_number(key) {
            None => Ok(default),
            Some(n) => u32::try_from(n)
                .map_err(|_| anyhow!("-guest {arg}: Parameter '{key}' is out of range")),
        }
    };
    cfg.width = number("width", cfg.width)?;
    cfg.height = number("height", cfg.height)?;
    cfg.fps = number("fps", cfg.fps)?;
    if !(1..=guest::bench::MAX_FPS).contains(&cfg.fps) {
        bail!(
            "-guest {arg}: Parameter 'fps' must be 1 to {}",
            guest::bench::MAX_FPS
        );
    }
    guest::bench::check_size(cfg.width, cfg.height).map_err(|e| anyhow!("-guest {arg}: {e}"))?;
    Ok(Ok(GuestSpec::Bench(cfg)))
}

/// `-global DRIVER.PROP=VALUE` or `-global driver=D,property=P,value=V`; only
/// `VGA.vgamem_mb` exists.
fn global(arg: &str) -> Result<u32> {
    let (driver, prop, value) = if arg.starts_with("driver=") {
        let o = qemuopts::parse_any(arg, None).map_err(|e| anyhow!("-global {arg}: {e}"))?;
        (
            o.get("driver").unwrap_or_default().to_owned(),
            o.get("property").unwrap_or_default().to_owned(),
            o.get("value").unwrap_or_default().to_owned(),
        )
    } else {
        let (dp, value) = arg.split_once('=').ok_or_else(|| {
            anyhow!("-global {arg}: Invalid parameter, expected DRIVER.PROPERTY=VALUE")
        })?;
        let (d, p) = dp.split_once('.').ok_or_else(|| {
            anyhow!("-global {arg}: Invalid parameter, expected DRIVER.PROPERTY=VALUE")
        })?;
        (d.to_owned(), p.to_owned(), value.to_owned())
    };
    if driver != "VGA" {
        bail!(
            "-global {arg}: no device '{driver}' (Porthole's only device with properties is VGA)"
        );
    }
    if prop != "vgamem_mb" {
        bail!("-global {arg}: Property '{driver}.{prop}' not found");
    }
    let mb: u32 = value
        .parse()
        .map_err(|_| anyhow!("-global {arg}: Parameter 'vgamem_mb' expects uint32"))?;
    Ok(mb)
}

/// What `main` should do.
pub enum Action {
    /// Run the machine.
    Run(Box<Config>),
    /// Print this text on stdout and exit 0.
    Print(String),
}

/// The `--help` text.
pub fn help() -> String {
    format!(
        "usage: porthole [options]\n\n\
         Porthole {} - a QEMU-style, monitor-controlled emulator frontend.\n\
         It runs a built-in guest on an emulated VGA card and serves it over VNC;\n\
         the HMP monitor ('-monitor stdio') accepts QEMU's commands\n\
         (help, info vnc, change vnc password, set_password, expire_password,\n\
         screendump, object_add, object_del, stop, cont, system_reset, quit).\n\n\
         Options:\n{}",
        env!("CARGO_PKG_VERSION"),
        qemuopts::help_text(&OPTIONS[..OPTIONS.len() - 1])
    )
}

/// Parses one option's argument; `Ok(Err(text))` when the user asked for its help (`,help`).
fn parse_opts(
    spec: &OptsSpec,
    option: &str,
    arg: &str,
) -> Result<std::result::Result<Opts, String>> {
    match qemuopts::parse(spec, arg) {
        Ok(o) => Ok(Ok(o)),
        Err(e) if e.is_help_request() => Ok(Err(spec.help_text())),
        Err(e) => Err(located(e, option, arg)),
    }
}

fn located(e: qemuopts::Error, option: &str, arg: &str) -> anyhow::Error {
    let hint = e.hint();
    let e = e.with_option(option, arg);
    match hint {
        Some(h) => anyhow!("{e} ({})", h.replace('\n', " ")),
        None => anyhow!("{e}"),
    }
}

/// Parses argv (without the program name).
pub fn parse(args: impl IntoIterator<Item = String>) -> Result<Action> {
    let items = qemuopts::split_args(OPTIONS, args).map_err(|e| anyhow!("{e}"))?;
    let mut vnc_opts: Option<(Opts, String)> = None;
    let mut display_none = false;
    let mut nodefaults = false;
    let mut chardevs: Vec<ChardevSpec> = Vec::new();
    // (chardev id, mode, the option as typed for messages)
    let mut mons: Vec<(String, MonitorMode, String)> = Vec::new();
    let mut daemonize = false;
    let mut pidfile = None;
    let mut compat = 0usize;
    let mut add_compat = |chardevs: &mut Vec<ChardevSpec>,
                          mons: &mut Vec<(String, MonitorMode, String)>,
                          opt: &str,
                          arg: &str,
                          mode: MonitorMode|
     -> Result<()> {
        let id = format!("compat_monitor{compat}");
        compat += 1;
        if let Some(c) =
            chardev::parse_compat(&id, arg).map_err(|e| anyhow!("-{opt} {arg}: {e}"))?
        {
            chardevs.push(c);
            mons.push((id, mode, format!("-{opt} {arg}")));
        }
        Ok(())
    };
    let mut cfg_name = None;
    let mut start_paused = false;
    let mut guest = GuestSpec::Named(guest::DEFAULT_GUEST.to_owned());
    let mut vgamem_mb = vga::DEFAULT_VGAMEM_MB;
    let mut objects: Vec<ObjectSpec> = Vec::new();
    for (def, arg) in items {
        let arg = arg.unwrap_or_default();
        match def.name {
            "h" | "help" => return Ok(Action::Print(help())),
            "version" => {
                return Ok(Action::Print(format!(
                    "Porthole version {}\nA QEMU-compatible VNC and monitor frontend.\n",
                    env!("CARGO_PKG_VERSION")
                )));
            }
            "vnc" => {
                let o = match parse_opts(&VNC_SPEC, "vnc", &arg)? {
                    Ok(o) => o,
                    Err(help) => return Ok(Action::Print(help)),
                };
                vnc_opts = Some((o, arg));
            }
            "display" => {
                let o = qemuopts::parse_any(&arg, Some("type"))
                    .map_err(|e| located(e, "display", &arg))?;
                match o.get("type") {
                    Some("none") if o.len() == 1 => display_none = true,
                    Some("none") => bail!("-display {arg}: 'none' takes no options"),
                    Some(t) => bail!(
                        "-display {arg}: Display '{t}' is not available (Porthole only has 'none')"
                    ),
                    None => bail!("-display {arg}: a display type is required"),
                }
            }
            "nodefaults" => nodefaults = true,
            "monitor" => add_compat(
                &mut chardevs,
                &mut mons,
                "monitor",
                &arg,
                MonitorMode::Readline,
            )?,
            "qmp" => add_compat(
                &mut chardevs,
                &mut mons,
                "qmp",
                &arg,
                MonitorMode::Control { pretty: false },
            )?,
            "qmp-pretty" => {
                add_compat(
                    &mut chardevs,
                    &mut mons,
                    "qmp-pretty",
                    &arg,
                    MonitorMode::Control { pretty: true },
                )?;
            }
            "chardev" => {
                let c = chardev::parse_chardev(&arg).map_err(|e| anyhow!("-chardev {arg}: {e}"))?;
                if chardevs.iter().any(|x| x.id == c.id) {
                    bail!(
                        "-chardev {arg}: attempt to add duplicate property '{}' to object (type 'container')",
                        c.id
                    );
                }
                chardevs.push(c);
            }
            "mon" => {
                let o = match parse_opts(&MON_SPEC, "mon", &arg)? {
                    Ok(o) => o,
                    Err(help) => return Ok(Action::Print(help)),
                };
                let id = o
                    .get("chardev")
                    .ok_or_else(|| anyhow!("-mon {arg}: Parameter 'chardev' is missing"))?;
                let pretty = o.get_bool("pretty").unwrap_or(false);
                let mode = match o.get("mode").unwrap_or("readline") {
                    "readline" if pretty => {
                        bail!("-mon {arg}: 'pretty' is not compatible with HMP monitors")
                    }
                    "readline" => MonitorMode::Readline,
                    "control" => MonitorMode::Control { pretty },
                    m => bail!("-mon {arg}: Parameter 'mode' does not accept value '{m}'"),
                };
                mons.push((id.to_owned(), mode, format!("-mon {arg}")));
            }
            "daemonize" => daemonize = true,
            "pidfile" => pidfile = Some(PathBuf::from(arg)),
            "name" => {
                let o = qemuopts::parse_any(&arg, Some("guest"))
                    .map_err(|e| located(e, "name", &arg))?;
                for (k, _) in o.iter() {
                    if k != "guest" {
                        bail!("-name {arg}: Invalid parameter '{k}'");
                    }
                }
                cfg_name = o.get("guest").map(str::to_owned);
            }
            "S" => start_paused = true,
            "object" => {
                let args = monitor::object::object_args(&arg)
                    .map_err(|e| anyhow!("-object {arg}: {e}"))?;
                objects.push(ObjectSpec {
                    typed: format!("-object {arg}"),
                    args,
                });
            }
            "guest" => {
                if arg == "help" {
                    let mut out = String::from("Built-in guests:\n");
                    for (n, d) in guest::GUESTS {
                        out.push_str(&format!("  {n:<12} {d}\n"));
                    }
                    return Ok(Action::Print(out));
                }
                guest = match guest_spec(&arg)? {
                    Ok(g) => g,
                    Err(help) => return Ok(Action::Print(help)),
                };
            }
            "global" => vgamem_mb = global(&arg)?,
            other => bail!("-{other}: not handled"),
        }
    }
    let vnc = match vnc_opts {
        Some((o, arg)) => Some(vnc_spec(&o).map_err(|e| anyhow!("-vnc {arg}: {e}"))?),
        None if display_none || nodefaults => None,
        None => Some(VncSpec {
            id: "default".into(),
            listen: Listen::Tcp {
                host: "localhost".into(),
                display: 0,
                to: Some(99),
                ipv4: None,
                ipv6: None,
            },
            auth: AuthMode::None,
            password_secret: None,
            tls_creds: None,
            tls_authz: None,
            userstore: None,
            websocket: None,
            websocket_origins: None,
            share: SharePolicy::AllowExclusive,
            connections: 32,
            lossy: false,
        }),
    };
    let mut monitors: Vec<MonitorSpec> = Vec::new();
    for (id, mode, typed) in mons {
        let chardev = chardevs
            .iter()
            .find(|c| c.id == id)
            .ok_or_else(|| anyhow!("{typed}: chardev \"{id}\" not found"))?;
        if monitors.iter().any(|m| m.chardev.id == id) {
            bail!("{typed}: chardev '{id}' is already in use by another monitor");
        }
        if chardev.backend == Backend::Stdio && daemonize {
            bail!("{typed}: cannot use stdio with -daemonize");
        }
        monitors.push(MonitorSpec {
            chardev: chardev.clone(),
            mode,
        });
    }
    if chardevs
        .iter()
        .filter(|c| c.backend == Backend::Stdio)
        .count()
        > 1
    {
        bail!("cannot use stdio by multiple character devices");
    }
    Ok(Action::Run(Box::new(Config {
        vnc,
        chardevs,
        monitors,
        daemonize,
        pidfile,
        name: cfg_name,
        start_paused,
        guest,
        vgamem_mb,
        objects,
    })))
}

fn vnc_spec(o: &Opts) -> Result<VncSpec> {
    let to = match o.get_number("to") {
        Some(t) => Some(u16::try_from(t).map_err(|_| anyhow!("Parameter 'to' is out of range"))?),
        None => None,
    };
    let target = o
        .get("vnc")
        .ok_or_else(|| anyhow!("a display address is required, e.g. 127.0.0.1:1"))?;
    let listen = vnc::parse_target(target, to, o.get_bool("ipv4"), o.get_bool("ipv6"))?;
    let websocket = match o.get("websocket") {
        None => None,
        Some(w) => Some(websocket_listen(w, &listen)?),
    };
    let password = o.get_bool("password").unwrap_or(false);
    let password_secret = o.get("password-secret").map(str::to_owned);
    if password && password_secret.is_some() {
        bail!("VNC password auth: 'password' flag is redundant with 'password-secret'");
    }
    let userstore = o.get("userstore").map(str::to_owned);
    let tls_creds = o.get("tls-creds").map(str::to_owned);
    let auth = if userstore.is_some() {
        if password || password_secret.is_some() {
            let other = if password {
                "password"
            } else {
                "password-secret"
            };
            bail!(
                "'userstore' and '{other}' are mutually exclusive: a display checks either \
                 the VNC password or user names and passwords"
            );
        }
        if tls_creds.is_none() {
            bail!(
                "'userstore' needs 'tls-creds': VeNCrypt Plain sends the password, and \
                 Porthole never offers it without TLS"
            );
        }
        if websocket.is_some() {
            bail!(
                "'userstore' cannot be combined with 'websocket': WebSocket clients get no \
                 VeNCrypt TLS, and Plain is never offered without it"
            );
        }
        AuthMode::Plain
    } else if password || password_secret.is_some() {
        AuthMode::Vnc
    } else {
        AuthMode::None
    };
    let share = match o.get("share") {
        None | Some("allow-exclusive") => SharePolicy::AllowExclusive,
        Some("force-shared") => SharePolicy::ForceShared,
        Some("ignore") => SharePolicy::Ignore,
        Some(s) => bail!(
            "Parameter 'share' doesn't take value '{s}' (allow-exclusive, force-shared, ignore)"
        ),
    };
    let connections = match o.get_number("connections") {
        None => 32,
        Some(0) => bail!("Parameter 'connections' must be at least 1"),
        Some(n) => usize::try_from(n.min(4096)).unwrap_or(4096),
    };
    Ok(VncSpec {
        id: o.get("id").unwrap_or("default").to_owned(),
        listen,
        auth,
        password_secret,
        tls_creds,
        tls_authz: o.get("tls-authz").map(str::to_owned),
        userstore,
        websocket,
        websocket_origins: {
            let v: Vec<String> = o
                .get_all("websocket-origin")
                .into_iter()
                .map(str::to_owned)
                .collect();
            if v.is_empty() { None } else { Some(v) }
        },
        share,
        connections,
        lossy: o.get_bool("lossy").unwrap_or(false),
    })
}

/// QEMU's `websocket=`: `on` (port 5700+d on the display's host), `PORT` (on that host),
/// `HOST:PORT`, or `unix:PATH`.
fn websocket_listen(w: &str, listen: &Listen) -> Result<vnc::WsListen> {
    if let Some(path) = w.strip_prefix("unix:") {
        return Ok(vnc::WsListen::Unix(PathBuf::from(path)));
    }
    let display_host = match listen {
        Listen::Tcp { host, .. } => Some(host.clone()),
        _ => None,
    };
    let port_of = |p: &str| {
        p.parse::<u16>()
            .map_err(|_| anyhow!("Parameter 'websocket' expects on, PORT, HOST:PORT or unix:PATH"))
    };
    match w {
        "on" | "true" | "yes" => match listen {
            Listen::Tcp { host, display, .. } => Ok(vnc::WsListen::Tcp {
                host: host.clone(),
                port: 5700u16
                    .checked_add(*display)
                    .ok_or_else(|| anyhow!("websocket port out of range"))?,
            }),
            _ => bail!("websocket=on needs a TCP VNC display (give websocket=HOST:PORT)"),
        },
        w if !w.contains(':') => Ok(vnc::WsListen::Tcp {
            host: display_host.ok_or_else(|| {
                anyhow!("websocket=PORT needs a TCP VNC display (give HOST:PORT)")
            })?,
            port: port_of(w)?,
        }),
        w => {
            let (h, p) = match w.strip_prefix('[') {
                Some(r) => r
                    .split_once("]:")
                    .ok_or_else(|| anyhow!("'{w}': expected [HOST]:PORT"))?,
                None => w
                    .rsplit_once(':')
                    .ok_or_else(|| anyhow!("'{w}': expected HOST:PORT"))?,
            };
            Ok(vnc::WsListen::Tcp {
                host: h.to_owned(),
                port: port_of(p)?,
            })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(s: &str) -> Vec<String> {
        s.split_whitespace().map(str::to_owned).collect()
    }

    fn err(s: &str) -> String {
        match parse(args(s)) {
            Err(e) => e.to_string(),
            Ok(_) => panic!("{s} parsed"),
        }
    }

    #[test]
    fn errors_name_the_option() {
        assert_eq!(err("-bogus"), "-bogus: invalid option");
        assert!(err("-vnc").contains("-vnc"));
        assert_eq!(
            err("-vnc :1,foo=bar"),
            "-vnc :1,foo=bar: Invalid parameter 'foo'"
        );
        assert!(err("-vnc :1,password=maybe").contains("password"));
        assert!(err("-monitor bogus").starts_with("-monitor bogus:"));
        assert!(err("-guest nosuch").contains("nosuch"));
        assert!(err("-object secret,rules.0.match=x").contains("rules.0.match"));
        assert!(err("-display gtk").contains("gtk"));
        assert!(err("-vnc unix:/tmp/x,to=3").contains("UNIX"));
    }

    #[test]
    fn good_lines() {
        let Action::Run(c) = parse(args(
            "-vnc 127.0.0.1:1,password=on -monitor stdio -name vm1 -S",
        ))
        .unwrap() else {
            panic!()
        };
        let v = c.vnc.unwrap();
        assert_eq!(v.auth, AuthMode::Vnc);
        assert_eq!(c.monitors.len(), 1);
        assert_eq!(c.monitors[0].chardev.backend, Backend::Stdio);
        assert_eq!(c.monitors[0].mode, MonitorMode::Readline);
        assert_eq!(c.name.as_deref(), Some("vm1"));
        assert!(c.start_paused);
        let Action::Run(c) = parse(args(
            "-object secret,id=pw0,data=c2VjcmV0,format=base64 -vnc :2,password-secret=pw0",
        ))
        .unwrap() else {
            panic!()
        };
        assert_eq!(c.objects[0].args["qom-type"], "secret");
        assert_eq!(c.objects[0].args["format"], "base64");
        let Action::Run(c) = parse(args("-display none")).unwrap() else {
            panic!()
        };
        assert!(c.vnc.is_none());
    }
}
