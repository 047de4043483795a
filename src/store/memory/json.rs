//! Just enough JSON scanning to replace the top-level `"cookie"` value of a stored session
//! in place (what `touch` does), without parsing the rest of the session.

/// Index just past the JSON value starting at `i` (after whitespace), or `None` when the
/// text is not well formed there.
fn skip_value(s: &[u8], mut i: usize) -> Option<usize> {
    i = skip_ws(s, i);
    match *s.get(i)? {
        b'"' => skip_string(s, i),
        b'{' | b'[' => {
            let mut depth = 0usize;
            while i < s.len() {
                match s[i] {
                    b'"' => {
                        i = skip_string(s, i)?;
                        continue;
                    }
                    b'{' | b'[' => depth += 1,
                    b'}' | b']' => {
                        depth -= 1;
                        if depth == 0 {
                            return Some(i + 1);
                        }
                    }
                    _ => {}
                }
                i += 1;
            }
            None
        }
        _ => {
            // number, true, false, null
            let start = i;
            while i < s.len() && !matches!(s[i], b',' | b'}' | b']' | b' ' | b'\t' | b'\n' | b'\r')
            {
                i += 1;
            }
            (i > start).then_some(i)
        }
    }
}

/// Index just past the string whose opening quote is at `i`.
fn skip_string(s: &[u8], mut i: usize) -> Option<usize> {
    i += 1;
    while i < s.len() {
        match s[i] {
            b'\\' => i += 2,
            b'"' => return Some(i + 1),
            _ => i += 1,
        }
    }
    None
}

fn skip_ws(s: &[u8], mut i: usize) -> usize {
    while i < s.len() && matches!(s[i], b' ' | b'\t' | b'\n' | b'\r') {
        i += 1;
    }
    i
}

/// `json` (an object's text) with its top-level `"cookie"` value replaced by `cookie`, or the
/// key added at the end when absent, the way `session.cookie = cookie; JSON.stringify(session)`
/// would write it. `None` when `json` is not an object.
pub fn replace_cookie(json: &[u8], cookie: &[u8]) -> Option<Vec<u8>> {
    let mut i = skip_ws(json, 0);
    if json.get(i) != Some(&b'{') {
        return None;
    }
    i = skip_ws(json, i + 1);
    let mut empty = true;
    if json.get(i) == Some(&b'}') {
        return splice_new(json, i, cookie, empty);
    }
    loop {
        if json.get(i) != Some(&b'"') {
            return None;
        }
        let key_end = skip_string(json, i)?;
        let is_cookie = &json[i..key_end] == b"\"cookie\"";
        i = skip_ws(json, key_end);
        if json.get(i) != Some(&b':') {
            return None;
        }
        let v_start = skip_ws(json, i + 1);
        let v_end = skip_value(json, v_start)?;
        if is_cookie {
            let mut out = Vec::with_capacity(json.len() - (v_end - v_start) + cookie.len());
            out.extend_from_slice(&json[..v_start]);
            out.extend_from_slice(cookie);
            out.extend_from_slice(&json[v_end..]);
            return Some(out);
        }
        empty = false;
        i = skip_ws(json, v_end);
        match json.get(i)? {
            b',' => i = skip_ws(json, i + 1),
            b'}' => return splice_new(json, i, cookie, empty),
            _ => return None,
        }
    }
}

fn splice_new(json: &[u8], close: usize, cookie: &[u8], empty: bool) -> Option<Vec<u8>> {
    let mut out = Vec::with_capacity(json.len() + cookie.len() + 11);
    out.extend_from_slice(&json[..close]);
    if !empty {
        out.push(b',');
    }
    out.extend_from_slice(b"\"cookie\":");
    out.extend_from_slice(cookie);
    out.extend_from_slice(&json[close..]);
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::replace_cookie;

    fn r(json: &str, cookie: &str) -> Option<String> {
        replace_cookie(json.as_bytes(), cookie.as_bytes()).map(|v| String::from_utf8(v).unwrap())
    }

    #[test]
    fn replaces_in_place_keeping_key_order() {
        assert_eq!(
            r(
                r#"{"a":1,"cookie":{"x":"}\"{"},"b":[1,{"c":2}]}"#,
                r#"{"y":2}"#
            )
            .unwrap(),
            r#"{"a":1,"cookie":{"y":2},"b":[1,{"c":2}]}"#
        );
        assert_eq!(
            r(r#"{"cookie":{"path":"/"}}"#, r#"{"p":1}"#).unwrap(),
            r#"{"cookie":{"p":1}}"#
        );
    }

    #[test]
    fn nested_cookie_keys_are_not_the_top_level_one() {
        assert_eq!(
            r(r#"{"u":{"cookie":1},"s":"\"cookie\":"}"#, "2").unwrap(),
            r#"{"u":{"cookie":1},"s":"\"cookie\":","cookie":2}"#
        );
    }

    #[test]
    fn adds_when_missing() {
        assert_eq!(r("{}", "1").unwrap(), r#"{"cookie":1}"#);
        assert_eq!(r(r#"{"a":null}"#, "1").unwrap(), r#"{"a":null,"cookie":1}"#);
    }

    #[test]
    fn refuses_non_objects_and_broken_text() {
        assert_eq!(r("[]", "1"), None);
        assert_eq!(r("", "1"), None);
        assert_eq!(r(r#"{"a":"#, "1"), None);
        assert_eq!(r(r#"{"a":"x"#, "1"), None);
        assert_eq!(r(r#"{"a" 1}"#, "1"), None);
    }
}
