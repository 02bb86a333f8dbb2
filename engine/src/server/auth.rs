//! Credentials (CSP-REFERENCE §1.5): salted Argon2id hashes for 2-way login, passwords sealed
//! with ChaCha20-Poly1305 under the server key for 4-way digest login, and the digest itself.
//!
//! The 4-way scheme needs the password to compute H(nonce ‖ password), so a one-way hash is
//! not enough; the sealed copy is only opened to check a digest.

use base64::Engine as _;
use chacha20poly1305::aead::{Aead, KeyInit, Payload};
use chacha20poly1305::{ChaCha20Poly1305, Key, Nonce};
use md5::{Digest as _, Md5};
use rand_core::RngCore;
use serde::{Deserialize, Serialize};
use sha1::Sha1;

use crate::codec::access::DigestSchema;

/// A salted Argon2id password hash with the cost it was made with.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PasswordHash {
    /// Random salt.
    pub salt: [u8; 16],
    /// Argon2id output.
    pub hash: [u8; 32],
    /// Memory cost, KiB.
    pub memory_kib: u32,
    /// Passes.
    pub iterations: u32,
}

fn argon2(memory_kib: u32, iterations: u32) -> Option<argon2::Argon2<'static>> {
    let params = argon2::Params::new(memory_kib.max(8), iterations.max(1), 1, Some(32)).ok()?;
    Some(argon2::Argon2::new(
        argon2::Algorithm::Argon2id,
        argon2::Version::V0x13,
        params,
    ))
}

impl PasswordHash {
    /// Hashes `password` with a fresh salt from `rng`.
    pub fn new(
        password: &str,
        memory_kib: u32,
        iterations: u32,
        rng: &mut impl RngCore,
    ) -> Option<Self> {
        let mut salt = [0u8; 16];
        rng.fill_bytes(&mut salt);
        let mut hash = [0u8; 32];
        argon2(memory_kib, iterations)?
            .hash_password_into(password.as_bytes(), &salt, &mut hash)
            .ok()?;
        Some(PasswordHash {
            salt,
            hash,
            memory_kib,
            iterations,
        })
    }

    /// Whether `password` matches (constant time in the comparison).
    pub fn verify(&self, password: &str) -> bool {
        let mut out = [0u8; 32];
        let Some(a) = argon2(self.memory_kib, self.iterations) else {
            return false;
        };
        if a.hash_password_into(password.as_bytes(), &self.salt, &mut out)
            .is_err()
        {
            return false;
        }
        ct_eq(&out, &self.hash)
    }
}

/// Constant-time equality of two byte strings of equal length.
pub fn ct_eq(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// Parses a 64-hex-digit key.
pub fn parse_key(hex: &str) -> Option<[u8; 32]> {
    let hex = hex.trim();
    if hex.len() != 64 {
        return None;
    }
    let mut key = [0u8; 32];
    for (i, byte) in key.iter_mut().enumerate() {
        let pair = hex.get(i * 2..i * 2 + 2)?;
        *byte = u8::from_str_radix(pair, 16).ok()?;
    }
    Some(key)
}

/// Seals `password` for `user` under `key`: 12-byte nonce then ciphertext and tag.
pub fn seal(key: &[u8; 32], user: &str, password: &str, rng: &mut impl RngCore) -> Option<Vec<u8>> {
    let cipher = ChaCha20Poly1305::new(Key::from_slice(key));
    let mut nonce = [0u8; 12];
    rng.fill_bytes(&mut nonce);
    let ct = cipher
        .encrypt(
            Nonce::from_slice(&nonce),
            Payload {
                msg: password.as_bytes(),
                aad: user.as_bytes(),
            },
        )
        .ok()?;
    let mut out = Vec::with_capacity(nonce.len() + ct.len());
    out.extend_from_slice(&nonce);
    out.extend_from_slice(&ct);
    Some(out)
}

/// Opens a password sealed by [`seal`] for the same `user`.
pub fn open(key: &[u8; 32], user: &str, sealed: &[u8]) -> Option<String> {
    let (nonce, ct) = sealed.split_at_checked(12)?;
    let cipher = ChaCha20Poly1305::new(Key::from_slice(key));
    let pt = cipher
        .decrypt(
            Nonce::from_slice(nonce),
            Payload {
                msg: ct,
                aad: user.as_bytes(),
            },
        )
        .ok()?;
    String::from_utf8(pt).ok()
}

/// `H(nonce ‖ password)` with the characters taken as ISO-8859-1 bytes where they fit
/// (CSP-REFERENCE §1.5, as the Android client computes it); `None` for schemes without a digest.
pub fn digest_bytes(schema: &DigestSchema, nonce: &str, password: &str) -> Option<Vec<u8>> {
    let mut input: Vec<u8> = Vec::with_capacity(nonce.len() + password.len());
    for c in nonce.chars().chain(password.chars()) {
        match u8::try_from(u32::from(c)) {
            Ok(latin1) => input.push(latin1),
            Err(_) => {
                let mut buf = [0u8; 4];
                input.extend_from_slice(c.encode_utf8(&mut buf).as_bytes());
            }
        }
    }
    match schema {
        DigestSchema::Md5 => Some(Md5::digest(&input).to_vec()),
        DigestSchema::Sha => Some(Sha1::digest(&input).to_vec()),
        _ => None,
    }
}

/// `DigestBytes` as sent: `base64(H(nonce ‖ password))`.
pub fn digest(schema: &DigestSchema, nonce: &str, password: &str) -> Option<String> {
    digest_bytes(schema, nonce, password)
        .map(|d| base64::engine::general_purpose::STANDARD.encode(d))
}

/// Decodes base64 leniently (padding optional, whitespace ignored).
pub fn b64_decode(text: &str) -> Option<Vec<u8>> {
    let clean: String = text.chars().filter(|c| !c.is_whitespace()).collect();
    base64::engine::general_purpose::STANDARD
        .decode(clean.as_bytes())
        .or_else(|_| {
            base64::engine::general_purpose::STANDARD_NO_PAD
                .decode(clean.trim_end_matches('=').as_bytes())
        })
        .ok()
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use rand_core::SeedableRng;

    #[test]
    fn hash_verifies_and_rejects() {
        let mut rng = rand_chacha::ChaCha20Rng::seed_from_u64(1);
        let h = PasswordHash::new("secret", 8, 1, &mut rng).unwrap();
        assert!(h.verify("secret"));
        assert!(!h.verify("Secret"));
    }

    #[test]
    fn seal_round_trip_bound_to_user() {
        let mut rng = rand_chacha::ChaCha20Rng::seed_from_u64(2);
        let key = [7u8; 32];
        let s = seal(&key, "wv:a@x", "pw", &mut rng).unwrap();
        assert_eq!(open(&key, "wv:a@x", &s).as_deref(), Some("pw"));
        assert_eq!(open(&key, "wv:b@x", &s), None);
        assert_eq!(open(&[8u8; 32], "wv:a@x", &s), None);
    }

    #[test]
    fn digest_known_values() {
        // md5("abcpass") and sha1("abcpass"), base64.
        assert_eq!(
            digest(&DigestSchema::Md5, "abc", "pass").unwrap(),
            "Z4NHE+IUBLFtmr8yKWYJcg=="
        );
        assert_eq!(
            digest(&DigestSchema::Sha, "abc", "pass").unwrap(),
            "H/ekvZ0NBOR+BpAwfdeTnMbIfPg="
        );
        assert!(digest(&DigestSchema::Pwd, "abc", "pass").is_none());
    }
}
