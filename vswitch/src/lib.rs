//! The vswitch appliance: DPDK ports and poll-mode workers at the edges, a
//! plain-Rust packet engine in the middle, and a management thread that
//! publishes immutable table snapshots to the workers.
//!
//! Follow a packet: [`worker`] (`rx_burst`, engine, `tx_burst`) ->
//! [`engine`] (the decision) -> [`dpdk::Burst`] (the mbufs).

#![forbid(unsafe_code)]

pub mod app;
pub mod config;
pub mod control;
pub mod fleet;
pub mod handoff;
pub mod manager;
pub mod metadata;
pub mod metrics;
pub mod ports;
pub mod report;
pub mod state_file;
pub mod stats;
pub mod switch;
pub mod worker;
