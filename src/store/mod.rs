pub mod memory;
pub mod pipe;
pub mod redis;
