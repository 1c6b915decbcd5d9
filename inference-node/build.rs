//! Build info for `GET /info`: the git hash (from `RUDDER_GIT_HASH`, else `git rev-parse`) and the
//! tract version recorded in the workspace lockfile.

use std::path::Path;
use std::process::Command;

fn main() {
    println!("cargo:rerun-if-env-changed=RUDDER_GIT_HASH");
    let hash = std::env::var("RUDDER_GIT_HASH").ok().filter(|h| !h.is_empty()).or_else(|| {
        let out = Command::new("git").args(["rev-parse", "--short=12", "HEAD"]).output().ok()?;
        out.status.success().then(|| String::from_utf8_lossy(&out.stdout).trim().to_owned())
    });
    if let Some(hash) = hash.filter(|h| !h.is_empty()) {
        println!("cargo:rustc-env=RUDDER_GIT_HASH={hash}");
    }
    let lock = Path::new(env!("CARGO_MANIFEST_DIR")).join("../Cargo.lock");
    println!("cargo:rerun-if-changed={}", lock.display());
    let tract = std::fs::read_to_string(&lock)
        .ok()
        .and_then(|text| {
            let mut lines = text.lines();
            lines.find(|l| l.trim() == "name = \"tract-onnx\"")?;
            let version = lines.next()?.trim().strip_prefix("version = \"")?.strip_suffix('"')?.to_owned();
            Some(version)
        })
        .unwrap_or_else(|| "unknown".into());
    println!("cargo:rustc-env=RUDDER_TRACT_VERSION={tract}");
}
