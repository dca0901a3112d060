//! A password file for VeNCrypt Plain (username + password inside TLS), with
//! passwords of any length stored as salted, slow hashes.
//!
//! # File format
//!
//! UTF-8 text, one user per line; blank lines and lines starting with `#` are
//! ignored:
//!
//! ```text
//! # user:scheme:params:salt:hash
//! alice:pbkdf2-sha256:i=600000:q1Xn0Q2mJb3q4ePz0nB7Kw==:9xk...=
//! bob:scrypt:N=32768,r=8,p=1:Jv2n...==:Wm4...=
//! ```
//!
//! - `user`: 1 to [`MAX_USERNAME_LEN`] bytes, no `:`, no control characters, not
//!   starting with `#`; each user at most once.
//! - `scheme` and `params`:
//!   - `pbkdf2-sha256` with `i=ITERATIONS`
//!     ([`MIN_PBKDF2_ITERATIONS`]..=[`MAX_PBKDF2_ITERATIONS`]; new entries use
//!     [`DEFAULT_PBKDF2_ITERATIONS`]);
//!   - `scrypt` with `N=COST,r=BLOCKSIZE,p=PARALLELISM` (`N` a power of two in
//!     [`MIN_SCRYPT_N`]..=[`MAX_SCRYPT_N`], `r` 1..=[`MAX_SCRYPT_R`], `p`
//!     1..=[`MAX_SCRYPT_P`], at most [`MAX_SCRYPT_MEMORY`] bytes of memory).
//! - `salt` and `hash`: standard base64 with padding; the salt is 8 to 64 bytes
//!   ([`SALT_LEN`] for new entries), the hash exactly [`HASH_LEN`] bytes.
//!
//! The file is at most [`MAX_USERSTORE_SIZE`] bytes and [`MAX_USERSTORE_LINES`]
//! lines. Load errors name the file and line. A file readable by group or others
//! loads with a warning.
//!
//! [`UserStore::verify`] takes the same time whether or not the user exists (an
//! unknown user is hashed against a dummy entry with the parameters of the first
//! entry) and compares in constant time. Note that one check costs what its
//! parameters say (≈ 0.1–0.5 s for the default): run it off the event loop.
//!
//! [`update_file`] adds, replaces or deletes one user atomically (temporary file
//! in the same directory, mode 0600, then rename), keeping other lines as they were.

use std::collections::HashMap;
use std::fs;
use std::io::{Read, Write};
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

use openssl::hash::MessageDigest;
use zeroize::Zeroizing;

use crate::Error;

/// Largest user store file.
pub const MAX_USERSTORE_SIZE: u64 = 1024 * 1024;
/// Most lines in a user store file.
pub const MAX_USERSTORE_LINES: usize = 10_000;
/// Longest user name in bytes (VeNCrypt clients send at most 255).
pub const MAX_USERNAME_LEN: usize = 255;
/// Longest password [`UserStore::verify`] accepts; longer ones never match.
pub const MAX_PASSWORD_LEN: usize = 4096;
/// Salt length of new entries.
pub const SALT_LEN: usize = 16;
/// Shortest and longest salt accepted from a file.
pub const MIN_SALT_LEN: usize = 8;
/// See [`MIN_SALT_LEN`].
pub const MAX_SALT_LEN: usize = 64;
/// Length of the stored hash.
pub const HASH_LEN: usize = 32;
/// PBKDF2 iterations of new entries.
pub const DEFAULT_PBKDF2_ITERATIONS: u32 = 600_000;
/// Fewest PBKDF2 iterations accepted.
pub const MIN_PBKDF2_ITERATIONS: u32 = 100_000;
/// Most PBKDF2 iterations accepted (bounds the cost of one login attempt).
pub const MAX_PBKDF2_ITERATIONS: u32 = 10_000_000;
/// Smallest scrypt `N`.
pub const MIN_SCRYPT_N: u64 = 1 << 14;
/// Largest scrypt `N`.
pub const MAX_SCRYPT_N: u64 = 1 << 20;
/// Largest scrypt `r`.
pub const MAX_SCRYPT_R: u64 = 32;
/// Largest scrypt `p`.
pub const MAX_SCRYPT_P: u64 = 16;
/// Most memory one scrypt evaluation may use (128·N·r bytes).
pub const MAX_SCRYPT_MEMORY: u64 = 256 * 1024 * 1024;
/// scrypt parameters of new entries made with [`HashParams::scrypt_default`].
pub const DEFAULT_SCRYPT: (u64, u64, u64) = (1 << 15, 8, 1);

/// Key-derivation parameters of one entry.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum HashParams {
    /// PBKDF2-HMAC-SHA256.
    Pbkdf2Sha256 {
        /// Iteration count.
        iterations: u32,
    },
    /// scrypt.
    Scrypt {
        /// CPU/memory cost (a power of two).
        n: u64,
        /// Block size.
        r: u64,
        /// Parallelism.
        p: u64,
    },
}

impl Default for HashParams {
    fn default() -> Self {
        Self::Pbkdf2Sha256 {
            iterations: DEFAULT_PBKDF2_ITERATIONS,
        }
    }
}

impl HashParams {
    /// scrypt with [`DEFAULT_SCRYPT`].
    #[must_use]
    pub fn scrypt_default() -> Self {
        let (n, r, p) = DEFAULT_SCRYPT;
        Self::Scrypt { n, r, p }
    }

    fn scheme(self) -> &'static str {
        match self {
            Self::Pbkdf2Sha256 { .. } => "pbkdf2-sha256",
            Self::Scrypt { .. } => "scrypt",
        }
    }

    fn params_field(self) -> String {
        match self {
            Self::Pbkdf2Sha256 { iterations } => format!("i={iterations}"),
            Self::Scrypt { n, r, p } => format!("N={n},r={r},p={p}"),
        }
    }

    /// Checks the bounds documented in the module docs.
    fn validate(self) -> Result<(), String> {
        match self {
            Self::Pbkdf2Sha256 { iterations } => {
                if !(MIN_PBKDF2_ITERATIONS..=MAX_PBKDF2_ITERATIONS).contains(&iterations) {
                    return Err(format!(
                        "iterations must be {MIN_PBKDF2_ITERATIONS} to {MAX_PBKDF2_ITERATIONS}"
                    ));
                }
            }
            Self::Scrypt { n, r, p } => {
                if !n.is_power_of_two() || !(MIN_SCRYPT_N..=MAX_SCRYPT_N).contains(&n) {
                    return Err(format!(
                        "N must be a power of two from {MIN_SCRYPT_N} to {MAX_SCRYPT_N}"
                    ));
                }
                if !(1..=MAX_SCRYPT_R).contains(&r) || !(1..=MAX_SCRYPT_P).contains(&p) {
                    return Err(format!(
                        "r must be 1 to {MAX_SCRYPT_R} and p 1 to {MAX_SCRYPT_P}"
                    ));
                }
                if scrypt_memory(n, r) > MAX_SCRYPT_MEMORY {
                    return Err(format!(
                        "N and r need more than {MAX_SCRYPT_MEMORY} bytes of memory"
                    ));
                }
            }
        }
        Ok(())
    }

    fn parse(scheme: &str, params: &str) -> Result<Self, String> {
        let mut fields: HashMap<&str, u64> = HashMap::new();
        for kv in params.split(',') {
            let (k, v) = kv
                .split_once('=')
                .ok_or_else(|| format!("parameter '{kv}' is not NAME=VALUE"))?;
            let v: u64 = v
                .parse()
                .map_err(|_| format!("parameter '{k}' is not a number"))?;
            if fields.insert(k, v).is_some() {
                return Err(format!("parameter '{k}' given twice"));
            }
        }
        let mut take = |k: &str| {
            fields
                .remove(k)
                .ok_or_else(|| format!("{scheme} needs parameter '{k}'"))
        };
        let out = match scheme {
            "pbkdf2-sha256" => {
                let i = take("i")?;
                let iterations =
                    u32::try_from(i).map_err(|_| "iterations out of range".to_owned())?;
                Self::Pbkdf2Sha256 { iterations }
            }
            "scrypt" => Self::Scrypt {
                n: take("N")?,
                r: take("r")?,
                p: take("p")?,
            },
            other => return Err(format!("unknown scheme '{other}'")),
        };
        if let Some(k) = fields.keys().next() {
            return Err(format!("unknown parameter '{k}' for {scheme}"));
        }
        out.validate()?;
        Ok(out)
    }
}

fn scrypt_memory(n: u64, r: u64) -> u64 {
    n.saturating_mul(r).saturating_mul(128)
}

fn derive(params: HashParams, password: &[u8], salt: &[u8]) -> Result<[u8; HASH_LEN], Error> {
    let mut out = [0u8; HASH_LEN];
    match params {
        HashParams::Pbkdf2Sha256 { iterations } => {
            let iter = usize::try_from(iterations).map_err(|_| Error::PasswordHashParams)?;
            openssl::pkcs5::pbkdf2_hmac(password, salt, iter, MessageDigest::sha256(), &mut out)
                .map_err(Error::PasswordHash)?;
        }
        HashParams::Scrypt { n, r, p } => {
            // OpenSSL needs some headroom beyond 128·N·r.
            let maxmem = scrypt_memory(n, r).saturating_add(scrypt_memory(1, r).saturating_mul(p))
                + (1 << 20);
            openssl::pkcs5::scrypt(password, salt, n, r, p, maxmem, &mut out)
                .map_err(Error::PasswordHash)?;
        }
    }
    Ok(out)
}

/// One user's stored hash.
#[derive(Clone)]
struct Entry {
    params: HashParams,
    salt: Vec<u8>,
    hash: [u8; HASH_LEN],
}

/// Checks that `user` can be stored: see the module docs.
///
/// # Errors
/// A description of the problem.
pub fn validate_username(user: &str) -> Result<(), String> {
    if user.is_empty() {
        return Err("empty user name".into());
    }
    if user.len() > MAX_USERNAME_LEN {
        return Err(format!("user name longer than {MAX_USERNAME_LEN} bytes"));
    }
    if user.starts_with('#') {
        return Err("user name starts with '#'".into());
    }
    if user.chars().any(|c| c == ':' || c.is_control()) {
        return Err("user name contains ':' or a control character".into());
    }
    Ok(())
}

/// Builds a store line for `user` with a fresh random salt.
///
/// # Errors
/// [`Error::UserStore`] for an invalid user name or parameters, hashing errors.
pub fn make_entry(user: &str, password: &[u8], params: HashParams) -> Result<String, Error> {
    validate_username(user).map_err(Error::UserStore)?;
    params.validate().map_err(Error::UserStore)?;
    let mut salt = [0u8; SALT_LEN];
    crate::random_bytes(&mut salt)?;
    let hash = derive(params, password, &salt)?;
    Ok(format!(
        "{user}:{}:{}:{}:{}",
        params.scheme(),
        params.params_field(),
        openssl::base64::encode_block(&salt),
        openssl::base64::encode_block(&hash)
    ))
}

/// Strict standard base64 (with padding).
fn b64_decode(s: &str) -> Option<Vec<u8>> {
    if s.is_empty() || !s.len().is_multiple_of(4) {
        return None;
    }
    let ok = s
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || b == b'+' || b == b'/' || b == b'=');
    if !ok {
        return None;
    }
    let pad = s.bytes().rev().take_while(|&b| b == b'=').count();
    if pad > 2 || s[..s.len() - pad].contains('=') {
        return None;
    }
    let out = openssl::base64::decode_block(s).ok()?;
    // Reject non-canonical encodings by re-encoding.
    (openssl::base64::encode_block(&out) == s).then_some(out)
}

/// Parses one non-comment line into (user, entry).
fn parse_line(line: &str) -> Result<(&str, Entry), String> {
    let fields: Vec<&str> = line.split(':').collect();
    let [user, scheme, params, salt, hash] = fields[..] else {
        return Err(format!(
            "expected 5 fields user:scheme:params:salt:hash, found {}",
            fields.len()
        ));
    };
    validate_username(user)?;
    let params = HashParams::parse(scheme, params)?;
    let salt = b64_decode(salt).ok_or("salt is not valid base64")?;
    if !(MIN_SALT_LEN..=MAX_SALT_LEN).contains(&salt.len()) {
        return Err(format!(
            "salt must be {MIN_SALT_LEN} to {MAX_SALT_LEN} bytes"
        ));
    }
    let hash = b64_decode(hash).ok_or("hash is not valid base64")?;
    let hash: [u8; HASH_LEN] = hash
        .try_into()
        .map_err(|_| format!("hash must be {HASH_LEN} bytes"))?;
    Ok((user, Entry { params, salt, hash }))
}

fn is_blank_or_comment(line: &str) -> bool {
    let t = line.trim();
    t.is_empty() || t.starts_with('#')
}

/// Users and their password hashes, loaded from a file.
pub struct UserStore {
    users: HashMap<String, Entry>,
    dummy: Entry,
}

impl std::fmt::Debug for UserStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("UserStore")
            .field("users", &self.users.len())
            .finish_non_exhaustive()
    }
}

fn read_store_file(path: &Path) -> Result<Zeroizing<Vec<u8>>, Error> {
    let io = |source| Error::UserStoreIo {
        path: path.to_owned(),
        source,
    };
    let file = fs::File::open(path).map_err(io)?;
    let mut buf = Zeroizing::new(Vec::new());
    file.take(MAX_USERSTORE_SIZE + 1)
        .read_to_end(&mut buf)
        .map_err(io)?;
    if u64::try_from(buf.len()).unwrap_or(u64::MAX) > MAX_USERSTORE_SIZE {
        return Err(Error::UserStoreFile {
            path: path.to_owned(),
            problem: format!("larger than {MAX_USERSTORE_SIZE} bytes"),
        });
    }
    Ok(buf)
}

/// Splits file content into lines, checking the line bound and UTF-8.
fn store_lines<'a>(path: &Path, bytes: &'a [u8]) -> Result<Vec<&'a str>, Error> {
    let mut lines = Vec::new();
    for (i, raw) in bytes.split(|&b| b == b'\n').enumerate() {
        if i >= MAX_USERSTORE_LINES {
            if raw.is_empty() && i == MAX_USERSTORE_LINES {
                break;
            }
            return Err(Error::UserStoreFile {
                path: path.to_owned(),
                problem: format!("more than {MAX_USERSTORE_LINES} lines"),
            });
        }
        let line = std::str::from_utf8(raw).map_err(|_| Error::UserStoreLine {
            path: path.to_owned(),
            line: i + 1,
            problem: "not valid UTF-8".into(),
        })?;
        lines.push(line.strip_suffix('\r').unwrap_or(line));
    }
    if lines.last() == Some(&"") {
        lines.pop();
    }
    Ok(lines)
}

impl UserStore {
    /// Loads `path`. Returns the store and warnings (a file readable by others).
    ///
    /// # Errors
    /// [`Error::UserStoreIo`] when the file cannot be read,
    /// [`Error::UserStoreFile`] when it is too large or long,
    /// [`Error::UserStoreLine`] naming the first bad line.
    pub fn load(path: &Path) -> Result<(UserStore, Vec<String>), Error> {
        let bytes = read_store_file(path)?;
        let store = Self::parse(path, &bytes)?;
        let mut warnings = Vec::new();
        if let Ok(meta) = fs::metadata(path) {
            let mode = meta.permissions().mode() & 0o777;
            if mode & 0o077 != 0 {
                warnings.push(format!(
                    "{} has mode {mode:04o}; it should be 0600",
                    path.display()
                ));
            }
        }
        Ok((store, warnings))
    }

    /// Parses file content; `path` only names the origin in errors.
    ///
    /// # Errors
    /// As [`UserStore::load`], minus I/O.
    pub fn parse(path: &Path, bytes: &[u8]) -> Result<UserStore, Error> {
        let mut users: HashMap<String, Entry> = HashMap::new();
        let mut first_line: HashMap<String, usize> = HashMap::new();
        let mut first_params = None;
        for (i, line) in store_lines(path, bytes)?.into_iter().enumerate() {
            if is_blank_or_comment(line) {
                continue;
            }
            let bad = |problem: String| Error::UserStoreLine {
                path: path.to_owned(),
                line: i + 1,
                problem,
            };
            let (user, entry) = parse_line(line).map_err(bad)?;
            if let Some(first) = first_line.get(user) {
                return Err(bad(format!(
                    "user '{user}' already defined on line {first}"
                )));
            }
            first_params.get_or_insert(entry.params);
            first_line.insert(user.to_owned(), i + 1);
            users.insert(user.to_owned(), entry);
        }
        let mut salt = vec![0u8; SALT_LEN];
        let mut hash = [0u8; HASH_LEN];
        crate::random_bytes(&mut salt)?;
        crate::random_bytes(&mut hash)?;
        let dummy = Entry {
            params: first_params.unwrap_or_default(),
            salt,
            hash,
        };
        Ok(UserStore { users, dummy })
    }

    /// Number of users.
    #[must_use]
    pub fn len(&self) -> usize {
        self.users.len()
    }

    /// Whether the store has no users.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.users.is_empty()
    }

    /// Whether `user` has an entry.
    #[must_use]
    pub fn contains(&self, user: &str) -> bool {
        self.users.contains_key(user)
    }

    /// Whether `password` is `user`'s password. Unknown users cost the same time
    /// (hashed against a dummy entry); passwords longer than [`MAX_PASSWORD_LEN`]
    /// never match.
    #[must_use]
    pub fn verify(&self, user: &str, password: &[u8]) -> bool {
        let (entry, mut ok) = match self.users.get(user) {
            Some(e) => (e, true),
            None => (&self.dummy, false),
        };
        let pw = match password.get(..MAX_PASSWORD_LEN) {
            Some(p) if password.len() > MAX_PASSWORD_LEN => {
                ok = false;
                p
            }
            _ => password,
        };
        let Ok(mut hash) = derive(entry.params, pw, &entry.salt) else {
            return false;
        };
        let same = openssl::memcmp::eq(&hash, &entry.hash);
        zeroize::Zeroize::zeroize(&mut hash);
        same && ok
    }
}

/// What identifies one version of a file: device, inode, size and modification time.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct FileStamp {
    dev: u64,
    ino: u64,
    size: u64,
    mtime: i64,
    mtime_nsec: i64,
}

impl FileStamp {
    fn of(path: &Path) -> Option<Self> {
        use std::os::unix::fs::MetadataExt;
        let m = fs::metadata(path).ok()?;
        Some(Self {
            dev: m.dev(),
            ino: m.ino(),
            size: m.size(),
            mtime: m.mtime(),
            mtime_nsec: m.mtime_nsec(),
        })
    }
}

struct Loaded {
    store: std::sync::Arc<UserStore>,
    /// The version of the file last looked at (loaded or found bad).
    stamp: Option<FileStamp>,
}

/// A user store file shared between the event loop (which only reads its
/// settings) and the thread that checks passwords.
///
/// The file must load when this is opened. With `refresh` on,
/// [`UserStoreFile::refresh_if_changed`] re-reads it when its (device, inode,
/// size, mtime) changed; a version that does not load keeps the previous users
/// (and is reported once). With `refresh` off the file is read only once.
pub struct UserStoreFile {
    path: PathBuf,
    refresh: bool,
    loaded: std::sync::Mutex<Loaded>,
}

impl std::fmt::Debug for UserStoreFile {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("UserStoreFile")
            .field("path", &self.path)
            .field("refresh", &self.refresh)
            .finish_non_exhaustive()
    }
}

impl UserStoreFile {
    /// Loads `path`. Returns the store and warnings, as [`UserStore::load`].
    ///
    /// # Errors
    /// As [`UserStore::load`].
    pub fn open(path: &Path, refresh: bool) -> Result<(Self, Vec<String>), Error> {
        let stamp = FileStamp::of(path);
        let (store, warnings) = UserStore::load(path)?;
        let loaded = Loaded {
            store: std::sync::Arc::new(store),
            stamp,
        };
        Ok((
            Self {
                path: path.to_owned(),
                refresh,
                loaded: std::sync::Mutex::new(loaded),
            },
            warnings,
        ))
    }

    /// The file name.
    #[must_use]
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Whether changes to the file are picked up.
    #[must_use]
    pub fn refresh(&self) -> bool {
        self.refresh
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Loaded> {
        // A panic while holding the lock leaves consistent data (one assignment).
        self.loaded
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// With refresh on, re-reads the file if it changed since it was last looked
    /// at. Returns the warnings of a successful reload (empty when nothing changed).
    ///
    /// # Errors
    /// The new version's load error; the previous users stay, and the same
    /// version is not reported again.
    pub fn refresh_if_changed(&self) -> Result<Vec<String>, Error> {
        if !self.refresh {
            return Ok(Vec::new());
        }
        let stamp = FileStamp::of(&self.path);
        if stamp == self.lock().stamp {
            return Ok(Vec::new());
        }
        let result = UserStore::load(&self.path);
        let mut loaded = self.lock();
        loaded.stamp = stamp;
        let (store, warnings) = result?;
        loaded.store = std::sync::Arc::new(store);
        Ok(warnings)
    }

    /// Number of users in the version in use.
    #[must_use]
    pub fn len(&self) -> usize {
        self.lock().store.len()
    }

    /// Whether the version in use has no users.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// [`UserStore::verify`] against the version in use (without holding the
    /// lock while hashing).
    #[must_use]
    pub fn verify(&self, user: &str, password: &[u8]) -> bool {
        let store = std::sync::Arc::clone(&self.lock().store);
        store.verify(user, password)
    }
}

/// Adds or replaces (`Some(line)` from [`make_entry`]) or deletes (`None`) `user`
/// in the file at `path`, atomically. Other lines are kept as they were; the new
/// file has mode 0600. A missing file counts as empty. Returns whether the user
/// was present before.
///
/// # Errors
/// The existing file's load errors (a malformed file is not rewritten),
/// [`Error::UserStore`] when deleting an absent user or when the result would
/// exceed the bounds, [`Error::UserStoreIo`] for write errors.
pub fn update_file(path: &Path, user: &str, new_line: Option<&str>) -> Result<bool, Error> {
    let existing = match read_store_file(path) {
        Ok(b) => b,
        Err(Error::UserStoreIo { source, .. }) if source.kind() == std::io::ErrorKind::NotFound => {
            Zeroizing::new(Vec::new())
        }
        Err(e) => return Err(e),
    };
    // Refuse to rewrite a file we could not load.
    UserStore::parse(path, &existing)?;
    let mut out = Zeroizing::new(String::new());
    let mut found = false;
    for line in store_lines(path, &existing)? {
        let is_user = !is_blank_or_comment(line) && line.split(':').next() == Some(user);
        if is_user {
            if !found && let Some(new) = new_line {
                out.push_str(new);
                out.push('\n');
            }
            found = true;
            continue;
        }
        out.push_str(line);
        out.push('\n');
    }
    match (found, new_line) {
        (false, Some(new)) => {
            out.push_str(new);
            out.push('\n');
        }
        (false, None) => {
            return Err(Error::UserStore(format!(
                "user '{user}' is not in {}",
                path.display()
            )));
        }
        _ => {}
    }
    // The result must load.
    UserStore::parse(path, out.as_bytes())?;
    write_atomically(path, out.as_bytes())?;
    Ok(found)
}

fn write_atomically(path: &Path, data: &[u8]) -> Result<(), Error> {
    let io = |p: &Path| {
        let p = p.to_owned();
        move |source| Error::UserStoreIo { path: p, source }
    };
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d.to_owned(),
        _ => PathBuf::from("."),
    };
    let name = path
        .file_name()
        .ok_or_else(|| Error::UserStore(format!("{} is not a file name", path.display())))?;
    let mut tmp_name = std::ffi::OsString::from(".");
    tmp_name.push(name);
    tmp_name.push(format!(".tmp{}", std::process::id()));
    let tmp = dir.join(tmp_name);
    let result = (|| {
        let mut f = fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(&tmp)
            .map_err(io(&tmp))?;
        f.write_all(data).map_err(io(&tmp))?;
        f.sync_all().map_err(io(&tmp))?;
        fs::rename(&tmp, path).map_err(io(path))?;
        if let Ok(d) = fs::File::open(&dir) {
            // Make the rename durable; failure here does not undo it.
            let _ = d.sync_all();
        }
        Ok(())
    })();
    if result.is_err() {
        let _ = fs::remove_file(&tmp);
    }
    result
}

#[cfg(test)]
mod tests {
    use super::*;

    const FAST: HashParams = HashParams::Pbkdf2Sha256 {
        iterations: MIN_PBKDF2_ITERATIONS,
    };

    fn store(text: &str) -> Result<UserStore, Error> {
        UserStore::parse(Path::new("/etc/users"), text.as_bytes())
    }

    #[test]
    fn added_user_verifies_wrong_and_unknown_do_not() {
        let line = make_entry("alice", b"a long passphrase, longer than eight", FAST).unwrap();
        let s = store(&format!("# users\n\n{line}\n")).unwrap();
        assert_eq!(s.len(), 1);
        assert!(s.verify("alice", b"a long passphrase, longer than eight"));
        assert!(!s.verify("alice", b"a long passphrase, longer than eigh"));
        assert!(!s.verify("alice", b""));
        assert!(!s.verify("bob", b"a long passphrase, longer than eight"));
        assert!(!s.verify("Alice", b"a long passphrase, longer than eight"));
    }

    #[test]
    fn scrypt_entries_verify() {
        let p = HashParams::Scrypt {
            n: MIN_SCRYPT_N,
            r: 8,
            p: 1,
        };
        let line = make_entry("bob", b"pw", p).unwrap();
        assert!(line.starts_with("bob:scrypt:N=16384,r=8,p=1:"), "{line}");
        let s = store(&line).unwrap();
        assert!(s.verify("bob", b"pw"));
        assert!(!s.verify("bob", b"pW"));
    }

    #[test]
    fn overlong_password_never_matches() {
        let long = vec![b'x'; MAX_PASSWORD_LEN + 1];
        let line = make_entry("u", &long[..MAX_PASSWORD_LEN], FAST).unwrap();
        let s = store(&line).unwrap();
        assert!(s.verify("u", &long[..MAX_PASSWORD_LEN]));
        assert!(!s.verify("u", &long));
    }

    #[test]
    fn malformed_lines_name_file_and_line() {
        let good = make_entry("alice", b"pw", FAST).unwrap();
        let cases = [
            ("alice:pbkdf2-sha256:i=100000:AAAA", "expected 5 fields"),
            ("alice:md5:i=1:AAAAAAAAAAA=:AAAA", "unknown scheme 'md5'"),
            (
                "alice:pbkdf2-sha256:i=10:AAAAAAAAAAA=:AAAA",
                "iterations must be",
            ),
            (
                "alice:pbkdf2-sha256:j=100000:AAAAAAAAAAA=:AAAA",
                "needs parameter 'i'",
            ),
            (
                "alice:pbkdf2-sha256:i=100000:!!!!:AAAA",
                "salt is not valid base64",
            ),
            (
                "alice:pbkdf2-sha256:i=100000:AAAAAAAAAAA=:AAAA",
                "hash must be 32 bytes",
            ),
            (
                "alice:scrypt:N=1000,r=8,p=1:AAAAAAAAAAA=:AAAA",
                "power of two",
            ),
            (
                ":pbkdf2-sha256:i=100000:AAAAAAAAAAA=:AAAA",
                "empty user name",
            ),
        ];
        for (line, want) in cases {
            let e = store(&format!("# c\n{good}\n{line}\n")).unwrap_err();
            let msg = e.to_string();
            assert!(msg.starts_with("/etc/users:3: "), "{msg}");
            assert!(msg.contains(want), "{line}: {msg}");
        }
        let e = store(&format!("{good}\n{good}\n")).unwrap_err();
        assert_eq!(
            e.to_string(),
            "/etc/users:2: user 'alice' already defined on line 1"
        );
    }

    #[test]
    fn bounds_on_lines_and_size() {
        let many = "#\n".repeat(MAX_USERSTORE_LINES + 1);
        let e = store(&many).unwrap_err();
        assert!(e.to_string().contains("more than 10000 lines"), "{e}");
        assert!(store(&"#\n".repeat(MAX_USERSTORE_LINES)).is_ok());

        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("big");
        fs::File::create(&p)
            .unwrap()
            .set_len(MAX_USERSTORE_SIZE + 1)
            .unwrap();
        let e = UserStore::load(&p).unwrap_err();
        assert!(e.to_string().contains("larger than"), "{e}");
    }

    #[test]
    fn usernames_are_validated() {
        assert!(validate_username("alice").is_ok());
        assert!(validate_username("Zoë").is_ok());
        assert!(validate_username("a:b").is_err());
        assert!(validate_username("a\nb").is_err());
        assert!(validate_username("#x").is_err());
        assert!(validate_username(&"x".repeat(256)).is_err());
        assert!(validate_username(&"x".repeat(255)).is_ok());
    }

    #[test]
    fn update_file_adds_replaces_deletes_atomically() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("users");
        fs::write(&p, "# keep me\n").unwrap();
        fs::set_permissions(&p, fs::Permissions::from_mode(0o644)).unwrap();
        let (_, warnings) = UserStore::load(&p).unwrap();
        assert_eq!(
            warnings,
            vec![format!("{} has mode 0644; it should be 0600", p.display())]
        );

        let a1 = make_entry("alice", b"one", FAST).unwrap();
        assert!(!update_file(&p, "alice", Some(&a1)).unwrap());
        let b = make_entry("bob", b"bee", FAST).unwrap();
        assert!(!update_file(&p, "bob", Some(&b)).unwrap());
        let a2 = make_entry("alice", b"two", FAST).unwrap();
        assert!(update_file(&p, "alice", Some(&a2)).unwrap());

        let text = fs::read_to_string(&p).unwrap();
        assert!(text.starts_with("# keep me\nalice:"), "{text}");
        let (s, warnings) = UserStore::load(&p).unwrap();
        assert!(warnings.is_empty(), "{warnings:?}");
        assert_eq!(
            fs::metadata(&p).unwrap().permissions().mode() & 0o777,
            0o600
        );
        assert!(s.verify("alice", b"two"));
        assert!(!s.verify("alice", b"one"));
        assert!(s.verify("bob", b"bee"));

        assert!(update_file(&p, "alice", None).unwrap());
        let (s, _) = UserStore::load(&p).unwrap();
        assert!(!s.contains("alice"));
        assert!(s.contains("bob"));
        let e = update_file(&p, "alice", None).unwrap_err();
        assert!(e.to_string().contains("user 'alice' is not in"), "{e}");
        // No temporary files left behind.
        let names: Vec<_> = fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(names, vec![std::ffi::OsString::from("users")]);
    }

    #[test]
    fn update_file_refuses_to_rewrite_a_broken_file() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("users");
        fs::write(&p, "garbage\n").unwrap();
        let line = make_entry("alice", b"pw", FAST).unwrap();
        let e = update_file(&p, "alice", Some(&line)).unwrap_err();
        assert!(e.to_string().contains(":1: expected 5 fields"), "{e}");
        assert_eq!(fs::read_to_string(&p).unwrap(), "garbage\n");
    }

    #[test]
    fn store_file_refresh_picks_up_changes_and_keeps_users_when_the_file_turns_bad() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("users");
        let alice = make_entry("alice", b"pw-a", FAST).unwrap();
        fs::write(&p, format!("{alice}\n")).unwrap();
        let (f, _) = UserStoreFile::open(&p, true).unwrap();
        assert!(f.verify("alice", b"pw-a"));
        assert!(f.refresh_if_changed().unwrap().is_empty());
        // A new user, written by the tool (atomic rename: new inode).
        let bob = make_entry("bob", b"pw-b", FAST).unwrap();
        update_file(&p, "bob", Some(&bob)).unwrap();
        f.refresh_if_changed().unwrap();
        assert!(f.verify("bob", b"pw-b"));
        assert_eq!(f.len(), 2);
        // Garbage written in place: reported once, the previous users stay.
        fs::write(
            &p,
            "garbage that is longer than before, so the size changes\n",
        )
        .unwrap();
        let e = f.refresh_if_changed().unwrap_err();
        assert!(e.to_string().contains(":1:"), "{e}");
        assert!(f.refresh_if_changed().unwrap().is_empty(), "reported once");
        assert!(f.verify("alice", b"pw-a") && f.verify("bob", b"pw-b"));
        // Deleted: the previous users stay too.
        fs::remove_file(&p).unwrap();
        assert!(f.refresh_if_changed().is_err());
        assert!(f.verify("alice", b"pw-a"));
    }

    #[test]
    fn store_file_without_refresh_reads_once() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("users");
        let alice = make_entry("alice", b"pw-a", FAST).unwrap();
        fs::write(&p, format!("{alice}\n")).unwrap();
        let (f, _) = UserStoreFile::open(&p, false).unwrap();
        update_file(&p, "alice", None).unwrap();
        assert!(f.refresh_if_changed().unwrap().is_empty());
        assert!(f.verify("alice", b"pw-a"));
        assert!(!f.refresh());
        assert_eq!(f.path(), p.as_path());
    }

    #[test]
    fn strict_base64() {
        assert_eq!(b64_decode("aGk=").unwrap(), b"hi");
        assert!(b64_decode("aGk").is_none());
        assert!(b64_decode("aG=k").is_none());
        assert!(b64_decode("aGl=").is_none()); // non-canonical trailing bits
        assert!(b64_decode("").is_none());
    }
}
