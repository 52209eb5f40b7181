//! The fabric's underlay DNS server (`vswitch-fabric dns`) as the tests run
//! it, and `dig` at it.

use std::process::Command;
use std::time::Duration;

/// The DNS server, killed when dropped.
pub struct Dns(pub std::process::Child);

impl Dns {
    /// `vswitch-fabric dns` for zone `zone` on 127.0.0.1:`port`, following
    /// the etcd at `etcd_url`.
    pub fn start(etcd_url: &str, zone: &str, port: u16) -> Dns {
        Dns(Command::new(crate::bin("vswitch-fabric"))
            .args(["--etcd", etcd_url, "dns", "--zone", zone])
            .args(["--listen", &format!("127.0.0.1:{port}")])
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .expect("start vswitch-fabric dns"))
    }
}

impl Drop for Dns {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// `dig` at the fabric's DNS server: the answer's status and addresses.
pub fn dig(port: u16, name: &str, rtype: &str) -> (String, Vec<String>) {
    let o = Command::new("dig")
        .args(["@127.0.0.1", "-p", &port.to_string(), "+tries=1", "+time=2"])
        .args([name, rtype])
        .output()
        .expect("run dig (apt-get install dnsutils)");
    let text = String::from_utf8_lossy(&o.stdout).into_owned();
    let status = text
        .split("status: ")
        .nth(1)
        .and_then(|s| s.split(',').next())
        .unwrap_or("no answer")
        .to_string();
    let answers = text
        .split(";; ANSWER SECTION:")
        .nth(1)
        .map(|a| {
            a.lines()
                .skip(1)
                .take_while(|l| !l.trim().is_empty())
                .filter_map(|l| l.split_whitespace().last().map(str::to_string))
                .collect()
        })
        .unwrap_or_default();
    (status, answers)
}

/// Asks until the answer is `want` (the watch takes a moment), or fails.
pub fn dig_until(port: u16, name: &str, want: (&str, &[&str])) {
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    loop {
        let (status, answers) = dig(port, name, "AAAA");
        if status == want.0 && answers == want.1 {
            return;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "{name}: {status} {answers:?}, want {want:?}"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}
