//! What the flow table holds for a connection: the firewall's standing of
//! it and the transforms the layers compiled for each direction, applied by
//! the fast path until the VNIC's epoch moves on.

use super::table::Refused;
use crate::firewall::stateful::Standing;
use crate::nat::{FlowNat, NatBinding};
use crate::overlay::EncapTemplate;
use crate::{Direction, DropReason, PortIdx};
use std::sync::Arc;
use wire::MacAddr;

/// The outbound half of a compiled flow.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OutXform {
    /// Encapsulate toward another sled.
    Encap {
        /// Outer headers, shared by the flows to the same place.
        template: Arc<EncapTemplate>,
        /// The flow's entropy (outer UDP source port, IPv6 flow label).
        entropy: u32,
        /// The inner destination MAC (the target guest's).
        inner_dst_mac: MacAddr,
        /// The uplink to send on.
        uplink: PortIdx,
    },
    /// Deliver to a guest port on this sled, through its inbound layers.
    Local {
        /// The destination guest port.
        to: PortIdx,
        /// The destination guest's MAC.
        dst_mac: MacAddr,
    },
    /// Drop (a cached denial).
    Drop(DropReason),
}

/// The inbound half of a compiled flow.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InXform {
    /// Deliver to the guest, the source MAC rewritten to its gateway's.
    Deliver {
        /// The gateway MAC.
        src_mac: MacAddr,
    },
    /// Drop (a cached denial).
    Drop(DropReason),
}

/// What the flow table holds for a connection.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FlowState {
    /// The direction of the connection's first packet.
    pub origin: Direction,
    /// Whether the firewall allowed the connection in its origin direction;
    /// if so, the other direction passes too (stateful allow).
    pub allowed: bool,
    /// The compiled outbound transform, once computed.
    pub out: Option<OutXform>,
    /// The compiled inbound transform, once computed.
    pub inb: Option<InXform>,
    /// The flow's NAT binding, when it goes through an internet gateway: its
    /// outbound encapsulation translates the source first. Boxed, so that
    /// flows without NAT keep entries of two cache lines.
    pub nat: Option<Box<FlowNat>>,
}

impl FlowState {
    /// Whether every transform computed so far drops: the flow's traffic is
    /// refused (it then holds its entry only briefly, see `table.rs`).
    pub fn refused(&self) -> bool {
        !matches!(
            self.out,
            Some(OutXform::Encap { .. } | OutXform::Local { .. })
        ) && !matches!(self.inb, Some(InXform::Deliver { .. }))
    }

    /// The firewall's standing of the connection.
    pub fn standing(&self) -> Standing {
        Standing {
            origin: self.origin,
            allowed: self.allowed,
        }
    }
}

/// What a flow's existing entry tells the slow path.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Prior {
    /// The firewall's standing of the connection so far.
    pub standing: Standing,
    /// The NAT binding the flow holds.
    pub nat: Option<NatBinding>,
}

impl Prior {
    /// What `s` tells.
    pub fn of(s: &FlowState) -> Self {
        Prior {
            standing: s.standing(),
            nat: s.nat.as_deref().map(|n| n.binding),
        }
    }
}

/// The drop reason of a refused flow-table insert.
pub fn refusal_reason(r: Refused) -> DropReason {
    match r {
        Refused::TableFull => DropReason::FlowTableFull,
        Refused::Quota => DropReason::FlowQuota,
    }
}
