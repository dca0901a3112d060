//! Decryption of QEMU `secret` objects that carry `keyid=` and `iv=`
//! (crypto/secret_common.c): the data is AES-256-CBC encrypted with the 32-byte
//! key held by another secret, the IV is 16 bytes in base64, and the plaintext
//! ends with PKCS#7 padding.
//!
//! Base64 follows QEMU's `qbase64_decode`: only `A-Z a-z 0-9 + / =` and newlines
//! are allowed, newlines are skipped, and GLib's lenient decoding applies (a
//! trailing partial group is dropped). Error texts are QEMU's.
//!
//! One deliberate difference: QEMU only checks that the last plaintext byte is at
//! most 16 and at most the length; we also require it to be non-zero and all
//! padding bytes to be equal (strict PKCS#7). Data QEMU's documented
//! `openssl enc` recipe produces always passes; a wrong key or IV is caught more
//! often instead of yielding garbage.

use openssl::symm::{Cipher, Crypter, Mode};
use zeroize::Zeroizing;

use crate::Error;

/// AES-256 key length.
pub const SECRET_KEY_LEN: usize = 32;
/// AES block and IV length.
pub const SECRET_IV_LEN: usize = 16;
/// Largest base64 input accepted (the decoded data is smaller).
pub const MAX_SECRET_DATA_LEN: usize = 1024 * 1024;

const BASE64_CHARS: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/=\n";

fn sextet(c: u8) -> Option<u8> {
    match c {
        b'A'..=b'Z' => Some(c - b'A'),
        b'a'..=b'z' => Some(c - b'a' + 26),
        b'0'..=b'9' => Some(c - b'0' + 52),
        b'+' => Some(62),
        b'/' => Some(63),
        _ => None,
    }
}

/// QEMU's `qbase64_decode` (GLib `g_base64_decode` after a character check).
///
/// # Errors
/// [`Error::Secret`] with "Base64 data contains embedded NUL characters" or
/// "Base64 data contains invalid characters".
pub fn qbase64_decode(input: &str) -> Result<Vec<u8>, Error> {
    let bytes = input.as_bytes();
    if bytes.contains(&0) {
        return Err(Error::Secret(
            "Base64 data contains embedded NUL characters".into(),
        ));
    }
    if !bytes.iter().all(|b| BASE64_CHARS.contains(b)) {
        return Err(Error::Secret(
            "Base64 data contains invalid characters".into(),
        ));
    }
    let symbols: Vec<u8> = bytes.iter().copied().filter(|&b| b != b'\n').collect();
    // GLib: '=' decodes as zero bits, a trailing partial group is dropped, then
    // one output byte is dropped for each '=' among the last two symbols.
    let mut out = Vec::with_capacity(symbols.len() / 4 * 3);
    for group in symbols.chunks_exact(4) {
        let mut v: u32 = 0;
        for &c in group {
            v = (v << 6) | u32::from(sextet(c).unwrap_or(0));
        }
        out.extend_from_slice(&v.to_be_bytes()[1..]);
    }
    let padding = symbols.iter().rev().take(2).filter(|&&c| c == b'=').count();
    out.truncate(out.len().saturating_sub(padding));
    Ok(out)
}

/// Decrypts a base64 `data=` of a secret with `keyid=` and `iv=`.
///
/// `key` is the raw content of the `keyid` secret, `iv_b64` the `iv=` property.
///
/// # Errors
/// [`Error::Secret`] with QEMU's texts: "Key should be 32 bytes in length",
/// "IV should be 16 bytes in length not N", base64 errors, "Length N must be a
/// multiple of block size 16", "Incorrect number of padding bytes (N) found on
/// decrypted data"; [`Error::SecretCipher`] if OpenSSL fails.
pub fn decrypt_secret(key: &[u8], iv_b64: &str, data_b64: &str) -> Result<Vec<u8>, Error> {
    if data_b64.len() > MAX_SECRET_DATA_LEN {
        return Err(Error::Secret(format!(
            "Secret data is longer than {MAX_SECRET_DATA_LEN} bytes"
        )));
    }
    check_key_iv(key, iv_b64)?;
    let ciphertext = qbase64_decode(data_b64)?;
    decrypt_secret_raw(key, iv_b64, &ciphertext)
}

fn check_key_iv(key: &[u8], iv_b64: &str) -> Result<Vec<u8>, Error> {
    if key.len() != SECRET_KEY_LEN {
        return Err(Error::Secret("Key should be 32 bytes in length".into()));
    }
    let iv = qbase64_decode(iv_b64)?;
    if iv.len() != SECRET_IV_LEN {
        return Err(Error::Secret(format!(
            "IV should be 16 bytes in length not {}",
            iv.len()
        )));
    }
    Ok(iv)
}

/// Decrypts already-decoded ciphertext (a secret with `format=raw` and `keyid=`).
///
/// # Errors
/// As [`decrypt_secret`], minus the base64 errors of the data.
pub fn decrypt_secret_raw(key: &[u8], iv_b64: &str, ciphertext: &[u8]) -> Result<Vec<u8>, Error> {
    if ciphertext.len() > MAX_SECRET_DATA_LEN {
        return Err(Error::Secret(format!(
            "Secret data is longer than {MAX_SECRET_DATA_LEN} bytes"
        )));
    }
    let iv = check_key_iv(key, iv_b64)?;
    if !ciphertext.len().is_multiple_of(SECRET_IV_LEN) {
        return Err(Error::Secret(format!(
            "Length {} must be a multiple of block size {SECRET_IV_LEN}",
            ciphertext.len()
        )));
    }
    if ciphertext.is_empty() {
        // QEMU reads before its buffer here; there is no padding to remove.
        return Err(Error::Secret(
            "Encrypted secret data is empty: no padding found".into(),
        ));
    }
    let mut crypter = Crypter::new(Cipher::aes_256_cbc(), Mode::Decrypt, key, Some(&iv))
        .map_err(Error::SecretCipher)?;
    crypter.pad(false);
    let mut plain = Zeroizing::new(vec![0u8; ciphertext.len() + SECRET_IV_LEN]);
    let mut n = crypter
        .update(ciphertext, &mut plain)
        .map_err(Error::SecretCipher)?;
    n += crypter
        .finalize(&mut plain[n..])
        .map_err(Error::SecretCipher)?;
    plain.truncate(n);

    let pad = plain.last().copied().unwrap_or(0);
    let pad_len = usize::from(pad);
    let valid = (1..=SECRET_IV_LEN).contains(&pad_len)
        && pad_len <= plain.len()
        && plain[plain.len() - pad_len..].iter().all(|&b| b == pad);
    if !valid {
        return Err(Error::Secret(format!(
            "Incorrect number of padding bytes ({pad}) found on decrypted data"
        )));
    }
    Ok(plain[..plain.len() - pad_len].to_vec())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::process::Command;

    fn b64(data: &[u8]) -> String {
        openssl::base64::encode_block(data)
    }

    #[test]
    fn qbase64_matches_standard_base64() {
        for len in 0..20 {
            let data: Vec<u8> = (0..len)
                .map(|i: u8| i.wrapping_mul(37).wrapping_add(1))
                .collect();
            assert_eq!(qbase64_decode(&b64(&data)).unwrap(), data, "len {len}");
        }
        assert_eq!(qbase64_decode("aGVs\nbG8=\n").unwrap(), b"hello");
    }

    #[test]
    fn qbase64_rejects_invalid_characters_with_qemu_texts() {
        assert_eq!(
            qbase64_decode("aGVs bG8=").unwrap_err().to_string(),
            "Base64 data contains invalid characters"
        );
        assert_eq!(
            qbase64_decode("aGVs\0bG8=").unwrap_err().to_string(),
            "Base64 data contains embedded NUL characters"
        );
    }

    #[test]
    fn key_and_iv_lengths_are_checked() {
        let iv = b64(&[0u8; 16]);
        assert_eq!(
            decrypt_secret(&[0u8; 16], &iv, "AAAA")
                .unwrap_err()
                .to_string(),
            "Key should be 32 bytes in length"
        );
        assert_eq!(
            decrypt_secret(&[0u8; 32], &b64(&[0u8; 8]), "AAAA")
                .unwrap_err()
                .to_string(),
            "IV should be 16 bytes in length not 8"
        );
        assert_eq!(
            decrypt_secret(&[0u8; 32], &iv, &b64(&[1u8; 15]))
                .unwrap_err()
                .to_string(),
            "Length 15 must be a multiple of block size 16"
        );
        assert!(decrypt_secret(&[0u8; 32], &iv, "").is_err());
    }

    #[test]
    fn decrypts_what_the_openssl_cli_encrypts() {
        let dir = tempfile::tempdir().unwrap();
        let key: Vec<u8> = (0u8..32)
            .map(|i| i.wrapping_mul(7).wrapping_add(3))
            .collect();
        let iv: Vec<u8> = (0u8..16).map(|i| 0xf0 ^ i).collect();
        let hex = |b: &[u8]| b.iter().map(|x| format!("{x:02x}")).collect::<String>();
        for plain in [&b"letmein"[..], b"exactly sixteen!", b""] {
            let input = dir.path().join("in");
            std::fs::write(&input, plain).unwrap();
            let out = Command::new("openssl")
                .args(["enc", "-aes-256-cbc", "-a", "-A", "-K"])
                .arg(hex(&key))
                .arg("-iv")
                .arg(hex(&iv))
                .arg("-in")
                .arg(&input)
                .output()
                .expect("openssl CLI");
            assert!(
                out.status.success(),
                "{}",
                String::from_utf8_lossy(&out.stderr)
            );
            let data = String::from_utf8(out.stdout).unwrap();
            let got = decrypt_secret(&key, &b64(&iv), data.trim()).unwrap();
            assert_eq!(got, plain);
        }
    }

    #[test]
    fn wrong_key_is_reported_as_bad_padding() {
        let key = [9u8; 32];
        let iv = [1u8; 16];
        let mut c = Crypter::new(Cipher::aes_256_cbc(), Mode::Encrypt, &key, Some(&iv)).unwrap();
        let mut ct = vec![0u8; 64];
        let mut n = c.update(b"some secret text", &mut ct).unwrap();
        n += c.finalize(&mut ct[n..]).unwrap();
        ct.truncate(n);
        assert_eq!(
            decrypt_secret_raw(&key, &b64(&iv), &ct).unwrap(),
            b"some secret text"
        );
        // With a different key the padding check fails (almost always: the test
        // key was chosen so that it does).
        let e = decrypt_secret_raw(&[8u8; 32], &b64(&iv), &ct).unwrap_err();
        assert!(
            e.to_string()
                .starts_with("Incorrect number of padding bytes ("),
            "{e}"
        );
    }
}
