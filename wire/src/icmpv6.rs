//! ICMPv6 (RFC 4443): echo, the errors a router emits, and NDP (in
//! [`super::ndp`]), all checksummed with the IPv6 pseudo-header.

use std::net::Ipv6Addr;

use super::checksum;
use super::field::{put, put_u16, put_u32, put_u8, u16_at, u32_at, u8_at};
use super::ndp::NdpRepr;
use super::{Result, WireError};

const TYPE: usize = 0;
const CODE: usize = 1;
const CHECKSUM: usize = 2;
const ECHO_IDENT: usize = 4;
const ECHO_SEQNO: usize = 6;
const MTU: usize = 4;

/// Length of the smallest message: type, code, checksum and a 4-byte body.
pub const HEADER_LEN: usize = 8;
/// The IP protocol (Next Header) number.
pub const PROTOCOL: u8 = 58;

/// Message types.
pub mod msg_type {
    /// Destination unreachable.
    pub const DST_UNREACHABLE: u8 = 1;
    /// Packet too big.
    pub const PACKET_TOO_BIG: u8 = 2;
    /// Time exceeded.
    pub const TIME_EXCEEDED: u8 = 3;
    /// Parameter problem.
    pub const PARAM_PROBLEM: u8 = 4;
    /// Echo request.
    pub const ECHO_REQUEST: u8 = 128;
    /// Echo reply.
    pub const ECHO_REPLY: u8 = 129;
    /// NDP router solicitation.
    pub const ROUTER_SOLICIT: u8 = 133;
    /// NDP router advertisement.
    pub const ROUTER_ADVERT: u8 = 134;
    /// NDP neighbor solicitation.
    pub const NEIGHBOR_SOLICIT: u8 = 135;
    /// NDP neighbor advertisement.
    pub const NEIGHBOR_ADVERT: u8 = 136;
    /// NDP redirect.
    pub const REDIRECT: u8 = 137;
}

/// A view of an ICMPv6 message. The buffer must be exactly the message (the
/// upper-layer payload), since the checksum covers all of it.
#[derive(Debug, Clone)]
pub struct Icmpv6Packet<T: AsRef<[u8]>> {
    pub(super) buffer: T,
}

impl<T: AsRef<[u8]>> Icmpv6Packet<T> {
    /// Wraps a buffer without checking it; getters on a short buffer read 0.
    pub fn new_unchecked(buffer: T) -> Self {
        Icmpv6Packet { buffer }
    }

    /// Wraps a buffer holding at least 8 bytes, the size of the smallest
    /// message (each type's own length is checked by its parse).
    pub fn new_checked(buffer: T) -> Result<Self> {
        if buffer.as_ref().len() < HEADER_LEN {
            return Err(WireError::Truncated);
        }
        Ok(Self::new_unchecked(buffer))
    }

    /// Gives the buffer back.
    pub fn into_inner(self) -> T {
        self.buffer
    }

    /// Message type.
    pub fn msg_type(&self) -> u8 {
        u8_at(self.buffer.as_ref(), TYPE)
    }

    /// Message code.
    pub fn msg_code(&self) -> u8 {
        u8_at(self.buffer.as_ref(), CODE)
    }

    /// The checksum field.
    pub fn checksum(&self) -> u16 {
        u16_at(self.buffer.as_ref(), CHECKSUM)
    }

    /// Echo identifier.
    pub fn echo_ident(&self) -> u16 {
        u16_at(self.buffer.as_ref(), ECHO_IDENT)
    }

    /// Echo sequence number.
    pub fn echo_seq_no(&self) -> u16 {
        u16_at(self.buffer.as_ref(), ECHO_SEQNO)
    }

    /// The MTU of a packet-too-big message.
    pub fn mtu(&self) -> u32 {
        u32_at(self.buffer.as_ref(), MTU)
    }

    /// Whether this is an echo request or reply.
    pub fn is_echo(&self) -> bool {
        matches!(
            self.msg_type(),
            msg_type::ECHO_REQUEST | msg_type::ECHO_REPLY
        )
    }

    /// What follows the first 8 bytes: echo data, or the quoted datagram of
    /// an error.
    pub fn data(&self) -> &[u8] {
        self.buffer.as_ref().get(HEADER_LEN..).unwrap_or(&[])
    }

    /// Whether the checksum is right for these pseudo-header addresses.
    pub fn verify_checksum(&self, src: &Ipv6Addr, dst: &Ipv6Addr) -> bool {
        let b = self.buffer.as_ref();
        let Ok(len) = u32::try_from(b.len()) else {
            return false;
        };
        b.len() >= HEADER_LEN
            && checksum::fold(
                checksum::pseudo_header_v6(src, dst, PROTOCOL, len) + checksum::sum(b),
            ) == 0xffff
    }
}

impl<T: AsRef<[u8]> + AsMut<[u8]>> Icmpv6Packet<T> {
    /// Sets the type.
    pub fn set_msg_type(&mut self, v: u8) {
        put_u8(self.buffer.as_mut(), TYPE, v);
    }

    /// Sets the code.
    pub fn set_msg_code(&mut self, v: u8) {
        put_u8(self.buffer.as_mut(), CODE, v);
    }

    /// Sets the checksum field as is.
    pub fn set_checksum(&mut self, v: u16) {
        put_u16(self.buffer.as_mut(), CHECKSUM, v);
    }

    /// Sets the echo identifier (the checksum is not updated).
    pub fn set_echo_ident(&mut self, v: u16) {
        put_u16(self.buffer.as_mut(), ECHO_IDENT, v);
    }

    /// Sets the echo sequence number.
    pub fn set_echo_seq_no(&mut self, v: u16) {
        put_u16(self.buffer.as_mut(), ECHO_SEQNO, v);
    }

    /// Computes and stores the checksum over the whole buffer.
    pub fn fill_checksum(&mut self, src: &Ipv6Addr, dst: &Ipv6Addr) -> Result<()> {
        self.set_checksum(0);
        let b = self.buffer.as_ref();
        let len = u32::try_from(b.len()).map_err(|_| WireError::Malformed("ICMPv6 length"))?;
        let c = checksum::finish(
            checksum::pseudo_header_v6(src, dst, PROTOCOL, len) + checksum::sum(b),
        );
        self.set_checksum(c);
        Ok(())
    }
}

/// A parsed ICMPv6 message of a type the switch handles.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Icmpv6Repr<'a> {
    /// Echo request (128).
    EchoRequest {
        /// Identifier.
        ident: u16,
        /// Sequence number.
        seq_no: u16,
        /// Echo data.
        data: &'a [u8],
    },
    /// Echo reply (129).
    EchoReply {
        /// Identifier.
        ident: u16,
        /// Sequence number.
        seq_no: u16,
        /// Echo data.
        data: &'a [u8],
    },
    /// Destination unreachable (1).
    DstUnreachable {
        /// Reason code.
        code: u8,
        /// The quoted original packet.
        data: &'a [u8],
    },
    /// Packet too big (2).
    PacketTooBig {
        /// MTU of the next hop.
        mtu: u32,
        /// The quoted original packet.
        data: &'a [u8],
    },
    /// Time exceeded (3).
    TimeExceeded {
        /// 0: hop limit exceeded, 1: reassembly time exceeded.
        code: u8,
        /// The quoted original packet.
        data: &'a [u8],
    },
    /// Neighbor discovery (133 to 136).
    Ndp(NdpRepr),
}

impl<'a> Icmpv6Repr<'a> {
    /// Parses a message, verifying its checksum against the IPv6 addresses.
    pub fn parse<T: AsRef<[u8]>>(
        src: &Ipv6Addr,
        dst: &Ipv6Addr,
        p: &'a Icmpv6Packet<T>,
    ) -> Result<Icmpv6Repr<'a>> {
        if p.buffer.as_ref().len() < HEADER_LEN {
            return Err(WireError::Truncated);
        }
        if !p.verify_checksum(src, dst) {
            return Err(WireError::Checksum);
        }
        let data = p.data();
        match (p.msg_type(), p.msg_code()) {
            (msg_type::ECHO_REQUEST, 0) => Ok(Icmpv6Repr::EchoRequest {
                ident: p.echo_ident(),
                seq_no: p.echo_seq_no(),
                data,
            }),
            (msg_type::ECHO_REPLY, 0) => Ok(Icmpv6Repr::EchoReply {
                ident: p.echo_ident(),
                seq_no: p.echo_seq_no(),
                data,
            }),
            (msg_type::ECHO_REQUEST | msg_type::ECHO_REPLY, _) => {
                Err(WireError::Malformed("ICMPv6 echo code"))
            }
            (msg_type::DST_UNREACHABLE, code) => Ok(Icmpv6Repr::DstUnreachable { code, data }),
            (msg_type::PACKET_TOO_BIG, _) => Ok(Icmpv6Repr::PacketTooBig { mtu: p.mtu(), data }),
            (msg_type::TIME_EXCEEDED, code) => Ok(Icmpv6Repr::TimeExceeded { code, data }),
            (
                msg_type::ROUTER_SOLICIT
                | msg_type::ROUTER_ADVERT
                | msg_type::NEIGHBOR_SOLICIT
                | msg_type::NEIGHBOR_ADVERT,
                _,
            ) => NdpRepr::parse(p).map(Icmpv6Repr::Ndp),
            _ => Err(WireError::Unsupported("ICMPv6 type")),
        }
    }

    /// The whole message's length.
    pub fn buffer_len(&self) -> usize {
        match self {
            Icmpv6Repr::EchoRequest { data, .. }
            | Icmpv6Repr::EchoReply { data, .. }
            | Icmpv6Repr::DstUnreachable { data, .. }
            | Icmpv6Repr::PacketTooBig { data, .. }
            | Icmpv6Repr::TimeExceeded { data, .. } => HEADER_LEN + data.len(),
            Icmpv6Repr::Ndp(ndp) => ndp.buffer_len(),
        }
    }

    /// Writes the message and its checksum; the buffer should be exactly
    /// [`Icmpv6Repr::buffer_len`] long, as the checksum covers all of it.
    pub fn emit<T: AsRef<[u8]> + AsMut<[u8]>>(
        &self,
        src: &Ipv6Addr,
        dst: &Ipv6Addr,
        p: &mut Icmpv6Packet<T>,
    ) -> Result<()> {
        let len = self.buffer_len();
        if p.buffer.as_ref().len() < len {
            return Err(WireError::Truncated);
        }
        let b = p.buffer.as_mut();
        let (t, c, word, data): (u8, u8, u32, &[u8]) = match *self {
            Icmpv6Repr::EchoRequest {
                ident,
                seq_no,
                data,
            } => (
                msg_type::ECHO_REQUEST,
                0,
                (u32::from(ident) << 16) | u32::from(seq_no),
                data,
            ),
            Icmpv6Repr::EchoReply {
                ident,
                seq_no,
                data,
            } => (
                msg_type::ECHO_REPLY,
                0,
                (u32::from(ident) << 16) | u32::from(seq_no),
                data,
            ),
            Icmpv6Repr::DstUnreachable { code, data } => (msg_type::DST_UNREACHABLE, code, 0, data),
            Icmpv6Repr::PacketTooBig { mtu, data } => (msg_type::PACKET_TOO_BIG, 0, mtu, data),
            Icmpv6Repr::TimeExceeded { code, data } => (msg_type::TIME_EXCEEDED, code, 0, data),
            Icmpv6Repr::Ndp(ndp) => {
                let mut whole = Icmpv6Packet::new_unchecked(b.get_mut(..len).unwrap_or(&mut []));
                ndp.emit(&mut whole)?;
                return whole.fill_checksum(src, dst);
            }
        };
        put_u8(b, TYPE, t);
        put_u8(b, CODE, c);
        put_u32(b, 4, word);
        put(b, HEADER_LEN, data);
        let mut whole = Icmpv6Packet::new_unchecked(b.get_mut(..len).unwrap_or(&mut []));
        whole.fill_checksum(src, dst)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn addrs() -> (Ipv6Addr, Ipv6Addr) {
        ("fe80::1".parse().unwrap(), "fe80::2".parse().unwrap())
    }

    #[test]
    fn echo_round_trip() {
        let (s, d) = addrs();
        let r = Icmpv6Repr::EchoRequest {
            ident: 9,
            seq_no: 3,
            data: b"ping",
        };
        let mut b = vec![0u8; r.buffer_len()];
        r.emit(&s, &d, &mut Icmpv6Packet::new_unchecked(&mut b[..]))
            .unwrap();
        assert_eq!(&b[..2], &[128, 0]);
        let p = Icmpv6Packet::new_checked(&b[..]).unwrap();
        assert!(p.verify_checksum(&s, &d));
        assert!(!p.verify_checksum(&d, &d));
        assert_eq!(Icmpv6Repr::parse(&s, &d, &p).unwrap(), r);
        assert_eq!(
            Icmpv6Repr::parse(&d, &d, &p).unwrap_err(),
            WireError::Checksum
        );
    }

    #[test]
    fn errors() {
        let (s, d) = addrs();
        let quoted = [0x60u8; 48];
        for r in [
            Icmpv6Repr::PacketTooBig {
                mtu: 1280,
                data: &quoted,
            },
            Icmpv6Repr::DstUnreachable {
                code: 1,
                data: &quoted,
            },
            Icmpv6Repr::TimeExceeded {
                code: 0,
                data: &quoted,
            },
        ] {
            let mut b = vec![0u8; r.buffer_len()];
            r.emit(&s, &d, &mut Icmpv6Packet::new_unchecked(&mut b[..]))
                .unwrap();
            let p = Icmpv6Packet::new_checked(&b[..]).unwrap();
            assert_eq!(Icmpv6Repr::parse(&s, &d, &p).unwrap(), r);
        }
    }
}
