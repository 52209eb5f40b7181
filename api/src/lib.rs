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

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// The protocol version this build speaks.
pub const API_VERSION: u32 = 1;

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

/// The commands of the control socket.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(tag = "command", rename_all = "kebab-case", deny_unknown_fields)]
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
    /// Sets this sled's underlay address and uplink.
    UnderlaySet {
        /// The sled's underlay IPv6 address.
        addr: std::net::Ipv6Addr,
        /// The uplink port name.
        uplink: String,
        /// MAC of the underlay next hop (outer destination MAC).
        nexthop_mac: String,
    },
    /// Sets a V2P mapping: guest `ip` of VPC `vni` lives at `mac` on sled `underlay`.
    V2pSet {
        /// VPC VNI.
        vni: u32,
        /// Guest IP.
        ip: std::net::IpAddr,
        /// Guest MAC.
        mac: String,
        /// Sled underlay address.
        underlay: std::net::Ipv6Addr,
    },
    /// Removes a V2P mapping.
    V2pClear {
        /// VPC VNI.
        vni: u32,
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
        dest: String,
        /// `drop`, `igw`, `igw:ID`, `ip:ADDR`, `subnet:PREFIX` or `nic:ID`.
        target: String,
        /// `custom` (default) or `system`.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        class: Option<String>,
    },
    /// Deletes a router entry of a VNIC.
    RouteDel {
        /// Guest port name.
        port: String,
        /// Destination prefix.
        dest: String,
        /// `custom` (default) or `system`.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        class: Option<String>,
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
    /// Dumps the flow tables of every worker (of one port, if given).
    Flows {
        /// Guest port name.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        port: Option<String>,
    },
    /// Clears the flow tables (of one port, if given).
    FlowsClear {
        /// Guest port name.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        port: Option<String>,
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
            result: Some(result),
        }
    }

    /// A refusal with its reason.
    pub fn err(msg: impl Into<String>) -> Self {
        Response {
            version: API_VERSION,
            ok: false,
            error: Some(msg.into()),
            result: None,
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
    /// Answer to `v2p-list`.
    V2p {
        /// The mappings.
        entries: Vec<V2pEntry>,
    },
    /// Answer to `layers`.
    Layers(LayersInfo),
    /// Answer to `flows` and `flows-clear`.
    Flows {
        /// The flows (empty after a clear).
        flows: Vec<FlowInfo>,
        /// Flows removed (for `flows-clear`).
        cleared: u64,
    },
}

/// A VNIC to create, bound to a guest port.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct VnicCreate {
    /// Guest port name (from the configuration).
    pub port: String,
    /// NIC id.
    pub id: u32,
    /// VPC VNI (24 bits).
    pub vni: u32,
    /// Guest MAC.
    pub mac: String,
    /// Guest private IPv4.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ipv4: Option<std::net::Ipv4Addr>,
    /// Guest private IPv6.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ipv6: Option<std::net::Ipv6Addr>,
    /// Gateway MAC.
    pub gateway_mac: String,
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
}

/// A firewall rule as the API carries it.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct FwRuleSpec {
    /// `in` or `out`.
    pub direction: String,
    /// Lower first.
    pub priority: u16,
    /// `allow` or `deny`.
    pub action: String,
    /// `any`, `ip:ADDR`, `subnet:PREFIX` or `vni:N`; empty = any.
    #[serde(default)]
    pub hosts: Vec<String>,
    /// `any`, `tcp`, `udp`, `icmp[:TYPE[/CODE]]`, `icmp6[:TYPE[/CODE]]` or `proto:N`; empty = any.
    #[serde(default)]
    pub protocols: Vec<String>,
    /// `PORT` or `FIRST-LAST`; empty = any.
    #[serde(default)]
    pub ports: Vec<String>,
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
}

/// One V2P mapping.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct V2pEntry {
    /// VNI.
    pub vni: u32,
    /// Guest IP.
    pub ip: std::net::IpAddr,
    /// Guest MAC.
    pub mac: String,
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
}
