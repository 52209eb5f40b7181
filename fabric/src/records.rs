//! The values the fleet keeps under the keys of [`crate::keys`] that are not
//! the state document's own objects: an instance with its sled and
//! endpoint, a V2P entry with the NIC it comes from, a boundary map entry.

use serde::{Deserialize, Serialize};
use std::net::Ipv6Addr;
use vswitch_api::nic::InstanceRun;
use vswitch_api::state::InstanceState;
use vswitch_api::MacAddr;

/// An instance as the fleet keeps it (`instances/ID`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FleetInstance {
    /// Instance id (also its name in the underlay DNS).
    pub id: String,
    /// Its type (none: the default NIC limit).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub instance_type: Option<String>,
    /// Its life-cycle state.
    pub state: InstanceRun,
    /// The sled it runs on.
    pub sled: String,
    /// Its endpoint address (in its sled's /64): its NICs' V2P target.
    pub endpoint: Ipv6Addr,
}

impl FleetInstance {
    /// The instance as a switch's state document has it.
    pub fn state(&self) -> InstanceState {
        InstanceState {
            id: self.id.clone(),
            instance_type: self.instance_type.clone(),
            state: self.state,
        }
    }
}

/// A V2P entry as the fleet keeps it (`v2p/VNI/IP`): written with its NIC.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FleetV2p {
    /// Guest MAC.
    pub mac: MacAddr,
    /// The instance's endpoint address.
    pub underlay: Ipv6Addr,
    /// The NIC whose address it is (none: written by hand).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub nic: Option<u32>,
}

/// A boundary map entry as the fleet keeps it (`boundary/map/IP`, or
/// `boundary/map/IP/FIRST-LAST` for a share of a SNAT address).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FleetBoundary {
    /// The external IP.
    pub ip: std::net::IpAddr,
    /// Where its traffic goes: the instance's endpoint address.
    pub sled: Ipv6Addr,
    /// A share of a SNAT address: the NIC's SNAT ports.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ports: Option<vswitch_api::PortRangeSpec>,
    /// The NIC that holds the IP (none: written by hand).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub nic: Option<u32>,
}
