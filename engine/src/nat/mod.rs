//! The NAT layer: internet gateways and the external addresses a VNIC may
//! leave from (`igw`), the bindings and SNAT ports held (`state`), the
//! header rewrites that apply them (`rewrite`, `flow_nat`), and the layer's
//! decisions: outbound (`outbound`: which source a flow leaves from),
//! inbound from the boundary (`inbound`: replies translated back, DNAT to a
//! 1:1 address) and ICMP errors about translated flows (`icmp_error`).

mod flow_nat;
pub mod icmp_error;
pub mod igw;
pub mod inbound;
pub mod outbound;
pub mod rewrite;
mod state;

pub use flow_nat::FlowNat;
pub use state::*;

#[cfg(test)]
pub(crate) mod tests;
