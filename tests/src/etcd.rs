//! A real etcd (Debian's `etcd-server`) on loopback for a test: its own data
//! directory and ports, killed when dropped.

use crate::free_tcp_port;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// A running etcd.
pub struct Etcd {
    child: Option<Child>,
    /// Its client URL (`http://127.0.0.1:PORT`).
    pub url: String,
    args: Vec<String>,
}

impl Etcd {
    /// Starts etcd with its data in `dir`, and waits until it answers.
    pub fn start(dir: &Path) -> Etcd {
        let (client, peer) = (free_tcp_port(), free_tcp_port());
        let url = format!("http://127.0.0.1:{client}");
        let peer_url = format!("http://127.0.0.1:{peer}");
        let args = vec![
            "--name".to_string(),
            "t".into(),
            "--data-dir".into(),
            dir.join("etcd").display().to_string(),
            "--listen-client-urls".into(),
            url.clone(),
            "--advertise-client-urls".into(),
            url.clone(),
            "--listen-peer-urls".into(),
            peer_url.clone(),
            "--initial-advertise-peer-urls".into(),
            peer_url.clone(),
            "--initial-cluster".into(),
            format!("t={peer_url}"),
        ];
        let mut e = Etcd {
            child: None,
            url,
            args,
        };
        e.resume();
        e
    }

    /// Stops it (the data directory stays).
    pub fn stop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    /// Starts it again on the same data and ports, and waits until it answers.
    pub fn resume(&mut self) {
        let child = Command::new("etcd")
            .args(&self.args)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start etcd (apt-get install etcd-server)");
        self.child = Some(child);
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            let ok = Command::new("etcdctl")
                .env("ETCDCTL_API", "3")
                .args(["--endpoints", &self.url, "endpoint", "health"])
                .output()
                .is_ok_and(|o| o.status.success());
            if ok {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "etcd did not come up at {}",
                self.url
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// The keys under `prefix`, as `etcdctl get --prefix --keys-only` lists them.
    pub fn keys(&self, prefix: &str) -> Vec<String> {
        let o = Command::new("etcdctl")
            .env("ETCDCTL_API", "3")
            .args([
                "--endpoints",
                &self.url,
                "get",
                "--prefix",
                "--keys-only",
                prefix,
            ])
            .output()
            .expect("run etcdctl");
        String::from_utf8_lossy(&o.stdout)
            .lines()
            .filter(|l| !l.is_empty())
            .map(str::to_string)
            .collect()
    }
}

impl Etcd {
    /// Runs `etcdctl ARGS` against it; its stdout (panics on failure).
    pub fn etcdctl(&self, args: &[&str]) -> String {
        let o = Command::new("etcdctl")
            .env("ETCDCTL_API", "3")
            .args(["--endpoints", &self.url])
            .args(args)
            .output()
            .expect("run etcdctl");
        assert!(
            o.status.success(),
            "etcdctl {args:?}: {}",
            String::from_utf8_lossy(&o.stderr)
        );
        String::from_utf8_lossy(&o.stdout).into_owned()
    }

    /// The store's current revision.
    pub fn revision(&self) -> i64 {
        let v: serde_json::Value =
            serde_json::from_str(&self.etcdctl(&["endpoint", "status", "-w", "json"]))
                .expect("endpoint status JSON");
        v[0]["Status"]["header"]["revision"]
            .as_i64()
            .expect("a revision")
    }

    /// Runs `vswitch-fabric --etcd URL ARGS`.
    pub fn fabric(&self, args: &[&str]) -> std::process::Output {
        Command::new(crate::bin("vswitch-fabric"))
            .args(["--etcd", &self.url])
            .args(args)
            .output()
            .expect("run vswitch-fabric")
    }

    /// Runs a `vswitch-fabric` command that must succeed; its stdout.
    pub fn fabric_ok(&self, args: &[&str]) -> String {
        let o = self.fabric(args);
        assert!(
            o.status.success(),
            "vswitch-fabric {args:?}: {}{}",
            String::from_utf8_lossy(&o.stdout),
            String::from_utf8_lossy(&o.stderr)
        );
        String::from_utf8_lossy(&o.stdout).trim().to_string()
    }

    /// Writes `value` to a file and runs `vswitch-fabric CMD FILE` (`nic-put`,
    /// `tables-set`), which must succeed.
    pub fn fabric_put(&self, cmd: &str, value: &serde_json::Value) -> String {
        let f = tempfile::NamedTempFile::new().expect("temp file");
        std::fs::write(f.path(), value.to_string()).expect("write");
        self.fabric_ok(&[cmd, &f.path().display().to_string()])
    }
}

impl Drop for Etcd {
    fn drop(&mut self) {
        self.stop();
    }
}
