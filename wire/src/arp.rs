//! ARP for Ethernet and IPv4 (RFC 826), the only combination a VPC carries.

use std::net::Ipv4Addr;

use super::ethernet::ethertype;
use super::field::{ipv4_at, mac_at, put, put_u16, put_u8, u16_at, u8_at};
use super::{MacAddr, Result, WireError};

const HTYPE: usize = 0;
const PTYPE: usize = 2;
const HLEN: usize = 4;
const PLEN: usize = 5;
const OPER: usize = 6;
const SHA: usize = 8;
const SPA: usize = 14;
const THA: usize = 18;
const TPA: usize = 24;

/// Length of an Ethernet/IPv4 ARP packet.
pub const PACKET_LEN: usize = 28;
/// ARP hardware type for Ethernet.
pub const HTYPE_ETHERNET: u16 = 1;

/// An ARP operation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ArpOperation {
    /// Who has `target_protocol_addr`?
    Request,
    /// `source_protocol_addr` is at `source_hardware_addr`.
    Reply,
}

impl ArpOperation {
    /// The `oper` field value.
    pub fn code(self) -> u16 {
        match self {
            ArpOperation::Request => 1,
            ArpOperation::Reply => 2,
        }
    }
}

/// A view of an ARP packet.
#[derive(Debug, Clone)]
pub struct ArpPacket<T: AsRef<[u8]>> {
    buffer: T,
}

impl<T: AsRef<[u8]>> ArpPacket<T> {
    /// Wraps a buffer without checking it; getters on a short buffer read 0.
    pub fn new_unchecked(buffer: T) -> Self {
        ArpPacket { buffer }
    }

    /// Wraps a buffer that holds a whole Ethernet/IPv4-sized ARP packet.
    pub fn new_checked(buffer: T) -> Result<Self> {
        if buffer.as_ref().len() < PACKET_LEN {
            return Err(WireError::Truncated);
        }
        Ok(Self::new_unchecked(buffer))
    }

    /// Gives the buffer back.
    pub fn into_inner(self) -> T {
        self.buffer
    }

    /// Hardware type (1 for Ethernet).
    pub fn hardware_type(&self) -> u16 {
        u16_at(self.buffer.as_ref(), HTYPE)
    }

    /// Protocol type (0x0800 for IPv4).
    pub fn protocol_type(&self) -> u16 {
        u16_at(self.buffer.as_ref(), PTYPE)
    }

    /// Hardware address length.
    pub fn hardware_len(&self) -> u8 {
        u8_at(self.buffer.as_ref(), HLEN)
    }

    /// Protocol address length.
    pub fn protocol_len(&self) -> u8 {
        u8_at(self.buffer.as_ref(), PLEN)
    }

    /// Operation code (1 request, 2 reply).
    pub fn operation(&self) -> u16 {
        u16_at(self.buffer.as_ref(), OPER)
    }

    /// Sender hardware address.
    pub fn source_hardware_addr(&self) -> MacAddr {
        mac_at(self.buffer.as_ref(), SHA)
    }

    /// Sender protocol address.
    pub fn source_protocol_addr(&self) -> Ipv4Addr {
        ipv4_at(self.buffer.as_ref(), SPA)
    }

    /// Target hardware address.
    pub fn target_hardware_addr(&self) -> MacAddr {
        mac_at(self.buffer.as_ref(), THA)
    }

    /// Target protocol address.
    pub fn target_protocol_addr(&self) -> Ipv4Addr {
        ipv4_at(self.buffer.as_ref(), TPA)
    }
}

impl<T: AsRef<[u8]> + AsMut<[u8]>> ArpPacket<T> {
    /// Sets the operation code.
    pub fn set_operation(&mut self, op: u16) {
        put_u16(self.buffer.as_mut(), OPER, op);
    }

    /// Sets the sender hardware address.
    pub fn set_source_hardware_addr(&mut self, mac: MacAddr) {
        put(self.buffer.as_mut(), SHA, &mac.0);
    }

    /// Sets the sender protocol address.
    pub fn set_source_protocol_addr(&mut self, ip: Ipv4Addr) {
        put(self.buffer.as_mut(), SPA, &ip.octets());
    }

    /// Sets the target hardware address.
    pub fn set_target_hardware_addr(&mut self, mac: MacAddr) {
        put(self.buffer.as_mut(), THA, &mac.0);
    }

    /// Sets the target protocol address.
    pub fn set_target_protocol_addr(&mut self, ip: Ipv4Addr) {
        put(self.buffer.as_mut(), TPA, &ip.octets());
    }
}

/// A parsed Ethernet/IPv4 ARP request or reply.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ArpRepr {
    /// Request or reply.
    pub operation: ArpOperation,
    /// Sender MAC.
    pub source_hardware_addr: MacAddr,
    /// Sender IPv4 address.
    pub source_protocol_addr: Ipv4Addr,
    /// Target MAC (zero in a request).
    pub target_hardware_addr: MacAddr,
    /// Target IPv4 address.
    pub target_protocol_addr: Ipv4Addr,
}

impl ArpRepr {
    /// Parses a packet, refusing other hardware/protocol combinations.
    pub fn parse<T: AsRef<[u8]>>(p: &ArpPacket<T>) -> Result<ArpRepr> {
        if p.buffer.as_ref().len() < PACKET_LEN {
            return Err(WireError::Truncated);
        }
        if p.hardware_type() != HTYPE_ETHERNET
            || p.protocol_type() != ethertype::IPV4
            || p.hardware_len() != 6
            || p.protocol_len() != 4
        {
            return Err(WireError::Unsupported("ARP hardware/protocol"));
        }
        let operation = match p.operation() {
            1 => ArpOperation::Request,
            2 => ArpOperation::Reply,
            _ => return Err(WireError::Unsupported("ARP operation")),
        };
        Ok(ArpRepr {
            operation,
            source_hardware_addr: p.source_hardware_addr(),
            source_protocol_addr: p.source_protocol_addr(),
            target_hardware_addr: p.target_hardware_addr(),
            target_protocol_addr: p.target_protocol_addr(),
        })
    }

    /// Always 28.
    pub fn buffer_len(&self) -> usize {
        PACKET_LEN
    }

    /// Writes the whole packet.
    pub fn emit<T: AsRef<[u8]> + AsMut<[u8]>>(&self, p: &mut ArpPacket<T>) -> Result<()> {
        let b = p.buffer.as_mut();
        if b.len() < PACKET_LEN {
            return Err(WireError::Truncated);
        }
        put_u16(b, HTYPE, HTYPE_ETHERNET);
        put_u16(b, PTYPE, ethertype::IPV4);
        put_u8(b, HLEN, 6);
        put_u8(b, PLEN, 4);
        put_u16(b, OPER, self.operation.code());
        put(b, SHA, &self.source_hardware_addr.0);
        put(b, SPA, &self.source_protocol_addr.octets());
        put(b, THA, &self.target_hardware_addr.0);
        put(b, TPA, &self.target_protocol_addr.octets());
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // RFC 826 layout: htype 1, ptype 0x0800, hlen 6, plen 4, oper,
    // sha(6) spa(4) tha(6) tpa(4).
    const REQUEST: [u8; 28] = [
        0x00, 0x01, 0x08, 0x00, 0x06, 0x04, 0x00, 0x01, //
        0x02, 0x08, 0x20, 0x00, 0x00, 0x05, 172, 30, 0, 5, //
        0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 172, 30, 0, 1,
    ];

    #[test]
    fn request_round_trip() {
        let p = ArpPacket::new_checked(&REQUEST[..]).unwrap();
        let r = ArpRepr::parse(&p).unwrap();
        assert_eq!(r.operation, ArpOperation::Request);
        assert_eq!(r.source_protocol_addr, Ipv4Addr::new(172, 30, 0, 5));
        assert_eq!(r.target_protocol_addr, Ipv4Addr::new(172, 30, 0, 1));
        assert_eq!(r.target_hardware_addr, MacAddr::ZERO);
        let mut out = [0u8; 28];
        r.emit(&mut ArpPacket::new_unchecked(&mut out[..])).unwrap();
        assert_eq!(out, REQUEST);
    }

    #[test]
    fn rejects() {
        assert!(ArpPacket::new_checked(&REQUEST[..27]).is_err());
        let mut bad = REQUEST;
        bad[7] = 3;
        let p = ArpPacket::new_checked(&bad[..]).unwrap();
        assert!(matches!(ArpRepr::parse(&p), Err(WireError::Unsupported(_))));
        let mut bad = REQUEST;
        bad[4] = 8;
        let p = ArpPacket::new_checked(&bad[..]).unwrap();
        assert!(ArpRepr::parse(&p).is_err());
    }
}
