//! Guests as Linux network namespaces: set-up, commands inside them, and the
//! repository's DHCP client run in one. Needs root, `ip`, `dhclient`.

use std::path::Path;
use std::process::Command;

/// A guest: its namespace, the TAP interface moved into it, MAC and IP.
pub struct Guest {
    /// Namespace name.
    pub ns: String,
    /// Interface name (a net_tap port's).
    pub iface: String,
    /// MAC address.
    pub mac: &'static str,
    /// IPv4 address.
    pub ip: &'static str,
}

/// Removes the namespaces on drop, whatever happened.
pub struct Namespaces(pub Vec<String>);

impl Drop for Namespaces {
    fn drop(&mut self) {
        for ns in &self.0 {
            let _ = Command::new("ip").args(["netns", "del", ns]).status();
        }
    }
}

/// Runs a command; panics with its output unless it succeeds; returns stdout.
pub fn sh(args: &[&str]) -> String {
    let out = Command::new(args[0])
        .args(&args[1..])
        .output()
        .expect("run command");
    assert!(
        out.status.success(),
        "{args:?} failed: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Runs a command inside namespace `ns`.
pub fn in_ns(ns: &str, args: &[&str]) -> String {
    let mut v = vec!["ip", "netns", "exec", ns];
    v.extend_from_slice(args);
    sh(&v)
}

/// Runs the repository's guest DHCP client set-up (the same as the demo's) in
/// the guest's namespace, and returns the lease it recorded.
pub fn dhcp(dir: &Path, g: &Guest) -> String {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let script = root.join("scripts/guest-dhclient-script");
    let conf = root.join("configs/guest-dhclient.conf");
    let record = Path::new("/run/vswitch-dhcp").join(format!("{}.lease", g.iface));
    let _ = std::fs::remove_file(&record);
    let pf = dir.join(format!("{}-{}.pid", g.ns, g.iface));
    let lf = dir.join(format!("{}-{}.leases", g.ns, g.iface));
    in_ns(
        &g.ns,
        &[
            "timeout",
            "40",
            "dhclient",
            "-1",
            "-4",
            "-cf",
            conf.to_str().unwrap(),
            "-sf",
            script.to_str().unwrap(),
            "-pf",
            pf.to_str().unwrap(),
            "-lf",
            lf.to_str().unwrap(),
            &g.iface,
        ],
    );
    // dhclient leaves a daemon behind after a successful -1 run.
    if let Ok(pid) = std::fs::read_to_string(&pf) {
        let _ = Command::new("kill").arg(pid.trim()).status();
    }
    let lease = std::fs::read_to_string(&record).expect("the DHCP lease was recorded");
    let _ = std::fs::remove_file(&record);
    lease
}
