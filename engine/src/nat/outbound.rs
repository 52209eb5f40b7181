//! The NAT layer's outbound decision (docs/VPC-MODEL.md, *Internet gateways
//! and external IPs*): a flow the router sends to an internet gateway leaves
//! from a floating IP, else an ephemeral IP, else a SNAT port, of that
//! gateway; else it is denied. A flow keeps its binding while it stays
//! valid (soft revalidation), and goes to a boundary chosen by V2B.

use super::igw::{self, IgwTag, NatSource};
use super::{has_port, NatBinding, NatState};
use crate::flow::table::FlowId;
use crate::overlay::flow_hash;
use crate::vnic::Vnic;
use crate::vpc::VpcState;
use crate::{Direction, DropReason};
use std::net::Ipv6Addr;

/// Where an internet flow goes: the binding it leaves with, and the
/// boundary it is sent to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ToInternet {
    /// The flow's binding (new, or kept from `prior`).
    pub binding: NatBinding,
    /// The boundary endpoint's underlay address.
    pub boundary: Ipv6Addr,
    /// The flow's entropy (outer UDP source port, flow label).
    pub entropy: u32,
}

/// The NAT of flow `id` (made in direction `origin`, its binding so far
/// `prior`) through gateway `tag`. A new SNAT port is taken from `nat`; one
/// taken for a flow that then finds no boundary is given back at once.
pub fn to_internet(
    nat: &mut NatState,
    vpc: &VpcState,
    vnic: &Vnic,
    id: FlowId,
    tag: IgwTag,
    origin: Direction,
    prior: Option<NatBinding>,
) -> Result<ToInternet, DropReason> {
    let key = &id.key;
    let hash = flow_hash(key);
    let igws = &vpc.igws;
    let keep = prior.filter(|b| match origin {
        // Replies of a connection made to an external address leave from it.
        Direction::In => binding_held(vnic, b),
        Direction::Out => {
            b.tag == tag && igw::source_still_valid(&vnic.external_ips, igws, tag, &b.source)
        }
    });
    let binding = match keep {
        Some(b) => b,
        None => {
            let src = igw::select_source(&vnic.external_ips, igws, tag, key.dst, hash)
                .ok_or(DropReason::NoExternalIp)?;
            let ext_port = match src {
                NatSource::Snat(s) if has_port(key) => nat
                    .allocate(id, s.ip, (s.first_port, s.last_port))
                    .ok_or(DropReason::SnatExhausted)?,
                _ => key.src_port,
            };
            NatBinding {
                tag,
                source: src,
                ext_port,
            }
        }
    };
    let Some(boundary) = vpc.v2b.lookup(key.dst, hash) else {
        if Some(binding) != prior {
            nat.release(&id, &binding);
        }
        return Err(DropReason::NoBoundary);
    };
    Ok(ToInternet {
        binding,
        boundary,
        entropy: hash,
    })
}

/// Whether the VNIC still holds the external address of `b` (its flows'
/// replies may still be translated back).
pub fn binding_held(vnic: &Vnic, b: &NatBinding) -> bool {
    vnic.external_ips.holds(&b.source)
}
