//! The NAT layer: internet gateways and the external addresses a VNIC may
//! leave from (`igw`), the bindings and SNAT ports held (`state`), and the
//! header rewrites that apply them (`rewrite`).

pub mod igw;
pub mod rewrite;
mod state;

pub use state::*;

#[cfg(test)]
pub(crate) mod tests;
