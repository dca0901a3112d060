//! The generated QMP layer: dispatch with QEMU's error texts, wire forms, unions,
//! secrets, events and the introspection snapshot.

use qapi::*;
use serde_json::{Value, json};

/// Records each call as text and answers with fixed values. Implementing the trait at
/// all is the compile-time check that every schema command has a method.
#[derive(Default)]
struct Recorder {
    calls: Vec<String>,
}

impl Recorder {
    fn rec(&mut self, s: String) -> Result<(), QmpError> {
        self.calls.push(s);
        Ok(())
    }
}

impl Commands for Recorder {
    fn query_status(&mut self) -> Result<StatusInfo, QmpError> {
        self.rec("query-status".into())?;
        Ok(StatusInfo {
            running: false,
            status: RunState::Prelaunch,
        })
    }
    fn query_chardev(&mut self) -> Result<Vec<ChardevInfo>, QmpError> {
        self.rec("query-chardev".into())?;
        Ok(vec![ChardevInfo {
            label: "monitor0".into(),
            filename: "stdio".into(),
            frontend_open: true,
        }])
    }
    fn set_password(&mut self, args: SetPasswordOptions) -> Result<(), QmpError> {
        self.rec(format!("set_password {args:?}"))
    }
    fn expire_password(&mut self, args: ExpirePasswordOptions) -> Result<(), QmpError> {
        self.rec(format!("expire_password {args:?}"))
    }
    fn screendump(&mut self, args: ScreendumpArgs) -> Result<(), QmpError> {
        self.rec(format!("screendump {args:?}"))
    }
    fn query_vnc(&mut self) -> Result<VncInfo, QmpError> {
        self.rec("query-vnc".into())?;
        Ok(VncInfo {
            enabled: false,
            host: None,
            family: None,
            service: None,
            auth: None,
            clients: None,
        })
    }
    fn query_vnc_servers(&mut self) -> Result<Vec<VncInfo2>, QmpError> {
        self.rec("query-vnc-servers".into())?;
        Ok(Vec::new())
    }
    fn change_vnc_password(&mut self, args: ChangeVncPasswordArgs) -> Result<(), QmpError> {
        self.rec(format!("change-vnc-password {args:?}"))
    }
    fn send_key(&mut self, args: SendKeyArgs) -> Result<(), QmpError> {
        self.rec(format!("send-key {args:?}"))
    }
    fn input_send_event(&mut self, args: InputSendEventArgs) -> Result<(), QmpError> {
        self.rec(format!("input-send-event {args:?}"))
    }
    fn display_reload(&mut self, args: DisplayReloadOptions) -> Result<(), QmpError> {
        self.rec(format!("display-reload {args:?}"))
    }
    fn display_update(&mut self, args: DisplayUpdateOptions) -> Result<(), QmpError> {
        self.rec(format!("display-update {args:?}"))
    }
    fn query_version(&mut self) -> Result<VersionInfo, QmpError> {
        self.rec("query-version".into())?;
        Ok(VersionInfo {
            qemu: VersionTriple {
                major: 0,
                minor: 1,
                micro: 0,
            },
            package: String::new(),
        })
    }
    fn query_commands(&mut self) -> Result<Vec<CommandInfo>, QmpError> {
        self.rec("query-commands".into())?;
        Ok(COMMANDS
            .iter()
            .map(|c| CommandInfo {
                name: c.name.into(),
            })
            .collect())
    }
    fn quit(&mut self) -> Result<(), QmpError> {
        self.rec("quit".into())
    }
    fn qom_list(&mut self, args: QomListArgs) -> Result<Vec<ObjectPropertyInfo>, QmpError> {
        self.rec(format!("qom-list {args:?}"))?;
        Ok(vec![ObjectPropertyInfo {
            name: "type".into(),
            type_: "string".into(),
            description: None,
            default_value: None,
        }])
    }
    fn qom_get(&mut self, args: QomGetArgs) -> Result<Value, QmpError> {
        self.rec(format!("qom-get {args:?}"))?;
        Ok(json!("server"))
    }
    fn object_add(&mut self, args: ObjectOptions) -> Result<(), QmpError> {
        self.rec(format!("object-add {args:?}"))
    }
    fn object_del(&mut self, args: ObjectDelArgs) -> Result<(), QmpError> {
        self.rec(format!("object-del {args:?}"))
    }
    fn system_reset(&mut self) -> Result<(), QmpError> {
        self.rec("system_reset".into())
    }
    fn system_powerdown(&mut self) -> Result<(), QmpError> {
        self.rec("system_powerdown".into())
    }
    fn query_name(&mut self) -> Result<NameInfo, QmpError> {
        self.rec("query-name".into())?;
        Ok(NameInfo::default())
    }
    fn stop(&mut self) -> Result<(), QmpError> {
        self.rec("stop".into())
    }
    fn cont(&mut self) -> Result<(), QmpError> {
        Err(QmpError::generic(
            "Resetting the Virtual Machine is required",
        ))
    }
    fn human_monitor_command(&mut self, args: HumanMonitorCommandArgs) -> Result<String, QmpError> {
        self.rec(format!("hmp {args:?}"))?;
        Ok(format!("ran {}\r\n", args.command_line.as_str()))
    }
    fn getfd(&mut self, args: GetfdArgs) -> Result<(), QmpError> {
        self.rec(format!("getfd {}", args.fdname))
    }
    fn closefd(&mut self, args: ClosefdArgs) -> Result<(), QmpError> {
        self.rec(format!("closefd {}", args.fdname))
    }
    fn add_client(&mut self, args: AddClientArgs) -> Result<(), QmpError> {
        self.rec(format!("add_client {args:?}"))
    }
}

fn run(name: &str, args: Value) -> (Result<Value, QmpError>, Vec<String>) {
    let mut r = Recorder::default();
    let args = match args {
        Value::Null => None,
        Value::Object(m) => Some(m),
        other => panic!("arguments must be an object: {other}"),
    };
    let res = dispatch(&mut r, name, args);
    (res, r.calls)
}

/// The error text of a failing call that must not reach the implementation.
fn err(name: &str, args: Value) -> String {
    let (res, calls) = run(name, args);
    assert!(
        calls.is_empty(),
        "{name} reached the implementation: {calls:?}"
    );
    let e = res.expect_err("must fail");
    assert_eq!(e.class, ErrorClass::GenericError, "{e:?}");
    e.desc
}

#[test]
fn unknown_command_is_command_not_found() {
    let (res, _) = run("no-such-command", Value::Null);
    let e = res.unwrap_err();
    assert_eq!(e.class, ErrorClass::CommandNotFound);
    assert_eq!(e.desc, "The command no-such-command has not been found");
    // The server answers these itself.
    for name in ["qmp_capabilities", "query-qmp-schema"] {
        let (res, _) = run(name, Value::Null);
        assert_eq!(
            res.unwrap_err().class,
            ErrorClass::CommandNotFound,
            "{name}"
        );
    }
}

#[test]
fn commands_without_result_return_empty_object() {
    let (res, calls) = run("stop", Value::Null);
    assert_eq!(res.unwrap(), json!({}));
    assert_eq!(calls, ["stop"]);
    let (res, _) = run("quit", json!({}));
    assert_eq!(res.unwrap(), json!({}));
}

#[test]
fn results_use_wire_names() {
    let (res, _) = run("query-status", Value::Null);
    assert_eq!(
        res.unwrap(),
        json!({"running": false, "status": "prelaunch"})
    );
    let (res, _) = run("query-chardev", Value::Null);
    assert_eq!(
        res.unwrap(),
        json!([{"label": "monitor0", "filename": "stdio", "frontend-open": true}])
    );
    let (res, _) = run("query-name", Value::Null);
    assert_eq!(
        res.unwrap(),
        json!({}),
        "absent optional members are left out"
    );
    let (res, _) = run("qom-list", json!({"path": "/objects"}));
    assert_eq!(res.unwrap(), json!([{"name": "type", "type": "string"}]));
    let (res, _) = run(
        "qom-get",
        json!({"path": "/objects/t", "property": "endpoint"}),
    );
    assert_eq!(res.unwrap(), json!("server"));
    let (res, _) = run(
        "human-monitor-command",
        json!({"command-line": "info status"}),
    );
    assert_eq!(res.unwrap(), json!("ran info status\r\n"));
}

#[test]
fn command_errors_pass_through() {
    let (res, _) = run("cont", Value::Null);
    assert_eq!(
        res.unwrap_err().desc,
        "Resetting the Virtual Machine is required"
    );
}

#[test]
fn missing_parameter() {
    assert_eq!(
        err("screendump", json!({})),
        "Parameter 'filename' is missing"
    );
    assert_eq!(
        err("set_password", json!({"protocol": "vnc"})),
        "Parameter 'password' is missing"
    );
    assert_eq!(
        err("send-key", json!({"keys": [{"type": "qcode"}]})),
        "Parameter 'keys[0].data' is missing"
    );
    assert_eq!(
        err(
            "send-key",
            json!({"keys": [{"type": "qcode", "data": "a"}, {"data": 1}]})
        ),
        "Parameter 'keys[1].type' is missing"
    );
}

#[test]
fn wrong_type() {
    assert_eq!(
        err("screendump", json!({"filename": 1})),
        "Invalid parameter type for 'filename', expected: string"
    );
    assert_eq!(
        err("screendump", json!({"filename": "f", "head": "0"})),
        "Invalid parameter type for 'head', expected: integer"
    );
    assert_eq!(
        err("screendump", json!({"filename": "f", "head": 1.5})),
        "Invalid parameter type for 'head', expected: integer"
    );
    assert_eq!(
        err("send-key", json!({"keys": {}})),
        "Invalid parameter type for 'keys', expected: array"
    );
    assert_eq!(
        err("send-key", json!({"keys": ["ctrl"]})),
        "Invalid parameter type for 'keys[0]', expected: object"
    );
    assert_eq!(
        err(
            "send-key",
            json!({"keys": [{"type": "number", "data": "1"}]})
        ),
        "Invalid parameter type for 'keys[0].data', expected: integer"
    );
    assert_eq!(
        err(
            "add_client",
            json!({"protocol": "vnc", "fdname": "f", "skipauth": "yes"})
        ),
        "Invalid parameter type for 'skipauth', expected: boolean"
    );
    assert_eq!(
        err(
            "input-send-event",
            json!({"events": [{"type": "key", "data": {"key": 5, "down": true}}]})
        ),
        "Invalid parameter type for 'events[0].data.key', expected: object"
    );
}

#[test]
fn optional_member_set_to_null_is_a_type_error() {
    assert_eq!(
        err("screendump", json!({"filename": "f", "device": null})),
        "Invalid parameter type for 'device', expected: string"
    );
}

#[test]
fn unexpected_parameter() {
    assert_eq!(
        err("stop", json!({"now": true})),
        "Parameter 'now' is unexpected"
    );
    assert_eq!(
        err("screendump", json!({"filename": "f", "bogus": 1})),
        "Parameter 'bogus' is unexpected"
    );
    assert_eq!(
        err(
            "send-key",
            json!({"keys": [{"type": "qcode", "data": "a", "extra": 1}]})
        ),
        "Parameter 'keys[0].extra' is unexpected"
    );
}

#[test]
fn missing_members_are_reported_before_unexpected_ones() {
    assert_eq!(
        err("screendump", json!({"bogus": 1})),
        "Parameter 'filename' is missing"
    );
}

#[test]
fn bad_enum_value_uses_the_bare_member_name() {
    assert_eq!(
        err("set_password", json!({"protocol": "rdp", "password": "x"})),
        "Parameter 'protocol' does not accept value 'rdp'"
    );
    assert_eq!(
        err(
            "send-key",
            json!({"keys": [{"type": "qcode", "data": "nokey"}]})
        ),
        "Parameter 'data' does not accept value 'nokey'"
    );
    assert_eq!(
        err("screendump", json!({"filename": "f", "format": 1})),
        "Invalid parameter type for 'format', expected: string"
    );
    // Array elements have no name: QEMU says 'null'.
    let e =
        serde_json::from_value::<QmpCapabilitiesArgs>(json!({"enable": ["oob", "x"]})).unwrap_err();
    assert_eq!(e.to_string(), "Parameter 'null' does not accept value 'x'");
}

#[test]
fn integer_range() {
    let args = |to: Value| {
        json!({"type": "vnc",
               "addresses": [{"type": "inet", "host": "::", "port": "5900", "to": to}]})
    };
    assert_eq!(
        err("display-update", args(json!(65536))),
        "Parameter 'to' expects uint16_t"
    );
    assert_eq!(
        err("display-update", args(json!(-1))),
        "Parameter 'to' expects uint16_t"
    );
    assert_eq!(
        err("display-update", args(json!("5901"))),
        "Parameter 'addresses[0].to' expects uint64"
    );
    let (res, calls) = run("display-update", args(json!(5905)));
    res.unwrap();
    assert!(calls[0].contains("to: Some(5905)"), "{calls:?}");
}

#[test]
fn union_tag_selects_the_branch_members() {
    let (res, calls) = run(
        "set_password",
        json!({"protocol": "vnc", "password": "pw", "connected": "keep", "display": "d1"}),
    );
    res.unwrap();
    assert_eq!(
        calls,
        [
            "set_password Vnc { password: <redacted>, connected: Some(Keep), branch: \
             SetPasswordOptionsVnc { display: Some(\"d1\") } }"
        ]
    );
    // 'display' belongs to the vnc branch only.
    assert_eq!(
        err(
            "set_password",
            json!({"protocol": "spice", "password": "pw", "display": "d1"})
        ),
        "Parameter 'display' is unexpected"
    );
    assert_eq!(
        err("set_password", json!({"password": "pw"})),
        "Parameter 'protocol' is missing"
    );
    let (res, calls) = run(
        "set_password",
        json!({"protocol": "spice", "password": "pw"}),
    );
    res.unwrap();
    assert_eq!(
        calls,
        ["set_password Spice { password: <redacted>, connected: None }"]
    );
}

#[test]
fn object_add_branches() {
    let (res, calls) = run(
        "object-add",
        json!({"qom-type": "tls-creds-x509", "id": "tls0", "dir": "/etc/pki",
               "endpoint": "server", "verify-peer": false}),
    );
    res.unwrap();
    assert_eq!(
        calls,
        [
            "object-add TlsCredsX509 { id: \"tls0\", branch: TlsCredsX509Properties { \
             verify_peer: Some(false), dir: Some(\"/etc/pki\"), endpoint: Some(Server), \
             priority: None, sanity_check: None, passwordid: None } }"
        ]
    );
    assert_eq!(
        err(
            "object-add",
            json!({"qom-type": "tls-creds-anon", "id": "a", "sanity-check": true})
        ),
        "Parameter 'sanity-check' is unexpected"
    );
    assert_eq!(
        err(
            "object-add",
            json!({"qom-type": "authz-list-file", "id": "a"})
        ),
        "Parameter 'qom-type' does not accept value 'authz-list-file'"
    );
    assert_eq!(
        err(
            "object-add",
            json!({"qom-type": "authz-list", "id": "a", "rules": [{"match": "x", "policy": "maybe"}]})
        ),
        "Parameter 'policy' does not accept value 'maybe'"
    );
    let (res, calls) = run(
        "object-add",
        json!({"qom-type": "authz-list", "id": "auth0", "policy": "deny",
               "rules": [{"match": "CN=*", "policy": "allow", "format": "glob"}]}),
    );
    res.unwrap();
    assert!(calls[0].contains("match_: \"CN=*\""), "{calls:?}");
}

#[test]
fn secrets_are_redacted_in_debug() {
    let (res, calls) = run(
        "object-add",
        json!({"qom-type": "secret", "id": "sec0", "data": "hunter2"}),
    );
    res.unwrap();
    let (res2, calls2) = run("change-vnc-password", json!({"password": "hunter2"}));
    res2.unwrap();
    let (res3, calls3) = run(
        "human-monitor-command",
        json!({"command-line": "change vnc password hunter2"}),
    );
    res3.unwrap();
    for c in calls.iter().chain(&calls2).chain(&calls3) {
        assert!(!c.contains("hunter2"), "{c}");
        assert!(c.contains("<redacted>"), "{c}");
    }
    // The value itself is intact.
    let opts: ObjectOptions =
        serde_json::from_value(json!({"qom-type": "secret", "id": "s", "data": "hunter2"}))
            .unwrap();
    let ObjectOptions::Secret { branch, .. } = &opts else {
        panic!("{opts:?}");
    };
    assert_eq!(branch.data.as_ref().map(Password::as_str), Some("hunter2"));
}

#[test]
fn serde_round_trips() {
    let samples = [
        json!({"protocol": "vnc", "password": "pw", "connected": "fail", "display": "d"}),
        json!({"qom-type": "authz-simple", "id": "a0", "identity": "CN=x"}),
        json!({"type": "qcode", "data": "ctrl_r"}),
        json!({"type": "btn", "data": {"button": "wheel-up", "down": true}}),
        json!({"type": "unix", "path": "/run/vnc.sock"}),
        json!({"type": "inet", "host": "::", "port": "5900", "ipv6": true}),
        json!({"type": "fd", "str": "fd1"}),
    ];
    fn round<T: serde::Serialize + serde::de::DeserializeOwned + std::fmt::Debug + PartialEq>(
        v: &Value,
    ) -> bool {
        match serde_json::from_value::<T>(v.clone()) {
            Ok(t) => {
                assert_eq!(&serde_json::to_value(&t).unwrap(), v);
                true
            }
            Err(_) => false,
        }
    }
    assert!(round::<SetPasswordOptions>(&samples[0]));
    assert!(round::<ObjectOptions>(&samples[1]));
    assert!(round::<KeyValue>(&samples[2]));
    assert!(round::<InputEvent>(&samples[3]));
    for s in &samples[4..] {
        assert!(round::<SocketAddress>(s), "{s}");
    }
    let info = VncInfo2 {
        id: "default".into(),
        server: vec![VncServerInfo2 {
            host: "127.0.0.1".into(),
            service: "5901".into(),
            family: NetworkAddressFamily::Ipv4,
            websocket: false,
            auth: VncPrimaryAuth::Vencrypt,
            vencrypt: Some(VncVencryptSubAuth::X509Vnc),
        }],
        clients: vec![],
        auth: VncPrimaryAuth::Vencrypt,
        vencrypt: Some(VncVencryptSubAuth::X509Vnc),
        display: None,
    };
    let v = serde_json::to_value(&info).unwrap();
    assert_eq!(
        v,
        json!({"id": "default", "clients": [], "auth": "vencrypt", "vencrypt": "x509-vnc",
               "server": [{"host": "127.0.0.1", "service": "5901", "family": "ipv4",
                           "websocket": false, "auth": "vencrypt", "vencrypt": "x509-vnc"}]})
    );
    assert_eq!(serde_json::from_value::<VncInfo2>(v).unwrap(), info);
}

#[test]
fn base_members_are_flattened_and_convert_back() {
    let c = VncClientInfo {
        host: "127.0.0.1".into(),
        service: "5901".into(),
        family: NetworkAddressFamily::Ipv4,
        websocket: false,
        x509_dname: Some("CN=x".into()),
        sasl_username: None,
    };
    assert_eq!(
        serde_json::to_value(&c).unwrap(),
        json!({"host": "127.0.0.1", "service": "5901", "family": "ipv4",
               "websocket": false, "x509_dname": "CN=x"})
    );
    let b = VncBasicInfo::from(&c);
    assert_eq!(b.host, "127.0.0.1");
    assert_eq!(b.family, NetworkAddressFamily::Ipv4);
}

#[test]
fn enums_know_their_names() {
    assert_eq!(QKeyCode::_1.as_str(), "1");
    assert_eq!(QKeyCode::from_name("kp_0"), Some(QKeyCode::Kp0));
    assert_eq!(QKeyCode::from_name("nokey"), None);
    assert_eq!(VncVencryptSubAuth::X509None.to_string(), "x509-none");
    assert_eq!(RunState::ALL.len(), 5);
    assert_eq!(ShutdownCause::HostQmpQuit.as_str(), "host-qmp-quit");
    // The disabled 'if' parts are gone: no SPICE-only command, no Linux-only members.
    assert!(!COMMANDS.iter().any(|c| c.name == "query-spice"));
    assert!(
        serde_json::from_value::<UnixSocketAddress>(json!({"path": "p", "abstract": true}))
            .is_err()
    );
}

#[test]
fn command_registry_lists_every_command() {
    let names: Vec<&str> = COMMANDS.iter().map(|c| c.name).collect();
    for n in [
        "qmp_capabilities",
        "query-version",
        "query-commands",
        "query-qmp-schema",
        "query-status",
        "query-name",
        "stop",
        "cont",
        "system_reset",
        "system_powerdown",
        "quit",
        "set_password",
        "expire_password",
        "change-vnc-password",
        "query-vnc",
        "query-vnc-servers",
        "screendump",
        "send-key",
        "input-send-event",
        "human-monitor-command",
        "object-add",
        "object-del",
        "qom-list",
        "qom-get",
        "query-chardev",
        "getfd",
        "closefd",
        "add_client",
        "display-reload",
        "display-update",
    ] {
        assert!(names.contains(&n), "{n} missing from COMMANDS");
    }
    assert_eq!(names.len(), 30);
    assert!(COMMANDS.iter().all(|c| !c.allow_oob && c.success_response));
    // Every command but the server's own goes through dispatch.
    for c in COMMANDS {
        let (res, _) = run(c.name, Value::Null);
        let server_own = matches!(c.name, "qmp_capabilities" | "query-qmp-schema");
        if let Err(e) = res {
            assert_eq!(
                e.class == ErrorClass::CommandNotFound,
                server_own,
                "{}: {e:?}",
                c.name
            );
        }
    }
}

#[test]
fn events_have_names_and_data() {
    assert_eq!(Event::Stop.name(), "STOP");
    assert_eq!(Event::Stop.data(), None);
    let ev = Event::Shutdown(ShutdownData {
        guest: false,
        reason: ShutdownCause::HostQmpQuit,
    });
    assert_eq!(ev.name(), "SHUTDOWN");
    assert_eq!(
        ev.data(),
        Some(json!({"guest": false, "reason": "host-qmp-quit"}))
    );
    let server = VncServerInfo {
        host: "127.0.0.1".into(),
        service: "5901".into(),
        family: NetworkAddressFamily::Ipv4,
        websocket: false,
        auth: Some("vnc".into()),
    };
    let client = VncBasicInfo {
        host: "127.0.0.1".into(),
        service: "40000".into(),
        family: NetworkAddressFamily::Ipv4,
        websocket: false,
    };
    let ev = Event::VncConnected(VncConnectedData { server, client });
    assert_eq!(ev.name(), "VNC_CONNECTED");
    assert_eq!(
        ev.data().unwrap()["server"],
        json!({"host": "127.0.0.1", "service": "5901", "family": "ipv4",
               "websocket": false, "auth": "vnc"})
    );
    assert_eq!(
        EVENTS,
        [
            "SHUTDOWN",
            "POWERDOWN",
            "RESET",
            "STOP",
            "RESUME",
            "VNC_CONNECTED",
            "VNC_INITIALIZED",
            "VNC_DISCONNECTED"
        ]
    );
}

#[test]
fn extension_member_is_accepted() {
    let (res, calls) = run(
        "display-update",
        json!({"type": "vnc", "tls-creds": "tls0"}),
    );
    res.unwrap();
    assert!(calls[0].contains("tls_creds: Some(\"tls0\")"), "{calls:?}");
}

/// The introspection answer, pinned. Regenerate with `UPDATE_SNAPSHOTS=1`.
#[test]
fn schema_json_snapshot() {
    let parsed: Value = serde_json::from_str(SCHEMA_JSON).unwrap();
    assert_eq!(
        serde_json::to_string(&parsed).unwrap(),
        SCHEMA_JSON,
        "SCHEMA_JSON is compact JSON with sorted keys"
    );
    let pretty = serde_json::to_string_pretty(&parsed).unwrap() + "\n";
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/snapshots/query-qmp-schema.json"
    );
    if std::env::var_os("UPDATE_SNAPSHOTS").is_some() {
        std::fs::write(path, &pretty).unwrap();
    }
    let expected = std::fs::read_to_string(path).expect("snapshot (UPDATE_SNAPSHOTS=1 writes it)");
    assert!(
        expected == pretty,
        "query-qmp-schema changed; rerun with UPDATE_SNAPSHOTS=1 and review the diff"
    );
}

#[test]
fn schema_json_is_self_consistent() {
    // The answer parses as the schema's own SchemaInfo type.
    let infos: Vec<SchemaInfo> = serde_json::from_str(SCHEMA_JSON).unwrap();
    let names: Vec<&str> = infos.iter().map(|i| i.name().as_str()).collect();
    let mut seen = std::collections::HashSet::new();
    for n in &names {
        assert!(seen.insert(*n), "{n} listed twice");
    }
    let resolves = |t: &str| names.contains(&t);
    let mut commands = 0;
    for i in &infos {
        match i {
            SchemaInfo::Command { name, branch, .. } => {
                commands += 1;
                assert!(COMMANDS.iter().any(|c| c.name == name), "{name}");
                assert!(
                    resolves(&branch.arg_type) && resolves(&branch.ret_type),
                    "{name}"
                );
            }
            SchemaInfo::Event { name, branch, .. } => {
                assert!(EVENTS.contains(&name.as_str()), "{name}");
                assert!(resolves(&branch.arg_type), "{name}");
            }
            SchemaInfo::Object { name, branch, .. } => {
                assert!(
                    name.parse::<u32>().is_ok(),
                    "type name {name} is not masked"
                );
                for m in &branch.members {
                    assert!(resolves(&m.type_), "{name}.{}", m.name);
                }
                for v in branch.variants.iter().flatten() {
                    assert!(resolves(&v.type_), "{name} case {}", v.case);
                }
            }
            SchemaInfo::Array { name, branch, .. } => {
                assert_eq!(*name, format!("[{}]", branch.element_type));
                assert!(resolves(&branch.element_type));
            }
            SchemaInfo::Enum { name, .. } | SchemaInfo::Alternate { name, .. } => {
                assert!(
                    name.parse::<u32>().is_ok(),
                    "type name {name} is not masked"
                );
            }
            SchemaInfo::Builtin { name, .. } => assert!(name.parse::<u32>().is_err()),
        }
    }
    assert_eq!(commands, COMMANDS.len());
    // The first entity is the first command of the first module, its argument type "0".
    assert_eq!(
        serde_json::to_value(&infos[0]).unwrap(),
        json!({"name": "query-status", "meta-type": "command", "arg-type": "0", "ret-type": "1"})
    );
}
