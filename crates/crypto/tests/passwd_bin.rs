//! The `porthole-passwd` binary, driven with the password on standard input.

use std::fs;
use std::io::Write;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::{Command, Output, Stdio};

use crypto::userstore::UserStore;

/// Runs `porthole-passwd OPTIONS... FILE USERS...` with `stdin`.
fn passwd(options: &[&str], file: &Path, users: &[&str], stdin: &[u8]) -> Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_porthole-passwd"))
        .args(options)
        .arg(file)
        .args(users)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // The child may exit (bad arguments) before reading: a broken pipe is fine.
    let _ = child.stdin.take().unwrap().write_all(stdin);
    child.wait_with_output().unwrap()
}

#[test]
fn adds_replaces_and_deletes_a_user_from_stdin() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("users");

    let out = passwd(&[], &file, &["alice"], b"first pass phrase\n");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stderr).contains("added alice"));
    assert_eq!(
        fs::metadata(&file).unwrap().permissions().mode() & 0o777,
        0o600
    );
    let (store, warnings) = UserStore::load(&file).unwrap();
    assert!(warnings.is_empty());
    assert!(store.verify("alice", b"first pass phrase"));

    let out = passwd(&["--scrypt"], &file, &["alice"], b"second\r\n");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stderr).contains("updated alice"));
    let text = fs::read_to_string(&file).unwrap();
    assert!(text.starts_with("alice:scrypt:"), "{text}");
    let (store, _) = UserStore::load(&file).unwrap();
    assert!(store.verify("alice", b"second"));
    assert!(!store.verify("alice", b"first pass phrase"));

    let out = passwd(&["--delete"], &file, &["alice"], b"");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let (store, _) = UserStore::load(&file).unwrap();
    assert!(store.is_empty());
}

#[test]
fn refuses_empty_passwords_and_bad_arguments() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("users");
    let out = passwd(&[], &file, &["alice"], b"\n");
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("empty password refused"));
    assert!(!file.exists());

    let out = passwd(&[], &file, &[], b"pw\n");
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("expected FILE and USER"));
    let out = passwd(&["--frobnicate"], &file, &["alice"], b"pw\n");
    assert_eq!(out.status.code(), Some(2));
    let out = passwd(&[], &file, &["a:b"], b"pw\n");
    assert_eq!(out.status.code(), Some(2));
    let out = passwd(&["--delete"], &file, &["alice"], b"");
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("user 'alice' is not in"));
}
