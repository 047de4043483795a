//! cookie: `parse` and `serialize` with `cookie@0.7.2`'s semantics, in Rust.
//!
//! Parsing works on the bytes of a `str`: every character the algorithm looks at (`=`, `;`,
//! space, tab, `"`, `%`) is ASCII, so byte positions found here sit on character
//! boundaries and slices stay valid UTF-8. Where cookie@0.7.2 relies on JavaScript itself
//! (an object drops a `__proto__` key, integer-like keys are ordered first), the JS layer
//! builds the object and gets that for free.

use std::borrow::Cow;
use std::collections::{HashMap, HashSet};
use std::ops::Range;

/// One `name=value` pair as cookie@0.7.2 delimits it: byte ranges into the header, the
/// name and value trimmed of SP/HTAB, one pair of surrounding `"` removed from the value.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Pair {
    pub name: Range<usize>,
    pub value: Range<usize>,
    /// The value holds a `%` (so the default decoder will try `decodeURIComponent`).
    pub has_percent: bool,
}

/// A code unit the parser can scan: UTF-8 bytes of a `str`, or UTF-16 units of a JS string
/// (which keeps lone surrogates as they are and gives JS offsets directly).
pub trait Unit: Copy + Eq + std::hash::Hash {
    fn code(self) -> u32;
    /// Position of the first unit equal to `a` or `b`.
    fn find2(s: &[Self], a: u8, b: u8) -> Option<usize>;
}

impl Unit for u8 {
    #[inline]
    fn code(self) -> u32 {
        self as u32
    }
    #[inline]
    fn find2(s: &[u8], a: u8, b: u8) -> Option<usize> {
        s.iter().position(|&x| x == a || x == b)
    }
}

impl Unit for u16 {
    #[inline]
    fn code(self) -> u32 {
        self as u32
    }
    #[inline]
    fn find2(s: &[u16], a: u8, b: u8) -> Option<usize> {
        find2_u16(s, a as u16, b as u16)
    }
}

/// [`Unit::find2`] for UTF-16, eight units at a time with SSE2 (part of every x86-64).
#[cfg(target_arch = "x86_64")]
fn find2_u16(s: &[u16], a: u16, b: u16) -> Option<usize> {
    use std::arch::x86_64::*;
    let mut i = 0;
    // SAFETY: SSE2 is always available on x86-64; every load reads 8 units inside `s`.
    unsafe {
        let va = _mm_set1_epi16(a as i16);
        let vb = _mm_set1_epi16(b as i16);
        while i + 8 <= s.len() {
            let v = _mm_loadu_si128(s.as_ptr().add(i).cast::<__m128i>());
            let m = _mm_or_si128(_mm_cmpeq_epi16(v, va), _mm_cmpeq_epi16(v, vb));
            let mask = _mm_movemask_epi8(m) as u32;
            if mask != 0 {
                return Some(i + mask.trailing_zeros() as usize / 2);
            }
            i += 8;
        }
    }
    s[i..].iter().position(|&x| x == a || x == b).map(|p| p + i)
}

#[cfg(not(target_arch = "x86_64"))]
fn find2_u16(s: &[u16], a: u16, b: u16) -> Option<usize> {
    s.iter().position(|&x| x == a || x == b)
}

/// Every pair of a header, in order, duplicates included (cookie@0.7.2 keeps the first).
pub struct Pairs<'a, T> {
    s: &'a [T],
    index: usize,
    done: bool,
}

/// Iterate over the pairs of `header` exactly where cookie@0.7.2's `parse` finds them.
pub fn pairs(header: &str) -> Pairs<'_, u8> {
    // A name needs one character plus '=' (cookie checks the UTF-16 length; the only
    // header shorter than 2 bytes with a '=' in it is "=" itself, skipped either way).
    pairs_units(header.as_bytes())
}

/// [`pairs`] over code units (UTF-16 for a JS string: then the ranges are JS offsets).
pub fn pairs_units<T: Unit>(s: &[T]) -> Pairs<'_, T> {
    Pairs {
        s,
        index: 0,
        done: s.len() < 2,
    }
}

#[inline]
fn is_ws<T: Unit>(b: T) -> bool {
    let c = b.code();
    c == 0x20 || c == 0x09
}

/// First non-SP/HTAB at or after `index` (looked at even when `index == max`), else `max`.
fn start_index<T: Unit>(s: &[T], mut index: usize, max: usize) -> usize {
    loop {
        match s.get(index) {
            Some(&b) if is_ws(b) => {}
            _ => return index,
        }
        index += 1;
        if index >= max {
            return max;
        }
    }
}

/// One past the last non-SP/HTAB before `index`, not below `min`.
fn end_index<T: Unit>(s: &[T], mut index: usize, min: usize) -> usize {
    while index > min {
        index -= 1;
        if !s.get(index).is_some_and(|&b| is_ws(b)) {
            return index + 1;
        }
    }
    min
}

impl<T: Unit> Iterator for Pairs<'_, T> {
    type Item = Pair;

    fn next(&mut self) -> Option<Pair> {
        if self.done {
            return None;
        }
        let s = self.s;
        let len = s.len();
        // cookie: eq = indexOf('=', index); if a ';' comes before it, the pair restarts at
        // lastIndexOf(';', eq - 1) + 1. One forward scan finds both.
        let mut start = self.index;
        let eq = loop {
            let Some(i) = s.get(start..).and_then(|r| T::find2(r, b'=', b';')) else {
                self.done = true; // no more '=': no more pairs
                return None;
            };
            if s[start + i].code() == 0x3D {
                break start + i;
            }
            start += i + 1;
        };
        let mut has_percent = false;
        let mut j = eq + 1;
        let end = loop {
            match s.get(j..).and_then(|rest| T::find2(rest, b';', b'%')) {
                None => break len,
                Some(k) if s[j + k].code() == 0x3B => break j + k,
                Some(k) => {
                    has_percent = true; // between '=' and ';' only the value can hold it
                    j += k + 1;
                }
            }
        };
        let name_start = start_index(s, start, eq);
        let name_end = end_index(s, eq, name_start);
        let mut vs = start_index(s, eq + 1, end);
        let mut ve = end_index(s, end, vs);
        let quote = |i: usize| s.get(i).is_some_and(|b| b.code() == 0x22);
        if quote(vs) && ve > 0 && quote(ve - 1) {
            vs += 1;
            ve -= 1;
        }
        if vs > ve {
            // A lone `"`: cookie's slice(start, end) with start > end gives "".
            vs = ve;
        }
        self.index = end + 1;
        if self.index >= len {
            self.done = true;
        }
        Some(Pair {
            name: name_start..name_end,
            value: vs..ve,
            has_percent,
        })
    }
}

/// cookie@0.7.2's default decoder: `decodeURIComponent` when the value has a `%`, and the
/// raw value when that throws (a bad escape, or bytes that are not UTF-8).
pub fn decode(value: &str) -> Cow<'_, str> {
    if !value.as_bytes().contains(&b'%') {
        return Cow::Borrowed(value);
    }
    match percent_decode(value.as_bytes()) {
        Some(s) => Cow::Owned(s),
        None => Cow::Borrowed(value),
    }
}

fn hex(b: u8) -> Option<u8> {
    match b {
        b'0'..=b'9' => Some(b - b'0'),
        b'a'..=b'f' => Some(b - b'a' + 10),
        b'A'..=b'F' => Some(b - b'A' + 10),
        _ => None,
    }
}

/// `decodeURIComponent` over UTF-8: every `%XX` becomes its byte and the result must be
/// UTF-8 (overlong forms, surrogates and values past U+10FFFF rejected, as ECMAScript
/// requires). Unescaped input bytes are whole UTF-8 characters, so an escaped lead byte can
/// never be completed by an unescaped one: validating the whole result is the same test.
fn percent_decode(s: &[u8]) -> Option<String> {
    let mut out = Vec::with_capacity(s.len());
    let mut i = 0;
    while i < s.len() {
        let b = s[i];
        if b == b'%' {
            let hi = hex(*s.get(i + 1)?)?;
            let lo = hex(*s.get(i + 2)?)?;
            out.push(hi << 4 | lo);
            i += 3;
        } else {
            out.push(b);
            i += 1;
        }
    }
    String::from_utf8(out).ok()
}

fn hex_at<T: Unit>(s: &[T], i: usize) -> Option<u8> {
    let d = |i: usize| {
        let c = s.get(i)?.code();
        hex(u8::try_from(c).ok()?)
    };
    Some(d(i + 1)? << 4 | d(i + 2)?)
}

/// `decodeURIComponent` over UTF-16 units, appended to `out`; `false` where JS throws a
/// URIError (then `out` holds garbage past its old length). Unescaped units, lone
/// surrogates included, pass through as JS passes them.
pub fn decode_utf16(s: &[u16], out: &mut Vec<u16>) -> bool {
    let mut i = 0;
    while let Some(&c) = s.get(i) {
        if c != 0x25 {
            out.push(c);
            i += 1;
            continue;
        }
        let Some(b) = hex_at(s, i) else { return false };
        i += 3;
        if b < 0x80 {
            out.push(b as u16);
            continue;
        }
        let n = b.leading_ones() as usize;
        if !(2..=4).contains(&n) {
            return false;
        }
        let mut bytes = [b, 0, 0, 0];
        for byte in bytes.iter_mut().take(n).skip(1) {
            if s.get(i) != Some(&0x25) {
                return false;
            }
            match hex_at(s, i) {
                Some(cb) if cb & 0xC0 == 0x80 => *byte = cb,
                _ => return false,
            }
            i += 3;
        }
        // Rejects overlong forms, surrogates and code points past U+10FFFF, as JS does.
        let Some(ch) = std::str::from_utf8(&bytes[..n])
            .ok()
            .and_then(|t| t.chars().next())
        else {
            return false;
        };
        let mut buf = [0u16; 2];
        out.extend_from_slice(ch.encode_utf16(&mut buf));
    }
    true
}

/// `parse`: names to decoded values, the first occurrence of a name wins, in header order.
pub fn parse(header: &str) -> Vec<(&str, Cow<'_, str>)> {
    let mut out: Vec<(&str, Cow<'_, str>)> = Vec::new();
    let mut seen: HashSet<&str> = HashSet::new();
    for p in pairs(header) {
        let name = &header[p.name];
        let fresh = if out.len() < 16 {
            !out.iter().any(|(n, _)| *n == name)
        } else {
            if seen.is_empty() {
                seen.extend(out.iter().map(|(n, _)| *n));
            }
            seen.insert(name)
        };
        if fresh {
            out.push((name, decode(&header[p.value])));
        }
    }
    out
}

/// The value of the first cookie named `name`, decoded as `parse` would.
pub fn get<'a>(header: &'a str, name: &str) -> Option<Cow<'a, str>> {
    get_raw(header, name).map(decode)
}

/// The raw (not decoded) value of the first cookie named `name`.
pub fn get_raw<'a>(header: &'a str, name: &str) -> Option<&'a str> {
    pairs(header)
        .find(|p| header.get(p.name.clone()) == Some(name))
        .and_then(|p| header.get(p.value))
}

/// express-session's cookie read: the first cookie named `name`, decoded, which must start
/// with `s:` and carry a signature one of the `keys` made. Anything else is `None`.
pub fn session_id(header: &str, name: &str, keys: &crate::signature::Keyring) -> Option<String> {
    verify_value(get_raw(header, name)?, keys)
}

/// A raw cookie value, decoded, `s:`-prefixed, signed by one of `keys`: the unsigned value.
fn verify_value(raw: &str, keys: &crate::signature::Keyring) -> Option<String> {
    let v = decode(raw);
    keys.unsign_str(v.strip_prefix("s:")?).map(str::to_owned)
}

/// The cookie value holds a lone surrogate: UTF-8 can't carry the answer unchanged.
#[derive(Debug, PartialEq, Eq)]
pub struct LoneSurrogate;

/// [`session_id`] over a JS string's UTF-16 units (name compared unit by unit, as JS
/// compares property names). `Err` when the value found holds a lone surrogate.
pub fn session_id_utf16(
    header: &[u16],
    name: &[u16],
    keys: &crate::signature::Keyring,
) -> Result<Option<String>, LoneSurrogate> {
    let Some(p) = pairs_units(header).find(|p| header.get(p.name.clone()) == Some(name)) else {
        return Ok(None);
    };
    let units = header.get(p.value).unwrap_or_default();
    let value: String = if units.iter().all(|&u| u < 0x80) {
        units.iter().map(|&u| u as u8 as char).collect()
    } else {
        String::from_utf16(units).map_err(|_| LoneSurrogate)?
    };
    Ok(verify_value(&value, keys))
}

// ---------------------------------------------------------------------------------------
// parse for a JS caller: records of UTF-16 offsets, names as small ids

/// Numbers per pair written by [`RecordParser::run`] (after the first slot of `out`, the
/// count of numbers written): name id (or -1), name start, name end, value start, value
/// end, and where the value is: 0 = those UTF-16 offsets in the header, 1 = in
/// [`RecordParser::decoded`].
pub const RECORD: usize = 6;
/// Names worth an id: at most this many, each at most this long.
const MAX_NAMES: usize = 4096;
const MAX_NAME_LEN: usize = 256;
/// Names without an id in one header before the caller is asked to parse it itself.
const MAX_UNNAMED: usize = 32;

/// FxHash: cookie names are short and the table is bounded; SipHash costs more than the
/// parse of a pair.
#[derive(Default, Clone, Copy)]
pub struct Fx(u64);

impl std::hash::Hasher for Fx {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        for chunk in bytes.chunks(8) {
            let mut w = [0u8; 8];
            w[..chunk.len()].copy_from_slice(chunk);
            self.0 = (self.0.rotate_left(5) ^ u64::from_le_bytes(w))
                .wrapping_mul(0x51_7c_c1_b7_27_22_0a_95);
        }
    }
}

/// cookie@0.7.2's parse for a caller that builds the object itself (lib/cookie.js): the
/// pairs cookie keeps (first occurrence wins, `__proto__` never kept), as offsets into the
/// caller's own UTF-16 string, each value %-decoded as cookie's default decoder would.
/// Names seen before get a small id, so the caller can reuse one key string per name: a
/// site's cookie names are few and come back on every request, usually in the same order,
/// which is tried first.
#[derive(Default)]
pub struct RecordParser {
    ids: HashMap<Box<[u16]>, i32, std::hash::BuildHasherDefault<Fx>>,
    names: Vec<Box<[u16]>>,
    /// Per id, the call that last saw it: "first occurrence wins" without a set per call.
    seen: Vec<u32>,
    call: u32,
    /// The ids of the previous header, in order: the first guess for this one.
    last: Vec<i32>,
    order: Vec<i32>,
    decoded: Vec<u16>,
}

impl RecordParser {
    /// The decoded values of the last [`RecordParser::run`], one after another.
    pub fn decoded(&self) -> &[u16] {
        &self.decoded
    }

    fn id_of(&mut self, name: &[u16], k: usize) -> Option<i32> {
        if let Some(&guess) = self.last.get(k) {
            if guess >= 0 && self.names.get(guess as usize).is_some_and(|n| **n == *name) {
                return Some(guess);
            }
        }
        if let Some(&id) = self.ids.get(name) {
            return Some(id);
        }
        if self.names.len() < MAX_NAMES && name.len() <= MAX_NAME_LEN {
            let id = self.names.len() as i32;
            self.ids.insert(name.into(), id);
            self.names.push(name.into());
            self.seen.push(0);
            return Some(id);
        }
        None
    }

    /// Fill `out` with the count and the records (and [`RecordParser::decoded`]); `false`
    /// when the caller should parse this header itself (more pairs than `out` holds, or
    /// many names past the table's bounds).
    pub fn run(&mut self, header: &[u16], out: &mut [i32]) -> bool {
        const PROTO: [u16; 9] = [95, 95, 112, 114, 111, 116, 111, 95, 95]; // "__proto__"
        self.decoded.clear();
        self.order.clear();
        self.call = self.call.wrapping_add(1);
        if self.call == 0 {
            self.seen.iter_mut().for_each(|s| *s = 0);
            self.call = 1;
        }
        let mut unnamed: Vec<&[u16]> = Vec::new(); // names without an id, seen this call
        let mut n = 1;
        for p in pairs_units(header) {
            let name = &header[p.name.clone()];
            if name == PROTO {
                continue; // a JS object can't hold it as an own property: cookie drops it
            }
            let id = match self.id_of(name, self.order.len()) {
                Some(id) => {
                    let seen = &mut self.seen[id as usize];
                    if *seen == self.call {
                        continue;
                    }
                    *seen = self.call;
                    id
                }
                None => {
                    if unnamed.contains(&name) {
                        continue;
                    }
                    if unnamed.len() == MAX_UNNAMED {
                        return false;
                    }
                    unnamed.push(name);
                    -1
                }
            };
            self.order.push(id);
            let Some(rec) = out.get_mut(n..n + RECORD) else {
                return false;
            };
            rec[0] = id;
            rec[1] = p.name.start as i32;
            rec[2] = p.name.end as i32;
            let value = &header[p.value.clone()];
            let from = self.decoded.len();
            if p.has_percent && decode_utf16(value, &mut self.decoded) {
                rec[3] = from as i32;
                rec[4] = self.decoded.len() as i32;
                rec[5] = 1;
            } else {
                self.decoded.truncate(from); // not decodable: the raw value, as cookie does
                rec[3] = p.value.start as i32;
                rec[4] = p.value.end as i32;
                rec[5] = 0;
            }
            n += RECORD;
        }
        let Some(count) = out.first_mut() else {
            return false;
        };
        *count = (n - 1) as i32;
        std::mem::swap(&mut self.last, &mut self.order);
        true
    }
}

// ---------------------------------------------------------------------------------------
// serialize

/// `encodeURIComponent`: everything but `A-Z a-z 0-9 - _ . ! ~ * ' ( )` percent-encoded as
/// UTF-8 with upper-case hex. (A JS string with a lone surrogate makes JS throw; the JS
/// layer keeps such strings away from here.)
pub fn encode(value: &str) -> Cow<'_, str> {
    fn keep(b: u8) -> bool {
        b.is_ascii_alphanumeric()
            || matches!(
                b,
                b'-' | b'_' | b'.' | b'!' | b'~' | b'*' | b'\'' | b'(' | b')'
            )
    }
    if value.bytes().all(keep) {
        return Cow::Borrowed(value);
    }
    const HEX: &[u8; 16] = b"0123456789ABCDEF";
    let mut out = String::with_capacity(value.len() * 3);
    for b in value.bytes() {
        if keep(b) {
            out.push(b as char);
        } else {
            out.push('%');
            out.push(HEX[(b >> 4) as usize] as char);
            out.push(HEX[(b & 15) as usize] as char);
        }
    }
    Cow::Owned(out)
}

/// RFC 6265 cookie-name (an RFC 7230 token): one or more tchar.
pub fn is_valid_name(name: &str) -> bool {
    !name.is_empty()
        && name.bytes().all(|b| {
            b.is_ascii_alphanumeric()
                || matches!(
                    b,
                    b'!' | b'#'
                        | b'$'
                        | b'%'
                        | b'&'
                        | b'\''
                        | b'*'
                        | b'+'
                        | b'-'
                        | b'.'
                        | b'^'
                        | b'_'
                        | b'`'
                        | b'|'
                        | b'~'
                )
        })
}

fn is_cookie_octet(b: u8) -> bool {
    matches!(b, 0x21 | 0x23..=0x2B | 0x2D..=0x3A | 0x3C..=0x5B | 0x5D..=0x7E)
}

/// RFC 6265 cookie-value: cookie-octets, optionally wrapped in one pair of `"`.
pub fn is_valid_value(value: &str) -> bool {
    let b = value.as_bytes();
    let inner = if b.len() >= 2 && b[0] == b'"' && b[b.len() - 1] == b'"' {
        &b[1..b.len() - 1]
    } else {
        b
    };
    inner.iter().all(|&c| is_cookie_octet(c))
}

/// cookie@0.7.2's domain check: an optional leading `.`, then dot-separated labels of 1–63
/// letters, digits and `-`, not starting or ending with `-` (ASCII, case-insensitive).
pub fn is_valid_domain(domain: &str) -> bool {
    let d = domain.strip_prefix('.').unwrap_or(domain);
    d.split('.').all(|label| {
        let l = label.as_bytes();
        !l.is_empty()
            && l.len() <= 63
            && l.iter().all(|&c| c.is_ascii_alphanumeric() || c == b'-')
            && l[0] != b'-'
            && l[l.len() - 1] != b'-'
    })
}

/// cookie@0.7.2's path check: characters 0x20–0x3A and 0x3D–0x7E (no CTLs, `;` or `<`).
pub fn is_valid_path(path: &str) -> bool {
    path.bytes().all(|b| matches!(b, 0x20..=0x3A | 0x3D..=0x7E))
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Priority {
    Low,
    Medium,
    High,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SameSite {
    Strict,
    Lax,
    None,
}

/// Serialize options; an absent option is `None`/`false`. An option given but invalid is
/// `Some(Err(()))`, so errors come out in cookie's order.
#[derive(Clone, Debug, Default)]
pub struct SerializeOptions<'a> {
    /// `Math.floor(maxAge)`; not finite → "option maxAge is invalid".
    pub max_age: Option<f64>,
    pub domain: Option<&'a str>,
    pub path: Option<&'a str>,
    /// The `Expires` date already formatted (JS `Date#toUTCString`), or `Err` if invalid.
    pub expires: Option<Result<&'a str, ()>>,
    pub http_only: bool,
    pub secure: bool,
    pub partitioned: bool,
    pub priority: Option<Result<Priority, ()>>,
    pub same_site: Option<Result<SameSite, ()>>,
}

/// What `serialize` rejects; `message()` is cookie@0.7.2's TypeError message.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SerializeError {
    Name,
    Value,
    MaxAge,
    Domain,
    Path,
    Expires,
    Priority,
    SameSite,
}

impl SerializeError {
    pub fn message(self) -> &'static str {
        match self {
            SerializeError::Name => "argument name is invalid",
            SerializeError::Value => "argument val is invalid",
            SerializeError::MaxAge => "option maxAge is invalid",
            SerializeError::Domain => "option domain is invalid",
            SerializeError::Path => "option path is invalid",
            SerializeError::Expires => "option expires is invalid",
            SerializeError::Priority => "option priority is invalid",
            SerializeError::SameSite => "option sameSite is invalid",
        }
    }
}

impl std::fmt::Display for SerializeError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.message())
    }
}

impl std::error::Error for SerializeError {}

/// A JS `Number#toString` of an integral finite f64 (what `'; Max-Age=' + n` prints).
pub fn js_integer_string(n: f64) -> String {
    if n == 0.0 {
        return "0".to_owned(); // -0 prints as 0
    }
    // Shortest round-trip digits, as JS picks them: `d.ddde±x`.
    let s = format!("{n:e}");
    if n.abs() >= 1e21 {
        return s.replacen('e', "e+", 1); // 1e+21, 1.5e+22
    }
    // Below 1e21 JS prints the digits padded with zeros: 999999999999999900000.
    let (mantissa, exp) = s.split_once('e').unwrap_or((&s, "0"));
    let exp: usize = exp.parse().unwrap_or(0);
    let neg = mantissa.starts_with('-');
    let digits: String = mantissa.chars().filter(|c| c.is_ascii_digit()).collect();
    let mut out = String::with_capacity(exp + 2);
    if neg {
        out.push('-');
    }
    out.push_str(&digits);
    while out.len() < exp + 1 + usize::from(neg) {
        out.push('0');
    }
    out
}

/// `serialize(name, value, options)`: `value` is encoded with `encodeURIComponent` unless
/// `encoded` says it already is (a custom encoder ran in JS).
pub fn serialize(
    name: &str,
    value: &str,
    encoded: bool,
    opt: Option<&SerializeOptions<'_>>,
) -> Result<String, SerializeError> {
    if !is_valid_name(name) {
        return Err(SerializeError::Name);
    }
    let value = if encoded {
        Cow::Borrowed(value)
    } else {
        encode(value)
    };
    if !is_valid_value(&value) {
        return Err(SerializeError::Value);
    }
    let mut s = String::with_capacity(name.len() + value.len() + 64);
    s.push_str(name);
    s.push('=');
    s.push_str(&value);
    let Some(o) = opt else { return Ok(s) };
    if let Some(m) = o.max_age {
        if !m.is_finite() {
            return Err(SerializeError::MaxAge);
        }
        s.push_str("; Max-Age=");
        s.push_str(&js_integer_string(m.floor()));
    }
    if let Some(d) = o.domain {
        if !is_valid_domain(d) {
            return Err(SerializeError::Domain);
        }
        s.push_str("; Domain=");
        s.push_str(d);
    }
    if let Some(p) = o.path {
        if !is_valid_path(p) {
            return Err(SerializeError::Path);
        }
        s.push_str("; Path=");
        s.push_str(p);
    }
    if let Some(e) = o.expires {
        let e = e.map_err(|_| SerializeError::Expires)?;
        s.push_str("; Expires=");
        s.push_str(e);
    }
    if o.http_only {
        s.push_str("; HttpOnly");
    }
    if o.secure {
        s.push_str("; Secure");
    }
    if o.partitioned {
        s.push_str("; Partitioned");
    }
    if let Some(p) = o.priority {
        s.push_str(match p.map_err(|_| SerializeError::Priority)? {
            Priority::Low => "; Priority=Low",
            Priority::Medium => "; Priority=Medium",
            Priority::High => "; Priority=High",
        });
    }
    if let Some(v) = o.same_site {
        s.push_str(match v.map_err(|_| SerializeError::SameSite)? {
            SameSite::Strict => "; SameSite=Strict",
            SameSite::Lax => "; SameSite=Lax",
            SameSite::None => "; SameSite=None",
        });
    }
    Ok(s)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::signature::Keyring;

    fn p(h: &str) -> Vec<(String, String)> {
        parse(h)
            .into_iter()
            .map(|(k, v)| (k.to_owned(), v.into_owned()))
            .collect()
    }

    fn kv(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn parse_basics() {
        assert_eq!(p("foo=bar"), kv(&[("foo", "bar")]));
        assert_eq!(p("foo=123"), kv(&[("foo", "123")]));
        assert_eq!(
            p("FOO    = bar;   baz  =   raz"),
            kv(&[("FOO", "bar"), ("baz", "raz")])
        );
        assert_eq!(
            p("foo=\"bar=123456789&name=Magic+Mouse\""),
            kv(&[("foo", "bar=123456789&name=Magic+Mouse")])
        );
        assert_eq!(p("email=%20%22%2c%3b%2f"), kv(&[("email", " \",;/")]));
        assert_eq!(p("foo=%1;bar=bar"), kv(&[("foo", "%1"), ("bar", "bar")]));
        assert_eq!(p("foo=bar;fizz  ;  buzz"), kv(&[("foo", "bar")]));
        assert_eq!(p("  fizz; foo=  bar"), kv(&[("foo", "bar")]));
        assert_eq!(
            p("foo=%1;bar=bar;foo=boo"),
            kv(&[("foo", "%1"), ("bar", "bar")])
        );
        assert_eq!(p("a=\"\""), kv(&[("a", "")]));
        assert_eq!(p("a=\""), kv(&[("a", "")]));
        assert_eq!(p("a=\"b"), kv(&[("a", "\"b")]));
        assert_eq!(p("="), kv(&[]));
        assert_eq!(p("=="), kv(&[("", "=")]));
        assert_eq!(p("a\t=\tb\t"), kv(&[("a", "b")]));
        assert_eq!(p("a=%E2%82%AC"), kv(&[("a", "€")]));
        assert_eq!(p("a=%ED%A0%80"), kv(&[("a", "%ED%A0%80")]), "surrogate");
        assert_eq!(p("a=%C0%80"), kv(&[("a", "%C0%80")]), "overlong");
        assert_eq!(
            p("a=%F4%90%80%80"),
            kv(&[("a", "%F4%90%80%80")]),
            "past U+10FFFF"
        );
        assert_eq!(p("a=%"), kv(&[("a", "%")]));
        assert_eq!(p("a=%zz"), kv(&[("a", "%zz")]));
        assert_eq!(p("a=%C3é"), kv(&[("a", "%C3é")]));
        assert_eq!(p("é=ü; x=%C3%A9"), kv(&[("é", "ü"), ("x", "é")]));
        assert_eq!(p(";;a=1;;;b=2;"), kv(&[("a", "1"), ("b", "2")]));
    }

    #[test]
    fn find2_u16_every_position() {
        for len in 0..40 {
            for at in 0..len {
                let mut v = vec![b'x' as u16; len];
                v[at] = b';' as u16;
                assert_eq!(find2_u16(&v, b'=' as u16, b';' as u16), Some(at));
                if at + 1 < len {
                    v[at + 1] = b'=' as u16;
                    assert_eq!(find2_u16(&v[at + 1..], b'=' as u16, b';' as u16), Some(0));
                }
            }
            assert_eq!(
                find2_u16(&vec![0x3D3B; len], b'=' as u16, b';' as u16),
                None
            );
        }
    }

    /// Run a RecordParser and rebuild name → value pairs from its records.
    fn records(rp: &mut RecordParser, h: &str) -> Option<Vec<(i32, String, String)>> {
        let u: Vec<u16> = h.encode_utf16().collect();
        let mut out = vec![0i32; 1 + RECORD * 64];
        if !rp.run(&u, &mut out) {
            return None;
        }
        let n = out[0] as usize;
        Some(
            out[1..1 + n]
                .chunks(RECORD)
                .map(|r| {
                    let src: &[u16] = if r[5] == 1 { rp.decoded() } else { &u };
                    let name = String::from_utf16(&u[r[1] as usize..r[2] as usize]).unwrap();
                    let value = String::from_utf16(&src[r[3] as usize..r[4] as usize]).unwrap();
                    (r[0], name, value)
                })
                .collect(),
        )
    }

    #[test]
    fn record_parser_equals_parse_and_reuses_ids() {
        let mut rp = RecordParser::default();
        for h in [
            "a=1; b=%41; a=2; __proto__=x; c=\"q\"",
            "b=2; a=1",
            "x=%zz; b=3; b=4",
            "",
        ] {
            let got: Vec<(String, String)> = records(&mut rp, h)
                .unwrap()
                .into_iter()
                .map(|(_, k, v)| (k, v))
                .collect();
            let want: Vec<(String, String)> = parse(h)
                .into_iter()
                .filter(|(k, _)| *k != "__proto__")
                .map(|(k, v)| (k.to_owned(), v.into_owned()))
                .collect();
            assert_eq!(got, want, "{h}");
        }
        let ids = |rp: &mut RecordParser, h| -> Vec<i32> {
            records(rp, h).unwrap().into_iter().map(|r| r.0).collect()
        };
        assert_eq!(ids(&mut rp, "a=1; b=2; x=3"), [0, 1, 3]);
        assert_eq!(
            ids(&mut rp, "x=1; a=2; a=3"),
            [3, 0],
            "ids stay, order or not"
        );
        // A header past the unnamed bound is handed back to the caller.
        let mut full = RecordParser::default();
        for i in 0..MAX_NAMES {
            assert!(full.run(
                &format!("n{i}=1").encode_utf16().collect::<Vec<_>>(),
                &mut [0; 7]
            ));
        }
        assert_eq!(ids(&mut full, "n5=1; new=2"), [5, -1]);
        let many: Vec<String> = (0..40).map(|i| format!("m{i}=1")).collect();
        assert!(records(&mut full, &many.join(";")).is_none());
    }

    #[test]
    fn has_percent_marks_values_with_a_percent() {
        for h in [
            "a=%41; b=x",
            "a = \"%\" ;b=%",
            "a=1;%=2",
            "%a=b",
            "x=y%",
            "q;%;r=s",
        ] {
            for p in pairs(h) {
                assert_eq!(p.has_percent, h[p.value.clone()].contains('%'), "{h}");
            }
        }
    }

    #[test]
    fn parse_many_names_dedups_with_a_set() {
        let mut h = String::new();
        for i in 0..100 {
            h.push_str(&format!("k{i}=v{i}; "));
        }
        h.push_str("k5=again; k99=again");
        let r = p(&h);
        assert_eq!(r.len(), 100);
        assert_eq!(r[5], ("k5".into(), "v5".into()));
        assert_eq!(r[99], ("k99".into(), "v99".into()));
    }

    #[test]
    fn get_and_session_id() {
        let keys = Keyring::new([&b"new"[..], &b"old"[..]]);
        let old = Keyring::new([&b"old"[..]]);
        let signed = format!("s:{}", old.sign("abc").unwrap());
        let enc = encode(&signed).into_owned();
        let h = format!("a=1; connect.sid={enc}; connect.sid=s:zzz");
        assert_eq!(get(&h, "a").as_deref(), Some("1"));
        assert_eq!(get(&h, "connect.sid").as_deref(), Some(signed.as_str()));
        assert_eq!(session_id(&h, "connect.sid", &keys).as_deref(), Some("abc"));
        assert_eq!(session_id(&h, "a", &keys), None);
        assert_eq!(session_id(&h, "missing", &keys), None);
        let raw = format!("connect.sid={}", &signed[2..]);
        assert_eq!(session_id(&raw, "connect.sid", &keys), None, "needs s:");
        assert_eq!(session_id("", "connect.sid", &keys), None);
        let u = |s: &str| s.encode_utf16().collect::<Vec<u16>>();
        let name = u("connect.sid");
        assert_eq!(
            session_id_utf16(&u(&h), &name, &keys),
            Ok(Some("abc".into()))
        );
        assert_eq!(session_id_utf16(&u("x=1"), &name, &keys), Ok(None));
        let mut lone = u("connect.sid=s:");
        lone.push(0xD800);
        assert_eq!(session_id_utf16(&lone, &name, &keys), Err(LoneSurrogate));
        let mut other = u("\u{0}=1; connect.sid=");
        other[0] = 0xDC00; // a lone surrogate elsewhere is fine
        other.extend(u(&enc));
        assert_eq!(
            session_id_utf16(&other, &name, &keys),
            Ok(Some("abc".into()))
        );
    }

    #[test]
    fn serialize_basics() {
        assert_eq!(serialize("foo", "bar", false, None).unwrap(), "foo=bar");
        assert_eq!(
            serialize("foo", "bar baz", false, None).unwrap(),
            "foo=bar%20baz"
        );
        assert_eq!(serialize("foo", "", false, None).unwrap(), "foo=");
        assert_eq!(
            serialize("foo\n", "bar", false, None),
            Err(SerializeError::Name)
        );
        assert_eq!(serialize("", "bar", false, None), Err(SerializeError::Name));
        assert_eq!(
            serialize("foo", "a;b", true, None),
            Err(SerializeError::Value)
        );
        assert_eq!(serialize("foo", "\"a\"", true, None).unwrap(), "foo=\"a\"");
        assert_eq!(
            serialize("foo", "\"", true, None),
            Err(SerializeError::Value)
        );
        let o = SerializeOptions {
            max_age: Some(1000.9),
            domain: Some(".Example.com"),
            path: Some("/"),
            expires: Some(Ok("Thu, 01 Jan 1970 00:00:00 GMT")),
            http_only: true,
            secure: true,
            partitioned: true,
            priority: Some(Ok(Priority::High)),
            same_site: Some(Ok(SameSite::Lax)),
        };
        assert_eq!(
            serialize("a", "b", false, Some(&o)).unwrap(),
            "a=b; Max-Age=1000; Domain=.Example.com; Path=/; Expires=Thu, 01 Jan 1970 00:00:00 GMT; HttpOnly; Secure; Partitioned; Priority=High; SameSite=Lax"
        );
        let bad = |f: &dyn Fn(&mut SerializeOptions)| {
            let mut o = SerializeOptions::default();
            f(&mut o);
            serialize("a", "b", false, Some(&o)).unwrap_err()
        };
        assert_eq!(bad(&|o| o.max_age = Some(f64::NAN)), SerializeError::MaxAge);
        assert_eq!(
            bad(&|o| o.domain = Some("example.com.")),
            SerializeError::Domain
        );
        assert_eq!(bad(&|o| o.domain = Some("-a.com")), SerializeError::Domain);
        assert_eq!(bad(&|o| o.path = Some("/;x")), SerializeError::Path);
        assert_eq!(bad(&|o| o.path = Some("/<")), SerializeError::Path);
        assert_eq!(bad(&|o| o.expires = Some(Err(()))), SerializeError::Expires);
        assert_eq!(
            bad(&|o| o.priority = Some(Err(()))),
            SerializeError::Priority
        );
        assert_eq!(
            bad(&|o| o.same_site = Some(Err(()))),
            SerializeError::SameSite
        );
        assert!(is_valid_domain(&format!("{}.com", "a".repeat(63))));
        assert!(!is_valid_domain(&format!("{}.com", "a".repeat(64))));
        assert_eq!(js_integer_string(-0.0), "0");
        assert_eq!(js_integer_string(123.0), "123");
        assert_eq!(js_integer_string(-5.0), "-5");
        assert_eq!(js_integer_string(1e21), "1e+21");
        assert_eq!(js_integer_string(1.5e22), "1.5e+22");
        assert_eq!(
            js_integer_string(999999999999999900000.0),
            "999999999999999900000"
        );
    }

    #[test]
    fn decode_utf16_like_decode_uri_component() {
        let d = |s: &str| {
            let u: Vec<u16> = s.encode_utf16().collect();
            let mut out = Vec::new();
            decode_utf16(&u, &mut out).then(|| String::from_utf16(&out).unwrap())
        };
        assert_eq!(d("a%20b").as_deref(), Some("a b"));
        assert_eq!(d("%E2%82%AC%f0%9f%98%80").as_deref(), Some("€😀"));
        assert_eq!(d("é%3B").as_deref(), Some("é;"));
        for bad in [
            "%",
            "%4",
            "%zz",
            "%80",
            "%C3",
            "%C3%28",
            "%C0%80",
            "%ED%A0%80",
            "%F4%90%80%80",
            "%F8%80%80%80%80",
            "%E2%82",
        ] {
            assert_eq!(d(bad), None, "{bad}");
        }
        let mut out = Vec::new();
        assert!(decode_utf16(&[0xD800, 0x25, 0x34, 0x31], &mut out));
        assert_eq!(out, [0xD800, 0x41]);
    }

    #[test]
    fn encode_like_encode_uri_component() {
        assert_eq!(encode("aZ09-_.!~*'()"), "aZ09-_.!~*'()");
        assert_eq!(encode("a b;€\u{1F600}"), "a%20b%3B%E2%82%AC%F0%9F%98%80");
        assert_eq!(decode(&encode("x y;é\u{0}")), "x y;é\u{0}");
    }
}
