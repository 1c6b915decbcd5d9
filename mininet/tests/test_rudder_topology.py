"""Unit tests of mininet/rudder_topology.py: parsing, validation errors and the controller config.

Run without root or Mininet: `python3 -m pytest mininet/tests` or
`python3 -m unittest discover -s mininet/tests`.
"""

from __future__ import annotations

import copy
import sys
import tomllib
import unittest
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

import rudder_topology  # noqa: E402
from rudder_topology import TopologyError  # noqa: E402

SMALL = HERE / 'small.toml'


def small_doc() -> dict:
    return tomllib.loads(SMALL.read_text())


def error_of(doc: dict) -> str:
    try:
        rudder_topology.parse(doc, 'test.toml')
    except TopologyError as e:
        return str(e)
    raise AssertionError('the topology was accepted')


class ParseTests(unittest.TestCase):
    def test_small_file_parses_with_derived_values(self) -> None:
        topo = rudder_topology.load(SMALL)
        self.assertEqual(topo.name, 'mnsmall')
        self.assertEqual([s.name for s in topo.switches], ['ms1', 'ms2'])
        self.assertEqual(topo.switches[1].dpid_hex, '0000000000000002')
        n1 = topo.host('mn1')
        self.assertEqual(n1.mac, '02:00:00:00:00:0b', 'MAC derived from the last octet')
        self.assertEqual((n1.port, n1.model, n1.cpu), (8000, 'v1', 1.0))
        self.assertEqual(n1.params.tclink_kwargs(), {'delay': '2ms'})
        self.assertEqual(topo.links[0].params.tclink_kwargs(), {'delay': '1ms', 'bw': 100.0, 'use_tbf': True})
        self.assertEqual(topo.openflow, ('127.0.0.1', 16653))
        self.assertEqual([c.name for c in topo.clients], ['mc1', 'mc2'])
        self.assertEqual(topo.host_access_port, 'rudder-mnsmall')
        self.assertEqual(topo.host_access.mac, '02:00:00:00:00:fe')
        self.assertEqual(topo.warnings, ())

    def test_loss_and_jitter_reach_tclink(self) -> None:
        doc = small_doc()
        doc['links'][0].update(loss=0.5, jitter='1ms')
        params = rudder_topology.parse(doc).links[0].params.tclink_kwargs()
        self.assertEqual((params['loss'], params['jitter']), (0.5, '1ms'))

    def test_rates_follow_tc_units(self) -> None:
        self.assertEqual(rudder_topology.parse_rate_mbit('512kbit', 'r'), 0.512)
        self.assertEqual(rudder_topology.parse_rate_mbit('1gbit', 'r'), 1000.0)
        self.assertEqual(rudder_topology.parse_rate_mbit('1mbps', 'r'), 8.0, 'mbps is bytes')
        with self.assertRaisesRegex(TopologyError, 'r: expected a rate'):
            rudder_topology.parse_rate_mbit('fast', 'r')

    def test_access_port_name_is_an_interface_name(self) -> None:
        self.assertEqual(rudder_topology.access_port_name('a-very-long-topology'), 'rudder-a-very-l')

    def test_errors_name_the_key(self) -> None:
        cases = [
            (lambda d: d['links'][0].update(b='nowhere'), "links[0].b: unknown switch 'nowhere'"),
            (lambda d: d['hosts'][1].update(ip='10.9.0.1'), 'hosts[1].ip: 10.9.0.1 is not a host '
                                                            'address in subnet 10.77.0.0/24'),
            (lambda d: d['hosts'][1].update(ip='10.77.0.1'), 'hosts[1].ip: 10.77.0.1 is used by'),
            (lambda d: d['hosts'][0].update(role='server'), 'hosts[0].role: expected one of'),
            (lambda d: d['hosts'][0].update(delay='5 parsecs'), 'hosts[0].delay: expected a duration'),
            (lambda d: d['hosts'][0].update(loss=150), 'hosts[0].loss: expected a percentage'),
            (lambda d: d['pools'][0]['backends'].append({'host': 'mc1'}),
             "pools[0].backends[2].host: 'mc1' is a client"),
            (lambda d: d['pools'][0]['backends'][0].update(weight=0), 'backends[0].weight'),
            (lambda d: d['switches'].append({'name': 'core'}), 'switches[2].dpid'),
            (lambda d: d['switches'][1].update(name='averyverylongname'), 'at most 9 characters'),
            (lambda d: d['controller'].update(openflow='6653'), 'controller.openflow: expected'),
            (lambda d: d['host_access'].update(switch='ms9'), "host_access.switch: unknown switch"),
        ]
        for mutate, expected in cases:
            doc = copy.deepcopy(small_doc())
            mutate(doc)
            message = error_of(doc)
            self.assertIn(expected, message)
            self.assertTrue(message.startswith('test.toml: '), message)

    def test_unknown_keys_are_warnings(self) -> None:
        doc = small_doc()
        doc['hosts'][0]['dealy'] = '5ms'
        topo = rudder_topology.parse(doc)
        self.assertEqual(topo.warnings, ("hosts[0]: unknown key 'dealy' ignored",))

    def test_bad_toml_names_the_file(self) -> None:
        path = HERE / 'does-not-exist.toml'
        with self.assertRaisesRegex(TopologyError, 'does-not-exist.toml: cannot read'):
            rudder_topology.load(path)


class ControllerConfigTests(unittest.TestCase):
    def test_config_carries_listeners_and_pools(self) -> None:
        topo = rudder_topology.load(SMALL)
        config = tomllib.loads(rudder_topology.controller_config(topo))
        self.assertEqual(config['apps'], ['l2switch', 'lb'])
        self.assertEqual(config['listen'], ['127.0.0.1:16653'])
        self.assertEqual(config['api_listen'], '127.0.0.1:18080')
        (pool,) = config['lb']['pools']
        self.assertEqual((pool['name'], pool['vip'], pool['ports'], pool['algorithm']),
                         ('v1', '10.77.0.100', [8000], 'round_robin'))
        self.assertEqual(pool['vip_mac'], '02:00:00:00:01:64', 'VIP MAC derived from its last octet')
        self.assertEqual(pool['backends'], [
            {'ip': '10.77.0.11', 'port': 8000, 'weight': 1, 'mac': '02:00:00:00:00:0b',
             'model_version': 'v1'},
            {'ip': '10.77.0.12', 'port': 8000, 'weight': 2, 'mac': '02:00:00:00:00:0c',
             'model_version': 'v2'},
        ])

    def test_probe_timing_reaches_the_lb_section(self) -> None:
        doc = small_doc()
        doc['controller']['probe_interval'] = '1s'
        doc['controller']['probe_timeout'] = '250ms'
        topo = rudder_topology.parse(doc)
        self.assertEqual(topo.warnings, ())
        config = tomllib.loads(rudder_topology.controller_config(topo))
        self.assertEqual((config['lb']['probe_interval_ms'], config['lb']['probe_timeout_ms']),
                         (1000, 250))
        doc['controller']['probe_interval'] = 'soon'
        with self.assertRaisesRegex(TopologyError, 'controller.probe_interval'):
            rudder_topology.parse(doc)

    def test_shipped_topologies_probe_every_second(self) -> None:
        for path in sorted((HERE.parent.parent / 'topologies').glob('*.toml')):
            with self.subTest(path.name):
                topo = rudder_topology.load(path)
                self.assertEqual(topo.warnings, ())
                self.assertEqual(topo.probe_interval_ms, 1000)

    def test_no_pools_no_lb_section(self) -> None:
        doc = small_doc()
        doc['pools'] = []
        config = tomllib.loads(rudder_topology.controller_config(rudder_topology.parse(doc)))
        self.assertNotIn('lb', config)

    def test_pool_extras_pass_through(self) -> None:
        doc = small_doc()
        doc['pools'][0].update(idle_timeout=5, breaker={'failures': 2})
        config = tomllib.loads(rudder_topology.controller_config(rudder_topology.parse(doc)))
        pool = config['lb']['pools'][0]
        self.assertEqual((pool['idle_timeout'], pool['breaker']), (5, {'failures': 2}))


if __name__ == '__main__':
    unittest.main()
