//! Cryptographic helpers for Porthole.
//!
//! Design note: this crate keeps every primitive the VNC server needs behind a
//! small, misuse-resistant API so that callers never touch cipher crates directly.
//!
//! - [`vnc_auth_response`] / [`vnc_auth_check`]: RFB "VNC Authentication" (security
//!   type 2). The password is truncated or NUL-padded to 8 bytes, the bits of each
//!   key byte are reversed (the historic quirk every RFB implementation shares) and
//!   the 16-byte challenge is encrypted as two independent DES-ECB blocks. The check
//!   compares in constant time and always looks at all 16 bytes (CVE-2008-5714).
//! - [`random_bytes`]: the operating system's CSPRNG, used for challenges.
//! - [`Secret`]: a byte string that is wiped from memory on drop and never printed.
//! - [`tls`]: QEMU's `tls-creds-x509` / `tls-creds-anon` turned into OpenSSL server
//!   contexts, with QEMU's load-time sanity checks and error texts, client
//!   certificate verification and QEMU's DN strings. No sockets: the channel layer
//!   drives the sessions.
//! - [`secret_aes`]: QEMU `secret` objects encrypted with `keyid=`/`iv=`
//!   (AES-256-CBC).
//! - [`userstore`]: a salted PBKDF2/scrypt password file for VeNCrypt Plain; the
//!   `porthole-passwd` binary edits it.
//!
//! DES comes from the pure-Rust `des` crate rather than OpenSSL, because OpenSSL 3
//! only offers DES-ECB through its legacy provider. Everything else uses OpenSSL.
//! File sizes, line counts and lengths read from files or peers are bounded by
//! named constants before anything is allocated from them.

#![forbid(unsafe_code)]

mod secret;
pub mod secret_aes;
pub mod tls;
pub mod userstore;
mod vncauth;

use std::path::PathBuf;

pub use secret::Secret;
pub use secret_aes::decrypt_secret;
pub use vncauth::{
    VNC_CHALLENGE_LEN, VNC_KEY_LEN, constant_time_eq, vnc_auth_check, vnc_auth_response,
    vnc_des_key,
};

/// Errors of the crypto layer.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The operating system's random number generator failed.
    #[error("cannot obtain random bytes from the operating system")]
    Random(#[source] getrandom::Error),
    /// TLS credentials are missing, malformed or fail a sanity check; the text
    /// is QEMU's where QEMU has one and names the file.
    #[error("{0}")]
    Credentials(String),
    /// A credentials file could not be accessed or read.
    #[error("{message}")]
    CredentialsIo {
        /// What failed, naming the file.
        message: String,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
    /// OpenSSL rejected a credentials file or setting.
    #[error("{message}")]
    CredentialsOpenssl {
        /// What failed, naming the file.
        message: String,
        /// OpenSSL's errors.
        #[source]
        source: openssl::error::ErrorStack,
    },
    /// The credentials were made for a client (QEMU's default `endpoint=client`).
    #[error(
        "Expected TLS credentials for a server endpoint: add endpoint=server to the tls-creds object"
    )]
    ClientEndpoint,
    /// A `priority=` other than the defaults (GnuTLS priority strings have no
    /// faithful OpenSSL equivalent).
    #[error(
        "TLS priority '{0}' is not supported: Porthole uses OpenSSL's defaults; leave priority unset or use NORMAL or @SYSTEM"
    )]
    Priority(String),
    /// OpenSSL could not create a session or read the clock.
    #[error("cannot set up the TLS session")]
    Session(#[source] openssl::error::ErrorStack),
    /// The client certificate was missing or rejected (QEMU's reason text).
    #[error("{reason}")]
    PeerCertificate {
        /// QEMU's reason, e.g. "The certificate has been revoked".
        reason: String,
    },
    /// An encrypted secret could not be decoded or decrypted (QEMU's texts).
    #[error("{0}")]
    Secret(String),
    /// OpenSSL failed while decrypting a secret.
    #[error("cannot decrypt the secret with AES-256-CBC")]
    SecretCipher(#[source] openssl::error::ErrorStack),
    /// A user store line is malformed.
    #[error("{}:{line}: {problem}", path.display())]
    UserStoreLine {
        /// The file.
        path: PathBuf,
        /// 1-based line number.
        line: usize,
        /// What is wrong.
        problem: String,
    },
    /// A user store file as a whole is unacceptable (too large, too long).
    #[error("{}: {problem}", path.display())]
    UserStoreFile {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        problem: String,
    },
    /// A user store file could not be read or written.
    #[error("cannot access user store {}", path.display())]
    UserStoreIo {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
    /// A user store request was invalid (bad user name, absent user).
    #[error("{0}")]
    UserStore(String),
    /// Password hashing failed in OpenSSL.
    #[error("password hashing failed")]
    PasswordHash(#[source] openssl::error::ErrorStack),
    /// Password hashing parameters do not fit this platform.
    #[error("password hashing parameters out of range")]
    PasswordHashParams,
}

/// Fills `buf` with cryptographically secure random bytes from the operating system.
///
/// # Errors
/// [`Error::Random`] if the OS generator is unavailable.
pub fn random_bytes(buf: &mut [u8]) -> Result<(), Error> {
    getrandom::fill(buf).map_err(Error::Random)
}

/// Returns a fresh random VNC authentication challenge.
///
/// # Errors
/// [`Error::Random`] if the OS generator is unavailable.
pub fn vnc_challenge() -> Result<[u8; VNC_CHALLENGE_LEN], Error> {
    let mut challenge = [0u8; VNC_CHALLENGE_LEN];
    random_bytes(&mut challenge)?;
    Ok(challenge)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn random_bytes_fills_the_buffer() {
        // 64 zero bytes from a working CSPRNG has probability 2^-512.
        let mut buf = [0u8; 64];
        random_bytes(&mut buf).unwrap();
        assert!(buf.iter().any(|&b| b != 0));
    }

    #[test]
    fn challenges_differ() {
        let a = vnc_challenge().unwrap();
        let b = vnc_challenge().unwrap();
        assert_ne!(a, b);
    }

    #[test]
    fn random_bytes_accepts_empty_buffer() {
        random_bytes(&mut []).unwrap();
    }
}
