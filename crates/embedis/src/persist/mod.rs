//! Durability (placeholder while the pieces land).
pub mod rdb;
