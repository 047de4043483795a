//! session bindings
