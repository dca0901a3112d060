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
//!
//! DES comes from the pure-Rust `des` crate rather than OpenSSL, because OpenSSL 3
//! only offers DES-ECB through its legacy provider.

#![forbid(unsafe_code)]

mod secret;
mod vncauth;

pub use secret::Secret;
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
