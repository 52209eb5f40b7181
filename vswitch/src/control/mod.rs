//! The control socket: a Unix stream socket carrying newline-delimited JSON
//! (see the `vswitch-api` crate). Connection threads parse and validate the
//! framing; every command is then carried out by the management thread, which
//! alone owns the state, so requests from several clients never race.

mod audit;
mod protocol;
mod server;

pub use audit::{changes_state, command_name};
pub use protocol::parse_request;
pub use server::{ControlLimits, ControlRequest, ControlServer};
