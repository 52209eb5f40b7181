//! The control-socket protocol of the vswitch appliance.
//!
//! One JSON object per line in each direction. Every request and response
//! carries `version`, the API version; a request whose version differs from
//! [`API_VERSION`] is refused. Example exchange:
//!
//! ```text
//! -> {"version":1,"command":"patch-set","from":"a","to":"b"}
//! <- {"version":1,"ok":true,"result":{"type":"patches","generation":2,"patches":[{"from":"a","to":"b"}]}}
//! -> {"version":1,"command":"patch-set","from":"a","to":"zz"}
//! <- {"version":1,"ok":false,"error":"patch-set: unknown port \"zz\" in `to` (ports: a, b)"}
//! ```

#![forbid(unsafe_code)]

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// Flows a `flows` answer holds unless its `limit` says otherwise.
pub const FLOWS_PAGE: u32 = 1000;
/// The most flows a `flows` answer holds.
pub const FLOWS_PAGE_MAX: u32 = 10_000;

pub mod migration;
pub mod nic;
pub mod state;
pub mod types;

pub use types::{
    AddrRange, FwAction, FwDirection, FwHostSpec, FwProtocolSpec, IcmpMatch, MacAddr,
    PortRangeSpec, Prefix, RouteClass, RouteTarget, Vni,
};

/// The protocol version this build speaks.
pub const API_VERSION: u32 = 2;

/// The oldest protocol version this build still answers: version 1 had the
/// same commands less `export` and `apply`, so its requests are carried out
/// as they are.
pub const MIN_API_VERSION: u32 = 1;

/// Default path of the control socket.
pub const DEFAULT_SOCKET: &str = "/run/vswitch/vswitch.sock";

/// A request: the API version plus one command.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Request {
    /// API version the client speaks; must equal [`API_VERSION`].
    pub version: u32,
    /// What to do.
    #[serde(flatten)]
    pub command: Command,
}

impl Request {
    /// A request for `command` at this build's API version.
    pub fn new(command: Command) -> Self {
        Request {
            version: API_VERSION,
            command,
        }
    }
}

/// The commands of the control socket: the one list of them. The socket's
/// help (`Command::VARIANTS`, spelt as the protocol spells them) is derived
/// from it, and `vswitchctl` has a subcommand of the same name for each (its
/// tests check).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, strum::VariantNames)]
#[serde(tag = "command", rename_all = "kebab-case", deny_unknown_fields)]
#[strum(serialize_all = "kebab-case")]
pub enum Command {
    /// Version, uptime, ports, workers.
    Status,
    /// Per-port link state and counters.
    Ports,
    /// Per-worker and total counters.
    Stats,
    /// Sets one patch entry: frames received on `from` leave on `to`.
    PatchSet {
        /// Ingress port name.
        from: String,
        /// Egress port name.
        to: String,
    },
    /// Removes the patch entry of `from`, or every entry when `from` is absent.
    PatchClear {
        /// Ingress port name; `None` clears the whole table.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        from: Option<String>,
    },
    /// Lists the patch table.
    PatchList,
    /// Creates (or replaces) the VNIC bound to a guest port.
    VnicCreate(VnicCreate),
    /// Deletes the VNIC of a guest port.
    VnicDelete {
        /// Guest port name.
        port: String,
    },
    /// Lists the VNICs.
    VnicList,
    /// Creates or changes an instance type: the NICs an instance of it may
    /// have (1 to 8).
    InstanceTypeSet {
        /// Type name.
        name: String,
        /// The most NICs an instance of it may have attached.
        max_nics: u8,
    },
    /// Creates an instance, `pending`.
    InstanceCreate {
        /// Instance id.
        id: String,
        /// Its type (none: at most 8 NICs).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        instance_type: Option<String>,
    },
    /// Moves an instance to another state; `terminated` deletes the NICs
    /// attached with `delete_on_terminate` and detaches the others.
    InstanceState {
        /// Instance id.
        id: String,
        /// `pending`, `running`, `stopped` or `terminated`.
        state: nic::InstanceRun,
    },
    /// Lists the instance types and every instance with its NICs.
    InstanceList,
    /// Creates a NIC, unattached.
    NicCreate(nic::NicSpec),
    /// Deletes a NIC that is not attached, releasing its addresses.
    NicDelete {
        /// NIC id.
        id: u32,
    },
    /// Attaches a NIC to an instance at a device index, binding it to a
    /// guest port (`port`, or one created from `devargs`), or to none when
    /// the instance runs on another sled (`remote`).
    NicAttach(nic::NicAttach),
    /// Detaches a NIC from its instance (removing the port the attachment
    /// created).
    NicDetach {
        /// NIC id.
        nic: u32,
    },
    /// Lists the NICs, attached or not.
    NicList,
    /// Creates a guest port at run time (DPDK hot-plug of a virtual device);
    /// the workers poll it without a restart.
    PortAdd {
        /// Port name.
        name: String,
        /// The virtual device's devargs (`net_tap1,iface=g3`).
        devargs: String,
        /// `guest` (the only role a run-time port may have).
        #[serde(default = "guest_role")]
        role: String,
    },
    /// Removes a port created at run time (refused while a NIC is attached to it).
    PortDel {
        /// Port name.
        name: String,
    },
    /// Sets this sled's underlay address and uplink.
    UnderlaySet {
        /// The sled's underlay IPv6 address.
        addr: std::net::Ipv6Addr,
        /// The uplink port name.
        uplink: String,
        /// MAC of the underlay next hop (outer destination MAC).
        nexthop_mac: MacAddr,
    },
    /// Sets a V2P mapping: guest `ip` of VPC `vni` lives at `mac` on sled `underlay`.
    V2pSet {
        /// VPC VNI.
        vni: Vni,
        /// Guest IP.
        ip: std::net::IpAddr,
        /// Guest MAC.
        mac: MacAddr,
        /// Sled underlay address.
        underlay: std::net::Ipv6Addr,
    },
    /// Removes a V2P mapping.
    V2pClear {
        /// VPC VNI.
        vni: Vni,
        /// Guest IP.
        ip: std::net::IpAddr,
    },
    /// Lists the V2P mappings.
    V2pList,
    /// Adds a router entry to a VNIC.
    RouteAdd {
        /// Guest port name.
        port: String,
        /// Destination prefix, e.g. `10.0.0.0/8`.
        dest: Prefix,
        /// `drop`, `igw`, `igw:ID`, `ip:ADDR`, `subnet:PREFIX` or `nic:ID`.
        target: RouteTarget,
        /// `custom` (default) or `system`.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        class: Option<RouteClass>,
    },
    /// Deletes a router entry of a VNIC.
    RouteDel {
        /// Guest port name.
        port: String,
        /// Destination prefix.
        dest: Prefix,
        /// `custom` (default) or `system`.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        class: Option<RouteClass>,
    },
    /// Replaces a VNIC's firewall rules, atomically.
    FirewallSet {
        /// Guest port name.
        port: String,
        /// The new rules.
        rules: Vec<FwRuleSpec>,
    },
    /// Dumps a VNIC's layers: rules with their hit counts.
    Layers {
        /// Guest port name.
        port: String,
    },
    /// Dumps the flow tables of every worker (of one port, if given), one
    /// page at a time: at most `limit` flows (default [`FLOWS_PAGE`], at
    /// most [`FLOWS_PAGE_MAX`]), from the cursor `from` a previous page
    /// answered as `next`.
    Flows {
        /// Guest port name.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        port: Option<String>,
        /// Most flows in the answer.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        limit: Option<u32>,
        /// Where to go on from (a previous answer's `next`).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        from: Option<String>,
    },
    /// Exports a NIC's flows (firewall standing, TCP state, NAT binding)
    /// for a live migration; changes nothing.
    FlowsExport {
        /// The NIC's id.
        nic: u32,
    },
    /// Imports flows exported by another switch for one of this switch's
    /// NICs, before the fabric moves its traffic here.
    FlowsImport(migration::FlowExport),
    /// Clears the flow tables (of one port, if given).
    FlowsClear {
        /// Guest port name.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        port: Option<String>,
    },
    /// Creates a pool of external addresses. No range may overlap a range
    /// of any pool, this one included. Changes nothing in the data plane.
    PoolCreate {
        /// Pool name.
        name: String,
        /// Its ranges: `A-B`, a single address `A`, or a CIDR `A/N`; IPv4 or IPv6.
        ranges: Vec<AddrRange>,
    },
    /// Deletes a pool; refused while a gateway has it (or a range of it)
    /// assigned or a VNIC's external IP lies in it.
    PoolDelete {
        /// Pool name.
        name: String,
    },
    /// Lists the pools.
    PoolList,
    /// Creates an internet gateway. Changes nothing in the data plane (no
    /// epoch moves) until routes or external IPs name it.
    IgwCreate {
        /// Gateway id, as routes name it (`igw:ID`).
        id: u32,
        /// A name, for people.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        name: Option<String>,
    },
    /// Deletes an internet gateway; refused while a route targets it or a
    /// VNIC's `igw_map` names it.
    IgwDelete {
        /// Gateway id.
        id: u32,
    },
    /// Assigns a whole pool or one range (inside a pool) to a gateway; exactly
    /// one of `pool`, `range`. Bumps the epoch of exactly the VNICs that route
    /// through the gateway.
    IgwAssign {
        /// Gateway id.
        id: u32,
        /// A pool name.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pool: Option<String>,
        /// A range (`A-B`, `A` or `A/N`) inside one pool.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        range: Option<AddrRange>,
    },
    /// Takes a pool or a range assigned by `igw-assign` back; exactly one of
    /// `pool`, `range`. Bumps the epoch of exactly the VNICs that route
    /// through the gateway.
    IgwUnassign {
        /// Gateway id.
        id: u32,
        /// A pool name, as assigned.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pool: Option<String>,
        /// A range, as assigned.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        range: Option<AddrRange>,
    },
    /// Lists the internet gateways, their pools and ranges and the ports
    /// that route through each.
    IgwList,
    /// Sets (replaces) the external IPs of a VNIC and the gateways each may
    /// leave through. Bumps that VNIC's epoch only.
    ExternalSet(ExternalIpsSpec),
    /// Removes every external IP of a VNIC.
    ExternalClear {
        /// Guest port name.
        port: String,
    },
    /// Lists the external IPs of every VNIC.
    ExternalList,
    /// Sets the boundary endpoints of an external prefix (V2B). Bumps the
    /// epoch of the VNICs that have a route to an internet gateway.
    V2bSet {
        /// External prefix, e.g. `0.0.0.0/0`.
        prefix: Prefix,
        /// Underlay addresses of boundary switches (at least one); a flow
        /// picks one by hash.
        endpoints: Vec<std::net::Ipv6Addr>,
    },
    /// Removes the V2B entry of a prefix.
    V2bClear {
        /// External prefix.
        prefix: Prefix,
    },
    /// Lists the V2B table.
    V2bList,
    /// Boundary role: sets the external port (its role must be `external`),
    /// the MAC of its next hop toward the internet and, optionally, the
    /// boundary's own IPv4 address on that link (answered to ARP and ping).
    ExternalPortSet {
        /// External port name.
        port: String,
        /// MAC of the external next hop (destination MAC of what leaves).
        nexthop_mac: MacAddr,
        /// The boundary's own address on the external link.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        addr: Option<std::net::Ipv4Addr>,
    },
    /// Boundary role: traffic from the internet for external IP `ip` is
    /// encapsulated toward the sled at underlay address `sled`.
    BoundaryMapSet {
        /// External IP (IPv4 or IPv6).
        ip: std::net::IpAddr,
        /// Underlay address of the sled that owns it.
        sled: std::net::Ipv6Addr,
        /// A SNAT address shared by sleds: only these ports (a NIC's SNAT
        /// range) go to `sled`; none: the whole address does.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        ports: Option<PortRangeSpec>,
    },
    /// Boundary role: removes the boundary-map entry of `ip` (with
    /// `ports`: that share of a shared SNAT address).
    BoundaryMapClear {
        /// External IP.
        ip: std::net::IpAddr,
        /// The share's ports, for a shared SNAT address.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        ports: Option<PortRangeSpec>,
    },
    /// Boundary role: the external port and the boundary map.
    BoundaryMapList,
    /// Boundary role: the link on `port` (of role `bridge`) to another
    /// pod's boundary, carrying bridge network `cidr` (replacing the port's
    /// link, if any).
    BridgeLinkSet(state::BridgeLinkState),
    /// Boundary role: removes the bridge link on `port`.
    BridgeLinkClear {
        /// Port name.
        port: String,
    },
    /// Boundary role: static 1:1 NAT between `external` (on the external
    /// link) and `bridge` (on a bridge link), replacing any of `external`.
    StaticNatSet(state::StaticNatEntry),
    /// Boundary role: removes the static NAT of `external`.
    StaticNatClear {
        /// The external address.
        external: std::net::Ipv4Addr,
    },
    /// The state in force, as one document, with its generation.
    Export,
    /// Replaces the whole state: validated whole, then published as one
    /// generation, or refused with every error found and nothing changed.
    Apply {
        /// The new state.
        state: Box<state::SwitchState>,
        /// Only say what would change; publish nothing.
        #[serde(default)]
        dry_run: bool,
        /// Refuse unless the state in force is this generation.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        if_generation: Option<u64>,
    },
    /// Stops the workers and ports and exits.
    Shutdown,
}

/// A response: `ok` with a `result`, or not `ok` with an `error`.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Response {
    /// API version of the server.
    pub version: u32,
    /// Whether the request was carried out.
    pub ok: bool,
    /// What went wrong, when `ok` is false. The running state is untouched.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// Every error found, when a state was refused (`apply`, or a command
    /// whose result does not validate); `error` sums them up.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub errors: Vec<String>,
    /// What the request returned, when `ok` is true.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub result: Option<Reply>,
}

impl Response {
    /// A successful response.
    pub fn ok(result: Reply) -> Self {
        Response {
            version: API_VERSION,
            ok: true,
            error: None,
            errors: Vec::new(),
            result: Some(result),
        }
    }

    /// A refusal with its reason.
    pub fn err(msg: impl Into<String>) -> Self {
        Response {
            version: API_VERSION,
            ok: false,
            error: Some(msg.into()),
            errors: Vec::new(),
            result: None,
        }
    }

    /// A refusal listing every error found.
    pub fn errs(summary: impl Into<String>, errors: Vec<String>) -> Self {
        Response {
            errors,
            ..Response::err(summary)
        }
    }
}

/// The result of a successful request.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(tag = "type", rename_all = "kebab-case")]
pub enum Reply {
    /// Answer to `status`.
    Status(StatusInfo),
    /// Answer to `ports`.
    Ports {
        /// One entry per configured port.
        ports: Vec<PortInfo>,
    },
    /// Answer to `stats`.
    Stats(StatsInfo),
    /// Answer to `patch-set`, `patch-clear` and `patch-list`: the table now in force.
    Patches {
        /// Generation of the published table snapshot.
        generation: u64,
        /// The entries, sorted by ingress port.
        patches: Vec<PatchEntry>,
    },
    /// Answer to `shutdown`.
    ShuttingDown,
    /// Answer to a change: the snapshot generation now published.
    Applied {
        /// Generation of the published snapshot.
        generation: u64,
    },
    /// Answer to `vnic-list`.
    Vnics {
        /// The VNICs.
        vnics: Vec<VnicInfo>,
    },
    /// Answer to `instance-list`.
    Instances {
        /// The instance types, by name.
        instance_types: Vec<nic::InstanceTypeInfo>,
        /// The instances, by id, each with its attached NICs.
        instances: Vec<nic::InstanceInfo>,
    },
    /// Answer to `nic-list`.
    Nics {
        /// The NICs, by id.
        nics: Vec<nic::NicInfo>,
    },
    /// Answer to `v2p-list`.
    V2p {
        /// The mappings.
        entries: Vec<V2pEntry>,
    },
    /// Answer to `flows-export`.
    FlowExport(migration::FlowExport),
    /// Answer to `flows-import`.
    FlowImport(migration::FlowImportReport),
    /// Answer to `layers`.
    Layers(LayersInfo),
    /// Answer to `flows` and `flows-clear`.
    Flows {
        /// The flows (empty after a clear).
        flows: Vec<FlowInfo>,
        /// Flows removed (for `flows-clear`).
        cleared: u64,
        /// The cursor of the next page (`from`), when there are more flows.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        next: Option<String>,
    },
    /// Answer to a change of pools, gateways, external IPs or V2B: the
    /// generation now published and the ports whose epoch moved (their
    /// established flows are recomputed on their next packet).
    Updated {
        /// Generation of the published snapshot.
        generation: u64,
        /// Guest ports whose epoch the change moved, in port order.
        updated_ports: Vec<String>,
    },
    /// Answer to `pool-list`.
    Pools {
        /// The pools, by name.
        pools: Vec<PoolInfo>,
    },
    /// Answer to `igw-list`.
    Igws {
        /// The gateways, by id.
        igws: Vec<IgwInfo>,
    },
    /// Answer to `external-list`.
    Externals {
        /// One entry per VNIC, in port order.
        externals: Vec<ExternalIpsSpec>,
    },
    /// Answer to `v2b-list`.
    V2b {
        /// The entries, by prefix.
        entries: Vec<V2bEntry>,
    },
    /// Answer to `boundary-map-list`.
    BoundaryMap(BoundaryMapInfo),
    /// Answer to `export`: the state in force.
    State {
        /// Its generation.
        generation: u64,
        /// The document.
        state: Box<state::SwitchState>,
    },
    /// Answer to `apply`: what changed (or, with `dry_run`, would change).
    Plan {
        /// Whether it was published (false for a dry run).
        applied: bool,
        /// The generation in force after it.
        generation: u64,
        /// Objects added, changed and removed.
        #[serde(flatten)]
        diff: state::StateDiff,
        /// Guest ports whose VNIC's epoch moves (their flows are recomputed
        /// on their next packet).
        updated_ports: Vec<String>,
    },
}

/// The boundary's external port and map, as `boundary-map-list` shows them.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct BoundaryMapInfo {
    /// The external port, once set.
    pub external: Option<ExternalPortInfo>,
    /// External IP -> sled, by address.
    pub entries: Vec<BoundaryMapEntry>,
    /// Links to other pods' boundaries.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub bridge_links: Vec<state::BridgeLinkState>,
    /// Static 1:1 NAT (external <-> bridge address).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub static_nat: Vec<state::StaticNatEntry>,
}

/// The boundary's external port.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct ExternalPortInfo {
    /// Port name.
    pub port: String,
    /// The port's own MAC (source MAC of what it sends).
    pub mac: String,
    /// The external next hop's MAC.
    pub nexthop_mac: String,
    /// The boundary's own address on the external link.
    pub addr: Option<std::net::Ipv4Addr>,
}

/// One boundary-map entry.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct BoundaryMapEntry {
    /// External IP.
    pub ip: std::net::IpAddr,
    /// Underlay address of its sled.
    pub sled: std::net::Ipv6Addr,
    /// For a SNAT address shared by sleds, the ports that go to `sled`
    /// (inbound, chosen by destination port, ICMP echo identifier, or the
    /// source port an ICMP error quotes); none: the whole address.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ports: Option<PortRangeSpec>,
}

/// A gateway as an `igw_map` names it: `"system"` (the default gateway) or
/// an internet gateway's id, as a number or as its decimal text.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[serde(untagged)]
pub enum GatewayRef {
    /// An internet gateway's id.
    Id(u32),
    /// `"system"`, or an id as text.
    Named(String),
}

impl std::fmt::Display for GatewayRef {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            GatewayRef::Id(id) => write!(f, "{id}"),
            GatewayRef::Named(name) => f.write_str(name),
        }
    }
}

/// A VNIC's SNAT address and the source ports it may use on it.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct SnatRange {
    /// The shared external address.
    pub ip: std::net::IpAddr,
    /// First source port (at least 1).
    pub first_port: u16,
    /// Last source port (inclusive, not below `first_port`).
    pub last_port: u16,
}

/// A VNIC's external IPs: the request of `external-set`, and one entry of
/// `external-list`.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct ExternalIpsSpec {
    /// Guest port name.
    pub port: String,
    /// Floating IPs (1:1; several are spread over flows by hash).
    #[serde(default)]
    pub floating: Vec<std::net::IpAddr>,
    /// The ephemeral IP (1:1).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ephemeral: Option<std::net::IpAddr>,
    /// The SNAT address (may be shared by several VNICs, with disjoint port ranges).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub snat: Option<SnatRange>,
    /// External IP -> the gateways it may leave through. An IP missing from
    /// the map (every IP, without a map) belongs to the system gateway only.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub igw_map: Option<BTreeMap<std::net::IpAddr, Vec<GatewayRef>>>,
}

/// A pool as `pool-list` shows it.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct PoolInfo {
    /// Pool name.
    pub name: String,
    /// Its ranges (`A-B` or `A`).
    pub ranges: Vec<String>,
    /// Gateways it is assigned to, whole or by a range.
    pub igws: Vec<u32>,
    /// Guest ports with an external IP in it.
    pub ports: Vec<String>,
}

/// An internet gateway as `igw-list` shows it.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct IgwInfo {
    /// Gateway id.
    pub id: u32,
    /// Its name.
    pub name: String,
    /// What it takes source addresses from: `pool:NAME` or `range:A-B`.
    pub sources: Vec<String>,
    /// Guest ports with a route to it (those a change of its sources updates).
    pub ports: Vec<String>,
}

/// One V2B entry.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct V2bEntry {
    /// External prefix.
    pub prefix: Prefix,
    /// Boundary underlay endpoints.
    pub endpoints: Vec<std::net::Ipv6Addr>,
}

/// A VNIC to create, bound to a guest port.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct VnicCreate {
    /// Guest port name (from the configuration).
    pub port: String,
    /// NIC id.
    pub id: u32,
    /// VPC VNI (24 bits).
    pub vni: Vni,
    /// Guest MAC.
    pub mac: MacAddr,
    /// Guest private IPv4.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ipv4: Option<std::net::Ipv4Addr>,
    /// Guest private IPv6.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ipv6: Option<std::net::Ipv6Addr>,
    /// Gateway MAC.
    pub gateway_mac: MacAddr,
    /// Gateway IPv4.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gateway_ipv4: Option<std::net::Ipv4Addr>,
    /// Gateway IPv6.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gateway_ipv6: Option<std::net::Ipv6Addr>,
    /// DNS servers handed out by DHCP.
    #[serde(default)]
    pub dns: Vec<std::net::IpAddr>,
    /// Host name handed out by DHCP.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hostname: Option<String>,
    /// Domain name handed out by DHCP.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub domain: Option<String>,
    /// MTU advertised to the guest (DHCP option 26, RA MTU).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mtu: Option<u16>,
    /// Flows the VNIC may hold in each worker's flow table (default:
    /// `workers.flow_quota_per_vnic`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub flow_quota: Option<u32>,
}

/// A firewall rule as the API carries it.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct FwRuleSpec {
    /// `in` or `out`.
    pub direction: FwDirection,
    /// Lower first.
    pub priority: u16,
    /// `allow` or `deny`.
    pub action: FwAction,
    /// `any`, `ip:ADDR`, `subnet:PREFIX` or `vni:N`; empty = any.
    #[serde(default)]
    pub hosts: Vec<FwHostSpec>,
    /// `any`, `tcp`, `udp`, `icmp[:TYPE[/CODE]]`, `icmp6[:TYPE[/CODE]]` or `proto:N`; empty = any.
    #[serde(default)]
    pub protocols: Vec<FwProtocolSpec>,
    /// `PORT` or `FIRST-LAST`; empty = any.
    #[serde(default)]
    pub ports: Vec<PortRangeSpec>,
}

/// A VNIC as `vnic-list` shows it.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct VnicInfo {
    /// Guest port name.
    pub port: String,
    /// NIC id.
    pub id: u32,
    /// VNI.
    pub vni: u32,
    /// Guest MAC.
    pub mac: String,
    /// Guest IPv4.
    pub ipv4: Option<std::net::Ipv4Addr>,
    /// Guest IPv6.
    pub ipv6: Option<std::net::Ipv6Addr>,
    /// Current epoch.
    pub epoch: u64,
    /// Router entries.
    pub routes: usize,
    /// Firewall rules.
    pub firewall_rules: usize,
    /// Flows it may hold per worker.
    #[serde(default)]
    pub flow_quota: usize,
}

/// One V2P mapping.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct V2pEntry {
    /// VNI.
    pub vni: Vni,
    /// Guest IP.
    pub ip: std::net::IpAddr,
    /// Guest MAC.
    pub mac: MacAddr,
    /// Sled underlay address.
    pub underlay: std::net::Ipv6Addr,
}

/// A VNIC's layers.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct LayersInfo {
    /// Guest port name.
    pub port: String,
    /// Current epoch.
    pub epoch: u64,
    /// In pipeline order (outbound).
    pub layers: Vec<LayerInfo>,
}

/// One layer and its rules.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct LayerInfo {
    /// `gateway`, `firewall`, `router`, `nat` or `overlay`.
    pub name: String,
    /// What happens to a packet no rule matches, outbound.
    pub default_out: String,
    /// What happens to a packet no rule matches, inbound.
    pub default_in: String,
    /// The rules, in evaluation order.
    pub rules: Vec<RuleInfo>,
}

/// One rule of a layer.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct RuleInfo {
    /// `in` or `out`.
    pub direction: String,
    /// Priority (lower first).
    pub priority: u32,
    /// The predicates, in words.
    pub predicates: String,
    /// The action, in words.
    pub action: String,
    /// Flows whose first packet matched this rule.
    pub hits: u64,
    /// A route to a NIC: `active` or `blackhole`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub state: Option<String>,
}

/// One flow-table entry.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct FlowInfo {
    /// Worker holding it.
    pub worker: usize,
    /// Guest port name.
    pub port: String,
    /// IP protocol number.
    pub proto: u8,
    /// Guest-side source address.
    pub src: std::net::IpAddr,
    /// Remote address.
    pub dst: std::net::IpAddr,
    /// `vpc` or `internet`: where the remote end is (part of the flow's key).
    #[serde(default)]
    pub realm: String,
    /// Source port (or ICMP id).
    pub src_port: u16,
    /// Destination port (or ICMP id).
    pub dst_port: u16,
    /// `out` or `in`: who started it.
    pub origin: String,
    /// Whether the firewall allowed it.
    pub allowed: bool,
    /// The compiled outbound transform, in words.
    pub out: Option<String>,
    /// The compiled inbound transform, in words.
    pub inb: Option<String>,
    /// The epoch it was compiled at.
    pub epoch: u64,
    /// TCP state, for TCP flows.
    pub tcp_state: Option<String>,
    /// How far the flow has come, which decides when it may be evicted:
    /// `embryonic`, `unreplied`, `closing`, `replied` or `established`.
    #[serde(default)]
    pub class: String,
    /// Packets that hit the entry.
    pub hits: u64,
    /// Seconds since its last packet.
    pub idle_secs: f64,
}

/// One patch entry.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq, PartialOrd, Ord)]
pub struct PatchEntry {
    /// Ingress port name.
    pub from: String,
    /// Egress port name.
    pub to: String,
}

/// Answer to `status`.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct StatusInfo {
    /// The appliance's version.
    pub version: String,
    /// The DPDK version it runs on.
    pub dpdk_version: String,
    /// The API version it speaks.
    pub api_version: u32,
    /// Role of this switch (`sled` or `boundary`).
    pub role: String,
    /// Seconds since start-up.
    pub uptime_secs: f64,
    /// Generation of the published table snapshot.
    pub generation: u64,
    /// The ports.
    pub ports: Vec<PortSummary>,
    /// The poll-mode workers.
    pub workers: Vec<WorkerSummary>,
    /// Fleet mode: where the state comes from and how current it is.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fleet: Option<FleetStatus>,
}

/// A fleet-mode switch's link to the fleet's etcd, as `status` shows it.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct FleetStatus {
    /// The sled this switch is.
    pub sled: String,
    /// etcd's client URLs.
    pub etcd: Vec<String>,
    /// Whether the switch is connected to etcd and watching.
    pub connected: bool,
    /// The latest etcd revision the switch has read.
    pub revision_seen: i64,
    /// The newest etcd revision the state in force is up to date with (a
    /// revision that changes nothing of this switch's publishes nothing).
    pub revision_applied: i64,
    /// When the switch came up to date with `revision_applied` (Unix time,
    /// seconds): what a measurement of the fleet's propagation reads.
    #[serde(default)]
    pub applied_at_unix: f64,
    /// Fleet changes published as generations.
    pub updates: u64,
    /// Fleet states refused (the switch kept what it ran).
    pub refused: u64,
    /// Full reads of the fleet's keys (at start, and when the revision the
    /// switch would watch from was compacted).
    pub resyncs: u64,
    /// Why the last fleet state was refused, or etcd is unreachable.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_error: Option<String>,
    /// Seconds since the link to etcd was lost (while it is).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub disconnected_secs: Option<f64>,
    /// Migrations whose flows this switch imported (as their target).
    #[serde(default)]
    pub migrations_in: u64,
    /// Flows this switch exported for migrations (as their source).
    #[serde(default)]
    pub migration_flows_exported: u64,
    /// Flows this switch imported for migrations.
    #[serde(default)]
    pub migration_flows_imported: u64,
    /// Seconds from the start of the last migration this switch imported
    /// for to its import (the traffic moves right after).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_migration_secs: Option<f64>,
}

/// A port as `status` shows it.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct PortSummary {
    /// Configured name.
    pub name: String,
    /// DPDK port id.
    pub port_id: u16,
    /// `uplink`, `guest` or `external`.
    pub role: String,
    /// DPDK driver name.
    pub driver: String,
    /// Number of rx queues.
    pub rx_queues: u16,
    /// Number of tx queues.
    pub tx_queues: u16,
    /// Whether RSS spreads rx over the queues.
    pub rss: bool,
    /// Link up.
    pub link_up: bool,
}

/// A worker as `status` shows it.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct WorkerSummary {
    /// Worker index.
    pub id: usize,
    /// The lcore it runs on.
    pub lcore: u32,
    /// The (port, queue) pairs it polls.
    pub rx_queues: Vec<(String, u16)>,
}

/// A port as `ports` shows it.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct PortInfo {
    /// Configured name.
    pub name: String,
    /// DPDK port id.
    pub port_id: u16,
    /// `uplink`, `guest` or `external`.
    pub role: String,
    /// DPDK devargs it was created with.
    pub devargs: String,
    /// MAC address.
    pub mac: String,
    /// Link state.
    pub link: LinkInfo,
    /// The switch's own counters (summed over workers).
    pub counters: PortCounters,
    /// The device's counters (`rte_eth_stats`).
    pub device: DeviceCounters,
}

/// Link state of a port.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct LinkInfo {
    /// Link up.
    pub up: bool,
    /// Speed in Mb/s (0 when unknown).
    pub speed_mbps: u32,
    /// Full duplex.
    pub full_duplex: bool,
}

/// The switch's counters for one port.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct PortCounters {
    /// Packets received by the workers.
    pub rx_packets: u64,
    /// Bytes received by the workers.
    pub rx_bytes: u64,
    /// Packets the device accepted for transmission.
    pub tx_packets: u64,
    /// Bytes the device accepted for transmission.
    pub tx_bytes: u64,
    /// Packets dropped, by reason; every reason appears, zeros included.
    pub drops: BTreeMap<String, u64>,
    /// Packets a cached flow transform handled (flow-table hits).
    #[serde(default)]
    pub fast_path: u64,
    /// Packets the layers handled (flow-table misses).
    #[serde(default)]
    pub slow_path: u64,
    /// Packets the virtual gateway answered.
    #[serde(default)]
    pub hairpin: u64,
    /// Geneve for a migrated instance's old endpoint, relayed to its new
    /// one (on the uplink, in its grace period).
    #[serde(default)]
    pub relayed: u64,
    /// Packets handed to the instance metadata service.
    #[serde(default)]
    pub punted: u64,
    /// Packets sent for the metadata service (in `tx_packets` too):
    /// received + injected = sent + punted + dropped.
    #[serde(default)]
    pub injected: u64,
}

/// A device's own counters.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct DeviceCounters {
    /// Received packets.
    pub ipackets: u64,
    /// Transmitted packets.
    pub opackets: u64,
    /// Received bytes.
    pub ibytes: u64,
    /// Transmitted bytes.
    pub obytes: u64,
    /// Packets the device dropped because its rx ring was full.
    pub imissed: u64,
    /// Receive errors.
    pub ierrors: u64,
    /// Transmit errors.
    pub oerrors: u64,
    /// Receive failures for lack of mbufs.
    pub rx_nombuf: u64,
}

/// Answer to `stats`.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct StatsInfo {
    /// Sums over every port and worker.
    pub total: PortCounters,
    /// Per worker.
    pub workers: Vec<WorkerStats>,
    /// Number of table snapshots published since start.
    pub snapshot_swaps: u64,
    /// Mbufs free in the pool.
    pub mempool_free: u32,
    /// Mbufs in use.
    pub mempool_in_use: u32,
    /// The last change published, timed on the switch's clock.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub publication: Option<PublicationInfo>,
}

/// When the last change was received, published and answered, in
/// nanoseconds on the switch's own monotonic clock (the one the workers'
/// `generation_seen_ns` is read on): `generation_seen_ns - received_ns` is
/// the time from a command's arrival to the first packet processed under
/// its generation.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct PublicationInfo {
    /// The generation it published.
    pub generation: u64,
    /// When its request line was read.
    pub received_ns: u64,
    /// When its snapshot was published (after the state file was written).
    pub published_ns: u64,
    /// When its answer was ready.
    pub answered_ns: u64,
}

/// One worker's counters.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct WorkerStats {
    /// Worker index.
    pub id: usize,
    /// The lcore it runs on.
    pub lcore: u32,
    /// Loops that received at least one packet.
    pub busy_loops: u64,
    /// TSC cycles spent in those loops.
    #[serde(default)]
    pub busy_cycles: u64,
    /// Packets those loops received (`busy_cycles / busy_packets`: cycles
    /// per packet).
    #[serde(default)]
    pub busy_packets: u64,
    /// Loops that received nothing.
    pub idle_loops: u64,
    /// Times it slept for lack of traffic.
    pub sleeps: u64,
    /// Its packet counters, summed over ports.
    pub counters: PortCounters,
    /// Flows in its flow table.
    #[serde(default)]
    pub flows: u64,
    /// Flow-table entries it expired.
    #[serde(default)]
    pub flows_expired: u64,
    /// SNAT ports its flows hold.
    #[serde(default)]
    pub snat_ports: u64,
    /// SNAT ports it handed out since start.
    #[serde(default)]
    pub snat_allocated: u64,
    /// SNAT allocations it refused for a full range since start.
    #[serde(default)]
    pub snat_exhausted: u64,
    /// Live flows evicted to make room, by class (`embryonic`,
    /// `unreplied`, `closing`, `replied`, `established`).
    #[serde(default)]
    pub flows_evicted: BTreeMap<String, u64>,
    /// NAT reply keys held: one per translated flow.
    #[serde(default)]
    pub nat_reverse: u64,
    /// Packets it received and handed to the worker owning their flow.
    #[serde(default)]
    pub handoff_out: u64,
    /// Packets other workers handed to it.
    #[serde(default)]
    pub handoff_in: u64,
    /// The newest table generation it processed a packet under.
    #[serde(default)]
    pub generation_seen: u64,
    /// When it first processed a packet under that generation (the
    /// switch's clock, as [`PublicationInfo`]).
    #[serde(default)]
    pub generation_seen_ns: u64,
}

fn guest_role() -> String {
    "guest".to_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use strum::VariantNames;

    /// Every name of the derived list is a command the protocol knows.
    #[test]
    fn the_command_list_is_the_protocols() {
        assert!(Command::VARIANTS.len() >= 40);
        for name in Command::VARIANTS {
            let line = format!(r#"{{"version":2,"command":"{name}"}}"#);
            let e = serde_json::from_str::<Request>(&line).err();
            assert!(
                e.as_ref()
                    .is_none_or(|e| !e.to_string().contains("unknown variant")),
                "{name}: {e:?}"
            );
        }
        assert!(Command::VARIANTS.contains(&"boundary-map-list"));
    }

    #[test]
    fn external_set_json_round_trips() {
        let line = r#"{"version":1,"command":"external-set","port":"vnic0",
            "floating":["192.168.0.2","192.168.0.3"],"ephemeral":"192.168.0.1",
            "snat":{"ip":"10.77.77.13","first_port":1024,"last_port":2047},
            "igw_map":{"192.168.0.1":["system",4],"192.168.0.2":["1","4"]}}"#;
        let req: Request = serde_json::from_str(line).unwrap();
        let Command::ExternalSet(spec) = &req.command else {
            panic!("{req:?}")
        };
        assert_eq!(spec.floating.len(), 2);
        assert_eq!(spec.snat.map(|s| s.last_port), Some(2047));
        let map = spec.igw_map.as_ref().unwrap();
        assert_eq!(
            map[&"192.168.0.1".parse::<std::net::IpAddr>().unwrap()],
            vec![GatewayRef::Named("system".into()), GatewayRef::Id(4)]
        );
        let again: Request = serde_json::from_str(&serde_json::to_string(&req).unwrap()).unwrap();
        assert_eq!(again, req);
    }

    #[test]
    fn boundary_commands_json() {
        let line = r#"{"version":1,"command":"external-port-set","port":"ext0","nexthop_mac":"02:00:00:00:00:fe","addr":"192.0.2.1"}"#;
        let req: Request = serde_json::from_str(line).unwrap();
        assert_eq!(
            req.command,
            Command::ExternalPortSet {
                port: "ext0".into(),
                nexthop_mac: "02:00:00:00:00:fe".parse().unwrap(),
                addr: Some("192.0.2.1".parse().unwrap()),
            }
        );
        let line = r#"{"version":1,"command":"boundary-map-set","ip":"203.0.113.5","sled":"fd00:1701:d:101::1"}"#;
        let req: Request = serde_json::from_str(line).unwrap();
        let again: Request = serde_json::from_str(&serde_json::to_string(&req).unwrap()).unwrap();
        assert_eq!(again, req);
        let line = r#"{"version":1,"command":"boundary-map-set","ip":"198.51.100.13","sled":"fd00:1701:d:101::1","ports":"1024-2047"}"#;
        let req: Request = serde_json::from_str(line).unwrap();
        assert!(
            matches!(req.command, Command::BoundaryMapSet { ports: Some(p), .. } if p.first() == 1024 && p.last() == 2047)
        );
        assert!(serde_json::to_string(&req.command)
            .unwrap()
            .contains(r#""ports":"1024-2047""#));
        for bad in [
            r#"{"version":1,"command":"boundary-map-set","ip":"198.51.100.13","sled":"fd00::1","ports":"3000-2000"}"#,
            r#"{"version":1,"command":"boundary-map-set","ip":"203.0.113.5"}"#,
            r#"{"version":1,"command":"boundary-map-set","ip":"x","sled":"fd00::1"}"#,
            r#"{"version":1,"command":"boundary-map-clear","ip":"203.0.113.5","sled":"fd00::1"}"#,
            r#"{"version":1,"command":"external-port-set","port":"e","nexthop_mac":"m","addr":"fd00::1"}"#,
        ] {
            assert!(serde_json::from_str::<Request>(bad).is_err(), "{bad}");
        }
        let reply = Reply::BoundaryMap(BoundaryMapInfo {
            external: None,
            entries: vec![BoundaryMapEntry {
                ip: "203.0.113.5".parse().unwrap(),
                sled: "fd00::1".parse().unwrap(),
                ports: None,
            }],
            bridge_links: vec![],
            static_nat: vec![],
        });
        let text = serde_json::to_string(&reply).unwrap();
        assert_eq!(
            text,
            r#"{"type":"boundary-map","external":null,"entries":[{"ip":"203.0.113.5","sled":"fd00::1"}]}"#
        );
    }

    /// The typed commands read and write the text they always did.
    #[test]
    fn typed_commands_keep_their_json_text() {
        for line in [
            r#"{"version":2,"command":"vnic-create","port":"g","id":1,"vni":100,"mac":"a8:40:25:00:00:05","gateway_mac":"a8:40:25:00:00:01","dns":[]}"#,
            r#"{"version":2,"command":"underlay-set","addr":"fd00::1","uplink":"up","nexthop_mac":"02:00:00:00:00:fe"}"#,
            r#"{"version":2,"command":"v2p-set","vni":100,"ip":"172.30.0.9","mac":"a8:40:25:00:00:09","underlay":"fd00::2"}"#,
            r#"{"version":2,"command":"v2p-clear","vni":16777215,"ip":"172.30.0.9"}"#,
            r#"{"version":2,"command":"route-add","port":"g","dest":"0.0.0.0/0","target":"igw:4","class":"system"}"#,
            r#"{"version":2,"command":"route-del","port":"g","dest":"10.0.0.1/8"}"#,
            r#"{"version":2,"command":"firewall-set","port":"g","rules":[{"direction":"out","priority":7,"action":"deny","hosts":["ip:fd00::1"],"protocols":["icmp6:128/0","proto:47"],"ports":["53","1000-2000"]}]}"#,
            r#"{"version":2,"command":"pool-create","name":"p","ranges":["192.0.2.0-192.0.2.15","192.0.2.99"]}"#,
            r#"{"version":2,"command":"igw-assign","id":4,"range":"192.0.2.0-192.0.2.7"}"#,
            r#"{"version":2,"command":"igw-unassign","id":4,"pool":"p"}"#,
            r#"{"version":2,"command":"v2b-set","prefix":"0.0.0.0/0","endpoints":["fd00::9"]}"#,
            r#"{"version":2,"command":"v2b-clear","prefix":"::/0"}"#,
            r#"{"version":2,"command":"external-port-set","port":"ext","nexthop_mac":"02:00:00:00:00:fe"}"#,
        ] {
            let req: Request = serde_json::from_str(line).unwrap_or_else(|e| panic!("{line}: {e}"));
            assert_eq!(serde_json::to_string(&req).unwrap(), line);
        }
        let line = r#"{"version":2,"command":"v2p-set","vni":100,"ip":"172.30.0.9","mac":"A8:40:25:00:00:0A","underlay":"fd00::2"}"#;
        let Command::V2pSet { mac, vni, .. } =
            serde_json::from_str::<Request>(line).unwrap().command
        else {
            panic!("not v2p-set")
        };
        assert_eq!(
            (mac.to_string(), vni.get()),
            ("a8:40:25:00:00:0a".into(), 100)
        );
        let line = r#"{"version":2,"command":"pool-create","name":"p","ranges":["192.0.2.0/28"]}"#;
        let again = serde_json::to_string(&serde_json::from_str::<Request>(line).unwrap()).unwrap();
        assert!(
            again.contains(r#""ranges":["192.0.2.0-192.0.2.15"]"#),
            "{again}"
        );
    }

    #[test]
    fn igw_commands_refuse_unknown_fields() {
        for line in [
            r#"{"version":1,"command":"igw-assign","id":1,"pool":"p","extra":1}"#,
            r#"{"version":1,"command":"external-set","port":"p","floatin":[]}"#,
            r#"{"version":1,"command":"external-set","port":"p","snat":{"ip":"10.0.0.1","first_port":1,"last_port":2,"x":0}}"#,
            r#"{"version":1,"command":"pool-create","name":"p"}"#,
        ] {
            assert!(serde_json::from_str::<Request>(line).is_err(), "{line}");
        }
        let ok = r#"{"version":1,"command":"igw-create","id":7}"#;
        assert_eq!(
            serde_json::from_str::<Request>(ok).unwrap().command,
            Command::IgwCreate { id: 7, name: None }
        );
    }
}
