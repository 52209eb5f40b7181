//! `vswitch-pktgen`: a send-only or send-and-receive packet generator on DPDK.
//!
//! Fixed-size UDP frames over N flows, an optional rate, a bounded duration or
//! count, a per-second report, and totals sent / received / lost. With
//! `--verify`, every received frame is compared byte for byte with the frame
//! its flow id says was sent.

mod frame;

use clap::Parser;
use std::time::{Duration, Instant};
use vswitch::dpdk::{self, Burst, Eal, Mempool, Port, PortSetup};

/// Packet generator for vswitch throughput tests.
#[derive(Parser, Debug)]
#[command(version, about)]
struct Args {
    /// Lcore to run on.
    #[arg(long, default_value_t = 0)]
    lcore: u32,
    /// DPDK vdev to create (repeatable), e.g. `net_memif0,role=server,socket=/tmp/a.sock`.
    #[arg(long)]
    vdev: Vec<String>,
    /// Device to send on.
    #[arg(long)]
    tx: String,
    /// Device to receive on (optional: without it the generator only sends).
    #[arg(long)]
    rx: Option<String>,
    /// Frame size in bytes, without FCS (60 to 1514).
    #[arg(long, default_value_t = 64)]
    size: u16,
    /// Number of flows (distinct source address/port pairs).
    #[arg(long, default_value_t = 1)]
    flows: u32,
    /// Packets per second to aim for (0: as fast as possible).
    #[arg(long, default_value_t = 0)]
    rate: u64,
    /// Stop sending after this many seconds.
    #[arg(long, default_value_t = 10.0)]
    duration: f64,
    /// Stop sending after this many packets (0: no limit).
    #[arg(long, default_value_t = 0)]
    count: u64,
    /// After sending stops, keep receiving for this many seconds.
    #[arg(long, default_value_t = 1.0)]
    drain: f64,
    /// Seconds to wait for the tx (and rx) link to come up before sending.
    #[arg(long, default_value_t = 30.0)]
    wait_link: f64,
    /// Check every received frame byte for byte.
    #[arg(long)]
    verify: bool,
    /// Run EAL without hugepages.
    #[arg(long)]
    no_huge: bool,
    /// Mbufs in the pool.
    #[arg(long, default_value_t = 16383)]
    mbufs: u32,
    /// Packets per tx burst.
    #[arg(long, default_value_t = 32)]
    burst: usize,
    /// Print the totals as one JSON line too.
    #[arg(long)]
    json: bool,
}

#[derive(Default, Debug, Clone, Copy)]
struct Totals {
    sent: u64,
    sent_bytes: u64,
    refused: u64,
    received: u64,
    received_bytes: u64,
    mismatched: u64,
}

fn main() {
    let args = Args::parse();
    if let Err(e) = run(&args) {
        eprintln!("vswitch-pktgen: error: {e}");
        std::process::exit(1);
    }
}

fn run(args: &Args) -> Result<(), String> {
    if !(60..=1514).contains(&args.size) {
        return Err(format!("--size {} is out of range 60..=1514", args.size));
    }
    if args.flows == 0 || args.burst == 0 || args.burst > dpdk::BURST_MAX {
        return Err("--flows must be positive and --burst within 1..=64".into());
    }
    let mut eal_args = vec![
        "vswitch-pktgen".to_string(),
        "-l".into(),
        args.lcore.to_string(),
        "--no-pci".into(),
        "--file-prefix".into(),
        format!("pktgen-{}", std::process::id()),
        "--log-level".into(),
        "lib.eal:warning".into(),
    ];
    if args.no_huge {
        eal_args.extend(["--no-huge".into(), "-m".into(), "512".into()]);
    }
    for v in &args.vdev {
        eal_args.extend(["--vdev".into(), v.clone()]);
    }
    let eal = Eal::init(&eal_args).map_err(|e| e.to_string())?;
    let pool = Mempool::new("pktgen", args.mbufs, 256, -1).map_err(|e| e.to_string())?;
    let setup = PortSetup {
        rx_queues: 1,
        tx_queues: 1,
        rx_desc: 1024,
        tx_desc: 1024,
        promiscuous: true,
    };
    let txp = Port::by_name(&args.tx).map_err(|e| e.to_string())?;
    let mut txc = txp.configure(&setup, &pool).map_err(|e| e.to_string())?;
    let mut rxp = None;
    let mut rxq = None;
    // The same device may both send and receive.
    if let Some(name) = &args.rx {
        if name == &args.tx {
            rxq = txc.rx.pop();
        } else {
            let p = Port::by_name(name).map_err(|e| e.to_string())?;
            let mut c = p.configure(&setup, &pool).map_err(|e| e.to_string())?;
            rxq = c.rx.pop();
            rxp = Some(p);
        }
    }
    txp.start().map_err(|e| e.to_string())?;
    if let Some(p) = &rxp {
        p.start().map_err(|e| e.to_string())?;
    }
    let mut txq = txc.tx.pop().ok_or("no tx queue")?;

    // Wait for links (memif connects when its peer appears).
    let deadline = Instant::now() + Duration::from_secs_f64(args.wait_link);
    while !(txp.link().up && rxp.as_ref().is_none_or(|p| p.link().up)) {
        if Instant::now() > deadline {
            return Err(format!(
                "link of {} did not come up within {}s",
                args.tx, args.wait_link
            ));
        }
        std::thread::sleep(Duration::from_millis(20));
    }

    let size = args.size as usize;
    let flows = args.flows;
    // Prebuilt frames for up to 64k flows; beyond, frames are built per packet.
    let prebuilt: Vec<Vec<u8>> = (0..flows.min(65_536))
        .map(|f| {
            let mut v = vec![0u8; size];
            frame::build(&mut v, f);
            v
        })
        .collect();
    let mut scratch = vec![0u8; size];

    let hz = dpdk::tsc_hz().max(1) as f64;
    let start_tsc = dpdk::tsc_cycles();
    let send_for = (args.duration * hz) as u64;
    let mut t = Totals::default();
    let mut last = t;
    let mut next_report = start_tsc + hz as u64;
    let mut flow = 0u32;
    let mut burst = Burst::new();
    let mut rx_burst = Burst::new();
    let mut sending = true;
    let mut stop_rx_at = 0u64;
    loop {
        let now = dpdk::tsc_cycles();
        // A rate-limited generator yields its core when it has nothing to do,
        // so that on a small machine the processes it tests are not starved.
        let mut worked = false;
        if sending {
            let elapsed = now - start_tsc;
            let limit_hit = args.count > 0 && t.sent >= args.count;
            if elapsed >= send_for || limit_hit {
                sending = false;
                stop_rx_at = now + (args.drain * hz) as u64;
            } else {
                let mut n = args.burst;
                if args.count > 0 {
                    n = n.min((args.count - t.sent) as usize);
                }
                if args.rate > 0 {
                    let due = (elapsed as f64 / hz * args.rate as f64) as u64;
                    n = n.min(due.saturating_sub(t.sent) as usize);
                }
                if n > 0 {
                    worked = true;
                    let got = burst.alloc(&pool, n, args.size);
                    for i in 0..got {
                        let f = flow;
                        flow = if flow + 1 == flows { 0 } else { flow + 1 };
                        let data = burst.data_mut(i);
                        match prebuilt.get(f as usize).filter(|_| flows <= 65_536) {
                            Some(p) => data.copy_from_slice(p),
                            None => {
                                frame::build(&mut scratch, f);
                                data.copy_from_slice(&scratch);
                            }
                        }
                    }
                    let o = burst.tx(&mut txq);
                    t.sent += o.sent as u64;
                    t.sent_bytes += o.sent_bytes;
                    t.refused += o.dropped as u64;
                    // Refused frames are not sent: roll the flow counter back so
                    // that every flow still gets its share.
                    flow = ((flow as u64 + flows as u64 * 64 - o.dropped as u64) % flows as u64)
                        as u32;
                }
            }
        } else if rxq.is_none() || now >= stop_rx_at {
            break;
        }
        if let Some(q) = rxq.as_mut() {
            let n = rx_burst.rx(q, dpdk::BURST_MAX);
            if n > 0 {
                worked = true;
                t.received += n as u64;
                t.received_bytes += rx_burst.total_bytes();
                if args.verify {
                    for i in 0..n {
                        let d = rx_burst.data(i);
                        let ok = frame::flow_of(d).is_some_and(|f| {
                            frame::build(&mut scratch, f);
                            f < flows && d == &scratch[..]
                        });
                        if !ok {
                            t.mismatched += 1;
                        }
                    }
                }
                rx_burst.clear();
            }
        }
        if !worked && (args.rate > 0 || !sending) {
            std::thread::sleep(Duration::from_micros(20));
        }
        if now >= next_report {
            let secs = (now - start_tsc) as f64 / hz;
            println!(
                "pktgen: t={secs:.1}s tx {:.3} Mpps rx {:.3} Mpps (sent {} received {} refused {})",
                (t.sent - last.sent) as f64 / 1e6,
                (t.received - last.received) as f64 / 1e6,
                t.sent,
                t.received,
                t.refused
            );
            last = t;
            next_report += hz as u64;
        }
    }
    let secs = args
        .duration
        .min((dpdk::tsc_cycles() - start_tsc) as f64 / hz);
    let lost = t.sent.saturating_sub(t.received);
    println!(
        "pktgen: TOTAL sent={} received={} lost={} mismatched={} refused={} tx_mpps={:.3}",
        t.sent,
        if rxq.is_some() {
            t.received.to_string()
        } else {
            "n/a".into()
        },
        if rxq.is_some() {
            lost.to_string()
        } else {
            "n/a".into()
        },
        t.mismatched,
        t.refused,
        t.sent as f64 / secs.max(1e-9) / 1e6
    );
    if args.json {
        println!(
            "{{\"sent\":{},\"sent_bytes\":{},\"received\":{},\"received_bytes\":{},\"lost\":{},\"mismatched\":{},\"refused\":{},\"rx\":{}}}",
            t.sent,
            t.sent_bytes,
            t.received,
            t.received_bytes,
            lost,
            t.mismatched,
            t.refused,
            rxq.is_some()
        );
    }
    drop(burst);
    drop(rx_burst);
    txp.stop_and_close();
    if let Some(p) = rxp {
        p.stop_and_close();
    }
    drop(pool);
    drop(eal);
    Ok(())
}
