//! The control entry points. The switch's configuration is one document,
//! [`vswitch_api::state::SwitchState`]; each command changes the document in
//! force and commits it through one path (`commit.rs`: checked whole by
//! `check.rs`, compiled into the next snapshot by `compile.rs`, written by
//! the journal, published as one generation), or refuses and publishes
//! nothing.

pub mod boundary;
pub(crate) mod check;
pub(crate) mod check_bridges;
pub(crate) mod check_nics;
pub(crate) mod check_ports;
pub mod commit;
pub(crate) mod compile;
pub mod igw;
pub mod instances;
pub mod patch;
pub mod specs;
pub mod vpc;

pub use vpc::PortDirectory;
