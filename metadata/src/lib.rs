//! The instance metadata service: EC2's `http://169.254.169.254/latest/meta-data/`
//! for the guests of the switch, run by a management thread off the fast path.
//!
//! The workers punt guest IPv4 packets addressed to 169.254.169.254 TCP port
//! 80, tagged with a tenant key (the NIC's numeric id). [`MetadataServer`]
//! runs a small TCP/IP stack ([smoltcp], `Medium::Ip`: the switch adds and
//! strips the Ethernet header, so there is no ARP) per tenant key, and gives
//! back the IPv4 packets to send to each tenant. Each key has its own
//! interface and sockets, so tenants never see each other, even two VPCs
//! whose guests have the same address.
//!
//! ```
//! use std::time::Instant;
//! use vswitch_metadata::{InstanceView, Limits, MetadataServer};
//!
//! let mut server = MetadataServer::new(Limits::default());
//! let source = |_key: u32| -> Option<InstanceView> { None };
//! let mut out = Vec::new();
//! // The management thread's loop, once: receive what was punted...
//! let now = Instant::now();
//! server.receive(7, &[0x45, 0, 0, 20], now);
//! // ...poll, send `out` to each tenant, then sleep up to `poll_delay`.
//! server.poll(now, &source, &mut out);
//! assert!(out.is_empty());
//! assert_eq!(server.counters().malformed, 1);
//! assert_eq!(server.poll_delay(now), None);
//! ```
//!
//! # Bounds
//!
//! A hostile guest may flood SYNs, open connections and never send, or send
//! an endless request; everything is bounded by [`Limits`]:
//!
//! - at most `max_stacks` stacks; a new tenant when full evicts the least
//!   recently used stack with no open connection, else it is refused;
//! - per stack `conns_per_stack` sockets listening on port 80, so as many
//!   connections at once; a SYN past that is reset by smoltcp;
//! - a request head must end within `max_request` bytes (else 400);
//! - a connection with no progress for `idle` is aborted, a stack with no
//!   connection for `idle` freed;
//! - a stack holds at most 64 packets for `poll` to hand out.
//!
//! Memory is therefore bounded by about `max_stacks * conns_per_stack *
//! (rx_buffer + tx_buffer + max_request)` (socket buffers are allocated when
//! a stack is made, the request buffer as a head arrives), plus smoltcp's
//! small fixed state per interface and socket and up to 64 queued packets
//! per stack: with the defaults, 1024 * 4 * (2 + 16 + 2) KiB = 80 MiB at
//! worst.
//!
//! # HTTP
//!
//! Hand-written and minimal, since only GET (and HEAD) of a fixed tree is
//! served: HTTP/1.0 and 1.1, the request line is parsed and headers are only
//! checked for shape; other methods get 405. Every answer is `text/plain`
//! with `Content-Length` and `Connection: close`, and the connection closes
//! after it. The tree (see [`MetadataSource`] for where it comes from):
//!
//! - `/latest` -> `meta-data/`; `/latest/meta-data/` -> `instance-id`,
//!   `local-ipv4`, `mac`, `network/`; `network/` -> `interfaces/` ->
//!   `macs/` -> one `MAC/` per NIC by device index, each with
//!   `device-number`, `interface-id`, `ipv6s`, `local-ipv4s`, `mac`,
//!   `security-group-ids`, `subnet-id`, `subnet-ipv4-cidr-block`, `vpc-id`
//!   (each listed only when it has a value);
//! - `mac` and `local-ipv4` are those of device 0, MACs lower-case
//!   `aa:bb:cc:dd:ee:ff`;
//! - listings are one entry per line, subdirectories with a trailing `/`, no
//!   newline at the end; a directory answers with or without its trailing
//!   slash; anything else, and every path of a tenant attached to no
//!   instance, is 404.
//!
//! Not served: IMDSv2 tokens (`PUT /latest/api/token` gets 405, so clients
//! fall back to IMDSv1), user data, and anything outside the tree above.
//!
//! Punted packets must carry complete checksums: a TCP checksum left partial
//! by a guest's offload fails the check and the packet counts as malformed.

#![forbid(unsafe_code)]
#![deny(missing_docs)]

mod clock;
mod counters;
mod filter;
mod http;
mod limits;
mod link;
mod server;
mod source;
mod stack;
mod tree;

pub use counters::Counters;
pub use limits::Limits;
pub use server::MetadataServer;
pub use source::{InstanceView, MetadataSource, NicView};

/// The service's IPv4 address, 169.254.169.254.
pub const METADATA_ADDR: std::net::Ipv4Addr = filter::METADATA_ADDR;
/// The service's TCP port, 80.
pub const METADATA_PORT: u16 = filter::METADATA_PORT;
