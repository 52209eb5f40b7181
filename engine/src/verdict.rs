//! What the engine decides for a packet, and why a packet is dropped.

use crate::PortIdx;

/// The engine's decision for a packet.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// Transmit on this port.
    Forward(PortIdx),
    /// Drop, counted under this reason.
    Drop(DropReason),
    /// Hand to the instance metadata service (off the fast path): a
    /// guest's TCP to 169.254.169.254:80, from the VNIC of the port it came
    /// in by. (No NIC id here: a wider variant would double the size of
    /// every packet's outcome.)
    Metadata,
}

/// How a packet went through the engine (for per-port counters).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Path {
    /// Forwarded by the patch table, outside the VPC pipeline.
    Patch,
    /// A cached transform was applied.
    Fast,
    /// The layers ran.
    Slow,
    /// A generated reply (the virtual gateway's, the boundary's) leaves on
    /// the ingress port.
    Hairpin,
    /// Dropped before any flow lookup.
    Early,
    /// Relayed on the underlay: Geneve for the old endpoint of an instance
    /// that migrated away, sent on to its new one.
    Relayed,
}

/// The engine's answer for one packet: a layer's or the sequencer's.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Outcome {
    /// Where the packet goes.
    pub verdict: Verdict,
    /// How it got there.
    pub path: Path,
}

impl Outcome {
    /// A drop for `reason`.
    #[inline]
    pub fn drop(reason: DropReason, path: Path) -> Self {
        Outcome {
            verdict: Verdict::Drop(reason),
            path,
        }
    }

    /// Transmit on `port`.
    #[inline]
    pub fn forward(port: PortIdx, path: Path) -> Self {
        Outcome {
            verdict: Verdict::Forward(port),
            path,
        }
    }
}

macro_rules! drop_reasons {
    ($($variant:ident = $label:literal, $layer:literal, $doc:literal;)*) => {
        /// Why a packet was dropped. Every drop is counted under exactly one
        /// reason, so that received = sent + dropped holds per port.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        #[repr(u8)]
        pub enum DropReason {
            $(#[doc = $doc] $variant,)*
        }

        impl DropReason {
            /// Every reason, in counter order.
            pub const ALL: &'static [DropReason] = &[$(DropReason::$variant,)*];
            /// Number of reasons (the length of a per-reason counter array).
            pub const COUNT: usize = Self::ALL.len();

            /// The label used in the API and in metrics.
            pub fn as_str(self) -> &'static str {
                match self { $(DropReason::$variant => $label,)* }
            }

            /// The layer (or stage) that dropped the packet.
            pub fn layer(self) -> &'static str {
                match self { $(DropReason::$variant => $layer,)* }
            }
        }
    };
}

drop_reasons! {
    NoPatch = "no_patch", "port", "The ingress port has no patch entry and no VNIC.";
    TxFull = "tx_full", "port", "The egress device refused the packet (tx ring full).";
    HandoffFull = "handoff_full", "worker", "The ring to the worker that owns the packet's flow was full (that worker is saturated); never a wait.";
    Malformed = "malformed", "parse", "The frame does not parse.";
    Unsupported = "unsupported", "parse", "A frame the switch does not handle (ethertype, segmented mbuf).";
    NoHeadroom = "no_headroom", "port", "The buffer has no room for the headers to add.";
    AntiSpoof = "anti_spoof", "gateway", "The guest sent from a MAC or IP that is not its own.";
    VlanTagged = "vlan_tagged", "gateway", "A frame with an 802.1Q tag: guest ports and the external link are untagged, and no tag is carried across.";
    NotForGuest = "not_for_guest", "gateway", "Inbound traffic not addressed to the guest.";
    GatewayUnanswered = "gateway_unanswered", "gateway", "Traffic for the gateway it does not answer.";
    MetadataBusy = "metadata_busy", "gateway", "A packet for the instance metadata service found its queue full.";
    FirewallDeny = "firewall_deny", "firewall", "A firewall rule, or the inbound default, denied the flow.";
    NoRoute = "no_route", "router", "No route matches the destination.";
    RouteDrop = "route_drop", "router", "The matching route's target is Drop.";
    RouteBlackhole = "route_blackhole", "router", "The route names a NIC that is not attached to a running instance (or not in the VPC).";
    NoExternalIp = "no_external_ip", "nat", "Internet-gateway traffic with no usable external source.";
    SnatExhausted = "snat_exhausted", "nat", "Every port of the VNIC's SNAT range is held by a live flow.";
    NatNoState = "nat_no_state", "nat", "Inbound traffic for an external address that matches no flow and no 1:1 address.";
    NoBoundary = "no_boundary", "overlay", "No V2B entry (boundary endpoint) for an internet destination.";
    UnknownExternal = "unknown_external", "boundary", "Boundary: inbound traffic for an external address with no sled.";
    NotBoundaryTraffic = "not_boundary_traffic", "boundary", "Boundary: underlay traffic that is not boundary traffic (VNI 99).";
    NoExternalPort = "no_external_port", "boundary", "Boundary: the external port or its next hop is not set.";
    TooBig = "too_big", "overlay", "A guest packet that would not fit the uplink's MTU once encapsulated, without DF (the switch does not fragment; with DF the guest gets ICMP fragmentation needed or packet too big).";
    NoV2p = "no_v2p", "overlay", "No V2P mapping for the destination.";
    NoUnderlay = "no_underlay", "overlay", "The sled's underlay address or uplink is not set.";
    NotGeneve = "not_geneve", "overlay", "Uplink traffic that is not Geneve for this sled.";
    RelayHopLimit = "relay_hop_limit", "overlay", "Geneve for a migrated instance's old endpoint whose hop limit would run out if relayed to the new one.";
    GeneveCriticalOption = "geneve_critical_option", "overlay", "A Geneve option marked critical that the switch does not know.";
    GeneveOam = "geneve_oam", "overlay", "A Geneve control (OAM) packet: traffic between tunnel ends, not guest data.";
    NoVnic = "no_vnic", "overlay", "No VNIC has the inner destination (VNI, MAC).";
    FlowTableFull = "flow_table_full", "flow", "The flow table is full and no flow could be evicted for a new one.";
    FlowQuota = "flow_quota", "flow", "The VNIC holds its quota of flows, none of them evictable (expired or embryonic).";
    IcmpErrorMismatch = "icmp_error_mismatch", "gateway", "A guest's ICMP error not sent back to the source of the packet it quotes, or quoting no flow of the guest's through an internet gateway.";
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reasons_are_indexed_in_order_and_named_uniquely() {
        for (i, r) in DropReason::ALL.iter().enumerate() {
            assert_eq!(*r as usize, i);
        }
        let names: std::collections::HashSet<_> =
            DropReason::ALL.iter().map(|r| r.as_str()).collect();
        assert_eq!(names.len(), DropReason::COUNT);
        assert_eq!(DropReason::FirewallDeny.layer(), "firewall");
    }
}
