//! Human-readable rendering of the appliance's replies.
//!
//! Counters are printed as exact integers rather than scaled ("1.2M") so an
//! operator comparing two runs sees every packet; scripts should use
//! `--json` instead of parsing these tables.

use std::net::{IpAddr, SocketAddr};

use comfy_table::{presets::UTF8_FULL_CONDENSED, CellAlignment, Table};
use vswitch_api::{
    BoundaryMapInfo, Command, ExternalIpsSpec, FlowInfo, IgwInfo, LayersInfo, LinkInfo, PatchEntry,
    PoolInfo, PortCounters, PortInfo, Reply, StatsInfo, StatusInfo, V2bEntry, V2pEntry, VnicInfo,
    WorkerStats,
};

/// Renders the reply to `command`. Only `flows-clear` needs the command:
/// its reply has the shape of the reply to `flows`, but what the operator
/// asked about is how many flows went away.
pub fn render_answer(command: &Command, reply: &Reply) -> String {
    match (command, reply) {
        (Command::FlowsClear { .. }, Reply::Flows { cleared, .. }) => {
            format!("cleared {cleared} flows")
        }
        _ => render(reply),
    }
}

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
        Reply::Applied { generation } => format!("ok (generation {generation})"),
        Reply::Vnics { vnics } => render_vnics(vnics),
        Reply::Instances {
            instance_types,
            instances,
        } => crate::render_nics::render_instances(instance_types, instances),
        Reply::Nics { nics } => crate::render_nics::render_nics(nics),
        Reply::V2p { entries } => render_v2p(entries),
        Reply::Layers(info) => render_layers(info),
        Reply::FlowExport(x) => render_flow_export(x),
        Reply::FlowImport(r) => render_flow_import(r),
        Reply::Flows { flows, next, .. } => {
            let mut text = render_flows(flows);
            if let Some(n) = next {
                text.push_str(&format!("\nmore: --from {n}"));
            }
            text
        }
        Reply::Updated {
            generation,
            updated_ports,
        } => render_updated(*generation, updated_ports),
        Reply::Pools { pools } => render_pools(pools),
        Reply::Igws { igws } => render_igws(igws),
        Reply::Externals { externals } => render_externals(externals),
        Reply::V2b { entries } => render_v2b(entries),
        Reply::BoundaryMap(info) => render_boundary_map(info),
        Reply::State { state, .. } => serde_json::to_string_pretty(state)
            .unwrap_or_else(|e| format!("cannot print the state: {e}")),
        Reply::Plan {
            applied,
            generation,
            diff,
            updated_ports,
        } => render_plan(*applied, *generation, diff, updated_ports),
    }
}

/// Renders the answer to `apply`: the objects added (`+`), changed (`~`)
/// and removed (`-`), the VNICs whose epoch moves, and what became of it.
pub fn render_plan(
    applied: bool,
    generation: u64,
    diff: &vswitch_api::state::StateDiff,
    ports: &[String],
) -> String {
    let mut out = Vec::new();
    for (mark, list) in [
        ("+", &diff.added),
        ("~", &diff.changed),
        ("-", &diff.removed),
    ] {
        out.extend(list.iter().map(|o| format!("{mark} {o}")));
    }
    if out.is_empty() {
        out.push("no change".to_owned());
    }
    out.push(format!("epochs move: {}", list_or_dash(ports)));
    out.push(if applied {
        format!("applied as generation {generation}")
    } else {
        format!("not applied (generation {generation} stays in force)")
    });
    out.join("\n")
}

/// A table with the common style; the columns listed in `numeric` are
/// right-aligned so digits of equal weight line up.
pub(crate) fn table(header: &[&str], numeric: &[usize]) -> Table {
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
    if let Some(f) = &info.fleet {
        out.push_str(&format!(
            "fleet:        sled {} etcd {} {}; revision {} in force, {} seen; {} update(s), {} refused, {} full read(s)\n",
            f.sled,
            f.etcd.join(","),
            match f.disconnected_secs {
                Some(t) => format!("unreachable for {t:.0} s"),
                None => "connected".to_string(),
            },
            f.revision_applied,
            f.revision_seen,
            f.updates,
            f.refused,
            f.resyncs
        ));
        if f.migrations_in + f.migration_flows_exported > 0 {
            out.push_str(&format!(
                "migrations:   {} in; flows {} exported, {} imported\n",
                f.migrations_in, f.migration_flows_exported, f.migration_flows_imported
            ));
        }
        if let Some(e) = &f.last_error {
            out.push_str(&format!("fleet error:  {e}\n"));
        }
    }

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
            "flow hits",
            "slow path",
            "gateway replies",
            "drops",
            "imissed",
            "ierrors",
            "oerrors",
            "rx nombuf",
        ],
        &[3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14],
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
            c.fast_path.to_string(),
            c.slow_path.to_string(),
            c.hairpin.to_string(),
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

/// The last change's timing: from its arrival to its publication, and to
/// the first packet a worker processed under it (when one has).
fn last_change(p: &vswitch_api::PublicationInfo, workers: &[WorkerStats]) -> String {
    let us = |ns: u64| ns.saturating_sub(p.received_ns) as f64 / 1e3;
    let first = workers
        .iter()
        .filter(|w| w.generation_seen >= p.generation && w.generation_seen_ns >= p.received_ns)
        .map(|w| w.generation_seen_ns)
        .min();
    let mut s = format!(
        "last change:    generation {}, published {:.0} us after it arrived, answered after {:.0} us",
        p.generation,
        us(p.published_ns),
        us(p.answered_ns)
    );
    if let Some(f) = first {
        s.push_str(&format!(", first packet under it after {:.0} us", us(f)));
    }
    s.push('\n');
    s
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
    let (flows, expired) = info.workers.iter().fold((0u64, 0u64), |(f, e), w| {
        (f.saturating_add(w.flows), e.saturating_add(w.flows_expired))
    });
    let mut evicted: std::collections::BTreeMap<&str, u64> = Default::default();
    for w in &info.workers {
        for (class, n) in &w.flows_evicted {
            *evicted.entry(class).or_default() += n;
        }
    }
    let evicted_total: u64 = evicted.values().sum();
    let evicted = if evicted_total == 0 {
        String::new()
    } else {
        let by: Vec<String> = evicted
            .iter()
            .filter(|(_, n)| **n > 0)
            .map(|(c, n)| format!("{c} {n}"))
            .collect();
        format!(", {evicted_total} evicted ({})", by.join(", "))
    };
    let mut out = format!(
        "rx:             {} packets, {} bytes\n\
         tx:             {} packets, {} bytes\n\
         drops:          {drops}{reasons}\n\
         handled:        {} flow hits, {} slow path, {} gateway replies\n\
         flows:          {flows} in tables, {expired} expired{evicted}\n\
         snapshot swaps: {}\n\
         mempool:        {} free, {} in use\n",
        t.rx_packets,
        t.rx_bytes,
        t.tx_packets,
        t.tx_bytes,
        t.fast_path,
        t.slow_path,
        t.hairpin,
        info.snapshot_swaps,
        info.mempool_free,
        info.mempool_in_use
    );
    if let Some(p) = &info.publication {
        out.push_str(&last_change(p, &info.workers));
    }

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
            "cycles/pkt",
            "idle loops",
            "sleeps",
            "rx pkts",
            "tx pkts",
            "drops",
            "flows",
            "flows expired",
            "flows evicted",
            "snat ports",
            "nat replies",
            "handoff out",
            "handoff in",
        ],
        &[0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15],
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
        if w.busy_packets == 0 {
            "-".to_string()
        } else {
            format!("{:.0}", w.busy_cycles as f64 / w.busy_packets as f64)
        },
        w.idle_loops.to_string(),
        w.sleeps.to_string(),
        w.counters.rx_packets.to_string(),
        w.counters.tx_packets.to_string(),
        drop_total(&w.counters).to_string(),
        w.flows.to_string(),
        w.flows_expired.to_string(),
        w.flows_evicted.values().sum::<u64>().to_string(),
        w.snat_ports.to_string(),
        w.nat_reverse.to_string(),
        w.handoff_out.to_string(),
        w.handoff_in.to_string(),
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

/// An optional value as its text, or "-" when absent.
fn or_dash<T: ToString>(value: Option<T>) -> String {
    value.map_or_else(|| "-".to_owned(), |v| v.to_string())
}

/// Renders the answer to `vnic-list`.
pub fn render_vnics(vnics: &[VnicInfo]) -> String {
    if vnics.is_empty() {
        return "(no vnics)".to_owned();
    }
    let mut t = table(
        &[
            "port",
            "id",
            "vni",
            "mac",
            "ipv4",
            "ipv6",
            "epoch",
            "routes",
            "fw rules",
            "flow quota",
        ],
        &[1, 2, 6, 7, 8, 9],
    );
    for v in vnics {
        t.add_row(vec![
            v.port.clone(),
            v.id.to_string(),
            v.vni.to_string(),
            v.mac.clone(),
            or_dash(v.ipv4),
            or_dash(v.ipv6),
            v.epoch.to_string(),
            v.routes.to_string(),
            v.firewall_rules.to_string(),
            v.flow_quota.to_string(),
        ]);
    }
    t.to_string()
}

/// Renders the answer to `v2p-list`.
pub fn render_v2p(entries: &[V2pEntry]) -> String {
    if entries.is_empty() {
        return "(no v2p mappings)".to_owned();
    }
    let mut t = table(&["vni", "ip", "mac", "underlay"], &[0]);
    for e in entries {
        t.add_row(vec![
            e.vni.to_string(),
            e.ip.to_string(),
            e.mac.to_string(),
            e.underlay.to_string(),
        ]);
    }
    t.to_string()
}

/// Renders the answer to `layers`: per layer, in pipeline order, a heading
/// with its defaults and then its rules with their hit counts.
pub fn render_layers(info: &LayersInfo) -> String {
    let mut out = format!("port {} (epoch {})", info.port, info.epoch);
    if info.layers.is_empty() {
        out.push_str("\n(no layers)");
        return out;
    }
    for layer in &info.layers {
        out.push_str(&format!(
            "\n\nlayer {} (default out: {}, in: {})\n",
            layer.name, layer.default_out, layer.default_in
        ));
        if layer.rules.is_empty() {
            out.push_str("(no rules)");
            continue;
        }
        let mut t = table(
            &["direction", "priority", "predicates", "action", "hits"],
            &[1, 4],
        );
        for r in &layer.rules {
            t.add_row(vec![
                r.direction.clone(),
                r.priority.to_string(),
                if r.predicates.is_empty() {
                    "(any)".to_owned()
                } else {
                    r.predicates.clone()
                },
                match &r.state {
                    Some(st) => format!("{} [{st}]", r.action),
                    None => r.action.clone(),
                },
                r.hits.to_string(),
            ]);
        }
        out.push_str(&t.to_string());
    }
    out
}

/// Renders the answer to a gateway, pool, external-IP or V2B change: the
/// generation and the ports whose epoch moved.
pub fn render_updated(generation: u64, ports: &[String]) -> String {
    if ports.is_empty() {
        format!("ok (generation {generation}); no port updated")
    } else {
        format!(
            "ok (generation {generation}); updated ports: {}",
            ports.join(", ")
        )
    }
}

/// Items joined by ", ", or "-" when there are none.
fn list_or_dash<T: ToString>(items: &[T]) -> String {
    if items.is_empty() {
        "-".to_owned()
    } else {
        items
            .iter()
            .map(|i| i.to_string())
            .collect::<Vec<_>>()
            .join(", ")
    }
}

/// Renders the answer to `pool-list`.
pub fn render_pools(pools: &[PoolInfo]) -> String {
    if pools.is_empty() {
        return "(no pools)".to_owned();
    }
    let mut t = table(&["pool", "ranges", "igws", "ports"], &[]);
    for p in pools {
        t.add_row(vec![
            p.name.clone(),
            list_or_dash(&p.ranges),
            list_or_dash(&p.igws),
            list_or_dash(&p.ports),
        ]);
    }
    t.to_string()
}

/// Renders the answer to `igw-list`.
pub fn render_igws(igws: &[IgwInfo]) -> String {
    if igws.is_empty() {
        return "(no internet gateways)".to_owned();
    }
    let mut t = table(&["id", "name", "sources", "ports routing through it"], &[0]);
    for g in igws {
        t.add_row(vec![
            g.id.to_string(),
            if g.name.is_empty() {
                "-".to_owned()
            } else {
                g.name.clone()
            },
            list_or_dash(&g.sources),
            list_or_dash(&g.ports),
        ]);
    }
    t.to_string()
}

/// Renders the answer to `external-list`: one row per VNIC.
pub fn render_externals(externals: &[ExternalIpsSpec]) -> String {
    if externals.is_empty() {
        return "(no vnics)".to_owned();
    }
    let mut t = table(&["port", "floating", "ephemeral", "snat", "igw map"], &[]);
    for e in externals {
        let map = match &e.igw_map {
            None => "- (system only)".to_owned(),
            Some(m) if m.is_empty() => "(empty: system only)".to_owned(),
            Some(m) => m
                .iter()
                .map(|(ip, gws)| format!("{ip} -> {}", list_or_dash(gws)))
                .collect::<Vec<_>>()
                .join("; "),
        };
        t.add_row(vec![
            e.port.clone(),
            list_or_dash(&e.floating),
            or_dash(e.ephemeral),
            or_dash(
                e.snat
                    .map(|s| format!("{} ports {}-{}", s.ip, s.first_port, s.last_port)),
            ),
            map,
        ]);
    }
    t.to_string()
}

/// Renders the answer to `v2b-list`.
pub fn render_v2b(entries: &[V2bEntry]) -> String {
    if entries.is_empty() {
        return "(no v2b entries)".to_owned();
    }
    let mut t = table(&["prefix", "boundary endpoints"], &[]);
    for e in entries {
        t.add_row(vec![e.prefix.to_string(), list_or_dash(&e.endpoints)]);
    }
    t.to_string()
}

/// Renders the answer to `boundary-map-list`: the external port, then the map.
pub fn render_boundary_map(info: &BoundaryMapInfo) -> String {
    let mut out = match &info.external {
        Some(x) => format!(
            "external port {} (mac {}, next hop {}, address {})",
            x.port,
            x.mac,
            x.nexthop_mac,
            x.addr.map_or_else(|| "-".to_owned(), |a| a.to_string())
        ),
        None => "(no external port)".to_owned(),
    };
    out.push('\n');
    if info.entries.is_empty() {
        out.push_str("(no boundary map entries)");
    } else {
        let mut t = table(&["external ip", "ports", "sled"], &[]);
        for e in &info.entries {
            let ports = e.ports.map_or_else(|| "all".to_owned(), |p| p.to_string());
            t.add_row(vec![e.ip.to_string(), ports, e.sled.to_string()]);
        }
        out.push_str(&t.to_string());
    }
    if !info.bridge_links.is_empty() {
        let mut t = table(&["bridge link", "network", "next hop", "address"], &[]);
        for l in &info.bridge_links {
            t.add_row(vec![
                l.port.clone(),
                l.cidr.to_string(),
                l.nexthop_mac.to_string(),
                l.addr.map_or_else(|| "-".to_owned(), |a| a.to_string()),
            ]);
        }
        out.push('\n');
        out.push_str(&t.to_string());
    }
    if !info.static_nat.is_empty() {
        let mut t = table(&["static nat external", "bridge"], &[]);
        for s in &info.static_nat {
            t.add_row(vec![s.external.to_string(), s.bridge.to_string()]);
        }
        out.push('\n');
        out.push_str(&t.to_string());
    }
    out
}

/// An IP protocol number by name where it has a common one.
fn proto_name(proto: u8) -> String {
    match proto {
        1 => "icmp".to_owned(),
        6 => "tcp".to_owned(),
        17 => "udp".to_owned(),
        58 => "icmp6".to_owned(),
        n => n.to_string(),
    }
}

/// An endpoint as "10.0.0.1:80" or "[fd00::1]:80".
fn endpoint(ip: IpAddr, port: u16) -> String {
    SocketAddr::new(ip, port).to_string()
}

/// Seconds with one decimal; "-" for a value no clock could produce.
fn format_idle(secs: f64) -> String {
    if secs.is_finite() && secs >= 0.0 {
        format!("{secs:.1}")
    } else {
        "-".to_owned()
    }
}

/// Renders the answer to `flows`: one row per flow-table entry.
pub fn render_flows(flows: &[FlowInfo]) -> String {
    if flows.is_empty() {
        return "(no flows)".to_owned();
    }
    let mut t = table(
        &[
            "worker",
            "port",
            "proto",
            "src:sport",
            "dst:dport",
            "realm",
            "origin",
            "allowed",
            "out",
            "in",
            "tcp state",
            "class",
            "hits",
            "idle s",
        ],
        &[0, 12, 13],
    );
    for f in flows {
        t.add_row(vec![
            f.worker.to_string(),
            f.port.clone(),
            proto_name(f.proto),
            endpoint(f.src, f.src_port),
            endpoint(f.dst, f.dst_port),
            f.realm.clone(),
            f.origin.clone(),
            if f.allowed { "yes" } else { "no" }.to_owned(),
            or_dash(f.out.as_deref()),
            or_dash(f.inb.as_deref()),
            or_dash(f.tcp_state.as_deref()),
            f.class.clone(),
            f.hits.to_string(),
            format_idle(f.idle_secs),
        ]);
    }
    t.to_string()
}

/// A flow export, in short (`--json` gives the export itself).
fn render_flow_export(x: &vswitch_api::migration::FlowExport) -> String {
    let nat = x.flows.iter().filter(|f| f.nat.is_some()).count();
    let tcp = x.flows.iter().filter(|f| f.tcp.is_some()).count();
    format!(
        "NIC {}: {} flows ({} TCP, {} with a NAT binding), from a switch of {} workers; export version {} (use --json to write it for flows-import)",
        x.nic,
        x.flows.len(),
        tcp,
        nat,
        x.workers,
        x.version
    )
}

/// What an import did.
fn render_flow_import(r: &vswitch_api::migration::FlowImportReport) -> String {
    let mut text = format!("{} flows imported", r.imported);
    for (why, n) in &r.refused {
        text.push_str(&format!("\n{n} refused: {why}"));
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;
    use vswitch_api::{
        BoundaryMapEntry, DeviceCounters, ExternalPortInfo, LayerInfo, PortSummary, RuleInfo,
        WorkerSummary,
    };

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
            ..PortCounters::default()
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
            fleet: Some(vswitch_api::FleetStatus {
                sled: "sled-1".into(),
                etcd: vec!["http://127.0.0.1:2379".into()],
                revision_applied: 41,
                revision_seen: 42,
                disconnected_secs: Some(3.0),
                ..Default::default()
            }),
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
            "sled sled-1 etcd http://127.0.0.1:2379 unreachable for 3 s; revision 41 in force, 42 seen",
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
                counters: PortCounters {
                    fast_path: 9001,
                    slow_path: 9002,
                    hairpin: 9003,
                    ..counters(1234, 567, &[("no-patch", 5), ("tx-full", 2), ("ttl", 0)])
                },
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
            "flow hits",
            "slow path",
            "gateway replies",
            "9001",
            "9002",
            "9003",
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
            total: PortCounters {
                fast_path: 700,
                slow_path: 80,
                hairpin: 6,
                ..counters(1000, 900, &[("no-patch", 3)])
            },
            workers: vec![
                WorkerStats {
                    id: 2,
                    lcore: 9,
                    busy_loops: 31_337,
                    busy_cycles: 555 * 250,
                    busy_packets: 555,
                    idle_loops: 271_828,
                    sleeps: 161,
                    counters: counters(555, 444, &[("no-patch", 3)]),
                    flows: 4242,
                    flows_expired: 5353,
                    snat_ports: 0,
                    snat_allocated: 0,
                    snat_exhausted: 0,
                    flows_evicted: BTreeMap::new(),
                    nat_reverse: 0,
                    handoff_out: 0,
                    handoff_in: 0,
                    generation_seen: 0,
                    generation_seen_ns: 0,
                },
                WorkerStats {
                    id: 3,
                    lcore: 10,
                    busy_loops: 0,
                    busy_cycles: 0,
                    busy_packets: 0,
                    idle_loops: 0,
                    sleeps: 0,
                    counters: PortCounters::default(),
                    flows: 8,
                    flows_expired: 7,
                    snat_ports: 0,
                    snat_allocated: 0,
                    snat_exhausted: 0,
                    flows_evicted: BTreeMap::new(),
                    nat_reverse: 0,
                    handoff_out: 0,
                    handoff_in: 0,
                    generation_seen: 0,
                    generation_seen_ns: 0,
                },
            ],
            snapshot_swaps: 17,
            mempool_free: 8000,
            mempool_in_use: 191,
            publication: Some(vswitch_api::PublicationInfo {
                generation: 17,
                received_ns: 1_000_000,
                published_ns: 1_150_000,
                answered_ns: 1_200_000,
            }),
        };
        let text = render(&Reply::Stats(info));
        for needle in [
            "1000 packets, 100000 bytes",
            "900 packets, 90000 bytes",
            "drops:          3 (no-patch 3)",
            "snapshot swaps: 17",
            "last change:    generation 17, published 150 us after it arrived, answered after 200 us\n",
            "handled:        700 flow hits, 80 slow path, 6 gateway replies",
            "flows:          4250 in tables, 5360 expired",
            "flows expired",
            "4242",
            "5353",
            "8000 free, 191 in use",
            "31337",
            "271828",
            "161",
            "555",
            "444",
            "cycles/pkt",
            " 250 ",
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

    #[test]
    fn applied_shows_the_generation() {
        assert_eq!(
            render(&Reply::Applied { generation: 12 }),
            "ok (generation 12)"
        );
    }

    #[test]
    fn updates_show_the_ports_they_moved() {
        assert_eq!(
            render(&Reply::Updated {
                generation: 9,
                updated_ports: vec!["vm1".into(), "vm3".into()]
            }),
            "ok (generation 9); updated ports: vm1, vm3"
        );
        assert_eq!(
            render(&Reply::Updated {
                generation: 10,
                updated_ports: vec![]
            }),
            "ok (generation 10); no port updated"
        );
    }

    #[test]
    fn pools_gateways_externals_and_v2b_show_their_rows() {
        let text = render(&Reply::Pools {
            pools: vec![PoolInfo {
                name: "ext".into(),
                ranges: vec!["192.168.0.0-192.168.0.255".into(), "fd00::7".into()],
                igws: vec![1, 4],
                ports: vec!["vm1".into()],
            }],
        });
        for needle in ["ext", "192.168.0.0-192.168.0.255, fd00::7", "1, 4", "vm1"] {
            assert!(text.contains(needle), "missing {needle:?} in\n{text}");
        }
        assert_eq!(render_pools(&[]), "(no pools)");
        let text = render(&Reply::Igws {
            igws: vec![
                IgwInfo {
                    id: 4,
                    name: "d".into(),
                    sources: vec!["pool:ext".into(), "range:10.0.0.1-10.0.0.9".into()],
                    ports: vec!["vm1".into(), "vm2".into()],
                },
                IgwInfo {
                    id: 3,
                    name: String::new(),
                    sources: vec![],
                    ports: vec![],
                },
            ],
        });
        for needle in [
            "pool:ext, range:10.0.0.1-10.0.0.9",
            "vm1, vm2",
            " d ",
            " - ",
        ] {
            assert!(text.contains(needle), "missing {needle:?} in\n{text}");
        }
        assert_eq!(render_igws(&[]), "(no internet gateways)");
        let ip = |s: &str| s.parse::<IpAddr>().unwrap();
        let text = render(&Reply::Externals {
            externals: vec![
                ExternalIpsSpec {
                    port: "vm1".into(),
                    floating: vec![ip("192.168.0.2"), ip("192.168.0.3")],
                    ephemeral: Some(ip("192.168.0.1")),
                    snat: Some(vswitch_api::SnatRange {
                        ip: ip("10.77.77.13"),
                        first_port: 1025,
                        last_port: 4096,
                    }),
                    igw_map: Some(BTreeMap::from([(
                        ip("192.168.0.1"),
                        vec![
                            vswitch_api::GatewayRef::Named("system".into()),
                            vswitch_api::GatewayRef::Id(4),
                        ],
                    )])),
                },
                ExternalIpsSpec {
                    port: "vm2".into(),
                    floating: vec![],
                    ephemeral: None,
                    snat: None,
                    igw_map: None,
                },
            ],
        });
        for needle in [
            "192.168.0.2, 192.168.0.3",
            "10.77.77.13 ports 1025-4096",
            "192.168.0.1 -> system, 4",
            "system only",
            "vm2",
        ] {
            assert!(text.contains(needle), "missing {needle:?} in\n{text}");
        }
        let text = render(&Reply::V2b {
            entries: vec![V2bEntry {
                prefix: "0.0.0.0/0".parse().unwrap(),
                endpoints: vec!["fd00:99::1".parse().unwrap(), "fd00:99::2".parse().unwrap()],
            }],
        });
        assert!(text.contains("fd00:99::1, fd00:99::2"), "{text}");
        assert_eq!(render_v2b(&[]), "(no v2b entries)");
    }

    #[test]
    fn boundary_map_shows_the_port_and_entries() {
        let text = render(&Reply::BoundaryMap(BoundaryMapInfo {
            external: Some(ExternalPortInfo {
                port: "ext0".into(),
                mac: "02:00:00:00:00:e0".into(),
                nexthop_mac: "02:00:00:00:00:e1".into(),
                addr: Some("192.0.2.1".parse().unwrap()),
            }),
            entries: vec![
                BoundaryMapEntry {
                    ip: "203.0.113.5".parse().unwrap(),
                    sled: "fd00:1701:d:101::1".parse().unwrap(),
                    ports: None,
                },
                BoundaryMapEntry {
                    ip: "198.51.100.13".parse().unwrap(),
                    sled: "fd00:1701:d:102::1".parse().unwrap(),
                    ports: Some("2048-3071".parse().unwrap()),
                },
            ],
            bridge_links: vec![vswitch_api::state::BridgeLinkState {
                port: "br0".into(),
                cidr: "100.0.1.0/24".parse().unwrap(),
                nexthop_mac: "02:00:00:00:00:b1".parse().unwrap(),
                addr: Some("100.0.1.2".parse().unwrap()),
            }],
            static_nat: vec![vswitch_api::state::StaticNatEntry {
                external: "162.3.124.5".parse().unwrap(),
                bridge: "100.0.1.4".parse().unwrap(),
            }],
        }));
        for needle in [
            "external port ext0 (mac 02:00:00:00:00:e0, next hop 02:00:00:00:00:e1, address 192.0.2.1)",
            "203.0.113.5",
            "fd00:1701:d:101::1",
            "2048-3071",
            "100.0.1.0/24",
            "162.3.124.5",
        ] {
            assert!(text.contains(needle), "missing {needle:?} in\n{text}");
        }
        let empty = render(&Reply::BoundaryMap(BoundaryMapInfo {
            external: None,
            entries: vec![],
            bridge_links: vec![],
            static_nat: vec![],
        }));
        assert_eq!(empty, "(no external port)\n(no boundary map entries)");
    }

    #[test]
    fn vnics_show_one_row_each() {
        let text = render(&Reply::Vnics {
            vnics: vec![
                VnicInfo {
                    port: "vm1".into(),
                    id: 7,
                    vni: 1234,
                    mac: "a8:40:25:00:00:07".into(),
                    ipv4: Some([172, 30, 0, 5].into()),
                    ipv6: Some("fd00::5".parse().unwrap()),
                    epoch: 31,
                    routes: 4,
                    firewall_rules: 9,
                    flow_quota: 100,
                },
                VnicInfo {
                    port: "vm2".into(),
                    id: 8,
                    vni: 5678,
                    mac: "a8:40:25:00:00:08".into(),
                    ipv4: None,
                    ipv6: None,
                    epoch: 1,
                    routes: 0,
                    firewall_rules: 0,
                    flow_quota: 100,
                },
            ],
        });
        for needle in [
            "port",
            "vni",
            "fw rules",
            "vm1",
            "1234",
            "a8:40:25:00:00:07",
            "172.30.0.5",
            "fd00::5",
            "31",
            "vm2",
            "5678",
            " - ",
        ] {
            assert!(text.contains(needle), "missing {needle:?} in\n{text}");
        }
        assert_eq!(render_vnics(&[]), "(no vnics)");
    }

    #[test]
    fn v2p_shows_the_mappings() {
        let text = render(&Reply::V2p {
            entries: vec![V2pEntry {
                vni: vswitch_api::Vni::try_from(99).unwrap(),
                ip: "172.30.0.9".parse().unwrap(),
                mac: "a8:40:25:00:00:09".parse().unwrap(),
                underlay: "fd00:99::2".parse().unwrap(),
            }],
        });
        for needle in [
            "underlay",
            "99",
            "172.30.0.9",
            "a8:40:25:00:00:09",
            "fd00:99::2",
        ] {
            assert!(text.contains(needle), "missing {needle:?} in\n{text}");
        }
        assert_eq!(render_v2p(&[]), "(no v2p mappings)");
    }

    #[test]
    fn layers_show_headings_and_rules() {
        let info = LayersInfo {
            port: "vm1".into(),
            epoch: 5,
            layers: vec![
                LayerInfo {
                    name: "firewall".into(),
                    default_out: "stateful allow".into(),
                    default_in: "deny".into(),
                    rules: vec![
                        RuleInfo {
                            direction: "in".into(),
                            priority: 100,
                            predicates: "proto tcp and dst port 22".into(),
                            action: "allow".into(),
                            hits: 77_001,
                            state: None,
                        },
                        RuleInfo {
                            direction: "out".into(),
                            priority: 65535,
                            predicates: String::new(),
                            action: "deny".into(),
                            hits: 0,
                            state: None,
                        },
                    ],
                },
                LayerInfo {
                    name: "nat".into(),
                    default_out: "allow".into(),
                    default_in: "allow".into(),
                    rules: vec![],
                },
            ],
        };
        let text = render(&Reply::Layers(info));
        for needle in [
            "port vm1 (epoch 5)",
            "layer firewall (default out: stateful allow, in: deny)\n",
            "direction",
            "predicates",
            "hits",
            "proto tcp and dst port 22",
            "77001",
            "65535",
            "(any)",
            "layer nat (default out: allow, in: allow)\n(no rules)",
        ] {
            assert!(text.contains(needle), "missing {needle:?} in\n{text}");
        }
        // The heading comes before its table.
        let heading = text.find("layer firewall").unwrap();
        assert!(heading < text.find("77001").unwrap(), "{text}");
        assert!(text.find("77001").unwrap() < text.find("layer nat").unwrap());
    }

    fn flow(proto: u8, src: &str, dst: &str) -> FlowInfo {
        FlowInfo {
            worker: 1,
            port: "vm1".into(),
            proto,
            src: src.parse().unwrap(),
            dst: dst.parse().unwrap(),
            src_port: 40_000,
            dst_port: 443,
            realm: "internet".into(),
            origin: "out".into(),
            allowed: true,
            out: Some("encap vni 1234 to fd00:99::2".into()),
            inb: None,
            epoch: 3,
            tcp_state: Some("established".into()),
            class: "established".into(),
            hits: 123_456,
            idle_secs: 2.5,
        }
    }

    #[test]
    fn flows_show_one_row_each() {
        let mut udp = flow(17, "fd00::5", "fd00::9");
        udp.worker = 0;
        udp.origin = "in".into();
        udp.allowed = false;
        udp.out = None;
        udp.inb = Some("decap".into());
        udp.tcp_state = None;
        let flows = vec![flow(6, "172.30.0.5", "93.184.216.34"), udp];
        let text = render(&Reply::Flows {
            next: None,
            flows: flows.clone(),
            cleared: 0,
        });
        for needle in [
            "src:sport",
            "dst:dport",
            "tcp state",
            "idle s",
            "tcp",
            "udp",
            "172.30.0.5:40000",
            "93.184.216.34:443",
            "[fd00::5]:40000",
            "[fd00::9]:443",
            "encap vni 1234 to fd00:99::2",
            "decap",
            "established",
            "yes",
            "no",
            "123456",
            "2.5",
        ] {
            assert!(text.contains(needle), "missing {needle:?} in\n{text}");
        }
        assert_eq!(render_flows(&[]), "(no flows)");

        // The same reply shape answers `flows-clear`, which reports the count.
        let cleared = Reply::Flows {
            next: None,
            flows: vec![],
            cleared: 42,
        };
        assert_eq!(
            render_answer(&Command::FlowsClear { port: None }, &cleared),
            "cleared 42 flows"
        );
        assert_eq!(
            render_answer(
                &Command::Flows {
                    port: None,
                    limit: None,
                    from: None
                },
                &Reply::Flows {
                    flows,
                    cleared: 0,
                    next: None
                }
            ),
            text
        );
        assert_eq!(
            render_answer(&Command::VnicList, &Reply::Applied { generation: 3 }),
            "ok (generation 3)"
        );
    }

    #[test]
    fn flow_helpers_handle_edge_values() {
        assert_eq!(proto_name(1), "icmp");
        assert_eq!(proto_name(58), "icmp6");
        assert_eq!(proto_name(47), "47");
        assert_eq!(format_idle(0.0), "0.0");
        assert_eq!(format_idle(f64::NAN), "-");
        assert_eq!(format_idle(-3.0), "-");
    }
}
