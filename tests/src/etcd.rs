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

impl Drop for Etcd {
    fn drop(&mut self) {
        self.stop();
    }
}
