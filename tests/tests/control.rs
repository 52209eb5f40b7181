//! Every control command works, through the socket and through `vswitchctl`;
//! bad requests are refused with errors that say what is wrong, leave the
//! connection usable and the state untouched; several clients at once work.

use std::os::unix::fs::PermissionsExt;
use std::process::Command;
use vswitch_api::{Command as Cmd, Reply};
use vswitch_e2e::{bin, Vswitch, TEST_EAL};

fn idle_switch(dir: &std::path::Path) -> Vswitch {
    let toml = format!(
        r#"
[eal]
{TEST_EAL}
[workers]
lcores = [1]
[[ports]]
name = "a"
devargs = "net_null0,no-rx=1"
role = "guest"
[[ports]]
name = "b"
devargs = "net_null1,no-rx=1"
role = "uplink"
[[patch]]
from = "a"
to = "b"
"#
    );
    Vswitch::start(dir, &toml)
}

fn ctl(sw: &Vswitch, args: &[&str]) -> (i32, String, String) {
    let out = Command::new(bin("vswitchctl"))
        .arg("--socket")
        .arg(&sw.socket)
        .args(args)
        .output()
        .expect("run vswitchctl");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn every_command_works_through_the_socket() {
    let dir = tempfile::tempdir().unwrap();
    let sw = idle_switch(dir.path());
    let mode = std::fs::metadata(&sw.socket).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o660, "control socket mode");

    match sw.request(Cmd::Status) {
        Reply::Status(s) => {
            assert_eq!(s.api_version, 1);
            assert_eq!(s.role, "sled");
            assert!(s.dpdk_version.starts_with("22.11"));
            assert_eq!(
                s.ports.iter().map(|p| p.name.as_str()).collect::<Vec<_>>(),
                ["a", "b"]
            );
            assert_eq!(s.ports[0].driver, "net_null");
            assert_eq!(s.workers.len(), 1);
            assert_eq!(s.workers[0].lcore, 1);
            assert_eq!(
                s.workers[0].rx_queues,
                vec![("a".to_string(), 0), ("b".to_string(), 0)]
            );
            assert_eq!(s.generation, 0);
        }
        other => panic!("{other:?}"),
    }
    let ports = sw.ports();
    assert_eq!(ports.len(), 2);
    assert!(ports.iter().all(|p| p.link.up));
    for reason in [
        "no_patch",
        "tx_full",
        "malformed",
        "anti_spoof",
        "firewall_deny",
        "no_route",
        "no_v2p",
    ] {
        assert_eq!(
            ports[0].counters.drops.get(reason),
            Some(&0),
            "every drop reason is listed: {reason}"
        );
    }
    let stats = sw.stats();
    assert_eq!(stats.workers.len(), 1);
    assert_eq!(stats.snapshot_swaps, 0);
    assert!(stats.mempool_free > 0);

    let list = |sw: &Vswitch| match sw.request(Cmd::PatchList) {
        Reply::Patches {
            generation,
            patches,
        } => (generation, patches),
        other => panic!("{other:?}"),
    };
    assert_eq!(list(&sw).1.len(), 1);
    sw.request(Cmd::PatchSet {
        from: "b".into(),
        to: "a".into(),
    });
    let (g, p) = list(&sw);
    assert_eq!((g, p.len()), (1, 2));
    sw.request(Cmd::PatchClear {
        from: Some("a".into()),
    });
    let (g, p) = list(&sw);
    assert_eq!((g, p.len()), (2, 1));
    assert_eq!(p[0].from, "b");
    sw.request(Cmd::PatchClear { from: None });
    assert_eq!(list(&sw), (3, vec![]));
    assert_eq!(sw.stats().snapshot_swaps, 3);

    let socket = sw.socket.clone();
    let (status, _) = sw.shutdown();
    assert!(status.success());
    assert!(!socket.exists(), "the socket is removed on exit");
}

#[test]
fn bad_requests_are_refused_and_change_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let sw = idle_switch(dir.path());
    let mut c = sw.connect();
    let cases: &[(&str, &str)] = &[
        ("this is not json", "request is not valid JSON"),
        ("[1,2]", "request must be a JSON object"),
        (r#"{"command":"status"}"#, "no \"version\""),
        (
            r#"{"version":99,"command":"status"}"#,
            "unsupported API version 99",
        ),
        (r#"{"version":1}"#, "no \"command\""),
        (
            r#"{"version":1,"command":"explode"}"#,
            "unknown command \"explode\"",
        ),
        (
            r#"{"version":1,"command":"patch-set","from":"a"}"#,
            "patch-set: missing field `to`",
        ),
        (
            r#"{"version":1,"command":"patch-set","from":"a","to":"zz"}"#,
            "unknown port \"zz\" in `to`",
        ),
        (
            r#"{"version":1,"command":"patch-set","from":"zz","to":"a"}"#,
            "unknown port \"zz\" in `from`",
        ),
        (
            r#"{"version":1,"command":"patch-clear","from":"nope"}"#,
            "unknown port \"nope\"",
        ),
        (
            r#"{"version":1,"command":"status","verbose":true}"#,
            "unknown field `verbose`",
        ),
    ];
    for (req, want) in cases {
        let resp: serde_json::Value = serde_json::from_str(&c.raw(req)).expect("response is JSON");
        assert_eq!(resp["version"], 1, "{req}");
        assert_eq!(resp["ok"], false, "{req} must be refused");
        let err = resp["error"].as_str().unwrap_or_default();
        assert!(
            err.contains(want),
            "{req}: error {err:?} should contain {want:?}"
        );
    }
    // The same connection still works, and nothing changed.
    let r = c.request(&Cmd::PatchList);
    assert!(r.ok);
    match r.result.unwrap() {
        Reply::Patches {
            generation,
            patches,
        } => {
            assert_eq!(generation, 0);
            assert_eq!(patches.len(), 1);
            assert_eq!(
                (patches[0].from.as_str(), patches[0].to.as_str()),
                ("a", "b")
            );
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(sw.stats().snapshot_swaps, 0);
    let (status, _) = sw.shutdown();
    assert!(status.success());
}

#[test]
fn several_clients_at_once() {
    let dir = tempfile::tempdir().unwrap();
    let sw = idle_switch(dir.path());
    let socket = sw.socket.clone();
    // Eight clients, each with its own connection, interleaving reads and writes.
    let handles: Vec<_> = (0..8)
        .map(|i| {
            let socket = socket.clone();
            std::thread::spawn(move || {
                let mut c = vswitch_e2e::Ctl::connect(&socket);
                for j in 0..50 {
                    let cmd = if j % 2 == 0 {
                        Cmd::PatchSet {
                            from: "b".into(),
                            to: if i % 2 == 0 { "a".into() } else { "b".into() },
                        }
                    } else {
                        Cmd::Stats
                    };
                    let r = c.request(&cmd);
                    assert!(r.ok, "client {i} request {j}: {:?}", r.error);
                }
            })
        })
        .collect();
    for h in handles {
        h.join().expect("client thread");
    }
    assert_eq!(
        sw.stats().snapshot_swaps,
        8 * 25,
        "every change was applied exactly once"
    );
    let (status, _) = sw.shutdown();
    assert!(status.success());
}

#[test]
fn vswitchctl_tables_json_and_errors() {
    let dir = tempfile::tempdir().unwrap();
    let sw = idle_switch(dir.path());

    let (code, out, _) = ctl(&sw, &["status"]);
    assert_eq!(code, 0);
    assert!(out.contains("net_null") && out.contains("sled"), "{out}");
    let (code, out, _) = ctl(&sw, &["ports"]);
    assert_eq!(code, 0);
    assert!(
        out.contains('a') && out.contains("guest") && out.contains("uplink"),
        "{out}"
    );
    let (code, out, _) = ctl(&sw, &["stats"]);
    assert_eq!(code, 0);
    assert!(!out.is_empty());

    let (code, out, _) = ctl(&sw, &["--json", "patch-set", "b", "a"]);
    assert_eq!(code, 0);
    let v: serde_json::Value = serde_json::from_str(&out).expect("--json prints JSON");
    assert_eq!(v["generation"], 1);
    assert_eq!(v["patches"].as_array().map(Vec::len), Some(2));
    let (code, out, _) = ctl(&sw, &["--json", "status"]);
    assert_eq!(code, 0);
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["generation"], 1);

    let (code, _, err) = ctl(&sw, &["patch-set", "a", "nowhere"]);
    assert_eq!(code, 1);
    assert!(err.contains("unknown port \"nowhere\""), "{err}");
    assert!(!err.contains("panicked"), "{err}");
    let (code, _, _) = ctl(&sw, &["patch-clear", "b"]);
    assert_eq!(code, 0);
    let (code, out, _) = ctl(&sw, &["--json", "patch-list"]);
    assert_eq!(code, 0);
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["patches"].as_array().map(Vec::len), Some(1));

    let (code, out, _) = ctl(&sw, &["shutdown"]);
    assert_eq!(code, 0, "{out}");
    let mut sw = sw;
    let (status, _) = sw.wait_exit(std::time::Duration::from_secs(20));
    assert!(status.success());

    // A missing socket is a plain message, not a backtrace.
    let out = Command::new(bin("vswitchctl"))
        .args(["--socket", "/nonexistent/vswitch.sock", "status"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.starts_with("vswitchctl: cannot connect to /nonexistent/vswitch.sock"),
        "{err}"
    );
    assert!(
        !err.contains("panicked") && !err.contains("backtrace"),
        "{err}"
    );
}

#[test]
fn bad_configuration_names_the_key() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = dir.path().join("bad.toml");
    std::fs::write(
        &cfg,
        "[workers]\nlcores = [1]\n[[ports]]\nname = \"a\"\ndevargs = \"net_null0\"\nrole = \"sideways\"\n",
    )
    .unwrap();
    let out = Command::new(bin("vswitch"))
        .arg("--config")
        .arg(&cfg)
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    let lines: Vec<&str> = err.lines().collect();
    assert_eq!(lines.len(), 1, "one line: {err}");
    assert!(
        lines[0].contains("ports[0].role") && lines[0].contains("sideways"),
        "{err}"
    );

    // Environment overrides reach nested keys.
    std::fs::write(
        &cfg,
        "[workers]\nlcores = [1]\n[[ports]]\nname = \"a\"\ndevargs = \"net_null0\"\nrole = \"guest\"\n",
    )
    .unwrap();
    let out = Command::new(bin("vswitch"))
        .arg("--config")
        .arg(&cfg)
        .arg("--check")
        .env("VSWITCH_METRICS__LISTEN", "bogus")
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(err.contains("metrics.listen"), "{err}");
    let out = Command::new(bin("vswitch"))
        .arg("--config")
        .arg(&cfg)
        .arg("--check")
        .env("VSWITCH_EAL__ARGS", "--no-huge -m 128")
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{text}");
    assert!(text.contains("--no-huge -m 128"), "{text}");
}

#[test]
fn sigterm_stops_cleanly_with_exit_0() {
    let dir = tempfile::tempdir().unwrap();
    let mut sw = idle_switch(dir.path());
    let socket = sw.socket.clone();
    let st = Command::new("kill")
        .args(["-TERM", &sw.pid().to_string()])
        .status()
        .unwrap();
    assert!(st.success());
    let (status, out) = sw.wait_exit(std::time::Duration::from_secs(20));
    assert_eq!(status.code(), Some(0), "{out:?}");
    assert!(
        out.iter().any(|l| l.contains("vswitch: stopped (signal)")),
        "{out:?}"
    );
    assert!(!socket.exists(), "the socket is removed on exit");
}
