//! Reading credential files: bounded sizes, QEMU's "required/optional" rules and
//! error texts.

use std::fs;
use std::io::{self, Read};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use openssl::dh::Dh;
use openssl::pkey::Params;
use zeroize::Zeroizing;

use crate::Error;

/// Largest credential file we read (a CA bundle of a few hundred certificates fits).
pub(crate) const MAX_CREDS_FILE_SIZE: u64 = 4 * 1024 * 1024;

/// Certificates accepted from one PEM file.
pub(crate) const MAX_CERTS_PER_FILE: usize = 1024;

/// CRLs accepted from `ca-crl.pem`.
pub(crate) const MAX_CRLS: usize = 64;

pub(crate) const CA_CERT: &str = "ca-cert.pem";
pub(crate) const CA_CRL: &str = "ca-crl.pem";
pub(crate) const SERVER_CERT: &str = "server-cert.pem";
pub(crate) const SERVER_KEY: &str = "server-key.pem";
pub(crate) const DH_PARAMS: &str = "dh-params.pem";

/// `dir/name` if it exists. A missing optional file is `None`; a missing required
/// file, or any other stat error, is QEMU's "Unable to access credentials PATH".
pub(crate) fn get_path(dir: &Path, name: &str, required: bool) -> Result<Option<PathBuf>, Error> {
    let path = dir.join(name);
    match fs::metadata(&path) {
        Ok(_) => Ok(Some(path)),
        Err(e) if e.kind() == io::ErrorKind::NotFound && !required => Ok(None),
        Err(source) => Err(Error::CredentialsIo {
            message: format!("Unable to access credentials {}", path.display()),
            source,
        }),
    }
}

/// Reads a whole file of at most [`MAX_CREDS_FILE_SIZE`] bytes. The buffer is
/// wiped when dropped (it may hold a private key).
pub(crate) fn read_bounded(path: &Path, what: &str) -> Result<Zeroizing<Vec<u8>>, Error> {
    let io_err = |source| Error::CredentialsIo {
        message: format!("Cannot load {what} {}", path.display()),
        source,
    };
    let file = fs::File::open(path).map_err(io_err)?;
    let mut buf = Zeroizing::new(Vec::new());
    file.take(MAX_CREDS_FILE_SIZE + 1)
        .read_to_end(&mut buf)
        .map_err(io_err)?;
    if u64::try_from(buf.len()).unwrap_or(u64::MAX) > MAX_CREDS_FILE_SIZE {
        return Err(Error::Credentials(format!(
            "Cannot load {what} {}: larger than {MAX_CREDS_FILE_SIZE} bytes",
            path.display()
        )));
    }
    Ok(buf)
}

/// A warning when `path` is readable or writable by group or others.
pub(crate) fn mode_warning(path: &Path) -> Option<String> {
    let mode = fs::metadata(path).ok()?.permissions().mode() & 0o777;
    (mode & 0o077 != 0)
        .then(|| format!("{} has mode {mode:04o}; it should be 0600", path.display()))
}

/// Loads `dir/dh-params.pem` if present.
pub(crate) fn load_dh_params(dir: &Path) -> Result<Option<Dh<Params>>, Error> {
    let Some(path) = get_path(dir, DH_PARAMS, false)? else {
        return Ok(None);
    };
    let pem = read_bounded(&path, "DH parameters")?;
    let dh = Dh::params_from_pem(&pem).map_err(|source| Error::CredentialsOpenssl {
        message: format!("Unable to load DH parameters from {}", path.display()),
        source,
    })?;
    Ok(Some(dh))
}

/// Splits PEM text into the blocks labelled `label`, in order.
pub(crate) fn pem_blocks<'a>(pem: &'a [u8], label: &str) -> Vec<&'a [u8]> {
    let begin = format!("-----BEGIN {label}-----");
    let end = format!("-----END {label}-----");
    let mut out = Vec::new();
    let mut rest = pem;
    while let Some(start) = find(rest, begin.as_bytes()) {
        let after_begin = &rest[start..];
        let Some(stop) = find(after_begin, end.as_bytes()) else {
            // Unterminated block: let the parser report it.
            out.push(after_begin);
            break;
        };
        let block_end = stop + end.len();
        out.push(&after_begin[..block_end]);
        rest = &after_begin[block_end..];
    }
    out
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pem_blocks_splits_in_order() {
        let text = b"junk\n-----BEGIN X-----\nAA\n-----END X-----\nmid\n-----BEGIN Y-----\n-----END Y-----\n-----BEGIN X-----\nBB\n-----END X-----\n";
        let blocks = pem_blocks(text, "X");
        assert_eq!(blocks.len(), 2);
        assert!(blocks[0].ends_with(b"-----END X-----"));
        assert!(blocks[1].windows(2).any(|w| w == b"BB"));
        assert!(pem_blocks(b"nothing", "X").is_empty());
    }

    #[test]
    fn optional_missing_file_is_none_required_is_error() {
        let dir = tempfile::tempdir().unwrap();
        assert!(get_path(dir.path(), "nope.pem", false).unwrap().is_none());
        let e = get_path(dir.path(), "nope.pem", true).unwrap_err();
        assert_eq!(
            e.to_string(),
            format!(
                "Unable to access credentials {}/nope.pem",
                dir.path().display()
            )
        );
    }

    #[test]
    fn oversized_files_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("big.pem");
        let f = fs::File::create(&p).unwrap();
        f.set_len(MAX_CREDS_FILE_SIZE + 1).unwrap();
        let e = read_bounded(&p, "certificate").unwrap_err();
        assert!(e.to_string().contains("larger than"), "{e}");
    }
}
