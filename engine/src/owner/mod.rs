//! Which worker owns a packet's flow, read from the packet alone, so that a
//! worker that receives a packet it does not own can hand it to the one
//! that holds its state (`vswitch/src/handoff.rs`).
//!
//! The owner is the same for both directions of a flow and for both sides
//! of a NAT:
//!
//! - a flow between guests, or arriving from another sled: the symmetric
//!   hash ([`toeplitz::flow_hash`]) of its inner flow key, which swapping
//!   source and destination leaves unchanged;
//! - a flow from a guest to the internet: the same hash of its private
//!   (untranslated) key; the owner allocates the SNAT port from its own
//!   slice of the range ([`slice`]), so
//! - a reply to a SNAT address: the worker whose slice holds the
//!   destination port (an ICMP echo reply: its identifier);
//! - a packet to a floating or ephemeral address: the hash of the key with
//!   the address translated back to the guest's private one, which is the
//!   key its outbound packets hash;
//! - an ICMP error: the flow it quotes, by the same rules.
//!
//! Traffic that holds no per-worker state (the boundary, patches, ARP and
//! NDP, frames the layers will drop) has no owner: whichever worker
//! receives it processes it.

pub mod slice;
pub mod toeplitz;

#[cfg(test)]
mod tests;

use crate::frame::frame_info;
use crate::frame::offsets::{BOUNDARY_ENCAP_LEN, BOUNDARY_VNI, ENCAP_LEN};
use crate::frame::parse_encap;
use crate::frame::quick::{quick_encap, quick_from_boundary, quick_key, quick_words};
use crate::nat::inbound::private_address;
use crate::nat::rewrite::icmp_error;
use crate::tables::{PortKind, Snapshot};
use crate::vpc::VpcState;
use crate::{FlowKey, PortIdx, SwitchRole};
use std::net::IpAddr;

/// Hash values map to workers through this many buckets (the low bits of
/// the hash), as a NIC's redirection table does: the table programmed on
/// ports that hash sends bucket `j` to queue `j % workers`.
pub const RETA_SPAN: usize = 64;

/// The worker (of `n`) that owns hash `h`.
#[inline(always)]
pub fn worker_of_hash(h: u32, n: usize) -> usize {
    (h as usize & (RETA_SPAN - 1)) % n.max(1)
}

/// The owner (of `n` workers) of the flow of frame `f` received on
/// `in_port`; `None` when the frame holds no per-worker state and any worker
/// may process it (always, with one worker).
#[inline]
pub fn owner_of(snap: &Snapshot, in_port: PortIdx, f: &[u8], n: usize) -> Option<usize> {
    if n <= 1 {
        return None;
    }
    match snap.port_kind(in_port) {
        PortKind::Guest => Some(worker_of_hash(flow_or_quote_hash(f)?, n)),
        PortKind::Uplink if snap.role == SwitchRole::Sled => from_underlay(snap, f, n),
        _ => None,
    }
}

/// The symmetric hash of a frame's flow, or for an ICMP error of the
/// quoted packet's; the common frames read at fixed offsets, never through
/// a [`FlowKey`].
#[inline]
fn flow_or_quote_hash(f: &[u8]) -> Option<u32> {
    match quick_words(f) {
        Some((w, _)) => Some(toeplitz::words_hash(&w)),
        None => flow_or_quote(f).map(|k| toeplitz::flow_hash(&k)),
    }
}

/// The key a frame's owner is computed from: its own flow's, or for an ICMP
/// error the quoted packet's.
#[inline]
fn flow_or_quote(f: &[u8]) -> Option<FlowKey> {
    if let Some((k, _)) = quick_key(f) {
        return Some(k);
    }
    if let Some(e) = icmp_error(f) {
        return Some(e.quoted);
    }
    frame_info(f).ok()?.key
}

/// A Geneve frame on a sled's uplink: by the inner flow, or for traffic from
/// the boundary by the external address it is for.
#[inline]
fn from_underlay(snap: &Snapshot, f: &[u8], n: usize) -> Option<usize> {
    let u = snap.vpc.underlay?;
    let local = snap.vpc.sled_addrs(&u);
    let (offset, from_boundary) = if quick_encap(f, &local).is_some() {
        (ENCAP_LEN, false)
    } else if quick_from_boundary(f, &local) {
        (BOUNDARY_ENCAP_LEN, true)
    } else {
        let e = parse_encap(f).ok()?;
        if !local.takes_addr(&e.outer_dst) {
            return None;
        }
        (e.inner_offset, e.external_option && e.vni == BOUNDARY_VNI)
    };
    let inner = f.get(offset..)?;
    if !from_boundary {
        return Some(worker_of_hash(
            toeplitz::flow_hash(&flow_or_quote(inner)?),
            n,
        ));
    }
    if let Some((k, _)) = quick_key(inner) {
        return external_owner(&snap.vpc, &k, External::Dst, n);
    }
    match icmp_error(inner) {
        // The quote is what the flow sent: its source is the external address.
        Some(e) => external_owner(&snap.vpc, &e.quoted, External::Src, n),
        None => external_owner(&snap.vpc, &frame_info(inner).ok()?.key?, External::Dst, n),
    }
}

/// Which end of a key is the external address.
#[derive(Clone, Copy)]
enum External {
    Src,
    Dst,
}

/// The owner of a flow of key `k` seen from outside, whose `end` is one of
/// this sled's external addresses: by SNAT slice, or by the hash of the key
/// translated back to the guest's private address.
#[inline]
fn external_owner(vpc: &VpcState, k: &FlowKey, end: External, n: usize) -> Option<usize> {
    let (ip, port) = match end {
        External::Src => (k.src, k.src_port),
        External::Dst => (k.dst, k.dst_port),
    };
    for o in vpc.owners.owners(ip) {
        if let Some(range) = o.ports {
            if let Some(w) = slice::worker_of_port(range, port, n) {
                return Some(w);
            }
        }
    }
    let vnic = vpc.vnic(vpc.owners.one_to_one(ip)?)?;
    let private: IpAddr = private_address(vnic, ip)?;
    let key = match end {
        External::Src => FlowKey { src: private, ..*k },
        External::Dst => FlowKey { dst: private, ..*k },
    };
    Some(worker_of_hash(toeplitz::flow_hash(&key), n))
}
