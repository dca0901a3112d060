//! The human monitor (HMP): QEMU's command syntax, texts and formats over
//! [`qapi::Commands`]. Pure: no I/O, no state between lines except the
//! [`PendingPassword`] a caller carries across a password prompt.
//!
//! Commands, aliases, `args_type` grammars, help lines and messages follow
//! QEMU's `hmp-commands.hx`, `hmp-commands-info.hx`, `monitor/hmp.c`,
//! `monitor/hmp-cmds.c` and `ui/ui-hmp-cmds.c`. Command failures print as
//! QEMU's `hmp_handle_error` does: `Error: <desc>`.
//!
//! Choices where QEMU offers nothing to copy:
//! - `change DEVICE ...` for any device but `vnc` answers QEMU's block-layer
//!   text `Error: Device 'DEVICE' not found` (Porthole has no block devices).
//! - A password read at the prompt whose change fails prints the error (QEMU
//!   drops it silently).
//! - `stop`, `system_reset` and `system_powerdown` print an error if the
//!   command fails (QEMU ignores the error).
//! - QEMU prints string-syntax errors (`unterminated string`) on the process's
//!   stdout; here they are part of the command output. When the bad string is
//!   a password, the offending escape character is not shown.

mod parse;

#[cfg(test)]
mod tests;

use qapi::{
    ChangeVncPasswordArgs, Commands, DisplayProtocol, ExpirePasswordOptions,
    ExpirePasswordOptionsVnc, ImageFormat, ObjectDelArgs, ObjectOptions, Password, QmpError,
    RunState, ScreendumpArgs, SetPasswordAction, SetPasswordOptions, SetPasswordOptionsVnc,
    VncBasicInfo, VncInfo2, VncPrimaryAuth, VncVencryptSubAuth,
};

use parse::{Args, compare_cmd, get_command_name, parse_arguments, parse_cmdline, skip_space};

/// The prompt QEMU shows for a command.
pub const PROMPT: &str = "(qemu) ";

/// The prompt QEMU shows when it reads a password.
pub const PASSWORD_PROMPT: &str = "Password: ";

/// What a secret is replaced with in [`history_entry`].
pub const REDACTED: &str = "****";

/// The greeting printed when the monitor opens, without a line end:
/// `Porthole 0.1.0 monitor - type 'help' for more information`.
pub fn banner(product: &str, version: &str) -> String {
    format!("{product} {version} monitor - type 'help' for more information")
}

/// How the line reached the monitor.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Context {
    /// `false` for QMP's `human-monitor-command`: nobody can answer a prompt.
    pub interactive: bool,
}

/// What the caller does after a line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// Text to print (may be empty). Every line ends in `"\n"`; the writer
    /// converts line ends if its terminal needs it.
    Output(String),
    /// Read a line without echoing it, using `prompt`, then pass it to
    /// [`finish_password`] together with `pending`.
    ReadPassword {
        /// The prompt to show (`Password: `).
        prompt: String,
        /// What the password is for.
        pending: PendingPassword,
    },
    /// Print the text, then shut down: [`Commands::quit`] was called and
    /// succeeded.
    Quit(String),
}

/// What a prompted password will be used for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PendingPassword {
    action: PendingAction,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum PendingAction {
    /// `change vnc password` without the password.
    ChangeVncPassword,
}

/// Run one command line.
pub fn execute(line: &str, cmds: &mut dyn Commands, ctx: &Context) -> Outcome {
    // The line is a C string for QEMU: nothing after a NUL exists.
    let line = line.split('\0').next().unwrap_or_default();
    let (cmd, pos) = match find_command(line, 0, HMP_CMDS) {
        Lookup::Blank => return Outcome::Output(String::new()),
        Lookup::Unknown(msg) => return Outcome::Output(msg),
        Lookup::Found(cmd, pos) => (cmd, pos),
    };
    match parse_arguments(cmd.name, cmd.args_type, line, pos, cmd.secret) {
        Ok(args) => (cmd.handler)(&args, cmds, ctx),
        Err(failure) => {
            let shown =
                line[..pos].trim_end_matches(|c: char| u8::try_from(c).is_ok_and(parse::is_space));
            Outcome::Output(format!(
                "{}Try \"help {shown}\" for more information\n",
                failure.output
            ))
        }
    }
}

/// Complete a password prompt started by [`Outcome::ReadPassword`].
pub fn finish_password(
    pending: PendingPassword,
    password: Password,
    cmds: &mut dyn Commands,
) -> Outcome {
    match pending.action {
        PendingAction::ChangeVncPassword => {
            done(cmds.change_vnc_password(ChangeVncPasswordArgs { password }))
        }
    }
}

/// What of `line` may be kept in the line history: `None` for a blank line,
/// the line with its secret replaced by [`REDACTED`] for commands that carry
/// a password (`change vnc password PW`, `set_password PROTO PW ...`), and
/// `None` when such a line is too malformed to find the secret in.
pub fn history_entry(line: &str) -> Option<String> {
    if line.trim().is_empty() {
        return None;
    }
    let Lookup::Found(cmd, pos) = find_command(line, 0, HMP_CMDS) else {
        return Some(line.to_owned());
    };
    let Some(secret) = cmd.secret else {
        return Some(line.to_owned());
    };
    let (args, failed_at) = match parse_arguments(cmd.name, cmd.args_type, line, pos, cmd.secret) {
        Ok(args) => (args, None),
        Err(f) => (f.partial, Some(f.pos)),
    };
    // `change` carries a password only for the vnc device; a failure before
    // the device is known may hide one in the unparsed rest.
    if cmd.name == "change" && args.str("device").is_some_and(|d| d != "vnc") {
        return Some(line.to_owned());
    }
    // `object_add` carries a secret only in a `data` member (`secret` objects); a line
    // that does not parse is redacted whole.
    if cmd.name == "object_add"
        && args
            .str("object")
            .and_then(|o| crate::object::object_args(o).ok())
            .is_some_and(|m| !m.contains_key("data"))
    {
        return Some(line.to_owned());
    }
    if let Some(span) = args.span(secret) {
        let mut kept = String::with_capacity(line.len());
        kept.push_str(&line[..span.start]);
        kept.push_str(REDACTED);
        kept.push_str(&line[span.end..]);
        return Some(kept);
    }
    match failed_at {
        // Parsed completely and no secret given (`change vnc password`).
        None => Some(line.to_owned()),
        // The parse stopped before the secret: the rest may hold it.
        Some(at) if skip_space(line, at) < line.len() => None,
        Some(_) => Some(line.to_owned()),
    }
}

/// `help` without arguments: one line per command, `name params -- help`.
pub fn help_text() -> String {
    help_cmd(None)
}

type Handler = fn(&Args, &mut dyn Commands, &Context) -> Outcome;

/// One row of QEMU's `HMPCommand` tables.
struct HmpCommand {
    /// Name and aliases, `|`-separated, as QEMU shows them.
    name: &'static str,
    /// QEMU's argument grammar.
    args_type: &'static str,
    /// The argument synopsis for `help`.
    params: &'static str,
    /// The help text.
    help: &'static str,
    handler: Handler,
    sub_table: Option<&'static [HmpCommand]>,
    /// The argument that holds a password, if any.
    secret: Option<&'static str>,
}

const SCREENDUMP_HELP: &str = concat!(
    "save screen from head 'head' of display device 'device'",
    "in specified format 'format' as image 'filename'.",
    "Currently only 'png' and 'ppm' formats are supported."
);

static HMP_CMDS: &[HmpCommand] = &[
    HmpCommand {
        name: "help|?",
        args_type: "name:S?",
        params: "[cmd]",
        help: "show the help",
        handler: hmp_help,
        sub_table: None,
        secret: None,
    },
    HmpCommand {
        name: "quit|q",
        args_type: "",
        params: "",
        help: "quit the emulator",
        handler: hmp_quit,
        sub_table: None,
        secret: None,
    },
    HmpCommand {
        name: "change",
        args_type: "device:B,force:-f,target:F,arg:s?,read-only-mode:s?",
        params: "device [-f] filename [format [read-only-mode]]",
        help: "change a removable medium, optional format, use -f to force the operation",
        handler: hmp_change,
        sub_table: None,
        secret: Some("arg"),
    },
    HmpCommand {
        name: "screendump",
        args_type: "filename:F,format:-fs,device:s?,head:i?",
        params: "filename [-f format] [device [head]]",
        help: SCREENDUMP_HELP,
        handler: hmp_screendump,
        sub_table: None,
        secret: None,
    },
    HmpCommand {
        name: "stop|s",
        args_type: "",
        params: "",
        help: "stop emulation",
        handler: hmp_stop,
        sub_table: None,
        secret: None,
    },
    HmpCommand {
        name: "cont|c",
        args_type: "",
        params: "",
        help: "resume emulation",
        handler: hmp_cont,
        sub_table: None,
        secret: None,
    },
    HmpCommand {
        name: "system_reset",
        args_type: "",
        params: "",
        help: "reset the system",
        handler: hmp_system_reset,
        sub_table: None,
        secret: None,
    },
    HmpCommand {
        name: "system_powerdown",
        args_type: "",
        params: "",
        help: "send system power down event",
        handler: hmp_system_powerdown,
        sub_table: None,
        secret: None,
    },
    HmpCommand {
        name: "object_add",
        args_type: "object:S",
        params: "[qom-type=]type,id=str[,prop=value][,...]",
        help: "create QOM object",
        handler: hmp_object_add,
        sub_table: None,
        secret: Some("object"),
    },
    HmpCommand {
        name: "object_del",
        args_type: "id:s",
        params: "id",
        help: "destroy QOM object",
        handler: hmp_object_del,
        sub_table: None,
        secret: None,
    },
    HmpCommand {
        name: "set_password",
        args_type: "protocol:s,password:s,display:-ds,connected:s?",
        params: "protocol password [-d display] [action-if-connected]",
        help: "set spice/vnc password",
        handler: hmp_set_password,
        sub_table: None,
        secret: Some("password"),
    },
    HmpCommand {
        name: "expire_password",
        args_type: "protocol:s,time:s,display:-ds",
        params: "protocol time [-d display]",
        help: "set spice/vnc password expire-time",
        handler: hmp_expire_password,
        sub_table: None,
        secret: None,
    },
    HmpCommand {
        name: "info",
        args_type: "item:s?",
        params: "[subcommand]",
        help: "show various information about the system state",
        handler: hmp_info_help,
        sub_table: Some(INFO_CMDS),
        secret: None,
    },
];

static INFO_CMDS: &[HmpCommand] = &[
    HmpCommand {
        name: "version",
        args_type: "",
        params: "",
        help: "show the version of QEMU",
        handler: hmp_info_version,
        sub_table: None,
        secret: None,
    },
    HmpCommand {
        name: "status",
        args_type: "",
        params: "",
        help: "show the current VM status (running|paused)",
        handler: hmp_info_status,
        sub_table: None,
        secret: None,
    },
    HmpCommand {
        name: "vnc",
        args_type: "",
        params: "",
        help: "show the vnc server status",
        handler: hmp_info_vnc,
        sub_table: None,
        secret: None,
    },
    HmpCommand {
        name: "name",
        args_type: "",
        params: "",
        help: "show the current VM name",
        handler: hmp_info_name,
        sub_table: None,
        secret: None,
    },
];

enum Lookup {
    Blank,
    Unknown(String),
    Found(&'static HmpCommand, usize),
}

/// QEMU's `monitor_parse_command`: the command (descending into `info`'s
/// table) and the position of its first argument.
fn find_command(line: &str, start: usize, table: &'static [HmpCommand]) -> Lookup {
    let Some((name, end)) = get_command_name(line, start) else {
        return Lookup::Blank;
    };
    let Some(cmd) = table.iter().find(|c| compare_cmd(name, c.name)) else {
        return Lookup::Unknown(format!("unknown command: '{}'\n", &line[..end]));
    };
    let p = skip_space(line, end);
    match cmd.sub_table {
        Some(sub) if p < line.len() => find_command(line, p, sub),
        _ => Lookup::Found(cmd, p),
    }
}

/// QEMU's `hmp_handle_error` output.
fn error_text(e: &QmpError) -> String {
    format!("Error: {}\n", e.desc)
}

fn done(r: Result<(), QmpError>) -> Outcome {
    Outcome::Output(match r {
        Ok(()) => String::new(),
        Err(e) => error_text(&e),
    })
}

/// QEMU's `help_cmd`.
fn help_cmd(name: Option<&str>) -> String {
    let words = match name.map(parse_cmdline) {
        None => Vec::new(),
        Some(Ok(words)) => words,
        Some(Err(msg)) => return msg,
    };
    let mut out = String::new();
    help_dump(HMP_CMDS, &words, 0, &mut out);
    out
}

fn help_dump(table: &'static [HmpCommand], words: &[String], index: usize, out: &mut String) {
    let dump_one = |cmd: &HmpCommand, out: &mut String| {
        for w in &words[..index] {
            out.push_str(w);
            out.push(' ');
        }
        out.push_str(&format!("{} {} -- {}\n", cmd.name, cmd.params, cmd.help));
    };
    let Some(word) = words.get(index) else {
        for cmd in table {
            dump_one(cmd, out);
        }
        return;
    };
    match table.iter().find(|c| compare_cmd(word, c.name)) {
        Some(HmpCommand {
            sub_table: Some(sub),
            ..
        }) => help_dump(sub, words, index + 1, out),
        Some(cmd) => dump_one(cmd, out),
        None => out.push_str(&format!(
            "unknown command: '{}'\n",
            words[..=index].join(" ")
        )),
    }
}

fn hmp_help(args: &Args, _: &mut dyn Commands, _: &Context) -> Outcome {
    Outcome::Output(help_cmd(args.str("name")))
}

fn hmp_info_help(_: &Args, _: &mut dyn Commands, _: &Context) -> Outcome {
    Outcome::Output(help_cmd(Some("info")))
}

fn hmp_quit(_: &Args, cmds: &mut dyn Commands, _: &Context) -> Outcome {
    match cmds.quit() {
        Ok(()) => Outcome::Quit(String::new()),
        Err(e) => Outcome::Output(error_text(&e)),
    }
}

fn hmp_object_add(args: &Args, cmds: &mut dyn Commands, _: &Context) -> Outcome {
    let arg = args.str("object").unwrap_or_default();
    let opts = crate::object::object_args(arg)
        .map_err(QmpError::generic)
        .and_then(|m| qapi::visit::arguments::<ObjectOptions>(&m));
    let result = opts.and_then(|o| cmds.object_add(o));
    let mut out = match result {
        Ok(()) => return Outcome::Output(String::new()),
        Err(e) => error_text(&e),
    };
    // QEMU's command-line reporting adds its identifier hint here.
    if out == "Error: Parameter 'id' expects an identifier\n" {
        out.push_str(qemuopts::ID_HINT);
        out.push('\n');
    }
    Outcome::Output(out)
}

fn hmp_object_del(args: &Args, cmds: &mut dyn Commands, _: &Context) -> Outcome {
    let id = args.str("id").unwrap_or_default().to_owned();
    done(cmds.object_del(ObjectDelArgs { id }))
}

fn hmp_stop(_: &Args, cmds: &mut dyn Commands, _: &Context) -> Outcome {
    done(cmds.stop())
}

fn hmp_cont(_: &Args, cmds: &mut dyn Commands, _: &Context) -> Outcome {
    done(cmds.cont())
}

fn hmp_system_reset(_: &Args, cmds: &mut dyn Commands, _: &Context) -> Outcome {
    done(cmds.system_reset())
}

fn hmp_system_powerdown(_: &Args, cmds: &mut dyn Commands, _: &Context) -> Outcome {
    done(cmds.system_powerdown())
}

/// QEMU's `hmp_change` (`hmp_change_vnc` for the vnc device).
fn hmp_change(args: &Args, cmds: &mut dyn Commands, ctx: &Context) -> Outcome {
    let device = args.str("device").unwrap_or_default();
    if device != "vnc" {
        return Outcome::Output(error_text(&QmpError {
            class: qapi::ErrorClass::DeviceNotFound,
            desc: format!("Device '{device}' not found"),
        }));
    }
    if args.str("read-only-mode").is_some() {
        return Outcome::Output(error_text(&QmpError::generic(
            "Parameter 'read-only-mode' is invalid for VNC",
        )));
    }
    let target = args.str("target").unwrap_or_default();
    if target != "passwd" && target != "password" {
        return Outcome::Output(error_text(&QmpError::generic(
            "Expected 'password' after 'vnc'",
        )));
    }
    match args.str("arg") {
        Some(pw) => done(cmds.change_vnc_password(ChangeVncPasswordArgs {
            password: Password::new(pw),
        })),
        None if ctx.interactive => Outcome::ReadPassword {
            prompt: PASSWORD_PROMPT.to_owned(),
            pending: PendingPassword {
                action: PendingAction::ChangeVncPassword,
            },
        },
        None => Outcome::Output("terminal does not support password prompting\n".to_owned()),
    }
}

/// QEMU's `qapi_enum_parse` over `(name, value)` pairs.
fn enum_parse<T: Copy>(table: &[(&str, T)], given: &str) -> Result<T, QmpError> {
    table
        .iter()
        .find(|(name, _)| *name == given)
        .map(|(_, v)| *v)
        .ok_or_else(|| QmpError::generic(format!("invalid parameter value: {given}")))
}

const PROTOCOLS: &[(&str, DisplayProtocol)] = &[
    ("vnc", DisplayProtocol::Vnc),
    ("spice", DisplayProtocol::Spice),
];

const ACTIONS: &[(&str, SetPasswordAction)] = &[
    ("keep", SetPasswordAction::Keep),
    ("fail", SetPasswordAction::Fail),
    ("disconnect", SetPasswordAction::Disconnect),
];

const FORMATS: &[(&str, ImageFormat)] = &[("ppm", ImageFormat::Ppm), ("png", ImageFormat::Png)];

/// QEMU's `hmp_set_password`: `connected` is checked before `protocol`.
fn hmp_set_password(args: &Args, cmds: &mut dyn Commands, _: &Context) -> Outcome {
    let run = || -> Result<SetPasswordOptions, QmpError> {
        let connected = args
            .str("connected")
            .map(|c| enum_parse(ACTIONS, c))
            .transpose()?;
        let protocol = enum_parse(PROTOCOLS, args.str("protocol").unwrap_or_default())?;
        let password = Password::new(args.str("password").unwrap_or_default());
        Ok(match protocol {
            DisplayProtocol::Vnc => SetPasswordOptions::Vnc {
                password,
                connected,
                branch: SetPasswordOptionsVnc {
                    display: args.str("display").map(str::to_owned),
                },
            },
            DisplayProtocol::Spice => SetPasswordOptions::Spice {
                password,
                connected,
            },
        })
    };
    match run() {
        Ok(opts) => done(cmds.set_password(opts)),
        Err(e) => Outcome::Output(error_text(&e)),
    }
}

fn hmp_expire_password(args: &Args, cmds: &mut dyn Commands, _: &Context) -> Outcome {
    let protocol = match enum_parse(PROTOCOLS, args.str("protocol").unwrap_or_default()) {
        Ok(p) => p,
        Err(e) => return Outcome::Output(error_text(&e)),
    };
    let time = args.str("time").unwrap_or_default().to_owned();
    done(cmds.expire_password(match protocol {
        DisplayProtocol::Vnc => ExpirePasswordOptions::Vnc {
            time,
            branch: ExpirePasswordOptionsVnc {
                display: args.str("display").map(str::to_owned),
            },
        },
        DisplayProtocol::Spice => ExpirePasswordOptions::Spice { time },
    }))
}

/// QEMU's `hmp_screendump`: `head` is passed (default 0) exactly when a
/// device is named.
fn hmp_screendump(args: &Args, cmds: &mut dyn Commands, _: &Context) -> Outcome {
    let format = match args
        .str("format")
        .map(|f| enum_parse(FORMATS, f))
        .transpose()
    {
        Ok(f) => f,
        Err(e) => return Outcome::Output(error_text(&e)),
    };
    let device = args.str("device").map(str::to_owned);
    let head = device.as_ref().map(|_| args.int("head").unwrap_or(0));
    done(cmds.screendump(ScreendumpArgs {
        filename: args.str("filename").unwrap_or_default().to_owned(),
        device,
        head,
        format,
    }))
}

fn hmp_info_version(_: &Args, cmds: &mut dyn Commands, _: &Context) -> Outcome {
    Outcome::Output(match cmds.query_version() {
        Ok(v) => format!(
            "{}.{}.{}{}\n",
            v.qemu.major, v.qemu.minor, v.qemu.micro, v.package
        ),
        Err(e) => error_text(&e),
    })
}

/// QEMU's `hmp_info_status`: the run state is named only when the guest is
/// not running for another reason than `stop`.
fn hmp_info_status(_: &Args, cmds: &mut dyn Commands, _: &Context) -> Outcome {
    Outcome::Output(match cmds.query_status() {
        Ok(s) if s.running => "VM status: running\n".to_owned(),
        Ok(s) if s.status == RunState::Paused => "VM status: paused\n".to_owned(),
        Ok(s) => format!("VM status: paused ({})\n", s.status.as_str()),
        Err(e) => error_text(&e),
    })
}

/// QEMU's `hmp_info_name`: the name, or nothing at all.
fn hmp_info_name(_: &Args, cmds: &mut dyn Commands, _: &Context) -> Outcome {
    Outcome::Output(match cmds.query_name() {
        Ok(n) => n.name.map(|n| format!("{n}\n")).unwrap_or_default(),
        Err(e) => error_text(&e),
    })
}

fn hmp_info_vnc(_: &Args, cmds: &mut dyn Commands, _: &Context) -> Outcome {
    Outcome::Output(match cmds.query_vnc_servers() {
        Ok(displays) => format_vnc(&displays),
        Err(e) => error_text(&e),
    })
}

/// QEMU's `hmp_info_vnc` over `query-vnc-servers`.
fn format_vnc(displays: &[VncInfo2]) -> String {
    if displays.is_empty() {
        return "None\n".to_owned();
    }
    let basic = |out: &mut String, what: &str, b: &VncBasicInfo| {
        out.push_str(&format!(
            "  {what}: {}:{} ({}{})\n",
            b.host,
            b.service,
            b.family.as_str(),
            if b.websocket { " (Websocket)" } else { "" }
        ));
    };
    let auth =
        |out: &mut String, indent: &str, a: VncPrimaryAuth, sub: Option<VncVencryptSubAuth>| {
            out.push_str(&format!(
                "{indent}Auth: {} (Sub: {})\n",
                a.as_str(),
                sub.map_or("none", |s| s.as_str())
            ));
        };
    let mut out = String::new();
    for d in displays {
        out.push_str(&format!("{}:\n", d.id));
        for s in &d.server {
            basic(&mut out, "Server", &VncBasicInfo::from(s));
            auth(&mut out, "    ", s.auth, s.vencrypt);
        }
        for c in &d.clients {
            basic(&mut out, "Client", &VncBasicInfo::from(c));
            out.push_str(&format!(
                "    x509_dname: {}\n",
                c.x509_dname.as_deref().unwrap_or("none")
            ));
            out.push_str(&format!(
                "    sasl_username: {}\n",
                c.sasl_username.as_deref().unwrap_or("none")
            ));
        }
        if d.server.is_empty() {
            auth(&mut out, "  ", d.auth, d.vencrypt);
        }
        if let Some(dev) = &d.display {
            out.push_str(&format!("  Display: {dev}\n"));
        }
    }
    out
}
