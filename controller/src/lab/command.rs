//! Running the system tools `rudder up`/`down` drive (`ip`, `tc`, `ovs-vsctl`, ...) with errors
//! that carry the whole failing command line and its stderr.

use std::io;
use std::path::Path;
use std::process::Command;

/// A tool that could not run or reported failure.
#[derive(Debug, thiserror::Error)]
pub enum CommandError {
    #[error("`{command}` could not be started: {source} (is `{program}` installed? `make deps` installs it)")]
    Spawn { command: String, program: String, source: io::Error },
    #[error("`{command}` failed ({status}): {stderr}")]
    Failed { command: String, status: String, stderr: String },
}

impl CommandError {
    /// The tool's stderr, empty when it did not run.
    pub fn stderr(&self) -> &str {
        match self {
            CommandError::Failed { stderr, .. } => stderr,
            CommandError::Spawn { .. } => "",
        }
    }
}

/// `program arg arg ...`, quoting arguments with spaces, for messages.
pub fn display(cmd: &Command) -> String {
    let mut out = cmd.get_program().to_string_lossy().into_owned();
    for arg in cmd.get_args() {
        let arg = arg.to_string_lossy();
        if arg.is_empty() || arg.contains(' ') {
            out.push_str(&format!(" '{arg}'"));
        } else {
            out.push(' ');
            out.push_str(&arg);
        }
    }
    out
}

/// Runs `cmd` to completion; its stdout on success.
pub fn run(cmd: &mut Command) -> Result<String, CommandError> {
    let command = display(cmd);
    let output = cmd.stdin(std::process::Stdio::null()).output().map_err(|source| CommandError::Spawn {
        command: command.clone(),
        program: cmd.get_program().to_string_lossy().into_owned(),
        source,
    })?;
    if output.status.success() {
        Ok(String::from_utf8_lossy(&output.stdout).into_owned())
    } else {
        Err(CommandError::Failed {
            command,
            status: output.status.to_string(),
            stderr: String::from_utf8_lossy(&output.stderr).trim().to_string(),
        })
    }
}

/// `program args...` to completion.
pub fn run_args(program: &str, args: &[&str]) -> Result<String, CommandError> {
    run(Command::new(program).args(args))
}

/// Where `program` is on `PATH` (or in `/usr/sbin`, `/sbin`, which root's PATH sometimes lacks).
pub fn which(program: &str) -> Option<std::path::PathBuf> {
    if program.contains('/') {
        return Path::new(program).is_file().then(|| program.into());
    }
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .chain(["/usr/sbin".into(), "/sbin".into(), "/usr/bin".into()])
        .map(|dir| dir.join(program))
        .find(|candidate| candidate.is_file())
}

/// The last `lines` lines of a log file, for error messages ("" if it cannot be read).
pub fn log_tail(path: &Path, lines: usize) -> String {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    let all: Vec<&str> = text.lines().collect();
    all[all.len().saturating_sub(lines)..].join("\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_failing_command_reports_its_command_line_and_stderr() {
        let err = run(Command::new("sh").args(["-c", "echo oops >&2; exit 3"])).unwrap_err();
        let text = err.to_string();
        assert!(text.contains("sh -c 'echo oops >&2; exit 3'"), "{text}");
        assert!(text.contains("oops"), "{text}");
        assert_eq!(err.stderr(), "oops");
    }

    #[test]
    fn a_missing_program_names_itself() {
        let err = run_args("rudder-no-such-tool", &["x"]).unwrap_err();
        assert!(matches!(err, CommandError::Spawn { .. }));
        assert!(err.to_string().contains("`rudder-no-such-tool` installed?"), "{err}");
    }

    #[test]
    fn success_returns_stdout() {
        assert_eq!(run_args("echo", &["hi"]).unwrap(), "hi\n");
    }
}
