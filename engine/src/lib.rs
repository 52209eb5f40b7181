//! The packet engine: plain Rust over byte buffers and table snapshots, with
//! no DPDK type in it, so that it is tested under `cargo test` alone.
//!
//! The worker hands the engine what it received and where; the engine answers
//! with a [`Verdict`] per packet or burst. It depends on the wire formats
//! (`vswitch-wire`), the memory hints (`vswitch-mem`) and the control API's
//! types, never on DPDK: `docs/ARCHITECTURE.md` draws the crates.

#![forbid(unsafe_code)]

pub mod boundary;
pub mod control;
pub mod external;
pub mod firewall;
mod flow_key;
mod flow_lists;
pub mod flow_table;
pub mod frame;
pub mod gateway;
pub mod mss;
pub mod nat;
pub mod nat_rewrite;
pub mod pipeline;
pub mod router;

pub mod overlay;
pub mod patch;
pub mod quick;
mod role;
pub mod tables;
pub mod tcp;
pub mod too_big;
pub mod v2p;
mod verdict;
pub mod vnic;
pub mod vpc;

pub use flow_key::{flow_key, proto, Direction, FlowKey, KeyWords};
pub use role::{PortRole, SwitchRole};
pub use verdict::{DropReason, Verdict};
pub use wire::pktbuf;

/// Index of a port in the switch's configuration order.
pub type PortIdx = u16;

#[cfg(test)]
mod boundary_tests;
#[cfg(test)]
mod flow_key_tests;
#[cfg(test)]
mod hostile_tests;
#[cfg(test)]
mod mtu_tests;
#[cfg(test)]
mod nat_tests;
#[cfg(test)]
mod tests;
