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
}
