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
