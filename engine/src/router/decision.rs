//! The router's decision for a flow: which realm of the flow table it lives
//! in, and where its packets go (a VPC address, an internet gateway, or a
//! drop), from the route the VNIC's table matched.

use super::nic_target::{self, NicTargets};
use super::{RouteEntry, RouterTarget};
use crate::flow::table::Realm;
use crate::nat::igw::IgwTag;
use crate::vnic::LayerHits;
use crate::DropReason;
use std::net::IpAddr;

/// Where the router sends a flow.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RouteDecision {
    /// To this address inside the VPC (the destination, or a next hop).
    Vpc(IpAddr),
    /// Through the internet gateway of this tag (NAT, then the boundary).
    Internet(IgwTag),
    /// Nowhere.
    Drop(DropReason),
}

/// The realm of a flow matching `route`: internet-gateway flows are kept
/// apart, so that a route change between the two never reuses an entry.
pub fn realm(route: Option<&RouteEntry>) -> Realm {
    match route.map(|r| &r.target) {
        Some(RouterTarget::InternetGateway(_)) => Realm::Internet,
        _ => Realm::Vpc,
    }
}

/// Where a flow of VNI `vni` to `dst` that matched `route` goes (the
/// route's hit counted in `hits`; `nics` resolves a route to a NIC).
pub fn decide(
    hits: &LayerHits,
    nics: &NicTargets,
    vni: u32,
    route: Option<&RouteEntry>,
    dst: IpAddr,
) -> RouteDecision {
    let Some(route) = route else {
        return RouteDecision::Drop(DropReason::NoRoute);
    };
    hits.route_hit(route);
    match &route.target {
        RouterTarget::Drop => RouteDecision::Drop(DropReason::RouteDrop),
        RouterTarget::InternetGateway(tag) => RouteDecision::Internet(*tag),
        RouterTarget::Nic(id) => match nic_target::resolve(nics, *id, vni, dst) {
            Some(ip) => RouteDecision::Vpc(ip),
            None => RouteDecision::Drop(DropReason::RouteBlackhole),
        },
        RouterTarget::Ip(nh) => RouteDecision::Vpc(*nh),
        RouterTarget::VpcSubnet(_) => RouteDecision::Vpc(dst),
    }
}
