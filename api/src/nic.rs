//! Instances and their network interfaces (README, *Instances and NICs*):
//! a NIC is an object of its own, with its addresses, rules and external
//! IPs; an attachment joins it to an instance at a device index and, when
//! the instance runs on this sled, to a guest port.

use crate::{MacAddr, Vni, VnicCreate};
use serde::{Deserialize, Serialize};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// The most NICs an instance may have when its type says nothing (Omicron's
/// limit), and the most any type may allow.
pub const MAX_NICS: u8 = 8;

/// The most NICs one switch's document holds, attached or not: a bound on
/// what a runaway or hostile controller can make the switch keep.
pub const MAX_SWITCH_NICS: usize = 4096;

/// The most instances one switch's document holds, terminated ones (kept
/// for the record) included; `instance-create` makes room by forgetting
/// the oldest terminated instance.
pub const MAX_INSTANCES: usize = 4096;

/// The most instance types one switch's document holds.
pub const MAX_INSTANCE_TYPES: usize = 256;

/// A NIC's identity, addresses and DHCP options: `nic-create`'s arguments.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct NicSpec {
    /// NIC id (routes name it `nic:ID`).
    pub id: u32,
    /// VPC VNI (24 bits).
    pub vni: Vni,
    /// Guest MAC.
    pub mac: MacAddr,
    /// Primary private IPv4.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ipv4: Option<Ipv4Addr>,
    /// Primary private IPv6.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ipv6: Option<Ipv6Addr>,
    /// Secondary private IPv4 addresses.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub secondary_ipv4: Vec<Ipv4Addr>,
    /// Secondary private IPv6 addresses.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub secondary_ipv6: Vec<Ipv6Addr>,
    /// Whether the NIC may only send from and receive for its own
    /// addresses (true, the default); false for a NAT or firewall appliance.
    #[serde(default = "yes", skip_serializing_if = "is_yes")]
    pub source_dest_check: bool,
    /// Gateway MAC.
    pub gateway_mac: MacAddr,
    /// Gateway IPv4.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gateway_ipv4: Option<Ipv4Addr>,
    /// Gateway IPv6.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gateway_ipv6: Option<Ipv6Addr>,
    /// The subnet's id, for people and instance metadata.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub subnet: Option<String>,
    /// The VPC's id, for people and instance metadata.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub vpc: Option<String>,
    /// Names of the security groups its firewall rules come from (metadata).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub security_groups: Vec<String>,
    /// DNS servers handed out by DHCP.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub dns: Vec<IpAddr>,
    /// Host name handed out by DHCP.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hostname: Option<String>,
    /// Domain name handed out by DHCP.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub domain: Option<String>,
    /// MTU advertised to the guest (DHCP option 26, RA MTU).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mtu: Option<u16>,
    /// Flows the NIC may hold, all workers together (default:
    /// `workers.flow_quota_per_vnic`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub flow_quota: Option<u32>,
}

fn yes() -> bool {
    true
}

fn is_yes(b: &bool) -> bool {
    *b
}

impl NicSpec {
    /// Every private address of the NIC: the primaries, then the secondaries.
    pub fn private_ips(&self) -> impl Iterator<Item = IpAddr> + '_ {
        self.ipv4
            .map(IpAddr::V4)
            .into_iter()
            .chain(self.ipv6.map(IpAddr::V6))
            .chain(self.secondary_ipv4.iter().map(|a| IpAddr::V4(*a)))
            .chain(self.secondary_ipv6.iter().map(|a| IpAddr::V6(*a)))
    }
}

impl VnicCreate {
    /// The NIC `vnic-create` makes, and the port it binds it to.
    pub fn split(&self) -> (NicSpec, String) {
        let v = self.clone();
        let spec = NicSpec {
            id: v.id,
            vni: v.vni,
            mac: v.mac,
            ipv4: v.ipv4,
            ipv6: v.ipv6,
            secondary_ipv4: Vec::new(),
            secondary_ipv6: Vec::new(),
            source_dest_check: true,
            gateway_mac: v.gateway_mac,
            gateway_ipv4: v.gateway_ipv4,
            gateway_ipv6: v.gateway_ipv6,
            subnet: None,
            vpc: None,
            security_groups: Vec::new(),
            dns: v.dns,
            hostname: v.hostname,
            domain: v.domain,
            mtu: v.mtu,
            flow_quota: v.flow_quota,
        };
        (spec, v.port)
    }
}

/// The prefix of the instances `vnic-create` makes: `vnic:PORT`.
pub const VNIC_INSTANCE_PREFIX: &str = "vnic:";

/// An instance's life-cycle state.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq, Hash, strum::Display)]
#[serde(rename_all = "kebab-case")]
#[strum(serialize_all = "kebab-case")]
pub enum InstanceRun {
    /// Being launched: no attach or detach.
    Pending,
    /// Running: attach and detach are hot.
    Running,
    /// Stopped: attach and detach are cold.
    Stopped,
    /// Terminated: its NICs deleted or detached, nothing more to do.
    Terminated,
}

impl std::str::FromStr for InstanceRun {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "pending" => Ok(InstanceRun::Pending),
            "running" => Ok(InstanceRun::Running),
            "stopped" => Ok(InstanceRun::Stopped),
            "terminated" => Ok(InstanceRun::Terminated),
            _ => Err(format!(
                "{s:?} is not an instance state (pending, running, stopped or terminated)"
            )),
        }
    }
}

/// An attachment's state. The switch attaches and detaches within one
/// generation, so a document holds `attached` or `detached`; the other two
/// are what `instance-list` shows while a port is being plugged or unplugged.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq, Hash, strum::Display)]
#[serde(rename_all = "kebab-case")]
#[strum(serialize_all = "kebab-case")]
pub enum AttachmentRun {
    /// Its port is being created.
    Attaching,
    /// In force.
    Attached,
    /// Its port is being removed.
    Detaching,
    /// Undone; kept on the NIC for the record until its next attachment.
    Detached,
}

/// `nic-attach`'s arguments.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct NicAttach {
    /// NIC id.
    pub nic: u32,
    /// Instance id.
    pub instance: String,
    /// Device index (0: the primary NIC).
    pub device_index: u8,
    /// Delete the NIC when the instance terminates.
    #[serde(default)]
    pub delete_on_terminate: bool,
    /// An existing guest port to bind it to.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub port: Option<String>,
    /// Devargs of a guest port to create for it (removed on detach).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub devargs: Option<String>,
    /// The instance runs on another sled: no port here; routes to the NIC
    /// reach it through V2P.
    #[serde(default)]
    pub remote: bool,
}

/// One NIC as `nic-list` and `instance-list` show it.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct NicInfo {
    /// NIC id.
    pub id: u32,
    /// Guest MAC.
    pub mac: String,
    /// VNI.
    pub vni: u32,
    /// Subnet id.
    pub subnet: Option<String>,
    /// VPC id.
    pub vpc: Option<String>,
    /// Private IPs, primaries first.
    pub private_ips: Vec<IpAddr>,
    /// Source/destination check.
    pub source_dest_check: bool,
    /// Security groups.
    pub security_groups: Vec<String>,
    /// Firewall rules.
    pub firewall_rules: usize,
    /// External IPs (floating, ephemeral, SNAT).
    pub external_ips: Vec<IpAddr>,
    /// `available` (no attachment in force) or `in-use`.
    pub status: String,
    /// Its attachment, if any (also a detached one, for the record).
    pub attachment: Option<AttachmentInfo>,
}

/// An attachment as the lists show it.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct AttachmentInfo {
    /// Attachment id.
    pub id: String,
    /// Instance id.
    pub instance: String,
    /// Device index.
    pub device_index: u8,
    /// Delete the NIC when the instance terminates.
    pub delete_on_terminate: bool,
    /// `attaching`, `attached`, `detaching` or `detached`.
    pub state: AttachmentRun,
    /// Guest port on this sled (none: the instance runs elsewhere).
    pub port: Option<String>,
    /// Whether the switch created that port for it (`--devargs`).
    pub created_port: bool,
}

/// An instance as `instance-list` shows it.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct InstanceInfo {
    /// Instance id.
    pub id: String,
    /// Instance type, if any.
    pub instance_type: Option<String>,
    /// Its NIC limit.
    pub max_nics: u8,
    /// Its state.
    pub state: InstanceRun,
    /// Its attached NICs, by device index.
    pub nics: Vec<NicInfo>,
}

/// An instance type as `instance-list` shows it.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct InstanceTypeInfo {
    /// Type name.
    pub name: String,
    /// Its NIC limit.
    pub max_nics: u8,
}
