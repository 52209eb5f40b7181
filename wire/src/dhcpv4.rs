//! DHCPv4 (RFC 2131, options RFC 2132) as far as the virtual gateway's
//! server needs: read a client's message, write an OFFER, ACK or NAK.
//!
//! BOOTP header (offsets): op 0, htype 1, hlen 2, hops 3, xid 4..8,
//! secs 8..10, flags 10..12, ciaddr 12, yiaddr 16, siaddr 20, giaddr 24,
//! chaddr 28..44, sname 44..108, file 108..236, magic cookie 236..240,
//! options from 240. Option overload (52) into sname/file is not honoured:
//! the gateway's clients have no reason to use it.

use std::net::Ipv4Addr;

use super::field::{ipv4_at, mac_at, put, put_u16, put_u32, put_u8, u16_at, u32_at, u8_at, Writer};
use super::{MacAddr, Result, WireError};

const OP: usize = 0;
const HTYPE: usize = 1;
const HLEN: usize = 2;
const HOPS: usize = 3;
const XID: usize = 4;
const SECS: usize = 8;
const FLAGS: usize = 10;
const CIADDR: usize = 12;
const YIADDR: usize = 16;
const SIADDR: usize = 20;
const GIADDR: usize = 24;
const CHADDR: usize = 28;
const MAGIC: usize = 236;
const OPTIONS: usize = 240;

/// The magic cookie that marks DHCP options (99.130.83.99).
pub const MAGIC_COOKIE: u32 = 0x6382_5363;
/// Length of the fixed part, cookie included.
pub const HEADER_LEN: usize = OPTIONS;
/// RFC 1542: some relays and clients drop BOOTP messages shorter than this.
pub const MIN_MESSAGE_LEN: usize = 300;
/// UDP port of the server.
pub const SERVER_PORT: u16 = 67;
/// UDP port of the client.
pub const CLIENT_PORT: u16 = 68;

/// BOOTP op of a client's message.
pub const OP_REQUEST: u8 = 1;
/// BOOTP op of a server's message.
pub const OP_REPLY: u8 = 2;
const HTYPE_ETHERNET: u8 = 1;
const FLAG_BROADCAST: u16 = 0x8000;

/// Option codes.
pub mod opt {
    /// Padding.
    pub const PAD: u8 = 0;
    /// Subnet mask.
    pub const SUBNET_MASK: u8 = 1;
    /// Routers.
    pub const ROUTER: u8 = 3;
    /// DNS servers.
    pub const DNS_SERVERS: u8 = 6;
    /// Host name.
    pub const HOSTNAME: u8 = 12;
    /// Domain name.
    pub const DOMAIN_NAME: u8 = 15;
    /// Interface MTU.
    pub const INTERFACE_MTU: u8 = 26;
    /// Requested IP address.
    pub const REQUESTED_IP: u8 = 50;
    /// IP address lease time.
    pub const LEASE_TIME: u8 = 51;
    /// Option overload.
    pub const OVERLOAD: u8 = 52;
    /// DHCP message type.
    pub const MESSAGE_TYPE: u8 = 53;
    /// Server identifier.
    pub const SERVER_ID: u8 = 54;
    /// Parameter request list.
    pub const PARAMETER_REQUEST_LIST: u8 = 55;
    /// Maximum DHCP message size.
    pub const MAX_MESSAGE_SIZE: u8 = 57;
    /// Client identifier.
    pub const CLIENT_ID: u8 = 61;
    /// Classless static routes (RFC 3442).
    pub const CLASSLESS_STATIC_ROUTES: u8 = 121;
    /// End of options.
    pub const END: u8 = 255;
}

/// The DHCP message type (option 53).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum DhcpMessageType {
    /// Client looks for servers.
    Discover,
    /// Server offers an address.
    Offer,
    /// Client asks for the offered (or its previous) address.
    Request,
    /// Client found the address in use.
    Decline,
    /// Server commits the lease.
    Ack,
    /// Server refuses the request.
    Nak,
    /// Client gives the lease up.
    Release,
    /// Client asks for configuration only.
    Inform,
}

impl DhcpMessageType {
    /// The option value.
    pub fn code(self) -> u8 {
        match self {
            DhcpMessageType::Discover => 1,
            DhcpMessageType::Offer => 2,
            DhcpMessageType::Request => 3,
            DhcpMessageType::Decline => 4,
            DhcpMessageType::Ack => 5,
            DhcpMessageType::Nak => 6,
            DhcpMessageType::Release => 7,
            DhcpMessageType::Inform => 8,
        }
    }
}

impl TryFrom<u8> for DhcpMessageType {
    type Error = WireError;

    fn try_from(v: u8) -> Result<Self> {
        Ok(match v {
            1 => DhcpMessageType::Discover,
            2 => DhcpMessageType::Offer,
            3 => DhcpMessageType::Request,
            4 => DhcpMessageType::Decline,
            5 => DhcpMessageType::Ack,
            6 => DhcpMessageType::Nak,
            7 => DhcpMessageType::Release,
            8 => DhcpMessageType::Inform,
            _ => return Err(WireError::Unsupported("DHCP message type")),
        })
    }
}

/// One option: code and value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DhcpOption<'a> {
    /// Option code.
    pub kind: u8,
    /// Option value.
    pub data: &'a [u8],
}

/// Iterates over the options; skips Pad, stops at End or after an error.
#[derive(Debug, Clone)]
pub struct DhcpOptionIter<'a> {
    data: &'a [u8],
    pos: usize,
    done: bool,
}

impl<'a> DhcpOptionIter<'a> {
    /// Iterates over a raw options area (after the magic cookie).
    pub fn new(data: &'a [u8]) -> Self {
        DhcpOptionIter {
            data,
            pos: 0,
            done: false,
        }
    }
}

impl<'a> Iterator for DhcpOptionIter<'a> {
    type Item = Result<DhcpOption<'a>>;

    fn next(&mut self) -> Option<Self::Item> {
        loop {
            if self.done {
                return None;
            }
            // A missing End is tolerated: running out of bytes ends the list.
            let kind = *self.data.get(self.pos)?;
            match kind {
                opt::PAD => self.pos += 1,
                opt::END => {
                    self.done = true;
                    return None;
                }
                _ => {
                    let item = self
                        .data
                        .get(self.pos + 1)
                        .map(|&l| usize::from(l))
                        .and_then(|len| {
                            let data = self.data.get(self.pos + 2..)?.get(..len)?;
                            Some((len, data))
                        });
                    return match item {
                        Some((len, data)) => {
                            self.pos += 2 + len;
                            Some(Ok(DhcpOption { kind, data }))
                        }
                        None => {
                            self.done = true;
                            Some(Err(WireError::Truncated))
                        }
                    };
                }
            }
        }
    }
}

/// A view of a DHCP message (the UDP payload).
#[derive(Debug, Clone)]
pub struct DhcpPacket<T: AsRef<[u8]>> {
    buffer: T,
}

impl<T: AsRef<[u8]>> DhcpPacket<T> {
    /// Wraps a buffer without checking it; getters on a short buffer read 0.
    pub fn new_unchecked(buffer: T) -> Self {
        DhcpPacket { buffer }
    }

    /// Wraps a buffer holding at least the BOOTP header and magic cookie.
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

    /// 1: BOOTREQUEST, 2: BOOTREPLY.
    pub fn op(&self) -> u8 {
        u8_at(self.buffer.as_ref(), OP)
    }

    /// Hardware address type (1: Ethernet).
    pub fn htype(&self) -> u8 {
        u8_at(self.buffer.as_ref(), HTYPE)
    }

    /// Hardware address length.
    pub fn hlen(&self) -> u8 {
        u8_at(self.buffer.as_ref(), HLEN)
    }

    /// Relay hops.
    pub fn hops(&self) -> u8 {
        u8_at(self.buffer.as_ref(), HOPS)
    }

    /// Transaction id.
    pub fn xid(&self) -> u32 {
        u32_at(self.buffer.as_ref(), XID)
    }

    /// Seconds since the client began.
    pub fn secs(&self) -> u16 {
        u16_at(self.buffer.as_ref(), SECS)
    }

    /// The flags field.
    pub fn flags(&self) -> u16 {
        u16_at(self.buffer.as_ref(), FLAGS)
    }

    /// Whether the client asks for broadcast replies.
    pub fn broadcast(&self) -> bool {
        self.flags() & FLAG_BROADCAST != 0
    }

    /// Client's current address (renewing or informing).
    pub fn ciaddr(&self) -> Ipv4Addr {
        ipv4_at(self.buffer.as_ref(), CIADDR)
    }

    /// "Your" address, assigned by the server.
    pub fn yiaddr(&self) -> Ipv4Addr {
        ipv4_at(self.buffer.as_ref(), YIADDR)
    }

    /// Next server address.
    pub fn siaddr(&self) -> Ipv4Addr {
        ipv4_at(self.buffer.as_ref(), SIADDR)
    }

    /// Relay agent address.
    pub fn giaddr(&self) -> Ipv4Addr {
        ipv4_at(self.buffer.as_ref(), GIADDR)
    }

    /// The first six bytes of chaddr (the MAC, for Ethernet).
    pub fn client_hw_addr(&self) -> MacAddr {
        mac_at(self.buffer.as_ref(), CHADDR)
    }

    /// The magic cookie field.
    pub fn magic(&self) -> u32 {
        u32_at(self.buffer.as_ref(), MAGIC)
    }

    /// The options.
    pub fn options(&self) -> DhcpOptionIter<'_> {
        DhcpOptionIter::new(self.buffer.as_ref().get(OPTIONS..).unwrap_or(&[]))
    }

    /// The first option with this code.
    pub fn option(&self, kind: u8) -> Result<Option<&[u8]>> {
        for o in self.options() {
            let o = o?;
            if o.kind == kind {
                return Ok(Some(o.data));
            }
        }
        Ok(None)
    }
}

impl<T: AsRef<[u8]> + AsMut<[u8]>> DhcpPacket<T> {
    /// Sets the transaction id.
    pub fn set_xid(&mut self, v: u32) {
        put_u32(self.buffer.as_mut(), XID, v);
    }

    /// Sets "your" address.
    pub fn set_yiaddr(&mut self, a: Ipv4Addr) {
        put(self.buffer.as_mut(), YIADDR, &a.octets());
    }
}

/// A client's message, as the server reads it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DhcpMessageRepr<'a> {
    /// BOOTP op (1 from clients).
    pub op: u8,
    /// Option 53.
    pub message_type: DhcpMessageType,
    /// Transaction id, echoed in the reply.
    pub xid: u32,
    /// The broadcast flag, echoed in the reply.
    pub broadcast: bool,
    /// Client's current address.
    pub ciaddr: Ipv4Addr,
    /// "Your" address.
    pub yiaddr: Ipv4Addr,
    /// Next server address.
    pub siaddr: Ipv4Addr,
    /// Relay agent address.
    pub giaddr: Ipv4Addr,
    /// Client MAC.
    pub client_hw_addr: MacAddr,
    /// Option 50.
    pub requested_ip: Option<Ipv4Addr>,
    /// Option 54.
    pub server_id: Option<Ipv4Addr>,
    /// Option 55: the codes the client asks for.
    pub parameter_request_list: Option<&'a [u8]>,
    /// Option 61.
    pub client_id: Option<&'a [u8]>,
    /// Option 12 (raw: not necessarily UTF-8).
    pub hostname: Option<&'a [u8]>,
    /// Option 57.
    pub max_message_size: Option<u16>,
}

fn ipv4_opt(data: &[u8], what: &'static str) -> Result<Ipv4Addr> {
    <[u8; 4]>::try_from(data)
        .map(Ipv4Addr::from)
        .map_err(|_| WireError::Malformed(what))
}

impl<'a> DhcpMessageRepr<'a> {
    /// Parses a DHCP message over Ethernet; plain BOOTP (no message type)
    /// is unsupported.
    pub fn parse<T: AsRef<[u8]>>(p: &'a DhcpPacket<T>) -> Result<DhcpMessageRepr<'a>> {
        if p.buffer.as_ref().len() < HEADER_LEN {
            return Err(WireError::Truncated);
        }
        if p.htype() != HTYPE_ETHERNET || p.hlen() != 6 {
            return Err(WireError::Unsupported("DHCP hardware type"));
        }
        if p.magic() != MAGIC_COOKIE {
            return Err(WireError::Malformed("DHCP magic cookie"));
        }
        let mut message_type = None;
        let mut repr = DhcpMessageRepr {
            op: p.op(),
            message_type: DhcpMessageType::Discover,
            xid: p.xid(),
            broadcast: p.broadcast(),
            ciaddr: p.ciaddr(),
            yiaddr: p.yiaddr(),
            siaddr: p.siaddr(),
            giaddr: p.giaddr(),
            client_hw_addr: p.client_hw_addr(),
            requested_ip: None,
            server_id: None,
            parameter_request_list: None,
            client_id: None,
            hostname: None,
            max_message_size: None,
        };
        for o in p.options() {
            let o = o?;
            match o.kind {
                opt::MESSAGE_TYPE => {
                    let [t] = o.data else {
                        return Err(WireError::Malformed("DHCP message type length"));
                    };
                    message_type = Some(DhcpMessageType::try_from(*t)?);
                }
                opt::REQUESTED_IP => {
                    repr.requested_ip = Some(ipv4_opt(o.data, "DHCP requested IP")?)
                }
                opt::SERVER_ID => repr.server_id = Some(ipv4_opt(o.data, "DHCP server id")?),
                opt::PARAMETER_REQUEST_LIST => repr.parameter_request_list = Some(o.data),
                opt::CLIENT_ID => repr.client_id = Some(o.data),
                opt::HOSTNAME => repr.hostname = Some(o.data),
                opt::MAX_MESSAGE_SIZE => {
                    let [a, b] = o.data else {
                        return Err(WireError::Malformed("DHCP max message size"));
                    };
                    repr.max_message_size = Some(u16::from_be_bytes([*a, *b]));
                }
                _ => {}
            }
        }
        repr.message_type = message_type.ok_or(WireError::Unsupported("BOOTP without DHCP"))?;
        Ok(repr)
    }

    /// Whether the client listed this option code in its request list.
    pub fn requests(&self, code: u8) -> bool {
        self.parameter_request_list
            .is_some_and(|l| l.contains(&code))
    }
}

/// A server reply (OFFER, ACK or NAK). For a NAK, RFC 2131 table 3 wants
/// only the message type and server id: leave the other options empty.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DhcpReplyRepr<'a> {
    /// Offer, Ack or Nak.
    pub message_type: DhcpMessageType,
    /// The request's transaction id.
    pub xid: u32,
    /// The request's broadcast flag.
    pub broadcast: bool,
    /// The client MAC.
    pub client_hw_addr: MacAddr,
    /// The client's address, for an ACK to an INFORM.
    pub ciaddr: Ipv4Addr,
    /// The address leased.
    pub yiaddr: Ipv4Addr,
    /// Next server (the gateway itself, or 0).
    pub siaddr: Ipv4Addr,
    /// The request's relay agent address.
    pub giaddr: Ipv4Addr,
    /// Option 54: this server.
    pub server_id: Ipv4Addr,
    /// Option 1.
    pub subnet_mask: Option<Ipv4Addr>,
    /// Option 3 (clients that honour option 121 ignore it, RFC 3442).
    pub router: Option<Ipv4Addr>,
    /// Option 6 (at most 63 servers fit).
    pub dns_servers: &'a [Ipv4Addr],
    /// Option 12.
    pub hostname: Option<&'a str>,
    /// Option 15.
    pub domain_name: Option<&'a str>,
    /// Option 51, in seconds.
    pub lease_time: Option<u32>,
    /// Option 26.
    pub mtu: Option<u16>,
    /// Option 121: (destination prefix, prefix length, router).
    pub classless_routes: &'a [(Ipv4Addr, u8, Ipv4Addr)],
}

/// RFC 3442: a route takes 1 byte of width, the significant octets of the
/// destination, and 4 bytes of router.
fn route_len(prefix_len: u8) -> usize {
    1 + usize::from(prefix_len).div_ceil(8) + 4
}

impl<'a> DhcpReplyRepr<'a> {
    /// A reply to `req` with the fields echoed from it and no options but
    /// the message type and server id.
    pub fn for_request(
        req: &DhcpMessageRepr<'_>,
        message_type: DhcpMessageType,
        server_id: Ipv4Addr,
    ) -> DhcpReplyRepr<'a> {
        DhcpReplyRepr {
            message_type,
            xid: req.xid,
            broadcast: req.broadcast,
            client_hw_addr: req.client_hw_addr,
            ciaddr: Ipv4Addr::UNSPECIFIED,
            yiaddr: Ipv4Addr::UNSPECIFIED,
            siaddr: Ipv4Addr::UNSPECIFIED,
            giaddr: req.giaddr,
            server_id,
            subnet_mask: None,
            router: None,
            dns_servers: &[],
            hostname: None,
            domain_name: None,
            lease_time: None,
            mtu: None,
            classless_routes: &[],
        }
    }

    fn options_len(&self) -> usize {
        let mut n = 3 + 6; // message type, server id
        n += self.lease_time.map_or(0, |_| 6);
        n += self.subnet_mask.map_or(0, |_| 6);
        n += self.router.map_or(0, |_| 6);
        if !self.dns_servers.is_empty() {
            n += 2 + 4 * self.dns_servers.len();
        }
        n += self.hostname.map_or(0, |h| 2 + h.len());
        n += self.domain_name.map_or(0, |d| 2 + d.len());
        n += self.mtu.map_or(0, |_| 4);
        if !self.classless_routes.is_empty() {
            n += 2 + self
                .classless_routes
                .iter()
                .map(|r| route_len(r.1.min(32)))
                .sum::<usize>();
        }
        n + 1 // End
    }

    /// The message length, padded to the 300-byte BOOTP minimum.
    pub fn buffer_len(&self) -> usize {
        (HEADER_LEN + self.options_len()).max(MIN_MESSAGE_LEN)
    }

    /// Writes the reply at the start of `buf`; returns its length.
    pub fn emit(&self, buf: &mut [u8]) -> Result<usize> {
        let len = self.buffer_len();
        let b = buf.get_mut(..len).ok_or(WireError::Truncated)?;
        b.fill(0);
        put_u8(b, OP, OP_REPLY);
        put_u8(b, HTYPE, HTYPE_ETHERNET);
        put_u8(b, HLEN, 6);
        put_u32(b, XID, self.xid);
        put_u16(b, FLAGS, if self.broadcast { FLAG_BROADCAST } else { 0 });
        put(b, CIADDR, &self.ciaddr.octets());
        put(b, YIADDR, &self.yiaddr.octets());
        put(b, SIADDR, &self.siaddr.octets());
        put(b, GIADDR, &self.giaddr.octets());
        put(b, CHADDR, &self.client_hw_addr.0);
        put_u32(b, MAGIC, MAGIC_COOKIE);

        let mut w = Writer::new(b, OPTIONS);
        fn option(w: &mut Writer<'_>, kind: u8, data: &[u8]) -> Result<()> {
            if data.is_empty() {
                return Err(WireError::Malformed("empty DHCP option"));
            }
            let len = u8::try_from(data.len())
                .map_err(|_| WireError::Malformed("DHCP option too long"))?;
            w.u8(kind)?;
            w.u8(len)?;
            w.bytes(data)
        }
        option(&mut w, opt::MESSAGE_TYPE, &[self.message_type.code()])?;
        option(&mut w, opt::SERVER_ID, &self.server_id.octets())?;
        if let Some(t) = self.lease_time {
            option(&mut w, opt::LEASE_TIME, &t.to_be_bytes())?;
        }
        if let Some(m) = self.subnet_mask {
            option(&mut w, opt::SUBNET_MASK, &m.octets())?;
        }
        if let Some(r) = self.router {
            option(&mut w, opt::ROUTER, &r.octets())?;
        }
        if !self.dns_servers.is_empty() {
            let mut v = [0u8; 255];
            let mut n = 0;
            for d in self.dns_servers {
                let slot = v
                    .get_mut(n..n + 4)
                    .ok_or(WireError::Malformed("too many DNS servers"))?;
                slot.copy_from_slice(&d.octets());
                n += 4;
            }
            option(&mut w, opt::DNS_SERVERS, v.get(..n).unwrap_or(&[]))?;
        }
        if let Some(h) = self.hostname {
            option(&mut w, opt::HOSTNAME, h.as_bytes())?;
        }
        if let Some(d) = self.domain_name {
            option(&mut w, opt::DOMAIN_NAME, d.as_bytes())?;
        }
        if let Some(m) = self.mtu {
            option(&mut w, opt::INTERFACE_MTU, &m.to_be_bytes())?;
        }
        if !self.classless_routes.is_empty() {
            let mut v = [0u8; 255];
            let mut n = 0;
            for &(dest, width, router) in self.classless_routes {
                if width > 32 {
                    return Err(WireError::Malformed("route prefix length"));
                }
                let significant = usize::from(width).div_ceil(8);
                // Host bits of the destination must be zero on the wire.
                let mask = u32::MAX.checked_shl(32 - u32::from(width)).unwrap_or(0);
                let dest = (u32::from(dest) & mask).to_be_bytes();
                let entry = v
                    .get_mut(n..n + route_len(width))
                    .ok_or(WireError::Malformed("too many classless routes"))?;
                let mut ew = Writer::new(entry, 0);
                ew.u8(width)?;
                ew.bytes(dest.get(..significant).unwrap_or(&[]))?;
                ew.bytes(&router.octets())?;
                n += route_len(width);
            }
            option(
                &mut w,
                opt::CLASSLESS_STATIC_ROUTES,
                v.get(..n).unwrap_or(&[]),
            )?;
        }
        w.u8(opt::END)?;
        Ok(len)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A DISCOVER as a client writes it (RFC 2131 section 2 field layout).
    fn discover() -> Vec<u8> {
        let mut b = vec![0u8; 240];
        b[0] = OP_REQUEST;
        b[1] = 1; // htype Ethernet
        b[2] = 6; // hlen
        b[4..8].copy_from_slice(&0x3903_f326u32.to_be_bytes()); // xid
        b[10] = 0x80; // broadcast flag
        b[28..34].copy_from_slice(&[0x02, 0x08, 0x20, 0xaa, 0xbb, 0xcc]); // chaddr
        b[236..240].copy_from_slice(&[99, 130, 83, 99]); // magic cookie
        b.extend_from_slice(&[53, 1, 1]); // DHCPDISCOVER
        b.extend_from_slice(&[0, 0]); // pads are skipped
        b.extend_from_slice(&[61, 7, 1, 0x02, 0x08, 0x20, 0xaa, 0xbb, 0xcc]); // client id
        b.extend_from_slice(&[50, 4, 172, 30, 0, 5]); // requested IP
        b.extend_from_slice(&[12, 4, b'v', b'm', b'-', b'1']); // hostname
        b.extend_from_slice(&[55, 4, 1, 3, 6, 121]); // parameter request list
        b.extend_from_slice(&[255]);
        b
    }

    #[test]
    fn parse_discover() {
        let b = discover();
        let p = DhcpPacket::new_checked(&b[..]).unwrap();
        let r = DhcpMessageRepr::parse(&p).unwrap();
        assert_eq!(r.message_type, DhcpMessageType::Discover);
        assert_eq!(r.xid, 0x3903_f326);
        assert!(r.broadcast);
        assert_eq!(r.client_hw_addr.to_string(), "02:08:20:aa:bb:cc");
        assert_eq!(r.requested_ip, Some(Ipv4Addr::new(172, 30, 0, 5)));
        assert_eq!(r.hostname, Some(&b"vm-1"[..]));
        assert_eq!(r.client_id.map(|c| c.len()), Some(7));
        assert!(r.requests(121) && !r.requests(15));
        assert_eq!(r.server_id, None);
    }

    #[test]
    fn parse_rejects() {
        let mut b = discover();
        b[236] = 0;
        let p = DhcpPacket::new_checked(&b[..]).unwrap();
        assert!(matches!(
            DhcpMessageRepr::parse(&p),
            Err(WireError::Malformed(_))
        ));
        let mut b = discover();
        b[242] = 9;
        let p = DhcpPacket::new_checked(&b[..]).unwrap();
        assert!(DhcpMessageRepr::parse(&p).is_err());
        let mut b = discover();
        b.truncate(b.len() - 3); // cuts the request list short, and End
        let p = DhcpPacket::new_checked(&b[..]).unwrap();
        assert_eq!(
            DhcpMessageRepr::parse(&p).unwrap_err(),
            WireError::Truncated
        );
        let mut b = discover();
        b.truncate(240);
        let p = DhcpPacket::new_checked(&b[..]).unwrap();
        assert!(matches!(
            DhcpMessageRepr::parse(&p),
            Err(WireError::Unsupported(_))
        ));
        assert!(DhcpPacket::new_checked(&b[..239]).is_err());
    }

    #[test]
    fn emit_ack() {
        let b = discover();
        let p = DhcpPacket::new_checked(&b[..]).unwrap();
        let req = DhcpMessageRepr::parse(&p).unwrap();
        let gw = Ipv4Addr::new(172, 30, 0, 1);
        let dns = [Ipv4Addr::new(1, 1, 1, 1), Ipv4Addr::new(8, 8, 8, 8)];
        let routes = [
            (gw, 32, Ipv4Addr::UNSPECIFIED),
            (Ipv4Addr::UNSPECIFIED, 0, gw),
            (Ipv4Addr::new(10, 1, 2, 3), 20, gw),
        ];
        let reply = DhcpReplyRepr {
            yiaddr: Ipv4Addr::new(172, 30, 0, 5),
            siaddr: gw,
            subnet_mask: Some(Ipv4Addr::new(255, 255, 255, 255)),
            router: Some(gw),
            dns_servers: &dns,
            hostname: Some("vm-1"),
            domain_name: Some("vpc.internal"),
            lease_time: Some(86400),
            mtu: Some(1500),
            classless_routes: &routes,
            ..DhcpReplyRepr::for_request(&req, DhcpMessageType::Ack, gw)
        };
        let mut out = vec![0xeeu8; 600];
        let n = reply.emit(&mut out).unwrap();
        assert_eq!(n, reply.buffer_len());
        assert!(n > MIN_MESSAGE_LEN);
        let out = &out[..n];
        let p = DhcpPacket::new_checked(out).unwrap();
        assert_eq!(p.op(), OP_REPLY);
        assert_eq!(p.xid(), 0x3903_f326);
        assert!(p.broadcast());
        assert_eq!(p.yiaddr(), Ipv4Addr::new(172, 30, 0, 5));
        assert_eq!(p.client_hw_addr(), req.client_hw_addr);
        let opts: Vec<_> = p.options().collect::<Result<_>>().unwrap();
        let get = |k: u8| opts.iter().find(|o| o.kind == k).map(|o| o.data).unwrap();
        assert_eq!(
            opts[0],
            DhcpOption {
                kind: 53,
                data: &[5]
            }
        );
        assert_eq!(get(opt::SERVER_ID), &[172, 30, 0, 1]);
        assert_eq!(get(opt::LEASE_TIME), &86400u32.to_be_bytes());
        assert_eq!(get(opt::DNS_SERVERS), &[1, 1, 1, 1, 8, 8, 8, 8]);
        assert_eq!(get(opt::HOSTNAME), b"vm-1");
        assert_eq!(get(opt::DOMAIN_NAME), b"vpc.internal");
        assert_eq!(get(opt::INTERFACE_MTU), &[0x05, 0xdc]);
        // RFC 3442 encoding: width, significant octets, router.
        assert_eq!(
            get(opt::CLASSLESS_STATIC_ROUTES),
            &[
                32, 172, 30, 0, 1, 0, 0, 0, 0, // gateway/32 on-link
                0, 172, 30, 0, 1, // default via gateway
                20, 10, 1, 0, 172, 30, 0, 1, // 10.1.0.0/20 (host bits cleared)
            ]
        );
        // The server reads its own reply back as a DHCP message.
        let back = DhcpMessageRepr::parse(&p).unwrap();
        assert_eq!(back.message_type, DhcpMessageType::Ack);
        assert_eq!(back.server_id, Some(gw));
    }

    #[test]
    fn emit_nak_and_errors() {
        let b = discover();
        let p = DhcpPacket::new_checked(&b[..]).unwrap();
        let req = DhcpMessageRepr::parse(&p).unwrap();
        let gw = Ipv4Addr::new(172, 30, 0, 1);
        let nak = DhcpReplyRepr::for_request(&req, DhcpMessageType::Nak, gw);
        let mut out = [0u8; 300];
        assert_eq!(nak.emit(&mut out).unwrap(), 300);
        assert_eq!(&out[240..250], &[53, 1, 6, 54, 4, 172, 30, 0, 1, 255]);
        assert_eq!(nak.emit(&mut out[..299]).unwrap_err(), WireError::Truncated);

        let long = "x".repeat(256);
        let bad = DhcpReplyRepr {
            hostname: Some(&long),
            ..nak
        };
        let mut out = vec![0u8; bad.buffer_len()];
        assert!(matches!(bad.emit(&mut out), Err(WireError::Malformed(_))));
        let routes = [(gw, 33, gw)];
        let bad = DhcpReplyRepr {
            classless_routes: &routes,
            ..nak
        };
        let mut out = vec![0u8; bad.buffer_len()];
        assert!(bad.emit(&mut out).is_err());
        let many = [gw; 64];
        let bad = DhcpReplyRepr {
            dns_servers: &many,
            ..nak
        };
        let mut out = vec![0u8; bad.buffer_len()];
        assert!(bad.emit(&mut out).is_err());
    }
}
