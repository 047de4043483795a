//! signature: `cookie-signature`'s format, in Rust.
//!
//! `sign(value) = value + "." + base64(HMAC-SHA256(secret, value))` with the trailing `=`
//! stripped (43 characters for SHA-256). `unsign` follows cookie-signature 1.2.x: split at
//! the last `.`, recompute the signature of the part before it and compare the rest with
//! it in constant time; anything else (appended garbage, `=` padding put back, a truncated
//! or base64url signature, a wrong secret) is rejected.
//!
//! A [`Key`] holds the HMAC state after the key schedule (the inner and outer pads already
//! hashed, RFC 2104), so signing a value of up to 55 bytes costs two SHA-256 compressions
//! and nothing else: HMAC is written out here over sha2's compression function (the
//! `hmac` crate, used in the tests as the reference, spends more on its generic state than
//! on the hashing). A [`Keyring`] is an ordered list of keys: the first signs, all verify,
//! in order.
//!
//! Strings are bytes here. The JS layer hands over UTF-8 with lone surrogates replaced by
//! U+FFFD, which is exactly what Node's `crypto` hashes for a JS string.

use base64::engine::general_purpose::STANDARD_NO_PAD;
use base64::Engine;
use sha2::block_api::compress256;
use sha2::{Digest, Sha256};

/// Length of an unpadded base64 HMAC-SHA256: 32 bytes → 43 characters.
pub const SIGNATURE_LEN: usize = 43;

/// SHA-256's initial state (FIPS 180-4, 5.3.3).
const IV: [u32; 8] = [
    0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a, 0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19,
];

/// One secret, with its HMAC key state precomputed: SHA-256 states after absorbing the
/// key XOR ipad and the key XOR opad blocks.
#[derive(Clone)]
pub struct Key {
    inner: [u32; 8],
    outer: [u32; 8],
}

/// Finish a SHA-256 whose state has absorbed `done` whole bytes, with `rest` (any length)
/// still to come: the Merkle–Damgård padding of FIPS 180-4 5.1.1.
fn finish(mut state: [u32; 8], done: u64, rest: &[u8]) -> [u8; 32] {
    let total_bits = (done + rest.len() as u64).wrapping_mul(8);
    let mut chunks = rest.chunks_exact(64);
    for block in &mut chunks {
        let mut b = [0u8; 64];
        b.copy_from_slice(block);
        compress256(&mut state, &[b]);
    }
    let tail = chunks.remainder();
    let mut last = [[0u8; 64]; 2];
    let flat = last.as_flattened_mut();
    flat[..tail.len()].copy_from_slice(tail);
    flat[tail.len()] = 0x80;
    // The length goes in the last 8 bytes of the first block if it fits, else the second.
    let blocks = if tail.len() < 56 { 1 } else { 2 };
    flat[blocks * 64 - 8..blocks * 64].copy_from_slice(&total_bits.to_be_bytes());
    compress256(&mut state, &last[..blocks]);
    let mut out = [0u8; 32];
    for (o, w) in out.chunks_exact_mut(4).zip(state) {
        o.copy_from_slice(&w.to_be_bytes());
    }
    out
}

impl Key {
    /// Any byte string is a valid HMAC key (longer than a block: hashed first, as HMAC says).
    pub fn new(secret: &[u8]) -> Key {
        let mut k = [0u8; 64];
        if secret.len() > 64 {
            k[..32].copy_from_slice(&Sha256::digest(secret));
        } else {
            k[..secret.len()].copy_from_slice(secret);
        }
        let pad = |x: u8| {
            let mut state = IV;
            compress256(&mut state, &[k.map(|b| b ^ x)]);
            state
        };
        Key {
            inner: pad(0x36),
            outer: pad(0x5c),
        }
    }

    /// HMAC-SHA256 of `value`.
    pub fn tag(&self, value: &[u8]) -> [u8; 32] {
        let inner = finish(self.inner, 64, value);
        finish(self.outer, 64, &inner)
    }

    /// The signature of `value`: unpadded standard base64 of HMAC-SHA256, 43 ASCII bytes.
    pub fn signature(&self, value: &[u8]) -> [u8; SIGNATURE_LEN] {
        let mut out = [0u8; SIGNATURE_LEN];
        // 32 bytes always encode to exactly 43 characters without padding.
        let _ = STANDARD_NO_PAD.encode_slice(self.tag(value), &mut out);
        out
    }

    /// Does `sig` equal the signature of `value`? Constant time in the signature bytes.
    pub fn verify(&self, value: &[u8], sig: &[u8]) -> bool {
        decode_signature(sig).is_some_and(|t| ct_eq(&self.tag(value), &t))
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
        // The text compare of cookie-signature, done on the 32 bytes: the decoding accepts
        // exactly the canonical 43-character encodings, so equal bytes mean equal text.
        let tag = decode_signature(sig)?;
        // In order, first match wins (as express-session and cookie-parser loop). Each
        // comparison is constant time; which secret matched is not a secret.
        self.keys
            .iter()
            .position(|key| ct_eq(&key.tag(value), &tag))
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

/// The 32 bytes of a canonical signature: 43 characters of the standard alphabet, no
/// padding, the unused low bits of the last character zero. Anything else is `None`.
fn decode_signature(sig: &[u8]) -> Option<[u8; 32]> {
    if sig.len() != SIGNATURE_LEN {
        return None;
    }
    let mut buf = [0u8; 33];
    match STANDARD_NO_PAD.decode_slice(sig, &mut buf) {
        Ok(32) => {
            // base64's decoder refuses non-zero unused bits (tested below), so no two
            // texts decode to the same bytes.
            let mut tag = [0u8; 32];
            tag.copy_from_slice(&buf[..32]);
            Some(tag)
        }
        _ => None,
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

    /// The HMAC tag of a signature (unpadded base64) as lowercase hex, as RFC 4231 prints it.
    fn hex_tag(sig: &[u8]) -> String {
        let tag = base64::engine::general_purpose::STANDARD_NO_PAD
            .decode(sig)
            .unwrap();
        tag.iter().map(|b| format!("{b:02x}")).collect()
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
        assert_eq!(
            hex_tag(&sig),
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
        // A key longer than the SHA-256 block (RFC 4231 test case 6).
        let key = [0xaau8; 131];
        let sig =
            Key::new(&key).signature(b"Test Using Larger Than Block-Size Key - Hash Key First");
        assert_eq!(
            hex_tag(&sig),
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
    fn only_the_canonical_signature_text_verifies() {
        let k = ring(&["k"]);
        let s = k.sign("v").unwrap();
        let sig = &s[2..];
        assert_eq!(k.unsign_str(&s), Some("v"));
        // Every other last character: same leading bits or not, it must fail.
        let b64 = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/-_=.";
        for c in b64.chars() {
            let mut t = sig[..42].to_string();
            t.push(c);
            let want = (t == sig).then_some("v");
            assert_eq!(k.unsign_str(&format!("v.{t}")), want, "{t}");
        }
    }

    #[test]
    fn hmac_equals_the_hmac_crate_for_every_length() {
        use hmac::{Hmac, KeyInit, Mac};
        let bytes: Vec<u8> = (0..400u32).map(|i| (i * 7 + 3) as u8).collect();
        for key_len in [0, 1, 31, 32, 63, 64, 65, 100, 128, 200] {
            let key = &bytes[..key_len];
            let k = Key::new(key);
            for len in 0..300 {
                let v = &bytes[key_len % 7..key_len % 7 + len];
                let mut m = Hmac::<Sha256>::new_from_slice(key).unwrap();
                m.update(v);
                assert_eq!(
                    &k.tag(v)[..],
                    m.finalize().into_bytes().as_slice(),
                    "key {key_len} len {len}"
                );
            }
        }
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
