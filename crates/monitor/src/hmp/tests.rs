use qapi::*;

use super::*;

const SECRET: &str = "s3cr3t-pw";

/// A fake machine: records every call (passwords as their text, so tests can
/// check what reached the command layer) and answers from its fields.
#[derive(Default)]
struct Fake {
    calls: Vec<String>,
    fail: Option<String>,
    status: Option<StatusInfo>,
    name: Option<String>,
    vnc: Vec<VncInfo2>,
}

impl Fake {
    fn result(&self) -> Result<(), QmpError> {
        match &self.fail {
            Some(desc) => Err(QmpError::generic(desc.clone())),
            None => Ok(()),
        }
    }

    fn record(&mut self, call: String) -> Result<(), QmpError> {
        self.calls.push(call);
        self.result()
    }
}

impl Commands for Fake {
    fn query_version(&mut self) -> Result<VersionInfo, QmpError> {
        self.calls.push("query_version".into());
        Ok(VersionInfo {
            qemu: VersionTriple {
                major: 0,
                minor: 1,
                micro: 2,
            },
            package: " (porthole)".into(),
        })
    }
    fn query_status(&mut self) -> Result<StatusInfo, QmpError> {
        self.calls.push("query_status".into());
        Ok(self.status.clone().unwrap_or(StatusInfo {
            running: true,
            status: RunState::Running,
        }))
    }
    fn query_name(&mut self) -> Result<NameInfo, QmpError> {
        self.calls.push("query_name".into());
        Ok(NameInfo {
            name: self.name.clone(),
        })
    }
    fn query_vnc(&mut self) -> Result<VncInfo, QmpError> {
        unreachable!("HMP uses query-vnc-servers")
    }
    fn query_vnc_servers(&mut self) -> Result<Vec<VncInfo2>, QmpError> {
        self.calls.push("query_vnc_servers".into());
        self.result().map(|()| self.vnc.clone())
    }
    fn stop(&mut self) -> Result<(), QmpError> {
        self.record("stop".into())
    }
    fn cont(&mut self) -> Result<(), QmpError> {
        self.record("cont".into())
    }
    fn system_reset(&mut self) -> Result<(), QmpError> {
        self.record("system_reset".into())
    }
    fn system_powerdown(&mut self) -> Result<(), QmpError> {
        self.record("system_powerdown".into())
    }
    fn quit(&mut self) -> Result<(), QmpError> {
        self.record("quit".into())
    }
    fn set_password(&mut self, a: SetPasswordOptions) -> Result<(), QmpError> {
        let display = match &a {
            SetPasswordOptions::Vnc { branch, .. } => branch.display.clone(),
            SetPasswordOptions::Spice { .. } => None,
        };
        self.record(format!(
            "set_password {:?} {} {:?} {:?}",
            a.protocol(),
            a.password().as_str(),
            a.connected(),
            display
        ))
    }
    fn expire_password(&mut self, a: ExpirePasswordOptions) -> Result<(), QmpError> {
        let display = match &a {
            ExpirePasswordOptions::Vnc { branch, .. } => branch.display.clone(),
            ExpirePasswordOptions::Spice { .. } => None,
        };
        self.record(format!(
            "expire_password {:?} {} {:?}",
            a.protocol(),
            a.time(),
            display
        ))
    }
    fn change_vnc_password(&mut self, a: ChangeVncPasswordArgs) -> Result<(), QmpError> {
        self.record(format!("change_vnc_password {}", a.password.as_str()))
    }
    fn screendump(&mut self, a: ScreendumpArgs) -> Result<(), QmpError> {
        self.record(format!(
            "screendump {} {:?} {:?} {:?}",
            a.filename, a.device, a.head, a.format
        ))
    }
    fn query_chardev(&mut self) -> Result<Vec<ChardevInfo>, QmpError> {
        unreachable!("no HMP command reaches query-chardev")
    }
    fn send_key(&mut self, _: SendKeyArgs) -> Result<(), QmpError> {
        unreachable!("no HMP command reaches send-key")
    }
    fn input_send_event(&mut self, _: InputSendEventArgs) -> Result<(), QmpError> {
        unreachable!("no HMP command reaches input-send-event")
    }
    fn display_reload(&mut self, _: DisplayReloadOptions) -> Result<(), QmpError> {
        unreachable!("no HMP command reaches display-reload")
    }
    fn display_update(&mut self, _: DisplayUpdateOptions) -> Result<(), QmpError> {
        unreachable!("no HMP command reaches display-update")
    }
    fn query_commands(&mut self) -> Result<Vec<CommandInfo>, QmpError> {
        unreachable!("no HMP command reaches query-commands")
    }
    fn qom_list(&mut self, _: QomListArgs) -> Result<Vec<ObjectPropertyInfo>, QmpError> {
        unreachable!("no HMP command reaches qom-list")
    }
    fn qom_get(&mut self, _: QomGetArgs) -> Result<serde_json::Value, QmpError> {
        unreachable!("no HMP command reaches qom-get")
    }
    fn object_add(&mut self, a: ObjectOptions) -> Result<(), QmpError> {
        let call = match a {
            ObjectOptions::Secret { id, branch } => format!(
                "object_add secret {id} data={}",
                branch.data.as_ref().map_or("-", Password::as_str)
            ),
            ObjectOptions::Userstore { id, branch } => format!(
                "object_add userstore {id} {} refresh={:?}",
                branch.filename, branch.refresh
            ),
            other => format!("object_add {other:?}"),
        };
        self.record(call)
    }
    fn object_del(&mut self, a: ObjectDelArgs) -> Result<(), QmpError> {
        self.record(format!("object_del {}", a.id))
    }
    fn human_monitor_command(&mut self, _: HumanMonitorCommandArgs) -> Result<String, QmpError> {
        unreachable!("HMP does not call itself")
    }
    fn getfd(&mut self, _: GetfdArgs) -> Result<(), QmpError> {
        unreachable!("no HMP command reaches getfd")
    }
    fn closefd(&mut self, _: ClosefdArgs) -> Result<(), QmpError> {
        unreachable!("no HMP command reaches closefd")
    }
    fn add_client(&mut self, _: AddClientArgs) -> Result<(), QmpError> {
        unreachable!("no HMP command reaches add_client")
    }
}

const TTY: Context = Context { interactive: true };
const QMP: Context = Context { interactive: false };

fn run(fake: &mut Fake, line: &str) -> String {
    match execute(line, fake, &TTY) {
        Outcome::Output(s) => s,
        other => panic!("unexpected outcome for {line:?}: {other:?}"),
    }
}

fn outcome_text(o: &Outcome) -> String {
    match o {
        Outcome::Output(s) | Outcome::Quit(s) => s.clone(),
        Outcome::ReadPassword { prompt, .. } => prompt.clone(),
    }
}

#[test]
fn banner_and_prompt() {
    assert_eq!(
        banner("Porthole", "0.1.0"),
        "Porthole 0.1.0 monitor - type 'help' for more information"
    );
    assert_eq!(PROMPT, "(qemu) ");
}

#[test]
fn simple_commands_and_aliases() {
    let mut f = Fake::default();
    for (line, call) in [
        ("stop", "stop"),
        ("s", "stop"),
        ("cont", "cont"),
        ("c", "cont"),
        ("system_reset", "system_reset"),
        ("system_powerdown", "system_powerdown"),
    ] {
        assert_eq!(run(&mut f, line), "", "{line}");
        assert_eq!(f.calls.pop().as_deref(), Some(call), "{line}");
    }
    assert!(f.calls.is_empty());
}

#[test]
fn quit_and_q() {
    for line in ["quit", "q", "  q  "] {
        let mut f = Fake::default();
        assert_eq!(execute(line, &mut f, &TTY), Outcome::Quit(String::new()));
        assert_eq!(f.calls, ["quit"]);
    }
    let mut f = Fake {
        fail: Some("no".into()),
        ..Fake::default()
    };
    assert_eq!(
        execute("quit", &mut f, &TTY),
        Outcome::Output("Error: no\n".into())
    );
}

#[test]
fn command_errors_print_like_hmp_handle_error() {
    let mut f = Fake {
        fail: Some("Resetting the Virtual Machine is required".into()),
        ..Fake::default()
    };
    assert_eq!(
        run(&mut f, "cont"),
        "Error: Resetting the Virtual Machine is required\n"
    );
}

#[test]
fn unknown_commands() {
    let mut f = Fake::default();
    assert_eq!(run(&mut f, "x"), "unknown command: 'x'\n");
    assert_eq!(
        run(&mut f, "frobnicate now"),
        "unknown command: 'frobnicate'\n"
    );
    assert_eq!(run(&mut f, "info foo"), "unknown command: 'info foo'\n");
    assert_eq!(run(&mut f, "help foo"), "unknown command: 'foo'\n");
    assert_eq!(
        run(&mut f, "help info foo"),
        "unknown command: 'info foo'\n"
    );
    assert_eq!(run(&mut f, ""), "");
    assert_eq!(run(&mut f, "   "), "");
    assert!(f.calls.is_empty());
}

#[test]
fn argument_errors_point_to_help() {
    let mut f = Fake::default();
    assert_eq!(
        run(&mut f, "stop now"),
        "stop|s: extraneous characters at the end of line\nTry \"help stop\" for more information\n"
    );
    assert_eq!(
        run(&mut f, "info vnc extra"),
        "vnc: extraneous characters at the end of line\nTry \"help info vnc\" for more information\n"
    );
    assert_eq!(
        run(&mut f, "change"),
        "change: block device name expected\nTry \"help change\" for more information\n"
    );
    assert_eq!(
        run(&mut f, "change vnc"),
        "change: filename expected\nTry \"help change\" for more information\n"
    );
    assert_eq!(
        run(&mut f, "screendump \"a\\qb\""),
        "unsupported escape code: '\\q'\nscreendump: filename expected\nTry \"help screendump\" for more information\n"
    );
    assert_eq!(
        run(&mut f, "expire_password vnc \"never"),
        "unterminated string\nexpire_password: string expected\nTry \"help expire_password\" for more information\n"
    );
    assert!(f.calls.is_empty());
}

#[test]
fn help_lists_every_command_in_qemu_format() {
    let text = help_text();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), HMP_CMDS.len());
    assert_eq!(lines[0], "help|? [cmd] -- show the help");
    assert!(lines.contains(&"quit|q  -- quit the emulator"));
    assert!(lines.contains(&"stop|s  -- stop emulation"));
    assert!(lines.contains(&"cont|c  -- resume emulation"));
    assert!(lines.contains(&"set_password protocol password [-d display] [action-if-connected] -- set spice/vnc password"));
    assert!(
        lines.contains(&"info [subcommand] -- show various information about the system state")
    );
    let mut f = Fake::default();
    assert_eq!(run(&mut f, "help"), text);
    assert_eq!(run(&mut f, "?"), text);
    assert_eq!(run(&mut f, "help s"), "stop|s  -- stop emulation\n");
    assert_eq!(
        run(&mut f, "help info vnc"),
        "info vnc  -- show the vnc server status\n"
    );
}

#[test]
fn object_add_takes_the_object_option_syntax_and_object_del_an_id() {
    let mut f = Fake::default();
    assert_eq!(
        run(
            &mut f,
            "object_add userstore,id=u0,filename=/a,,b,refresh=off"
        ),
        ""
    );
    assert_eq!(
        run(
            &mut f,
            r#"object_add {"qom-type": "secret", "id": "s0", "data": "x y"}"#
        ),
        ""
    );
    assert_eq!(run(&mut f, "object_del u0"), "");
    assert_eq!(
        f.calls,
        [
            "object_add userstore u0 /a,b refresh=Some(false)",
            "object_add secret s0 data=x y",
            "object_del u0",
        ]
    );
    // Argument errors are QMP's, with HMP's "Error: " prefix; nothing is called.
    f.calls.clear();
    assert_eq!(
        run(&mut f, "object_add nosuch,id=x"),
        "Error: Parameter 'qom-type' does not accept value 'nosuch'\n"
    );
    assert_eq!(
        run(&mut f, "object_add userstore,id=u0,refresh=maybe"),
        "Error: Parameter 'refresh' expects 'on' or 'off'\n"
    );
    assert_eq!(
        run(&mut f, "object_add userstore,id=u0"),
        "Error: Parameter 'filename' is missing\n"
    );
    assert!(f.calls.is_empty(), "{:?}", f.calls);
    f.fail = Some("object 'u0' is in use, can not be deleted".into());
    assert_eq!(
        run(&mut f, "object_del u0"),
        "Error: object 'u0' is in use, can not be deleted\n"
    );
}

#[test]
fn info_alone_lists_subcommands() {
    let mut f = Fake::default();
    let expected = "info version  -- show the version of QEMU\n\
                    info status  -- show the current VM status (running|paused)\n\
                    info vnc  -- show the vnc server status\n\
                    info name  -- show the current VM name\n";
    assert_eq!(run(&mut f, "info"), expected);
    assert_eq!(run(&mut f, "help info"), expected);
    assert!(f.calls.is_empty());
}

#[test]
fn info_status_follows_qemu_rules() {
    let cases = [
        (true, RunState::Running, "VM status: running\n"),
        (false, RunState::Paused, "VM status: paused\n"),
        (
            false,
            RunState::Prelaunch,
            "VM status: paused (prelaunch)\n",
        ),
        (false, RunState::Shutdown, "VM status: paused (shutdown)\n"),
        (
            false,
            RunState::InternalError,
            "VM status: paused (internal-error)\n",
        ),
    ];
    for (running, status, text) in cases {
        let mut f = Fake {
            status: Some(StatusInfo { running, status }),
            ..Fake::default()
        };
        assert_eq!(run(&mut f, "info status"), text);
    }
}

#[test]
fn info_version_and_name() {
    let mut f = Fake::default();
    assert_eq!(run(&mut f, "info version"), "0.1.2 (porthole)\n");
    assert_eq!(run(&mut f, "info name"), "");
    f.name = Some("guest-1".into());
    assert_eq!(run(&mut f, "info name"), "guest-1\n");
}

fn basic(host: &str, service: &str, family: NetworkAddressFamily, websocket: bool) -> VncBasicInfo {
    VncBasicInfo {
        host: host.into(),
        service: service.into(),
        family,
        websocket,
    }
}

fn server2(
    b: VncBasicInfo,
    auth: VncPrimaryAuth,
    vencrypt: Option<VncVencryptSubAuth>,
) -> VncServerInfo2 {
    VncServerInfo2 {
        host: b.host,
        service: b.service,
        family: b.family,
        websocket: b.websocket,
        auth,
        vencrypt,
    }
}

fn client(
    b: VncBasicInfo,
    x509_dname: Option<String>,
    sasl_username: Option<String>,
) -> VncClientInfo {
    VncClientInfo {
        host: b.host,
        service: b.service,
        family: b.family,
        websocket: b.websocket,
        x509_dname,
        sasl_username,
    }
}

#[test]
fn info_vnc_formats_displays_listeners_and_clients() {
    let mut f = Fake::default();
    assert_eq!(run(&mut f, "info vnc"), "None\n");
    f.vnc = vec![VncInfo2 {
        id: "default".into(),
        server: vec![
            server2(
                basic("127.0.0.1", "5901", NetworkAddressFamily::Ipv4, false),
                VncPrimaryAuth::Vnc,
                None,
            ),
            server2(
                basic("::1", "5700", NetworkAddressFamily::Ipv6, true),
                VncPrimaryAuth::Vencrypt,
                Some(VncVencryptSubAuth::X509Vnc),
            ),
        ],
        clients: vec![
            client(
                basic("127.0.0.1", "40000", NetworkAddressFamily::Ipv4, false),
                None,
                None,
            ),
            client(
                basic("::1", "40001", NetworkAddressFamily::Ipv6, true),
                Some("CN=client".into()),
                Some("alice".into()),
            ),
        ],
        auth: VncPrimaryAuth::Vnc,
        vencrypt: None,
        display: Some("vga0".into()),
    }];
    assert_eq!(
        run(&mut f, "info vnc"),
        "default:\n\
         \x20 Server: 127.0.0.1:5901 (ipv4)\n\
         \x20   Auth: vnc (Sub: none)\n\
         \x20 Server: ::1:5700 (ipv6 (Websocket))\n\
         \x20   Auth: vencrypt (Sub: x509-vnc)\n\
         \x20 Client: 127.0.0.1:40000 (ipv4)\n\
         \x20   x509_dname: none\n\
         \x20   sasl_username: none\n\
         \x20 Client: ::1:40001 (ipv6 (Websocket))\n\
         \x20   x509_dname: CN=client\n\
         \x20   sasl_username: alice\n\
         \x20 Display: vga0\n"
    );
    // A display without a listener shows its own auth line.
    f.vnc = vec![VncInfo2 {
        id: "vnc2".into(),
        server: vec![],
        clients: vec![],
        auth: VncPrimaryAuth::None,
        vencrypt: None,
        display: None,
    }];
    assert_eq!(run(&mut f, "info vnc"), "vnc2:\n  Auth: none (Sub: none)\n");
    f.fail = Some("boom".into());
    assert_eq!(run(&mut f, "info vnc"), "Error: boom\n");
}

#[test]
fn change_vnc_password_with_argument() {
    for target in ["password", "passwd"] {
        let mut f = Fake::default();
        let out = run(&mut f, &format!("change vnc {target} {SECRET}"));
        assert_eq!(out, "");
        assert_eq!(f.calls, [format!("change_vnc_password {SECRET}")]);
    }
    let mut f = Fake::default();
    run(&mut f, "change vnc password \"with space\"");
    assert_eq!(f.calls, ["change_vnc_password with space"]);
}

#[test]
fn change_vnc_errors() {
    let mut f = Fake::default();
    assert_eq!(
        run(&mut f, "change vnc pass x"),
        "Error: Expected 'password' after 'vnc'\n"
    );
    assert_eq!(
        run(&mut f, "change vnc password x ro"),
        "Error: Parameter 'read-only-mode' is invalid for VNC\n"
    );
    assert_eq!(
        run(&mut f, "change ide1-cd0 /tmp/x.iso"),
        "Error: Device 'ide1-cd0' not found\n"
    );
    assert!(f.calls.is_empty());
    let mut f = Fake {
        fail: Some("Could not set password".into()),
        ..Fake::default()
    };
    let out = run(&mut f, &format!("change vnc password {SECRET}"));
    assert_eq!(out, "Error: Could not set password\n");
}

#[test]
fn change_vnc_password_prompts_when_interactive() {
    let mut f = Fake::default();
    let Outcome::ReadPassword { prompt, pending } = execute("change vnc password", &mut f, &TTY)
    else {
        panic!("expected a prompt");
    };
    assert_eq!(prompt, "Password: ");
    assert!(f.calls.is_empty());
    assert_eq!(
        finish_password(pending.clone(), Password::new(SECRET), &mut f),
        Outcome::Output(String::new())
    );
    assert_eq!(f.calls, [format!("change_vnc_password {SECRET}")]);
    let mut f = Fake {
        fail: Some("Could not set password".into()),
        ..Fake::default()
    };
    let out = finish_password(pending, Password::new(SECRET), &mut f);
    assert_eq!(
        out,
        Outcome::Output("Error: Could not set password\n".into())
    );
}

#[test]
fn change_vnc_password_cannot_prompt_over_qmp() {
    let mut f = Fake::default();
    assert_eq!(
        execute("change vnc password", &mut f, &QMP),
        Outcome::Output("terminal does not support password prompting\n".into())
    );
    assert!(f.calls.is_empty());
}

#[test]
fn set_password_arguments() {
    let mut f = Fake::default();
    assert_eq!(run(&mut f, &format!("set_password vnc {SECRET}")), "");
    assert_eq!(
        f.calls.pop().unwrap(),
        format!("set_password Vnc {SECRET} None None")
    );
    run(&mut f, &format!("set_password vnc {SECRET} -d vnc2 keep"));
    assert_eq!(
        f.calls.pop().unwrap(),
        format!("set_password Vnc {SECRET} Some(Keep) Some(\"vnc2\")")
    );
    run(
        &mut f,
        &format!("set_password spice {SECRET} -d vnc2 disconnect"),
    );
    assert_eq!(
        f.calls.pop().unwrap(),
        format!("set_password Spice {SECRET} Some(Disconnect) None")
    );
    assert_eq!(
        run(&mut f, &format!("set_password vnc {SECRET} later")),
        "Error: invalid parameter value: later\n"
    );
    assert_eq!(
        run(&mut f, &format!("set_password rdp {SECRET}")),
        "Error: invalid parameter value: rdp\n"
    );
    assert!(f.calls.is_empty());
}

#[test]
fn expire_password_arguments() {
    let mut f = Fake::default();
    assert_eq!(run(&mut f, "expire_password vnc +60 -d vnc1"), "");
    assert_eq!(
        f.calls.pop().unwrap(),
        "expire_password Vnc +60 Some(\"vnc1\")"
    );
    run(&mut f, "expire_password vnc never");
    assert_eq!(f.calls.pop().unwrap(), "expire_password Vnc never None");
    f.fail = Some("Parameter 'time' doesn't take value 'soon'".into());
    assert_eq!(
        run(&mut f, "expire_password vnc soon"),
        "Error: Parameter 'time' doesn't take value 'soon'\n"
    );
    assert_eq!(
        run(&mut f, "expire_password x now"),
        "Error: invalid parameter value: x\n"
    );
}

#[test]
fn screendump_arguments() {
    let mut f = Fake::default();
    assert_eq!(run(&mut f, "screendump /tmp/a.ppm"), "");
    assert_eq!(
        f.calls.pop().unwrap(),
        "screendump /tmp/a.ppm None None None"
    );
    run(&mut f, "screendump /tmp/a.png -f png");
    assert_eq!(
        f.calls.pop().unwrap(),
        "screendump /tmp/a.png None None Some(Png)"
    );
    run(&mut f, "screendump \"/tmp/with space.ppm\" vga0");
    assert_eq!(
        f.calls.pop().unwrap(),
        "screendump /tmp/with space.ppm Some(\"vga0\") Some(0) None"
    );
    run(&mut f, "screendump a.ppm -f ppm vga0 1");
    assert_eq!(
        f.calls.pop().unwrap(),
        "screendump a.ppm Some(\"vga0\") Some(1) Some(Ppm)"
    );
    assert_eq!(
        run(&mut f, "screendump a.gif -f gif"),
        "Error: invalid parameter value: gif\n"
    );
    assert!(f.calls.is_empty());
}

#[test]
fn history_never_keeps_a_password() {
    let cases = [
        (
            format!("change vnc password {SECRET}"),
            Some("change vnc password ****".to_owned()),
        ),
        (
            format!("change vnc passwd \"{SECRET} x\""),
            Some("change vnc passwd ****".to_owned()),
        ),
        (
            format!("change  vnc  -f  password  {SECRET}  "),
            Some("change  vnc  -f  password  ****  ".to_owned()),
        ),
        (
            format!("change vnc password {SECRET} extra"),
            Some("change vnc password **** extra".to_owned()),
        ),
        (
            format!("change vnc pasword {SECRET}"),
            Some("change vnc pasword ****".to_owned()),
        ),
        (
            format!("set_password vnc {SECRET}"),
            Some("set_password vnc ****".to_owned()),
        ),
        (
            format!("set_password vnc {SECRET} -d vnc2 keep"),
            Some("set_password vnc **** -d vnc2 keep".to_owned()),
        ),
        (
            format!("set_password vnc {SECRET} keep junk"),
            Some("set_password vnc **** keep junk".to_owned()),
        ),
        // The secret itself is malformed: nothing can be kept.
        (format!("set_password vnc \"{SECRET}"), None),
        (format!("set_password vnc \"{SECRET}\\q\""), None),
        (format!("change vnc password \"{SECRET}"), None),
        // Malformed before the secret.
        (format!("set_password \"vnc {SECRET}"), None),
        (format!("change \"vnc password {SECRET}"), None),
        (
            "change vnc password".to_owned(),
            Some("change vnc password".to_owned()),
        ),
        (
            "change ide1-cd0 /tmp/a.iso".to_owned(),
            Some("change ide1-cd0 /tmp/a.iso".to_owned()),
        ),
        ("info vnc".to_owned(), Some("info vnc".to_owned())),
        (
            format!("object_add secret,id=s0,data={SECRET}"),
            Some("object_add ****".to_owned()),
        ),
        (
            format!(r#"object_add {{"qom-type": "secret", "id": "s0", "data": "{SECRET}"}}"#),
            Some("object_add ****".to_owned()),
        ),
        (
            format!("object_add secret,id=s0,data=\"{SECRET}"),
            Some("object_add ****".to_owned()),
        ),
        (
            "object_add secret,id=s0,file=/run/pw".to_owned(),
            Some("object_add secret,id=s0,file=/run/pw".to_owned()),
        ),
        (
            "object_add userstore,id=u0,filename=/etc/users".to_owned(),
            Some("object_add userstore,id=u0,filename=/etc/users".to_owned()),
        ),
        ("bogus words".to_owned(), Some("bogus words".to_owned())),
        ("   ".to_owned(), None),
        (String::new(), None),
    ];
    for (line, expected) in cases {
        let got = history_entry(&line);
        assert_eq!(got, expected, "{line:?}");
        if let Some(kept) = got {
            assert!(!kept.contains(SECRET), "{kept:?}");
        }
    }
}

#[test]
fn password_never_appears_in_any_outcome() {
    let lines = [
        format!("change vnc password {SECRET}"),
        format!("change vnc password {SECRET} ro"),
        format!("change vnc pass {SECRET}"),
        format!("change vnc password \"{SECRET}\\q\""),
        format!("change vnc password \"{SECRET}"),
        format!("change vnc password {SECRET} a b c"),
        format!("set_password vnc {SECRET}"),
        format!("set_password vnc {SECRET} bogus"),
        format!("set_password vnc {SECRET} keep more"),
        format!("set_password vnc {SECRET} -q"),
        format!("set_password vnc {SECRET} -d"),
        format!("set_password bogus {SECRET}"),
        format!("set_password vnc \"{SECRET}\\q\""),
        format!("set_password vnc \"{SECRET}"),
    ];
    for fail in [None, Some("Could not set password".to_owned())] {
        for line in &lines {
            for ctx in [TTY, QMP] {
                let mut f = Fake {
                    fail: fail.clone(),
                    ..Fake::default()
                };
                let out = execute(line, &mut f, &ctx);
                let text = outcome_text(&out);
                assert!(!text.contains(SECRET), "{line:?} -> {text:?}");
                assert!(!format!("{out:?}").contains(SECRET), "{line:?}");
            }
        }
    }
}

#[test]
fn escape_errors_in_a_password_hide_the_character() {
    let mut f = Fake::default();
    let out = run(&mut f, "set_password vnc \"abc\\zdef\"");
    assert_eq!(
        out,
        "unsupported escape code\nset_password: string expected\nTry \"help set_password\" for more information\n"
    );
}

#[test]
fn text_after_nul_is_ignored() {
    let mut f = Fake::default();
    assert_eq!(run(&mut f, "stop\0 junk"), "");
    assert_eq!(f.calls, ["stop"]);
}
