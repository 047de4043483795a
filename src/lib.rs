//! native-session: the pure-Rust core (no napi types) and, under `bindings`, the thin
//! N-API layer that converts JS values to and from it.

pub mod cookie;
pub mod expiry;
pub mod signature;
pub mod store;

#[cfg(not(test))]
mod bindings;
