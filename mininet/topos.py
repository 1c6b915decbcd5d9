"""Custom Mininet topologies for testing Rudder.

Usage:
    mn --custom mininet/topos.py --topo ring,4 ...
    mn --custom mininet/topos.py --topo fattree,4 ...

Switch sN gets datapath id N and every port number is fixed, so tests and docs can name
exact (dpid, port) pairs. Hosts hN are numbered in the order they are attached.
"""

from mininet.topo import Topo


def _dpid(n):
    return '%016x' % n


class RingTopo(Topo):
    """N switches in a ring, one host on each.

    Switch i: port 1 goes to switch i+1, port 2 to switch i-1 (wrapping around), port 3 to host hi.
    The ring is a loop: a controller that floods naively will storm it.
    """

    def build(self, n=4):
        n = int(n)
        if n < 3:
            raise ValueError('ring needs at least 3 switches, got %d' % n)
        switches = [self.addSwitch('s%d' % i, dpid=_dpid(i)) for i in range(1, n + 1)]
        for i, sw in enumerate(switches):
            self.addLink(sw, switches[(i + 1) % n], port1=1, port2=2)
            self.addLink(self.addHost('h%d' % (i + 1)), sw, port2=3)


class FatTreeTopo(Topo):
    """A k-ary fat-tree (Al-Fares et al., SIGCOMM 2008) with k^3/4 hosts.

    k pods of k/2 aggregation and k/2 edge switches, and (k/2)^2 core switches. Numbering (k=4:
    cores s1-s4, aggregation s5-s12, edge s13-s20, hosts h1-h16):
      - core c (0-based) has port p+1 facing pod p;
      - aggregation switch a of pod p: ports 1..k/2 face the pod's edge switches, ports k/2+1..k the
        cores a*k/2+1 .. a*k/2+k/2;
      - edge switch e of pod p: ports 1..k/2 face hosts, ports k/2+1..k the pod's aggregation switches.
    """

    def build(self, k=4):
        k = int(k)
        if k < 2 or k % 2:
            raise ValueError('fattree needs an even k >= 2, got %d' % k)
        half = k // 2
        n_core = half * half
        agg_base = n_core + 1
        edge_base = agg_base + k * half

        def switch(num):
            return self.addSwitch('s%d' % num, dpid=_dpid(num))

        cores = [switch(1 + c) for c in range(n_core)]
        host_no = 1
        for pod in range(k):
            aggs = [switch(agg_base + pod * half + a) for a in range(half)]
            edges = [switch(edge_base + pod * half + e) for e in range(half)]
            for a, agg in enumerate(aggs):
                for e, edge in enumerate(edges):
                    self.addLink(agg, edge, port1=1 + e, port2=half + 1 + a)
                for c in range(half):
                    self.addLink(agg, cores[a * half + c], port1=half + 1 + c, port2=pod + 1)
            for edge in edges:
                for h in range(half):
                    self.addLink(self.addHost('h%d' % host_no), edge, port2=1 + h)
                    host_no += 1


# `--topo NAME,ARGS` looks NAME up here. More topologies (e.g. `lbpool`) can be added alongside.
topos = {
    'ring': RingTopo,
    'fattree': FatTreeTopo,
}
