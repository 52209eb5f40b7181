//! Prometheus metrics over HTTP. Each scrape reads the same reports that
//! `vswitchctl` shows, so the two always agree.
//!
//! The endpoint is reachable by whatever can reach `metrics.listen`, so the
//! server is bounded: hyper's HTTP/1 server (on a current-thread tokio
//! runtime in the one metrics thread) caps the request head at 16 KiB and
//! the time to send it at 5 s, every connection lives at most 30 s, and at
//! most 8 are served at once; one past that is closed at once.

use crate::report;
use crate::switch::Switch;
use bytes::Bytes;
use http_body_util::Full;
use hyper::body::Incoming;
use hyper::{header, Request, Response, StatusCode};
use hyper_util::rt::{TokioIo, TokioTimer};
use prometheus::{Encoder, IntCounterVec, IntGaugeVec, Opts, Registry, TextEncoder};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;
use tokio::sync::{oneshot, Semaphore};

/// Largest request head (request line and headers) read; past it the
/// connection gets 431 and is closed. Also hyper's whole read buffer.
const MAX_HEAD: usize = 16 * 1024;
/// Time a client has to send a request's head.
const HEAD_TIMEOUT: Duration = Duration::from_secs(5);
/// Lifetime of one connection, keep-alive included.
const CONNECTION_DEADLINE: Duration = Duration::from_secs(30);
/// Connections served at once.
const MAX_CONNECTIONS: usize = 8;
/// Pause after a failed accept (e.g. out of file descriptors) instead of spinning.
const ACCEPT_BACKOFF: Duration = Duration::from_millis(100);

/// Renders every metric of the switch in the Prometheus text format.
pub fn render(sw: &Switch) -> Result<String, prometheus::Error> {
    let reg = Registry::new();
    let counter =
        |name: &str, help: &str, labels: &[&str]| -> Result<IntCounterVec, prometheus::Error> {
            let c = IntCounterVec::new(Opts::new(name, help), labels)?;
            reg.register(Box::new(c.clone()))?;
            Ok(c)
        };
    let gauge =
        |name: &str, help: &str, labels: &[&str]| -> Result<IntGaugeVec, prometheus::Error> {
            let g = IntGaugeVec::new(Opts::new(name, help), labels)?;
            reg.register(Box::new(g.clone()))?;
            Ok(g)
        };

    let rx_p = counter(
        "vswitch_port_rx_packets_total",
        "Packets received on the port by the workers.",
        &["port"],
    )?;
    let rx_b = counter(
        "vswitch_port_rx_bytes_total",
        "Bytes received on the port by the workers.",
        &["port"],
    )?;
    let tx_p = counter(
        "vswitch_port_tx_packets_total",
        "Packets the port accepted for transmission.",
        &["port"],
    )?;
    let tx_b = counter(
        "vswitch_port_tx_bytes_total",
        "Bytes the port accepted for transmission.",
        &["port"],
    )?;
    let drops = counter(
        "vswitch_port_drops_total",
        "Packets dropped, charged to a port, by layer and reason.",
        &["port", "layer", "reason"],
    )?;
    let fast = counter(
        "vswitch_port_flow_hits_total",
        "Packets handled by a cached flow transform.",
        &["port"],
    )?;
    let slow = counter(
        "vswitch_port_slow_path_total",
        "Packets handled by the layers (flow-table misses).",
        &["port"],
    )?;
    let hairpin = counter(
        "vswitch_port_gateway_replies_total",
        "Packets the virtual gateway answered.",
        &["port"],
    )?;
    let relayed = counter(
        "vswitch_port_relayed_total",
        "Geneve for a migrated instance's old endpoint relayed to its new one.",
        &["port"],
    )?;
    let meta = counter(
        "vswitch_port_metadata_packets_total",
        "Packets handed to the instance metadata service (punted) and sent for it (injected).",
        &["port", "direction"],
    )?;
    let dev_missed = counter(
        "vswitch_port_device_rx_missed_total",
        "Packets the device dropped because its rx ring was full.",
        &["port"],
    )?;
    let dev_nombuf = counter(
        "vswitch_port_device_rx_nombuf_total",
        "Device rx failures for lack of mbufs.",
        &["port"],
    )?;
    let dev_ierr = counter(
        "vswitch_port_device_rx_errors_total",
        "Device receive errors.",
        &["port"],
    )?;
    let dev_oerr = counter(
        "vswitch_port_device_tx_errors_total",
        "Device transmit errors.",
        &["port"],
    )?;
    let link = gauge(
        "vswitch_port_link_up",
        "1 when the port's link is up.",
        &["port", "role"],
    )?;
    for p in report::ports(sw) {
        let l = [p.name.as_str()];
        rx_p.with_label_values(&l).inc_by(p.counters.rx_packets);
        rx_b.with_label_values(&l).inc_by(p.counters.rx_bytes);
        tx_p.with_label_values(&l).inc_by(p.counters.tx_packets);
        tx_b.with_label_values(&l).inc_by(p.counters.tx_bytes);
        for r in engine::DropReason::ALL {
            let n = p.counters.drops.get(r.as_str()).copied().unwrap_or(0);
            drops
                .with_label_values(&[p.name.as_str(), r.layer(), r.as_str()])
                .inc_by(n);
        }
        fast.with_label_values(&l).inc_by(p.counters.fast_path);
        slow.with_label_values(&l).inc_by(p.counters.slow_path);
        hairpin.with_label_values(&l).inc_by(p.counters.hairpin);
        relayed.with_label_values(&l).inc_by(p.counters.relayed);
        meta.with_label_values(&[p.name.as_str(), "punted"])
            .inc_by(p.counters.punted);
        meta.with_label_values(&[p.name.as_str(), "injected"])
            .inc_by(p.counters.injected);
        dev_missed.with_label_values(&l).inc_by(p.device.imissed);
        dev_nombuf.with_label_values(&l).inc_by(p.device.rx_nombuf);
        dev_ierr.with_label_values(&l).inc_by(p.device.ierrors);
        dev_oerr.with_label_values(&l).inc_by(p.device.oerrors);
        link.with_label_values(&[p.name.as_str(), p.role.as_str()])
            .set(p.link.up as i64);
    }

    let busy = counter(
        "vswitch_worker_busy_loops_total",
        "Worker poll loops that received packets.",
        &["worker", "lcore"],
    )?;
    let idle = counter(
        "vswitch_worker_idle_loops_total",
        "Worker poll loops that received nothing.",
        &["worker", "lcore"],
    )?;
    let sleeps = counter(
        "vswitch_worker_sleeps_total",
        "Idle backoff sleeps of a worker.",
        &["worker", "lcore"],
    )?;
    let flows = gauge(
        "vswitch_worker_flows",
        "Flows in a worker's flow table.",
        &["worker", "lcore"],
    )?;
    let expired = counter(
        "vswitch_worker_flows_expired_total",
        "Flow-table entries a worker expired.",
        &["worker", "lcore"],
    )?;
    let st = report::stats(sw);
    let snat_ports = gauge(
        "vswitch_worker_snat_ports",
        "SNAT ports held by a worker's live flows.",
        &["worker", "lcore"],
    )?;
    let snat_alloc = counter(
        "vswitch_worker_snat_allocated_total",
        "SNAT ports a worker handed out.",
        &["worker", "lcore"],
    )?;
    let snat_exh = counter(
        "vswitch_worker_snat_exhausted_total",
        "New flows a worker refused because the VNIC's SNAT range was full (dropped as snat_exhausted).",
        &["worker", "lcore"],
    )?;
    let evicted = counter(
        "vswitch_worker_flows_evicted_total",
        "Live flows a worker evicted to make room for new ones (a full table or a VNIC at its quota), by the class they were in.",
        &["worker", "lcore", "class"],
    )?;
    let reverse = gauge(
        "vswitch_worker_nat_reply_keys",
        "NAT reply keys a worker holds (one per translated flow).",
        &["worker", "lcore"],
    )?;
    let cycles = counter(
        "vswitch_worker_busy_cycles_total",
        "TSC cycles a worker spent in poll loops that received packets (divided by the packets they received: cycles per packet).",
        &["worker", "lcore"],
    )?;
    let busy_pkts = counter(
        "vswitch_worker_busy_packets_total",
        "Packets a worker received (the divisor of busy cycles).",
        &["worker", "lcore"],
    )?;
    let handoff_out = counter(
        "vswitch_worker_handoff_out_total",
        "Packets a worker received and handed to the worker that owns their flow.",
        &["worker", "lcore"],
    )?;
    let handoff_in = counter(
        "vswitch_worker_handoff_in_total",
        "Packets other workers handed to a worker (it owns their flows).",
        &["worker", "lcore"],
    )?;
    for w in &st.workers {
        let (id, lc) = (w.id.to_string(), w.lcore.to_string());
        let l = [id.as_str(), lc.as_str()];
        handoff_out.with_label_values(&l).inc_by(w.handoff_out);
        handoff_in.with_label_values(&l).inc_by(w.handoff_in);
        for (class, n) in &w.flows_evicted {
            evicted
                .with_label_values(&[id.as_str(), lc.as_str(), class.as_str()])
                .inc_by(*n);
        }
        reverse.with_label_values(&l).set(w.nat_reverse as i64);
        cycles.with_label_values(&l).inc_by(w.busy_cycles);
        busy_pkts.with_label_values(&l).inc_by(w.busy_packets);
        flows.with_label_values(&l).set(w.flows as i64);
        expired.with_label_values(&l).inc_by(w.flows_expired);
        snat_ports.with_label_values(&l).set(w.snat_ports as i64);
        snat_alloc.with_label_values(&l).inc_by(w.snat_allocated);
        snat_exh.with_label_values(&l).inc_by(w.snat_exhausted);
    }
    for w in &st.workers {
        let (id, lc) = (w.id.to_string(), w.lcore.to_string());
        let l = [id.as_str(), lc.as_str()];
        busy.with_label_values(&l).inc_by(w.busy_loops);
        idle.with_label_values(&l).inc_by(w.idle_loops);
        sleeps.with_label_values(&l).inc_by(w.sleeps);
    }
    counter(
        "vswitch_snapshot_swaps_total",
        "Table snapshots published to the workers.",
        &[],
    )?
    .with_label_values(&[] as &[&str])
    .inc_by(st.snapshot_swaps);
    let g = gauge(
        "vswitch_snapshot_generation",
        "Generation of the published table snapshot.",
        &[],
    )?;
    g.with_label_values(&[] as &[&str])
        .set(sw.tables.current().generation as i64);
    let pool = gauge(
        "vswitch_mempool_mbufs",
        "Mbufs of the pool, by state.",
        &["state"],
    )?;
    pool.with_label_values(&["free"])
        .set(st.mempool_free as i64);
    pool.with_label_values(&["in_use"])
        .set(st.mempool_in_use as i64);
    let up = gauge("vswitch_uptime_seconds", "Seconds since start-up.", &[])?;
    up.with_label_values(&[] as &[&str])
        .set(sw.started.elapsed().as_secs() as i64);
    let m = sw.metadata.lock().map(|c| *c).unwrap_or_default();
    let requests = counter(
        "vswitch_metadata_responses_total",
        "Instance metadata answers, by HTTP status.",
        &["status"],
    )?;
    for (status, n) in [
        ("200", m.responses_ok),
        ("400", m.responses_bad_request),
        ("404", m.responses_not_found),
        ("405", m.responses_not_allowed),
    ] {
        requests.with_label_values(&[status]).inc_by(n);
    }
    let stacks = gauge(
        "vswitch_metadata_stacks",
        "NICs the instance metadata service holds a TCP/IP stack for.",
        &[],
    )?;
    stacks
        .with_label_values(&[] as &[&str])
        .set(m.stacks as i64);
    let refused = counter(
        "vswitch_metadata_refused_total",
        "Metadata packets refused, by reason (malformed, no stack room, connection limit, idle abort).",
        &["reason"],
    )?;
    for (reason, n) in [
        ("malformed", m.malformed),
        ("no_stack", m.refused_no_stack),
        ("connections", m.connections_refused),
        ("idle", m.connections_aborted_idle),
    ] {
        refused.with_label_values(&[reason]).inc_by(n);
    }
    if let Some(link) = &sw.fleet {
        let f = link.status();
        let g = |name: &str, help: &str, v: i64| -> Result<(), prometheus::Error> {
            gauge(name, help, &["sled"])?
                .with_label_values(&[f.sled.as_str()])
                .set(v);
            Ok(())
        };
        g(
            "vswitch_fleet_connected",
            "1 while the switch is connected to the fleet's etcd and watching.",
            i64::from(f.connected),
        )?;
        g(
            "vswitch_fleet_revision_applied",
            "The etcd revision the state in force was built at.",
            f.revision_applied,
        )?;
        g(
            "vswitch_fleet_revision_seen",
            "The latest etcd revision the switch has read.",
            f.revision_seen,
        )?;
        let c = counter(
            "vswitch_fleet_updates_total",
            "Fleet states by outcome: published as a generation, refused (the switch kept what it ran), full reads.",
            &["sled", "outcome"],
        )?;
        for (o, n) in [
            ("published", f.updates),
            ("refused", f.refused),
            ("resync", f.resyncs),
        ] {
            c.with_label_values(&[f.sled.as_str(), o]).inc_by(n);
        }
        counter(
            "vswitch_fleet_migrations_in_total",
            "Live migrations whose flows this switch imported, as their target.",
            &["sled"],
        )?
        .with_label_values(&[f.sled.as_str()])
        .inc_by(f.migrations_in);
        let flows = counter(
            "vswitch_fleet_migration_flows_total",
            "Flows carried in live migrations: exported as the source, imported as the target.",
            &["sled", "side"],
        )?;
        for (side, n) in [
            ("exported", f.migration_flows_exported),
            ("imported", f.migration_flows_imported),
        ] {
            flows.with_label_values(&[f.sled.as_str(), side]).inc_by(n);
        }
        if let Some(secs) = f.last_migration_secs {
            g(
                "vswitch_fleet_migration_last_milliseconds",
                "From the start of the last migration this switch imported for to its import (the traffic moves right after).",
                (secs * 1e3) as i64,
            )?;
        }
        let secs = link.last_publish_secs.lock().map(|s| *s).unwrap_or(0.0);
        g(
            "vswitch_fleet_publish_microseconds",
            "From reading the last fleet change published to its generation in force.",
            (secs * 1e6) as i64,
        )?;
    }
    let info = gauge(
        "vswitch_build_info",
        "Version information; always 1.",
        &["version", "dpdk_version", "role"],
    )?;
    info.with_label_values(&[
        env!("CARGO_PKG_VERSION"),
        dpdk::DPDK_VERSION,
        sw.role.as_str(),
    ])
    .set(1);

    let mut buf = Vec::new();
    TextEncoder::new().encode(&reg.gather(), &mut buf)?;
    Ok(String::from_utf8_lossy(&buf).into_owned())
}

/// The HTTP endpoint serving `/metrics`. Dropping it stops the server.
pub struct MetricsServer {
    stop: Option<oneshot::Sender<()>>,
    thread: Option<JoinHandle<()>>,
    addr: String,
}

impl MetricsServer {
    /// Listens on `addr` and serves `GET /metrics`.
    pub fn start(addr: &str, sw: Arc<Switch>) -> Result<MetricsServer, String> {
        // Bound here, so that a busy address fails start-up with its key.
        let listener =
            std::net::TcpListener::bind(addr).map_err(|e| format!("metrics.listen {addr}: {e}"))?;
        listener
            .set_nonblocking(true)
            .map_err(|e| format!("metrics.listen {addr}: {e}"))?;
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_io()
            .enable_time()
            .build()
            .map_err(|e| format!("cannot start the metrics runtime: {e}"))?;
        let (stop, stopped) = oneshot::channel();
        let thread = std::thread::Builder::new()
            .name("vswitch-metrics".into())
            .spawn(move || {
                runtime.block_on(serve(listener, sw, stopped));
                // Dropping the runtime here drops every connection still open.
            })
            .map_err(|e| format!("cannot start the metrics thread: {e}"))?;
        Ok(MetricsServer {
            stop: Some(stop),
            thread: Some(thread),
            addr: addr.to_string(),
        })
    }

    /// The address it listens on.
    pub fn addr(&self) -> &str {
        &self.addr
    }
}

impl Drop for MetricsServer {
    fn drop(&mut self) {
        // Dropping the sender wakes the accept loop.
        self.stop.take();
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// Accepts connections until `stopped` fires, each under the bounds above.
async fn serve(
    listener: std::net::TcpListener,
    sw: Arc<Switch>,
    mut stopped: oneshot::Receiver<()>,
) {
    let listener = match tokio::net::TcpListener::from_std(listener) {
        Ok(l) => l,
        Err(e) => {
            tracing::error!("metrics: cannot use the listening socket: {e}");
            return;
        }
    };
    let permits = Arc::new(Semaphore::new(MAX_CONNECTIONS));
    let mut http = hyper::server::conn::http1::Builder::new();
    http.timer(TokioTimer::new())
        .max_buf_size(MAX_HEAD)
        .max_header_size(MAX_HEAD)
        .header_read_timeout(HEAD_TIMEOUT)
        .keep_alive(true);
    loop {
        let accepted = tokio::select! {
            _ = &mut stopped => return,
            a = listener.accept() => a,
        };
        let stream = match accepted {
            Ok((stream, _)) => stream,
            Err(e) => {
                tracing::warn!("metrics: accept failed: {e}");
                tokio::time::sleep(ACCEPT_BACKOFF).await;
                continue;
            }
        };
        // Past the cap the connection is dropped, i.e. closed, at once.
        let Ok(permit) = Arc::clone(&permits).try_acquire_owned() else {
            continue;
        };
        let sw = Arc::clone(&sw);
        let conn = http.serve_connection(
            TokioIo::new(stream),
            hyper::service::service_fn(move |req| {
                let sw = Arc::clone(&sw);
                async move { Ok::<_, std::convert::Infallible>(respond(&req, &sw)) }
            }),
        );
        tokio::spawn(async move {
            let _permit = permit;
            // Errors are the client's (a bad or oversized request, a reset);
            // hyper has answered what it could.
            let _ = tokio::time::timeout(CONNECTION_DEADLINE, conn).await;
        });
    }
}

/// `/metrics` (any query) gets the text format; anything else a 404.
fn respond(req: &Request<Incoming>, sw: &Switch) -> Response<Full<Bytes>> {
    let (status, content_type, body) = if req.uri().path() == "/metrics" {
        match render(sw) {
            Ok(body) => (StatusCode::OK, "text/plain; version=0.0.4", body),
            Err(e) => (
                StatusCode::INTERNAL_SERVER_ERROR,
                "text/plain; charset=UTF-8",
                format!("metrics error: {e}\n"),
            ),
        }
    } else {
        (
            StatusCode::NOT_FOUND,
            "text/plain; charset=UTF-8",
            "see /metrics\n".to_string(),
        )
    };
    let mut resp = Response::new(Full::new(Bytes::from(body)));
    *resp.status_mut() = status;
    resp.headers_mut().insert(
        header::CONTENT_TYPE,
        header::HeaderValue::from_static(content_type),
    );
    resp
}
