//! The packet engine: plain Rust over byte buffers and table snapshots, with
//! no DPDK type in it, so that it is tested under `cargo test` alone.
//!
//! The worker hands the engine what it received and where; the engine answers
//! with a [`Verdict`] per packet or burst. It depends on the wire formats
//! (`vswitch-wire`), the memory hints (`vswitch-mem`) and the control API's
//! types, never on DPDK: `docs/ARCHITECTURE.md` draws the crates.
//!
//! One folder per VPC layer (`gateway`, `firewall`, `router`, `nat`,
//! `overlay`) and one for the boundary role, each with its tables, its
//! decision and its tests; `sequencer` runs them in order and owns the flow
//! table; `control` holds the commands' table logic.

#![forbid(unsafe_code)]

pub mod boundary;
pub mod control;
pub mod firewall;
pub mod flow;
pub mod frame;
pub mod gateway;
pub mod nat;
pub mod overlay;
pub mod owner;
pub mod patch;
pub mod reply;
mod role;
pub mod router;
pub mod sequencer;
pub mod tables;
mod verdict;
pub mod vnic;
pub mod vpc;

pub use flow::key::{flow_key, proto, Direction, FlowKey, KeyWords};
pub use role::{PortRole, SwitchRole};
pub use verdict::{DropReason, Outcome, Path, Verdict};
pub use wire::pktbuf;

/// Index of a port in the switch's configuration order.
pub type PortIdx = u16;

#[cfg(test)]
mod testing;
#[cfg(test)]
mod tests;
