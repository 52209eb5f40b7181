//! The state file: the switch's state document, written durably before each
//! accepted change is published and answered, and read back at start-up.
//!
//! A write goes to a temporary file in the same directory, is flushed to
//! disk (fsync), renamed over the state file, and the directory is flushed
//! too, so that after a crash the file holds either the old state or the new
//! one, never a mix. What a crash loses is the flow state (flows, NAT
//! bindings), never the configuration.

use engine::tables::Journal;
use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use vswitch_api::state::SwitchState;

/// Writes each accepted state to `path`, and holds `path.lock` while it
/// lives, so that two switches never share one state file.
#[derive(Debug)]
pub struct StateFile {
    path: PathBuf,
    /// Locked (`flock`) until the switch exits.
    _lock: File,
}

/// What `io::Error` says, without Rust's "(os error N)" tail.
fn reason(e: &io::Error) -> String {
    let text = e.to_string();
    match text.find(" (os error ") {
        Some(i) => text[..i].to_owned(),
        None => text,
    }
}

impl StateFile {
    /// A state file at `path`; its directory is created if missing. Refused
    /// while another switch holds it.
    pub fn new(path: &Path) -> Result<Self, String> {
        let dir = parent(path);
        fs::create_dir_all(dir).map_err(|e| {
            format!(
                "state.path {}: cannot create {}: {}",
                path.display(),
                dir.display(),
                reason(&e)
            )
        })?;
        let lock_path = path.with_extension("json.lock");
        let lock = OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(false)
            .open(&lock_path)
            .map_err(|e| {
                format!(
                    "state.path {}: cannot open {}: {}",
                    path.display(),
                    lock_path.display(),
                    reason(&e)
                )
            })?;
        rustix::fs::flock(&lock, rustix::fs::FlockOperation::NonBlockingLockExclusive).map_err(
            |e| {
                format!(
                    "state.path {}: another switch uses this state file ({} is locked: {e}); \
                     give each switch its own state.path",
                    path.display(),
                    lock_path.display()
                )
            },
        )?;
        Ok(StateFile {
            path: path.to_path_buf(),
            _lock: lock,
        })
    }

    /// Reads the state file: `Ok(None)` when there is none yet. A file that
    /// does not parse is an error naming the file and the fault (and is left
    /// as it is).
    pub fn read(&self) -> Result<Option<SwitchState>, String> {
        let text = match fs::read_to_string(&self.path) {
            Ok(t) => t,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
            Err(e) => {
                return Err(format!(
                    "state file {}: cannot read it: {}",
                    self.path.display(),
                    reason(&e)
                ))
            }
        };
        parse_state(&text).map(Some).map_err(|e| {
            format!(
                "state file {}: not a state document: {e} (the file is kept as it is; \
                 fix it, or move it away to start empty)",
                self.path.display()
            )
        })
    }

    /// Writes `state` durably: temporary file, fsync, rename, fsync of the
    /// directory.
    pub fn write_state(&self, state: &SwitchState) -> Result<(), String> {
        // Compact: the file is written at every change (`export` pretty-prints).
        let text = serde_json::to_vec(state)
            .map_err(|e| format!("state file: cannot encode the state: {e}"))?;
        let tmp = self.path.with_extension("json.tmp");
        let fail = |what: &str, e: io::Error| {
            format!(
                "state file {}: cannot {what}: {}",
                self.path.display(),
                reason(&e)
            )
        };
        let mut f = OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .open(&tmp)
            .map_err(|e| fail("create its temporary file", e))?;
        f.write_all(&text)
            .and_then(|()| f.write_all(b"\n"))
            .map_err(|e| fail("write", e))?;
        f.sync_all().map_err(|e| fail("flush it to disk", e))?;
        drop(f);
        fs::rename(&tmp, &self.path).map_err(|e| fail("rename its temporary file", e))?;
        File::open(parent(&self.path))
            .and_then(|d| d.sync_all())
            .map_err(|e| fail("flush its directory", e))?;
        Ok(())
    }

    /// Where it is.
    pub fn path(&self) -> &Path {
        &self.path
    }
}

/// Parses a state document; an error names the path of the field at fault
/// (`vnics[0].nic.mac: ...`).
fn parse_state(text: &str) -> Result<SwitchState, String> {
    let mut d = serde_json::Deserializer::from_str(text);
    let state = serde_path_to_error::deserialize(&mut d).map_err(|e| e.to_string())?;
    d.end().map_err(|e| e.to_string())?;
    Ok(state)
}

fn parent(path: &Path) -> &Path {
    match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    }
}

impl Journal for StateFile {
    fn write(&self, state: &SwitchState) -> Result<(), String> {
        self.write_state(state)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_written_state_reads_back_and_a_bad_file_is_kept() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("sub/state.json");
        let f = StateFile::new(&path).unwrap();
        assert_eq!(f.read().unwrap(), None, "no file yet");
        let mut s = SwitchState::empty("sled");
        s.generation = Some(7);
        f.write_state(&s).unwrap();
        assert_eq!(f.read().unwrap(), Some(s.clone()));
        assert!(!path.with_extension("json.tmp").exists());
        fs::write(&path, "{\"version\":1,\"role\":\"sled\",\"vnicz\":[]}").unwrap();
        let e = f.read().unwrap_err();
        assert!(e.contains("vnicz") && e.contains("kept"), "{e}");
        assert!(fs::read_to_string(&path).unwrap().contains("vnicz"));
        // A value that does not parse is named by its path.
        fs::write(
            &path,
            r#"{"version":1,"role":"sled","underlay":{"addr":"fd00::1","uplink":"up","nexthop_mac":"zz"}}"#,
        )
        .unwrap();
        let e = f.read().unwrap_err();
        assert!(
            e.contains(r#"underlay.nexthop_mac: "zz" is not a MAC address (aa:bb:cc:dd:ee:ff)"#),
            "{e}"
        );
        fs::write(&path, "{\"version\":1,\"role\":\"sled\"} x").unwrap();
        assert!(f.read().unwrap_err().contains("trailing characters"));
    }

    #[test]
    fn two_switches_never_share_a_state_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("state.json");
        let first = StateFile::new(&path).unwrap();
        let e = StateFile::new(&path).unwrap_err();
        assert!(e.contains("another switch uses this state file"), "{e}");
        drop(first);
        StateFile::new(&path).expect("free again once the first is gone");
    }

    #[test]
    fn a_state_that_cannot_be_written_is_an_error() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("state.json");
        let f = StateFile::new(&path).unwrap();
        // A directory where the temporary file would go.
        fs::create_dir(path.with_extension("json.tmp")).unwrap();
        let e = f.write_state(&SwitchState::empty("sled")).unwrap_err();
        assert!(e.contains("cannot create its temporary file"), "{e}");
    }
}
