pub mod memory;
pub mod redis;
