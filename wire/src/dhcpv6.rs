//! DHCPv6 (RFC 8415) as far as the virtual gateway's server needs: read a
//! client's message, write an ADVERTISE or REPLY leasing one address.
//!
//! Client/server message: msg-type (1), transaction-id (3), options.
//! Option: option-code (2), option-len (2), option-data.
//! IA_NA data: IAID (4), T1 (4), T2 (4), IA_NA-options.
//! IAADDR data: IPv6 address (16), preferred (4), valid (4), IAaddr-options.

use std::net::Ipv6Addr;

use super::field::{ipv6_at, u16_at, u32_at, u8_at, Writer};
use super::{MacAddr, Result, WireError};

/// UDP port of the server.
pub const SERVER_PORT: u16 = 547;
/// UDP port of the client.
pub const CLIENT_PORT: u16 = 546;
/// Length of the message header.
pub const HEADER_LEN: usize = 4;

/// Option codes.
pub mod opt {
    /// Client identifier (a DUID).
    pub const CLIENTID: u16 = 1;
    /// Server identifier (a DUID).
    pub const SERVERID: u16 = 2;
    /// Identity association for non-temporary addresses.
    pub const IA_NA: u16 = 3;
    /// Address inside an IA_NA.
    pub const IAADDR: u16 = 5;
    /// Option request list.
    pub const ORO: u16 = 6;
    /// Elapsed time.
    pub const ELAPSED_TIME: u16 = 8;
    /// Status code.
    pub const STATUS_CODE: u16 = 13;
    /// Rapid commit (two-message exchange).
    pub const RAPID_COMMIT: u16 = 14;
    /// DNS recursive name servers (RFC 3646).
    pub const DNS_SERVERS: u16 = 23;
    /// Domain search list (RFC 3646).
    pub const DOMAIN_LIST: u16 = 24;
}

const IA_NA_FIXED: usize = 12;
const IAADDR_FIXED: usize = 24;
const DUID_LL: u16 = 3;
const HWTYPE_ETHERNET: u16 = 1;
const DUID_LL_LEN: usize = 10;

/// A DHCPv6 message type.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Dhcpv6MessageType {
    /// Client looks for servers.
    Solicit,
    /// Server offers.
    Advertise,
    /// Client asks for addresses.
    Request,
    /// Client checks its addresses still fit the link.
    Confirm,
    /// Client extends its lease with its server.
    Renew,
    /// Client extends its lease with any server.
    Rebind,
    /// Server answers.
    Reply,
    /// Client gives addresses up.
    Release,
    /// Client found an address in use.
    Decline,
    /// Client asks for configuration only.
    InformationRequest,
}

impl Dhcpv6MessageType {
    /// The msg-type value.
    pub fn code(self) -> u8 {
        match self {
            Dhcpv6MessageType::Solicit => 1,
            Dhcpv6MessageType::Advertise => 2,
            Dhcpv6MessageType::Request => 3,
            Dhcpv6MessageType::Confirm => 4,
            Dhcpv6MessageType::Renew => 5,
            Dhcpv6MessageType::Rebind => 6,
            Dhcpv6MessageType::Reply => 7,
            Dhcpv6MessageType::Release => 8,
            Dhcpv6MessageType::Decline => 9,
            Dhcpv6MessageType::InformationRequest => 11,
        }
    }
}

impl TryFrom<u8> for Dhcpv6MessageType {
    type Error = WireError;

    fn try_from(v: u8) -> Result<Self> {
        Ok(match v {
            1 => Dhcpv6MessageType::Solicit,
            2 => Dhcpv6MessageType::Advertise,
            3 => Dhcpv6MessageType::Request,
            4 => Dhcpv6MessageType::Confirm,
            5 => Dhcpv6MessageType::Renew,
            6 => Dhcpv6MessageType::Rebind,
            7 => Dhcpv6MessageType::Reply,
            8 => Dhcpv6MessageType::Release,
            9 => Dhcpv6MessageType::Decline,
            11 => Dhcpv6MessageType::InformationRequest,
            // Relay messages (12, 13) included: the gateway is on-link.
            _ => return Err(WireError::Unsupported("DHCPv6 message type")),
        })
    }
}

/// One option: code and data.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Dhcpv6Option<'a> {
    /// Option code.
    pub code: u16,
    /// Option data.
    pub data: &'a [u8],
}

/// Iterates over a run of options; stops after an error.
#[derive(Debug, Clone)]
pub struct Dhcpv6OptionIter<'a> {
    data: &'a [u8],
    pos: usize,
    done: bool,
}

impl<'a> Dhcpv6OptionIter<'a> {
    /// Iterates over raw options (a message's, or those nested in an option).
    pub fn new(data: &'a [u8]) -> Self {
        Dhcpv6OptionIter {
            data,
            pos: 0,
            done: false,
        }
    }
}

impl<'a> Iterator for Dhcpv6OptionIter<'a> {
    type Item = Result<Dhcpv6Option<'a>>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.done || self.pos >= self.data.len() {
            return None;
        }
        let rest = self.data.get(self.pos..).unwrap_or(&[]);
        match split_option(rest) {
            Some((code, len, data)) => {
                self.pos += 4 + len;
                Some(Ok(Dhcpv6Option { code, data }))
            }
            None => {
                self.done = true;
                Some(Err(WireError::Truncated))
            }
        }
    }
}

/// The option at the start of `rest`: (code, data length, data).
fn split_option(rest: &[u8]) -> Option<(u16, usize, &[u8])> {
    let head = rest.get(..4)?;
    let len = usize::from(u16_at(head, 2));
    let data = rest.get(4..)?.get(..len)?;
    Some((u16_at(head, 0), len, data))
}

/// A view of a DHCPv6 client/server message (the UDP payload).
#[derive(Debug, Clone)]
pub struct Dhcpv6Packet<T: AsRef<[u8]>> {
    buffer: T,
}

impl<T: AsRef<[u8]>> Dhcpv6Packet<T> {
    /// Wraps a buffer without checking it; getters on a short buffer read 0.
    pub fn new_unchecked(buffer: T) -> Self {
        Dhcpv6Packet { buffer }
    }

    /// Wraps a buffer holding at least the 4-byte header.
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

    /// The msg-type field.
    pub fn msg_type(&self) -> u8 {
        u8_at(self.buffer.as_ref(), 0)
    }

    /// The 24-bit transaction id.
    pub fn transaction_id(&self) -> u32 {
        u32_at(self.buffer.as_ref(), 0) & 0x00ff_ffff
    }

    /// The top-level options.
    pub fn options(&self) -> Dhcpv6OptionIter<'_> {
        Dhcpv6OptionIter::new(self.buffer.as_ref().get(HEADER_LEN..).unwrap_or(&[]))
    }
}

/// An address leased in an IA_NA.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Dhcpv6IaAddr {
    /// The address.
    pub addr: Ipv6Addr,
    /// Preferred lifetime in seconds.
    pub preferred_lifetime: u32,
    /// Valid lifetime in seconds.
    pub valid_lifetime: u32,
}

/// An identity association for non-temporary addresses, with its first
/// address if it has one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Dhcpv6IaNa {
    /// The client's IA identifier, echoed by the server.
    pub iaid: u32,
    /// Renew after (seconds).
    pub t1: u32,
    /// Rebind after (seconds).
    pub t2: u32,
    /// The (first) IAADDR.
    pub addr: Option<Dhcpv6IaAddr>,
}

impl Dhcpv6IaNa {
    /// Parses the data of an IA_NA option.
    pub fn parse(data: &[u8]) -> Result<Dhcpv6IaNa> {
        if data.len() < IA_NA_FIXED {
            return Err(WireError::Malformed("DHCPv6 IA_NA length"));
        }
        let mut addr = None;
        for o in Dhcpv6OptionIter::new(data.get(IA_NA_FIXED..).unwrap_or(&[])) {
            let o = o?;
            if o.code == opt::IAADDR && addr.is_none() {
                if o.data.len() < IAADDR_FIXED {
                    return Err(WireError::Malformed("DHCPv6 IAADDR length"));
                }
                addr = Some(Dhcpv6IaAddr {
                    addr: ipv6_at(o.data, 0),
                    preferred_lifetime: u32_at(o.data, 16),
                    valid_lifetime: u32_at(o.data, 20),
                });
            }
        }
        Ok(Dhcpv6IaNa {
            iaid: u32_at(data, 0),
            t1: u32_at(data, 4),
            t2: u32_at(data, 8),
            addr,
        })
    }

    fn data_len(&self) -> usize {
        IA_NA_FIXED + self.addr.map_or(0, |_| 4 + IAADDR_FIXED)
    }

    fn emit(&self, w: &mut Writer<'_>) -> Result<()> {
        w.u16(opt::IA_NA)?;
        w.u16(self.data_len() as u16)?;
        w.u32(self.iaid)?;
        w.u32(self.t1)?;
        w.u32(self.t2)?;
        if let Some(a) = self.addr {
            w.u16(opt::IAADDR)?;
            w.u16(IAADDR_FIXED as u16)?;
            w.bytes(&a.addr.octets())?;
            w.u32(a.preferred_lifetime)?;
            w.u32(a.valid_lifetime)?;
        }
        Ok(())
    }
}

/// A client's message, as the server reads it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Dhcpv6MessageRepr<'a> {
    /// Message type.
    pub msg_type: Dhcpv6MessageType,
    /// 24-bit transaction id, echoed in the reply.
    pub transaction_id: u32,
    /// The client DUID, echoed in the reply.
    pub client_id: Option<&'a [u8]>,
    /// The server DUID the client addresses (Request, Renew, Release).
    pub server_id: Option<&'a [u8]>,
    /// The (first) IA_NA.
    pub ia_na: Option<Dhcpv6IaNa>,
    /// The option request list: big-endian u16 codes.
    pub oro: Option<&'a [u8]>,
    /// Whether the client asks for the two-message exchange.
    pub rapid_commit: bool,
}

impl<'a> Dhcpv6MessageRepr<'a> {
    /// Parses a client/server message.
    pub fn parse<T: AsRef<[u8]>>(p: &'a Dhcpv6Packet<T>) -> Result<Dhcpv6MessageRepr<'a>> {
        if p.buffer.as_ref().len() < HEADER_LEN {
            return Err(WireError::Truncated);
        }
        let mut r = Dhcpv6MessageRepr {
            msg_type: Dhcpv6MessageType::try_from(p.msg_type())?,
            transaction_id: p.transaction_id(),
            client_id: None,
            server_id: None,
            ia_na: None,
            oro: None,
            rapid_commit: false,
        };
        for o in p.options() {
            let o = o?;
            match o.code {
                opt::CLIENTID => r.client_id = Some(o.data),
                opt::SERVERID => r.server_id = Some(o.data),
                opt::IA_NA if r.ia_na.is_none() => r.ia_na = Some(Dhcpv6IaNa::parse(o.data)?),
                opt::ORO => {
                    if !o.data.len().is_multiple_of(2) {
                        return Err(WireError::Malformed("DHCPv6 ORO length"));
                    }
                    r.oro = Some(o.data);
                }
                opt::RAPID_COMMIT => r.rapid_commit = true,
                _ => {}
            }
        }
        Ok(r)
    }

    /// Whether the client's option request list names this code.
    pub fn requests(&self, code: u16) -> bool {
        self.oro.is_some_and(|l| {
            l.chunks_exact(2)
                .any(|c| u16::from_be_bytes([u8_at(c, 0), u8_at(c, 1)]) == code)
        })
    }
}

/// The DUID-LL (RFC 8415 section 11.4) for an Ethernet MAC: type 3,
/// hardware type 1, the address.
pub fn duid_ll(mac: MacAddr) -> [u8; DUID_LL_LEN] {
    let mut d = [0u8; DUID_LL_LEN];
    let mut w = Writer::new(&mut d, 0);
    // Cannot fail: exactly 10 bytes into 10.
    let _ = w
        .u16(DUID_LL)
        .and_then(|_| w.u16(HWTYPE_ETHERNET))
        .and_then(|_| w.bytes(&mac.0));
    d
}

/// A server's ADVERTISE or REPLY.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Dhcpv6ReplyRepr<'a> {
    /// Advertise or Reply.
    pub msg_type: Dhcpv6MessageType,
    /// The request's transaction id.
    pub transaction_id: u32,
    /// This server's MAC, sent as a DUID-LL.
    pub server_mac: MacAddr,
    /// The client's DUID, echoed (omitted when empty).
    pub client_id: &'a [u8],
    /// The IA_NA with the leased address.
    pub ia_na: Option<Dhcpv6IaNa>,
    /// DNS servers (omitted when empty).
    pub dns_servers: &'a [Ipv6Addr],
    /// Whether to include Rapid Commit (a Reply to a rapid-commit Solicit).
    pub rapid_commit: bool,
}

impl<'a> Dhcpv6ReplyRepr<'a> {
    /// A reply to `req` echoing its transaction id and client id, with no
    /// IA_NA and no DNS servers.
    pub fn for_request(
        req: &Dhcpv6MessageRepr<'a>,
        msg_type: Dhcpv6MessageType,
        server_mac: MacAddr,
    ) -> Dhcpv6ReplyRepr<'a> {
        Dhcpv6ReplyRepr {
            msg_type,
            transaction_id: req.transaction_id,
            server_mac,
            client_id: req.client_id.unwrap_or(&[]),
            ia_na: None,
            dns_servers: &[],
            rapid_commit: false,
        }
    }

    /// The message length.
    pub fn buffer_len(&self) -> usize {
        let mut n = HEADER_LEN + 4 + DUID_LL_LEN;
        if !self.client_id.is_empty() {
            n += 4 + self.client_id.len();
        }
        n += self.ia_na.map_or(0, |ia| 4 + ia.data_len());
        if !self.dns_servers.is_empty() {
            n += 4 + 16 * self.dns_servers.len();
        }
        if self.rapid_commit {
            n += 4;
        }
        n
    }

    /// Writes the message at the start of `buf`; returns its length.
    pub fn emit(&self, buf: &mut [u8]) -> Result<usize> {
        if self.transaction_id > 0x00ff_ffff {
            return Err(WireError::Malformed("DHCPv6 transaction id"));
        }
        let too_long = || WireError::Malformed("DHCPv6 option too long");
        let client_len = u16::try_from(self.client_id.len()).map_err(|_| too_long())?;
        let dns_len = self
            .dns_servers
            .len()
            .checked_mul(16)
            .and_then(|n| u16::try_from(n).ok())
            .ok_or_else(too_long)?;
        let len = self.buffer_len();
        let b = buf.get_mut(..len).ok_or(WireError::Truncated)?;
        let mut w = Writer::new(b, 0);
        w.u32((u32::from(self.msg_type.code()) << 24) | self.transaction_id)?;
        w.u16(opt::SERVERID)?;
        w.u16(DUID_LL_LEN as u16)?;
        w.bytes(&duid_ll(self.server_mac))?;
        if !self.client_id.is_empty() {
            w.u16(opt::CLIENTID)?;
            w.u16(client_len)?;
            w.bytes(self.client_id)?;
        }
        if let Some(ia) = self.ia_na {
            ia.emit(&mut w)?;
        }
        if !self.dns_servers.is_empty() {
            w.u16(opt::DNS_SERVERS)?;
            w.u16(dns_len)?;
            for d in self.dns_servers {
                w.bytes(&d.octets())?;
            }
        }
        if self.rapid_commit {
            w.u16(opt::RAPID_COMMIT)?;
            w.u16(0)?;
        }
        Ok(w.pos())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A SOLICIT with rapid commit (RFC 8415 section 8 and 21 layouts).
    fn solicit() -> Vec<u8> {
        let mut b = vec![1, 0x12, 0x34, 0x56]; // SOLICIT, xid 0x123456
        b.extend_from_slice(&[0, 1, 0, 10, 0, 3, 0, 1, 2, 8, 0x20, 1, 2, 3]); // CLIENTID DUID-LL
        b.extend_from_slice(&[0, 8, 0, 2, 0, 0]); // ELAPSED_TIME
        b.extend_from_slice(&[0, 14, 0, 0]); // RAPID_COMMIT
        b.extend_from_slice(&[0, 6, 0, 4, 0, 23, 0, 24]); // ORO: DNS, domain list
                                                          // IA_NA: IAID 7, T1 0, T2 0, no address yet.
        b.extend_from_slice(&[0, 3, 0, 12, 0, 0, 0, 7, 0, 0, 0, 0, 0, 0, 0, 0]);
        b
    }

    #[test]
    fn parse_solicit() {
        let b = solicit();
        let p = Dhcpv6Packet::new_checked(&b[..]).unwrap();
        let r = Dhcpv6MessageRepr::parse(&p).unwrap();
        assert_eq!(r.msg_type, Dhcpv6MessageType::Solicit);
        assert_eq!(r.transaction_id, 0x123456);
        assert_eq!(r.client_id, Some(&b[8..18]));
        assert!(r.rapid_commit);
        assert!(r.requests(opt::DNS_SERVERS) && !r.requests(opt::IA_NA));
        let ia = r.ia_na.unwrap();
        assert_eq!((ia.iaid, ia.addr), (7, None));
    }

    #[test]
    fn parse_rejects() {
        let mut b = solicit();
        b.pop();
        let p = Dhcpv6Packet::new_checked(&b[..]).unwrap();
        assert_eq!(
            Dhcpv6MessageRepr::parse(&p).unwrap_err(),
            WireError::Truncated
        );
        let mut b = solicit();
        b[0] = 12;
        let p = Dhcpv6Packet::new_checked(&b[..]).unwrap();
        assert!(matches!(
            Dhcpv6MessageRepr::parse(&p),
            Err(WireError::Unsupported(_))
        ));
        // IA_NA too short for IAID/T1/T2.
        let b = [3u8, 0, 0, 1, 0, 3, 0, 4, 0, 0, 0, 7];
        let p = Dhcpv6Packet::new_checked(&b[..]).unwrap();
        assert!(matches!(
            Dhcpv6MessageRepr::parse(&p),
            Err(WireError::Malformed(_))
        ));
        assert!(Dhcpv6Packet::new_checked(&b[..3]).is_err());
    }

    #[test]
    fn reply_round_trip() {
        let b = solicit();
        let p = Dhcpv6Packet::new_checked(&b[..]).unwrap();
        let req = Dhcpv6MessageRepr::parse(&p).unwrap();
        let mac = MacAddr([0xa8, 0x40, 0x25, 0xff, 0, 1]);
        let dns: [Ipv6Addr; 1] = ["fd00::53".parse().unwrap()];
        let ia = Dhcpv6IaNa {
            iaid: 7,
            t1: 3600,
            t2: 5400,
            addr: Some(Dhcpv6IaAddr {
                addr: "fd00::5".parse().unwrap(),
                preferred_lifetime: 7200,
                valid_lifetime: 7200,
            }),
        };
        let reply = Dhcpv6ReplyRepr {
            ia_na: Some(ia),
            dns_servers: &dns,
            rapid_commit: true,
            ..Dhcpv6ReplyRepr::for_request(&req, Dhcpv6MessageType::Reply, mac)
        };
        let mut out = vec![0u8; reply.buffer_len()];
        assert_eq!(reply.emit(&mut out).unwrap(), out.len());
        assert_eq!(&out[..4], &[7, 0x12, 0x34, 0x56]);
        // SERVERID, 10 bytes: DUID-LL type 3, hardware type 1, MAC.
        assert_eq!(
            &out[4..18],
            &[0, 2, 0, 10, 0, 3, 0, 1, 0xa8, 0x40, 0x25, 0xff, 0, 1]
        );
        // Read back: the same parser sees the echoed client id, the IA and RC.
        let back_pkt = Dhcpv6Packet::new_checked(&out[..]).unwrap();
        let back = Dhcpv6MessageRepr::parse(&back_pkt).unwrap();
        assert_eq!(back.msg_type, Dhcpv6MessageType::Reply);
        assert_eq!(back.client_id, req.client_id);
        assert_eq!(back.server_id, Some(&duid_ll(mac)[..]));
        assert_eq!(back.ia_na, Some(ia));
        assert!(back.rapid_commit);
        let dns_opt = back_pkt
            .options()
            .map(|o| o.unwrap())
            .find(|o| o.code == opt::DNS_SERVERS)
            .unwrap();
        assert_eq!(dns_opt.data, &dns[0].octets());
        assert!(reply.emit(&mut out[..10]).is_err());
    }
}
