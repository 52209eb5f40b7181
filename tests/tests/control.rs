//! Every control command works, through the socket and through `vswitchctl`;
//! bad requests are refused with errors that say what is wrong, leave the
//! connection usable and the state untouched; several clients at once work.
//! The socket's limits hold: a cap on connections, an idle timeout, its mode
//! from the first moment, the callers of changes logged, and a shutdown that
//! does not need the socket file.

use std::io::{BufRead, BufReader};
use std::os::unix::fs::PermissionsExt;
use std::os::unix::net::UnixStream;
use std::process::Command;
use std::time::{Duration, Instant};
use vswitch_api::{Command as Cmd, Reply};
use vswitch_e2e::{bin, proc_status, typed, vni, Ctl, Vswitch, TEST_EAL};

fn idle_switch(dir: &std::path::Path) -> Vswitch {
    idle_switch_with(dir, &[])
}

/// An idle switch with extra environment (`VSWITCH_CFG__CONTROL__...` overrides, `RUST_LOG`).
fn idle_switch_with(dir: &std::path::Path, env: &[(&str, &str)]) -> Vswitch {
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
    Vswitch::start_with_env(dir, &toml, env)
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
            assert_eq!(s.api_version, 2);
            assert_eq!(s.role, "sled");
            assert!(s.dpdk_version.starts_with("22.11"));
            assert_eq!(
                s.ports.iter().map(|p| p.name.as_str()).collect::<Vec<_>>(),
                ["a", "b"]
            );
            assert_eq!(s.ports[0].driver, "net_null");
            // net_null hashes: with several workers each port has a queue
            // per worker, queue w polled by worker w, and the symmetric key
            // and the redirection table are programmed.
            let n = vswitch_e2e::e2e_workers();
            assert_eq!(s.workers.len(), n);
            for (w, info) in s.workers.iter().enumerate() {
                assert_eq!(info.lcore, 1 + w as u32);
                let q = w as u16;
                assert_eq!(
                    info.rx_queues,
                    vec![("a".to_string(), q), ("b".to_string(), q)]
                );
            }
            assert_eq!(s.generation, 0);
            if n > 1 {
                let line = |name: &str| {
                    sw.output
                        .iter()
                        .find(|l| l.contains(&format!(" {name} ")) && l.contains("role="))
                        .cloned()
                        .unwrap_or_default()
                };
                for p in ["a", "b"] {
                    let l = line(p);
                    assert!(
                        l.contains("rss=on(symmetric)") && l.contains("rxq=2"),
                        "{l}"
                    );
                }
            }
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
    assert_eq!(stats.workers.len(), vswitch_e2e::e2e_workers());
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
        assert_eq!(resp["version"], vswitch_api::API_VERSION, "{req}");
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
                for j in 0..50u8 {
                    // Each change is a new mapping: none is a no-op.
                    let cmd = if j % 2 == 0 {
                        Cmd::V2pSet {
                            vni: vni(100),
                            ip: std::net::Ipv4Addr::new(10, 0, i, j).into(),
                            mac: typed(&format!("a8:40:25:00:{i:02x}:{j:02x}")),
                            underlay: "fd00:1701:d:102::1".parse().unwrap(),
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
    match sw.request(Cmd::V2pList) {
        Reply::V2p { entries } => assert_eq!(entries.len(), 8 * 25, "and none was lost"),
        other => panic!("{other:?}"),
    }
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
        .env("VSWITCH_CFG__METRICS__LISTEN", "bogus")
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(err.contains("metrics.listen"), "{err}");
    let out = Command::new(bin("vswitch"))
        .arg("--config")
        .arg(&cfg)
        .arg("--check")
        .env("VSWITCH_CFG__EAL__ARGS", "--no-huge -m 128")
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{text}");
    assert!(text.contains("--no-huge -m 128"), "{text}");
}

#[test]
fn other_vswitch_variables_are_ignored_by_the_switch() {
    // vswitchctl's VSWITCH_SOCKET, the tests' VSWITCH_BIN_DIR and any other
    // VSWITCH_* name that is not VSWITCH_CFG__... neither stop the switch nor
    // change its configuration: it starts and answers on its configured socket.
    let dir = tempfile::tempdir().unwrap();
    let sw = idle_switch_with(
        dir.path(),
        &[
            ("VSWITCH_SOCKET", "/nonexistent/x.sock"),
            ("VSWITCH_BIN_DIR", "/nonexistent/bin"),
            ("VSWITCH_FOO", "bar"),
        ],
    );
    assert_eq!(sw.socket, dir.path().join("vswitch.sock"));
    match sw.request(Cmd::Status) {
        Reply::Status(s) => assert_eq!(s.role, "sled"),
        other => panic!("status: {other:?}"),
    }
    let (code, out, err) = ctl(&sw, &["status"]);
    assert_eq!(code, 0, "{out}{err}");
    let (status, _) = sw.shutdown();
    assert!(status.success());

    // The old spelling of an override is no longer read either.
    let cfg = dir.path().join("check.toml");
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
        .env("VSWITCH_SOCKET", "/nonexistent/x.sock")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
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

/// A raw connection and its reader, for watching what the switch sends unasked.
fn raw_connect(sw: &Vswitch) -> BufReader<UnixStream> {
    let s = UnixStream::connect(&sw.socket).expect("connect");
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    BufReader::new(s)
}

#[test]
fn connections_past_the_cap_are_refused_with_one_line() {
    let dir = tempfile::tempdir().unwrap();
    let sw = idle_switch_with(
        dir.path(),
        &[("VSWITCH_CFG__CONTROL__MAX_CONNECTIONS", "2")],
    );
    let mut a = sw.connect();
    let mut b = sw.connect();
    assert!(a.request(&Cmd::Status).ok);
    assert!(b.request(&Cmd::Status).ok);
    let threads = proc_status(sw.pid(), "Threads");

    // The third gets the refusal line unasked, then EOF.
    let mut c = raw_connect(&sw);
    let mut line = String::new();
    c.read_line(&mut line).unwrap();
    assert_eq!(
        line,
        "{\"version\":2,\"ok\":false,\"error\":\"too many control connections (2 open); try again later\"}\n"
    );
    line.clear();
    assert_eq!(c.read_line(&mut line).unwrap(), 0, "then EOF: {line:?}");
    // vswitchctl shows it as a refusal (exit 1), not a protocol error.
    let (code, _, err) = ctl(&sw, &["status"]);
    assert_eq!(code, 1);
    assert!(
        err.contains("too many control connections (2 open)"),
        "{err}"
    );
    // Twenty more refused ones started no thread.
    let refused: Vec<_> = (0..20).map(|_| raw_connect(&sw)).collect();
    for mut r in refused {
        line.clear();
        r.read_line(&mut line).unwrap();
        assert!(line.contains("too many control connections"), "{line}");
    }
    assert_eq!(proc_status(sw.pid(), "Threads"), threads);

    // Once one of the two closes, a new connection is served.
    drop(a);
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        if sw.connect().request(&Cmd::Status).ok {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the closed connection's place was never freed"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    assert!(
        b.request(&Cmd::Stats).ok,
        "the other connection still works"
    );
    let (status, _) = sw.shutdown();
    assert!(status.success());
}

#[test]
fn an_idle_connection_is_closed_while_a_busy_one_keeps_working() {
    let dir = tempfile::tempdir().unwrap();
    let sw = idle_switch_with(
        dir.path(),
        &[("VSWITCH_CFG__CONTROL__IDLE_TIMEOUT_SECS", "1")],
    );
    let mut idle = raw_connect(&sw);
    let t0 = Instant::now();
    let watcher = std::thread::spawn(move || {
        let mut line = String::new();
        idle.read_line(&mut line).expect("the switch writes why");
        let told = t0.elapsed();
        let mut rest = String::new();
        let eof = idle.read_line(&mut rest).expect("then closes");
        (line, told, eof, t0.elapsed())
    });
    // Busy: a request every 250 ms for 3 s, three times the idle timeout.
    let mut busy = sw.connect();
    while t0.elapsed() < Duration::from_secs(3) {
        let r = busy.request(&Cmd::Status);
        assert!(r.ok, "busy connection refused: {:?}", r.error);
        std::thread::sleep(Duration::from_millis(250));
    }
    let (line, told, eof, closed) = watcher.join().unwrap();
    let v: serde_json::Value = serde_json::from_str(&line).expect("one JSON line");
    assert_eq!(
        (v["version"].as_u64(), v["ok"].as_bool()),
        (Some(vswitch_api::API_VERSION as u64), Some(false))
    );
    assert_eq!(
        v["error"],
        "no request for 1 s; closing the idle connection"
    );
    assert!(
        told >= Duration::from_millis(900),
        "closed too early: {told:?}"
    );
    assert!(
        closed < Duration::from_secs(4),
        "closed too late: {closed:?}"
    );
    assert_eq!(eof, 0, "EOF after the line");
    assert!(busy.request(&Cmd::Status).ok);
    let (status, _) = sw.shutdown();
    assert!(status.success());
}

#[test]
fn the_socket_is_0660_and_nothing_else_is_left_beside_it() {
    let dir = tempfile::tempdir().unwrap();
    let sw = idle_switch(dir.path());
    let mode = std::fs::metadata(&sw.socket).unwrap().permissions().mode() & 0o7777;
    assert_eq!(mode, 0o660);
    // The harness keeps the switch's state file here too: its lock is the
    // state file's, not the socket's.
    let mut names: Vec<String> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| !n.starts_with("state.json"))
        .collect();
    names.sort();
    assert_eq!(names, ["vswitch.sock", "vswitch.toml"]);
    let (status, _) = sw.shutdown();
    assert!(status.success());
}

#[test]
fn changes_are_logged_with_the_callers_credentials() {
    let dir = tempfile::tempdir().unwrap();
    let mut sw = idle_switch_with(dir.path(), &[("RUST_LOG", "warn,vswitch::control=info")]);
    let run = |args: &[&str]| {
        let child = Command::new(bin("vswitchctl"))
            .arg("--socket")
            .arg(&sw.socket)
            .args(args)
            .stdout(std::process::Stdio::null())
            .spawn()
            .expect("run vswitchctl");
        let pid = child.id();
        let out = child.wait_with_output().unwrap();
        assert!(out.status.success(), "vswitchctl {args:?}");
        pid
    };
    let status_pid = run(&["status"]);
    let patch_pid = run(&["patch-set", "b", "a"]);
    let (uid, gid) = (
        proc_status(std::process::id(), "Uid"),
        proc_status(std::process::id(), "Gid"),
    );
    sw.wait_for_line(
        &format!("control: patch-set from uid={uid} gid={gid} pid={patch_pid}"),
        Duration::from_secs(10),
    );
    sw.collect_output();
    let logged: Vec<&String> = sw
        .output
        .iter()
        .filter(|l| l.contains("control: "))
        .collect();
    assert_eq!(logged.len(), 1, "only the change is logged: {logged:?}");
    assert!(
        !sw.output
            .iter()
            .any(|l| l.contains(&format!("pid={status_pid}"))),
        "a read-only command is not logged"
    );
    assert!(logged[0].contains("INFO"), "logged at info: {}", logged[0]);
    let (status, _) = sw.shutdown();
    assert!(status.success());
}

#[test]
fn sigterm_stops_even_when_the_socket_file_was_removed() {
    let dir = tempfile::tempdir().unwrap();
    let mut sw = idle_switch(dir.path());
    // A connected client does not hold shutdown up either.
    let _client: Ctl = sw.connect();
    std::fs::remove_file(&sw.socket).unwrap();
    let t0 = Instant::now();
    let st = Command::new("kill")
        .args(["-TERM", &sw.pid().to_string()])
        .status()
        .unwrap();
    assert!(st.success());
    let (status, out) = sw.wait_exit(Duration::from_secs(5));
    assert_eq!(status.code(), Some(0), "{out:?}");
    assert!(t0.elapsed() < Duration::from_secs(5));
    assert!(
        out.iter().any(|l| l.contains("vswitch: stopped (signal)")),
        "{out:?}"
    );
}
