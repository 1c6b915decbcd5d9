"""Custom Mininet topologies for testing Rudder.

Usage:
    mn --custom mininet/topos.py --topo ring,4 ...
    mn --custom mininet/topos.py --topo fattree,4 ...
    mn --custom mininet/topos.py --topo lbpool,3 ...

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


class LbPoolTopo(Topo):
    """One switch, N inference hosts behind a load-balanced VIP, two clients: the load balancer's
    smallest real setting.

        mn --custom mininet/topos.py --topo lbpool,3 \\
           --switch ovs,datapath=user,protocols=OpenFlow13 \\
           --controller remote,ip=127.0.0.1,port=6653

    Switch s1 (dpid 1). Clients c1, c2 are 10.0.0.1-2 on ports 1-2; inference hosts n1..nN are
    10.0.0.11.. on ports 3..N+2. Every host's MAC is 02:00:00:00:00:<last octet of its IP> (c1
    02:00:00:00:00:01, n1 02:00:00:00:00:0b), the same rule as topologies/*.toml.

    The matching controller config is mininet/lbpool.toml (apps l2switch + lb; pool `lbpool`, VIP
    10.0.0.100 port 8000 over n1..n3, round robin): `rudder serve --config mininet/lbpool.toml`.
    For N other than 3, add or remove its `[[lb.pools.backends]]` entries. Start a node on each
    inference host from the Mininet CLI (paths relative to the repository root):

        mininet> n1 rudder-node serve --listen 10.0.0.11:8000 --model-dir models/v1 --node-id n1 &
        mininet> c1 curl -s -H 'Content-Type: image/png' \\
                 --data-binary @models/samples/chelsea.png http://10.0.0.100:8000/predict
    """

    CLIENTS = 2
    FIRST_NODE_OCTET = 11

    def build(self, n=3):
        n = int(n)
        if not 1 <= n <= 200:
            raise ValueError('lbpool needs 1..200 inference hosts, got %d' % n)
        switch = self.addSwitch('s1', dpid=_dpid(1))
        hosts = ['c%d' % i for i in range(1, self.CLIENTS + 1)] + ['n%d' % i for i in range(1, n + 1)]
        octets = list(range(1, self.CLIENTS + 1)) + [self.FIRST_NODE_OCTET + i for i in range(n)]
        for port, (name, octet) in enumerate(zip(hosts, octets), start=1):
            host = self.addHost(name, ip='10.0.0.%d/24' % octet, mac='02:00:00:00:00:%02x' % octet)
            self.addLink(host, switch, port2=port)


# `--topo NAME,ARGS` looks NAME up here.
topos = {
    'ring': RingTopo,
    'fattree': FatTreeTopo,
    'lbpool': LbPoolTopo,
}
