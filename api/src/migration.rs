//! What a live migration carries from the source sled's switch to the
//! target's (README, *Live migration*): a NIC's flows, each with the
//! firewall's standing of it, its TCP state and its NAT binding (the
//! external source chosen and, for SNAT, the port), so that the target
//! forwards the guest's connections as the source did, with no new
//! connection and the same address and port seen outside.
//!
//! Versioned: a target refuses an export of a version it does not know.

use serde::{Deserialize, Serialize};
use std::net::IpAddr;

/// The version of [`FlowExport`] this build writes and reads.
pub const FLOW_EXPORT_VERSION: u32 = 1;

/// Flows one export carries at most (a NIC's flow quota is below it).
pub const FLOW_EXPORT_MAX: usize = 1 << 20;

/// A NIC's flows, exported from one switch to be imported by another.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FlowExport {
    /// [`FLOW_EXPORT_VERSION`] when written.
    pub version: u32,
    /// The NIC whose flows these are.
    pub nic: u32,
    /// Workers of the exporting switch: a SNAT port belongs to one worker's
    /// slice of the range, so the importer must run as many.
    pub workers: usize,
    /// The flows.
    pub flows: Vec<CarriedFlow>,
}

/// One flow as it is carried.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CarriedFlow {
    /// `vpc` or `internet`.
    pub realm: String,
    /// IP protocol number.
    pub proto: u8,
    /// The guest's address (the flow's source, outbound orientation).
    pub src: IpAddr,
    /// The remote address.
    pub dst: IpAddr,
    /// Source port (or ICMP echo id).
    pub src_port: u16,
    /// Destination port (or ICMP echo id).
    pub dst_port: u16,
    /// ICMP type and code, for ICMP flows.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub icmp: Option<(u8, u8)>,
    /// `out` or `in`: the direction of the connection's first packet.
    pub origin: String,
    /// Whether the firewall allowed it.
    pub allowed: bool,
    /// TCP state, for TCP flows.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tcp: Option<CarriedTcp>,
    /// NAT binding, for flows through an internet gateway.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub nat: Option<CarriedNat>,
}

/// A TCP connection's tracked state.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CarriedTcp {
    /// `syn_sent`, `mid_stream`, `syn_received`, `established`, `fin_wait`,
    /// `closing` or `closed`.
    pub state: String,
    /// Whether the guest sent a FIN.
    pub fin_out: bool,
    /// Whether the remote sent a FIN.
    pub fin_in: bool,
    /// `out` or `in`: the direction of the first segment seen.
    pub first: String,
}

/// A flow's NAT binding.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CarriedNat {
    /// The internet gateway the route tagged the flow with (none: the
    /// system gateway).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gateway: Option<u32>,
    /// `floating`, `ephemeral` or `snat`.
    pub kind: String,
    /// The external address.
    pub ip: IpAddr,
    /// The external port (or ICMP echo id).
    pub ext_port: u16,
}

/// What an import did.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct FlowImportReport {
    /// Flows installed.
    pub imported: u64,
    /// Flows refused, by reason (`nat_not_held`, `nat_port_taken`,
    /// `malformed`, `flow_quota`, `flow_table_full`).
    pub refused: std::collections::BTreeMap<String, u64>,
}
