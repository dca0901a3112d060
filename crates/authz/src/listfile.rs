//! `authz-listfile`: an authorization list read from a JSON file.

use std::fs::{self, File, Metadata};
use std::io::Read;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use crate::{Authorize, Error, List, ListSpec};

/// Largest list file accepted, in bytes; larger files are an error.
pub const MAX_LIST_FILE_SIZE: u64 = 1 << 20;

/// With refresh on, [`ListFile::is_allowed_at`] looks at the file at most this
/// often.
pub const RELOAD_CHECK_INTERVAL: Duration = Duration::from_secs(1);

/// What identifies one version of the file.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Stamp {
    dev: u64,
    ino: u64,
    size: u64,
    mtime: i64,
    mtime_nsec: i64,
}

impl Stamp {
    fn of(m: &Metadata) -> Self {
        Stamp {
            dev: m.dev(),
            ino: m.ino(),
            size: m.size(),
            mtime: m.mtime(),
            mtime_nsec: m.mtime_nsec(),
        }
    }
}

/// `authz-listfile`: a [`List`] loaded from a JSON file.
///
/// The file must load when the object is created. With `refresh` on, changes
/// are picked up by polling, not by inotify: [`is_allowed`](Authorize::is_allowed)
/// compares the file's (device, inode, size, mtime) with the version it last
/// saw, at most once per [`RELOAD_CHECK_INTERVAL`], and reloads it when they
/// differ. A caller with a timer can call
/// [`reload_if_changed`](Self::reload_if_changed) instead, so that no check
/// happens on the authorization path.
///
/// A file that fails to load on refresh (bad JSON, too large, deleted) **keeps
/// the previous rules** and logs one warning per bad version of the file; QEMU
/// denies everyone in that case. A file replaced by rename is noticed through
/// its new inode. With refresh off the file is read only once.
#[derive(Debug)]
pub struct ListFile {
    path: PathBuf,
    refresh: bool,
    list: List,
    /// The version of the file last looked at (loaded or rejected); `None` when
    /// it could not be examined.
    seen: Option<Stamp>,
    last_check: Option<Instant>,
}

impl ListFile {
    /// Loads `filename`.
    ///
    /// # Errors
    /// [`Error::Read`], [`Error::TooLarge`] or [`Error::Parse`] when the file
    /// does not load. With `refresh` on, and after a successful load (QEMU's
    /// order): [`Error::RelativePath`] when the name has no directory part
    /// (`acl.json`, `./acl.json`) and [`Error::NoFileName`] when it ends in `.`.
    pub fn open(filename: &Path, refresh: bool) -> Result<Self, Error> {
        let (spec, stamp) = load(filename)?;
        if refresh {
            check_watchable(filename)?;
        }
        Ok(ListFile {
            path: filename.to_path_buf(),
            refresh,
            list: List { spec },
            seen: Some(stamp),
            last_check: None,
        })
    }

    /// The file name as given.
    #[must_use]
    pub fn filename(&self) -> &Path {
        &self.path
    }

    /// Whether changes to the file are picked up.
    #[must_use]
    pub fn refresh(&self) -> bool {
        self.refresh
    }

    /// The rules in effect.
    #[must_use]
    pub fn spec(&self) -> &ListSpec {
        &self.list.spec
    }

    /// Reloads the file if it changed since it was last looked at.
    ///
    /// Returns `None` when refresh is off or the file is unchanged,
    /// `Some(Ok(()))` after a successful reload, and `Some(Err(_))` when the
    /// changed file did not load: the previous rules stay in effect, a warning
    /// is logged, and that version of the file is not tried again.
    pub fn reload_if_changed(&mut self) -> Option<Result<(), Error>> {
        if !self.refresh {
            return None;
        }
        let current = fs::metadata(&self.path).ok().map(|m| Stamp::of(&m));
        if current.is_some() && current == self.seen {
            return None;
        }
        if current.is_none() && self.seen.is_none() {
            return None;
        }
        match load(&self.path) {
            Ok((spec, stamp)) => {
                log::info!("authz list file '{}' reloaded", self.path.display());
                self.list.spec = spec;
                self.seen = Some(stamp);
                Some(Ok(()))
            }
            Err(e) => {
                log::warn!("{}; keeping the previous authz rules", error_chain(&e));
                self.seen = current;
                Some(Err(e))
            }
        }
    }

    /// [`is_allowed`](Authorize::is_allowed) with an explicit clock: with refresh
    /// on, the file is checked first if the last check is at least
    /// [`RELOAD_CHECK_INTERVAL`] before `now` (or there was none).
    pub fn is_allowed_at(&mut self, identity: &str, now: Instant) -> bool {
        if self.refresh
            && self
                .last_check
                .is_none_or(|t| now.saturating_duration_since(t) >= RELOAD_CHECK_INTERVAL)
        {
            self.last_check = Some(now);
            // A failure was logged; the old rules still apply.
            let _ = self.reload_if_changed();
        }
        self.list.is_allowed(identity)
    }
}

impl Authorize for ListFile {
    fn is_allowed(&mut self, identity: &str) -> bool {
        self.is_allowed_at(identity, Instant::now())
    }
}

/// Reads and parses the file, returning the rules and the version read.
fn load(path: &Path) -> Result<(ListSpec, Stamp), Error> {
    let read_err = |source| Error::Read {
        path: path.to_path_buf(),
        source,
    };
    let file = File::open(path).map_err(read_err)?;
    let meta = file.metadata().map_err(read_err)?;
    if meta.len() > MAX_LIST_FILE_SIZE {
        return Err(Error::TooLarge {
            path: path.to_path_buf(),
        });
    }
    // The file may grow between the stat and the read: read one byte past the
    // limit to notice.
    let mut text = Vec::with_capacity(usize::try_from(meta.len()).unwrap_or(0));
    file.take(MAX_LIST_FILE_SIZE + 1)
        .read_to_end(&mut text)
        .map_err(read_err)?;
    if u64::try_from(text.len()).unwrap_or(u64::MAX) > MAX_LIST_FILE_SIZE {
        return Err(Error::TooLarge {
            path: path.to_path_buf(),
        });
    }
    let spec = serde_json::from_slice(&text).map_err(|source| Error::Parse {
        path: path.to_path_buf(),
        line: source.line(),
        column: source.column(),
        source,
    })?;
    Ok((spec, Stamp::of(&meta)))
}

/// QEMU's checks on a watched file name, with GLib's `g_path_get_dirname` and
/// `g_path_get_basename` semantics.
fn check_watchable(path: &Path) -> Result<(), Error> {
    let bytes = path.as_os_str().as_encoded_bytes();
    if dirname_is_dot(bytes) {
        return Err(Error::RelativePath {
            path: path.to_path_buf(),
        });
    }
    if basename_is_dot(bytes) {
        return Err(Error::NoFileName {
            path: path.to_path_buf(),
        });
    }
    Ok(())
}

/// Whether GLib's dirname of `p` is `"."`: there is no slash, or everything
/// before the last one (less trailing slashes) is exactly `.`.
fn dirname_is_dot(p: &[u8]) -> bool {
    match p.iter().rposition(|&b| b == b'/') {
        None => true,
        Some(i) => {
            let dir = &p[..i];
            let end = dir.iter().rposition(|&b| b != b'/').map_or(0, |j| j + 1);
            &dir[..end] == b"."
        }
    }
}

/// Whether GLib's basename of `p` is `"."`: `p` is empty, or its last component
/// (trailing slashes ignored) is `.`.
fn basename_is_dot(p: &[u8]) -> bool {
    if p.is_empty() {
        return true;
    }
    let end = p.iter().rposition(|&b| b != b'/').map_or(0, |j| j + 1);
    let trimmed = &p[..end];
    let start = trimmed
        .iter()
        .rposition(|&b| b == b'/')
        .map_or(0, |j| j + 1);
    &trimmed[start..] == b"."
}

/// An error and its causes, joined with `": "`.
fn error_chain(e: &dyn std::error::Error) -> String {
    let mut s = e.to_string();
    let mut cur = e.source();
    while let Some(c) = cur {
        s.push_str(": ");
        s.push_str(&c.to_string());
        cur = c.source();
    }
    s
}

#[cfg(test)]
mod tests {
    use super::{basename_is_dot, dirname_is_dot};

    #[test]
    fn glib_dirname_rule() {
        for p in ["acl.json", "./acl.json", ".//acl.json", ""] {
            assert!(dirname_is_dot(p.as_bytes()), "{p}");
        }
        for p in ["/etc/acl.json", "sub/acl.json", "/acl.json", "././acl.json"] {
            assert!(!dirname_is_dot(p.as_bytes()), "{p}");
        }
    }

    #[test]
    fn glib_basename_rule() {
        for p in ["", ".", "/tmp/.", "/tmp/./"] {
            assert!(basename_is_dot(p.as_bytes()), "{p}");
        }
        for p in ["/", "/tmp/acl", "/tmp/..", "/tmp/acl/"] {
            assert!(!basename_is_dot(p.as_bytes()), "{p}");
        }
    }
}
