//! redis store core
