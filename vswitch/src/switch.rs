//! The running switch as the management side sees it: its ports, workers,
//! tables, counters and mbuf pool. Shared (read-only) by the management
//! thread and the metrics endpoint; the workers never touch it.

use crate::config::{PortConfig, SwitchRole};
use crate::stats::Stats;
use dpdk::{Mempool, Port};
use engine::control::vpc::PortDirectory;
use engine::tables::TableStore;
use engine::PortIdx;
use std::sync::{Arc, Mutex, MutexGuard, RwLock, RwLockReadGuard, RwLockWriteGuard};
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
#[derive(Debug)]
pub struct WorkerInfo {
    /// Worker index.
    pub id: usize,
    /// Its lcore.
    pub lcore: u32,
    /// The (port, queue) pairs it polls (they change with run-time ports).
    pub rx: Mutex<Vec<(PortIdx, u16)>>,
    /// Where to send it requests.
    pub mailbox: crossbeam_channel::Sender<crate::worker::WorkerRequest>,
}

/// The running switch.
pub struct Switch {
    /// Fleet mode: the link to the fleet's etcd.
    pub fleet: Option<Arc<crate::fleet::FleetLink>>,
    /// Sled or boundary.
    pub role: SwitchRole,
    /// Ports by [`PortIdx`]: the configured ones in configuration order,
    /// then run-time ones (`None`: a removed run-time port's free slot).
    /// Only the management thread writes it; the workers never see it.
    pub ports: RwLock<Vec<Option<SwitchPort>>>,
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
    /// Names, roles and MACs of the ports, for the VPC commands (replaced
    /// whole when a run-time port comes or goes).
    pub directory: Mutex<Arc<PortDirectory>>,
    /// The instance metadata service's counters, as of its last pass.
    pub metadata: Mutex<vswitch_metadata::Counters>,
    /// The last change published, timed (written by the management thread).
    pub publication: std::sync::Mutex<Option<vswitch_api::PublicationInfo>>,
}

impl Switch {
    /// The ports, for reading (a lock only the management side takes).
    pub fn ports(&self) -> RwLockReadGuard<'_, Vec<Option<SwitchPort>>> {
        self.ports.read().unwrap_or_else(|p| p.into_inner())
    }

    /// The ports, for adding or removing one.
    pub fn ports_mut(&self) -> RwLockWriteGuard<'_, Vec<Option<SwitchPort>>> {
        self.ports.write().unwrap_or_else(|p| p.into_inner())
    }

    /// The port directory in force.
    pub fn directory(&self) -> Arc<PortDirectory> {
        Arc::clone(&self.directory_lock())
    }

    /// Replaces the port directory.
    pub fn set_directory(&self, dir: PortDirectory) {
        *self.directory_lock() = Arc::new(dir);
    }

    fn directory_lock(&self) -> MutexGuard<'_, Arc<PortDirectory>> {
        self.directory.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Name of port `idx` (or `#idx` for an index without a port).
    pub fn port_name(&self, idx: PortIdx) -> String {
        match self.ports().get(idx as usize) {
            Some(Some(p)) => p.cfg.name.clone(),
            _ => format!("#{idx}"),
        }
    }
}

impl WorkerInfo {
    /// The (port, queue) pairs it polls.
    pub fn rx(&self) -> Vec<(PortIdx, u16)> {
        self.rx.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }

    /// Changes the (port, queue) pairs it polls.
    pub fn set_rx(&self, f: impl FnOnce(&mut Vec<(PortIdx, u16)>)) {
        f(&mut self.rx.lock().unwrap_or_else(|p| p.into_inner()))
    }
}
