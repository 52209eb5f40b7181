//! Builds the API's views of the running switch. `vswitchctl` and the
//! Prometheus endpoint both read these, so their numbers agree by construction.

use crate::switch::Switch;
use vswitch_api::{
    DeviceCounters, LinkInfo, PatchEntry, PortInfo, PortSummary, Reply, StatsInfo, StatusInfo,
    WorkerStats, WorkerSummary, API_VERSION,
};

/// Answer to `status`.
pub fn status(sw: &Switch) -> StatusInfo {
    let ports = sw
        .ports()
        .iter()
        .flatten()
        .map(|p| PortSummary {
            name: p.cfg.name.clone(),
            port_id: p.port.id(),
            role: p.cfg.role.as_str().to_string(),
            driver: p.driver.clone(),
            rx_queues: p.rx_queues,
            tx_queues: p.tx_queues,
            rss: p.rss,
            link_up: p.port.link().up,
        })
        .collect();
    StatusInfo {
        version: env!("CARGO_PKG_VERSION").to_string(),
        dpdk_version: dpdk::DPDK_VERSION.to_string(),
        api_version: API_VERSION,
        role: sw.role.as_str().to_string(),
        uptime_secs: sw.started.elapsed().as_secs_f64(),
        generation: sw.tables.current().generation,
        fleet: sw.fleet.as_ref().map(|l| l.status()),
        ports,
        workers: sw
            .workers
            .iter()
            .map(|w| WorkerSummary {
                id: w.id,
                lcore: w.lcore,
                rx_queues: w.rx().iter().map(|(p, q)| (sw.port_name(*p), *q)).collect(),
            })
            .collect(),
    }
}

/// Answer to `ports`.
pub fn ports(sw: &Switch) -> Vec<PortInfo> {
    sw.ports()
        .iter()
        .enumerate()
        .filter_map(|(i, p)| p.as_ref().map(|p| (i, p)))
        .map(|(i, p)| {
            let link = p.port.link();
            let dev = p.port.stats();
            let mac = p.port.mac();
            PortInfo {
                name: p.cfg.name.clone(),
                port_id: p.port.id(),
                role: p.cfg.role.as_str().to_string(),
                devargs: p.cfg.devargs.clone(),
                mac: mac
                    .iter()
                    .map(|b| format!("{b:02x}"))
                    .collect::<Vec<_>>()
                    .join(":"),
                link: LinkInfo {
                    up: link.up,
                    speed_mbps: link.speed_mbps,
                    full_duplex: link.full_duplex,
                },
                counters: sw.stats.port(i as u16).to_api(),
                device: DeviceCounters {
                    ipackets: dev.ipackets,
                    opackets: dev.opackets,
                    ibytes: dev.ibytes,
                    obytes: dev.obytes,
                    imissed: dev.imissed,
                    ierrors: dev.ierrors,
                    oerrors: dev.oerrors,
                    rx_nombuf: dev.rx_nombuf,
                },
            }
        })
        .collect()
}

/// Answer to `stats`.
pub fn stats(sw: &Switch) -> StatsInfo {
    use std::sync::atomic::Ordering::Relaxed;
    StatsInfo {
        total: sw.stats.total().to_api(),
        workers: sw
            .workers
            .iter()
            .map(|w| {
                let loops = sw.stats.workers.get(w.id).map(|c| &c.loops);
                WorkerStats {
                    id: w.id,
                    lcore: w.lcore,
                    busy_loops: loops.map_or(0, |l| l.busy.load(Relaxed)),
                    busy_cycles: loops.map_or(0, |l| l.busy_cycles.load(Relaxed)),
                    busy_packets: loops.map_or(0, |l| l.busy_packets.load(Relaxed)),
                    idle_loops: loops.map_or(0, |l| l.idle.load(Relaxed)),
                    sleeps: loops.map_or(0, |l| l.sleeps.load(Relaxed)),
                    counters: sw.stats.worker(w.id).to_api(),
                    flows: loops.map_or(0, |l| l.flows.load(Relaxed)),
                    flows_expired: loops.map_or(0, |l| l.flows_expired.load(Relaxed)),
                    snat_ports: loops.map_or(0, |l| l.snat_ports.load(Relaxed)),
                    snat_allocated: loops.map_or(0, |l| l.snat_allocated.load(Relaxed)),
                    snat_exhausted: loops.map_or(0, |l| l.snat_exhausted.load(Relaxed)),
                    flows_evicted: engine::flow::table::FlowClass::ALL
                        .iter()
                        .map(|c| {
                            let n = loops
                                .and_then(|l| l.flows_evicted.get(*c as usize))
                                .map_or(0, |x| x.load(Relaxed));
                            (c.as_str().to_string(), n)
                        })
                        .collect(),
                    nat_reverse: loops.map_or(0, |l| l.nat_reverse.load(Relaxed)),
                    handoff_out: loops.map_or(0, |l| l.handoff_out.load(Relaxed)),
                    handoff_in: loops.map_or(0, |l| l.handoff_in.load(Relaxed)),
                    generation_seen: loops.map_or(0, |l| l.generation_seen.load(Relaxed)),
                    generation_seen_ns: loops.map_or(0, |l| l.generation_seen_ns.load(Relaxed)),
                }
            })
            .collect(),
        snapshot_swaps: sw.tables.swaps(),
        mempool_free: sw.pool.available(),
        mempool_in_use: sw.pool.in_use(),
        publication: sw.publication.lock().ok().and_then(|p| p.clone()),
    }
}

/// Answer to the patch commands: the table now in force.
pub fn patches(sw: &Switch) -> Reply {
    let snap = sw.tables.current();
    Reply::Patches {
        generation: snap.generation,
        patches: snap
            .patch
            .entries()
            .map(|(f, t)| PatchEntry {
                from: sw.port_name(f),
                to: sw.port_name(t),
            })
            .collect(),
    }
}
