//! cookie bindings: conversion only. Strings arrive as UTF-8 (a lone surrogate becomes
//! U+FFFD, what Node's crypto hashes too); lib/cookie.js and lib/keyring.js decide when a
//! string may take this path and slice JS strings themselves where that matters.
//! Every function here is `catch_unwind`: bad input can never abort Node.

use napi::bindgen_prelude::*;
use napi_derive::napi;

use crate::cookie::{self, Priority, SameSite, SerializeOptions};
use crate::signature::Keyring;

/// An ordered set of secrets with their HMAC key states precomputed (lib/keyring.js).
#[napi]
pub struct NativeKeyring {
    inner: Keyring,
}

#[napi]
impl NativeKeyring {
    /// `secrets`: the secrets' bytes, in order (the first signs).
    #[napi(constructor, catch_unwind)]
    pub fn new(secrets: Vec<Uint8Array>) -> Self {
        NativeKeyring {
            inner: Keyring::new(secrets.iter().map(|s| &s[..])),
        }
    }

    /// The 43-character signature of `value` with the first secret.
    #[napi(catch_unwind)]
    pub fn signature(&self, value: String) -> String {
        match self.inner.signature(value.as_bytes()) {
            Some(sig) => sig.iter().map(|&b| b as char).collect(),
            None => String::new(),
        }
    }

    /// Index of the secret that signed `input` (cookie-signature 1.2.x rules), or -1.
    #[napi(catch_unwind)]
    pub fn verify(&self, input: String) -> i32 {
        match self.inner.verify(input.as_bytes()) {
            Some(i) => i as i32,
            None => -1,
        }
    }

    /// express-session's read: the verified session id from a Cookie header, if any.
    #[napi(catch_unwind)]
    pub fn session_id(&self, header: String, name: String) -> Option<String> {
        cookie::session_id(&header, &name, &self.inner).map(|v| v.into_owned())
    }
}

/// Flags of [`cookie_serialize`].
const HTTP_ONLY: u32 = 1;
const SECURE: u32 = 2;
const PARTITIONED: u32 = 4;
const HAS_OPTIONS: u32 = 8;
const EXPIRES_INVALID: u32 = 16;
const ENCODED: u32 = 32;

/// cookie@0.7.2 `serialize` with options lib/cookie.js already read and normalized:
/// `max_age` = Math.floor(maxAge), `expires` = Date#toUTCString(), `priority` 0 absent /
/// 1 low / 2 medium / 3 high / else invalid, `same_site` 0 absent / 1 strict / 2 lax /
/// 3 none / else invalid. Errors are plain Errors carrying cookie's message; the JS
/// wrapper throws them as TypeError.
#[allow(clippy::too_many_arguments)]
#[napi(catch_unwind)]
pub fn cookie_serialize(
    name: String,
    value: String,
    flags: u32,
    max_age: Option<f64>,
    domain: Option<String>,
    path: Option<String>,
    expires: Option<String>,
    priority: u32,
    same_site: u32,
) -> Result<String> {
    let opt = SerializeOptions {
        max_age,
        domain: domain.as_deref(),
        path: path.as_deref(),
        expires: if flags & EXPIRES_INVALID != 0 {
            Some(Err(()))
        } else {
            expires.as_deref().map(Ok)
        },
        http_only: flags & HTTP_ONLY != 0,
        secure: flags & SECURE != 0,
        partitioned: flags & PARTITIONED != 0,
        priority: match priority {
            0 => None,
            1 => Some(Ok(Priority::Low)),
            2 => Some(Ok(Priority::Medium)),
            3 => Some(Ok(Priority::High)),
            _ => Some(Err(())),
        },
        same_site: match same_site {
            0 => None,
            1 => Some(Ok(SameSite::Strict)),
            2 => Some(Ok(SameSite::Lax)),
            3 => Some(Ok(SameSite::None)),
            _ => Some(Err(())),
        },
    };
    let opt = (flags & HAS_OPTIONS != 0).then_some(&opt);
    cookie::serialize(&name, &value, flags & ENCODED != 0, opt)
        .map_err(|e| Error::new(Status::InvalidArg, e.message()))
}
