//! cookie: `parse` and `serialize` with `cookie@0.7.2`'s semantics, in Rust.
//!
//! Parsing works on the bytes of a `str`: every character the algorithm looks at (`=`, `;`,
//! space, tab, `"`, `%`) is ASCII, so byte positions found here sit on character
//! boundaries and slices stay valid UTF-8. Where cookie@0.7.2 relies on JavaScript itself
//! (an object drops a `__proto__` key, integer-like keys are ordered first), the JS layer
//! builds the object and gets that for free.

use std::borrow::Cow;
use std::collections::HashSet;
use std::ops::Range;

/// One `name=value` pair as cookie@0.7.2 delimits it: byte ranges into the header, the
/// name and value trimmed of SP/HTAB, one pair of surrounding `"` removed from the value.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Pair {
    pub name: Range<usize>,
    pub value: Range<usize>,
}

/// Every pair of a header, in order, duplicates included (cookie@0.7.2 keeps the first).
pub struct Pairs<'a> {
    s: &'a [u8],
    index: usize,
    done: bool,
}

/// Iterate over the pairs of `header` exactly where cookie@0.7.2's `parse` finds them.
pub fn pairs(header: &str) -> Pairs<'_> {
    let s = header.as_bytes();
    Pairs {
        s,
        index: 0,
        // A name needs one character plus '=' (cookie checks the UTF-16 length; the
        // only header shorter than 2 bytes with a '=' in it is "=" itself, also skipped).
        done: s.len() < 2,
    }
}

fn is_ws(b: u8) -> bool {
    b == b' ' || b == b'\t'
}

fn find(s: &[u8], from: usize, c: u8) -> Option<usize> {
    s.get(from..)?
        .iter()
        .position(|&b| b == c)
        .map(|i| i + from)
}

/// First non-SP/HTAB at or after `index` (looked at even when `index == max`), else `max`.
fn start_index(s: &[u8], mut index: usize, max: usize) -> usize {
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
fn end_index(s: &[u8], mut index: usize, min: usize) -> usize {
    while index > min {
        index -= 1;
        if !s.get(index).is_some_and(|&b| is_ws(b)) {
            return index + 1;
        }
    }
    min
}

impl Iterator for Pairs<'_> {
    type Item = Pair;

    fn next(&mut self) -> Option<Pair> {
        let s = self.s;
        let len = s.len();
        while !self.done {
            let index = self.index;
            let Some(eq) = find(s, index, b'=') else {
                self.done = true;
                return None;
            };
            let end = match find(s, index, b';') {
                None => len,
                Some(semi) if eq > semi => {
                    // The '=' belongs to a later pair: restart after the last ';' before it.
                    let back = s[..eq].iter().rposition(|&b| b == b';').unwrap_or(semi);
                    self.index = back + 1;
                    if self.index >= len {
                        self.done = true;
                    }
                    continue;
                }
                Some(semi) => semi,
            };
            let name_start = start_index(s, index, eq);
            let name_end = end_index(s, eq, name_start);
            let mut vs = start_index(s, eq + 1, end);
            let mut ve = end_index(s, end, vs);
            if s.get(vs) == Some(&b'"') && ve > 0 && s.get(ve - 1) == Some(&b'"') {
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
            return Some(Pair {
                name: name_start..name_end,
                value: vs..ve,
            });
        }
        None
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
    pairs(header)
        .find(|p| &header[p.name.clone()] == name)
        .map(|p| decode(&header[p.value]))
}

/// express-session's cookie read: the first cookie named `name`, decoded, which must start
/// with `s:` and carry a signature one of the `keys` made. Anything else is `None`.
pub fn session_id<'a>(
    header: &'a str,
    name: &str,
    keys: &crate::signature::Keyring,
) -> Option<Cow<'a, str>> {
    match get(header, name)? {
        Cow::Borrowed(v) => keys.unsign_str(v.strip_prefix("s:")?).map(Cow::Borrowed),
        Cow::Owned(v) => keys
            .unsign_str(v.strip_prefix("s:")?)
            .map(|s| Cow::Owned(s.to_owned())),
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
    fn encode_like_encode_uri_component() {
        assert_eq!(encode("aZ09-_.!~*'()"), "aZ09-_.!~*'()");
        assert_eq!(encode("a b;€\u{1F600}"), "a%20b%3B%E2%82%AC%F0%9F%98%80");
        assert_eq!(decode(&encode("x y;é\u{0}")), "x y;é\u{0}");
    }
}
