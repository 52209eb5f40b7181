//! The `flows` dump comes in pages: 5,000 flows listed 700 at a time, each
//! once, through `next` cursors; the page size and the cursor are checked;
//! `vswitchctl flows --limit` prints where to go on. A worker copies at most
//! a bounded number of entries per request (between two bursts), so a dump
//! never stalls the data path.

use std::collections::HashSet;
use std::process::Command;
use std::time::{Duration, Instant};
use vswitch_api::{Command as Cmd, Reply};
use vswitch_e2e::{bin, guest_vnic, tap_send, typed, vni, Vswitch, TEST_EAL};

const FLOWS: u16 = 5000;

fn flows(sw: &Vswitch, limit: Option<u32>, from: Option<String>) -> Result<Reply, String> {
    let r = sw.connect().request(&Cmd::Flows {
        port: None,
        limit,
        from,
    });
    if r.ok {
        Ok(r.result.expect("a result"))
    } else {
        Err(r.error.unwrap_or_default())
    }
}

#[test]
fn flows_are_listed_a_page_at_a_time() {
    let dir = tempfile::tempdir().unwrap();
    let iface = format!("vspage{}", std::process::id() % 10_000);
    let toml = format!(
        r#"
[eal]
{TEST_EAL}
[workers]
lcores = [1]
handoff_ring = 8192
[[ports]]
name = "g"
devargs = "net_tap0,iface={iface}"
role = "guest"
[[ports]]
name = "up"
devargs = "net_null0,no-rx=1"
role = "uplink"
"#
    );
    let sw = Vswitch::start(dir.path(), &toml);
    let _ = Command::new("sysctl")
        .arg(format!("net.ipv6.conf.{iface}.disable_ipv6=1"))
        .output();
    let _ = Command::new("ip")
        .args(["link", "set", &iface, "up"])
        .status();
    let ok = |cmd: Cmd| {
        let r = sw.connect().request(&cmd);
        assert!(r.ok, "{cmd:?}: {:?}", r.error);
    };
    ok(Cmd::VnicCreate(guest_vnic(
        "g",
        100,
        "a8:40:25:00:00:05",
        "172.30.0.5",
    )));
    ok(Cmd::UnderlaySet {
        addr: "fd00:1701:d:101::1".parse().unwrap(),
        uplink: "up".into(),
        nexthop_mac: typed("02:00:00:00:00:fe"),
    });
    ok(Cmd::V2pSet {
        vni: vni(100),
        ip: "172.30.0.9".parse().unwrap(),
        mac: typed("a8:40:25:00:00:09"),
        underlay: "fd00:1701:d:102::1".parse().unwrap(),
    });
    ok(Cmd::RouteAdd {
        port: "g".into(),
        dest: typed("172.30.0.0/22"),
        target: typed("subnet:172.30.0.0/22"),
        class: Some(typed("system")),
    });
    let frames: Vec<Vec<u8>> = (0..FLOWS)
        .map(|i| {
            let mut v = Vec::new();
            etherparse::PacketBuilder::ethernet2(
                [0xa8, 0x40, 0x25, 0, 0, 5],
                [0xa8, 0x40, 0x25, 0, 0, 1],
            )
            .ipv4([172, 30, 0, 5], [172, 30, 0, 9], 64)
            .udp(10_000 + i, 80)
            .write(&mut v, b"a flow")
            .unwrap();
            v
        })
        .collect();
    // A frame lost on the way (the kernel's tap queue or a handoff ring
    // overflowing while a worker is descheduled on a loaded two-core
    // machine) is sent again: the same frame makes the same flow, and this
    // test is about the listing, not about loss.
    let held = |sw: &Vswitch| sw.stats().workers.iter().map(|w| w.flows).sum::<u64>();
    let mut rounds = 0;
    while held(&sw) < u64::from(FLOWS) {
        assert!(rounds < 4, "flows: {:?}; {:?}", held(&sw), sw.stats());
        rounds += 1;
        tap_send(&iface, &frames);
        let deadline = Instant::now() + Duration::from_secs(5);
        while held(&sw) < u64::from(FLOWS) && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    // Pages of 700 until `next` is gone: every flow once.
    let (mut seen, mut pages, mut from) = (HashSet::new(), 0, None);
    loop {
        let Reply::Flows {
            flows: page, next, ..
        } = flows(&sw, Some(700), from.take()).unwrap()
        else {
            panic!("not a flows answer")
        };
        assert!(page.len() <= 700, "{} flows in a page of 700", page.len());
        for f in &page {
            assert!(seen.insert(f.src_port), "flow {} listed twice", f.src_port);
            assert_eq!(f.realm, "vpc");
        }
        pages += 1;
        match next {
            Some(n) => from = Some(n),
            None => break,
        }
    }
    assert_eq!(seen.len(), usize::from(FLOWS));
    assert!(pages >= 8, "{pages} pages");
    // With several workers each holds the flows it owns (by the symmetric
    // hash), every one listed once from whichever worker holds it; what a
    // worker received for another it handed over, each packet once.
    let st = sw.stats();
    for w in &st.workers {
        if st.workers.len() > 1 {
            assert!(
                w.flows > u64::from(FLOWS) / 4,
                "worker {}: {} flows",
                w.id,
                w.flows
            );
        }
    }
    let out: u64 = st.workers.iter().map(|w| w.handoff_out).sum();
    let inn: u64 = st.workers.iter().map(|w| w.handoff_in).sum();
    assert_eq!(out, inn, "every packet handed off was taken");
    if st.workers.len() == 1 {
        assert_eq!(out, 0);
    }
    // Every packet is accounted for: a slow consumer's loss is a counted
    // full ring (the kernel's own stray frames are counted drops too).
    let dropped: u64 = st.total.drops.values().sum();
    assert_eq!(st.total.rx_packets, st.total.tx_packets + dropped, "{st:?}");
    // Without a limit: 1000, and a cursor for the rest.
    let Reply::Flows {
        flows: page, next, ..
    } = flows(&sw, None, None).unwrap()
    else {
        panic!()
    };
    assert_eq!(page.len(), 1000);
    assert!(next.is_some());
    // Bad requests are refused with a message saying what is wrong.
    let e = flows(&sw, Some(10_001), None).unwrap_err();
    assert!(e.contains("limit 10001 is not within 1..=10000"), "{e}");
    let e = flows(&sw, Some(10), Some("nonsense".into())).unwrap_err();
    assert!(e.contains("bad cursor"), "{e}");
    let e = flows(&sw, Some(10), Some("7:0".into())).unwrap_err();
    assert!(e.contains("bad cursor"), "{e}");
    // vswitchctl shows a page and where to go on.
    let out = Command::new(bin("vswitchctl"))
        .args(["--socket"])
        .arg(&sw.socket)
        .args(["flows", "--limit", "5"])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{text}");
    assert_eq!(
        text.lines().filter(|l| l.contains("172.30.0.9:80")).count(),
        5,
        "{text}"
    );
    assert!(text.contains("more: --from "), "{text}");
    let (st, _) = sw.shutdown();
    assert!(st.success());
}
