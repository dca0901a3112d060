//! The command line: bad options exit 1 with one line naming the option; -version, --help,
//! -guest help; `to=` takes the next free display.

use std::net::{Ipv4Addr, TcpListener};
use std::time::Duration;

use anyhow::{Result, ensure};
use porthole_tests::{Porthole, pick_display, procfs};

const RUN_TIMEOUT: Duration = Duration::from_secs(10);

/// Runs porthole with `args`, expects exit status 1 and exactly one line on stderr that
/// starts with `porthole: ` and contains every string of `names`; returns that line.
fn expect_bad(args: &[&str], names: &[&str]) -> Result<String> {
    let (status, stdout, stderr) = Porthole::run(args, RUN_TIMEOUT)?;
    ensure!(
        status.code() == Some(1),
        "{args:?}: exit status {status}, expected 1\nstdout: {stdout}\nstderr: {stderr}"
    );
    let lines: Vec<&str> = stderr.lines().filter(|l| !l.trim().is_empty()).collect();
    ensure!(
        lines.len() == 1,
        "{args:?}: expected a one-line message, got {stderr:?}"
    );
    let line = lines[0];
    ensure!(
        line.starts_with("porthole: "),
        "{args:?}: message {line:?} does not start with 'porthole: '"
    );
    for name in names {
        ensure!(
            line.contains(name),
            "{args:?}: message {line:?} does not name {name:?}"
        );
    }
    Ok(line.to_owned())
}

#[test]
fn unknown_option_is_named() -> Result<()> {
    let line = expect_bad(&["-bogus"], &["-bogus"])?;
    assert_eq!(line, "porthole: -bogus: invalid option");
    Ok(())
}

#[test]
fn invalid_vnc_parameter_is_named() -> Result<()> {
    let line = expect_bad(&["-vnc", ":1,foo=bar"], &["-vnc", "foo"])?;
    assert_eq!(line, "porthole: -vnc :1,foo=bar: Invalid parameter 'foo'");
    Ok(())
}

#[test]
fn option_missing_its_argument_is_named() -> Result<()> {
    expect_bad(&["-vnc"], &["-vnc"])?;
    expect_bad(&["-monitor"], &["-monitor"])?;
    expect_bad(&["-name"], &["-name"])?;
    expect_bad(&["-object"], &["-object"])?;
    Ok(())
}

#[test]
fn bad_vnc_values_are_named() -> Result<()> {
    expect_bad(&["-vnc", ":1,password=maybe"], &["-vnc", "password"])?;
    expect_bad(&["-vnc", ":1,share=sometimes"], &["-vnc", "share"])?;
    expect_bad(&["-vnc", ":1,password-secret=nope"], &["-vnc", "nope"])?;
    expect_bad(&["-vnc", ":1,ipv4=perhaps"], &["-vnc", "ipv4"])?;
    expect_bad(&["-vnc", ":1,to=lots"], &["-vnc", "to"])?;
    expect_bad(
        &[
            "-object",
            "secret,id=pw0,data=x",
            "-vnc",
            ":1,password=on,password-secret=pw0",
        ],
        &["-vnc", "password"],
    )?;
    Ok(())
}

#[test]
fn bad_monitor_guest_display_are_named() -> Result<()> {
    expect_bad(&["-monitor", "bogus"], &["-monitor", "bogus"])?;
    expect_bad(&["-guest", "nosuch"], &["-guest", "nosuch"])?;
    expect_bad(&["-display", "gtk"], &["-display", "gtk"])?;
    Ok(())
}

#[test]
fn bad_secret_objects_are_named() -> Result<()> {
    expect_bad(&["-object", "secret,data=x"], &["-object", "id"])?;
    expect_bad(
        &["-object", "secret,id=s0,data=x,format=rot13"],
        &["-object", "format"],
    )?;
    expect_bad(
        &["-object", "secret,id=s0,file=/nonexistent/porthole-pw"],
        &["-object", "/nonexistent/porthole-pw"],
    )?;
    expect_bad(&["-object", "secret,id=s0"], &["-object"])?;
    expect_bad(
        &["-object", "secret,id=s0,data=%%%,format=base64"],
        &["-object"],
    )?;
    Ok(())
}

#[test]
fn version_prints_the_version() -> Result<()> {
    let (status, stdout, _) = Porthole::run(&["-version"], RUN_TIMEOUT)?;
    ensure!(status.success(), "-version exited {status}");
    let first = stdout.lines().next().unwrap_or_default();
    ensure!(
        first.starts_with("Porthole") && first.contains(env!("CARGO_PKG_VERSION")),
        "-version printed {stdout:?}"
    );
    Ok(())
}

#[test]
fn help_lists_every_option() -> Result<()> {
    let options = [
        "-vnc",
        "-monitor",
        "-object",
        "-display",
        "-nodefaults",
        "-name",
        "-S",
        "-guest",
        "-version",
        "-h",
    ];
    let suboptions = [
        "unix:",
        "to=",
        "ipv4",
        "ipv6",
        "password=on",
        "password-secret=",
        "share=",
        "allow-exclusive",
        "force-shared",
        "ignore",
        "secret",
        "data=",
        "file=",
        "base64",
        "stdio",
        "server=on",
        "wait=off",
    ];
    for flag in ["-h", "--help", "-help"] {
        let (status, stdout, _) = Porthole::run(&[flag], RUN_TIMEOUT)?;
        ensure!(status.success(), "{flag} exited {status}");
        let tokens: Vec<&str> = stdout.split_whitespace().collect();
        for option in options {
            // The option as a word of its own, possibly followed by its argument syntax.
            let listed = tokens.iter().any(|t| {
                t.strip_prefix(option)
                    .is_some_and(|rest| rest.is_empty() || rest.starts_with([' ', ',', '[', '=']))
            });
            ensure!(listed, "{flag} does not list {option}:\n{stdout}");
        }
        for sub in suboptions {
            ensure!(
                stdout.contains(sub),
                "{flag} does not mention {sub}:\n{stdout}"
            );
        }
    }
    Ok(())
}

#[test]
fn guest_help_lists_the_console_guest() -> Result<()> {
    let (status, stdout, _) = Porthole::run(&["-guest", "help"], RUN_TIMEOUT)?;
    ensure!(status.success(), "-guest help exited {status}");
    ensure!(stdout.contains("console"), "-guest help printed {stdout:?}");
    Ok(())
}

/// QEMU's `to=L`: with display d taken, the server takes the next free one up to L.
#[test]
fn vnc_to_takes_the_next_free_display() -> Result<()> {
    // Hold display d and d+1 ourselves; the server must land on d+2 (or later, up to d+5).
    let display = pick_display();
    let taken: Vec<TcpListener> = (0..2)
        .filter_map(|i| TcpListener::bind((Ipv4Addr::LOCALHOST, 5900 + display + i)).ok())
        .collect();
    ensure!(
        taken.len() == 2,
        "could not hold the two ports for the test"
    );
    let arg = format!("127.0.0.1:{display},to={}", display + 5);
    let mut ph = Porthole::spawn([
        "-vnc",
        arg.as_str(),
        "-display",
        "none",
        "-monitor",
        "none",
        "-nodefaults",
    ])?;
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    let port = loop {
        ph.ensure_running()?;
        if let Some(p) = (2..=5)
            .map(|i| 5900 + display + i)
            .find(|&p| procfs::listens_on(ph.pid(), p).unwrap_or(false))
        {
            break p;
        }
        ensure!(
            std::time::Instant::now() < deadline,
            "no listener in d+2..d+5\n{}",
            ph.describe()
        );
        std::thread::sleep(Duration::from_millis(10));
    };
    for i in 0..2 {
        ensure!(
            !procfs::listens_on(ph.pid(), 5900 + display + i)?,
            "listens on a port we hold"
        );
    }
    // d+2 was free when we started; another test could only have taken it in between.
    ensure!(port >= 5900 + display + 2, "listens on {port}");
    // As QEMU does with `to=`, the chosen address is announced on stderr.
    ph.wait_stderr(
        &format!("VNC server running on 127.0.0.1:{port}"),
        Duration::from_secs(2),
    )?;
    drop(taken);
    Ok(())
}

/// A display that cannot be bound (port taken, no `to=`) is a start-up error, exit 1.
#[test]
fn taken_vnc_port_fails_start() -> Result<()> {
    let display = pick_display();
    let _hold = TcpListener::bind((Ipv4Addr::LOCALHOST, 5900 + display))?;
    let arg = format!("127.0.0.1:{display}");
    let (status, _, stderr) = Porthole::run(
        &[
            "-vnc",
            arg.as_str(),
            "-display",
            "none",
            "-monitor",
            "none",
            "-nodefaults",
        ],
        RUN_TIMEOUT,
    )?;
    ensure!(
        status.code() == Some(1),
        "exit status {status}, stderr {stderr:?}"
    );
    ensure!(stderr.starts_with("porthole: "), "stderr {stderr:?}");
    Ok(())
}
