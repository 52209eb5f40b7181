//! What a punted packet must be before a stack sees it: a whole, unfragmented
//! IPv4 packet with good checksums, TCP to 169.254.169.254:80.

use std::net::Ipv4Addr;

use smoltcp::wire::{IpAddress, IpProtocol, Ipv4Packet, TcpPacket};

/// The service's address.
pub(crate) const METADATA_ADDR: Ipv4Addr = Ipv4Addr::new(169, 254, 169, 254);
/// The service's TCP port.
pub(crate) const METADATA_PORT: u16 = 80;

/// What the server needs to know of an accepted packet.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Segment {
    /// The IPv4 total length: the packet without any link padding after it.
    pub len: usize,
    /// The guest's address and port.
    pub src: (Ipv4Addr, u16),
    /// A SYN without ACK or RST: a connection attempt.
    pub opens: bool,
}

/// The segment in `packet`, `None` if the packet is not a well-formed TCP
/// segment to the service.
pub(crate) fn check(packet: &[u8]) -> Option<Segment> {
    let ip = Ipv4Packet::new_checked(packet).ok()?;
    if ip.version() != 4
        || !ip.verify_checksum()
        || ip.more_frags()
        || ip.frag_offset() != 0
        || ip.next_header() != IpProtocol::Tcp
        || ip.dst_addr() != METADATA_ADDR
    {
        return None;
    }
    let src = ip.src_addr();
    if src.is_unspecified() || src.is_broadcast() || src.is_multicast() {
        return None;
    }
    let tcp = TcpPacket::new_checked(ip.payload()).ok()?;
    if tcp.dst_port() != METADATA_PORT
        || tcp.src_port() == 0
        || !tcp.verify_checksum(&IpAddress::Ipv4(src), &IpAddress::Ipv4(METADATA_ADDR))
    {
        return None;
    }
    Some(Segment {
        len: usize::from(ip.total_len()),
        src: (src, tcp.src_port()),
        opens: tcp.syn() && !tcp.ack() && !tcp.rst(),
    })
}
