//! A little network of smoltcp guests talking to one `MetadataServer`, on a
//! virtual clock.

use std::collections::{HashMap, VecDeque};
use std::net::Ipv4Addr;
use std::time::{Duration, Instant};

use smoltcp::iface::{Config, Interface, SocketHandle, SocketSet};
use smoltcp::phy::{self, Device, DeviceCapabilities, Medium};
use smoltcp::socket::tcp;
use smoltcp::wire::{
    HardwareAddress, IpAddress, IpCidr, IpProtocol, Ipv4Packet, TcpPacket, TcpSeqNumber,
};
use vswitch_metadata::{InstanceView, Limits, MetadataServer, NicView, METADATA_ADDR};

/// The guests' own address (every guest has the same one).
pub const GUEST_ADDR: Ipv4Addr = Ipv4Addr::new(172, 30, 0, 5);

/// One guest: a smoltcp interface on the tenant `key`.
pub struct Guest {
    pub key: u32,
    iface: Interface,
    pub sockets: SocketSet<'static>,
    queues: Queues,
    next_port: u16,
    received: HashMap<SocketHandle, Vec<u8>>,
}

#[derive(Default)]
struct Queues {
    rx: VecDeque<Vec<u8>>,
    tx: VecDeque<Vec<u8>>,
}

impl Guest {
    fn new(key: u32, at: smoltcp::time::Instant) -> Guest {
        let mut queues = Queues::default();
        let mut config = Config::new(HardwareAddress::Ip);
        config.random_seed = u64::from(key) * 7919 + 1;
        let mut iface = Interface::new(config, &mut queues, at);
        iface.update_ip_addrs(|a| {
            a.push(IpCidr::new(GUEST_ADDR.into(), 24)).unwrap();
        });
        iface
            .routes_mut()
            .add_default_ipv4_route(Ipv4Addr::new(172, 30, 0, 1))
            .unwrap();
        Guest {
            key,
            iface,
            sockets: SocketSet::new(vec![]),
            queues,
            next_port: 49152,
            received: HashMap::new(),
        }
    }

    /// Opens a connection to 169.254.169.254:80.
    pub fn connect(&mut self) -> SocketHandle {
        let socket = tcp::Socket::new(
            tcp::SocketBuffer::new(vec![0; 65536]),
            tcp::SocketBuffer::new(vec![0; 8192]),
        );
        let handle = self.sockets.add(socket);
        let port = self.next_port;
        self.next_port += 1;
        self.sockets
            .get_mut::<tcp::Socket>(handle)
            .connect(
                self.iface.context(),
                (IpAddress::Ipv4(METADATA_ADDR), 80),
                port,
            )
            .unwrap();
        handle
    }

    pub fn socket(&mut self, h: SocketHandle) -> &mut tcp::Socket<'static> {
        self.sockets.get_mut::<tcp::Socket>(h)
    }

    pub fn state(&self, h: SocketHandle) -> tcp::State {
        self.sockets.get::<tcp::Socket>(h).state()
    }

    /// Queues `data` on the connection (it must fit the send buffer).
    pub fn send(&mut self, h: SocketHandle, data: &[u8]) {
        let n = self.socket(h).send_slice(data).unwrap();
        assert_eq!(n, data.len(), "send buffer too small for the test");
    }

    /// Everything received on the connection so far.
    pub fn received(&self, h: SocketHandle) -> &[u8] {
        self.received.get(&h).map(Vec::as_slice).unwrap_or(&[])
    }

    /// Runs the interface; returns the packets it sends.
    fn run(&mut self, at: smoltcp::time::Instant) -> Vec<Vec<u8>> {
        self.iface.poll(at, &mut self.queues, &mut self.sockets);
        for (h, s) in self.sockets.iter_mut() {
            let smoltcp::socket::Socket::Tcp(s) = s;
            while s.can_recv() {
                let buf = self.received.entry(h).or_default();
                s.recv(|d| {
                    buf.extend_from_slice(d);
                    (d.len(), ())
                })
                .unwrap();
            }
        }
        self.queues.tx.drain(..).collect()
    }
}

impl Device for Queues {
    type RxToken<'a> = Rx;
    type TxToken<'a> = Tx<'a>;

    fn receive(&mut self, _: smoltcp::time::Instant) -> Option<(Rx, Tx<'_>)> {
        let p = self.rx.pop_front()?;
        Some((Rx(p), Tx(&mut self.tx)))
    }

    fn transmit(&mut self, _: smoltcp::time::Instant) -> Option<Tx<'_>> {
        Some(Tx(&mut self.tx))
    }

    fn capabilities(&self) -> DeviceCapabilities {
        let mut caps = DeviceCapabilities::default();
        caps.medium = Medium::Ip;
        caps.max_transmission_unit = 1500;
        caps
    }
}

pub struct Rx(Vec<u8>);

impl phy::RxToken for Rx {
    fn consume<R, F: FnOnce(&[u8]) -> R>(self, f: F) -> R {
        f(&self.0)
    }
}

pub struct Tx<'a>(&'a mut VecDeque<Vec<u8>>);

impl phy::TxToken for Tx<'_> {
    fn consume<R, F: FnOnce(&mut [u8]) -> R>(self, len: usize, f: F) -> R {
        let mut p = vec![0; len];
        let r = f(&mut p);
        self.0.push_back(p);
        r
    }
}

/// A parsed response.
#[derive(Debug)]
pub struct Response {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: String,
}

impl Response {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

/// Parses a whole response, checking the headers every answer must carry.
pub fn parse_response(raw: &[u8], head_only: bool) -> Response {
    let text = String::from_utf8(raw.to_vec()).unwrap();
    let (head, body) = text.split_once("\r\n\r\n").expect("a whole head");
    let mut lines = head.split("\r\n");
    let status_line = lines.next().unwrap();
    let status = status_line
        .strip_prefix("HTTP/1.1 ")
        .unwrap()
        .get(..3)
        .unwrap()
        .parse()
        .unwrap();
    let headers: Vec<(String, String)> = lines
        .map(|l| {
            let (n, v) = l.split_once(": ").unwrap();
            (n.to_string(), v.to_string())
        })
        .collect();
    let r = Response {
        status,
        headers,
        body: body.to_string(),
    };
    assert_eq!(r.header("Content-Type"), Some("text/plain"));
    assert_eq!(r.header("Connection"), Some("close"));
    let len: usize = r.header("Content-Length").unwrap().parse().unwrap();
    if head_only {
        assert!(r.body.is_empty(), "HEAD has no body");
    } else {
        assert_eq!(len, r.body.len(), "Content-Length matches the body");
    }
    r
}

/// The guests, the server and the clock.
pub struct World {
    pub server: MetadataServer,
    pub guests: Vec<Guest>,
    pub views: HashMap<u32, InstanceView>,
    t0: Instant,
    pub now: Instant,
    /// Every packet the server sent, by key.
    pub sent: Vec<(u32, Vec<u8>)>,
}

impl World {
    pub fn new(limits: Limits) -> World {
        let t0 = Instant::now();
        World {
            server: MetadataServer::new(limits),
            guests: Vec::new(),
            views: HashMap::new(),
            t0,
            now: t0,
            sent: Vec::new(),
        }
    }

    fn at(&self) -> smoltcp::time::Instant {
        smoltcp::time::Instant::from_micros((self.now - self.t0).as_micros() as i64)
    }

    /// Adds a guest on tenant `key`; returns its index.
    pub fn guest(&mut self, key: u32) -> usize {
        let g = Guest::new(key, self.at());
        self.guests.push(g);
        self.guests.len() - 1
    }

    /// Moves the clock on by `d`.
    pub fn advance(&mut self, d: Duration) {
        self.now += d;
    }

    /// One round: guests send, the server takes and polls, guests get the
    /// answers. Whether any packet moved.
    pub fn step(&mut self) -> bool {
        let at = self.at();
        let mut moved = false;
        for g in &mut self.guests {
            for p in g.run(at) {
                moved = true;
                self.server.receive(g.key, &p, self.now);
            }
        }
        let views = &self.views;
        let source = |key: u32| views.get(&key).cloned();
        let mut out = Vec::new();
        self.server.poll(self.now, &source, &mut out);
        for (key, p) in out {
            moved = true;
            for g in self.guests.iter_mut().filter(|g| g.key == key) {
                g.queues.rx.push_back(p.clone());
            }
            self.sent.push((key, p));
        }
        moved
    }

    /// Steps until `done` or 5 virtual seconds pass; when nothing moves the
    /// clock jumps a little (ACK delays, retransmissions).
    pub fn run_until(&mut self, mut done: impl FnMut(&mut World) -> bool) {
        let end = self.now + Duration::from_secs(5);
        while !done(self) {
            assert!(self.now < end, "no result within 5 virtual seconds");
            if !self.step() {
                self.advance(Duration::from_millis(5));
            }
        }
    }

    /// Steps until nothing moves for 50 virtual ms.
    pub fn settle(&mut self) {
        let mut quiet = 0;
        while quiet < 10 {
            if self.step() {
                quiet = 0;
            } else {
                quiet += 1;
                self.advance(Duration::from_millis(5));
            }
        }
    }

    /// Sends `request` on a new connection from guest `g`, waits for the
    /// whole answer (the server's FIN), closes, and returns what came.
    pub fn exchange(&mut self, g: usize, request: &[u8]) -> Vec<u8> {
        let h = self.guests[g].connect();
        self.run_until(|w| w.guests[g].state(h) == tcp::State::Established);
        self.guests[g].send(h, request);
        self.run_until(|w| !w.guests[g].socket(h).may_recv());
        self.guests[g].socket(h).close();
        self.run_until(|w| {
            matches!(
                w.guests[g].state(h),
                tcp::State::Closed | tcp::State::TimeWait
            )
        });
        self.guests[g].sockets.remove(h);
        self.guests[g].received.remove(&h).unwrap_or_default()
    }

    /// GETs `path` from guest `g`.
    pub fn get(&mut self, g: usize, path: &str) -> Response {
        let req = format!("GET {path} HTTP/1.1\r\nHost: 169.254.169.254\r\nAccept: */*\r\n\r\n");
        let raw = self.exchange(g, req.as_bytes());
        parse_response(&raw, false)
    }
}

/// An instance with two NICs: device 0 with a secondary IPv4, an IPv6 and
/// two security groups; device 1 with one address and no optional fields.
pub fn two_nic_instance(id: &str) -> InstanceView {
    InstanceView {
        instance_id: id.to_string(),
        nics: vec![
            NicView {
                device_index: 1,
                mac: [0x02, 0x00, 0x00, 0x00, 0x01, 0xbb],
                interface_id: "eni-second".into(),
                local_ipv4s: vec![Ipv4Addr::new(10, 1, 2, 30)],
                ipv6s: vec![],
                subnet_id: Some("subnet-b".into()),
                vpc_id: Some("vpc-1".into()),
                security_group_ids: vec!["sg-third".into()],
                subnet_ipv4_cidr_block: None,
            },
            NicView {
                device_index: 0,
                mac: [0x02, 0x00, 0x00, 0x00, 0x00, 0xaa],
                interface_id: "eni-primary".into(),
                local_ipv4s: vec![Ipv4Addr::new(10, 1, 1, 10), Ipv4Addr::new(10, 1, 1, 11)],
                ipv6s: vec!["2001:db8::10".parse().unwrap()],
                subnet_id: Some("subnet-a".into()),
                vpc_id: Some("vpc-1".into()),
                security_group_ids: vec!["sg-first".into(), "sg-second".into()],
                subnet_ipv4_cidr_block: Some("10.1.1.0/24".into()),
            },
        ],
    }
}

/// TCP flags for [`tcp_packet`].
pub const SYN: u8 = 1;
pub const ACK: u8 = 2;
pub const RST: u8 = 4;

/// A hand-made IPv4/TCP packet with correct checksums.
pub fn tcp_packet(
    src: Ipv4Addr,
    dst: Ipv4Addr,
    sport: u16,
    dport: u16,
    flags: u8,
    payload: &[u8],
) -> Vec<u8> {
    let total = 40 + payload.len();
    let mut buf = vec![0u8; total];
    {
        let mut ip = Ipv4Packet::new_unchecked(&mut buf[..]);
        ip.set_version(4);
        ip.set_header_len(20);
        ip.set_total_len(total as u16);
        ip.set_hop_limit(64);
        ip.set_next_header(IpProtocol::Tcp);
        ip.set_src_addr(src);
        ip.set_dst_addr(dst);
        ip.fill_checksum();
    }
    {
        let mut tcp = TcpPacket::new_unchecked(&mut buf[20..]);
        tcp.set_src_port(sport);
        tcp.set_dst_port(dport);
        tcp.set_seq_number(TcpSeqNumber(1000));
        tcp.set_ack_number(TcpSeqNumber(if flags & ACK != 0 { 5000 } else { 0 }));
        tcp.set_header_len(20);
        tcp.set_syn(flags & SYN != 0);
        tcp.set_ack(flags & ACK != 0);
        tcp.set_rst(flags & RST != 0);
        tcp.set_window_len(8192);
        tcp.payload_mut().copy_from_slice(payload);
        tcp.fill_checksum(&IpAddress::Ipv4(src), &IpAddress::Ipv4(dst));
    }
    buf
}

/// Recomputes both checksums of an IPv4/TCP packet (after a mutation).
pub fn fix_checksums(buf: &mut [u8]) {
    let Ok(mut ip) = Ipv4Packet::new_checked(&mut buf[..]) else {
        return;
    };
    ip.fill_checksum();
    let (src, dst) = (ip.src_addr(), ip.dst_addr());
    let hl = ip.header_len() as usize;
    let tl = ip.total_len() as usize;
    if let Ok(mut tcp) = TcpPacket::new_checked(&mut buf[hl..tl]) {
        tcp.fill_checksum(&IpAddress::Ipv4(src), &IpAddress::Ipv4(dst));
    }
}
