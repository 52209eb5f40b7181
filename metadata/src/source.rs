//! What the service serves: the instance a tenant is attached to, asked of
//! the caller at each request.

use std::net::{Ipv4Addr, Ipv6Addr};

/// One instance as its metadata shows it.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct InstanceView {
    /// The instance id, served at `/latest/meta-data/instance-id`.
    pub instance_id: String,
    /// The instance's network interfaces, in any order: the tree sorts them
    /// by device index, and device 0 gives `mac` and `local-ipv4`.
    pub nics: Vec<NicView>,
}

/// One network interface of an instance as its metadata shows it.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct NicView {
    /// The device index (`device-number`); 0 is the primary interface.
    pub device_index: u8,
    /// The interface's MAC address, which also names its directory under
    /// `network/interfaces/macs/`.
    pub mac: [u8; 6],
    /// The interface id (`interface-id`).
    pub interface_id: String,
    /// The IPv4 addresses, primary first, then secondaries (`local-ipv4s`).
    pub local_ipv4s: Vec<Ipv4Addr>,
    /// The IPv6 addresses (`ipv6s`, listed only when there is one).
    pub ipv6s: Vec<Ipv6Addr>,
    /// The subnet id (`subnet-id`), if known.
    pub subnet_id: Option<String>,
    /// The VPC id (`vpc-id`), if known.
    pub vpc_id: Option<String>,
    /// The security groups' ids (`security-group-ids`, one per line).
    pub security_group_ids: Vec<String>,
    /// The subnet's IPv4 CIDR block (`subnet-ipv4-cidr-block`), if known.
    pub subnet_ipv4_cidr_block: Option<String>,
}

/// What the server asks when it answers a request: the instance that tenant
/// `key` (a NIC) is attached to, `None` if it is not attached to one.
///
/// It is asked once per complete, well-formed GET or HEAD request, from the
/// thread that calls [`MetadataServer::poll`](crate::MetadataServer::poll).
/// Any `Fn(u32) -> Option<InstanceView>` is a source.
pub trait MetadataSource {
    /// The instance that tenant `key` is attached to, `None` if none.
    fn instance_of(&self, key: u32) -> Option<InstanceView>;
}

impl<F> MetadataSource for F
where
    F: Fn(u32) -> Option<InstanceView>,
{
    fn instance_of(&self, key: u32) -> Option<InstanceView> {
        self(key)
    }
}
