//! Encapsulation: the cache of outer-header templates (one per sled, VNI
//! and uplink, shared by every flow going there) and the per-packet copy of
//! a template in front of the inner frame.

use super::{EncapTemplate, ENCAP_LEN};
use crate::pktbuf::PacketBuf;
use crate::vpc::Underlay;
use crate::{DropReason, Outcome, Path, PortIdx};
use hashbrown::HashMap;
use std::net::Ipv6Addr;
use std::sync::Arc;
use wire::MacAddr;

/// Outer-header templates by (source, destination, VNI, source MAC,
/// next-hop MAC, uplink MTU).
type TemplateKey = (Ipv6Addr, Ipv6Addr, u32, MacAddr, MacAddr, u16);

/// Bound on the template cache; past it the cache starts over.
const MAX_TEMPLATES: usize = 4096;

/// A worker's outer-header templates.
#[derive(Debug, Default)]
pub struct Templates {
    by_key: HashMap<TemplateKey, Arc<EncapTemplate>>,
}

impl Templates {
    /// The shared outer headers from this sled (`u`) toward `dst` for VNI
    /// `vni` (cached; past the bound the cache starts over).
    pub fn to(&mut self, u: &Underlay, dst: Ipv6Addr, vni: u32) -> Arc<EncapTemplate> {
        let key = (u.addr, dst, vni, u.uplink_mac, u.nexthop_mac, u.mtu);
        if self.by_key.len() >= MAX_TEMPLATES && !self.by_key.contains_key(&key) {
            self.by_key.clear();
        }
        self.by_key
            .entry(key)
            .or_insert_with(|| {
                Arc::new(
                    EncapTemplate::new(u.uplink_mac, u.nexthop_mac, u.addr, dst, vni)
                        .for_mtu(u.mtu),
                )
            })
            .clone()
    }
}

/// The MTU a guest may use toward the uplink of `t` (its IP packets).
pub fn path_mtu(t: &EncapTemplate) -> u16 {
    u16::try_from(t.max_frame.saturating_sub(14)).unwrap_or(u16::MAX)
}

/// Puts the outer headers of `t` in front of the frame, with the inner
/// destination MAC set, for the uplink `uplink`.
#[inline]
pub fn encap<P: PacketBuf>(
    pkt: &mut P,
    t: &EncapTemplate,
    entropy: u32,
    inner_dst_mac: MacAddr,
    uplink: PortIdx,
    path: Path,
) -> Outcome {
    let inner_len = pkt.bytes().len();
    if !pkt.prepend(ENCAP_LEN) {
        return Outcome::drop(DropReason::NoHeadroom, path);
    }
    let b = pkt.bytes_mut();
    if !t.write(b, inner_len, entropy) {
        return Outcome::drop(DropReason::NoHeadroom, path);
    }
    if let Some(d) = b.get_mut(ENCAP_LEN..ENCAP_LEN + 6) {
        d.copy_from_slice(&inner_dst_mac.0);
    }
    Outcome::forward(uplink, path)
}
