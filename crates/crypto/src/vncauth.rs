//! RFB VNC Authentication (DES challenge/response).

use des::Des;
use des::cipher::{Array, BlockCipherEncrypt, KeyInit};
use zeroize::Zeroize;

/// Length of the VNC authentication challenge and response, in bytes.
pub const VNC_CHALLENGE_LEN: usize = 16;

/// Number of password bytes that VNC authentication uses; the rest is ignored.
pub const VNC_KEY_LEN: usize = 8;

/// Builds the DES key for VNC authentication from a password.
///
/// The first [`VNC_KEY_LEN`] bytes are used (shorter passwords are NUL-padded,
/// longer ones truncated) and the bit order of every byte is reversed.
#[must_use]
pub fn vnc_des_key(password: &[u8]) -> [u8; VNC_KEY_LEN] {
    let mut key = [0u8; VNC_KEY_LEN];
    for (k, p) in key.iter_mut().zip(password) {
        *k = p.reverse_bits();
    }
    key
}

/// Computes the client's response to a VNC authentication challenge.
#[must_use]
pub fn vnc_auth_response(
    password: &[u8],
    challenge: &[u8; VNC_CHALLENGE_LEN],
) -> [u8; VNC_CHALLENGE_LEN] {
    let mut key = vnc_des_key(password);
    let cipher = Des::new(&Array::from(key));
    key.zeroize();
    let mut out = *challenge;
    for half in out.chunks_exact_mut(8) {
        let mut block = Array::<u8, _>::from([0u8; 8]);
        block.copy_from_slice(half);
        cipher.encrypt_block(&mut block);
        half.copy_from_slice(&block);
    }
    out
}

/// Checks a client's response against the expected one for `password`.
///
/// All 16 bytes are compared, in time independent of where they differ.
#[must_use]
pub fn vnc_auth_check(
    password: &[u8],
    challenge: &[u8; VNC_CHALLENGE_LEN],
    response: &[u8; VNC_CHALLENGE_LEN],
) -> bool {
    let mut expected = vnc_auth_response(password, challenge);
    let ok = constant_time_eq(&expected, response);
    expected.zeroize();
    ok
}

/// Compares two byte strings in time that depends only on their lengths.
#[must_use]
pub fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    let diff = a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y));
    core::hint::black_box(diff) == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hex(b: &[u8]) -> String {
        b.iter().map(|x| format!("{x:02x}")).collect()
    }

    #[test]
    fn known_answer_secret_zero_challenge() {
        let r = vnc_auth_response(b"secret", &[0; 16]);
        assert_eq!(hex(&r), "9613a23f1dcac5419613a23f1dcac541");
    }

    #[test]
    fn key_is_bit_reversed_and_padded() {
        assert_eq!(
            vnc_des_key(b"\x01\x80\x0f"),
            [0x80, 0x01, 0xf0, 0, 0, 0, 0, 0]
        );
        assert_eq!(vnc_des_key(b""), [0; 8]);
    }

    #[test]
    fn blocks_are_encrypted_independently_ecb() {
        let mut ch = [0u8; 16];
        ch[8..].copy_from_slice(&[1, 2, 3, 4, 5, 6, 7, 8]);
        let r = vnc_auth_response(b"pw", &ch);
        let first = vnc_auth_response(b"pw", &[0; 16]);
        assert_eq!(r[..8], first[..8]);
        assert_ne!(r[8..], first[8..]);
    }

    #[test]
    fn passwords_longer_than_eight_bytes_are_truncated() {
        let ch = [0x5a; 16];
        assert_eq!(
            vnc_auth_response(b"abcdefgh", &ch),
            vnc_auth_response(b"abcdefghIGNORED", &ch)
        );
        let r = vnc_auth_response(b"abcdefgh", &ch);
        assert!(vnc_auth_check(b"abcdefghXYZ", &ch, &r));
    }

    #[test]
    fn cve_2008_5714_all_eight_password_bytes_checked() {
        let ch: [u8; 16] = core::array::from_fn(|i| u8::try_from(i * 7).unwrap());
        let good = vnc_auth_response(b"abcdefgh", &ch);
        let bad = vnc_auth_response(b"abcdefgX", &ch);
        assert_ne!(good, bad);
        assert!(vnc_auth_check(b"abcdefgh", &ch, &good));
        assert!(!vnc_auth_check(b"abcdefgh", &ch, &bad));
    }

    #[test]
    fn cve_2011_0011_empty_password_still_needs_the_zero_key_response() {
        let ch = [0x42; 16];
        let zero_key = vnc_auth_response(b"", &ch);
        // The response is a real DES encryption, not the challenge or zeros.
        assert_ne!(zero_key, ch);
        assert_ne!(zero_key, [0; 16]);
        assert!(vnc_auth_check(b"", &ch, &zero_key));
        assert!(!vnc_auth_check(b"", &ch, &[0; 16]));
        assert!(!vnc_auth_check(b"", &ch, &ch));
        // An explicit all-NUL password is the same key as the empty one.
        assert_eq!(vnc_auth_response(b"\0\0\0", &ch), zero_key);
    }

    #[test]
    fn every_response_byte_matters() {
        let ch = [9; 16];
        let good = vnc_auth_response(b"pass", &ch);
        for i in 0..16 {
            let mut bad = good;
            bad[i] ^= 1;
            assert!(!vnc_auth_check(b"pass", &ch, &bad), "byte {i}");
        }
    }

    #[test]
    fn constant_time_eq_basics() {
        assert!(constant_time_eq(b"", b""));
        assert!(constant_time_eq(b"abc", b"abc"));
        assert!(!constant_time_eq(b"abc", b"abd"));
        assert!(!constant_time_eq(b"abc", b"ab"));
    }
}
