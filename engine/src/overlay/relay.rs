//! After a live migration moved an instance away, its peers' switches send
//! to its old endpoint until they run the flip: for the grace period the
//! fleet keeps (README, *Live migration*), this sled relays such Geneve to
//! the new endpoint instead of dropping it: the outer destination rewritten
//! (the UDP checksum, when there is one, updated), the outer MACs this
//! uplink's and its next hop's, the hop limit decremented, and back out the
//! uplink. The inner frame is untouched: the new sled's switch processes it
//! as any arrival.

use crate::frame::offsets::ETH_SRC;
use crate::pktbuf::PacketBuf;
use crate::vpc::{Underlay, VpcState};
use crate::{DropReason, Outcome, Path};
use std::net::Ipv6Addr;

/// Where the outer IPv6 destination is in an untagged Geneve frame.
const OUTER_DST: std::ops::Range<usize> = 38..54;
/// The outer hop limit.
const HOP_LIMIT: usize = 21;
/// The outer UDP checksum.
const UDP_CSUM: std::ops::Range<usize> = 60..62;

/// The new endpoint for frame `f`, if it is Geneve over IPv6 for an old
/// endpoint of `vpc`.
#[inline]
fn target(vpc: &VpcState, f: &[u8]) -> Option<Ipv6Addr> {
    let h = f.get(..62)?;
    if h[12..14] != [0x86, 0xdd] || h[20] != 17 || h[56..58] != [0x17, 0xc1] {
        return None;
    }
    let dst = <[u8; 16]>::try_from(&h[OUTER_DST]).ok()?;
    vpc.forwards.get(&Ipv6Addr::from(dst)).copied()
}

/// Relays `pkt` if it is for an old endpoint of this sled; `None` when it
/// is not (it takes the usual path).
pub fn relay<P: PacketBuf>(vpc: &VpcState, u: &Underlay, pkt: &mut P) -> Option<Outcome> {
    let to = target(vpc, pkt.bytes())?;
    let f = pkt.bytes_mut();
    if f[HOP_LIMIT] <= 1 {
        return Some(Outcome::drop(DropReason::RelayHopLimit, Path::Early));
    }
    f[HOP_LIMIT] -= 1;
    let old: [u8; 16] = f[OUTER_DST].try_into().ok()?;
    let new = to.octets();
    let csum = u16::from_be_bytes([f[UDP_CSUM.start], f[UDP_CSUM.start + 1]]);
    if csum != 0 {
        // The destination is in the pseudo-header; 0xffff stands for zero.
        let c = match wire::checksum::update_bytes(csum, &old, &new) {
            0 => 0xffff,
            c => c,
        };
        f[UDP_CSUM].copy_from_slice(&c.to_be_bytes());
    }
    f[OUTER_DST].copy_from_slice(&new);
    f[..6].copy_from_slice(&u.nexthop_mac.0);
    f[ETH_SRC].copy_from_slice(&u.uplink_mac.0);
    Some(Outcome::forward(u.uplink, Path::Relayed))
}
