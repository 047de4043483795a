//! cookie bindings
