//! The identity of a flow and the direction of a packet through a port.

use std::net::IpAddr;

/// Which way a packet crosses a guest port.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Direction {
    /// Guest -> wire.
    Out,
    /// Wire -> guest.
    In,
}

/// IP protocol numbers used by the engine.
pub mod proto {
    /// ICMPv4.
    pub const ICMP: u8 = 1;
    /// TCP.
    pub const TCP: u8 = 6;
    /// UDP.
    pub const UDP: u8 = 17;
    /// ICMPv6.
    pub const ICMPV6: u8 = 58;
}

/// A flow's 5-tuple as seen on the guest side (inner headers).
///
/// For TCP and UDP the ports are the transport ports. For ICMP echo
/// request/reply, `src_port` and `dst_port` are both the echo identifier
/// (so a request and its reply are each other's reverse), and `icmp` holds
/// (type, code). For other protocols the ports are 0.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct FlowKey {
    /// IP protocol number.
    pub proto: u8,
    /// Source address.
    pub src: IpAddr,
    /// Destination address.
    pub dst: IpAddr,
    /// Source port (or ICMP echo id).
    pub src_port: u16,
    /// Destination port (or ICMP echo id).
    pub dst_port: u16,
    /// ICMP (type, code), when `proto` is ICMP or ICMPv6.
    pub icmp: Option<(u8, u8)>,
}

impl FlowKey {
    /// The key of the reply direction (addresses and ports swapped).
    pub fn reverse(&self) -> FlowKey {
        FlowKey {
            proto: self.proto,
            src: self.dst,
            dst: self.src,
            src_port: self.dst_port,
            dst_port: self.src_port,
            icmp: self.icmp.map(|(t, c)| (reply_icmp_type(self.proto, t), c)),
        }
    }
}

/// The ICMP type of the reply to an echo request (and vice versa); others unchanged.
fn reply_icmp_type(proto: u8, t: u8) -> u8 {
    match (proto, t) {
        (proto::ICMP, 8) => 0,
        (proto::ICMP, 0) => 8,
        (proto::ICMPV6, 128) => 129,
        (proto::ICMPV6, 129) => 128,
        _ => t,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reverse_swaps_and_maps_echo() {
        let k = FlowKey {
            proto: proto::ICMP,
            src: "10.0.0.1".parse().unwrap(),
            dst: "10.0.0.2".parse().unwrap(),
            src_port: 7,
            dst_port: 7,
            icmp: Some((8, 0)),
        };
        let r = k.reverse();
        assert_eq!(r.src, k.dst);
        assert_eq!(r.icmp, Some((0, 0)));
        assert_eq!(r.reverse(), k);
    }
}
