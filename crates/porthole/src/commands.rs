//! The one implementation of [`qapi::Commands`]: HMP (and QMP, next) call it.

use std::time::SystemTime;

use evloop::Ops;
use qapi::{
    DisplayProtocol, ErrorClass, ExpirePasswordOptions, NameInfo, Password, QmpError, RunState,
    ScreendumpArgs, SetPasswordAction, SetPasswordOptions, StatusInfo, VersionInfo, VersionTriple,
    VncInfo, VncInfo2,
};

use crate::world::{self, Shutdown, World};

/// Commands run against the machine with a handle on the loop.
pub struct Cmds<'a, 'b> {
    /// The loop state.
    pub w: &'a mut World,
    /// The loop handle of the callback the command runs in.
    pub ops: &'a mut Ops<'b, World>,
}

fn spice_not_in_use() -> QmpError {
    QmpError {
        class: ErrorClass::DeviceNotActive,
        desc: "SPICE is not in use".into(),
    }
}

fn version_triple() -> VersionTriple {
    let mut parts = env!("CARGO_PKG_VERSION")
        .split('.')
        .map(|p| p.parse::<i64>().unwrap_or(0));
    VersionTriple {
        major: parts.next().unwrap_or(0),
        minor: parts.next().unwrap_or(0),
        micro: parts.next().unwrap_or(0),
    }
}

impl Cmds<'_, '_> {
    fn vnc_display(&self, display: Option<&str>) -> Result<(), QmpError> {
        if !self.w.vnc_enabled {
            return Err(QmpError::generic("VNC is not enabled"));
        }
        match display {
            Some(d) if d != self.w.vnc.config().id => {
                Err(QmpError::generic(format!("VNC display '{d}' not found")))
            }
            _ => Ok(()),
        }
    }
}

impl qapi::Commands for Cmds<'_, '_> {
    fn query_version(&mut self) -> Result<VersionInfo, QmpError> {
        Ok(VersionInfo {
            qemu: version_triple(),
            package: String::new(),
        })
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
        }
        Ok(())
    }

    fn cont(&mut self) -> Result<(), QmpError> {
        match self.w.machine.run_state() {
            RunState::Paused | RunState::Prelaunch => {
                self.w.machine.set_run_state(RunState::Running)
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
        world::refresh(self.w, self.ops, true);
        Ok(())
    }

    fn system_powerdown(&mut self) -> Result<(), QmpError> {
        // The built-in guests honour a power button press by powering off, as an ACPI guest would.
        self.w.request_shutdown(Shutdown::Guest, self.ops);
        Ok(())
    }

    fn quit(&mut self) -> Result<(), QmpError> {
        self.w.request_shutdown(Shutdown::HostQmpQuit, self.ops);
        Ok(())
    }

    fn set_password(&mut self, args: SetPasswordOptions) -> Result<(), QmpError> {
        if args.protocol == DisplayProtocol::Spice {
            return Err(spice_not_in_use());
        }
        self.vnc_display(args.display.as_deref())?;
        let drop = self
            .w
            .vnc
            .set_password(args.password, args.connected.unwrap_or_default())?;
        for k in drop {
            self.ops.remove(k);
        }
        Ok(())
    }

    fn expire_password(&mut self, args: ExpirePasswordOptions) -> Result<(), QmpError> {
        if args.protocol == DisplayProtocol::Spice {
            return Err(spice_not_in_use());
        }
        self.vnc_display(args.display.as_deref())?;
        let expiry = vnc::Expiry::parse(&args.time, SystemTime::now())?;
        self.w.vnc.expire_password(expiry)
    }

    fn change_vnc_password(&mut self, password: Password) -> Result<(), QmpError> {
        self.vnc_display(None)?;
        self.w
            .vnc
            .set_password(password, SetPasswordAction::Keep)
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
        let format = match args.format.unwrap_or_default() {
            qapi::ImageFormat::Ppm => display::ImageFormat::Ppm,
            qapi::ImageFormat::Png => display::ImageFormat::Png,
        };
        display::write_image(
            self.w.machine.surface(),
            std::path::Path::new(&args.filename),
            format,
        )
        .map_err(|e| QmpError::generic(e.to_string()))
    }
}
