//! `vswitchctl` as a test drives it: a command's success and output, a
//! refusal that must leave the state as it was, `--json` answers.

use crate::{bin, Vswitch};
use std::process::Command;

/// Runs `vswitchctl ARGS` against `sw`: (success, stdout, stderr).
pub fn ctl(sw: &Vswitch, args: &[&str]) -> (bool, String, String) {
    let o = Command::new(bin("vswitchctl"))
        .arg("--socket")
        .arg(&sw.socket)
        .args(args)
        .output()
        .expect("run vswitchctl");
    (
        o.status.success(),
        String::from_utf8_lossy(&o.stdout).into_owned(),
        String::from_utf8_lossy(&o.stderr).into_owned(),
    )
}

/// Runs a command that must succeed; returns its output.
pub fn ok(sw: &Vswitch, args: &[&str]) -> String {
    let (good, out, err) = ctl(sw, args);
    assert!(good, "{args:?}: {out}{err}");
    out
}

/// Runs a command that must be refused with a message containing `want`,
/// and checks that the state document did not change.
pub fn refused(sw: &Vswitch, args: &[&str], want: &str) {
    let before = ok(sw, &["export"]);
    let (good, out, err) = ctl(sw, args);
    assert!(!good, "{args:?} was accepted: {out}");
    assert!(err.contains(want), "{args:?}: {want:?} not in {err}");
    assert_eq!(
        ok(sw, &["export"]),
        before,
        "a refused command changes nothing"
    );
}

/// Runs a command with `--json`; returns the parsed answer.
pub fn json(sw: &Vswitch, args: &[&str]) -> serde_json::Value {
    let mut a = vec!["--json"];
    a.extend_from_slice(args);
    serde_json::from_str(&ok(sw, &a)).expect("--json prints JSON")
}

/// The states (`active`, `blackhole`) of the NIC routes of the VNIC of
/// `port` (a port name or `nic:ID`), as `layers` shows them.
pub fn route_states(sw: &Vswitch, port: &str) -> Vec<String> {
    let l = json(sw, &["layers", port]);
    l["layers"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|l| l["name"] == "router")
        .flat_map(|l| l["rules"].as_array().cloned().unwrap_or_default())
        .filter_map(|r| r["state"].as_str().map(str::to_string))
        .collect()
}
