//! Start-up, the management loop and shutdown of the appliance.

use crate::config::Config;
use crate::config::PortConfig;
use crate::control::{ControlRequest, ControlServer};
use crate::manager::Manager;
use crate::metrics::MetricsServer;
use crate::ports::{open_port, rx_worker, MAX_PORTS};
use crate::state_file::StateFile;
use crate::stats::Stats;
use crate::switch::{Switch, WorkerInfo};
use crate::worker::Worker;
use dpdk::{self, Eal, Mempool};
use engine::control::{commit, PortDirectory};
use engine::tables::{Snapshot, TableStore};
use engine::PortIdx;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};
use vswitch_api::state::SwitchState;
use vswitch_api::PatchEntry;

/// A failure that stops the appliance.
#[derive(Debug, thiserror::Error)]
pub enum AppError {
    /// A DPDK call failed.
    #[error("{0}")]
    Dpdk(#[from] dpdk::DpdkError),
    /// Something else, described.
    #[error("{0}")]
    Other(String),
}

/// The state file, if one is configured, and the document it holds, if
/// any: read before the ports are opened, since it lists the run-time ports
/// to create again.
fn read_state_file(cfg: &Config) -> Result<(Option<StateFile>, Option<SwitchState>), AppError> {
    if cfg.state.path.as_os_str().is_empty() {
        return Ok((None, None));
    }
    let f = StateFile::new(&cfg.state.path).map_err(AppError::Other)?;
    let loaded = f.read().map_err(AppError::Other)?;
    Ok((Some(f), loaded))
}

/// The tables the switch starts with: the state file's document when there
/// is one (checked whole: a fault stops start-up, naming the object and the
/// field, and the file is kept as it is), else the configuration's patches.
/// Every accepted change is then written to the state file before it is
/// published.
fn initial_tables(
    cfg: &Config,
    dir: &PortDirectory,
    file: Option<StateFile>,
    loaded: Option<SwitchState>,
) -> Result<TableStore, AppError> {
    let first = Snapshot::with_role(cfg.role, dir.names.len());
    let from_file = loaded.is_some();
    let state = loaded.unwrap_or_else(|| {
        let mut s = SwitchState::empty(cfg.role.as_str());
        s.patches = cfg
            .patch
            .iter()
            .map(|p| PatchEntry {
                from: p.from.clone(),
                to: p.to.clone(),
            })
            .collect();
        s.patches.sort();
        s
    });
    let snapshot = commit::load(dir, &first, state).map_err(|errors| {
        let source = match &file {
            Some(f) if from_file => format!(
                "state file {} (kept as it is; fix it, or move it away to start empty)",
                f.path().display()
            ),
            _ => "the configuration's patches".to_string(),
        };
        AppError::Other(format!(
            "{source}: the state is refused ({} error{}):\n  {}",
            errors.len(),
            if errors.len() == 1 { "" } else { "s" },
            errors.join("\n  ")
        ))
    })?;
    if from_file {
        tracing::info!(
            generation = snapshot.generation,
            nics = snapshot.state.nics.len(),
            "state loaded from {}",
            cfg.state.path.display()
        );
    }
    let tables = TableStore::new(snapshot);
    if let Some(f) = file {
        tables.set_journal(Box::new(f)).map_err(AppError::Other)?;
    }
    Ok(tables)
}

/// The link to the fleet of a fleet-mode switch. A state file written as
/// another sled's is refused: its objects are not this sled's.
fn fleet_link(
    fc: &crate::config::FleetConfig,
    cfg: &Config,
    loaded: Option<&SwitchState>,
) -> Result<
    (
        Arc<crate::fleet::FleetLink>,
        crossbeam_channel::Receiver<()>,
    ),
    AppError,
> {
    let stamp = loaded.and_then(|s| s.fleet.as_ref());
    if let Some(st) = stamp {
        if st.sled != fc.sled {
            return Err(AppError::Other(format!(
                "state file {}: it is sled {:?}'s state, and fleet.sled is {:?} (move it away to start empty)",
                cfg.state.path.display(),
                st.sled,
                fc.sled
            )));
        }
    }
    if let Some(st) = stamp {
        tracing::info!(
            revision = st.revision,
            "fleet: starting on the state file's state; catching up from etcd"
        );
    }
    Ok(crate::fleet::FleetLink::new(
        fc.clone(),
        cfg.role.as_str(),
        stamp.map_or(0, |s| s.revision),
    ))
}

/// Runs the switch until SIGINT, SIGTERM or the `shutdown` command.
pub fn run(cfg: Config) -> Result<(), AppError> {
    let stop_signal = Arc::new(AtomicBool::new(false));
    for sig in [signal_hook::consts::SIGINT, signal_hook::consts::SIGTERM] {
        signal_hook::flag::register(sig, Arc::clone(&stop_signal))
            .map_err(|e| AppError::Other(format!("cannot install signal handler: {e}")))?;
    }

    let eal = Eal::init(&cfg.eal_argv())?;
    for &l in &cfg.workers.lcores {
        if !eal.lcore_enabled(l) {
            return Err(AppError::Other(format!(
                "workers.lcores: lcore {l} is not enabled in EAL (check eal.args -l/--lcores)"
            )));
        }
    }
    let nworkers = cfg.workers.lcores.len();
    let pool = Mempool::new("vswitch_mbufs", cfg.mempool.mbufs, cfg.mempool.cache, -1)?;

    // Ports: the configured ones, then the run-time ones the state file
    // lists (created again by hot-plug). Every worker gets its own tx queue
    // on every port; rx queues are spread over the workers (RSS where the
    // device hashes).
    let (file, loaded) = read_state_file(&cfg)?;
    let fleet = match &cfg.fleet {
        Some(fc) => Some(fleet_link(fc, &cfg, loaded.as_ref())?),
        None => None,
    };
    let mut configs: Vec<(PortConfig, bool)> =
        cfg.ports.iter().map(|p| (p.clone(), false)).collect();
    for p in loaded.iter().flat_map(|s| s.ports.iter()) {
        let pc = PortConfig::runtime_guest(&p.name, &p.devargs)
            .map_err(|e| AppError::Other(format!("state file: run-time port {:?}: {e}", p.name)))?;
        configs.push((pc, true));
    }
    if configs.len() > MAX_PORTS {
        return Err(AppError::Other(format!(
            "{} ports: a switch has at most {MAX_PORTS}",
            configs.len()
        )));
    }
    let mut ports = Vec::new();
    let mut rx_queues = Vec::new();
    let mut tx_queues: Vec<Vec<Option<dpdk::TxQueue>>> =
        (0..nworkers).map(|_| Vec::new()).collect();
    let mut tx_via: Vec<Vec<usize>> = (0..nworkers).map(|_| Vec::new()).collect();
    for (pc, hotplug) in &configs {
        let opened = open_port(pc, nworkers, &pool, *hotplug)?;
        let idx = ports.len() as PortIdx;
        rx_queues.push((idx, opened.rx));
        for (w, (tx, via)) in opened.tx.into_iter().zip(opened.via).enumerate() {
            tx_queues[w].push(tx);
            tx_via[w].push(via);
        }
        ports.push(opened.port);
    }
    let directory = PortDirectory {
        names: ports.iter().map(|p| p.cfg.name.clone()).collect(),
        roles: ports.iter().map(|p| p.cfg.role).collect(),
        macs: ports.iter().map(|p| wire::MacAddr(p.port.mac())).collect(),
        workers: nworkers,
        flow_quota: cfg.workers.flow_quota_per_vnic,
        mtus: ports.iter().map(|p| p.cfg.mtu).collect(),
        runtime: configs.iter().map(|(_, r)| *r).collect(),
    };
    // Published before any worker runs: the first packet sees the state.
    let tables = Arc::new(initial_tables(&cfg, &directory, file, loaded)?);
    let stats = Arc::new(Stats::new(nworkers, MAX_PORTS));
    let running = Arc::new(AtomicBool::new(true));

    // Queue q of a port that hashes goes to worker q (its redirection
    // table matches the owner function); the single queues of the others
    // are spread round-robin, and handoff places their packets.
    let mut assigned: Vec<Vec<(PortIdx, dpdk::RxQueue)>> =
        (0..nworkers).map(|_| Vec::new()).collect();
    let mut next = 0;
    for (idx, queues) in rx_queues {
        let n = queues.len();
        for (q, rxq) in queues.into_iter().enumerate() {
            assigned[rx_worker(q, n, next, nworkers)].push((idx, rxq));
            if n == 1 {
                next += 1;
            }
        }
    }
    let (punt_tx, punted) = crossbeam_channel::bounded(crate::metadata::PUNT_QUEUE);
    let (inject, inject_rx) = crossbeam_channel::bounded(crate::metadata::INJECT_QUEUE);
    let mut inject_rx = Some(inject_rx);
    let mut handoffs =
        crate::handoff::build(nworkers, cfg.workers.handoff_ring, cfg.workers.handoff_all)?
            .into_iter();
    let mut workers_info = Vec::new();
    let mut launched = Vec::new();
    for (id, (((lcore, rx), tx), via)) in cfg
        .workers
        .lcores
        .iter()
        .zip(assigned)
        .zip(tx_queues)
        .zip(tx_via)
        .enumerate()
    {
        let (mailbox_tx, mailbox) = crossbeam_channel::bounded(4);
        workers_info.push(WorkerInfo {
            id,
            lcore: *lcore,
            rx: std::sync::Mutex::new(rx.iter().map(|(p, q)| (*p, q.queue())).collect()),
            mailbox: mailbox_tx,
        });
        let Some(handoff) = handoffs.next() else {
            return Err(AppError::Other("handoff rings: one per worker".into()));
        };
        let engine =
            engine::sequencer::Engine::for_worker(cfg.workers.flow_table_size, id, nworkers);
        let w = Worker {
            id,
            rx,
            pipe: crate::worker::Pipeline::new(engine, tx, via, Some(punt_tx.clone())),
            handoff,
            burst: cfg.workers.burst,
            idle: cfg.workers.idle,
            tables: Arc::clone(&tables),
            stats: Arc::clone(&stats),
            running: Arc::clone(&running),
            mailbox,
            clearing: Vec::new(),
            credit: Vec::new(),
            // Worker 0 has a tx queue on every port: it sends for the service.
            inject: inject_rx.take(),
        };
        if let Err(e) = dpdk::launch_on_lcore(&eal, *lcore, move || w.run()) {
            running.store(false, Ordering::Relaxed);
            for l in &launched {
                dpdk::wait_lcore(&eal, *l);
            }
            return Err(e.into());
        }
        launched.push(*lcore);
    }

    let sw = Arc::new(Switch {
        fleet: fleet.as_ref().map(|(l, _)| Arc::clone(l)),
        directory: std::sync::Mutex::new(Arc::new(directory)),
        role: cfg.role,
        ports: std::sync::RwLock::new(ports.into_iter().map(Some).collect()),
        workers: workers_info,
        tables,
        stats,
        pool,
        started: Instant::now(),
        publication: std::sync::Mutex::new(None),
        metadata: std::sync::Mutex::new(Default::default()),
    });
    // The workers hold the only senders: the service's queue closes when
    // they stop.
    drop(punt_tx);
    let metadata = crate::metadata::MetadataService::start(Arc::clone(&sw), punted, inject);

    let (to_manager, requests) = crossbeam_channel::bounded::<ControlRequest>(64);
    let services = ControlServer::start(&cfg.control.socket, cfg.control.limits(), to_manager)
        .map_err(|e| {
            AppError::Other(format!(
                "control.socket {}: {e}",
                cfg.control.socket.display()
            ))
        })
        .and_then(|ctl| {
            let metrics = if cfg.metrics.listen.is_empty() {
                None
            } else {
                Some(
                    MetricsServer::start(&cfg.metrics.listen, Arc::clone(&sw))
                        .map_err(AppError::Other)?,
                )
            };
            Ok((ctl, metrics))
        });
    let (ctl, metrics) = match services {
        Ok(s) => s,
        Err(e) => {
            stop_workers(&eal, &running, &launched);
            close_ports(&sw);
            return Err(e);
        }
    };
    print_summary(&sw, &ctl, metrics.as_ref());

    let (mut manager, fleet_woken, follower) = match fleet {
        Some((link, woken)) => {
            let follower = match crate::fleet::start(Arc::clone(&link)) {
                Ok(f) => f,
                Err(e) => {
                    stop_workers(&eal, &running, &launched);
                    close_ports(&sw);
                    return Err(AppError::Other(e));
                }
            };
            (
                Manager::with_fleet(Arc::clone(&sw), link),
                woken,
                Some(follower),
            )
        }
        None => (
            Manager::new(Arc::clone(&sw)),
            crossbeam_channel::never(),
            None,
        ),
    };
    let why = loop {
        if stop_signal.load(Ordering::Relaxed) {
            break "signal";
        }
        crossbeam_channel::select! {
            recv(requests) -> req => match req {
                Ok(req) => {
                    let resp = manager.handle_at(req.command, req.received);
                    let _ = req.reply.send(resp);
                    if manager.shutdown_requested() {
                        break "shutdown command";
                    }
                }
                Err(_) => break "control socket closed",
            },
            recv(fleet_woken) -> _ => manager.fleet_update(),
            default(Duration::from_millis(100)) => {}
        }
    };
    tracing::info!("stopping ({why})");
    if let Some(link) = &sw.fleet {
        link.stop();
    }
    if let Some(f) = follower {
        let _ = f.join();
    }
    stop_workers(&eal, &running, &launched);
    drop(metadata);
    drop(metrics);
    drop(ctl);
    let t = sw.stats.total();
    println!(
        "vswitch: stopped ({why}): rx {} tx {} dropped {} packets",
        t.rx_packets,
        t.tx_packets,
        t.dropped()
    );
    close_ports(&sw);
    drop(manager);
    drop(sw);
    drop(eal);
    Ok(())
}

fn stop_workers(eal: &Eal, running: &AtomicBool, lcores: &[u32]) {
    running.store(false, Ordering::Relaxed);
    for l in lcores {
        dpdk::wait_lcore(eal, *l);
    }
}

fn close_ports(sw: &Switch) {
    for p in sw.ports().iter().flatten() {
        p.port.stop_and_close();
    }
}

fn print_summary(sw: &Switch, ctl: &ControlServer, metrics: Option<&MetricsServer>) {
    println!(
        "vswitch {} (DPDK {}) role={} workers={} ports={}",
        env!("CARGO_PKG_VERSION"),
        dpdk::DPDK_VERSION,
        sw.role.as_str(),
        sw.workers.len(),
        sw.ports().iter().flatten().count()
    );
    for (i, p) in sw
        .ports()
        .iter()
        .enumerate()
        .filter_map(|(i, p)| p.as_ref().map(|p| (i, p)))
    {
        let mac = p.port.mac();
        println!(
            "  port {i} {:<12} role={:<8} dev={} driver={} rxq={} txq={} rss={} mtu={}{} mac={} link={}",
            p.cfg.name,
            p.cfg.role.as_str(),
            p.port.name(),
            p.driver,
            p.rx_queues,
            p.tx_queues,
            match (p.rss, p.reta) {
                (true, true) => "on(symmetric)",
                (true, false) => "on",
                _ => "off",
            },
            p.cfg.mtu,
            if p.mtu_on_device { "" } else { " (by the switch only)" },
            mac.iter()
                .map(|b| format!("{b:02x}"))
                .collect::<Vec<_>>()
                .join(":"),
            if p.port.link().up { "up" } else { "down" }
        );
    }
    for w in &sw.workers {
        let qs: Vec<String> = w
            .rx()
            .iter()
            .map(|(p, q)| format!("{}:{q}", sw.port_name(*p)))
            .collect();
        println!("  worker {} lcore={} polls {}", w.id, w.lcore, qs.join(" "));
    }
    for (f, t) in sw.tables.current().patch.entries() {
        println!("  patch {} -> {}", sw.port_name(f), sw.port_name(t));
    }
    println!("  control socket {}", ctl.path().display());
    match metrics {
        Some(m) => println!("  metrics http://{}/metrics", m.addr()),
        None => println!("  metrics off"),
    }
    println!("vswitch: running");
}
