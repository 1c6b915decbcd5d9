//! Processes `rudder up` starts and `rudder down` stops: spawned detached with their output in a
//! log file, recorded with their kernel start time, and signalled only while that start time still
//! matches, so a PID the kernel has since given to another program is never killed.

use std::fs::File;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};

/// One process `rudder up` started.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProcessRecord {
    /// What it is: `controller`, `node`, `relay`, `ovs-vswitchd`, `ovsdb-server`.
    pub role: String,
    /// Which one (the host name for nodes).
    pub name: String,
    pub pid: u32,
    /// Field 22 of `/proc/PID/stat`: clock ticks after boot when it started.
    pub start_time: u64,
}

/// What `/proc/PID/stat` says: the start time, and whether the process is a zombie (exited and
/// waiting to be reaped: it holds no resources, and signals no longer reach it).
fn stat(pid: u32) -> Option<(u64, bool)> {
    let text = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name (field 2) may hold spaces and parentheses: fields after it follow the last ')'.
    let rest = &text[text.rfind(')')? + 1..];
    let fields: Vec<&str> = rest.split_whitespace().collect();
    // `rest` starts at field 3 (state), so field 22 is index 19.
    let state = *fields.first()?;
    let start = fields.get(19)?.parse().ok()?;
    Some((start, state == "Z" || state == "X"))
}

/// The kernel start time of `pid`, if it exists.
pub fn start_time(pid: u32) -> Option<u64> {
    stat(pid).map(|(start, _)| start)
}

impl ProcessRecord {
    /// Records a running process; `None` if it already exited.
    pub fn of(role: &str, name: &str, pid: u32) -> Option<ProcessRecord> {
        let (start_time, zombie) = stat(pid)?;
        (!zombie).then(|| ProcessRecord { role: role.to_string(), name: name.to_string(), pid, start_time })
    }

    /// Whether this very process (same PID and start time) is still running.
    pub fn is_running(&self) -> bool {
        stat(self.pid).is_some_and(|(start, zombie)| start == self.start_time && !zombie)
    }

    /// SIGTERM, then SIGKILL after `grace`; does nothing if the process is gone or the PID was
    /// reused. True once it is gone.
    pub fn stop(&self, grace: Duration) -> bool {
        if !self.is_running() {
            return true;
        }
        let pid = self.pid.to_string();
        let _ = Command::new("kill").args(["-TERM", &pid]).stderr(Stdio::null()).status();
        let deadline = Instant::now() + grace;
        while self.is_running() && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(20));
        }
        if self.is_running() {
            let _ = Command::new("kill").args(["-KILL", &pid]).stderr(Stdio::null()).status();
            let deadline = Instant::now() + Duration::from_secs(2);
            while self.is_running() && Instant::now() < deadline {
                std::thread::sleep(Duration::from_millis(20));
            }
        }
        !self.is_running()
    }
}

/// Starts `cmd` in a process group of its own (so Ctrl-C on `rudder up` does not reach it and it
/// outlives `rudder up`), stdin closed, stdout and stderr appended to `log`.
pub fn spawn_detached(mut cmd: Command, log: &Path) -> std::io::Result<u32> {
    use std::os::unix::process::CommandExt;
    let out = File::options().create(true).append(true).open(log)?;
    let err = out.try_clone()?;
    let child = cmd.stdin(Stdio::null()).stdout(out).stderr(err).process_group(0).spawn()?;
    // The child is not waited for: `rudder up` exits, and init reaps it when it ends.
    Ok(child.id())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn our_own_process_is_recorded_and_running() {
        let me = ProcessRecord::of("test", "self", std::process::id()).expect("this process exists");
        assert!(me.is_running());
        let recycled = ProcessRecord { start_time: me.start_time + 1, ..me.clone() };
        assert!(!recycled.is_running(), "a PID with another start time is another process");
        assert!(
            recycled.stop(Duration::from_millis(10)),
            "stopping a recycled PID does nothing and reports gone"
        );
        assert!(me.is_running(), "and never signals the process that now has the PID");
    }

    #[test]
    fn a_spawned_process_is_stopped_by_its_record() {
        let dir = std::env::temp_dir().join(format!("rudder-proc-test-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let log = dir.join("sleep.log");
        let mut cmd = Command::new("sh");
        cmd.args(["-c", "echo started; exec sleep 30"]);
        let pid = spawn_detached(cmd, &log).unwrap();
        let record = ProcessRecord::of("test", "sleep", pid).expect("just started");
        // Its output reaches the log (waited for before stopping it, so the echo has run).
        let deadline = Instant::now() + Duration::from_secs(5);
        while !std::fs::read_to_string(&log).unwrap_or_default().contains("started")
            && Instant::now() < deadline
        {
            std::thread::sleep(Duration::from_millis(10));
        }
        assert!(std::fs::read_to_string(&log).unwrap().contains("started"), "output goes to the log");
        assert!(record.is_running());
        assert!(record.stop(Duration::from_secs(5)));
        assert!(!record.is_running());
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn a_missing_pid_is_not_running() {
        assert!(ProcessRecord::of("test", "none", u32::MAX - 1).is_none());
        assert_eq!(start_time(u32::MAX - 1), None);
    }
}
