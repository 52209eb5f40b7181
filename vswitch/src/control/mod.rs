//! The control socket: a Unix stream socket carrying newline-delimited JSON
//! (see the `vswitch-api` crate). Connection threads parse and validate the
//! framing; every command is then carried out by the management thread, which
//! alone owns the state, so requests from several clients never race. The
//! commands are carried out by area: `switch.rs` (status, counters, patches,
//! export, apply, shutdown), `vpc.rs`, `igw.rs`, `boundary.rs`, `flows.rs`.

pub(crate) mod area;
mod audit;
pub(crate) mod boundary;
pub(crate) mod carry;
pub(crate) mod flows;
pub(crate) mod igw;
pub(crate) mod instances;
pub(crate) mod ports;
mod protocol;
mod server;
pub(crate) mod switch;
pub(crate) mod vpc;

pub use audit::{changes_state, command_name};
pub use protocol::parse_request;
pub use server::{ControlLimits, ControlRequest, ControlServer};
