use std::io::{Cursor, Write};
use std::sync::mpsc::{Receiver, RecvTimeoutError};
use std::time::{Duration, Instant};

use super::*;

const TIMEOUT: Duration = Duration::from_secs(10);
const BANNER: &str = "Porthole 0.1.0 monitor - type 'help' for more information";

/// A writer the test can read back.
#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl Write for Captured {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl Captured {
    fn text(&self) -> String {
        String::from_utf8(self.0.lock().unwrap().clone()).unwrap()
    }

    /// Wait until the output ends with `tail`.
    fn wait_for_tail(&self, tail: &str) {
        let start = Instant::now();
        while !self.text().ends_with(tail) {
            assert!(
                start.elapsed() < TIMEOUT,
                "output never ended with {tail:?}: {:?}",
                self.text()
            );
            thread::sleep(Duration::from_millis(5));
        }
    }
}

fn start(reader: impl BufRead + Send + 'static) -> (StdioMonitor, Receiver<Request>, Captured) {
    let out = Captured::default();
    let (tx, rx) = mpsc::channel();
    let mon = StdioMonitor::spawn_plain(BANNER.to_owned(), reader, out.clone(), move |r| {
        tx.send(r).unwrap()
    })
    .expect("spawn");
    (mon, rx, out)
}

fn next(rx: &Receiver<Request>) -> Request {
    rx.recv_timeout(TIMEOUT).expect("a request")
}

fn line(rx: &Receiver<Request>) -> String {
    match next(rx) {
        Request::Line(l) => l,
        other => panic!("expected a line, got {other:?}"),
    }
}

fn wait_finished(mon: &StdioMonitor) {
    let start = Instant::now();
    while !mon.is_finished() {
        assert!(start.elapsed() < TIMEOUT, "monitor thread did not end");
        thread::sleep(Duration::from_millis(5));
    }
}

#[test]
fn transcript_has_prompts_echo_and_crlf_in_order() {
    let (mon, rx, out) = start(Cursor::new("info status\r\n\n  \nstop\nq\n"));
    assert_eq!(line(&rx), "info status");
    mon.reply(Reply::Output("VM status: running\n".into()));
    assert_eq!(line(&rx), "stop");
    mon.reply(Reply::Output(String::new()));
    assert_eq!(line(&rx), "q");
    mon.reply(Reply::Quit(String::new()));
    wait_finished(&mon);
    assert_eq!(
        out.text(),
        format!(
            "{BANNER}\r\n(qemu) info status\r\nVM status: running\r\n(qemu) \r\n(qemu) \r\n(qemu) stop\r\n(qemu) q\r\n"
        )
    );
}

#[test]
fn prompted_password_is_not_echoed() {
    let (mon, rx, out) = start(Cursor::new("change vnc password\nhunter2\r\nq\n"));
    assert_eq!(line(&rx), "change vnc password");
    mon.reply(Reply::ReadPassword {
        prompt: "Password: ".into(),
    });
    match next(&rx) {
        Request::Password(p) => assert_eq!(p.as_str(), "hunter2"),
        other => panic!("expected a password, got {other:?}"),
    }
    mon.reply(Reply::Output(String::new()));
    assert_eq!(line(&rx), "q");
    mon.reply(Reply::Quit(String::new()));
    wait_finished(&mon);
    let text = out.text();
    assert_eq!(
        text,
        format!("{BANNER}\r\n(qemu) change vnc password\r\nPassword: \r\n(qemu) q\r\n")
    );
    assert!(!text.contains("hunter2"));
}

#[test]
fn echoed_command_line_hides_its_secret() {
    let (mon, rx, out) = start(Cursor::new("set_password vnc hunter2 keep\n"));
    assert_eq!(line(&rx), "set_password vnc hunter2 keep");
    mon.reply(Reply::Output(String::new()));
    assert!(matches!(next(&rx), Request::Eof));
    wait_finished(&mon);
    let text = out.text();
    assert!(
        text.contains("(qemu) set_password vnc **** keep\r\n"),
        "{text:?}"
    );
    assert!(!text.contains("hunter2"));
}

#[test]
fn eof_is_reported_once_and_ends_the_thread_without_a_reply() {
    // The last line has no line end: it still counts.
    let (mon, rx, out) = start(Cursor::new("stop"));
    assert_eq!(line(&rx), "stop");
    mon.reply(Reply::Output(String::new()));
    assert!(matches!(next(&rx), Request::Eof));
    wait_finished(&mon);
    assert!(matches!(
        rx.recv_timeout(Duration::from_millis(50)),
        Err(RecvTimeoutError::Disconnected)
    ));
    // Notices still print after the end of input; finish() flushes them.
    mon.print_async("bye");
    mon.finish();
    assert_eq!(
        out.text(),
        format!("{BANNER}\r\n(qemu) stop\r\n(qemu) bye\r\n")
    );
}

#[test]
fn eof_at_the_password_prompt() {
    let (mon, rx, _out) = start(Cursor::new("change vnc password\n"));
    assert_eq!(line(&rx), "change vnc password");
    mon.reply(Reply::ReadPassword {
        prompt: "Password: ".into(),
    });
    assert!(matches!(next(&rx), Request::Eof));
    wait_finished(&mon);
}

#[test]
fn overlong_line_is_refused_not_truncated() {
    let long = "x".repeat(MAX_LINE_LEN + 1);
    let exact = "y".repeat(MAX_LINE_LEN);
    let (mon, rx, out) = start(Cursor::new(format!("{long}\n{exact}\nq\n")));
    // The over-long line never reaches the loop.
    assert_eq!(line(&rx), exact);
    mon.reply(Reply::Output(String::new()));
    assert_eq!(line(&rx), "q");
    mon.reply(Reply::Quit(String::new()));
    wait_finished(&mon);
    assert!(out.text().contains(&format!(
        "(qemu) \r\nline too long: more than {MAX_LINE_LEN} bytes, ignored\r\n"
    )));
}

#[test]
fn read_line_bounds_and_strips() {
    let mut r = Cursor::new(b"ab\r\ncd\nef".to_vec());
    let mut buf = Vec::new();
    assert!(matches!(read_line(&mut r, &mut buf), LineRead::Line));
    assert_eq!(buf, b"ab");
    buf.clear();
    assert!(matches!(read_line(&mut r, &mut buf), LineRead::Line));
    assert_eq!(buf, b"cd");
    buf.clear();
    assert!(matches!(read_line(&mut r, &mut buf), LineRead::Line));
    assert_eq!(buf, b"ef");
    buf.clear();
    assert!(matches!(read_line(&mut r, &mut buf), LineRead::Eof));
    // Small reads: the bound holds across buffer refills.
    let data = format!("{}\nok\n", "z".repeat(MAX_LINE_LEN * 3));
    let mut r = BufReader::with_capacity(7, Cursor::new(data.into_bytes()));
    assert!(matches!(read_line(&mut r, &mut buf), LineRead::TooLong));
    assert!(buf.is_empty());
    assert!(matches!(read_line(&mut r, &mut buf), LineRead::Line));
    assert_eq!(buf, b"ok");
}

#[test]
fn notice_redraws_the_waiting_prompt() {
    let (pipe_r, mut pipe_w) = io::pipe().unwrap();
    let (mon, rx, out) = start(BufReader::new(pipe_r));
    out.wait_for_tail("(qemu) ");
    mon.print_async("VNC client connected");
    out.wait_for_tail("(qemu) \r\nVNC client connected\r\n(qemu) ");
    pipe_w.write_all(b"q\n").unwrap();
    assert_eq!(line(&rx), "q");
    // While a command runs no prompt is shown: the notice is printed as is.
    mon.print_async("busy\n");
    out.wait_for_tail("(qemu) q\r\nbusy\r\n");
    mon.reply(Reply::Quit("bye\n".into()));
    wait_finished(&mon);
    assert_eq!(
        out.text(),
        format!("{BANNER}\r\n(qemu) \r\nVNC client connected\r\n(qemu) q\r\nbusy\r\nbye\r\n")
    );
}

#[test]
fn replies_never_block_and_survive_a_finished_thread() {
    let (mon, rx, _out) = start(Cursor::new("q\n"));
    assert_eq!(line(&rx), "q");
    mon.reply(Reply::Quit(String::new()));
    wait_finished(&mon);
    // Extra replies and notices after the end are dropped, not blocking.
    mon.reply(Reply::Output("late\n".into()));
    mon.print_async("late");
}

#[test]
fn requests_do_not_show_passwords() {
    let shown = format!("{:?}", Request::Password(Password::new("hunter2")));
    assert!(!shown.contains("hunter2"), "{shown}");
}

#[test]
fn reply_from_outcome_keeps_the_pending_action() {
    struct NoMachine;
    impl qapi::Commands for NoMachine {
        fn query_version(&mut self) -> Result<qapi::VersionInfo, qapi::QmpError> {
            unreachable!()
        }
        fn query_status(&mut self) -> Result<qapi::StatusInfo, qapi::QmpError> {
            unreachable!()
        }
        fn query_name(&mut self) -> Result<qapi::NameInfo, qapi::QmpError> {
            unreachable!()
        }
        fn query_vnc(&mut self) -> Result<qapi::VncInfo, qapi::QmpError> {
            unreachable!()
        }
        fn query_vnc_servers(&mut self) -> Result<Vec<qapi::VncInfo2>, qapi::QmpError> {
            unreachable!()
        }
        fn stop(&mut self) -> Result<(), qapi::QmpError> {
            unreachable!()
        }
        fn cont(&mut self) -> Result<(), qapi::QmpError> {
            unreachable!()
        }
        fn system_reset(&mut self) -> Result<(), qapi::QmpError> {
            unreachable!()
        }
        fn system_powerdown(&mut self) -> Result<(), qapi::QmpError> {
            unreachable!()
        }
        fn quit(&mut self) -> Result<(), qapi::QmpError> {
            Ok(())
        }
        fn set_password(&mut self, _: qapi::SetPasswordOptions) -> Result<(), qapi::QmpError> {
            unreachable!()
        }
        fn expire_password(
            &mut self,
            _: qapi::ExpirePasswordOptions,
        ) -> Result<(), qapi::QmpError> {
            unreachable!()
        }
        fn change_vnc_password(
            &mut self,
            _: qapi::ChangeVncPasswordArgs,
        ) -> Result<(), qapi::QmpError> {
            Err(qapi::QmpError::generic("Could not set password"))
        }
        fn screendump(&mut self, _: qapi::ScreendumpArgs) -> Result<(), qapi::QmpError> {
            unreachable!()
        }
        fn query_chardev(&mut self) -> Result<Vec<qapi::ChardevInfo>, qapi::QmpError> {
            unreachable!()
        }
        fn send_key(&mut self, _: qapi::SendKeyArgs) -> Result<(), qapi::QmpError> {
            unreachable!()
        }
        fn input_send_event(&mut self, _: qapi::InputSendEventArgs) -> Result<(), qapi::QmpError> {
            unreachable!()
        }
        fn display_reload(&mut self, _: qapi::DisplayReloadOptions) -> Result<(), qapi::QmpError> {
            unreachable!()
        }
        fn display_update(&mut self, _: qapi::DisplayUpdateOptions) -> Result<(), qapi::QmpError> {
            unreachable!()
        }
        fn query_commands(&mut self) -> Result<Vec<qapi::CommandInfo>, qapi::QmpError> {
            unreachable!()
        }
        fn qom_list(
            &mut self,
            _: qapi::QomListArgs,
        ) -> Result<Vec<qapi::ObjectPropertyInfo>, qapi::QmpError> {
            unreachable!()
        }
        fn qom_get(&mut self, _: qapi::QomGetArgs) -> Result<serde_json::Value, qapi::QmpError> {
            unreachable!()
        }
        fn object_add(&mut self, _: qapi::ObjectOptions) -> Result<(), qapi::QmpError> {
            unreachable!()
        }
        fn object_del(&mut self, _: qapi::ObjectDelArgs) -> Result<(), qapi::QmpError> {
            unreachable!()
        }
        fn human_monitor_command(
            &mut self,
            _: qapi::HumanMonitorCommandArgs,
        ) -> Result<String, qapi::QmpError> {
            unreachable!()
        }
        fn getfd(&mut self, _: qapi::GetfdArgs) -> Result<(), qapi::QmpError> {
            unreachable!()
        }
        fn closefd(&mut self, _: qapi::ClosefdArgs) -> Result<(), qapi::QmpError> {
            unreachable!()
        }
        fn add_client(&mut self, _: qapi::AddClientArgs) -> Result<(), qapi::QmpError> {
            unreachable!()
        }
    }
    let ctx = hmp::Context { interactive: true };
    let (reply, pending) =
        Reply::from_outcome(hmp::execute("change vnc password", &mut NoMachine, &ctx));
    assert_eq!(
        reply,
        Reply::ReadPassword {
            prompt: "Password: ".into()
        }
    );
    let pending = pending.expect("pending action");
    let (reply, none) = Reply::from_outcome(hmp::finish_password(
        pending,
        Password::new("pw"),
        &mut NoMachine,
    ));
    assert_eq!(
        reply,
        Reply::Output("Error: Could not set password\n".into())
    );
    assert!(none.is_none());
    let (reply, _) = Reply::from_outcome(hmp::execute("q", &mut NoMachine, &ctx));
    assert_eq!(reply, Reply::Quit(String::new()));
}

#[test]
fn crlf_conversion() {
    assert_eq!(crlf("a\nb\r\nc"), "a\r\nb\r\nc");
    assert_eq!(crlf(""), "");
}
