//! Human-readable rendering of the appliance's replies.
//!
//! Counters are printed as exact integers rather than scaled ("1.2M") so an
//! operator comparing two runs sees every packet; scripts should use
//! `--json` instead of parsing these tables.

use comfy_table::{presets::UTF8_FULL_CONDENSED, CellAlignment, Table};
use vswitch_api::{
    LinkInfo, PatchEntry, PortCounters, PortInfo, Reply, StatsInfo, StatusInfo, WorkerStats,
};

/// Renders any reply as text for a terminal, without a trailing newline.
pub fn render(reply: &Reply) -> String {
    match reply {
        Reply::Status(info) => render_status(info),
        Reply::Ports { ports } => render_ports(ports),
        Reply::Stats(info) => render_stats(info),
        Reply::Patches {
            generation,
            patches,
        } => render_patches(*generation, patches),
        Reply::ShuttingDown => "vswitch is shutting down".to_owned(),
    }
}

/// A table with the common style; the columns listed in `numeric` are
/// right-aligned so digits of equal weight line up.
fn table(header: &[&str], numeric: &[usize]) -> Table {
    let mut table = Table::new();
    table.load_preset(UTF8_FULL_CONDENSED);
    table.set_header(header.to_vec());
    for &i in numeric {
        if let Some(column) = table.column_mut(i) {
            column.set_cell_alignment(CellAlignment::Right);
        }
    }
    table
}

/// Sum of all drop reasons. Saturating because the counters come from
/// another process and must not be able to make this one panic.
fn drop_total(counters: &PortCounters) -> u64 {
    counters
        .drops
        .values()
        .fold(0u64, |sum, n| sum.saturating_add(*n))
}

/// The non-zero drop reasons as "reason count, reason count"; the appliance
/// reports every reason, zeros included, and the zeros are noise here.
fn drop_reasons(counters: &PortCounters) -> String {
    counters
        .drops
        .iter()
        .filter(|(_, n)| **n != 0)
        .map(|(reason, n)| format!("{reason} {n}"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// Link state as "up 10 Gb/s", "up" (speed unknown) or "down".
fn format_link(link: &LinkInfo) -> String {
    if !link.up {
        return "down".to_owned();
    }
    let mut text = match link.speed_mbps {
        0 => "up".to_owned(),
        mbps if mbps % 1000 == 0 => format!("up {} Gb/s", mbps / 1000),
        mbps => format!("up {mbps} Mb/s"),
    };
    // Half duplex on a modern link is almost always a negotiation fault,
    // so it is worth pointing out; full duplex is the unremarkable case.
    if !link.full_duplex {
        text.push_str(" half-duplex");
    }
    text
}

/// Uptime as "2d 3h 4m 5s", leaving out leading zero units.
fn format_uptime(secs: f64) -> String {
    if !secs.is_finite() || secs < 0.0 {
        return "unknown".to_owned();
    }
    // `as` saturates for out-of-range floats, so this cannot panic.
    let total = secs as u64;
    let (d, h, m, s) = (
        total / 86_400,
        total % 86_400 / 3_600,
        total % 3_600 / 60,
        total % 60,
    );
    if d > 0 {
        format!("{d}d {h}h {m}m {s}s")
    } else if h > 0 {
        format!("{h}h {m}m {s}s")
    } else if m > 0 {
        format!("{m}m {s}s")
    } else {
        format!("{s}s")
    }
}

/// Renders the answer to `status`: versions and uptime, then the ports and
/// the workers with the queues each one polls.
pub fn render_status(info: &StatusInfo) -> String {
    let mut out = format!(
        "version:      {}\n\
         dpdk version: {}\n\
         api version:  {}\n\
         role:         {}\n\
         uptime:       {}\n\
         generation:   {}\n",
        info.version,
        info.dpdk_version,
        info.api_version,
        info.role,
        format_uptime(info.uptime_secs),
        info.generation
    );

    out.push_str("\nports:\n");
    if info.ports.is_empty() {
        out.push_str("(no ports)\n");
    } else {
        let mut ports = table(
            &["name", "id", "role", "driver", "rxq", "txq", "rss", "link"],
            &[1, 4, 5],
        );
        for p in &info.ports {
            ports.add_row(vec![
                p.name.clone(),
                p.port_id.to_string(),
                p.role.clone(),
                p.driver.clone(),
                p.rx_queues.to_string(),
                p.tx_queues.to_string(),
                if p.rss { "on" } else { "off" }.to_owned(),
                if p.link_up { "up" } else { "down" }.to_owned(),
            ]);
        }
        out.push_str(&ports.to_string());
        out.push('\n');
    }

    out.push_str("\nworkers:\n");
    if info.workers.is_empty() {
        out.push_str("(no workers)");
    } else {
        let mut workers = table(&["id", "lcore", "rx queues"], &[0, 1]);
        for w in &info.workers {
            let queues = if w.rx_queues.is_empty() {
                // A worker with nothing to poll is legal but idle; say so
                // rather than leave a blank cell that looks like a glitch.
                "-".to_owned()
            } else {
                w.rx_queues
                    .iter()
                    .map(|(port, q)| format!("{port}:{q}"))
                    .collect::<Vec<_>>()
                    .join(", ")
            };
            workers.add_row(vec![w.id.to_string(), w.lcore.to_string(), queues]);
        }
        out.push_str(&workers.to_string());
    }
    out
}

/// Renders the answer to `ports`: link state, the switch's counters and the
/// device's error counters per port, then the drop reasons of every port
/// that dropped anything.
pub fn render_ports(ports: &[PortInfo]) -> String {
    if ports.is_empty() {
        return "(no ports)".to_owned();
    }
    let mut t = table(
        &[
            "name",
            "role",
            "link",
            "rx pkts",
            "rx bytes",
            "tx pkts",
            "tx bytes",
            "drops",
            "imissed",
            "ierrors",
            "oerrors",
            "rx nombuf",
        ],
        &[3, 4, 5, 6, 7, 8, 9, 10, 11],
    );
    for p in ports {
        let c = &p.counters;
        let d = &p.device;
        t.add_row(vec![
            p.name.clone(),
            p.role.clone(),
            format_link(&p.link),
            c.rx_packets.to_string(),
            c.rx_bytes.to_string(),
            c.tx_packets.to_string(),
            c.tx_bytes.to_string(),
            drop_total(c).to_string(),
            d.imissed.to_string(),
            d.ierrors.to_string(),
            d.oerrors.to_string(),
            d.rx_nombuf.to_string(),
        ]);
    }
    let mut out = t.to_string();
    for p in ports.iter().filter(|p| drop_total(&p.counters) != 0) {
        out.push_str(&format!(
            "\ndrops on {}: {}",
            p.name,
            drop_reasons(&p.counters)
        ));
    }
    out
}

/// Renders the answer to `stats`: totals, snapshot and mempool state, then
/// one row per worker.
pub fn render_stats(info: &StatsInfo) -> String {
    let t = &info.total;
    let drops = drop_total(t);
    let reasons = if drops == 0 {
        String::new()
    } else {
        format!(" ({})", drop_reasons(t))
    };
    let mut out = format!(
        "rx:             {} packets, {} bytes\n\
         tx:             {} packets, {} bytes\n\
         drops:          {drops}{reasons}\n\
         snapshot swaps: {}\n\
         mempool:        {} free, {} in use\n",
        t.rx_packets,
        t.rx_bytes,
        t.tx_packets,
        t.tx_bytes,
        info.snapshot_swaps,
        info.mempool_free,
        info.mempool_in_use
    );

    out.push_str("\nworkers:\n");
    if info.workers.is_empty() {
        out.push_str("(no workers)");
        return out;
    }
    let mut workers = table(
        &[
            "id",
            "lcore",
            "busy loops",
            "idle loops",
            "sleeps",
            "rx pkts",
            "tx pkts",
            "drops",
        ],
        &[0, 1, 2, 3, 4, 5, 6, 7],
    );
    for w in &info.workers {
        workers.add_row(worker_row(w));
    }
    out.push_str(&workers.to_string());
    out
}

fn worker_row(w: &WorkerStats) -> Vec<String> {
    vec![
        w.id.to_string(),
        w.lcore.to_string(),
        w.busy_loops.to_string(),
        w.idle_loops.to_string(),
        w.sleeps.to_string(),
        w.counters.rx_packets.to_string(),
        w.counters.tx_packets.to_string(),
        drop_total(&w.counters).to_string(),
    ]
}

/// Renders the patch table now in force, with the generation of the
/// snapshot that carries it so the operator can tell whether a change
/// was published.
pub fn render_patches(generation: u64, patches: &[PatchEntry]) -> String {
    let mut out = format!("generation {generation}\n");
    if patches.is_empty() {
        out.push_str("(no patches)");
        return out;
    }
    let mut t = table(&["from", "", "to"], &[]);
    for p in patches {
        t.add_row(vec![p.from.as_str(), "->", p.to.as_str()]);
    }
    out.push_str(&t.to_string());
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;
    use vswitch_api::{DeviceCounters, PortSummary, WorkerSummary};

    fn counters(rx: u64, tx: u64, drops: &[(&str, u64)]) -> PortCounters {
        PortCounters {
            rx_packets: rx,
            rx_bytes: rx * 100,
            tx_packets: tx,
            tx_bytes: tx * 100,
            drops: drops
                .iter()
                .map(|(r, n)| (r.to_string(), *n))
                .collect::<BTreeMap<_, _>>(),
        }
    }

    #[test]
    fn status_shows_header_ports_and_workers() {
        let info = StatusInfo {
            version: "0.1.0".into(),
            dpdk_version: "DPDK 23.11.0".into(),
            api_version: 1,
            role: "sled".into(),
            uptime_secs: 93_784.5,
            generation: 7,
            ports: vec![PortSummary {
                name: "uplink0".into(),
                port_id: 3,
                role: "uplink".into(),
                driver: "net_mlx5".into(),
                rx_queues: 4,
                tx_queues: 5,
                rss: true,
                link_up: true,
            }],
            workers: vec![
                WorkerSummary {
                    id: 0,
                    lcore: 12,
                    rx_queues: vec![("uplink0".into(), 0), ("vm1".into(), 1)],
                },
                WorkerSummary {
                    id: 1,
                    lcore: 13,
                    rx_queues: vec![],
                },
            ],
        };
        let text = render(&Reply::Status(info));
        for needle in [
            "0.1.0",
            "DPDK 23.11.0",
            "api version:  1",
            "sled",
            "1d 2h 3m 4s",
            "generation:   7",
            "uplink0",
            "net_mlx5",
            "uplink0:0, vm1:1",
            "12",
            "13",
        ] {
            assert!(text.contains(needle), "missing {needle:?} in\n{text}");
        }
    }

    #[test]
    fn ports_show_counters_and_drop_reasons() {
        let ports = vec![
            PortInfo {
                name: "a".into(),
                port_id: 0,
                role: "guest".into(),
                devargs: "net_tap0".into(),
                mac: "02:00:00:00:00:01".into(),
                link: LinkInfo {
                    up: true,
                    speed_mbps: 10_000,
                    full_duplex: true,
                },
                counters: counters(1234, 567, &[("no-patch", 5), ("tx-full", 2), ("ttl", 0)]),
                device: DeviceCounters {
                    imissed: 42,
                    ierrors: 43,
                    oerrors: 44,
                    rx_nombuf: 45,
                    ..DeviceCounters::default()
                },
            },
            PortInfo {
                name: "b".into(),
                port_id: 1,
                role: "uplink".into(),
                devargs: String::new(),
                mac: String::new(),
                link: LinkInfo {
                    up: false,
                    speed_mbps: 0,
                    full_duplex: true,
                },
                counters: counters(0, 0, &[("no-patch", 0)]),
                device: DeviceCounters::default(),
            },
        ];
        let text = render(&Reply::Ports { ports });
        for needle in [
            "up 10 Gb/s",
            "down",
            "1234",
            "123400",
            "567",
            "56700",
            "42",
            "43",
            "44",
            "45",
            "drops on a: no-patch 5, tx-full 2",
        ] {
            assert!(text.contains(needle), "missing {needle:?} in\n{text}");
        }
        // The sum of a's drops appears as its own cell.
        assert!(text.contains(" 7 "), "missing drop total in\n{text}");
        // Zero reasons and ports without drops are not listed.
        assert!(!text.contains("ttl"), "{text}");
        assert!(!text.contains("drops on b"), "{text}");
    }

    #[test]
    fn stats_show_totals_and_workers() {
        let info = StatsInfo {
            total: counters(1000, 900, &[("no-patch", 3)]),
            workers: vec![WorkerStats {
                id: 2,
                lcore: 9,
                busy_loops: 31_337,
                idle_loops: 271_828,
                sleeps: 161,
                counters: counters(555, 444, &[("no-patch", 3)]),
            }],
            snapshot_swaps: 17,
            mempool_free: 8000,
            mempool_in_use: 191,
        };
        let text = render(&Reply::Stats(info));
        for needle in [
            "1000 packets, 100000 bytes",
            "900 packets, 90000 bytes",
            "drops:          3 (no-patch 3)",
            "snapshot swaps: 17",
            "8000 free, 191 in use",
            "31337",
            "271828",
            "161",
            "555",
            "444",
        ] {
            assert!(text.contains(needle), "missing {needle:?} in\n{text}");
        }
    }

    #[test]
    fn patches_show_generation_and_entries() {
        let text = render(&Reply::Patches {
            generation: 9,
            patches: vec![
                PatchEntry {
                    from: "vm1".into(),
                    to: "uplink0".into(),
                },
                PatchEntry {
                    from: "uplink0".into(),
                    to: "vm1".into(),
                },
            ],
        });
        assert!(text.starts_with("generation 9"), "{text}");
        assert!(text.contains("vm1"), "{text}");
        assert!(text.contains("uplink0"), "{text}");
        assert_eq!(text.matches("->").count(), 2, "{text}");

        let empty = render_patches(10, &[]);
        assert_eq!(empty, "generation 10\n(no patches)");
    }

    #[test]
    fn shutdown_message() {
        assert_eq!(render(&Reply::ShuttingDown), "vswitch is shutting down");
    }

    #[test]
    fn helpers_handle_edge_values() {
        assert_eq!(format_uptime(0.4), "0s");
        assert_eq!(format_uptime(125.0), "2m 5s");
        assert_eq!(format_uptime(f64::NAN), "unknown");
        assert_eq!(format_uptime(-1.0), "unknown");
        let link = |up, speed_mbps, full_duplex| LinkInfo {
            up,
            speed_mbps,
            full_duplex,
        };
        assert_eq!(format_link(&link(true, 0, true)), "up");
        assert_eq!(
            format_link(&link(true, 100, false)),
            "up 100 Mb/s half-duplex"
        );
        assert_eq!(format_link(&link(true, 2500, true)), "up 2500 Mb/s");
        let huge = counters(0, 0, &[("x", u64::MAX), ("y", 1)]);
        assert_eq!(drop_total(&huge), u64::MAX);
    }
}
