// Detected networks (docs/design.md §2.2, §10.3): os.networkInterfaces() for the addresses,
// systeminformation (injected here as a fake) for the default route, its gateway and the
// virtual interfaces; container bridges and VPNs are never offered as the home network.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { detectNetworks, readSystemNetInfo, type SystemInfoSource } from '../../core/net/detect.ts';
import { Networks } from '../../core/net/networks.ts';

const v4 = (address: string, cidr: string) => [{ address, netmask: '', family: 'IPv4', mac: '', internal: false, cidr }];

const IFACES = {
  enp3s0: v4('192.168.1.20', '192.168.1.20/24'),
  docker0: v4('172.17.0.1', '172.17.0.1/16'),
  'br-3f2a9c': v4('172.18.0.1', '172.18.0.1/16'),
  veth12ab: v4('10.99.0.1', '10.99.0.1/24'),
  tailscale0: v4('100.101.102.103', '100.101.102.103/32'),
  zt7nnig26: v4('10.147.17.5', '10.147.17.5/24'),
  tun0: v4('10.8.0.6', '10.8.0.6/24'),
  wg0: v4('10.9.0.1', '10.9.0.1/24'),
  kvmnet: v4('192.168.122.1', '192.168.122.1/24'),
} as never;

const fake = (over: Partial<Record<keyof SystemInfoSource, () => Promise<unknown>>> = {}): SystemInfoSource =>
  ({
    networkInterfaces: async () => [
      { iface: 'enp3s0', virtual: false },
      { iface: 'docker0', virtual: true },
      { iface: 'kvmnet', virtual: true },
    ],
    networkInterfaceDefault: async () => 'enp3s0',
    networkGatewayDefault: async () => '192.168.1.1',
    ...over,
  }) as SystemInfoSource;

test('systeminformation marks the default interface and its gateway, and virtual interfaces', async () => {
  const sys = await readSystemNetInfo(fake());
  assert.deepEqual(sys, { defaultIface: 'enp3s0', gateway: '192.168.1.1', virtual: ['docker0', 'kvmnet'] });
  const found = detectNetworks(IFACES, sys);
  const by = Object.fromEntries(found.map((n) => [n.iface, n]));
  assert.equal(by.enp3s0.kind, 'lan');
  assert.equal(by.enp3s0.isDefault, true);
  assert.equal(by.enp3s0.gateway, '192.168.1.1');
  assert.equal(by.enp3s0.notOffered, null);
  for (const i of ['docker0', 'br-3f2a9c', 'veth12ab', 'kvmnet']) {
    assert.equal(by[i].kind, 'container', i);
    assert.match(by[i].notOffered ?? '', /^A container bridge .* not your home network/, i);
    assert.equal(by[i].isDefault, false, i);
    assert.equal(by[i].gateway, null, i);
  }
  for (const i of ['tailscale0', 'zt7nnig26', 'tun0', 'wg0']) {
    assert.equal(by[i].kind, 'vpn', i);
    assert.match(by[i].notOffered ?? '', /^A VPN tunnel, not your home network/, i);
  }
});

test('without systeminformation the kinds still come from the names; a failing source is no answer', async () => {
  const found = detectNetworks(IFACES, null);
  assert.equal(found.find((n) => n.iface === 'kvmnet')?.kind, 'lan', 'virtual only known from systeminformation');
  assert.equal(found.find((n) => n.iface === 'enp3s0')?.isDefault, undefined);
  const broken = await readSystemNetInfo(
    fake({ networkInterfaces: () => Promise.reject(new Error('no /sys')), networkGatewayDefault: () => Promise.reject(new Error('x')) }),
  );
  assert.deepEqual(broken, { defaultIface: 'enp3s0', gateway: null, virtual: [] });
});

test('the Networks list carries the marks and the reason; a gateway outside the network is not named', () => {
  const nets = new Networks([]);
  nets.refreshDetected(detectNetworks(IFACES, { defaultIface: 'enp3s0', gateway: '10.0.0.1', virtual: [] }));
  assert.equal(nets.autoDetected, false, 'an injected list is not replaced by the host’s');
  const lan = nets.list().find((n) => n.cidr === '192.168.1.0/24');
  assert.deepEqual([lan?.isDefault, lan?.gateway, lan?.notOffered, lan?.enabled], [true, null, null, false]);
  const docker = nets.list().find((n) => n.cidr === '172.17.0.0/16');
  assert.match(docker?.notOffered ?? '', /container bridge/);
});
