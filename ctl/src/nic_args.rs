//! The command-line arguments of `nic-create` and `nic-attach`.

use clap::Args;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use vswitch_api::nic::{NicAttach, NicSpec};
use vswitch_api::{MacAddr, Vni, VnicCreate};

/// The options `nic-create` and `vnic-create` share: the NIC's VPC,
/// addresses and DHCP options.
#[derive(Debug, Args)]
pub struct NicCommonArgs {
    /// VPC VNI (24 bits)
    #[arg(long)]
    vni: Vni,
    /// Guest MAC
    #[arg(long, value_name = "MAC")]
    mac: MacAddr,
    /// Gateway MAC
    #[arg(long, value_name = "MAC")]
    gateway_mac: MacAddr,
    /// Primary private IPv4 (needs --gateway-ipv4)
    #[arg(long, value_name = "ADDR", requires = "gateway_ipv4")]
    ipv4: Option<Ipv4Addr>,
    /// Gateway IPv4 (needs --ipv4)
    #[arg(long, value_name = "ADDR", requires = "ipv4")]
    gateway_ipv4: Option<Ipv4Addr>,
    /// Primary private IPv6 (needs --gateway-ipv6)
    #[arg(long, value_name = "ADDR", requires = "gateway_ipv6")]
    ipv6: Option<Ipv6Addr>,
    /// Gateway IPv6 (needs --ipv6)
    #[arg(long, value_name = "ADDR", requires = "ipv6")]
    gateway_ipv6: Option<Ipv6Addr>,
    /// DNS server handed out by DHCP (repeatable, or comma-separated)
    #[arg(long, value_name = "IP", value_delimiter = ',')]
    dns: Vec<IpAddr>,
    /// Host name handed out by DHCP
    #[arg(long)]
    hostname: Option<String>,
    /// Domain name handed out by DHCP
    #[arg(long)]
    domain: Option<String>,
    /// MTU advertised to the guest
    #[arg(long)]
    mtu: Option<u16>,
    /// Flows the NIC may hold, all workers together (default: workers.flow_quota_per_vnic)
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(1..))]
    flow_quota: Option<u32>,
}

/// Options of `vnic-create`.
#[derive(Debug, Args)]
pub struct VnicCreateArgs {
    /// Guest port name
    port: String,
    /// NIC id
    #[arg(long)]
    id: u32,
    #[command(flatten)]
    common: NicCommonArgs,
}

impl From<VnicCreateArgs> for VnicCreate {
    fn from(a: VnicCreateArgs) -> Self {
        let c = a.common;
        VnicCreate {
            port: a.port,
            id: a.id,
            vni: c.vni,
            mac: c.mac,
            ipv4: c.ipv4,
            ipv6: c.ipv6,
            gateway_mac: c.gateway_mac,
            gateway_ipv4: c.gateway_ipv4,
            gateway_ipv6: c.gateway_ipv6,
            dns: c.dns,
            hostname: c.hostname,
            domain: c.domain,
            mtu: c.mtu,
            flow_quota: c.flow_quota,
        }
    }
}

/// Options of `nic-create`: `vnic-create`'s, less the port, plus the
/// secondary addresses, the source/destination check and the metadata ids.
#[derive(Debug, Args)]
pub struct NicCreateArgs {
    /// NIC id
    id: u32,
    #[command(flatten)]
    common: NicCommonArgs,
    /// Secondary private IPv4 (repeatable, or comma-separated)
    #[arg(long, value_name = "ADDR", value_delimiter = ',')]
    secondary_ipv4: Vec<Ipv4Addr>,
    /// Secondary private IPv6 (repeatable, or comma-separated)
    #[arg(long, value_name = "ADDR", value_delimiter = ',')]
    secondary_ipv6: Vec<Ipv6Addr>,
    /// Source/destination check: false for a NAT or firewall appliance
    #[arg(long, value_name = "BOOL", default_value_t = true, action = clap::ArgAction::Set)]
    source_dest_check: bool,
    /// Subnet id (instance metadata)
    #[arg(long)]
    subnet: Option<String>,
    /// VPC id (instance metadata)
    #[arg(long)]
    vpc: Option<String>,
    /// Security group names (repeatable, or comma-separated)
    #[arg(long, value_name = "NAME", value_delimiter = ',')]
    security_group: Vec<String>,
}

impl From<NicCreateArgs> for NicSpec {
    fn from(a: NicCreateArgs) -> Self {
        let (mut spec, _) = VnicCreate::from(VnicCreateArgs {
            port: String::new(),
            id: a.id,
            common: a.common,
        })
        .split();
        spec.secondary_ipv4 = a.secondary_ipv4;
        spec.secondary_ipv6 = a.secondary_ipv6;
        spec.source_dest_check = a.source_dest_check;
        spec.subnet = a.subnet;
        spec.vpc = a.vpc;
        spec.security_groups = a.security_group;
        spec
    }
}

/// Options of `nic-attach`.
#[derive(Debug, Args)]
#[command(group = clap::ArgGroup::new("binding").required(true).args(["port", "devargs", "remote"]))]
pub struct NicAttachArgs {
    /// NIC id
    nic: u32,
    /// Instance id
    instance: String,
    /// Device index (0: the primary NIC)
    #[arg(long)]
    device_index: u8,
    /// Delete the NIC when the instance terminates
    #[arg(long)]
    delete_on_terminate: bool,
    /// An existing guest port to bind it to
    #[arg(long, value_name = "PORT")]
    port: Option<String>,
    /// Devargs of a guest port to create for it (removed on detach)
    #[arg(long, value_name = "DEVARGS")]
    devargs: Option<String>,
    /// The instance runs on another sled (routes reach the NIC through V2P)
    #[arg(long)]
    remote: bool,
}

impl From<NicAttachArgs> for NicAttach {
    fn from(a: NicAttachArgs) -> Self {
        NicAttach {
            nic: a.nic,
            instance: a.instance,
            device_index: a.device_index,
            delete_on_terminate: a.delete_on_terminate,
            port: a.port,
            devargs: a.devargs,
            remote: a.remote,
        }
    }
}
