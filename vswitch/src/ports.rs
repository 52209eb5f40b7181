//! Opening a port: configured at start-up or created at run time
//! (`port-add`), each port gets an rx queue per worker where the device has
//! them (RSS with the owner's redirection table where it hashes) and a tx
//! queue per worker.

use crate::app::AppError;
use crate::config::PortConfig;
use crate::switch::SwitchPort;
use dpdk::{Mempool, Port, PortSetup, RxQueue, TxQueue};

/// The most ports a switch has at once, configured and run-time together:
/// the counters are sized for them at start-up (DPDK's own limit,
/// RTE_MAX_ETHPORTS, is 32 in Debian's build).
pub const MAX_PORTS: usize = 32;

/// A port opened and started, with the queues its workers take.
pub struct OpenedPort {
    /// The port as the management side keeps it.
    pub port: SwitchPort,
    /// Its rx queues; queue q goes to worker q where the device hashes.
    pub rx: Vec<RxQueue>,
    /// By worker: its own tx queue (`None`: the device has fewer tx queues
    /// than workers).
    pub tx: Vec<Option<TxQueue>>,
    /// By worker: the worker that transmits for it where it has no tx queue.
    pub via: Vec<usize>,
}

/// Opens the port of `pc` for `workers` workers: found among EAL's devices
/// or, for a run-time port, created by hot-plug of its devargs.
pub fn open_port(
    pc: &PortConfig,
    workers: usize,
    pool: &Mempool,
    hotplug: bool,
) -> Result<OpenedPort, AppError> {
    let port = if hotplug {
        Port::hotplug_add(&pc.devargs)
    } else {
        Port::by_name(pc.device_name())
    }
    .map_err(|e| {
        AppError::Other(format!(
            "port {:?} (devargs {:?}): {e}",
            pc.name, pc.devargs
        ))
    })?;
    match configure(pc, port, workers, pool) {
        Ok(p) => Ok(p),
        Err((port, e)) => {
            if hotplug {
                if let Err(e) = port.hotplug_remove() {
                    tracing::warn!("port {:?}: {e}", pc.name);
                }
            }
            Err(e)
        }
    }
}

fn configure(
    pc: &PortConfig,
    port: Port,
    workers: usize,
    pool: &Mempool,
) -> Result<OpenedPort, (Port, AppError)> {
    let info = match port.info() {
        Ok(i) => i,
        Err(e) => return Err((port, e.into())),
    };
    let setup = PortSetup {
        rx_queues: pc.rx_queues.unwrap_or(workers as u16),
        tx_queues: workers as u16,
        rx_desc: pc.rx_desc,
        tx_desc: pc.tx_desc,
        promiscuous: pc.promiscuous,
    };
    let conf = match port.configure(&setup, pool) {
        Ok(c) => c,
        Err(e) => return Err((port, AppError::Other(format!("port {:?}: {e}", pc.name)))),
    };
    // The switch enforces the MTU itself (frag-needed, MSS clamping); the
    // device is told too where it can be.
    let mtu_on_device = match port.set_mtu(pc.mtu) {
        Ok(set) => set,
        Err(e) => {
            tracing::warn!("port {:?}: the device refused mtu {}: {e}", pc.name, pc.mtu);
            false
        }
    };
    if let Err(e) = port.start() {
        return Err((port, e.into()));
    }
    let (nrx, ntx) = (conf.rx.len() as u16, conf.tx.len() as u16);
    // Where the device hashes, the redirection table sends each hash bucket
    // to the queue of the worker that owns it (queue q is polled by worker
    // q % workers), so that most packets need no handoff.
    let reta = conf.rss
        && match port.program_reta(engine::owner::RETA_SPAN as u16, nrx) {
            Ok(()) => true,
            Err(e) => {
                tracing::warn!("port {:?}: {e}; handoff places its packets", pc.name);
                false
            }
        };
    // A worker past the device's tx queues sends through worker `w % ntx`,
    // which has one (the handoff ring, marked transmit-only).
    let mut txq = conf.tx.into_iter();
    let tx = (0..workers).map(|_| txq.next()).collect();
    let via = (0..workers).map(|w| w % usize::from(ntx.max(1))).collect();
    Ok(OpenedPort {
        port: SwitchPort {
            cfg: pc.clone(),
            port,
            driver: info.driver,
            rx_queues: nrx,
            tx_queues: ntx,
            rss: conf.rss,
            reta,
            mtu_on_device,
        },
        rx: conf.rx,
        tx,
        via,
    })
}

/// The worker that polls rx queue `q` of a port with `queues` rx queues:
/// worker q where the device hashes (its redirection table matches the
/// owner function), else the one `spread` names (single queues are spread
/// round-robin and handoff places their packets).
pub fn rx_worker(q: usize, queues: usize, spread: usize, workers: usize) -> usize {
    let w = if queues > 1 { q } else { spread };
    w % workers.max(1)
}
