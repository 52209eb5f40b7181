//! The unified flow table: a connection's key, its entry (both directions in
//! one), the per-class expiry lists and the TCP state tracker.

pub mod key;
#[cfg(test)]
mod key_tests;
mod lists;
pub mod state;
pub mod table;
pub mod tcp;
