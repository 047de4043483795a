//! N-API bindings: conversion only. Every function here is either panic-free or
//! `#[napi(catch_unwind)]`.

mod cookie;
mod memory;
mod redis;
mod session;

use napi_derive::napi;

/// Version of the native core, to check the addon loaded.
#[napi]
pub fn native_version() -> &'static str {
    env!("CARGO_PKG_VERSION")
}

/// One tokio worker thread for the Redis client instead of one per core: the store's work
/// there is small (encode, socket I/O, decode), and on a machine this size every extra
/// thread hop (spawn → worker → connection task → back) cost more CPU than it saved.
#[napi_derive::module_init]
fn init() {
    if let Ok(rt) = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .thread_name("native-session-io")
        .enable_all()
        .build()
    {
        napi::bindgen_prelude::create_custom_tokio_runtime(rt);
    }
}
