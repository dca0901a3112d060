//! The one implementation of [`qapi::Commands`]: QMP calls it through `qapi::dispatch`,
//! HMP through `monitor::hmp`.

use std::time::{Duration, SystemTime};

use evloop::Ops;
use qapi::{
    AddClientArgs, ChangeVncPasswordArgs, ChardevInfo, ClosefdArgs, CommandInfo,
    DisplayReloadOptions, DisplayUpdateOptions, ErrorClass, Event, ExpirePasswordOptions,
    GetfdArgs, HumanMonitorCommandArgs, ImageFormat, InputEvent, InputSendEventArgs, KeyValue,
    NameInfo, ObjectDelArgs, ObjectOptions, ObjectPropertyInfo, QmpError, QomGetArgs, QomListArgs,
    ResetData, RunState, ScreendumpArgs, SendKeyArgs, SetPasswordAction, SetPasswordOptions,
    ShutdownCause, StatusInfo, VersionInfo, VersionTriple, VncInfo, VncInfo2,
};
use serde_json::Value;

use crate::world::{self, KeyRelease, Shutdown, World};

/// Commands run against the machine with a handle on the loop.
pub struct Cmds<'a, 'b> {
    /// The loop state.
    pub w: &'a mut World,
    /// The loop handle of the callback the command runs in.
    pub ops: &'a mut Ops<'b, World>,
    /// The file descriptors passed to the calling monitor (QMP over a UNIX socket).
    pub fds: Option<&'a mut crate::qmp::FdTable>,
}

fn spice_not_in_use() -> QmpError {
    QmpError {
        class: ErrorClass::DeviceNotActive,
        desc: "SPICE is not in use".into(),
    }
}

/// Porthole's version as QMP's triple.
pub fn version_triple() -> VersionTriple {
    let mut parts = env!("CARGO_PKG_VERSION")
        .split('.')
        .map(|p| p.parse::<i64>().unwrap_or(0));
    VersionTriple {
        major: parts.next().unwrap_or(0),
        minor: parts.next().unwrap_or(0),
        micro: parts.next().unwrap_or(0),
    }
}

/// `send-key`'s default hold time (QEMU's).
const DEFAULT_HOLD_MS: u64 = 100;
/// Longest hold time accepted.
const MAX_HOLD_MS: u64 = 10_000;
/// Most keys in one `send-key` (QEMU has none; a bound keeps the held-key list small).
const MAX_SEND_KEYS: usize = 64;

fn key_of(k: &KeyValue) -> Result<Option<input::QKeyCode>, QmpError> {
    match k {
        KeyValue::Qcode(q) => Ok(input::QKeyCode::from_str_qemu(q.data.as_str())),
        KeyValue::Number(n) => {
            let n = u32::try_from(n.data)
                .map_err(|_| QmpError::generic(format!("invalid parameter: {}", n.data)))?;
            Ok(input::number_to_qcode(n))
        }
    }
}

impl Cmds<'_, '_> {
    /// Checks that the display named (or the first) exists; `missing` is QEMU's text for the
    /// calling command when it does not.
    fn vnc_display(&self, display: Option<&str>, missing: &str) -> Result<(), QmpError> {
        let found = self.w.vnc_enabled && display.is_none_or(|d| d == self.w.vnc.config().id);
        if found {
            Ok(())
        } else {
            Err(QmpError::generic(missing))
        }
    }

    fn fds(&mut self) -> Result<&mut crate::qmp::FdTable, QmpError> {
        self.fds
            .as_deref_mut()
            .ok_or_else(|| QmpError::generic("No file descriptor supplied via SCM_RIGHTS"))
    }
}

impl qapi::Commands for Cmds<'_, '_> {
    fn query_version(&mut self) -> Result<VersionInfo, QmpError> {
        Ok(VersionInfo {
            qemu: version_triple(),
            package: String::new(),
        })
    }

    fn query_commands(&mut self) -> Result<Vec<CommandInfo>, QmpError> {
        Ok(qapi::COMMANDS
            .iter()
            .map(|c| CommandInfo {
                name: c.name.to_owned(),
            })
            .collect())
    }

    fn query_status(&mut self) -> Result<StatusInfo, QmpError> {
        let status = self.w.machine.run_state();
        Ok(StatusInfo {
            running: status == RunState::Running,
            status,
        })
    }

    fn query_name(&mut self) -> Result<NameInfo, QmpError> {
        Ok(NameInfo {
            name: self.w.name.clone(),
        })
    }

    fn query_chardev(&mut self) -> Result<Vec<ChardevInfo>, QmpError> {
        Ok(self
            .w
            .chardevs
            .iter()
            .map(|c| {
                let idle = c.backend != crate::chardev::Backend::Stdio
                    && self.w.chardev_clients.get(&c.id).copied().unwrap_or(0) == 0;
                let filename = if idle {
                    format!("disconnected:{}", c.filename())
                } else {
                    c.filename()
                };
                ChardevInfo {
                    label: c.id.clone(),
                    filename,
                    frontend_open: true,
                }
            })
            .collect())
    }

    fn query_vnc(&mut self) -> Result<VncInfo, QmpError> {
        if !self.w.vnc_enabled {
            return Ok(VncInfo {
                enabled: false,
                host: None,
                family: None,
                service: None,
                auth: None,
                clients: None,
            });
        }
        Ok(self.w.vnc.query_vnc())
    }

    fn query_vnc_servers(&mut self) -> Result<Vec<VncInfo2>, QmpError> {
        Ok(if self.w.vnc_enabled {
            vec![self.w.vnc.query_vnc_server()]
        } else {
            Vec::new()
        })
    }

    fn stop(&mut self) -> Result<(), QmpError> {
        if self.w.machine.run_state() == RunState::Running {
            self.w.machine.set_run_state(RunState::Paused);
            self.w.emit(&Event::Stop);
        }
        Ok(())
    }

    fn cont(&mut self) -> Result<(), QmpError> {
        match self.w.machine.run_state() {
            RunState::Paused | RunState::Prelaunch => {
                self.w.machine.set_run_state(RunState::Running);
                self.w.emit(&Event::Resume);
            }
            RunState::Running => {}
            RunState::Shutdown | RunState::InternalError => {
                return Err(QmpError::generic(
                    "Resetting the Virtual Machine is required",
                ));
            }
        }
        Ok(())
    }

    fn system_reset(&mut self) -> Result<(), QmpError> {
        self.w.machine.reset();
        self.w.emit(&Event::Reset(ResetData {
            guest: false,
            reason: ShutdownCause::HostQmpSystemReset,
        }));
        world::refresh(self.w, self.ops, true);
        Ok(())
    }

    fn system_powerdown(&mut self) -> Result<(), QmpError> {
        // The built-in guests honour a power button press by powering off, as an ACPI guest would.
        self.w.emit(&Event::Powerdown);
        self.w.request_shutdown(Shutdown::Guest, self.ops);
        Ok(())
    }

    fn quit(&mut self) -> Result<(), QmpError> {
        self.w.request_shutdown(Shutdown::HostQmpQuit, self.ops);
        Ok(())
    }

    fn set_password(&mut self, args: SetPasswordOptions) -> Result<(), QmpError> {
        let connected = args.connected().unwrap_or(SetPasswordAction::Keep);
        let SetPasswordOptions::Vnc {
            password, branch, ..
        } = args
        else {
            return Err(spice_not_in_use());
        };
        self.vnc_display(branch.display.as_deref(), "Could not set password")?;
        let drop = self.w.vnc.set_password(password, connected)?;
        for k in drop {
            self.ops.remove(k);
        }
        Ok(())
    }

    fn expire_password(&mut self, args: ExpirePasswordOptions) -> Result<(), QmpError> {
        let ExpirePasswordOptions::Vnc { time, branch } = args else {
            return Err(spice_not_in_use());
        };
        self.vnc_display(
            branch.display.as_deref(),
            "Could not set password expire time",
        )?;
        let expiry = vnc::Expiry::parse(&time, SystemTime::now())?;
        self.w.vnc.expire_password(expiry)
    }

    fn change_vnc_password(&mut self, args: ChangeVncPasswordArgs) -> Result<(), QmpError> {
        self.vnc_display(None, "Could not set password")?;
        self.w
            .vnc
            .set_password(args.password, SetPasswordAction::Keep)
            .map(|_| ())
    }

    fn screendump(&mut self, args: ScreendumpArgs) -> Result<(), QmpError> {
        if let Some(d) = &args.device {
            return Err(QmpError {
                class: ErrorClass::DeviceNotFound,
                desc: format!("Device '{d}' not found"),
            });
        }
        if args.head.is_some() {
            return Err(QmpError::generic(
                "'head' must be specified together with 'device'",
            ));
        }
        // Bring the surface up to date (and tell the viewers) so the file shows what they see.
        world::refresh(self.w, self.ops, false);
        let format = match args.format.unwrap_or(ImageFormat::Ppm) {
            ImageFormat::Ppm => display::ImageFormat::Ppm,
            ImageFormat::Png => display::ImageFormat::Png,
        };
        display::write_image(
            self.w.machine.surface(),
            std::path::Path::new(&args.filename),
            format,
        )
        .map_err(|e| match e {
            // QEMU 7.2's text for a file it cannot open.
            display::Error::Open { path, reason } => {
                QmpError::generic(format!("failed to open file '{path}': {reason}"))
            }
            e => QmpError::generic(e.to_string()),
        })
    }

    fn send_key(&mut self, args: SendKeyArgs) -> Result<(), QmpError> {
        if args.keys.len() > MAX_SEND_KEYS {
            return Err(QmpError::generic(format!(
                "Too many keys (at most {MAX_SEND_KEYS})"
            )));
        }
        let hold = match args.hold_time {
            None => DEFAULT_HOLD_MS,
            Some(ms) => u64::try_from(ms)
                .ok()
                .filter(|ms| *ms <= MAX_HOLD_MS)
                .ok_or_else(|| {
                    QmpError::invalid_parameter_value(
                        "hold-time",
                        "a number of milliseconds 0..10000",
                    )
                })?,
        };
        let mut keys = Vec::with_capacity(args.keys.len());
        for k in &args.keys {
            if let Some(q) = key_of(k)? {
                keys.push(q);
            }
        }
        for q in &keys {
            self.w.machine.input(input::InputEvent::Key {
                qcode: *q,
                down: true,
            });
        }
        let release = self
            .ops
            .add(Box::new(KeyRelease { keys }), mio::Interest::READABLE);
        self.ops.add_timer(Duration::from_millis(hold), release, 0);
        Ok(())
    }

    fn input_send_event(&mut self, args: InputSendEventArgs) -> Result<(), QmpError> {
        if let Some(d) = &args.device {
            return Err(QmpError {
                class: ErrorClass::DeviceNotFound,
                desc: format!("Device '{d}' not found"),
            });
        }
        // Check everything first: a batch is applied whole or not at all (as QEMU).
        let mut keys = Vec::with_capacity(args.events.len());
        for ev in &args.events {
            match ev {
                InputEvent::Key(k) => keys.push((key_of(&k.data.key)?, k.data.down)),
                // The machine has no pointing device, so these have no handler (QEMU's text).
                other => {
                    return Err(QmpError::generic(format!(
                        "Input handler not found for event type {}",
                        other.type_().as_str()
                    )));
                }
            }
        }
        for (q, down) in keys.into_iter().filter_map(|(q, d)| q.map(|q| (q, d))) {
            self.w
                .machine
                .input(input::InputEvent::Key { qcode: q, down });
        }
        Ok(())
    }

    fn display_reload(&mut self, args: DisplayReloadOptions) -> Result<(), QmpError> {
        let DisplayReloadOptions::Vnc(o) = args;
        self.vnc_display(None, "Can not find vnc display")?;
        if o.tls_certs != Some(true) {
            return Ok(());
        }
        let Some(mut tls) = self.w.vnc.tls().cloned() else {
            return Err(QmpError::generic("vnc tls is not enabled"));
        };
        // Load anew from the object's settings; on any error the old credentials stay.
        let t = self.w.objects.tls_creds_mut(&tls.creds_id).ok_or_else(|| {
            QmpError::generic(format!("No TLS credentials with id '{}'", tls.creds_id))
        })?;
        let (creds, warnings) = t.load()?;
        for w in warnings {
            log::warn!("{w}");
        }
        t.creds = Some(creds.clone());
        tls.creds = creds;
        self.w.vnc.set_tls(Some(tls));
        Ok(())
    }

    fn display_update(&mut self, args: DisplayUpdateOptions) -> Result<(), QmpError> {
        let DisplayUpdateOptions::Vnc(o) = args;
        self.vnc_display(None, "Can not find vnc display")?;
        if o.addresses.is_some() {
            return Err(QmpError::generic(
                "display-update: changing the VNC listen addresses at run time is not supported yet",
            ));
        }
        if let Some(id) = o.tls_creds {
            // Porthole's extension: attach other credentials; sessions already up keep theirs.
            let authz = self.w.vnc.tls().and_then(|t| t.authz.clone());
            let tls = crate::vnc_tls(&self.w.objects, Some(&id), authz.as_deref())
                .map_err(|e| QmpError::generic(format!("{e:#}")))?;
            self.w.vnc.set_tls(tls);
        }
        Ok(())
    }

    fn qom_list(&mut self, args: QomListArgs) -> Result<Vec<ObjectPropertyInfo>, QmpError> {
        Ok(self
            .w
            .objects
            .qom_list(&args.path)?
            .into_iter()
            .map(|(name, type_)| ObjectPropertyInfo {
                name,
                type_,
                description: None,
                default_value: None,
            })
            .collect())
    }

    fn qom_get(&mut self, args: QomGetArgs) -> Result<Value, QmpError> {
        self.w.objects.qom_get(&args.path, &args.property)
    }

    fn object_add(&mut self, args: ObjectOptions) -> Result<(), QmpError> {
        let (id, obj, warnings) = crate::objects::create(&self.w.objects, args)?;
        for w in warnings {
            log::warn!("{w}");
        }
        self.w.objects.add(&id, obj)
    }

    fn object_del(&mut self, args: ObjectDelArgs) -> Result<(), QmpError> {
        // Credentials in use stay; an authz object may go (access then reverts to deny, as in
        // QEMU, which looks authz objects up at each connection).
        let in_use = self.w.vnc.tls().is_some_and(|t| t.creds_id == args.id)
            || self
                .w
                .vnc
                .config()
                .plain
                .as_ref()
                .is_some_and(|p| p.store_id == args.id);
        if in_use && self.w.objects.contains(&args.id) {
            return Err(QmpError::generic(format!(
                "object '{}' is in use, can not be deleted",
                args.id
            )));
        }
        self.w.objects.del(&args.id)
    }

    fn human_monitor_command(&mut self, args: HumanMonitorCommandArgs) -> Result<String, QmpError> {
        if args.cpu_index.is_some_and(|c| c != 0) {
            return Err(QmpError::generic(
                "Parameter 'cpu-index' expects a CPU number",
            ));
        }
        let ctx = monitor::hmp::Context { interactive: false };
        let out = match monitor::hmp::execute(args.command_line.as_str(), self, &ctx) {
            monitor::hmp::Outcome::Output(s) | monitor::hmp::Outcome::Quit(s) => s,
            // Non-interactive contexts never prompt; hmp reports that itself.
            monitor::hmp::Outcome::ReadPassword { .. } => String::new(),
        };
        // QMP carries HMP output with QEMU's "\r\n" line ends.
        Ok(out.replace("\r\n", "\n").replace('\n', "\r\n"))
    }

    fn getfd(&mut self, args: GetfdArgs) -> Result<(), QmpError> {
        self.fds()?.getfd(&args.fdname)
    }

    fn closefd(&mut self, args: ClosefdArgs) -> Result<(), QmpError> {
        self.fds()?.closefd(&args.fdname)
    }

    fn add_client(&mut self, args: AddClientArgs) -> Result<(), QmpError> {
        let not_found = || {
            QmpError::generic(format!(
                "File descriptor named '{}' has not been found",
                args.fdname
            ))
        };
        let fds = self.fds.as_deref_mut().ok_or_else(not_found)?;
        let fd = fds.take(&args.fdname).map_err(|_| not_found())?;
        match args.protocol.as_str() {
            "vnc" => {
                if !self.w.vnc_enabled {
                    return Err(QmpError::generic("VNC is not enabled"));
                }
                let sock = vnc::ClientSocket::from_fd(fd).map_err(|e| {
                    QmpError::generic(format!("add_client: not a connected socket: {e}"))
                })?;
                vnc::add_socket_client(self.w, self.ops, sock, args.skipauth.unwrap_or(false));
                Ok(())
            }
            "spice" => Err(spice_not_in_use()),
            p => Err(QmpError::generic(format!("protocol '{p}' is invalid"))),
        }
    }
}
