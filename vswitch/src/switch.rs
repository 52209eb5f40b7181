//! The running switch as the management side sees it: its ports, workers,
//! tables, counters and mbuf pool. Shared (read-only) by the management
//! thread and the metrics endpoint; the workers never touch it.

use crate::config::{PortConfig, SwitchRole};
use crate::stats::Stats;
use dpdk::{Mempool, Port};
use engine::tables::TableStore;
use engine::PortIdx;
use std::sync::Arc;
use std::time::Instant;

/// A configured and started port.
pub struct SwitchPort {
    /// Its configuration.
    pub cfg: PortConfig,
    /// The DPDK port.
    pub port: Port,
    /// DPDK driver name.
    pub driver: String,
    /// Rx queues configured.
    pub rx_queues: u16,
    /// Tx queues configured.
    pub tx_queues: u16,
    /// Whether RSS spreads rx over the queues.
    pub rss: bool,
    /// Whether its redirection table sends each flow to its owner's queue
    /// (the symmetric key is set wherever RSS is on).
    pub reta: bool,
    /// Whether the device took the configured MTU (else only the switch enforces it).
    pub mtu_on_device: bool,
}

/// A worker as the management side knows it.
#[derive(Debug, Clone)]
pub struct WorkerInfo {
    /// Worker index.
    pub id: usize,
    /// Its lcore.
    pub lcore: u32,
    /// The (port, queue) pairs it polls.
    pub rx: Vec<(PortIdx, u16)>,
    /// Where to send it requests.
    pub mailbox: crossbeam_channel::Sender<crate::worker::WorkerRequest>,
}

/// The running switch.
pub struct Switch {
    /// Sled or boundary.
    pub role: SwitchRole,
    /// Ports in configuration order (index = [`PortIdx`]).
    pub ports: Vec<SwitchPort>,
    /// The workers.
    pub workers: Vec<WorkerInfo>,
    /// Published tables.
    pub tables: Arc<TableStore>,
    /// Workers' counters.
    pub stats: Arc<Stats>,
    /// The mbuf pool.
    pub pool: Mempool,
    /// Start-up time.
    pub started: Instant,
    /// Names, roles and MACs of the ports, for the VPC commands.
    pub directory: engine::control::vpc::PortDirectory,
    /// The last change published, timed (written by the management thread).
    pub publication: std::sync::Mutex<Option<vswitch_api::PublicationInfo>>,
}

impl Switch {
    /// Port names in index order.
    pub fn port_names(&self) -> Vec<String> {
        self.ports.iter().map(|p| p.cfg.name.clone()).collect()
    }

    /// Name of port `idx` (or `#idx` for an index outside the switch).
    pub fn port_name(&self, idx: PortIdx) -> String {
        self.ports
            .get(idx as usize)
            .map(|p| p.cfg.name.clone())
            .unwrap_or_else(|| format!("#{idx}"))
    }
}
