//! ICMPv4 (RFC 792): echo, and the two errors a router emits and NAT must
//! translate (destination unreachable, time exceeded).

use super::checksum;
use super::field::{put, put_u16, put_u8, u16_at, u8_at};
use super::{Result, WireError};

const TYPE: usize = 0;
const CODE: usize = 1;
const CHECKSUM: usize = 2;
const ECHO_IDENT: usize = 4;
const ECHO_SEQNO: usize = 6;
const NEXT_HOP_MTU: usize = 6;

/// Length of the header (type, code, checksum and the 4-byte rest).
pub const HEADER_LEN: usize = 8;
/// The IP protocol number.
pub const PROTOCOL: u8 = 1;

/// Message types.
pub mod msg_type {
    /// Echo reply.
    pub const ECHO_REPLY: u8 = 0;
    /// Destination unreachable.
    pub const DST_UNREACHABLE: u8 = 3;
    /// Echo request.
    pub const ECHO_REQUEST: u8 = 8;
    /// Time exceeded.
    pub const TIME_EXCEEDED: u8 = 11;
}

/// A view of an ICMPv4 message. The buffer must be exactly the message (the
/// IP payload), since the checksum covers all of it.
#[derive(Debug, Clone)]
pub struct Icmpv4Packet<T: AsRef<[u8]>> {
    buffer: T,
}

impl<T: AsRef<[u8]>> Icmpv4Packet<T> {
    /// Wraps a buffer without checking it; getters on a short buffer read 0.
    pub fn new_unchecked(buffer: T) -> Self {
        Icmpv4Packet { buffer }
    }

    /// Wraps a buffer holding at least the 8-byte header.
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

    /// Echo identifier (meaningful for echo request/reply).
    pub fn echo_ident(&self) -> u16 {
        u16_at(self.buffer.as_ref(), ECHO_IDENT)
    }

    /// Echo sequence number (meaningful for echo request/reply).
    pub fn echo_seq_no(&self) -> u16 {
        u16_at(self.buffer.as_ref(), ECHO_SEQNO)
    }

    /// Next-hop MTU of a "fragmentation needed" unreachable (RFC 1191).
    pub fn next_hop_mtu(&self) -> u16 {
        u16_at(self.buffer.as_ref(), NEXT_HOP_MTU)
    }

    /// Whether this is an echo request or reply.
    pub fn is_echo(&self) -> bool {
        matches!(
            self.msg_type(),
            msg_type::ECHO_REQUEST | msg_type::ECHO_REPLY
        )
    }

    /// Whether this is an error that quotes the datagram that caused it.
    pub fn is_error(&self) -> bool {
        matches!(
            self.msg_type(),
            msg_type::DST_UNREACHABLE | msg_type::TIME_EXCEEDED
        )
    }

    /// What follows the header: echo data, or for an error the quoted
    /// original IP header and at least its first 8 payload bytes.
    pub fn data(&self) -> &[u8] {
        self.buffer.as_ref().get(HEADER_LEN..).unwrap_or(&[])
    }

    /// Whether the checksum over the whole message is right.
    pub fn verify_checksum(&self) -> bool {
        let b = self.buffer.as_ref();
        b.len() >= HEADER_LEN && checksum::fold(checksum::sum(b)) == 0xffff
    }
}

impl<T: AsRef<[u8]> + AsMut<[u8]>> Icmpv4Packet<T> {
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

    /// The data after the header, writable (to rewrite a quoted datagram).
    pub fn data_mut(&mut self) -> &mut [u8] {
        self.buffer
            .as_mut()
            .get_mut(HEADER_LEN..)
            .unwrap_or(&mut [])
    }

    /// Computes and stores the checksum over the whole buffer.
    pub fn fill_checksum(&mut self) {
        self.set_checksum(0);
        let c = checksum::checksum(self.buffer.as_ref());
        self.set_checksum(c);
    }
}

/// A parsed ICMPv4 message of a type the switch handles.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Icmpv4Repr<'a> {
    /// Echo request (type 8).
    EchoRequest {
        /// Identifier.
        ident: u16,
        /// Sequence number.
        seq_no: u16,
        /// Echo data.
        data: &'a [u8],
    },
    /// Echo reply (type 0).
    EchoReply {
        /// Identifier.
        ident: u16,
        /// Sequence number.
        seq_no: u16,
        /// Echo data.
        data: &'a [u8],
    },
    /// Destination unreachable (type 3).
    DstUnreachable {
        /// Reason code.
        code: u8,
        /// Next-hop MTU for code 4 (fragmentation needed), otherwise 0.
        next_hop_mtu: u16,
        /// The quoted original datagram.
        data: &'a [u8],
    },
    /// Time exceeded (type 11).
    TimeExceeded {
        /// 0: TTL exceeded in transit, 1: reassembly time exceeded.
        code: u8,
        /// The quoted original datagram.
        data: &'a [u8],
    },
}

impl<'a> Icmpv4Repr<'a> {
    /// Parses a message, verifying its checksum.
    pub fn parse<T: AsRef<[u8]>>(p: &'a Icmpv4Packet<T>) -> Result<Icmpv4Repr<'a>> {
        if p.buffer.as_ref().len() < HEADER_LEN {
            return Err(WireError::Truncated);
        }
        if !p.verify_checksum() {
            return Err(WireError::Checksum);
        }
        let data = p.data();
        match (p.msg_type(), p.msg_code()) {
            (msg_type::ECHO_REQUEST, 0) => Ok(Icmpv4Repr::EchoRequest {
                ident: p.echo_ident(),
                seq_no: p.echo_seq_no(),
                data,
            }),
            (msg_type::ECHO_REPLY, 0) => Ok(Icmpv4Repr::EchoReply {
                ident: p.echo_ident(),
                seq_no: p.echo_seq_no(),
                data,
            }),
            (msg_type::DST_UNREACHABLE, code) => Ok(Icmpv4Repr::DstUnreachable {
                code,
                next_hop_mtu: p.next_hop_mtu(),
                data,
            }),
            (msg_type::TIME_EXCEEDED, code) => Ok(Icmpv4Repr::TimeExceeded { code, data }),
            (msg_type::ECHO_REQUEST | msg_type::ECHO_REPLY, _) => {
                Err(WireError::Malformed("ICMP echo code"))
            }
            _ => Err(WireError::Unsupported("ICMP type")),
        }
    }

    fn data(&self) -> &'a [u8] {
        match *self {
            Icmpv4Repr::EchoRequest { data, .. }
            | Icmpv4Repr::EchoReply { data, .. }
            | Icmpv4Repr::DstUnreachable { data, .. }
            | Icmpv4Repr::TimeExceeded { data, .. } => data,
        }
    }

    /// Header plus data.
    pub fn buffer_len(&self) -> usize {
        HEADER_LEN + self.data().len()
    }

    /// Writes the message and its checksum; the buffer should be exactly
    /// [`Icmpv4Repr::buffer_len`] long, as the checksum covers all of it.
    pub fn emit<T: AsRef<[u8]> + AsMut<[u8]>>(&self, p: &mut Icmpv4Packet<T>) -> Result<()> {
        if p.buffer.as_ref().len() < self.buffer_len() {
            return Err(WireError::Truncated);
        }
        let b = p.buffer.as_mut();
        let (t, c, w1, w2) = match *self {
            Icmpv4Repr::EchoRequest { ident, seq_no, .. } => {
                (msg_type::ECHO_REQUEST, 0, ident, seq_no)
            }
            Icmpv4Repr::EchoReply { ident, seq_no, .. } => (msg_type::ECHO_REPLY, 0, ident, seq_no),
            Icmpv4Repr::DstUnreachable {
                code, next_hop_mtu, ..
            } => (msg_type::DST_UNREACHABLE, code, 0, next_hop_mtu),
            Icmpv4Repr::TimeExceeded { code, .. } => (msg_type::TIME_EXCEEDED, code, 0, 0),
        };
        put_u8(b, TYPE, t);
        put_u8(b, CODE, c);
        put_u16(b, 4, w1);
        put_u16(b, 6, w2);
        put(b, HEADER_LEN, self.data());
        let len = self.buffer_len();
        put_u16(b, CHECKSUM, 0);
        let csum = checksum::checksum(b.get(..len).unwrap_or(&[]));
        put_u16(b, CHECKSUM, csum);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn echo_round_trip() {
        // RFC 792 echo: type 8, code 0, checksum, identifier, sequence, data.
        let r = Icmpv4Repr::EchoRequest {
            ident: 0x1234,
            seq_no: 7,
            data: b"abcd",
        };
        let mut b = vec![0u8; r.buffer_len()];
        r.emit(&mut Icmpv4Packet::new_unchecked(&mut b[..]))
            .unwrap();
        assert_eq!(&b[..2], &[8, 0]);
        assert_eq!(&b[4..8], &[0x12, 0x34, 0, 7]);
        let p = Icmpv4Packet::new_checked(&b[..]).unwrap();
        assert!(p.verify_checksum() && p.is_echo());
        assert_eq!(Icmpv4Repr::parse(&p).unwrap(), r);
        b[9] ^= 0xff;
        let p = Icmpv4Packet::new_checked(&b[..]).unwrap();
        assert_eq!(Icmpv4Repr::parse(&p).unwrap_err(), WireError::Checksum);
    }

    #[test]
    fn errors_quote_the_datagram() {
        let quoted = [
            0x45u8, 0, 0, 28, 0, 0, 0, 0, 1, 17, 0, 0, 10, 0, 0, 1, 10, 0, 0, 2, 0, 1, 0, 2, 0, 8,
            0, 0,
        ];
        for r in [
            Icmpv4Repr::DstUnreachable {
                code: 4,
                next_hop_mtu: 1400,
                data: &quoted,
            },
            Icmpv4Repr::TimeExceeded {
                code: 0,
                data: &quoted,
            },
        ] {
            let mut b = vec![0u8; r.buffer_len()];
            r.emit(&mut Icmpv4Packet::new_unchecked(&mut b[..]))
                .unwrap();
            let p = Icmpv4Packet::new_checked(&b[..]).unwrap();
            assert!(p.is_error());
            assert_eq!(p.data(), &quoted[..]);
            assert_eq!(Icmpv4Repr::parse(&p).unwrap(), r);
        }
    }

    #[test]
    fn rejects() {
        assert!(Icmpv4Packet::new_checked(&[8u8, 0, 0, 0, 0, 0, 0][..]).is_err());
        let mut b = [13u8, 0, 0, 0, 0, 0, 0, 0];
        Icmpv4Packet::new_unchecked(&mut b[..]).fill_checksum();
        let p = Icmpv4Packet::new_checked(&b[..]).unwrap();
        assert!(matches!(
            Icmpv4Repr::parse(&p),
            Err(WireError::Unsupported(_))
        ));
        let r = Icmpv4Repr::EchoReply {
            ident: 1,
            seq_no: 1,
            data: &[1, 2],
        };
        assert!(r
            .emit(&mut Icmpv4Packet::new_unchecked(&mut [0u8; 9][..]))
            .is_err());
    }
}
