//! memory store core
