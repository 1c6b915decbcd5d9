"""Rudder topology files (``topologies/NAME.toml``) as plain Python data, without Mininet.

This module owns reading and checking a topology file and deriving what the Mininet runner
(``run.py``) needs from it: datapath ids, host MACs, TCLink parameters, and the controller config
the topology implies (used when ``rudder topology config`` is not available). It imports only the
standard library, so its unit tests (``mininet/tests/``) run without root or Mininet.

The file format is described in ``docs/topologies.md``; in short::

    name, description, subnet
    [controller] apps, openflow, api, probe_interval?, probe_timeout?
    [[switches]] name, dpid?
    [[links]] a, b, delay?, jitter?, loss?, rate?
    [[hosts]] name, role (client|inference), switch, ip, mac?, port?, model?, cpu?,
              delay?, jitter?, loss?, rate?
    [[pools]] name, vip, ports?, algorithm?, backends = [{host, weight?}], ...
    [host_access] switch, ip
"""

from __future__ import annotations

import ipaddress
import json
import math
import re
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

# Linux interface names are at most 15 characters (IFNAMSIZ - 1). Mininet names ports
# `<node>-eth<N>`, so node names must leave room for that suffix.
IFNAME_MAX = 15
DEFAULT_NODE_PORT = 8000
DEFAULT_OPENFLOW = '127.0.0.1:6653'
DEFAULT_API = '127.0.0.1:8080'
DEFAULT_APPS = ('l2switch', 'lb')

# Keys the runner understands; anything else is reported as a warning (a typo such as `dealy`
# should not pass silently, but a key added to the format later should not stop a run either).
_TOP_KEYS = {'name', 'description', 'subnet', 'controller', 'switches', 'links', 'hosts',
             'pools', 'host_access'}
_CONTROLLER_KEYS = {'apps', 'openflow', 'api', 'probe_interval', 'probe_timeout'}
_SWITCH_KEYS = {'name', 'dpid'}
_LINK_PARAM_KEYS = {'delay', 'jitter', 'loss', 'rate'}
_LINK_KEYS = {'a', 'b'} | _LINK_PARAM_KEYS
_HOST_KEYS = {'name', 'role', 'switch', 'ip', 'mac', 'port', 'model', 'cpu'} | _LINK_PARAM_KEYS
# Pool keys copied verbatim into the controller's `[[lb.pools]]` (see
# controller/src/apps/lb/config.rs `PoolConfig`).
_POOL_PASSTHROUGH = ('vip_mac', 'idle_timeout', 'seed', 'wildcard_bits', 'breaker', 'steering')
_POOL_KEYS = {'name', 'vip', 'ports', 'algorithm', 'backends'} | set(_POOL_PASSTHROUGH)
_BACKEND_KEYS = {'host', 'weight'}
_HOST_ACCESS_KEYS = {'switch', 'ip', 'mac'}
ROLES = ('client', 'inference')

_DURATION = re.compile(r'^\d+(\.\d+)?(us|ms|s)$')
# tc(8) rate units: `bit` suffixes are bits per second, `bps` suffixes are BYTES per second.
_RATE = re.compile(r'^(\d+(?:\.\d+)?)\s*(bit|kbit|mbit|gbit|bps|kbps|mbps|gbps)$', re.IGNORECASE)
_RATE_TO_MBIT = {'bit': 1e-6, 'kbit': 1e-3, 'mbit': 1.0, 'gbit': 1e3,
                 'bps': 8e-6, 'kbps': 8e-3, 'mbps': 8.0, 'gbps': 8e3}
_IFNAME = re.compile(r'^[A-Za-z][A-Za-z0-9_]*$')


class TopologyError(ValueError):
    """A topology file that cannot be used; the message names the file and the key."""


@dataclass(frozen=True)
class LinkParams:
    """Shaping of one link, applied by Mininet's TCLink to both of its ends (so `delay` is one way)."""

    delay: str | None = None
    jitter: str | None = None
    loss: float | None = None
    bw_mbit: float | None = None

    def tclink_kwargs(self) -> dict[str, Any]:
        """Keyword arguments for `Mininet.addLink(..., cls=TCLink)`."""
        kwargs: dict[str, Any] = {}
        if self.delay:
            kwargs['delay'] = self.delay
        if self.jitter:
            kwargs['jitter'] = self.jitter
        if self.loss:
            kwargs['loss'] = self.loss
        if self.bw_mbit:
            # A token bucket rather than Mininet's default HTB, whose class quantum overflows
            # (a kernel warning per link) at rates above ~10 Mbit/s.
            kwargs['bw'] = self.bw_mbit
            kwargs['use_tbf'] = True
        return kwargs


@dataclass(frozen=True)
class Switch:
    name: str
    dpid: int

    @property
    def dpid_hex(self) -> str:
        """The 16-hex-digit form Mininet's `addSwitch(dpid=...)` expects."""
        return '%016x' % self.dpid


@dataclass(frozen=True)
class Link:
    a: str
    b: str
    params: LinkParams


@dataclass(frozen=True)
class Host:
    name: str
    role: str
    switch: str
    ip: ipaddress.IPv4Address
    mac: str
    params: LinkParams
    port: int | None = None
    model: str | None = None
    cpu: float | None = None

    @property
    def is_inference(self) -> bool:
        return self.role == 'inference'


@dataclass(frozen=True)
class Backend:
    host: str
    weight: int


@dataclass(frozen=True)
class Pool:
    name: str
    vip: ipaddress.IPv4Address
    ports: tuple[int, ...]
    algorithm: str
    backends: tuple[Backend, ...]
    extra: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class HostAccess:
    switch: str
    ip: ipaddress.IPv4Address
    mac: str


@dataclass(frozen=True)
class Topology:
    name: str
    description: str
    subnet: ipaddress.IPv4Network
    apps: tuple[str, ...]
    openflow: tuple[str, int]
    api: tuple[str, int]
    switches: tuple[Switch, ...]
    links: tuple[Link, ...]
    hosts: tuple[Host, ...]
    pools: tuple[Pool, ...]
    host_access: HostAccess | None
    warnings: tuple[str, ...] = ()
    # `[controller] probe_interval/probe_timeout` in milliseconds; None keeps the balancer's default.
    probe_interval_ms: int | None = None
    probe_timeout_ms: int | None = None

    def host(self, name: str) -> Host:
        for h in self.hosts:
            if h.name == name:
                return h
        raise KeyError(name)

    @property
    def clients(self) -> list[Host]:
        return [h for h in self.hosts if h.role == 'client']

    @property
    def inference_hosts(self) -> list[Host]:
        return [h for h in self.hosts if h.is_inference]

    @property
    def host_access_port(self) -> str:
        """Name of the OVS internal port that gives the root namespace a foot in the subnet."""
        return access_port_name(self.name)


def access_port_name(topology: str) -> str:
    """`rudder-<topology>`, cut to 15 characters (an interface name)."""
    return ('rudder-' + topology)[:IFNAME_MAX]


def derived_mac(ip: ipaddress.IPv4Address) -> str:
    """`02:00:00:00:00:<last octet>`: locally administered, unicast, readable in captures."""
    return '02:00:00:00:00:%02x' % ip.packed[3]


def derived_vip_mac(vip: ipaddress.IPv4Address) -> str:
    """`02:00:00:00:01:<last octet>`: each pool answers ARP for its VIP with a MAC of its own."""
    return '02:00:00:00:01:%02x' % vip.packed[3]


def _mac(value: Any, where: str) -> str:
    if not isinstance(value, str) or not re.match(r'^([0-9a-fA-F]{2}:){5}[0-9a-fA-F]{2}$', value):
        raise TopologyError(f'{where}: expected "xx:xx:xx:xx:xx:xx", got {value!r}')
    return value.lower()


def dpid_from_name(name: str) -> int | None:
    """The number a switch name ends with (`s12` -> 12), or None."""
    m = re.search(r'(\d+)$', name)
    return int(m.group(1)) if m else None


def parse_duration(value: Any, where: str) -> str:
    """A tc-style duration such as `5ms`, `250us` or `1s`."""
    if not isinstance(value, str) or not _DURATION.match(value.strip()):
        raise TopologyError(f'{where}: expected a duration like "5ms", "250us" or "1s", got {value!r}')
    return value.strip()


def duration_ms(value: Any, where: str) -> int:
    """A duration (`"1s"`, `"500ms"`) in whole milliseconds, rounded up."""
    text = parse_duration(value, where)
    number = text.rstrip('smu')
    scale = {'us': 0.001, 'ms': 1.0, 's': 1000.0}[text[len(number):]]
    return math.ceil(float(number) * scale)


def parse_rate_mbit(value: Any, where: str) -> float:
    """A tc-style rate (`100mbit`, `512kbit`, `1gbit`; `kbps`/`mbps` are bytes) in Mbit/s."""
    m = _RATE.match(value.strip()) if isinstance(value, str) else None
    if not m:
        raise TopologyError(f'{where}: expected a rate like "100mbit" or "512kbit", got {value!r}')
    mbit = float(m.group(1)) * _RATE_TO_MBIT[m.group(2).lower()]
    if mbit <= 0:
        raise TopologyError(f'{where}: rate must be positive, got {value!r}')
    return mbit


def parse_link_params(table: dict[str, Any], where: str) -> LinkParams:
    loss = table.get('loss')
    if loss is not None:
        if isinstance(loss, bool) or not isinstance(loss, (int, float)) or not 0 <= loss <= 100:
            raise TopologyError(f'{where}.loss: expected a percentage 0..100, got {loss!r}')
        loss = float(loss)
    return LinkParams(
        delay=parse_duration(table['delay'], f'{where}.delay') if 'delay' in table else None,
        jitter=parse_duration(table['jitter'], f'{where}.jitter') if 'jitter' in table else None,
        loss=loss,
        bw_mbit=parse_rate_mbit(table['rate'], f'{where}.rate') if 'rate' in table else None,
    )


def parse_endpoint(value: Any, where: str) -> tuple[str, int]:
    """`IP:PORT` -> (ip, port)."""
    if not isinstance(value, str) or ':' not in value:
        raise TopologyError(f'{where}: expected "IP:PORT", got {value!r}')
    host, _, port = value.rpartition(':')
    try:
        ip = ipaddress.IPv4Address(host)
        port_no = int(port)
    except ValueError as e:
        raise TopologyError(f'{where}: expected "IP:PORT", got {value!r} ({e})') from None
    if not 0 < port_no < 65536:
        raise TopologyError(f'{where}: port must be 1..65535, got {port_no}')
    return str(ip), port_no


def _ipv4(value: Any, where: str) -> ipaddress.IPv4Address:
    try:
        return ipaddress.IPv4Address(value)
    except ValueError:
        raise TopologyError(f'{where}: expected an IPv4 address, got {value!r}') from None


def _string(table: dict[str, Any], key: str, where: str, default: str | None = None) -> str:
    value = table.get(key, default)
    if not isinstance(value, str) or not value:
        raise TopologyError(f'{where}.{key}: expected a non-empty string, got {value!r}')
    return value


def _node_name(table: dict[str, Any], where: str) -> str:
    name = _string(table, 'name', where)
    # Room for Mininet's `-eth<N>` port suffix (up to two digits).
    longest = IFNAME_MAX - len('-eth99')
    if not _IFNAME.match(name) or len(name) > longest:
        raise TopologyError(f'{where}.name: {name!r} must be letters, digits or _ (starting with a '
                            f'letter) and at most {longest} characters (it names interfaces)')
    return name


def _unknown_keys(table: dict[str, Any], known: set[str], where: str) -> list[str]:
    return [f'{where}: unknown key {k!r} ignored' for k in sorted(set(table) - known)]


def _tables(doc: dict[str, Any], key: str) -> list[dict[str, Any]]:
    value = doc.get(key, [])
    if not isinstance(value, list) or not all(isinstance(t, dict) for t in value):
        raise TopologyError(f'{key}: expected an array of tables ([[{key}]])')
    return value


def _parse_switches(doc: dict[str, Any], warnings: list[str]) -> tuple[Switch, ...]:
    switches: list[Switch] = []
    for i, t in enumerate(_tables(doc, 'switches')):
        where = f'switches[{i}]'
        warnings += _unknown_keys(t, _SWITCH_KEYS, where)
        name = _node_name(t, where)
        dpid = t.get('dpid', dpid_from_name(name))
        if isinstance(dpid, bool) or not isinstance(dpid, int) or not 0 < dpid < 2**64:
            raise TopologyError(f'{where}.dpid: switch {name!r} needs a dpid (1..2^64-1), either '
                                f'given or as the number its name ends with; got {dpid!r}')
        if any(s.name == name for s in switches):
            raise TopologyError(f'{where}.name: switch {name!r} is defined twice')
        if any(s.dpid == dpid for s in switches):
            raise TopologyError(f'{where}.dpid: {dpid} is used by two switches')
        switches.append(Switch(name, dpid))
    if not switches:
        raise TopologyError('switches: at least one [[switches]] entry is needed')
    return tuple(switches)


def _parse_links(doc: dict[str, Any], switch_names: set[str], warnings: list[str]) -> tuple[Link, ...]:
    links: list[Link] = []
    for i, t in enumerate(_tables(doc, 'links')):
        where = f'links[{i}]'
        warnings += _unknown_keys(t, _LINK_KEYS, where)
        a, b = _string(t, 'a', where), _string(t, 'b', where)
        for key, end in (('a', a), ('b', b)):
            if end not in switch_names:
                raise TopologyError(f'{where}.{key}: unknown switch {end!r}')
        if a == b:
            raise TopologyError(f'{where}: a link from {a!r} to itself')
        links.append(Link(a, b, parse_link_params(t, where)))
    return tuple(links)


def _parse_host(t: dict[str, Any], where: str, subnet: ipaddress.IPv4Network,
                switch_names: set[str]) -> Host:
    name = _node_name(t, where)
    role = _string(t, 'role', where)
    if role not in ROLES:
        raise TopologyError(f'{where}.role: expected one of {", ".join(ROLES)}, got {role!r}')
    switch = _string(t, 'switch', where)
    if switch not in switch_names:
        raise TopologyError(f'{where}.switch: unknown switch {switch!r}')
    ip = _ipv4(t.get('ip'), f'{where}.ip')
    if ip not in subnet or ip in (subnet.network_address, subnet.broadcast_address):
        raise TopologyError(f'{where}.ip: {ip} is not a host address in subnet {subnet}')
    mac = _mac(t.get('mac', derived_mac(ip)), f'{where}.mac')
    port = model = cpu = None
    if role == 'inference':
        port = t.get('port', DEFAULT_NODE_PORT)
        if isinstance(port, bool) or not isinstance(port, int) or not 0 < port < 65536:
            raise TopologyError(f'{where}.port: expected a TCP port 1..65535, got {port!r}')
        model = _string(t, 'model', where, default='v1')
        cpu = t.get('cpu')
        if cpu is not None and (isinstance(cpu, bool) or not isinstance(cpu, (int, float))
                                or cpu <= 0):
            raise TopologyError(f'{where}.cpu: expected a positive number of cores, got {cpu!r}')
    else:
        for key in ('port', 'model', 'cpu'):
            if key in t:
                raise TopologyError(f'{where}.{key}: only inference hosts take {key!r}')
    return Host(name, role, switch, ip, mac, parse_link_params(t, where), port, model,
                float(cpu) if cpu is not None else None)


def _parse_hosts(doc: dict[str, Any], subnet: ipaddress.IPv4Network, switch_names: set[str],
                 warnings: list[str]) -> tuple[Host, ...]:
    hosts: list[Host] = []
    for i, t in enumerate(_tables(doc, 'hosts')):
        where = f'hosts[{i}]'
        warnings += _unknown_keys(t, _HOST_KEYS, where)
        host = _parse_host(t, where, subnet, switch_names)
        for other in hosts:
            if other.name == host.name:
                raise TopologyError(f'{where}.name: host {host.name!r} is defined twice')
            if other.ip == host.ip:
                raise TopologyError(f'{where}.ip: {host.ip} is used by {other.name!r} too')
            if other.mac == host.mac:
                raise TopologyError(f'{where}.mac: {host.mac} is used by {other.name!r} too')
        if host.name in switch_names:
            raise TopologyError(f'{where}.name: {host.name!r} is also a switch name')
        hosts.append(host)
    return tuple(hosts)


def _parse_backend(b: Any, where: str, hosts: dict[str, Host]) -> Backend:
    if not isinstance(b, dict):
        raise TopologyError(f'{where}: expected a table {{ host = "n1", weight = 1 }}, got {b!r}')
    unknown = set(b) - _BACKEND_KEYS
    if unknown:
        raise TopologyError(f'{where}: unknown key {sorted(unknown)[0]!r}')
    name = _string(b, 'host', where)
    host = hosts.get(name)
    if host is None:
        raise TopologyError(f'{where}.host: unknown host {name!r}')
    if not host.is_inference:
        raise TopologyError(f'{where}.host: {name!r} is a {host.role}, not an inference host')
    weight = b.get('weight', 1)
    if isinstance(weight, bool) or not isinstance(weight, int) or not 0 < weight < 65536:
        raise TopologyError(f'{where}.weight: expected 1..65535, got {weight!r}')
    return Backend(name, weight)


def _parse_pools(doc: dict[str, Any], hosts: tuple[Host, ...], warnings: list[str]) -> tuple[Pool, ...]:
    by_name = {h.name: h for h in hosts}
    pools: list[Pool] = []
    for i, t in enumerate(_tables(doc, 'pools')):
        where = f'pools[{i}]'
        warnings += _unknown_keys(t, _POOL_KEYS, where)
        name = _string(t, 'name', where)
        if any(p.name == name for p in pools):
            raise TopologyError(f'{where}.name: pool {name!r} is defined twice')
        vip = _ipv4(t.get('vip'), f'{where}.vip')
        if any(h.ip == vip for h in hosts):
            raise TopologyError(f'{where}.vip: {vip} is a host address')
        ports = t.get('ports', [DEFAULT_NODE_PORT])
        if (not isinstance(ports, list) or not ports
                or not all(isinstance(p, int) and not isinstance(p, bool) and 0 < p < 65536
                           for p in ports)):
            raise TopologyError(f'{where}.ports: expected a non-empty list of TCP ports, got {ports!r}')
        algorithm = _string(t, 'algorithm', where, default='round_robin')
        raw_backends = t.get('backends')
        if not isinstance(raw_backends, list) or not raw_backends:
            raise TopologyError(f'{where}.backends: a pool needs at least one backend')
        backends = tuple(_parse_backend(b, f'{where}.backends[{j}]', by_name)
                         for j, b in enumerate(raw_backends))
        if len({b.host for b in backends}) != len(backends):
            raise TopologyError(f'{where}.backends: a host is listed twice')
        extra = {k: t[k] for k in _POOL_PASSTHROUGH if k in t}
        extra['vip_mac'] = _mac(t.get('vip_mac', derived_vip_mac(vip)), f'{where}.vip_mac')
        pools.append(Pool(name, vip, tuple(ports), algorithm, backends, extra))
    return tuple(pools)


def _parse_host_access(doc: dict[str, Any], subnet: ipaddress.IPv4Network, switch_names: set[str],
                       hosts: tuple[Host, ...], warnings: list[str]) -> HostAccess | None:
    t = doc.get('host_access')
    if t is None:
        return None
    if not isinstance(t, dict):
        raise TopologyError('host_access: expected a table')
    warnings += _unknown_keys(t, _HOST_ACCESS_KEYS, 'host_access')
    switch = _string(t, 'switch', 'host_access')
    if switch not in switch_names:
        raise TopologyError(f'host_access.switch: unknown switch {switch!r}')
    ip = _ipv4(t.get('ip'), 'host_access.ip')
    if ip not in subnet:
        raise TopologyError(f'host_access.ip: {ip} is outside subnet {subnet}')
    if any(h.ip == ip for h in hosts):
        raise TopologyError(f'host_access.ip: {ip} is a host address')
    return HostAccess(switch, ip, _mac(t.get('mac', derived_mac(ip)), 'host_access.mac'))


def parse(doc: dict[str, Any], source: str = '<topology>') -> Topology:
    """Checks a decoded topology document; raises TopologyError naming `source` and the key."""
    try:
        return _parse(doc)
    except TopologyError as e:
        raise TopologyError(f'{source}: {e}') from None


def _parse(doc: dict[str, Any]) -> Topology:
    warnings = _unknown_keys(doc, _TOP_KEYS, 'top level')
    name = _string(doc, 'name', 'top level')
    if not _IFNAME.match(name.replace('-', '_')):
        raise TopologyError(f'name: {name!r} must be letters, digits, - or _')
    try:
        subnet = ipaddress.IPv4Network(_string(doc, 'subnet', 'top level'))
    except ValueError as e:
        raise TopologyError(f'subnet: {e}') from None
    controller = doc.get('controller', {})
    if not isinstance(controller, dict):
        raise TopologyError('controller: expected a table')
    warnings += _unknown_keys(controller, _CONTROLLER_KEYS, 'controller')
    apps = controller.get('apps', list(DEFAULT_APPS))
    if not isinstance(apps, list) or not apps or not all(isinstance(a, str) for a in apps):
        raise TopologyError(f'controller.apps: expected a list of app names, got {apps!r}')
    openflow = parse_endpoint(controller.get('openflow', DEFAULT_OPENFLOW), 'controller.openflow')
    api = parse_endpoint(controller.get('api', DEFAULT_API), 'controller.api')
    probe_ms = {key: duration_ms(controller[key], f'controller.{key}')
                for key in ('probe_interval', 'probe_timeout') if key in controller}
    switches = _parse_switches(doc, warnings)
    switch_names = {s.name for s in switches}
    links = _parse_links(doc, switch_names, warnings)
    hosts = _parse_hosts(doc, subnet, switch_names, warnings)
    pools = _parse_pools(doc, hosts, warnings)
    host_access = _parse_host_access(doc, subnet, switch_names, hosts, warnings)
    return Topology(name, str(doc.get('description', '')), subnet, tuple(apps), openflow, api,
                    switches, links, hosts, pools, host_access, tuple(warnings),
                    probe_ms.get('probe_interval'), probe_ms.get('probe_timeout'))


def load(path: str | Path) -> Topology:
    """Reads and checks a topology file."""
    path = Path(path)
    try:
        doc = tomllib.loads(path.read_text())
    except OSError as e:
        raise TopologyError(f'{path}: cannot read: {e.strerror}') from None
    except tomllib.TOMLDecodeError as e:
        raise TopologyError(f'{path}: not valid TOML: {e}') from None
    return parse(doc, str(path))


def _toml_value(value: Any) -> str:
    """A TOML literal for the value types a controller config uses."""
    if isinstance(value, bool):
        return 'true' if value else 'false'
    if isinstance(value, (int, float)):
        return repr(value)
    if isinstance(value, str):
        # JSON string escapes are valid TOML basic-string escapes.
        return json.dumps(value)
    if isinstance(value, (list, tuple)):
        return '[' + ', '.join(_toml_value(v) for v in value) + ']'
    if isinstance(value, dict):
        return '{ ' + ', '.join(f'{k} = {_toml_value(v)}' for k, v in value.items()) + ' }'
    raise TypeError(f'no TOML form for {value!r}')


def controller_config(topo: Topology) -> str:
    """The `rudder serve --config` TOML the topology implies (same as `rudder topology config`).

    `listen`/`api_listen` come from `[controller]`; each pool becomes an `[[lb.pools]]` whose
    backends carry the inference host's IP, port, MAC and model version.
    """
    lines = [
        f'# Controller config for topology {topo.name!r} (generated by mininet/run.py).',
        f'apps = {_toml_value(list(topo.apps))}',
        f'listen = {_toml_value(["%s:%d" % topo.openflow])}',
        f'api_listen = {_toml_value("%s:%d" % topo.api)}',
    ]
    if topo.pools:
        lines += ['', '[lb]']
        if topo.probe_interval_ms is not None:
            lines.append(f'probe_interval_ms = {topo.probe_interval_ms}')
        if topo.probe_timeout_ms is not None:
            lines.append(f'probe_timeout_ms = {topo.probe_timeout_ms}')
    for pool in topo.pools:
        lines += ['', '[[lb.pools]]',
                  f'name = {_toml_value(pool.name)}',
                  f'vip = {_toml_value(str(pool.vip))}',
                  f'ports = {_toml_value(list(pool.ports))}',
                  f'algorithm = {_toml_value(pool.algorithm)}']
        lines += [f'{k} = {_toml_value(v)}' for k, v in pool.extra.items()]
        for backend in pool.backends:
            host = topo.host(backend.host)
            lines += ['', '[[lb.pools.backends]]',
                      f'ip = {_toml_value(str(host.ip))}',
                      f'port = {host.port}',
                      f'weight = {backend.weight}',
                      f'mac = {_toml_value(host.mac)}',
                      f'model_version = {_toml_value(host.model)}']
    return '\n'.join(lines) + '\n'
