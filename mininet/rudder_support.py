"""Processes and system pieces the Mininet runner starts next to the network, without Mininet.

Owns: finding the `rudder` and `rudder-node` binaries, making sure the system Open vSwitch runs
(Mininet only drives the system instance), running `rudder serve` with the topology's config, CPU
limits for inference nodes through cgroups, and stopping each of those again (processes by PID).
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

import rudder_topology

OVS_CTL = '/usr/share/openvswitch/scripts/ovs-ctl'
REPO = Path(__file__).resolve().parent.parent


class RunError(RuntimeError):
    """Something the runner needs is missing or failed; the message says what and what to do."""


# --- binaries -------------------------------------------------------------------------------

def _executable(path: Path) -> bool:
    return path.is_file() and os.access(path, os.X_OK)


def target_dirs() -> list[Path]:
    """Cargo target directories to look in: $CARGO_TARGET_DIR, then the repository's `target/`."""
    dirs = []
    if os.environ.get('CARGO_TARGET_DIR'):
        dirs.append(Path(os.environ['CARGO_TARGET_DIR']))
    dirs.append(REPO / 'target')
    return dirs


def find_binary(name: str, package: str, flag_value: str | None, flag_name: str,
                env_var: str) -> Path:
    """Looks `name` up: the flag, then $env_var, then the newest of the Cargo target directories'
    `release/` and `debug/` builds, then PATH. Fails naming what to build."""
    for given, origin in ((flag_value, flag_name), (os.environ.get(env_var), f'${env_var}')):
        if given:
            path = Path(given)
            if not _executable(path):
                raise RunError(f'{origin} = {given}: not an executable file')
            return path
    built = [d / profile / name for d in target_dirs() for profile in ('release', 'debug')]
    built = [p for p in built if _executable(p)]
    if built:
        return max(built, key=lambda p: p.stat().st_mtime)
    on_path = shutil.which(name)
    if on_path:
        return Path(on_path)
    raise RunError(f'{name} not found (looked at ${env_var}, {", ".join(str(d) for d in target_dirs())}'
                   f' release/debug, and PATH): build it with `cargo build -p {package}`')


# --- Open vSwitch ---------------------------------------------------------------------------

def _quiet(argv: list[str], timeout: float = 30) -> bool:
    try:
        return subprocess.run(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                              timeout=timeout).returncode == 0
    except (OSError, subprocess.TimeoutExpired):
        return False


@dataclass
class SystemOvs:
    """The system Open vSwitch; started here (and so stopped here) only if it was not running."""

    started_here: bool = False

    @classmethod
    def ensure(cls) -> 'SystemOvs':
        if _quiet(['ovs-vsctl', '--timeout=5', 'show']):
            return cls(False)
        if not Path(OVS_CTL).exists():
            raise RunError(f'Open vSwitch is not installed ({OVS_CTL} missing): run `make deps`')
        print('*** Starting the system Open vSwitch (ovs-ctl start)', flush=True)
        if not _quiet([OVS_CTL, 'start', '--system-id=random'], timeout=60):
            raise RunError('`ovs-ctl start` failed; see /var/log/openvswitch/')
        if not _quiet(['ovs-vsctl', '--timeout=10', 'show']):
            raise RunError('Open vSwitch started but ovs-vsctl gets no answer')
        return cls(True)

    def stop(self) -> None:
        if self.started_here:
            _quiet([OVS_CTL, 'stop'], timeout=60)
            self.started_here = False


# --- processes ------------------------------------------------------------------------------

def tcp_listening(addr: tuple[str, int], timeout: float = 0.5) -> bool:
    try:
        with socket.create_connection(addr, timeout=timeout):
            return True
    except OSError:
        return False


def log_tail(path: Path, limit: int = 3000) -> str:
    try:
        return path.read_text(errors='replace')[-limit:]
    except OSError:
        return '(no log)'


def stop_process(proc: subprocess.Popen, grace: float = 5.0) -> None:
    """SIGTERM, then SIGKILL after `grace` seconds; by PID, and only our own child."""
    if proc.poll() is not None:
        return
    try:
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=grace)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(timeout=grace)
    except ProcessLookupError:
        pass


@dataclass
class Started:
    """One long-running process this run started, with its log."""

    name: str
    proc: subprocess.Popen
    log: Path
    log_file: IO[bytes] = field(repr=False)

    def stop(self) -> None:
        stop_process(self.proc)
        self.log_file.close()

    def failure(self, what: str) -> RunError:
        code = self.proc.poll()
        status = f'exited with {code}' if code is not None else 'is still running'
        return RunError(f'{self.name} {what} ({status}); log {self.log}:\n{log_tail(self.log)}')


def controller_config_text(rudder: Path, topology_file: Path,
                           topo: rudder_topology.Topology) -> str:
    """`rudder topology config FILE` when this rudder has it, else the same TOML built here."""
    try:
        out = subprocess.run([str(rudder), 'topology', 'config', str(topology_file)],
                             capture_output=True, text=True, timeout=30)
    except (OSError, subprocess.TimeoutExpired) as e:
        raise RunError(f'running {rudder} topology config: {e}') from None
    if out.returncode == 0 and out.stdout.strip():
        return out.stdout
    if 'unrecognized subcommand' in out.stderr:
        return rudder_topology.controller_config(topo)
    # anyhow appends a backtrace when RUST_BACKTRACE is set; the message is what matters here.
    message = out.stderr.split('Stack backtrace:')[0].strip()
    raise RunError(f'`rudder topology config {topology_file}` failed:\n{message}')


def start_controller(rudder: Path, config_text: str, topo: rudder_topology.Topology,
                     logdir: Path, timeout: float = 20.0) -> Started:
    """Runs `rudder serve --config <generated>` and waits for its OpenFlow and REST listeners."""
    for what, addr in (('OpenFlow', topo.openflow), ('REST API', topo.api)):
        if tcp_listening(addr):
            raise RunError(f'something already listens on {addr[0]}:{addr[1]} (the {what} address '
                           'in [controller]): stop it, or pass --no-controller to use it')
    config = logdir / 'controller.toml'
    config.write_text(config_text)
    log = logdir / 'controller.log'
    log_file = open(log, 'wb')
    env = dict(os.environ, RUST_LOG=os.environ.get('RUST_LOG', 'info'))
    proc = subprocess.Popen([str(rudder), 'serve', '--config', str(config)], stdout=log_file,
                            stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, env=env,
                            start_new_session=True)
    started = Started('rudder serve', proc, log, log_file)
    deadline = time.monotonic() + timeout
    while not (tcp_listening(topo.openflow) and tcp_listening(topo.api)):
        if proc.poll() is not None:
            started.log_file.close()
            raise started.failure('did not start')
        if time.monotonic() > deadline:
            started.stop()
            raise started.failure(f'is not listening after {timeout:.0f} s')
        time.sleep(0.1)
    return started


# --- CPU shares -----------------------------------------------------------------------------

CGROUP_ROOT = Path('/sys/fs/cgroup')
CFS_PERIOD_US = 100_000


@dataclass
class CpuLimit:
    """A cgroup holding one process to `cores` CPUs (cgroup v2 `cpu.max`, or v1 CFS quota)."""

    path: Path

    @classmethod
    def create(cls, name: str, cores: float) -> 'CpuLimit':
        quota = max(1000, int(cores * CFS_PERIOD_US))
        v2 = CGROUP_ROOT / 'cgroup.controllers'
        try:
            if v2.exists() and 'cpu' in v2.read_text().split():
                path = CGROUP_ROOT / name
                path.mkdir(exist_ok=True)
                (path / 'cpu.max').write_text(f'{quota} {CFS_PERIOD_US}\n')
            elif (CGROUP_ROOT / 'cpu' / 'cpu.cfs_quota_us').exists():
                path = CGROUP_ROOT / 'cpu' / name
                path.mkdir(exist_ok=True)
                (path / 'cpu.cfs_period_us').write_text(f'{CFS_PERIOD_US}\n')
                (path / 'cpu.cfs_quota_us').write_text(f'{quota}\n')
            else:
                raise RunError('no cgroup cpu controller is mounted')
        except OSError as e:
            raise RunError(f'cgroup {name}: {e}') from None
        return cls(path)

    def add(self, pid: int) -> None:
        try:
            (self.path / 'cgroup.procs').write_text(f'{pid}\n')
        except OSError as e:
            raise RunError(f'moving PID {pid} into {self.path}: {e}') from None

    def remove(self) -> None:
        """Removes the cgroup; its processes must have exited (they move back to the parent)."""
        for _ in range(50):
            try:
                self.path.rmdir()
                return
            except FileNotFoundError:
                return
            except OSError:
                time.sleep(0.1)


# --- link shaping ---------------------------------------------------------------------------

def netem_available() -> bool:
    """Whether tc's netem qdisc (delay, jitter, loss) works here: some kernels ship without
    sch_netem. Tried on `lo` of a scratch namespace so that nothing real is touched."""
    ns = f'rudder-mn-probe-{os.getpid()}'
    if not _quiet(['ip', 'netns', 'add', ns]):
        return False
    try:
        return _quiet(['ip', 'netns', 'exec', ns, 'tc', 'qdisc', 'add', 'dev', 'lo', 'root',
                       'netem', 'delay', '1ms'])
    finally:
        _quiet(['ip', 'netns', 'del', ns])


# --- checksum offload -----------------------------------------------------------------------

SIOCETHTOOL = 0x8946
ETHTOOL_STXCSUM = 0x17  # linux/ethtool.h: set TX checksum offload (turns TSO/GSO off with it)


def tx_checksum_off(interface: str) -> None:
    """Turns TX checksum offload off on `interface` (in the caller's network namespace).

    The userspace datapath forwards frames between veths through AF_PACKET sockets, so a TCP
    segment whose checksum the sending kernel left for the NIC to fill in (CHECKSUM_PARTIAL) arrives
    at the receiver with a wrong checksum and is dropped: ping works, TCP does not. The `ethtool -K
    IF tx off` equivalent, without needing ethtool installed.
    """
    import ctypes
    import fcntl
    import struct

    value = ctypes.create_string_buffer(struct.pack('II', ETHTOOL_STXCSUM, 0))
    ifreq = struct.pack('16sP', interface.encode()[:15], ctypes.addressof(value))
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        try:
            fcntl.ioctl(sock.fileno(), SIOCETHTOOL, ifreq)
        except OSError as e:
            raise RunError(f'{interface}: turning TX checksum offload off: {e.strerror}') from None


if __name__ == '__main__':
    # `python3 rudder_support.py tx-checksum-off IF...`: run inside a Mininet host's namespace.
    import sys

    if len(sys.argv) < 3 or sys.argv[1] != 'tx-checksum-off':
        sys.exit('usage: rudder_support.py tx-checksum-off INTERFACE...')
    try:
        for name in sys.argv[2:]:
            tx_checksum_off(name)
    except RunError as e:
        sys.exit(str(e))
