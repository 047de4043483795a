//! memory store bindings: `NativeMemoryStore`, one JS handle on a core `MemoryStore`.
//! Sync calls only (the JS wrapper defers callbacks); sessions cross as JSON strings
//! (measured: a ~400-byte non-ASCII session crosses faster as a string than as a Buffer
//! plus `toString`/`Buffer.from` in JS, both ways).

use crate::expiry::now_ms;
use crate::store::memory::{Error as CoreError, MemoryStore, Options};
use napi::bindgen_prelude::*;
use napi_derive::napi;
use std::sync::Arc;

fn err(e: CoreError) -> Error {
    match e {
        CoreError::Closed => Error::new(Status::GenericFailure, "ERR_STORE_CLOSED"),
        CoreError::SharedOptions(o) => Error::new(
            Status::InvalidArg,
            format!(
                "ERR_SHARED_OPTIONS: a shared store of this name is open with other options \
                 (max {:?}, ttl {:?} ms, sweepInterval {} ms, compress {})",
                o.max, o.ttl_ms, o.sweep_ms, o.compress
            ),
        ),
    }
}

#[napi]
pub struct NativeMemoryStore {
    inner: Arc<MemoryStore>,
    open: bool,
}

#[napi]
impl NativeMemoryStore {
    /// Options are validated by the JS wrapper; `max` 0 = unbounded, `ttl` 0 = none.
    #[napi(constructor)]
    pub fn new(
        max: f64,
        ttl_ms: f64,
        sweep_ms: f64,
        compress: bool,
        shared: Option<String>,
    ) -> Result<Self> {
        let opts = Options {
            max: (max >= 1.0 && max.is_finite()).then_some(max as usize),
            ttl_ms: (ttl_ms > 0.0 && ttl_ms.is_finite()).then_some(ttl_ms),
            sweep_ms: if sweep_ms > 0.0 { sweep_ms } else { 60_000.0 },
            compress,
        };
        let inner = match shared {
            Some(name) => MemoryStore::shared(&name, opts).map_err(err)?,
            None => MemoryStore::new(opts),
        };
        Ok(NativeMemoryStore { inner, open: true })
    }

    #[napi(catch_unwind)]
    pub fn get(&self, sid: String) -> Result<Option<String>> {
        let json = self.inner.get(&sid, now_ms()).map_err(err)?;
        Ok(json.map(|v| String::from_utf8(v).unwrap_or_default()))
    }

    /// `expires`: the session's `cookie.expires` in ms, or undefined.
    #[napi(catch_unwind)]
    pub fn set(&self, sid: String, json: String, expires: Option<f64>) -> Result<()> {
        self.inner
            .set(&sid, json.as_bytes(), expires, now_ms())
            .map_err(err)
    }

    /// Replaces the stored cookie with `cookie_json`; false when missing or expired.
    #[napi(catch_unwind)]
    pub fn touch(&self, sid: String, cookie_json: String, expires: Option<f64>) -> Result<bool> {
        self.inner
            .touch(&sid, cookie_json.as_bytes(), expires, now_ms())
            .map_err(err)
    }

    #[napi(catch_unwind)]
    pub fn destroy(&self, sid: String) -> Result<()> {
        self.inner.destroy(&sid).map_err(err)
    }

    #[napi(catch_unwind)]
    pub fn length(&self) -> Result<u32> {
        let n = self.inner.len(now_ms()).map_err(err)?;
        Ok(n.min(u32::MAX as usize) as u32)
    }

    #[napi(catch_unwind)]
    pub fn ids(&self) -> Result<Vec<String>> {
        self.inner.ids(now_ms()).map_err(err)
    }

    /// `{"sid":session,…}` as JSON text.
    #[napi(catch_unwind)]
    pub fn all_json(&self) -> Result<String> {
        self.inner.all_json(now_ms()).map_err(err)
    }

    #[napi(catch_unwind)]
    pub fn clear(&self) -> Result<()> {
        self.inner.clear().map_err(err)
    }

    /// Bytes of session data held (keys + coded sessions).
    #[napi(catch_unwind)]
    pub fn data_bytes(&self) -> f64 {
        self.inner.data_bytes() as f64
    }

    /// Releases this handle; the last handle on a store closes it. Idempotent.
    #[napi(catch_unwind)]
    pub fn close(&mut self) {
        if std::mem::replace(&mut self.open, false) {
            self.inner.release();
        }
    }
}

impl Drop for NativeMemoryStore {
    fn drop(&mut self) {
        if self.open {
            self.inner.release();
        }
    }
}
