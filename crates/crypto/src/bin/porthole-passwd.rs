//! `porthole-passwd`: add, replace or delete a user in a Porthole user store
//! (the password file for VeNCrypt Plain; format in `crypto::userstore`).
//!
//! ```text
//! porthole-passwd [--scrypt] FILE USER     add or replace USER
//! porthole-passwd --delete FILE USER       remove USER
//! ```
//!
//! The password is read from the terminal without echo (asked twice), or as the
//! first line of standard input when that is not a terminal. The file is
//! rewritten atomically with mode 0600.

#![forbid(unsafe_code)]

use std::io::{self, BufRead, IsTerminal, Read, Write};
use std::path::PathBuf;
use std::process::ExitCode;

use crypto::userstore::{self, HashParams, MAX_PASSWORD_LEN};
use nix::sys::termios::{LocalFlags, SetArg, Termios, tcgetattr, tcsetattr};
use zeroize::Zeroizing;

const USAGE: &str =
    "usage: porthole-passwd [--scrypt] FILE USER\n       porthole-passwd --delete FILE USER";

struct Args {
    delete: bool,
    scrypt: bool,
    file: PathBuf,
    user: String,
}

fn parse_args() -> Result<Args, String> {
    let mut delete = false;
    let mut scrypt = false;
    let mut positional = Vec::new();
    for arg in std::env::args_os().skip(1) {
        match arg.to_str() {
            Some("--delete" | "-d") => delete = true,
            Some("--scrypt") => scrypt = true,
            Some("--help" | "-h") => return Err(String::new()),
            Some(s) if s.starts_with('-') && s.len() > 1 => {
                return Err(format!("unknown option '{s}'"));
            }
            _ => positional.push(arg),
        }
    }
    if delete && scrypt {
        return Err("--scrypt makes no sense with --delete".into());
    }
    let [file, user] =
        <[_; 2]>::try_from(positional).map_err(|_| "expected FILE and USER".to_owned())?;
    let user = user
        .into_string()
        .map_err(|_| "USER is not valid UTF-8".to_owned())?;
    userstore::validate_username(&user)?;
    Ok(Args {
        delete,
        scrypt,
        file: PathBuf::from(file),
        user,
    })
}

/// Restores the terminal's echo when dropped.
struct EchoOff {
    saved: Termios,
}

impl EchoOff {
    fn new() -> io::Result<Self> {
        let stdin = io::stdin();
        let saved = tcgetattr(&stdin).map_err(io::Error::from)?;
        let mut quiet = saved.clone();
        quiet.local_flags.remove(LocalFlags::ECHO);
        quiet.local_flags.insert(LocalFlags::ECHONL);
        tcsetattr(&stdin, SetArg::TCSAFLUSH, &quiet).map_err(io::Error::from)?;
        Ok(Self { saved })
    }
}

impl Drop for EchoOff {
    fn drop(&mut self) {
        // Best effort: nothing more can be done if the terminal went away.
        let _ = tcsetattr(io::stdin(), SetArg::TCSANOW, &self.saved);
    }
}

/// Reads one line (without its line ending), at most `MAX_PASSWORD_LEN` bytes.
fn read_line() -> Result<Zeroizing<Vec<u8>>, String> {
    let mut line = Zeroizing::new(Vec::new());
    io::stdin()
        .lock()
        .take(u64::try_from(MAX_PASSWORD_LEN).unwrap_or(u64::MAX) + 2)
        .read_until(b'\n', &mut line)
        .map_err(|e| format!("cannot read the password: {e}"))?;
    if line.last() == Some(&b'\n') {
        line.pop();
        if line.last() == Some(&b'\r') {
            line.pop();
        }
    } else if line.len() > MAX_PASSWORD_LEN {
        return Err(format!("password longer than {MAX_PASSWORD_LEN} bytes"));
    }
    if line.len() > MAX_PASSWORD_LEN {
        return Err(format!("password longer than {MAX_PASSWORD_LEN} bytes"));
    }
    Ok(line)
}

fn prompt(text: &str) -> Result<Zeroizing<Vec<u8>>, String> {
    eprint!("{text}");
    let _ = io::stderr().flush();
    let _echo = EchoOff::new().map_err(|e| format!("cannot turn off terminal echo: {e}"))?;
    read_line()
}

fn read_password() -> Result<Zeroizing<Vec<u8>>, String> {
    let pw = if io::stdin().is_terminal() {
        let first = prompt("Password: ")?;
        let second = prompt("Retype password: ")?;
        if !openssl::memcmp::eq(&first, &second) || first.len() != second.len() {
            return Err("the passwords do not match".into());
        }
        first
    } else {
        read_line()?
    };
    if pw.is_empty() {
        return Err("empty password refused".into());
    }
    Ok(pw)
}

fn run(args: &Args) -> Result<String, String> {
    if args.delete {
        userstore::update_file(&args.file, &args.user, None).map_err(|e| e.to_string())?;
        return Ok(format!("deleted {}", args.user));
    }
    let password = read_password()?;
    let params = if args.scrypt {
        HashParams::scrypt_default()
    } else {
        HashParams::default()
    };
    let line = Zeroizing::new(
        userstore::make_entry(&args.user, &password, params).map_err(|e| e.to_string())?,
    );
    let existed =
        userstore::update_file(&args.file, &args.user, Some(&line)).map_err(|e| e.to_string())?;
    Ok(format!(
        "{} {}",
        if existed { "updated" } else { "added" },
        args.user
    ))
}

fn main() -> ExitCode {
    let args = match parse_args() {
        Ok(a) => a,
        Err(e) => {
            if !e.is_empty() {
                eprintln!("porthole-passwd: {e}");
            }
            eprintln!("{USAGE}");
            return ExitCode::from(2);
        }
    };
    match run(&args) {
        Ok(msg) => {
            eprintln!("porthole-passwd: {msg}");
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("porthole-passwd: {e}");
            ExitCode::FAILURE
        }
    }
}
