//! `authz-listfile`: loading, errors, refresh, and the size bound.

use std::fs;
use std::path::{Path, PathBuf};
use std::sync::{Mutex, OnceLock};
use std::time::{Duration, Instant};

use authz::{
    Authorize, Error, ListFile, MAX_LIST_FILE_SIZE, MatchFormat, Policy, RELOAD_CHECK_INTERVAL,
};

const ALLOW_ALICE: &str = r#"{"rules":[{"match":"alice","policy":"allow"}],"policy":"deny"}"#;
const ALLOW_BOB: &str = r#"{"rules":[{"match":"b*","policy":"allow","format":"glob"}]}"#;

/// Collects log records so that warnings can be asserted.
struct Capture(Mutex<Vec<(log::Level, String)>>);

impl log::Log for Capture {
    fn enabled(&self, _: &log::Metadata<'_>) -> bool {
        true
    }
    fn log(&self, record: &log::Record<'_>) {
        self.0
            .lock()
            .unwrap()
            .push((record.level(), record.args().to_string()));
    }
    fn flush(&self) {}
}

fn capture() -> &'static Capture {
    static LOGGER: OnceLock<&'static Capture> = OnceLock::new();
    LOGGER.get_or_init(|| {
        let c: &'static Capture = Box::leak(Box::new(Capture(Mutex::new(Vec::new()))));
        log::set_logger(c).unwrap();
        log::set_max_level(log::LevelFilter::Trace);
        c
    })
}

/// Warnings logged so far that mention `path`.
fn warnings_about(path: &Path) -> usize {
    let needle = path.display().to_string();
    capture()
        .0
        .lock()
        .unwrap()
        .iter()
        .filter(|(l, m)| *l == log::Level::Warn && m.contains(&needle))
        .count()
}

fn chain(e: &dyn std::error::Error) -> String {
    let mut s = e.to_string();
    let mut cur = e.source();
    while let Some(c) = cur {
        s = format!("{s}: {c}");
        cur = c.source();
    }
    s
}

fn write(dir: &tempfile::TempDir, name: &str, text: &str) -> PathBuf {
    let p = dir.path().join(name);
    fs::write(&p, text).unwrap();
    p
}

#[test]
fn loads_qemu_format() {
    let dir = tempfile::tempdir().unwrap();
    let p = write(
        &dir,
        "acl.json",
        r#"{"rules":[{"match":"O=Example,CN=x","policy":"allow","format":"exact"},
                     {"match":"O=Example,*","policy":"deny","format":"glob"}],
            "policy":"allow"}"#,
    );
    let mut f = ListFile::open(&p, false).unwrap();
    assert_eq!(f.filename(), p);
    assert!(!f.refresh());
    assert_eq!(f.spec().rules.len(), 2);
    assert_eq!(f.spec().rules[1].format, MatchFormat::Glob);
    assert_eq!(f.spec().policy, Policy::Allow);
    assert!(f.is_allowed("O=Example,CN=x"));
    assert!(!f.is_allowed("O=Example,CN=y"));
    assert!(f.is_allowed("O=Other,CN=y"));
}

#[test]
fn missing_file_is_a_read_error_naming_it() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("nope.json");
    let e = ListFile::open(&p, false).unwrap_err();
    assert!(
        matches!(&e, Error::Read { source, .. } if source.kind() == std::io::ErrorKind::NotFound)
    );
    assert!(
        e.to_string()
            .starts_with(&format!("Unable to read '{}'", p.display()))
    );
}

#[test]
fn directory_is_a_read_error() {
    let dir = tempfile::tempdir().unwrap();
    let e = ListFile::open(dir.path(), false).unwrap_err();
    assert!(matches!(e, Error::Read { .. }), "{e:?}");
}

#[test]
fn json_errors_name_file_line_and_column() {
    let dir = tempfile::tempdir().unwrap();
    let p = write(
        &dir,
        "bad.json",
        "{\n  \"rules\": [\n    {\"match\": \"x\",, }\n  ]\n}\n",
    );
    let e = ListFile::open(&p, false).unwrap_err();
    let Error::Parse { line, column, .. } = &e else {
        panic!("{e:?}");
    };
    assert_eq!((*line, *column), (3, 19));
    let text = chain(&e);
    assert!(text.contains(&p.display().to_string()), "{text}");
    assert!(text.contains("line 3, column 19"), "{text}");
}

#[test]
fn unknown_member_is_rejected_with_position() {
    let dir = tempfile::tempdir().unwrap();
    let p = write(
        &dir,
        "acl.json",
        r#"{"rules":[{"match":"x","policy":"allow","fromat":"glob"}]}"#,
    );
    let e = ListFile::open(&p, false).unwrap_err();
    let text = chain(&e);
    assert!(matches!(e, Error::Parse { line: 1, .. }), "{text}");
    assert!(text.contains("fromat"), "{text}");
}

#[test]
fn non_object_and_empty_files_are_rejected() {
    let dir = tempfile::tempdir().unwrap();
    for (i, text) in ["", "[]", "null", "\"deny\"", "{} {}"].iter().enumerate() {
        let p = write(&dir, &format!("f{i}.json"), text);
        let e = ListFile::open(&p, false).unwrap_err();
        assert!(matches!(e, Error::Parse { .. }), "{text:?}: {e:?}");
    }
}

#[test]
fn file_size_is_bounded() {
    let dir = tempfile::tempdir().unwrap();
    let limit = usize::try_from(MAX_LIST_FILE_SIZE).unwrap();
    // Exactly at the limit: still loads (whitespace padding is valid JSON).
    let mut text = ALLOW_ALICE.to_string();
    text.push_str(&" ".repeat(limit - text.len()));
    let p = write(&dir, "at.json", &text);
    assert!(ListFile::open(&p, false).is_ok());
    text.push(' ');
    let p = write(&dir, "over.json", &text);
    let e = ListFile::open(&p, false).unwrap_err();
    assert!(matches!(e, Error::TooLarge { .. }), "{e:?}");
    assert!(e.to_string().contains("over.json"));
}

/// A list file in the current directory (the package directory under cargo
/// test), removed on drop.
struct CwdFile(String);

impl CwdFile {
    fn new(tag: &str, text: &str) -> Self {
        let name = format!("authz-test-{tag}-{}.json", std::process::id());
        fs::write(&name, text).unwrap();
        CwdFile(name)
    }
}

impl Drop for CwdFile {
    fn drop(&mut self) {
        let _ = fs::remove_file(&self.0);
    }
}

#[test]
fn refresh_needs_a_directory_part_with_qemu_text() {
    let f = CwdFile::new("rel", ALLOW_ALICE);
    for name in [f.0.clone(), format!("./{}", f.0), format!(".//{}", f.0)] {
        let e = ListFile::open(Path::new(&name), true).unwrap_err();
        assert!(matches!(e, Error::RelativePath { .. }), "{name}: {e:?}");
        assert_eq!(e.to_string(), "Filename must be an absolute path");
        // Without refresh the same name is fine.
        assert!(ListFile::open(Path::new(&name), false).is_ok(), "{name}");
    }
    // QEMU only rejects a "." directory part, so other relative names pass.
    let cwd = std::env::current_dir().unwrap();
    let up = format!("../{}/{}", cwd.file_name().unwrap().to_str().unwrap(), f.0);
    assert!(ListFile::open(Path::new(&up), true).is_ok(), "{up}");
}

#[test]
fn relative_name_is_checked_after_loading_as_in_qemu() {
    let e = ListFile::open(Path::new("no-such-acl.json"), true).unwrap_err();
    assert!(matches!(e, Error::Read { .. }), "{e:?}");
}

#[test]
fn trailing_dot_names_a_directory_and_fails_to_load_first() {
    // The "/." check itself is unit-tested in the crate.
    let dir = tempfile::tempdir().unwrap();
    let e = ListFile::open(&dir.path().join("."), true).unwrap_err();
    assert!(matches!(e, Error::Read { .. }), "{e:?}");
}

#[test]
fn reload_on_change_respects_the_check_interval() {
    let dir = tempfile::tempdir().unwrap();
    let p = write(&dir, "acl.json", ALLOW_ALICE);
    let mut f = ListFile::open(&p, true).unwrap();
    let t0 = Instant::now();
    assert!(f.is_allowed_at("alice", t0));
    assert!(!f.is_allowed_at("bob", t0));
    fs::write(&p, ALLOW_BOB).unwrap();
    // Checked at t0: not again before the interval has passed.
    let half = t0 + RELOAD_CHECK_INTERVAL / 2;
    assert!(f.is_allowed_at("alice", half));
    assert!(!f.is_allowed_at("bob", half));
    let later = t0 + RELOAD_CHECK_INTERVAL;
    assert!(f.is_allowed_at("bob", later));
    assert!(!f.is_allowed_at("alice", later));
    // Unchanged file: nothing to do.
    assert!(f.reload_if_changed().is_none());
}

#[test]
fn reload_if_changed_for_timer_driven_callers() {
    let dir = tempfile::tempdir().unwrap();
    let p = write(&dir, "acl.json", ALLOW_ALICE);
    let mut f = ListFile::open(&p, true).unwrap();
    assert!(f.reload_if_changed().is_none());
    fs::write(&p, ALLOW_BOB).unwrap();
    assert!(matches!(f.reload_if_changed(), Some(Ok(()))));
    assert!(f.reload_if_changed().is_none());
    assert!(f.spec().rules[0].r#match == "b*");
}

#[test]
fn replacement_by_rename_is_noticed() {
    let dir = tempfile::tempdir().unwrap();
    let p = write(&dir, "acl.json", ALLOW_ALICE);
    let mut f = ListFile::open(&p, true).unwrap();
    // Same size, new inode.
    let same_size = ALLOW_ALICE.replace("alice", "carol");
    let tmp = write(&dir, "acl.json.new", &same_size);
    fs::rename(&tmp, &p).unwrap();
    assert!(matches!(f.reload_if_changed(), Some(Ok(()))));
    assert!(f.is_allowed("carol"));
    assert!(!f.is_allowed("alice"));
}

#[test]
fn bad_reload_keeps_old_rules_and_warns_once() {
    let dir = tempfile::tempdir().unwrap();
    let p = write(&dir, "acl.json", ALLOW_ALICE);
    let mut f = ListFile::open(&p, true).unwrap();
    let before = warnings_about(&p);
    fs::write(&p, "{\"rules\": [").unwrap();
    let t0 = Instant::now();
    assert!(f.is_allowed_at("alice", t0), "old rules still apply");
    assert_eq!(warnings_about(&p), before + 1);
    // The same bad version is not parsed or reported again.
    assert!(f.is_allowed_at("alice", t0 + RELOAD_CHECK_INTERVAL));
    assert!(f.reload_if_changed().is_none());
    assert_eq!(warnings_about(&p), before + 1);
    // A different bad version is reported through the return value too.
    fs::write(&p, "{\"rules\": [], \"policy\": \"perhaps\"}").unwrap();
    assert!(matches!(
        f.reload_if_changed(),
        Some(Err(Error::Parse { .. }))
    ));
    assert_eq!(warnings_about(&p), before + 2);
    assert!(f.is_allowed("alice"));
    // A good version takes over.
    fs::write(&p, ALLOW_BOB).unwrap();
    assert!(matches!(f.reload_if_changed(), Some(Ok(()))));
    assert!(!f.is_allowed("alice"));
    assert!(f.is_allowed("bob"));
}

#[test]
fn oversized_reload_keeps_old_rules() {
    let dir = tempfile::tempdir().unwrap();
    let p = write(&dir, "acl.json", ALLOW_ALICE);
    let mut f = ListFile::open(&p, true).unwrap();
    let limit = usize::try_from(MAX_LIST_FILE_SIZE).unwrap();
    let huge = format!("{ALLOW_BOB}{}", " ".repeat(limit));
    fs::write(&p, huge).unwrap();
    assert!(matches!(
        f.reload_if_changed(),
        Some(Err(Error::TooLarge { .. }))
    ));
    assert!(f.is_allowed("alice"));
    assert!(!f.is_allowed("bob"));
}

#[test]
fn deleted_file_keeps_rules_until_it_returns() {
    let dir = tempfile::tempdir().unwrap();
    let p = write(&dir, "acl.json", ALLOW_ALICE);
    let mut f = ListFile::open(&p, true).unwrap();
    fs::remove_file(&p).unwrap();
    assert!(matches!(
        f.reload_if_changed(),
        Some(Err(Error::Read { .. }))
    ));
    assert!(f.reload_if_changed().is_none(), "still gone: reported once");
    assert!(f.is_allowed("alice"));
    fs::write(&p, ALLOW_BOB).unwrap();
    assert!(matches!(f.reload_if_changed(), Some(Ok(()))));
    assert!(f.is_allowed("bob"));
}

#[test]
fn without_refresh_the_file_is_read_once() {
    let dir = tempfile::tempdir().unwrap();
    let p = write(&dir, "acl.json", ALLOW_ALICE);
    let mut f = ListFile::open(&p, false).unwrap();
    fs::write(&p, ALLOW_BOB).unwrap();
    assert!(f.reload_if_changed().is_none());
    let far = Instant::now() + Duration::from_secs(3600);
    assert!(f.is_allowed_at("alice", far));
    assert!(!f.is_allowed_at("bob", far));
}
