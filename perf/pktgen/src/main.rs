//! `vswitch-pktgen`: a send-only or send-and-receive packet generator on DPDK.
//!
//! Fixed-size UDP frames over N flows, an optional rate, a bounded duration or
//! count, a per-second report, and totals sent / received / lost. With
//! `--verify`, every received frame is compared byte for byte with the frame
//! its flow id says was sent.
//!
//! The frames' addresses are options (`--src-mac`, `--dst-mac`, `--src-ip`,
//! `--dst-ip`); flows differ by source address and port (`--vary addr`, the
//! default) or by source and destination port (`--vary ports`, fixed
//! addresses, as a guest behind anti-spoof sends); `--geneve` wraps every
//! frame in outer Ethernet / IPv6 / UDP 6081 / Geneve, as a remote sled sends
//! it over the underlay. See `frame.rs`.

#![forbid(unsafe_code)]

mod frame;

use clap::{Parser, ValueEnum};
use dpdk::{self, Burst, Eal, Mempool, Port, PortSetup};
use frame::{Cursor, Geneve, Spec, Template, Vary};
use std::net::{Ipv4Addr, Ipv6Addr};
use std::time::{Duration, Instant};

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
    /// Frame size in bytes, without FCS (60 to 1514); with --geneve, the inner frame's.
    #[arg(long, default_value_t = 64)]
    size: u16,
    /// Number of flows (distinct source address/port pairs, or port pairs with --vary ports).
    #[arg(long, default_value_t = 1)]
    flows: u32,
    /// How flows differ: `addr` (source address + source port) or `ports`
    /// (source port 1 + flow % N, destination port + flow / N; addresses fixed).
    #[arg(long, value_enum, default_value_t = VaryArg::Addr)]
    vary: VaryArg,
    /// Source MAC (of the inner frame with --geneve).
    #[arg(long, default_value = "02:00:00:00:00:01")]
    src_mac: String,
    /// Destination MAC (of the inner frame with --geneve).
    #[arg(long, default_value = "02:00:00:00:00:02")]
    dst_mac: String,
    /// IPv4 source (the first one with --vary addr).
    #[arg(long, default_value = "10.0.0.1")]
    src_ip: Ipv4Addr,
    /// IPv4 destination.
    #[arg(long, default_value = "10.0.0.2")]
    dst_ip: Ipv4Addr,
    /// First UDP source port.
    #[arg(long, default_value_t = 1024)]
    sport_base: u16,
    /// UDP source ports N before the next address (--vary addr, default 32768)
    /// or the next destination port (--vary ports, default 50000).
    #[arg(long)]
    sport_count: Option<u32>,
    /// (First) UDP destination port.
    #[arg(long, default_value_t = 5001)]
    dport_base: u16,
    /// Wrap every frame in Geneve over IPv6 (outer frame = --size + 70 bytes).
    #[arg(long)]
    geneve: bool,
    /// Outer source MAC (--geneve).
    #[arg(long, default_value = "02:aa:00:00:00:02")]
    outer_src_mac: String,
    /// Outer destination MAC (--geneve).
    #[arg(long, default_value = "02:aa:00:00:00:01")]
    outer_dst_mac: String,
    /// Outer IPv6 source: the sending sled's underlay address (--geneve).
    #[arg(long, default_value = "fd00:1701:d:102::1")]
    outer_src: Ipv6Addr,
    /// Outer IPv6 destination: the receiving sled's underlay address (--geneve).
    #[arg(long, default_value = "fd00:1701:d:101::1")]
    outer_dst: Ipv6Addr,
    /// Geneve VNI (--geneve).
    #[arg(long, default_value_t = 100)]
    vni: u32,
    /// Add Oxide's External Geneve option, as the boundary sends traffic
    /// from outside (--geneve; outer frame = --size + 74 bytes).
    #[arg(long)]
    geneve_external: bool,
    /// Stop sending as soon as the tx link goes down (the peer went away),
    /// checked every second, instead of waiting for --duration.
    #[arg(long)]
    until_link_down: bool,
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
    /// Queue pairs of each port (to match a switch with several workers
    /// on memif, whose rings pair one to one); all rx queues are polled,
    /// and tx bursts go round the tx queues.
    #[arg(long, default_value_t = 1)]
    queues: u16,
}

/// `--vary`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum VaryArg {
    /// Source address and source port.
    Addr,
    /// Source and destination ports.
    Ports,
}

impl Args {
    /// The frames these options describe.
    fn spec(&self) -> Result<Spec, String> {
        let vary = match self.vary {
            VaryArg::Addr => Vary::Addr,
            VaryArg::Ports => Vary::Ports,
        };
        let geneve = if self.geneve {
            Some(Geneve {
                src_mac: frame::parse_mac(&self.outer_src_mac)?,
                dst_mac: frame::parse_mac(&self.outer_dst_mac)?,
                src: self.outer_src,
                dst: self.outer_dst,
                vni: self.vni,
                external: self.geneve_external,
            })
        } else {
            None
        };
        let spec = Spec {
            size: self.size as usize,
            src_mac: frame::parse_mac(&self.src_mac)?,
            dst_mac: frame::parse_mac(&self.dst_mac)?,
            src_ip: self.src_ip,
            dst_ip: self.dst_ip,
            vary,
            sport_base: self.sport_base,
            sport_count: self.sport_count.unwrap_or(match vary {
                Vary::Addr => 32_768,
                Vary::Ports => 50_000,
            }),
            dport_base: self.dport_base,
            geneve,
        };
        spec.check(self.flows)?;
        Ok(spec)
    }
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
    let spec = args.spec()?;
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
        rx_queues: args.queues.max(1),
        tx_queues: args.queues.max(1),
        rx_desc: 1024,
        tx_desc: 1024,
        promiscuous: true,
    };
    let txp = Port::by_name(&args.tx).map_err(|e| e.to_string())?;
    let mut txc = txp.configure(&setup, &pool).map_err(|e| e.to_string())?;
    let mut rxp = None;
    let mut rxqs = Vec::new();
    // The same device may both send and receive.
    if let Some(name) = &args.rx {
        if name == &args.tx {
            rxqs = std::mem::take(&mut txc.rx);
        } else {
            let p = Port::by_name(name).map_err(|e| e.to_string())?;
            let mut c = p.configure(&setup, &pool).map_err(|e| e.to_string())?;
            rxqs = std::mem::take(&mut c.rx);
            rxp = Some(p);
        }
    }
    txp.start().map_err(|e| e.to_string())?;
    if let Some(p) = &rxp {
        p.start().map_err(|e| e.to_string())?;
    }
    let mut txqs: Vec<_> = txc.tx.drain(..).collect();
    if txqs.is_empty() {
        return Err("no tx queue".into());
    }
    let mut next_txq = 0usize;

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

    let flows = args.flows;
    // One prebuilt frame; per packet, a copy and a few patched bytes.
    let template = Template::new(&spec);
    let frame_len = template.len() as u16;
    let mut scratch = vec![0u8; template.len()];

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
                    let got = burst.alloc(&pool, n, frame_len);
                    // One division per burst; the cursor steps without one.
                    let mut cur = Cursor::at(&template, flow);
                    for i in 0..got {
                        template.fill(burst.data_mut(i), &cur);
                        cur.advance(&template, flows);
                    }
                    flow = cur.flow;
                    // Bursts go round the queues (each is a worker's on
                    // the switch's side of a memif).
                    next_txq = (next_txq + 1) % txqs.len();
                    let o = burst.tx(&mut txqs[next_txq]);
                    t.sent += o.sent as u64;
                    t.sent_bytes += o.sent_bytes;
                    t.refused += o.dropped as u64;
                    // Refused frames are not sent: roll the flow counter back so
                    // that every flow still gets its share.
                    flow = ((flow as u64 + flows as u64 * 64 - o.dropped as u64) % flows as u64)
                        as u32;
                }
            }
        } else if rxqs.is_empty() || now >= stop_rx_at {
            break;
        }
        for q in rxqs.iter_mut() {
            let n = rx_burst.rx(q, dpdk::BURST_MAX);
            if n > 0 {
                worked = true;
                t.received += n as u64;
                t.received_bytes += rx_burst.total_bytes();
                if args.verify {
                    for i in 0..n {
                        let d = rx_burst.data(i);
                        let ok = template.flow_of(d).is_some_and(|f| {
                            template.fill(&mut scratch, &Cursor::at(&template, f));
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
            if sending && args.until_link_down && !txp.link().up {
                println!("pktgen: link of {} went down: stopping", args.tx);
                sending = false;
                stop_rx_at = now;
            }
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
        if !rxqs.is_empty() {
            t.received.to_string()
        } else {
            "n/a".into()
        },
        if !rxqs.is_empty() {
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
            !rxqs.is_empty()
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
