//! The vswitch appliance: DPDK ports and poll-mode workers at the edges, a
//! plain-Rust packet engine in the middle, and a management thread that
//! publishes immutable table snapshots to the workers.
//!
//! Follow a packet: [`worker`] (`rx_burst`, engine, `tx_burst`) ->
//! [`engine`] (the decision) -> [`dpdk::Burst`] (the mbufs).

pub mod app;
pub mod boundary_admin;
pub mod config;
pub mod control;
pub mod dpdk;
pub mod engine;
pub mod igw_admin;
pub mod manager;
pub mod metrics;
pub mod report;
pub mod stats;
pub mod switch;
pub mod tables;
pub mod vpc_admin;
pub mod wire;
pub mod worker;
