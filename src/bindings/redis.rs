//! redis bindings
