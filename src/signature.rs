//! signature: `cookie-signature`'s format, in Rust.
//!
//! `sign(value) = value + "." + base64(HMAC-SHA256(secret, value))` with the trailing `=`
//! stripped (43 characters for SHA-256). `unsign` follows cookie-signature 1.2.x: split at
//! the last `.`, recompute the signature of the part before it and compare the rest with
//! it in constant time; anything else (appended garbage, `=` padding put back, a truncated
//! or base64url signature, a wrong secret) is rejected.
//!
//! A [`Key`] holds the HMAC state after the key schedule (the inner and outer pads already
//! hashed), so signing a short value costs two SHA-256 compressions and no key setup. A
//! [`Keyring`] is an ordered list of keys: the first signs, all verify, in order.
//!
//! Strings are bytes here. The JS layer hands over UTF-8 with lone surrogates replaced by
//! U+FFFD, which is exactly what Node's `crypto` hashes for a JS string.

use base64::engine::general_purpose::STANDARD_NO_PAD;
use base64::Engine;
use hmac::{Hmac, KeyInit, Mac};
use sha2::Sha256;

/// Length of an unpadded base64 HMAC-SHA256: 32 bytes → 43 characters.
pub const SIGNATURE_LEN: usize = 43;

/// One secret, with its HMAC key state precomputed.
#[derive(Clone)]
pub struct Key {
    mac: Hmac<Sha256>,
}

impl Key {
    /// Any byte string is a valid HMAC key (longer than a block: hashed first, as HMAC says).
    pub fn new(secret: &[u8]) -> Key {
        // `new_from_slice` accepts every length for HMAC; the fallback can't be reached.
        let mac = Hmac::<Sha256>::new_from_slice(secret)
            .unwrap_or_else(|_| Hmac::<Sha256>::new_from_slice(&[]).expect("empty HMAC key"));
        Key { mac }
    }

    /// The signature of `value`: unpadded standard base64 of HMAC-SHA256, 43 ASCII bytes.
    pub fn signature(&self, value: &[u8]) -> [u8; SIGNATURE_LEN] {
        let mut mac = self.mac.clone();
        mac.update(value);
        let tag = mac.finalize().into_bytes();
        let mut out = [0u8; SIGNATURE_LEN];
        // 32 bytes always encode to exactly 43 characters without padding.
        let _ = STANDARD_NO_PAD.encode_slice(tag.as_slice(), &mut out);
        out
    }

    /// Does `sig` equal the signature of `value`? Constant time in the signature bytes.
    pub fn verify(&self, value: &[u8], sig: &[u8]) -> bool {
        sig.len() == SIGNATURE_LEN && ct_eq(&self.signature(value), sig)
    }
}

/// Secrets in order: the first signs, every one verifies.
#[derive(Clone)]
pub struct Keyring {
    keys: Vec<Key>,
}

impl Keyring {
    pub fn new<'a, I>(secrets: I) -> Keyring
    where
        I: IntoIterator<Item = &'a [u8]>,
    {
        Keyring {
            keys: secrets.into_iter().map(Key::new).collect(),
        }
    }

    pub fn len(&self) -> usize {
        self.keys.len()
    }

    pub fn is_empty(&self) -> bool {
        self.keys.is_empty()
    }

    /// The signature of `value` with the first secret (`None` for an empty keyring).
    pub fn signature(&self, value: &[u8]) -> Option<[u8; SIGNATURE_LEN]> {
        self.keys.first().map(|k| k.signature(value))
    }

    /// `value + "." + signature`, cookie-signature's `sign` (`None` for an empty keyring).
    pub fn sign(&self, value: &str) -> Option<String> {
        let sig = self.signature(value.as_bytes())?;
        let mut out = String::with_capacity(value.len() + 1 + SIGNATURE_LEN);
        out.push_str(value);
        out.push('.');
        // base64 output is ASCII.
        out.extend(sig.iter().map(|&b| b as char));
        Some(out)
    }

    /// Which secret (index) signed `input`, if any. cookie-signature 1.2.x `unsign`: the
    /// value is everything before the last `.`; no `.` at all never verifies.
    pub fn verify(&self, input: &[u8]) -> Option<usize> {
        let dot = input.iter().rposition(|&b| b == b'.')?;
        let (value, sig) = (&input[..dot], &input[dot + 1..]);
        if sig.len() != SIGNATURE_LEN {
            return None;
        }
        // In order, first match wins (as express-session and cookie-parser loop). Each
        // comparison is constant time; which secret matched is not a secret.
        self.keys.iter().position(|key| key.verify(value, sig))
    }

    /// cookie-signature's `unsign` over bytes: the value before the last `.`, or `None`.
    pub fn unsign<'a>(&self, input: &'a [u8]) -> Option<&'a [u8]> {
        self.verify(input)?;
        let dot = input.iter().rposition(|&b| b == b'.')?;
        Some(&input[..dot])
    }

    /// [`Keyring::unsign`] for a `str` (the split is at an ASCII `.`, so still UTF-8).
    pub fn unsign_str<'a>(&self, input: &'a str) -> Option<&'a str> {
        let v = self.unsign(input.as_bytes())?;
        input.get(..v.len())
    }
}

/// Constant-time equality of two byte strings of the same length (the length itself is
/// public: a signature is always 43 bytes).
pub fn ct_eq(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    let mut diff = 0u8;
    for (x, y) in a.iter().zip(b) {
        diff |= x ^ y;
    }
    std::hint::black_box(diff) == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ring(secrets: &[&str]) -> Keyring {
        Keyring::new(secrets.iter().map(|s| s.as_bytes()))
    }

    #[test]
    fn golden_vectors() {
        // cookie-signature's own test vector.
        let k = ring(&["tobiiscool"]);
        assert_eq!(
            k.sign("hello").unwrap(),
            "hello.DGDUkGlIkCzPz+C0B064FNgHdEjox7ch8tOBGslZ5QI"
        );
        // RFC 4231 test case 2: key "Jefe", data "what do ya want for nothing?".
        let sig = Key::new(b"Jefe").signature(b"what do ya want for nothing?");
        let tag = base64::engine::general_purpose::STANDARD_NO_PAD
            .decode(&sig[..])
            .unwrap();
        let hex: String = tag.iter().map(|b| format!("{b:02x}")).collect();
        assert_eq!(
            hex,
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
        // A key longer than the SHA-256 block (RFC 4231 test case 6).
        let key = [0xaau8; 131];
        let sig =
            Key::new(&key).signature(b"Test Using Larger Than Block-Size Key - Hash Key First");
        let tag = base64::engine::general_purpose::STANDARD_NO_PAD
            .decode(&sig[..])
            .unwrap();
        let hex: String = tag.iter().map(|b| format!("{b:02x}")).collect();
        assert_eq!(
            hex,
            "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54"
        );
    }

    #[test]
    fn unsign_round_trip_and_rejections() {
        let k = ring(&["tobiiscool"]);
        let s = k.sign("hello").unwrap();
        assert_eq!(k.unsign_str(&s), Some("hello"));
        assert_eq!(k.unsign_str(&format!("{s}x")), None, "appended garbage");
        assert_eq!(k.unsign_str(&format!("{s}=")), None, "padding put back");
        assert_eq!(k.unsign_str(&s[..s.len() - 1]), None, "truncated");
        let url = s.replace('+', "-").replace('/', "_");
        assert_ne!(url, s);
        assert_eq!(k.unsign_str(&url), None, "base64url");
        assert_eq!(ring(&["other"]).unsign_str(&s), None, "wrong secret");
        assert_eq!(k.unsign_str("no-dot-at-all"), None);
        assert_eq!(k.unsign_str(""), None);
        // Values may contain dots: the split is at the last one.
        let s = k.sign("a.b.c").unwrap();
        assert_eq!(k.unsign_str(&s), Some("a.b.c"));
        let s = k.sign("").unwrap();
        assert_eq!(k.unsign_str(&s), Some(""));
    }

    #[test]
    fn rotation_first_signs_all_verify_in_order() {
        let old = ring(&["old"]);
        let both = ring(&["new", "old"]);
        let s_old = old.sign("sid").unwrap();
        let s_new = both.sign("sid").unwrap();
        assert_eq!(s_new, ring(&["new"]).sign("sid").unwrap());
        assert_eq!(both.verify(s_old.as_bytes()), Some(1));
        assert_eq!(both.verify(s_new.as_bytes()), Some(0));
        assert_eq!(ring(&["x", "new", "new"]).verify(s_new.as_bytes()), Some(1));
        assert_eq!(
            Keyring::new(std::iter::empty()).verify(s_new.as_bytes()),
            None
        );
        assert!(Keyring::new(std::iter::empty()).sign("a").is_none());
    }

    #[test]
    fn ct_eq_basics() {
        assert!(ct_eq(b"", b""));
        assert!(ct_eq(b"abc", b"abc"));
        assert!(!ct_eq(b"abc", b"abd"));
        assert!(!ct_eq(b"abc", b"ab"));
    }

    #[test]
    fn binary_and_empty_secrets() {
        let k = Keyring::new([&[0u8, 255, 1][..], &[][..]]);
        let s = Keyring::new([&[][..]]).sign("v").unwrap();
        assert_eq!(k.verify(s.as_bytes()), Some(1));
    }
}
