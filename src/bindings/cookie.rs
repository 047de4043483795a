//! cookie bindings: conversion only.
//!
//! The per-request calls (a keyring's sign / verify / session-id read, and parse) are plain
//! N-API callbacks rather than `#[napi]` functions: napi-rs's generic argument handling
//! costs more than the work itself here (measured: ~200 ns per call against ~50 ns). They
//! read a JS string with one copy into a reused buffer, find their state in the callback's
//! `data` pointer, and return a number or a string. Every one runs under `catch_unwind`:
//! no panic can reach Node.
//!
//! What gets hashed crosses as UTF-8, where a lone surrogate becomes U+FFFD, exactly what
//! Node's crypto hashes. What gets parsed crosses as UTF-16, unchanged: parse hands back
//! offsets and JS slices its own string; a session id with a lone surrogate in it is
//! reported (`false`) so JS takes its exact path.

use std::cell::RefCell;
use std::ffi::{c_char, c_void, CString};
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::ptr;
use std::sync::Arc;

use napi::bindgen_prelude::*;
use napi::sys;
use napi_derive::napi;

use crate::cookie;
use crate::signature::Keyring;

const OK: sys::napi_status = sys::Status::napi_ok;

thread_local! {
    /// Reused buffers for string arguments: UTF-8 for what gets hashed, UTF-16 for what
    /// gets parsed (a one-byte V8 string widens to UTF-16 with a plain copy, and UTF-16
    /// offsets are JS offsets).
    static SCRATCH: RefCell<(Vec<u8>, Vec<u16>, Vec<u16>)> =
        const { RefCell::new((Vec::new(), Vec::new(), Vec::new())) };
}

/// Copy a JS string's UTF-16 units into `buf`. `false` if `v` is not a string.
unsafe fn read_utf16(env: sys::napi_env, v: sys::napi_value, buf: &mut Vec<u16>) -> bool {
    let mut units = 0usize;
    if sys::napi_get_value_string_utf16(env, v, ptr::null_mut(), 0, &mut units) != OK {
        return false;
    }
    let cap = units + 1;
    buf.clear();
    buf.reserve(cap);
    let mut written = 0usize;
    if sys::napi_get_value_string_utf16(env, v, buf.as_mut_ptr(), cap, &mut written) != OK {
        return false;
    }
    buf.set_len(written.min(cap));
    true
}

/// Copy a JS string's UTF-8 into `buf` in one pass (3 bytes per UTF-16 unit is the most a
/// unit can take). `false` if `v` is not a string.
unsafe fn read_utf8(env: sys::napi_env, v: sys::napi_value, buf: &mut Vec<u8>) -> bool {
    let mut units = 0usize;
    if sys::napi_get_value_string_utf16(env, v, ptr::null_mut(), 0, &mut units) != OK {
        return false;
    }
    let cap = units * 3 + 1;
    buf.clear();
    buf.reserve(cap);
    let mut written = 0usize;
    if sys::napi_get_value_string_utf8(env, v, buf.as_mut_ptr().cast::<c_char>(), cap, &mut written)
        != OK
    {
        return false;
    }
    buf.set_len(written.min(cap));
    true
}

unsafe fn args<const N: usize>(
    env: sys::napi_env,
    info: sys::napi_callback_info,
) -> ([sys::napi_value; N], *mut c_void) {
    let mut argc = N;
    let mut argv = [ptr::null_mut(); N];
    let mut data = ptr::null_mut();
    sys::napi_get_cb_info(
        env,
        info,
        &mut argc,
        argv.as_mut_ptr(),
        ptr::null_mut(),
        &mut data,
    );
    (argv, data)
}

unsafe fn throw_type_error(env: sys::napi_env, msg: &str) -> sys::napi_value {
    let msg = CString::new(msg).unwrap_or_default();
    sys::napi_throw_type_error(env, ptr::null(), msg.as_ptr());
    ptr::null_mut()
}

unsafe fn undefined(env: sys::napi_env) -> sys::napi_value {
    let mut v = ptr::null_mut();
    sys::napi_get_undefined(env, &mut v);
    v
}

unsafe fn boolean(env: sys::napi_env, b: bool) -> sys::napi_value {
    let mut v = ptr::null_mut();
    sys::napi_get_boolean(env, b, &mut v);
    v
}

unsafe fn int(env: sys::napi_env, n: i32) -> sys::napi_value {
    let mut v = ptr::null_mut();
    sys::napi_create_int32(env, n, &mut v);
    v
}

unsafe fn string(env: sys::napi_env, s: &[u8]) -> sys::napi_value {
    let mut v = ptr::null_mut();
    if s.is_ascii() {
        sys::napi_create_string_latin1(env, s.as_ptr().cast(), s.len() as isize, &mut v);
    } else {
        sys::napi_create_string_utf8(env, s.as_ptr().cast(), s.len() as isize, &mut v);
    }
    v
}

unsafe fn string_utf16(env: sys::napi_env, s: &[u16]) -> sys::napi_value {
    let mut v = ptr::null_mut();
    if s.iter().all(|&u| u < 0x100) {
        let latin1: Vec<u8> = s.iter().map(|&u| u as u8).collect();
        sys::napi_create_string_latin1(env, latin1.as_ptr().cast(), latin1.len() as isize, &mut v);
    } else {
        sys::napi_create_string_utf16(env, s.as_ptr(), s.len() as isize, &mut v);
    }
    v
}

/// Run a callback body; a panic becomes a thrown JS Error instead of an abort.
unsafe fn guarded(env: sys::napi_env, body: impl FnOnce() -> sys::napi_value) -> sys::napi_value {
    match catch_unwind(AssertUnwindSafe(body)) {
        Ok(v) => v,
        Err(_) => {
            let code = c"ERR_NATIVE_SESSION_PANIC";
            let msg =
                c"native-session: internal error in the cookie layer (a bug; please report it)";
            sys::napi_throw_error(env, code.as_ptr(), msg.as_ptr());
            ptr::null_mut()
        }
    }
}

unsafe fn create_function(
    env: sys::napi_env,
    name: &str,
    cb: sys::napi_callback,
    data: *mut c_void,
    finalize: sys::napi_finalize,
) -> Option<sys::napi_value> {
    let mut f = ptr::null_mut();
    if sys::napi_create_function(
        env,
        name.as_ptr().cast(),
        name.len() as isize,
        cb,
        data,
        &mut f,
    ) != OK
    {
        return None;
    }
    if finalize.is_some()
        && sys::napi_add_finalizer(env, f, data, finalize, ptr::null_mut(), ptr::null_mut()) != OK
    {
        return None;
    }
    Some(f)
}

// --- keyring ------------------------------------------------------------------------------

unsafe extern "C" fn drop_keyring(_env: sys::napi_env, data: *mut c_void, _hint: *mut c_void) {
    drop(Arc::from_raw(data as *const Keyring));
}

unsafe fn keyring<'a>(data: *mut c_void) -> &'a Keyring {
    &*(data as *const Keyring)
}

/// `signature(value)`: the 43-character signature of `value` with the first secret.
unsafe extern "C" fn keyring_signature(
    env: sys::napi_env,
    info: sys::napi_callback_info,
) -> sys::napi_value {
    guarded(env, || {
        let ([value], data) = args::<1>(env, info);
        SCRATCH.with(|s| {
            let buf = &mut s.borrow_mut().0;
            if !read_utf8(env, value, buf) {
                return throw_type_error(env, "Cookie value must be provided as a string.");
            }
            match keyring(data).signature(buf) {
                Some(sig) => string(env, &sig),
                None => undefined(env),
            }
        })
    })
}

/// `verify(input)`: index of the secret that signed `input` (cookie-signature 1.2.x), or -1.
unsafe extern "C" fn keyring_verify(
    env: sys::napi_env,
    info: sys::napi_callback_info,
) -> sys::napi_value {
    guarded(env, || {
        let ([input], data) = args::<1>(env, info);
        SCRATCH.with(|s| {
            let buf = &mut s.borrow_mut().0;
            if !read_utf8(env, input, buf) {
                return throw_type_error(env, "Signed cookie string must be provided.");
            }
            int(env, keyring(data).verify(buf).map_or(-1, |i| i as i32))
        })
    })
}

/// `sessionId(header, name)`: the verified id, `undefined`, or `false` when the cookie's
/// value holds a lone surrogate (JS must take its exact path).
unsafe extern "C" fn keyring_session_id(
    env: sys::napi_env,
    info: sys::napi_callback_info,
) -> sys::napi_value {
    guarded(env, || {
        let ([header, name], data) = args::<2>(env, info);
        SCRATCH.with(|s| {
            let (_, h, n) = &mut *s.borrow_mut();
            if !read_utf16(env, header, h) || !read_utf16(env, name, n) {
                return throw_type_error(env, "argument str must be a string");
            }
            match cookie::session_id_utf16(h, n, keyring(data)) {
                Ok(Some(id)) => string(env, id.as_bytes()),
                Ok(None) => undefined(env),
                Err(_) => boolean(env, false),
            }
        })
    })
}

/// `[signature, verify, sessionId]` for these secrets (bytes, in order; the first signs),
/// sharing one keyring with every HMAC key state precomputed. The keyring is freed when
/// the last of the three functions is collected.
#[napi(catch_unwind)]
pub fn cookie_keyring_create(env: Env, secrets: Vec<Uint8Array>) -> Result<sys::napi_value> {
    let ring = Arc::new(Keyring::new(secrets.iter().map(|s| &s[..])));
    let env = env.raw();
    let mut arr = ptr::null_mut();
    unsafe {
        sys::napi_create_array_with_length(env, 3, &mut arr);
        let fns: [(&str, sys::napi_callback); 3] = [
            ("signature", Some(keyring_signature)),
            ("verify", Some(keyring_verify)),
            ("sessionId", Some(keyring_session_id)),
        ];
        for (i, (name, cb)) in fns.into_iter().enumerate() {
            let data = Arc::into_raw(ring.clone()) as *mut c_void;
            let Some(f) = create_function(env, name, cb, data, Some(drop_keyring)) else {
                drop(Arc::from_raw(data as *const Keyring));
                return Err(Error::from_reason("could not create the keyring functions"));
            };
            sys::napi_set_element(env, arr, i as u32, f);
        }
    }
    Ok(arr)
}

// --- parse --------------------------------------------------------------------------------

/// A parser bound to one output Int32Array (see [`cookie::RecordParser`]).
struct Parser {
    core: cookie::RecordParser,
    out: *mut i32,
    out_len: usize,
    out_ref: sys::napi_ref,
}

unsafe extern "C" fn drop_parser(env: sys::napi_env, data: *mut c_void, _hint: *mut c_void) {
    let p = Box::from_raw(data as *mut Parser);
    sys::napi_delete_reference(env, p.out_ref);
}

unsafe extern "C" fn parser_parse(
    env: sys::napi_env,
    info: sys::napi_callback_info,
) -> sys::napi_value {
    guarded(env, || {
        let ([header], data) = args::<1>(env, info);
        let parser = &mut *(data as *mut Parser);
        SCRATCH.with(|s| {
            let buf = &mut s.borrow_mut().1;
            if !read_utf16(env, header, buf) {
                return throw_type_error(env, "argument str must be a string");
            }
            if parser.out.is_null() || parser.out_len == 0 {
                return boolean(env, false); // an empty array has no buffer at all
            }
            // SAFETY: non-null and `out_len` long; `out_ref` keeps the typed array (and its
            // buffer) alive; the call is synchronous, so no JS touches it meanwhile.
            let out = std::slice::from_raw_parts_mut(parser.out, parser.out_len);
            if !parser.core.run(buf, out) {
                return boolean(env, false);
            }
            match parser.core.decoded() {
                [] => undefined(env),
                d => string_utf16(env, d),
            }
        })
    })
}

/// A `parse(header)` function writing the count and records into `out` (an Int32Array
/// the caller keeps; see lib/cookie.js) and returning the decoded values as one string
/// (`undefined` if none). `false` means: parse this one in JS.
#[napi(catch_unwind)]
pub fn cookie_parser_create(env: Env, out: Int32ArraySlice) -> Result<sys::napi_value> {
    let env = env.raw();
    unsafe {
        let raw = out.raw();
        let mut kind = 0;
        let mut len = 0usize;
        let mut data = ptr::null_mut();
        let mut buffer = ptr::null_mut();
        let mut offset = 0usize;
        if sys::napi_get_typedarray_info(
            env,
            raw,
            &mut kind,
            &mut len,
            &mut data,
            &mut buffer,
            &mut offset,
        ) != OK
            || kind != sys::TypedarrayType::int32_array
        {
            return Err(Error::new(Status::InvalidArg, "expected an Int32Array"));
        }
        let mut out_ref = ptr::null_mut();
        if sys::napi_create_reference(env, raw, 1, &mut out_ref) != OK {
            return Err(Error::from_reason("could not reference the output array"));
        }
        let parser = Box::into_raw(Box::new(Parser {
            core: cookie::RecordParser::default(),
            out: data.cast::<i32>(),
            out_len: len,
            out_ref,
        }));
        match create_function(
            env,
            "parse",
            Some(parser_parse),
            parser.cast(),
            Some(drop_parser),
        ) {
            Some(f) => Ok(f),
            None => {
                let p = Box::from_raw(parser);
                sys::napi_delete_reference(env, p.out_ref);
                Err(Error::from_reason("could not create the parser"))
            }
        }
    }
}
