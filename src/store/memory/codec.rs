//! A small LZ77 codec with a preset dictionary, for session JSON.
//!
//! Sessions of one app share most of their text (keys, the cookie object, ISO dates), so each
//! stored session is coded against a dictionary learned from the first sessions the store
//! sees, plus its own earlier bytes. Format: one tag byte (`RAW`, or the dictionary id), then
//! tokens: `0lllllll` + (l+1) literal bytes, or `1lllllll` + u16 LE position = a copy of
//! (l+4) bytes from position p of `dictionary ++ output so far`.

use std::sync::LazyLock;

pub const RAW: u8 = 0;
const MIN_MATCH: usize = 4;
const MAX_MATCH: usize = 127 + MIN_MATCH;
const DICT_BITS: u32 = 13;
const LOCAL_BITS: u32 = 10;
const NONE: u32 = u32::MAX;
/// Largest dictionary, so that `dictionary ++ input` positions fit in a u16.
pub const MAX_DICT: usize = 16 * 1024;
const CHAIN_DEPTH: usize = 4;
/// A match this long is taken without looking further.
const GOOD_MATCH: usize = 32;

/// Text every express-session app stores, the seed of every dictionary.
pub const SEED: &str = concat!(
    r#"{"cookie":{"originalMaxAge":86400000,"partitioned":true,"priority":"high","#,
    r#""expires":"2026-01-01T00:00:00.000Z","secure":false,"httpOnly":true,"domain":"","#,
    r#""path":"/","sameSite":"lax"},"passport":{"user":"},"flash":{},"user":{"id":"#,
    r#""name":"","email":"@example.com","roles":[],"csrfSecret":"","returnTo":"/"}"#,
    r#",null,false,true,"strict","none","secure":true,"sameSite":"strict"}"#
);

pub struct Dict {
    pub id: u8,
    bytes: Vec<u8>,
    head: Vec<u32>,
    prev: Vec<u32>,
}

#[inline]
fn hash4(s: &[u8], i: usize, bits: u32) -> usize {
    let v = u32::from_le_bytes([s[i], s[i + 1], s[i + 2], s[i + 3]]);
    (v.wrapping_mul(2_654_435_761) >> (32 - bits)) as usize
}

#[inline]
fn common(a: &[u8], b: &[u8]) -> usize {
    let n = a.len().min(b.len()).min(MAX_MATCH);
    let mut i = 0;
    while i + 8 <= n {
        let x = u64::from_le_bytes(a[i..i + 8].try_into().unwrap_or_default());
        let y = u64::from_le_bytes(b[i..i + 8].try_into().unwrap_or_default());
        let d = x ^ y;
        if d != 0 {
            return i + (d.trailing_zeros() / 8) as usize;
        }
        i += 8;
    }
    while i < n && a[i] == b[i] {
        i += 1;
    }
    i
}

#[inline]
fn word(s: &[u8], i: usize) -> u32 {
    u32::from_le_bytes([s[i], s[i + 1], s[i + 2], s[i + 3]])
}

impl Dict {
    /// A dictionary of `bytes` (truncated to `MAX_DICT`, keeping the end).
    pub fn new(id: u8, bytes: &[u8]) -> Dict {
        let bytes = bytes[bytes.len().saturating_sub(MAX_DICT)..].to_vec();
        let mut head = vec![NONE; 1 << DICT_BITS];
        let mut prev = vec![NONE; bytes.len()];
        let ends = bytes.len().saturating_sub(MIN_MATCH - 1);
        for (p, link) in prev.iter_mut().enumerate().take(ends) {
            let h = hash4(&bytes, p, DICT_BITS);
            *link = head[h];
            head[h] = p as u32;
        }
        Dict {
            id,
            bytes,
            head,
            prev,
        }
    }
}

/// The dictionary made of `SEED` alone (id 1), used until a store has learned its own.
pub static SEED_DICT: LazyLock<Dict> = LazyLock::new(|| Dict::new(1, SEED.as_bytes()));

/// `input` coded against `dict`; falls back to a raw copy when that is not smaller.
pub fn encode(input: &[u8], dict: &Dict) -> Vec<u8> {
    let dl = dict.bytes.len();
    if input.len() < 16 || dl + input.len() > u16::MAX as usize {
        return raw(input);
    }
    let mut out = Vec::with_capacity(input.len() / 2 + 8);
    out.push(dict.id);
    let mut local = [u16::MAX; 1 << LOCAL_BITS];
    let n = input.len();
    let (mut i, mut lit) = (0usize, 0usize);
    while i + MIN_MATCH <= n {
        let mut best = (0usize, 0usize);
        let w = word(input, i);
        let mut c = dict.head[hash4(input, i, DICT_BITS)];
        let mut depth = 0;
        while c != NONE && depth < CHAIN_DEPTH {
            let cu = c as usize;
            // a candidate can only win if it also matches at the current best length
            if cu + MIN_MATCH <= dl
                && word(&dict.bytes, cu) == w
                && (best.0 == 0
                    || (cu + best.0 < dl
                        && i + best.0 < n
                        && dict.bytes[cu + best.0] == input[i + best.0]))
            {
                let l = common(&dict.bytes[cu..], &input[i..]);
                if l > best.0 {
                    best = (l, cu);
                    if l >= GOOD_MATCH {
                        break;
                    }
                }
            }
            c = dict.prev[cu];
            depth += 1;
        }
        let hl = hash4(input, i, LOCAL_BITS);
        let lc = local[hl];
        local[hl] = i as u16;
        if lc != u16::MAX && word(input, lc as usize) == w {
            let l = common(&input[lc as usize..], &input[i..]);
            if l > best.0 {
                best = (l, dl + lc as usize);
            }
        }
        if best.0 >= MIN_MATCH {
            let len = best.0.min(MAX_MATCH);
            literals(&mut out, &input[lit..i]);
            out.push(0x80 | (len - MIN_MATCH) as u8);
            out.extend_from_slice(&(best.1 as u16).to_le_bytes());
            // positions inside a match are not indexed: cheaper, and the dictionary
            // already holds what sessions repeat
            i += len;
            lit = i;
        } else {
            i += 1;
        }
    }
    literals(&mut out, &input[lit..]);
    if out.len() > input.len() {
        return raw(input);
    }
    out
}

fn raw(input: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(input.len() + 1);
    out.push(RAW);
    out.extend_from_slice(input);
    out
}

fn literals(out: &mut Vec<u8>, mut s: &[u8]) {
    while !s.is_empty() {
        let k = s.len().min(128);
        out.push((k - 1) as u8);
        out.extend_from_slice(&s[..k]);
        s = &s[k..];
    }
}

/// The dictionary id `data` was coded with (`RAW` for none).
pub fn dict_id(data: &[u8]) -> u8 {
    data.first().copied().unwrap_or(RAW)
}

/// Decodes what `encode` made with `dict` (ignored for raw data). `None` on corrupt data.
pub fn decode(data: &[u8], dict: Option<&Dict>) -> Option<Vec<u8>> {
    let (&tag, body) = data.split_first()?;
    if tag == RAW {
        return Some(body.to_vec());
    }
    let d = &dict?.bytes;
    let mut out = Vec::with_capacity(body.len() * 3);
    let mut i = 0;
    while i < body.len() {
        let b = body[i];
        i += 1;
        if b & 0x80 == 0 {
            let k = b as usize + 1;
            out.extend_from_slice(body.get(i..i + k)?);
            i += k;
        } else {
            let len = (b & 0x7f) as usize + MIN_MATCH;
            let p = u16::from_le_bytes([*body.get(i)?, *body.get(i + 1)?]) as usize;
            i += 2;
            if p < d.len() {
                out.extend_from_slice(d.get(p..p + len)?);
            } else {
                let from = p - d.len();
                if from >= out.len() {
                    return None;
                }
                for k in 0..len {
                    let byte = out[from + k];
                    out.push(byte);
                }
            }
        }
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn session(i: u32) -> String {
        format!(
            r#"{{"cookie":{{"originalMaxAge":86400000,"expires":"2026-11-2{}T20:11:22.{:03}Z","secure":false,"httpOnly":true,"path":"/","sameSite":"lax"}},"user":{{"id":{},"name":"user{}","email":"user{}@example.com","roles":["reader"]}},"csrfSecret":"x{:x}y{:x}","views":{},"note":"héllo 🎉"}}"#,
            i % 10,
            i % 1000,
            100000 + i,
            i,
            i,
            i.wrapping_mul(2_654_435_761),
            i.wrapping_mul(40503),
            i % 50
        )
    }

    #[test]
    fn round_trips_with_seed_and_learned_dictionaries() {
        let learned = Dict::new(2, (0..8).map(session).collect::<String>().as_bytes());
        for i in 0..300 {
            let s = session(1000 + i);
            for d in [&*SEED_DICT, &learned] {
                let e = encode(s.as_bytes(), d);
                assert_eq!(decode(&e, Some(d)).unwrap(), s.as_bytes());
            }
            let e = encode(s.as_bytes(), &learned);
            assert!(e.len() * 2 < s.len(), "{} of {}", e.len(), s.len());
        }
    }

    #[test]
    fn round_trips_odd_inputs() {
        let d = &*SEED_DICT;
        let long = "a".repeat(300) + &"xyz".repeat(1000);
        for s in ["", "{}", "aaaaaaaaaaaaaaaaaaaaaaaaaaaa", SEED, &long] {
            let e = encode(s.as_bytes(), d);
            assert_eq!(decode(&e, Some(d)).unwrap(), s.as_bytes());
        }
        let big = "q".repeat(70_000);
        assert_eq!(encode(big.as_bytes(), d)[0], RAW);
        assert_eq!(
            decode(&encode(big.as_bytes(), d), None).unwrap(),
            big.as_bytes()
        );
    }

    #[test]
    fn corrupt_data_is_refused_not_a_panic() {
        let d = &*SEED_DICT;
        let e = encode(session(3).as_bytes(), d);
        for cut in 0..e.len() {
            let _ = decode(&e[..cut], Some(d));
        }
        assert_eq!(decode(&[1, 0x80, 0xff, 0xff], Some(d)), None);
        assert_eq!(decode(&[1, 5, b'a'], Some(d)), None);
        assert_eq!(decode(&[1, 0], None), None);
    }
}
