//! The packet engine: plain Rust over byte buffers and table snapshots, with
//! no DPDK type in it, so that it is tested under `cargo test` alone.
//!
//! The worker hands the engine what it received and where; the engine answers
//! with a [`Verdict`] per packet or burst.

pub mod patch;
mod verdict;

pub use verdict::{DropReason, Verdict};

/// Index of a port in the switch's configuration order.
pub type PortIdx = u16;
