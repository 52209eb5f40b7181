//! The state document through `vswitchctl`: `export` prints the state in
//! force, `apply` replaces it whole (JSON or TOML), refuses a bad document
//! with every error and changes nothing, `--dry-run` publishes nothing,
//! `--if-generation` refuses a stale writer; and the state file: a switch
//! restarted in place comes back with its state and generation, and a state
//! file that does not parse or validate stops start-up, naming the fault,
//! and is kept.

use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};
use vswitch_api::state::SwitchState;
use vswitch_api::{Command as Cmd, Reply};
use vswitch_e2e::{bin, Vswitch, TEST_EAL};

fn config() -> String {
    format!(
        r#"
[eal]
{TEST_EAL}
[workers]
lcores = [1]
[[ports]]
name = "up"
devargs = "net_null0,no-rx=1"
role = "uplink"
[[ports]]
name = "a"
devargs = "net_null1,no-rx=1"
role = "guest"
[[ports]]
name = "b"
devargs = "net_null2,no-rx=1"
role = "guest"
"#
    )
}

fn ctl(sw: &Vswitch, args: &[&str]) -> Output {
    Command::new(bin("vswitchctl"))
        .arg("--socket")
        .arg(&sw.socket)
        .args(args)
        .output()
        .expect("run vswitchctl")
}

fn text(o: &Output) -> (String, String) {
    (
        String::from_utf8_lossy(&o.stdout).into_owned(),
        String::from_utf8_lossy(&o.stderr).into_owned(),
    )
}

fn export(sw: &Vswitch) -> (u64, SwitchState) {
    match sw.request(Cmd::Export) {
        Reply::State { generation, state } => (generation, *state),
        other => panic!("{other:?}"),
    }
}

/// A sled with a VNIC on `a`, a route, a pool, a gateway and a V2P entry,
/// as TOML.
const GOOD: &str = r#"
version = 1
role = "sled"

[underlay]
addr = "fd00:1701:d:101::1"
uplink = "up"
nexthop_mac = "02:00:00:00:00:fe"

[[vnics]]
routes = [{ dest = "0.0.0.0/0", target = "igw:4" }]
[vnics.nic]
port = "a"
id = 1
vni = 100
mac = "A8:40:25:00:00:05"
ipv4 = "172.30.0.5"
gateway_mac = "a8:40:25:00:00:01"
gateway_ipv4 = "172.30.0.1"

[[v2p]]
vni = 100
ip = "172.30.0.6"
mac = "a8:40:25:00:00:06"
underlay = "fd00:1701:d:102::1"

[[pools]]
name = "public"
ranges = ["192.0.2.0/28"]

[[igws]]
id = 4
pools = ["public"]
"#;

#[test]
fn export_apply_dry_run_and_generations_through_vswitchctl() {
    let dir = tempfile::tempdir().unwrap();
    let sw = Vswitch::start(dir.path(), &config());
    let (g0, empty) = export(&sw);
    assert!(empty.nics.is_empty());

    // A TOML document, applied whole as one generation.
    let good = dir.path().join("good.toml");
    std::fs::write(&good, GOOD).unwrap();
    let o = ctl(&sw, &["apply", good.to_str().unwrap()]);
    let (out, err) = text(&o);
    assert!(o.status.success(), "{out}{err}");
    // A version-1 document's VNIC is read as what vnic-create makes today.
    assert!(
        out.contains("+ nic 1") && out.contains("+ instance vnic:a") && out.contains("+ igw 4"),
        "{out}"
    );
    assert!(out.contains("epochs move: a"), "{out}");
    assert!(
        out.contains(&format!("applied as generation {}", g0 + 1)),
        "{out}"
    );
    let (g1, st) = export(&sw);
    assert_eq!(g1, g0 + 1);
    assert_eq!(st.generation, Some(g1));
    assert_eq!(
        st.nics[0].nic.mac.to_string(),
        "a8:40:25:00:00:05",
        "MACs are written one way"
    );
    match sw.request(Cmd::VnicList) {
        Reply::Vnics { vnics } => assert_eq!(vnics.len(), 1),
        other => panic!("{other:?}"),
    }

    // `vswitchctl export` prints a document `apply` takes back unchanged.
    let o = ctl(&sw, &["export"]);
    let exported = dir.path().join("exported.json");
    std::fs::write(&exported, &o.stdout).unwrap();
    let o = ctl(&sw, &["apply", exported.to_str().unwrap()]);
    let (out, _) = text(&o);
    assert!(
        out.contains("no change") && out.contains("not applied"),
        "{out}"
    );
    assert_eq!(export(&sw).0, g1, "the same state is no new generation");

    // A bad document: every error, each naming its object and field; nothing changes.
    let mut bad: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&exported).unwrap()).unwrap();
    assert_eq!(bad["pools"][0]["ranges"][0], "192.0.2.0-192.0.2.15");
    bad["nics"][0]["nic"]["mac"] = "ff:ff:ff:ff:ff:ff".into();
    bad["nics"][0]["routes"][0]["target"] = "igw:5".into();
    bad["underlay"]["uplink"] = "a".into();
    bad["pools"][0]["ranges"] = serde_json::json!(["192.0.2.0/28", "192.0.2.3"]);
    let bad_path = dir.path().join("bad.json");
    std::fs::write(&bad_path, bad.to_string()).unwrap();
    let o = ctl(&sw, &["apply", bad_path.to_str().unwrap()]);
    let (out, err) = text(&o);
    assert_eq!(o.status.code(), Some(1), "{out}{err}");
    for want in [
        "4 errors",
        "- vnic \"a\": mac: mac and gateway_mac must be unicast addresses (ff:ff:ff:ff:ff:ff is not)",
        "- vnic \"a\": routes[0]: unknown gateway igw:5",
        "- underlay: uplink: port \"a\" is a guest port, not an uplink port",
        "- pool \"public\": range 192.0.2.3 overlaps range 192.0.2.0-192.0.2.15 of the same pool",
    ] {
        assert!(err.contains(want), "{want:?} not in:\n{err}");
    }
    assert_eq!(
        export(&sw),
        (g1, st.clone()),
        "a refused apply changes nothing"
    );

    // A value that does not parse is refused where it is read, named by its
    // path: by vswitchctl, which sends nothing, and by the switch, for a
    // request that another client sends.
    bad["nics"][0]["nic"]["mac"] = "zz".into();
    std::fs::write(&bad_path, bad.to_string()).unwrap();
    let o = ctl(&sw, &["apply", bad_path.to_str().unwrap()]);
    let (out, err) = text(&o);
    assert_eq!(o.status.code(), Some(2), "{out}{err}");
    assert!(
        err.contains(r#"not a state document: nics[0].nic.mac: "zz" is not a MAC address (aa:bb:cc:dd:ee:ff)"#),
        "{err}"
    );
    let line = serde_json::json!({"version": 2, "command": "apply", "state": bad}).to_string();
    let o = ctl(&sw, &["raw", &line]);
    let (out, err) = text(&o);
    assert_eq!(o.status.code(), Some(1), "{out}{err}");
    let reply: vswitch_api::Response = serde_json::from_str(out.trim()).unwrap();
    assert_eq!(
        reply.error.as_deref(),
        Some(r#"apply: state.nics[0].nic.mac: "zz" is not a MAC address (aa:bb:cc:dd:ee:ff)"#)
    );
    assert_eq!(export(&sw).0, g1, "nothing changes");

    // --dry-run says what would change and publishes nothing.
    let mut more: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&exported).unwrap()).unwrap();
    more["igws"][0]["ranges"] = serde_json::json!([]);
    more["igws"]
        .as_array_mut()
        .unwrap()
        .push(serde_json::json!({"id": 9}));
    more["v2p"] = serde_json::json!([]);
    let more_path = dir.path().join("more.json");
    std::fs::write(&more_path, more.to_string()).unwrap();
    let o = ctl(&sw, &["apply", "--dry-run", more_path.to_str().unwrap()]);
    let (out, err) = text(&o);
    assert!(o.status.success(), "{out}{err}");
    assert!(out.contains("+ igw 9"), "{out}");
    assert!(out.contains("- v2p 100/172.30.0.6"), "{out}");
    assert!(
        out.contains("epochs move: a"),
        "the V2P change moves a: {out}"
    );
    assert!(
        out.contains(&format!("not applied (generation {g1}")),
        "{out}"
    );
    assert_eq!(export(&sw).0, g1);

    // --if-generation: a writer that read an older generation is refused.
    let stale = (g1 - 1).to_string();
    let o = ctl(
        &sw,
        &[
            "apply",
            "--if-generation",
            &stale,
            more_path.to_str().unwrap(),
        ],
    );
    let (_, err) = text(&o);
    assert_eq!(o.status.code(), Some(1));
    assert!(
        err.contains(&format!(
            "the state in force is generation {g1}, not {stale}"
        )),
        "{err}"
    );
    let now = g1.to_string();
    let o = ctl(
        &sw,
        &[
            "apply",
            "--if-generation",
            &now,
            more_path.to_str().unwrap(),
        ],
    );
    assert!(o.status.success(), "{:?}", text(&o));
    assert_eq!(export(&sw).0, g1 + 1);

    // Restarted in place, it comes back with its state and generation.
    let before = export(&sw);
    let (st, _) = sw.shutdown();
    assert!(st.success());
    let sw = Vswitch::start(dir.path(), &config());
    assert_eq!(export(&sw), before, "the state file brought it back");
    match sw.request(Cmd::VnicList) {
        Reply::Vnics { vnics } => assert_eq!(vnics.len(), 1),
        other => panic!("{other:?}"),
    }
    let (st, _) = sw.shutdown();
    assert!(st.success());
}

/// Starts `vswitch` on `dir`'s config expecting it to stop; returns what it said.
fn start_fails(dir: &Path) -> String {
    let mut child = Command::new(bin("vswitch"))
        .arg("--config")
        .arg(dir.join("vswitch.toml"))
        .env("RUST_LOG", "warn")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(30);
    while child.try_wait().unwrap().is_none() {
        assert!(Instant::now() < deadline, "vswitch kept running");
        std::thread::sleep(Duration::from_millis(50));
    }
    let o = child.wait_with_output().unwrap();
    assert!(!o.status.success());
    let (out, err) = text(&o);
    format!("{out}{err}")
}

#[test]
fn a_bad_state_file_stops_start_up_and_is_kept() {
    let dir = tempfile::tempdir().unwrap();
    let sw = Vswitch::start(dir.path(), &config());
    let (st, _) = sw.shutdown();
    assert!(st.success());
    let state = dir.path().join("state.json");

    // Not a document: the parser's word, and the file as it was.
    std::fs::write(&state, "{\"version\":1,\"role\":\"sled\",\"vnicz\":[]}").unwrap();
    let said = start_fails(dir.path());
    assert!(
        said.contains("state file") && said.contains("vnicz"),
        "{said}"
    );
    assert!(said.contains("kept"), "{said}");
    assert!(std::fs::read_to_string(&state).unwrap().contains("vnicz"));

    // A document that does not validate: each object and field named.
    let mut doc: serde_json::Value = toml::from_str(GOOD).unwrap();
    doc["vnics"][0]["nic"]["port"] = "zz".into(); // a version-1 file
    doc["igws"][0]["pools"][0] = "private".into();
    let text = doc.to_string();
    std::fs::write(&state, &text).unwrap();
    let said = start_fails(dir.path());
    assert!(said.contains("2 errors"), "{said}");
    assert!(
        said.contains("vnic \"zz\": port: unknown port \"zz\""),
        "{said}"
    );
    assert!(
        said.contains("igw 4: pools: unknown pool \"private\""),
        "{said}"
    );
    assert_eq!(
        std::fs::read_to_string(&state).unwrap(),
        text,
        "the file is kept"
    );
}
