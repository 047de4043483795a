//! memory bindings
