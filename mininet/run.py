#!/usr/bin/env python3
"""Run a Rudder topology file (`topologies/NAME.toml`) in Mininet.

    sudo python3 mininet/run.py topologies/default.toml [--test] [--cli] [--no-controller]

Builds the file's switches (Open vSwitch, userspace datapath, OpenFlow 1.3), links and hosts
(TCLink for delay/jitter/loss/rate), the host-access port (an OVS internal port `rudder-<name>` in
the root namespace, so this machine reaches hosts and VIPs), starts `rudder serve` with the config
the topology implies (unless --no-controller) and one `rudder-node serve` per inference host, waits
until the nodes are healthy, then opens the Mininet CLI (`--cli`, the default on a terminal) or,
with `--test`, checks connectivity and classifies a sample photo through every pool's VIP from
every client, exiting non-zero if anything fails. Whatever it started is stopped on the way out.
See mininet/README.md.
"""

from __future__ import annotations

import os
import sys

SYSTEM_PYTHON = '/usr/bin/python3'


def _ensure_mininet_importable() -> None:
    """Mininet's Python API comes with Debian's python3; a pyenv/venv python3 does not see it."""
    try:
        import mininet.net  # noqa: F401
    except ImportError:
        if (os.path.exists(SYSTEM_PYTHON)
                and os.path.realpath(sys.executable) != os.path.realpath(SYSTEM_PYTHON)):
            os.execv(SYSTEM_PYTHON, [SYSTEM_PYTHON, os.path.abspath(__file__), *sys.argv[1:]])
        sys.exit('run.py: cannot import Mininet: install it with `apt-get install mininet` '
                 '(make deps) and run this with the system python3')


if __name__ == '__main__':
    _ensure_mininet_importable()

import argparse  # noqa: E402
import json  # noqa: E402
import math  # noqa: E402
import shutil  # noqa: E402
import signal  # noqa: E402
import subprocess  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
import urllib.request  # noqa: E402
from functools import partial  # noqa: E402
from typing import Callable  # noqa: E402
from pathlib import Path  # noqa: E402

from mininet.cli import CLI  # noqa: E402
from mininet.link import TCLink  # noqa: E402
from mininet.log import info, setLogLevel  # noqa: E402
from mininet.net import Mininet  # noqa: E402
from mininet.node import OVSSwitch, RemoteController  # noqa: E402

import rudder_topology  # noqa: E402
from rudder_support import (REPO, CpuLimit, RunError, Started, SystemOvs,  # noqa: E402
                            controller_config_text, find_binary, netem_available,
                            start_controller, tx_checksum_off)
from rudder_topology import Host, Topology, TopologyError  # noqa: E402

CONTROLLER_NODE = 'rudderctl'
SUPPORT = Path(__file__).resolve().parent / 'rudder_support.py'
CONTENT_TYPES = {'.png': 'image/png', '.jpg': 'image/jpeg', '.jpeg': 'image/jpeg'}


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(
        prog='run.py',
        description='Run a Rudder topology file in Mininet: switches, links, hosts, the controller '
                    'and the inference nodes. Needs root.')
    p.add_argument('topology', type=Path, help='topology file, e.g. topologies/default.toml')
    p.add_argument('--test', action='store_true',
                   help='check ping between clients and nodes and one /predict through every '
                        "pool's VIP from every client, then exit (non-zero on any failure)")
    p.add_argument('--cli', action='store_true',
                   help='open the Mininet CLI (default when stdin is a terminal and no --test)')
    p.add_argument('--no-controller', action='store_true',
                   help='do not start `rudder serve`; switches connect to whatever listens at '
                        "[controller] openflow")
    p.add_argument('--no-nodes', action='store_true', help='do not start the inference nodes')
    p.add_argument('--rudder-bin', help='the rudder binary (default: $RUDDER_BIN, the newest '
                                        'target/{release,debug}/rudder, then PATH)')
    p.add_argument('--node-bin', help='the rudder-node binary (default: $RUDDER_NODE_BIN, the '
                                      'newest target/{release,debug}/rudder-node, then PATH)')
    p.add_argument('--models', type=Path, default=REPO / 'models',
                   help='directory holding the model versions (default: %(default)s)')
    p.add_argument('--sample', type=Path, default=REPO / 'models' / 'samples' / 'chelsea.png',
                   help='photo --test classifies (default: %(default)s)')
    p.add_argument('--node-timeout', type=float, default=120.0, metavar='SECONDS',
                   help='how long nodes may take to become healthy (default: %(default)s)')
    p.add_argument('--keep-logs', action='store_true',
                   help='keep the log directory even when everything succeeded')
    p.add_argument('-v', '--verbosity', default='info',
                   choices=['debug', 'info', 'output', 'warning', 'error'],
                   help="Mininet's log level (default: %(default)s)")
    return p.parse_args(argv)


def say(text: str) -> None:
    print(f'*** {text}', flush=True)


def link_kwargs(params: rudder_topology.LinkParams, netem: bool) -> dict:
    """TCLink arguments; without netem only the rate (HTB) can be applied."""
    kwargs = params.tclink_kwargs()
    if not netem:
        for key in ('delay', 'jitter', 'loss'):
            kwargs.pop(key, None)
    return kwargs


def build_network(topo: Topology, controller: tuple[str, int], netem: bool) -> Mininet:
    """Mininet objects for the topology (not started). Interfaces are created here."""
    names = {s.name for s in topo.switches} | {h.name for h in topo.hosts}
    if CONTROLLER_NODE in names:
        raise RunError(f'{CONTROLLER_NODE!r} is reserved for the controller; rename that node')
    switch = partial(OVSSwitch, datapath='user', protocols='OpenFlow13')
    # listenPort=None: no passive OpenFlow port per switch (they would collide with other runs).
    net = Mininet(topo=None, build=False, switch=switch, link=TCLink, controller=None,
                  autoSetMacs=False, ipBase=str(topo.subnet), listenPort=None,
                  waitConnected=False)
    net.addController(CONTROLLER_NODE, controller=RemoteController, ip=controller[0],
                      port=controller[1])
    for s in topo.switches:
        net.addSwitch(s.name, dpid=s.dpid_hex)
    for link in topo.links:
        net.addLink(link.a, link.b, **link_kwargs(link.params, netem))
    prefix = topo.subnet.prefixlen
    for h in topo.hosts:
        net.addHost(h.name, ip=f'{h.ip}/{prefix}', mac=h.mac)
        net.addLink(h.name, h.switch, **link_kwargs(h.params, netem))
    net.build()
    return net


def sh(argv: list[str]) -> str:
    """Runs a command in the root namespace; RunError with its stderr when it fails."""
    out = subprocess.run(argv, capture_output=True, text=True, timeout=30)
    if out.returncode != 0:
        raise RunError(f'`{" ".join(argv)}` failed: {out.stderr.strip()}')
    return out.stdout


def check_subnet_unrouted(topo: Topology) -> None:
    """The host-access port routes the subnet through this topology; refuse to shadow another."""
    routes = sh(['ip', '-4', '-o', 'route', 'show', 'exact', str(topo.subnet)]).strip()
    if routes:
        raise RunError(f'{topo.subnet} is already routed in the root namespace ({routes}); is '
                       'another `rudder up` or Mininet run using it? Stop it first.')


def add_host_access(topo: Topology) -> str:
    """An OVS internal port on the host-access switch, addressed in the subnet, in this namespace."""
    access = topo.host_access
    assert access is not None
    port = topo.host_access_port
    sh(['ovs-vsctl', '--may-exist', 'add-port', access.switch, port, '--',
        'set', 'interface', port, 'type=internal', f'mac="{access.mac}"'])
    # The userspace datapath creates the tap device asynchronously.
    deadline = time.monotonic() + 10
    while subprocess.run(['ip', 'link', 'show', port], capture_output=True).returncode != 0:
        if time.monotonic() > deadline:
            raise RunError(f'OVS internal port {port} did not appear')
        time.sleep(0.1)
    sh(['ip', 'addr', 'replace', f'{access.ip}/{topo.subnet.prefixlen}', 'dev', port])
    sh(['ip', 'link', 'set', port, 'up'])
    return port


def http_status(net: Mininet, host: Host, path: str) -> str:
    """The HTTP status of GET http://<host>:<port><path>, asked from inside the host itself."""
    url = f'http://{host.ip}:{host.port}{path}'
    return net[host.name].cmd(f"curl -s -m 2 -o /dev/null -w '%{{http_code}}' {url}").strip()


def run_in_root(command: str) -> str:
    """A shell command's stdout and stderr, run in this (the root) namespace."""
    out = subprocess.run(command, shell=True, capture_output=True, text=True, timeout=60)
    return out.stderr + out.stdout


class Run:
    """One run: what it started, so that `cleanup` can stop exactly that."""

    def __init__(self, topo: Topology, topology_file: Path, args: argparse.Namespace) -> None:
        self.topo = topo
        self.topology_file = topology_file
        self.args = args
        self.logdir = Path(tempfile.mkdtemp(prefix=f'rudder-mn-{topo.name}-'))
        self.ovs: SystemOvs | None = None
        self.controller: Started | None = None
        self.nodes: list[Started] = []
        self.cgroups: list[CpuLimit] = []
        self.net: Mininet | None = None
        self.access_port: str | None = None
        self.failed = False

    # --- start --------------------------------------------------------------------------

    def execute(self) -> int:
        args, topo = self.args, self.topo
        rudder = None if args.no_controller else find_binary(
            'rudder', 'rudder-controller', args.rudder_bin, '--rudder-bin', 'RUDDER_BIN')
        node_bin = None
        if topo.inference_hosts and not args.no_nodes:
            node_bin = find_binary('rudder-node', 'rudder-node', args.node_bin, '--node-bin',
                                   'RUDDER_NODE_BIN')
            self.check_models()
        if args.test and not args.sample.is_file():
            raise RunError(f'sample photo {args.sample} not found (run `make model`)')
        if topo.host_access:
            check_subnet_unrouted(topo)
        say(f'Topology {topo.name!r}: {topo.description} (logs in {self.logdir})')
        config = controller_config_text(rudder, self.topology_file, topo) if rudder else None
        self.ovs = SystemOvs.ensure()
        if rudder and config:
            say(f'Starting the controller: {rudder} serve (apps {", ".join(topo.apps)}; '
                f'OpenFlow {topo.openflow[0]}:{topo.openflow[1]}, REST {topo.api[0]}:{topo.api[1]})')
            self.controller = start_controller(rudder, config, topo, self.logdir)
        self.net = build_network(topo, topo.openflow, self.check_netem())
        self.net.start()
        self.turn_off_tx_checksums()
        if topo.host_access:
            self.quiet_switch_ports()
            self.access_port = add_host_access(topo)
            tx_checksum_off(self.access_port)
            say(f'Host access: {self.access_port} {topo.host_access.ip}/{topo.subnet.prefixlen} '
                f'on {topo.host_access.switch}')
        # With --no-controller a missing controller is the user's business (Mininet warns).
        if not self.net.waitConnected(timeout=20) and self.controller:
            raise self.controller.failure('did not get every switch connected within 20 s')
        if node_bin:
            self.start_nodes(node_bin)
            self.wait_nodes_healthy()
        self.print_summary()
        ok = self.run_checks() if args.test else True
        if args.cli or (not args.test and sys.stdin.isatty()):
            CLI(self.net)
        elif not args.test:
            say('Running until interrupted (Ctrl-C or SIGTERM)')
            while True:
                signal.pause()
        self.failed = not ok
        return 0 if ok else 1

    def check_netem(self) -> bool:
        shaped = [l.params for l in self.topo.links] + [h.params for h in self.topo.hosts]
        if not any(p.delay or p.jitter or p.loss for p in shaped):
            return True
        if netem_available():
            return True
        say('WARNING: this kernel has no tc netem (sch_netem): link delay, jitter and loss are '
            'NOT applied; rates are')
        return False

    def turn_off_tx_checksums(self) -> None:
        """See `rudder_support.tx_checksum_off`: without this, TCP through the userspace
        datapath fails while ping works."""
        assert self.net is not None
        for h in self.topo.hosts:
            host = self.net[h.name]
            intfs = ' '.join(i for i in host.intfNames() if i != 'lo')
            out = host.cmd(f'{sys.executable} {SUPPORT} tx-checksum-off {intfs}; echo rc=$?')
            if not out.strip().endswith('rc=0'):
                raise RunError(f'{h.name}: {out.strip()}')

    def quiet_switch_ports(self) -> None:
        """Stops the root namespace from answering ARP on the switches' veth ends.

        With the userspace datapath the switch side of every link is an ordinary interface in the
        root namespace, whose kernel also sees each frame. Once the host-access port gives that
        namespace an IP in the subnet, Linux (arp_ignore=0) would answer a host's ARP for it from
        whichever switch port the request came in on; the host then sends to that port's MAC and
        steered replies to the host-access port are dropped as addressed to another host.
        arp_ignore=8 makes those ports never answer ARP.
        """
        assert self.net is not None
        for switch in self.net.switches:
            for intf in switch.intfNames():
                conf = Path('/proc/sys/net/ipv4/conf') / intf / 'arp_ignore'
                if intf != 'lo' and conf.exists():
                    conf.write_text('8\n')

    def check_models(self) -> None:
        for model in sorted({h.model for h in self.topo.inference_hosts}):
            if not (self.args.models / model / 'model.json').is_file():
                raise RunError(f'model {model!r} not found at {self.args.models / model} '
                               '(run `make model`)')

    def start_nodes(self, node_bin: Path) -> None:
        assert self.net is not None
        for h in self.topo.inference_hosts:
            argv = [str(node_bin), 'serve', '--listen', f'{h.ip}:{h.port}',
                    '--model-dir', str(self.args.models / h.model), '--node-id', h.name]
            if h.cpu:
                argv += ['--workers', str(max(1, math.ceil(h.cpu)))]
            log = self.logdir / f'{h.name}.log'
            log_file = open(log, 'wb')
            proc = self.net[h.name].popen(argv, stdout=log_file, stderr=subprocess.STDOUT,
                                          stdin=subprocess.DEVNULL)
            self.nodes.append(Started(f'rudder-node on {h.name}', proc, log, log_file))
            if h.cpu:
                self.limit_cpu(h, proc.pid)
        say(f'Started {len(self.nodes)} inference node(s): '
            + ', '.join(f'{h.name} ({h.model}) {h.ip}:{h.port}' for h in self.topo.inference_hosts))

    def limit_cpu(self, host: Host, pid: int) -> None:
        try:
            limit = CpuLimit.create(f'rudder-mn-{self.topo.name}-{host.name}', host.cpu or 1.0)
            self.cgroups.append(limit)
            limit.add(pid)
        except RunError as e:
            print(f'warning: {host.name}: CPU share {host.cpu} not applied: {e}', flush=True)

    def wait_nodes_healthy(self) -> None:
        deadline = time.monotonic() + self.args.node_timeout
        waiting = list(zip(self.topo.inference_hosts, self.nodes))
        while waiting:
            for host, node in list(waiting):
                if node.proc.poll() is not None:
                    raise node.failure('exited while loading')
                if http_status(self.net, host, '/health') == '200':
                    waiting.remove((host, node))
            if waiting and time.monotonic() > deadline:
                raise waiting[0][1].failure(f'not healthy after {self.args.node_timeout:.0f} s')
            if waiting:
                time.sleep(0.5)
        say('Every inference node answers /health')

    def print_summary(self) -> None:
        topo = self.topo
        say(f'REST API: http://{topo.api[0]}:{topo.api[1]}/stats/switches')
        for pool in topo.pools:
            backends = ', '.join(f'{b.host}x{b.weight}' for b in pool.backends)
            say(f'Pool {pool.name}: http://{pool.vip}:{pool.ports[0]}/predict '
                f'({pool.algorithm}: {backends})')
        if topo.clients and topo.pools:
            pool = topo.pools[0]
            say(f'Try: {topo.clients[0].name} curl -s -H "Content-Type: image/png" --data-binary '
                f'@{REPO}/models/samples/chelsea.png http://{pool.vip}:{pool.ports[0]}/predict')

    # --- checks -------------------------------------------------------------------------

    def run_checks(self) -> bool:
        results = [self.check_ping()]
        if self.topo.host_access and not self.args.no_nodes:
            results += [self.check_host_access(h) for h in self.topo.inference_hosts]
        for pool in self.topo.pools:
            results += [self.check_predict(client.name, self.net[client.name].cmd, pool)
                        for client in self.topo.clients]
            if self.topo.host_access:
                # The path the dashboard's classify call takes: root namespace -> host-access port.
                results.append(self.check_predict('host', run_in_root, pool))
        failed = results.count(False)
        if failed:
            say(f'run.py --test: {failed} of {len(results)} checks FAILED')
        else:
            say(f'run.py --test: all {len(results)} checks passed')
        return not failed

    def check_ping(self) -> bool:
        hosts = [self.net[h.name] for h in self.topo.clients + self.topo.inference_hosts]
        if len(hosts) < 2:
            return True
        loss = self.net.ping(hosts=hosts, timeout='2')
        return loss == 0

    def check_host_access(self, host: Host) -> bool:
        url = f'http://{host.ip}:{host.port}/health'
        try:
            with urllib.request.urlopen(url, timeout=5) as resp:
                status = json.load(resp).get('status')
        except (OSError, ValueError) as e:
            say(f'FAIL host access -> {host.name} {url}: {e}')
            return False
        say(f'ok   host access -> {host.name} {url}: status {status}')
        return status == 'ok'

    def check_predict(self, source: str, run: Callable[[str], str],
                      pool: rudder_topology.Pool) -> bool:
        """POSTs the sample to the pool's VIP with curl, run by `run` (a host's shell or this
        namespace's), and checks that a backend of the pool answered with predictions."""
        sample = self.args.sample
        ctype = CONTENT_TYPES.get(sample.suffix.lower(), 'application/octet-stream')
        url = f'http://{pool.vip}:{pool.ports[0]}/predict'
        what = f'{source} -> pool {pool.name} {url}'
        out = run(
            f"curl -sS -m 30 -H 'Content-Type: {ctype}' --data-binary @{sample} "
            f"-w '\\n%{{http_code}}' {url}")
        body, _, code = out.strip().rpartition('\n')
        try:
            answer = json.loads(body)
            node, top = answer['node_id'], answer['predictions'][0]
            version = answer['model']['version']
        except (ValueError, KeyError, IndexError, TypeError):
            say(f'FAIL {what}: HTTP {code.strip() or "none"}: {out.strip()[:300]}')
            return False
        backends = {b.host for b in pool.backends}
        verdict = 'ok  ' if code.strip() == '200' and node in backends else 'FAIL'
        say(f'{verdict} {what}: served by {node} (model {version}): {top["label"]} '
            f'({top["confidence"]:.2f})' + ('' if node in backends else
                                            f' -- not a backend of {pool.name}'))
        return verdict == 'ok  '

    # --- stop ---------------------------------------------------------------------------

    def cleanup(self) -> None:
        """Stops everything this run started, in reverse order; never raises."""
        steps = [('inference nodes', self.stop_nodes),
                 ('host-access port', self.remove_access_port),
                 ('Mininet', self.stop_net),
                 ('controller', self.controller.stop if self.controller else None),
                 ('Open vSwitch', self.ovs.stop if self.ovs else None)]
        for what, step in steps:
            if step is None:
                continue
            try:
                step()
            except Exception as e:  # noqa: BLE001 -- keep cleaning up whatever happens
                print(f'warning: stopping {what}: {e}', file=sys.stderr, flush=True)
        if (self.failed or self.args.keep_logs) and any(self.logdir.iterdir()):
            say(f'Logs kept in {self.logdir}')
        else:
            shutil.rmtree(self.logdir, ignore_errors=True)

    def stop_nodes(self) -> None:
        for node in self.nodes:
            node.stop()
        for cgroup in self.cgroups:
            cgroup.remove()

    def remove_access_port(self) -> None:
        if self.access_port:
            sh(['ovs-vsctl', '--if-exists', 'del-port', self.access_port])

    def stop_net(self) -> None:
        if self.net is not None:
            self.net.stop()


def _exit_on_signal(signum: int, _frame: object) -> None:
    raise SystemExit(128 + signum)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if os.geteuid() != 0:
        print('run.py: Mininet needs root: sudo python3 mininet/run.py ...', file=sys.stderr)
        return 2
    try:
        topo = rudder_topology.load(args.topology)
    except TopologyError as e:
        print(f'run.py: {e}', file=sys.stderr)
        return 2
    for warning in topo.warnings:
        print(f'warning: {args.topology}: {warning}', file=sys.stderr)
    setLogLevel(args.verbosity)
    for sig in (signal.SIGTERM, signal.SIGHUP):
        signal.signal(sig, _exit_on_signal)
    run = Run(topo, args.topology, args)
    try:
        return run.execute()
    except RunError as e:
        run.failed = True
        print(f'run.py: error: {e}', file=sys.stderr, flush=True)
        return 1
    except KeyboardInterrupt:
        info('\n*** Interrupted\n')
        return 130
    finally:
        # A second signal during cleanup must not cut it short.
        for sig in (signal.SIGTERM, signal.SIGHUP, signal.SIGINT):
            signal.signal(sig, signal.SIG_IGN)
        run.cleanup()


if __name__ == '__main__':
    sys.exit(main())
