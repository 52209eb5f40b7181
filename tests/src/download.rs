//! A long download on one TCP connection, for tests that change the
//! network under it: a server that paces what it sends (python3, in a
//! namespace), and a `curl` that reports its connections and bytes.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// An HTTP server (on port 8080 of address argv[1]) that sends the file
/// argv[2] at 6 MB/s. The pace is the sender's, so that the receiver sends
/// nothing but ACKs of what reaches it: after a pause of the receiver, the
/// first segment of the connection is the sender's (a receiver that paced
/// itself would open its window first).
const PACED_SERVER: &str = r#"
import http.server, sys, time
blob = open(sys.argv[2], 'rb').read()
class H(http.server.BaseHTTPRequestHandler):
    def do_HEAD(self):
        self.send_response(200)
        self.send_header('Content-Length', str(len(blob)))
        self.end_headers()
    def do_GET(self):
        self.send_response(200)
        self.send_header('Content-Length', str(len(blob)))
        self.end_headers()
        step, t0 = 65536, time.time()
        for i in range(0, len(blob), step):
            self.wfile.write(blob[i:i + step])
            ahead = (i + step) / 6e6 - (time.time() - t0)
            if ahead > 0:
                time.sleep(ahead)
    def log_message(self, *a):
        pass
http.server.ThreadingHTTPServer((sys.argv[1], 8080), H).serve_forever()
"#;

/// `len` bytes that no two offsets of a short period share.
pub fn blob(len: usize, seed: u32) -> Vec<u8> {
    (0..len as u32)
        .map(|i| (i.wrapping_mul(2_654_435_761).wrapping_add(seed) >> 13) as u8)
        .collect()
}

/// The paced server, killed when dropped.
pub struct PacedServer(Child);

impl PacedServer {
    /// Serves `file` from namespace `ns` on `ip`:8080.
    pub fn start(ns: &str, ip: &str, file: &Path) -> PacedServer {
        PacedServer(
            Command::new("ip")
                .args(["netns", "exec", ns, "python3", "-c", PACED_SERVER, ip])
                .arg(file)
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .expect("start python3"),
        )
    }
}

impl Drop for PacedServer {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// A download under way.
pub struct Download {
    child: Child,
    /// Where the bytes go.
    pub out: PathBuf,
}

impl Download {
    /// Waits until `url` answers from namespace `ns`, then starts
    /// downloading it into `out`.
    pub fn start(ns: &str, url: &str, out: PathBuf) -> Download {
        let deadline = Instant::now() + Duration::from_secs(20);
        while !Command::new("ip")
            .args(["netns", "exec", ns, "curl", "-sf", "-o", "/dev/null"])
            .args(["--max-time", "2", "-I", url])
            .status()
            .is_ok_and(|s| s.success())
        {
            assert!(Instant::now() < deadline, "{url} does not answer");
            std::thread::sleep(Duration::from_millis(200));
        }
        let child = Command::new("ip")
            .args(["netns", "exec", ns, "curl", "-sS"])
            .args(["--max-time", "60", "-w", "%{num_connects} %{size_download}"])
            .arg("-o")
            .arg(&out)
            .arg(url)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start curl");
        Download { child, out }
    }

    /// Waits for the end: `Ok((connections, bytes))`, or curl's complaint.
    pub fn finish(self) -> Result<(u64, u64), String> {
        let o = self.child.wait_with_output().map_err(|e| e.to_string())?;
        let summary = String::from_utf8_lossy(&o.stdout).into_owned();
        if !o.status.success() {
            return Err(format!("{summary} {}", String::from_utf8_lossy(&o.stderr)));
        }
        let mut it = summary.split_whitespace().map(|x| x.parse::<u64>());
        match (it.next(), it.next()) {
            (Some(Ok(c)), Some(Ok(b))) => Ok((c, b)),
            _ => Err(format!("curl said {summary:?}")),
        }
    }
}
