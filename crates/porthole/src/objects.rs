//! User-creatable objects (`-object`, `object-add`, `object-del`, `qom-list`, `qom-get`).
//! Type `secret` now; the TLS credential and authz types join it in issue #4.

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

/// One object.
pub enum Object {
    /// `secret`.
    Secret(SecretObject),
}

impl Object {
    fn type_name(&self) -> &'static str {
        match self {
            Self::Secret(_) => "secret",
        }
    }
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
            None => None,
        }
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
