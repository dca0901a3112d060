//! User-creatable objects (`-object`, `object-add`, `object-del`, `qom-list`, `qom-get`):
//! `secret`, `tls-creds-x509`/`tls-creds-anon`, the `authz-*` types, and Porthole's
//! `userstore` (users and password hashes for VeNCrypt Plain).

use std::collections::BTreeMap;
use std::os::unix::fs::PermissionsExt;

use qapi::{ErrorClass, QmpError};
use serde_json::{Value, json};
use zeroize::Zeroizing;

/// Largest secret file read.
pub const MAX_SECRET_FILE: u64 = 64 * 1024;

/// A `secret` object.
pub struct SecretObject {
    /// The decoded secret.
    pub value: Zeroizing<Vec<u8>>,
    /// `raw` or `base64`, as given.
    pub format: &'static str,
    /// The file it was read from, if any.
    pub file: Option<String>,
}

impl SecretObject {
    /// Builds a secret from `data` or `file` (exactly one) in `format` (`raw` default, or
    /// `base64`), with QEMU's error texts. A file readable by group or others gets a warning.
    pub fn new(
        data: Option<&str>,
        file: Option<&str>,
        format: Option<&str>,
    ) -> Result<Self, QmpError> {
        let format = match format.unwrap_or("raw") {
            "raw" => "raw",
            "base64" => "base64",
            other => {
                return Err(QmpError::generic(format!(
                    "Parameter 'format' does not accept value '{other}'"
                )));
            }
        };
        let raw: Zeroizing<Vec<u8>> = match (data, file) {
            (Some(_), Some(_)) => {
                return Err(QmpError::generic(
                    "'data' and 'file' are mutually exclusive",
                ));
            }
            (None, None) => {
                return Err(QmpError::generic(
                    "Either 'file' or 'data' must be provided",
                ));
            }
            (Some(d), None) => Zeroizing::new(d.as_bytes().to_vec()),
            (None, Some(f)) => Zeroizing::new(read_secret_file(f)?),
        };
        let value = if format == "base64" {
            Zeroizing::new(
                decode_base64(&raw)
                    .ok_or_else(|| QmpError::generic("Base64 data contains invalid characters"))?,
            )
        } else {
            raw
        };
        Ok(Self {
            value,
            format,
            file: file.map(str::to_owned),
        })
    }
}

fn read_secret_file(path: &str) -> Result<Vec<u8>, QmpError> {
    let err = |e: std::io::Error| QmpError::generic(format!("Unable to read {path}: {e}"));
    let meta = std::fs::metadata(path).map_err(err)?;
    if meta.len() > MAX_SECRET_FILE {
        return Err(QmpError::generic(format!(
            "Secret file {path} is larger than {MAX_SECRET_FILE} bytes"
        )));
    }
    let mode = meta.permissions().mode() & 0o777;
    if mode & 0o077 != 0 {
        log::warn!(
            "secret file {path} has mode {mode:04o}; it should be readable by its owner only (chmod 600)"
        );
    }
    std::fs::read(path).map_err(err)
}

/// Standard base64 (padding optional; anything else is an error).
pub fn decode_base64(s: &[u8]) -> Option<Vec<u8>> {
    let val = |c: u8| -> Option<u32> {
        Some(u32::from(match c {
            b'A'..=b'Z' => c - b'A',
            b'a'..=b'z' => c - b'a' + 26,
            b'0'..=b'9' => c - b'0' + 52,
            b'+' => 62,
            b'/' => 63,
            _ => return None,
        }))
    };
    let s = s
        .strip_suffix(b"==")
        .or_else(|| s.strip_suffix(b"="))
        .unwrap_or(s);
    if s.len() % 4 == 1 {
        return None;
    }
    let mut out = Vec::with_capacity(s.len() / 4 * 3 + 2);
    for chunk in s.chunks(4) {
        let mut acc = 0u32;
        for &c in chunk {
            acc = (acc << 6) | val(c)?;
        }
        let bytes = acc.to_be_bytes();
        match chunk.len() {
            4 => out.extend_from_slice(&bytes[1..4]),
            3 => out.extend_from_slice(&(acc << 6).to_be_bytes()[1..3]),
            2 => out.push((acc >> 4).to_be_bytes()[3]),
            _ => return None,
        }
    }
    Some(out)
}

/// A `tls-creds-x509` or `tls-creds-anon` object.
pub struct TlsCredsObject {
    /// x509 or anon.
    pub kind: crypto::tls::CredsKind,
    /// `dir=`.
    pub dir: Option<String>,
    /// `endpoint=server` (only server credentials can serve VNC).
    pub server: bool,
    /// `verify-peer=`.
    pub verify_peer: bool,
    /// `sanity-check=` (x509).
    pub sanity_check: bool,
    /// `priority=`.
    pub priority: Option<String>,
    /// The decrypted key password (`passwordid=`), kept for reloads.
    pub key_password: Option<Zeroizing<Vec<u8>>>,
    /// The loaded server credentials (`None` for `endpoint=client`).
    pub creds: Option<crypto::tls::ServerCreds>,
}

impl TlsCredsObject {
    /// Loads (or reloads) the server credentials from the object's settings.
    pub fn load(&self) -> Result<(crypto::tls::ServerCreds, Vec<String>), QmpError> {
        let r = match self.kind {
            crypto::tls::CredsKind::X509 => {
                let mut o = crypto::tls::X509Options::server(self.dir.clone().unwrap_or_default());
                o.verify_peer = self.verify_peer;
                o.sanity_check = self.sanity_check;
                o.priority.clone_from(&self.priority);
                o.key_password = self.key_password.as_ref().map(|k| k.to_vec());
                crypto::tls::ServerCreds::load_x509(&o)
            }
            crypto::tls::CredsKind::Anon => {
                crypto::tls::ServerCreds::load_anon(&crypto::tls::AnonOptions {
                    dir: self.dir.clone().map(Into::into),
                    endpoint: crypto::tls::Endpoint::Server,
                    priority: self.priority.clone(),
                })
            }
        };
        r.map_err(|e| QmpError::generic(error_chain(&e)))
    }

    fn type_name(&self) -> &'static str {
        match self.kind {
            crypto::tls::CredsKind::X509 => "tls-creds-x509",
            crypto::tls::CredsKind::Anon => "tls-creds-anon",
        }
    }
}

/// An error with its causes, joined by ": ", in QEMU's style (an OS error reads as
/// strerror's text, without Rust's " (os error N)").
pub fn error_chain(e: &dyn std::error::Error) -> String {
    let mut s = crate::without_os_error_suffix(&e.to_string());
    let mut cur = e.source();
    while let Some(c) = cur {
        s.push_str(": ");
        s.push_str(&crate::without_os_error_suffix(&c.to_string()));
        cur = c.source();
    }
    s
}

/// An authorization object.
pub enum AuthzObject {
    /// `authz-simple`.
    Simple(authz::Simple),
    /// `authz-list`.
    List(authz::List),
    /// `authz-listfile`.
    ListFile(authz::ListFile),
}

impl AuthzObject {
    fn type_name(&self) -> &'static str {
        match self {
            Self::Simple(_) => "authz-simple",
            Self::List(_) => "authz-list",
            Self::ListFile(_) => "authz-listfile",
        }
    }

    /// Asks the object about `identity`.
    pub fn is_allowed(&mut self, identity: &str) -> bool {
        use authz::Authorize;
        match self {
            Self::Simple(a) => a.is_allowed(identity),
            Self::List(a) => a.is_allowed(identity),
            Self::ListFile(a) => a.is_allowed(identity),
        }
    }
}

/// A `userstore` object: the file is shared with the VNC display's Plain login worker.
pub struct UserStoreObject {
    /// The loaded file (re-read by the worker when it changes, with refresh on).
    pub store: std::sync::Arc<crypto::userstore::UserStoreFile>,
}

/// One object.
pub enum Object {
    /// `secret`.
    Secret(SecretObject),
    /// `tls-creds-x509` / `tls-creds-anon`.
    TlsCreds(TlsCredsObject),
    /// `authz-simple` / `authz-list` / `authz-listfile`.
    Authz(AuthzObject),
    /// `userstore`.
    UserStore(UserStoreObject),
}

impl Object {
    fn type_name(&self) -> &'static str {
        match self {
            Self::Secret(_) => "secret",
            Self::TlsCreds(t) => t.type_name(),
            Self::Authz(a) => a.type_name(),
            Self::UserStore(_) => "userstore",
        }
    }
}

fn endpoint_is_server(e: Option<qapi::QCryptoTLSCredsEndpoint>) -> bool {
    // QEMU's default is client.
    e == Some(qapi::QCryptoTLSCredsEndpoint::Server)
}

/// Builds an object from `object-add` / `-object` options. Returns the id, the object and
/// warnings for the user (e.g. a key file readable by others).
pub fn create(
    objects: &Objects,
    opts: qapi::ObjectOptions,
) -> Result<(String, Object, Vec<String>), QmpError> {
    use qapi::ObjectOptions as O;
    let (id, obj, warnings) = match opts {
        O::Secret { id, branch } => {
            if branch.keyid.is_some() || branch.iv.is_some() {
                let (Some(keyid), Some(iv)) = (&branch.keyid, &branch.iv) else {
                    return Err(QmpError::generic("'keyid' and 'iv' must be given together"));
                };
                let key = objects
                    .secret(keyid)
                    .ok_or_else(|| QmpError::generic(format!("No secret with id '{keyid}'")))?;
                let data = branch
                    .data
                    .as_ref()
                    .map(qapi::Password::as_str)
                    .unwrap_or_default();
                let plain = crypto::decrypt_secret(&key.value, iv, data)
                    .map_err(|e| QmpError::generic(error_chain(&e)))?;
                let obj = SecretObject {
                    value: Zeroizing::new(plain),
                    format: "raw",
                    file: None,
                };
                (id, Object::Secret(obj), Vec::new())
            } else {
                let format = branch.format.map(|f| f.as_str());
                let data = branch.data.as_ref().map(qapi::Password::as_str);
                let obj = SecretObject::new(data, branch.file.as_deref(), format)?;
                (id, Object::Secret(obj), Vec::new())
            }
        }
        O::TlsCredsX509 { id, branch } => {
            let key_password = match &branch.passwordid {
                Some(pid) => Some(Zeroizing::new(
                    objects
                        .secret(pid)
                        .ok_or_else(|| QmpError::generic(format!("No secret with id '{pid}'")))?
                        .value
                        .to_vec(),
                )),
                None => None,
            };
            let mut t = TlsCredsObject {
                kind: crypto::tls::CredsKind::X509,
                dir: branch.dir,
                server: endpoint_is_server(branch.endpoint),
                verify_peer: branch.verify_peer.unwrap_or(true),
                sanity_check: branch.sanity_check.unwrap_or(true),
                priority: branch.priority,
                key_password,
                creds: None,
            };
            if t.dir.is_none() {
                return Err(QmpError::generic("Parameter 'dir' is missing"));
            }
            let mut warnings = Vec::new();
            if t.server {
                let (c, w) = t.load()?;
                t.creds = Some(c);
                warnings = w;
            }
            (id, Object::TlsCreds(t), warnings)
        }
        O::TlsCredsAnon { id, branch } => {
            let mut t = TlsCredsObject {
                kind: crypto::tls::CredsKind::Anon,
                dir: branch.dir,
                server: endpoint_is_server(branch.endpoint),
                verify_peer: false,
                sanity_check: false,
                priority: branch.priority,
                key_password: None,
                creds: None,
            };
            let mut warnings = Vec::new();
            if t.server {
                let (c, w) = t.load()?;
                t.creds = Some(c);
                warnings = w;
            }
            (id, Object::TlsCreds(t), warnings)
        }
        O::AuthzSimple { id, branch } => (
            id,
            Object::Authz(AuthzObject::Simple(authz::Simple {
                identity: branch.identity,
            })),
            Vec::new(),
        ),
        O::AuthzList { id, branch } => {
            let policy = |p: qapi::QAuthZListPolicy| match p {
                qapi::QAuthZListPolicy::Allow => authz::Policy::Allow,
                qapi::QAuthZListPolicy::Deny => authz::Policy::Deny,
            };
            let rules = branch
                .rules
                .unwrap_or_default()
                .into_iter()
                .map(|r| authz::Rule {
                    r#match: r.match_,
                    policy: policy(r.policy),
                    format: match r.format {
                        Some(qapi::QAuthZListFormat::Glob) => authz::MatchFormat::Glob,
                        _ => authz::MatchFormat::Exact,
                    },
                })
                .collect();
            let spec = authz::ListSpec {
                policy: branch.policy.map_or(authz::Policy::Deny, policy),
                rules,
            };
            (
                id,
                Object::Authz(AuthzObject::List(authz::List { spec })),
                Vec::new(),
            )
        }
        O::AuthzListfile { id, branch } => {
            let lf = authz::ListFile::open(
                std::path::Path::new(&branch.filename),
                branch.refresh.unwrap_or(true),
            )
            .map_err(|e| QmpError::generic(error_chain(&e)))?;
            (id, Object::Authz(AuthzObject::ListFile(lf)), Vec::new())
        }
        O::Userstore { id, branch } => {
            let (store, warnings) = crypto::userstore::UserStoreFile::open(
                std::path::Path::new(&branch.filename),
                branch.refresh.unwrap_or(true),
            )
            .map_err(|e| QmpError::generic(error_chain(&e)))?;
            let obj = UserStoreObject {
                store: std::sync::Arc::new(store),
            };
            (id, Object::UserStore(obj), warnings)
        }
    };
    check_id(&id)?;
    Ok((id, obj, warnings))
}

/// QEMU's identifier rule: a letter, then letters, digits, `-`, `.`, `_`.
pub fn check_id(id: &str) -> Result<(), QmpError> {
    if qemuopts::is_identifier(id) {
        Ok(())
    } else {
        Err(QmpError::generic("Parameter 'id' expects an identifier"))
    }
}

/// The `/objects` container.
#[derive(Default)]
pub struct Objects {
    map: BTreeMap<String, Object>,
}

fn device_not_found(path: &str) -> QmpError {
    QmpError {
        class: ErrorClass::DeviceNotFound,
        desc: format!("Device '{path}' not found"),
    }
}

impl Objects {
    /// Adds an object (QEMU's duplicate text).
    pub fn add(&mut self, id: &str, obj: Object) -> Result<(), QmpError> {
        check_id(id)?;
        if self.map.contains_key(id) {
            return Err(QmpError::generic(format!(
                "attempt to add duplicate property '{id}' to object (type 'container')"
            )));
        }
        self.map.insert(id.to_owned(), obj);
        Ok(())
    }

    /// Removes an object.
    pub fn del(&mut self, id: &str) -> Result<(), QmpError> {
        self.map
            .remove(id)
            .map(drop)
            .ok_or_else(|| QmpError::generic(format!("object '{id}' not found")))
    }

    /// Looks up a secret's value.
    pub fn secret(&self, id: &str) -> Option<&SecretObject> {
        match self.map.get(id) {
            Some(Object::Secret(s)) => Some(s),
            _ => None,
        }
    }

    /// Looks up TLS credentials.
    pub fn tls_creds(&self, id: &str) -> Option<&TlsCredsObject> {
        match self.map.get(id) {
            Some(Object::TlsCreds(t)) => Some(t),
            _ => None,
        }
    }

    /// Looks up TLS credentials to change them (reload).
    pub fn tls_creds_mut(&mut self, id: &str) -> Option<&mut TlsCredsObject> {
        match self.map.get_mut(id) {
            Some(Object::TlsCreds(t)) => Some(t),
            _ => None,
        }
    }

    /// Looks up a user store.
    pub fn user_store(&self, id: &str) -> Option<&UserStoreObject> {
        match self.map.get(id) {
            Some(Object::UserStore(u)) => Some(u),
            _ => None,
        }
    }

    /// Looks up an authz object.
    pub fn authz_mut(&mut self, id: &str) -> Option<&mut AuthzObject> {
        match self.map.get_mut(id) {
            Some(Object::Authz(a)) => Some(a),
            _ => None,
        }
    }

    /// Whether an object with this id exists.
    pub fn contains(&self, id: &str) -> bool {
        self.map.contains_key(id)
    }

    /// Resolves an absolute path (`/objects`, `/objects/ID`) or, as QEMU's partial paths, an
    /// object id alone (`ID`, `objects/ID`).
    fn resolve<'a>(&'a self, path: &str) -> Result<Option<(&'a str, &'a Object)>, QmpError> {
        let trimmed = path.trim_end_matches('/');
        if trimmed == "/objects" || trimmed == "objects" {
            return Ok(None);
        }
        let id = trimmed
            .strip_prefix("/objects/")
            .or_else(|| {
                (!trimmed.starts_with('/'))
                    .then(|| trimmed.strip_prefix("objects/").unwrap_or(trimmed))
            })
            .ok_or_else(|| device_not_found(path))?;
        self.map
            .get_key_value(id)
            .map(|(k, o)| Some((k.as_str(), o)))
            .ok_or_else(|| device_not_found(path))
    }

    /// `qom-list`: `[{name, type}]`.
    pub fn qom_list(&self, path: &str) -> Result<Vec<(String, String)>, QmpError> {
        let mut out = vec![("type".to_owned(), "string".to_owned())];
        match self.resolve(path)? {
            None => {
                for (id, o) in &self.map {
                    out.push((id.clone(), format!("child<{}>", o.type_name())));
                }
            }
            Some((_, Object::TlsCreds(t))) => {
                let mut props = vec![
                    ("dir", "string"),
                    ("endpoint", "QCryptoTLSCredsEndpoint"),
                    ("priority", "string"),
                    ("verify-peer", "bool"),
                    ("loaded", "bool"),
                ];
                if t.kind == crypto::tls::CredsKind::X509 {
                    props.extend([("sanity-check", "bool"), ("passwordid", "string")]);
                }
                out.extend(props.into_iter().map(|(n, t)| (n.to_owned(), t.to_owned())));
            }
            Some((_, Object::Authz(a))) => {
                let props: &[(&str, &str)] = match a {
                    AuthzObject::Simple(_) => &[("identity", "string")],
                    AuthzObject::List(_) => {
                        &[("policy", "QAuthZListPolicy"), ("rules", "QAuthZListRule")]
                    }
                    AuthzObject::ListFile(_) => &[("filename", "string"), ("refresh", "bool")],
                };
                out.extend(
                    props
                        .iter()
                        .map(|(n, t)| ((*n).to_owned(), (*t).to_owned())),
                );
            }
            Some((_, Object::UserStore(_))) => {
                for (n, t) in [("filename", "string"), ("refresh", "bool")] {
                    out.push((n.to_owned(), t.to_owned()));
                }
            }
            Some((_, Object::Secret(_))) => {
                for (n, t) in [
                    ("iv", "string"),
                    ("keyid", "string"),
                    ("loaded", "bool"),
                    ("format", "QCryptoSecretFormat"),
                    ("file", "string"),
                    ("data", "string"),
                ] {
                    out.push((n.to_owned(), t.to_owned()));
                }
            }
        }
        Ok(out)
    }

    /// `qom-get`. Secret data is never returned (QEMU returns it; Porthole keeps secrets out
    /// of QMP replies).
    pub fn qom_get(&self, path: &str, property: &str) -> Result<Value, QmpError> {
        let not_found = |t: &str| QmpError::generic(format!("Property '{t}.{property}' not found"));
        match self.resolve(path)? {
            None => match property {
                "type" => Ok(json!("container")),
                _ => Err(not_found("container")),
            },
            Some((_, Object::Secret(s))) => match property {
                "type" => Ok(json!("secret")),
                "loaded" => Ok(json!(true)),
                "format" => Ok(json!(s.format)),
                "file" => Ok(json!(s.file.clone().unwrap_or_default())),
                "iv" | "keyid" => Ok(json!("")),
                "data" => Err(QmpError::generic(
                    "Property 'secret.data' is write-only in Porthole: secrets are not returned over QMP",
                )),
                _ => Err(not_found("secret")),
            },
            Some((_, Object::TlsCreds(t))) => match property {
                "type" => Ok(json!(t.type_name())),
                "dir" => Ok(json!(t.dir.clone().unwrap_or_default())),
                "endpoint" => Ok(json!(if t.server { "server" } else { "client" })),
                "priority" => Ok(json!(t.priority.clone().unwrap_or_default())),
                "verify-peer" => Ok(json!(t.verify_peer)),
                "loaded" => Ok(json!(t.creds.is_some())),
                "sanity-check" if t.kind == crypto::tls::CredsKind::X509 => {
                    Ok(json!(t.sanity_check))
                }
                _ => Err(not_found(t.type_name())),
            },
            Some((_, Object::Authz(a))) => match (a, property) {
                (_, "type") => Ok(json!(a.type_name())),
                (AuthzObject::Simple(s), "identity") => Ok(json!(s.identity)),
                (AuthzObject::List(l), "policy") => Ok(json!(l.spec.policy)),
                (AuthzObject::List(l), "rules") => Ok(json!(l.spec.rules)),
                (AuthzObject::ListFile(f), "filename") => {
                    Ok(json!(f.filename().display().to_string()))
                }
                (AuthzObject::ListFile(f), "refresh") => Ok(json!(f.refresh())),
                _ => Err(not_found(a.type_name())),
            },
            Some((_, Object::UserStore(u))) => match property {
                "type" => Ok(json!("userstore")),
                "filename" => Ok(json!(u.store.path().display().to_string())),
                "refresh" => Ok(json!(u.store.refresh())),
                _ => Err(not_found("userstore")),
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base64() {
        assert_eq!(decode_base64(b"c2VjcmV0").unwrap(), b"secret");
        assert_eq!(decode_base64(b"c2VjcmV0MQ==").unwrap(), b"secret1");
        assert_eq!(decode_base64(b"c2VjcmV0MTI=").unwrap(), b"secret12");
        assert!(decode_base64(b"c2V*").is_none());
    }

    #[test]
    fn qemu_texts() {
        let mut o = Objects::default();
        let s = || Object::Secret(SecretObject::new(Some("hunter2"), None, None).unwrap());
        o.add("s0", s()).unwrap();
        assert_eq!(
            o.add("s0", s()).unwrap_err().desc,
            "attempt to add duplicate property 's0' to object (type 'container')"
        );
        assert_eq!(
            o.add("0bad", s()).unwrap_err().desc,
            "Parameter 'id' expects an identifier"
        );
        assert_eq!(
            SecretObject::new(None, None, None).err().unwrap().desc,
            "Either 'file' or 'data' must be provided"
        );
        assert_eq!(
            SecretObject::new(Some("!!"), None, Some("base64"))
                .err()
                .unwrap()
                .desc,
            "Base64 data contains invalid characters"
        );
        assert_eq!(
            o.qom_get("/objects/zz", "data").unwrap_err().class,
            ErrorClass::DeviceNotFound
        );
        assert_eq!(
            o.qom_get("/objects/s0", "nope").unwrap_err().desc,
            "Property 'secret.nope' not found"
        );
        assert_eq!(o.qom_get("/objects/s0", "format").unwrap(), json!("raw"));
        assert_eq!(
            o.qom_get("s0", "format").unwrap(),
            json!("raw"),
            "partial path"
        );
        assert!(o.qom_list("s0").unwrap().iter().any(|(n, _)| n == "data"));
        let e = o.qom_get("/objects/s0", "data").unwrap_err();
        assert!(!e.desc.contains("hunter2"));
        assert_eq!(
            o.qom_list("/objects").unwrap()[1],
            ("s0".to_owned(), "child<secret>".to_owned())
        );
        assert_eq!(o.del("zz").unwrap_err().desc, "object 'zz' not found");
        o.del("s0").unwrap();
    }
}
