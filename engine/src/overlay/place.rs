//! Where the overlay sends a VPC flow: V2P maps the router's target (a VPC
//! address) to the sled hosting it; a guest on this same sled is reached
//! without encapsulation.

use crate::vpc::VpcState;
use crate::{DropReason, PortIdx};
use std::net::{IpAddr, Ipv6Addr};
use wire::MacAddr;

/// Where a VPC flow's packets go.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Placement {
    /// A guest port on this sled.
    Local {
        /// The port.
        to: PortIdx,
        /// The guest's MAC.
        dst_mac: MacAddr,
    },
    /// Another sled, encapsulated.
    Remote {
        /// The sled's underlay address.
        underlay: Ipv6Addr,
        /// The target guest's MAC (the inner destination MAC).
        inner_dst_mac: MacAddr,
    },
}

/// Places the VPC address `target` of VNI `vni`.
pub fn place(vpc: &VpcState, vni: u32, target: IpAddr) -> Result<Placement, DropReason> {
    let phys = vpc.v2p.get(vni, target).ok_or(DropReason::NoV2p)?;
    let u = vpc.underlay.ok_or(DropReason::NoUnderlay)?;
    // An endpoint address of this sled is this sled.
    if !vpc.sled_addrs(&u).takes_addr(&phys.underlay) {
        return Ok(Placement::Remote {
            underlay: phys.underlay,
            inner_dst_mac: phys.mac,
        });
    }
    match vpc.by_vni_mac.get(&(vni, phys.mac)) {
        Some(to) => Ok(Placement::Local {
            to: *to,
            dst_mac: phys.mac,
        }),
        None => Err(DropReason::NoVnic),
    }
}
