import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { afterEach, describe, expect, it } from 'vitest';
import { NetLab, requireNetns } from './netns.js';

// Echo servers and clients are `node -e` children inside the lab's namespaces; they only ever address lab hosts.
const ECHO_SERVER = `
const dgram = require('node:dgram');
const net = require('node:net');
const [host, port] = process.argv.slice(1);
let up = 0;
const ready = () => { if (++up === 2) console.log('ready'); };
const udp = dgram.createSocket('udp4');
udp.on('message', (m, r) => udp.send(Buffer.concat([Buffer.from('echo:'), m]), r.port, r.address));
udp.bind(Number(port), host, ready);
net.createServer((s) => s.on('data', (d) => s.end(Buffer.concat([Buffer.from('echo:'), d])))).listen(Number(port), host, ready);
`;

// Prints `echo:<payload>` or `timeout` / `error:<code>`; exits 0 either way.
const ECHO_CLIENT = `
const dgram = require('node:dgram');
const net = require('node:net');
const [proto, host, port, payload] = process.argv.slice(1);
const done = (s) => { console.log(s); process.exit(0); };
setTimeout(() => done('timeout'), 1500);
if (proto === 'udp') {
  const s = dgram.createSocket('udp4');
  s.on('message', (m) => done(m.toString()));
  s.on('error', (e) => done('error:' + e.code));
  s.send(payload, Number(port), host);
} else {
  const s = net.connect(Number(port), host, () => s.write(payload));
  let got = '';
  s.on('data', (d) => { got += d; });
  s.on('end', () => done(got));
  s.on('error', (e) => done('error:' + e.code));
}
`;

const PORT = 7007;

let lab: NetLab | undefined;
afterEach(async () => {
  await lab?.destroy();
  lab = undefined;
});

function labNamespaces(prefix: string): string[] {
  return execFileSync('ip', ['netns', 'list'], { encoding: 'utf8' })
    .split('\n')
    .map((l) => l.trim().split(/\s+/)[0] ?? '')
    .filter((n) => n.startsWith(prefix));
}

async function startEcho(l: NetLab, host: string): Promise<ChildProcess> {
  const server = l.spawn(host, 'node', ['-e', ECHO_SERVER, l.ip(host), String(PORT)], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  let err = '';
  server.stderr?.on('data', (d: Buffer) => {
    err += d.toString();
  });
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`echo server in ${host} not ready in 10 s: ${err}`)), 10_000);
    server.stdout?.on('data', (d: Buffer) => {
      out += d.toString();
      if (out.includes('ready')) {
        clearTimeout(timer);
        resolve();
      }
    });
    server.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`echo server in ${host} exited with ${code}: ${err}`));
    });
  });
  return server;
}

async function echo(l: NetLab, from: string, to: string, proto: 'udp' | 'tcp'): Promise<string> {
  const payload = `${proto}-from-${from}`;
  const r = await l.run(from, 'node', ['-e', ECHO_CLIENT, proto, l.ip(to), String(PORT), payload], {
    timeoutMs: 10_000,
  });
  if (r.code !== 0) throw new Error(`echo client in ${from} failed (${r.code ?? r.signal}): ${r.stderr}`);
  return r.stdout.trim();
}

describe('network namespace lab', () => {
  it('connects hosts over UDP and TCP, a DROP rule by source blocks one host, destroy removes everything', async () => {
    if (!requireNetns()) return;
    const l = await NetLab.create(['a', 'b', 'c']);
    lab = l;
    const prefix = l.prefix;
    expect(labNamespaces(prefix).sort()).toEqual([l.ns('a'), l.ns('b'), l.ns('c'), `${prefix}bridge`].sort());
    expect(new Set([l.ip('a'), l.ip('b'), l.ip('c')]).size).toBe(3);
    // Only the lab's /24 and loopback are routable inside a host.
    const routes = l.exec('a', 'ip', ['-4', 'route', 'show']);
    expect(routes).not.toMatch(/default/);
    expect(l.exec('a', 'ip', ['-br', 'link', 'show', 'lo'])).toMatch(/UP|UNKNOWN/);

    const server = await startEcho(l, 'b');
    expect(await echo(l, 'a', 'b', 'udp')).toBe('echo:udp-from-a');
    expect(await echo(l, 'a', 'b', 'tcp')).toBe('echo:tcp-from-a');

    l.iptables('b', '-A', 'INPUT', '-s', l.ip('a'), '-j', 'DROP');
    expect(await echo(l, 'a', 'b', 'udp')).toBe('timeout');
    expect(await echo(l, 'a', 'b', 'tcp')).toBe('timeout');
    // The rule is by source: another host still gets through, and a's firewall is untouched.
    expect(await echo(l, 'c', 'b', 'udp')).toBe('echo:udp-from-c');
    expect(await echo(l, 'c', 'b', 'tcp')).toBe('echo:tcp-from-c');
    expect(l.iptables('a', '-S', 'INPUT').trim()).toBe('-P INPUT ACCEPT');

    l.resetFirewall('b');
    expect(await echo(l, 'a', 'b', 'udp')).toBe('echo:udp-from-a');

    const serverExit = new Promise((r) => server.once('exit', r));
    await l.destroy();
    await serverExit;
    expect(server.exitCode !== null || server.signalCode !== null).toBe(true);
    expect(labNamespaces(prefix)).toEqual([]);
    await l.destroy(); // idempotent
    expect(() => l.ip('a')).toThrow(/destroyed/);
  }, 60_000);

  it('removes namespaces left behind by a dead process when a lab is created', async () => {
    if (!requireNetns()) return;
    const dead = spawn(process.execPath, ['-e', '']);
    const pid = dead.pid;
    await new Promise((r) => dead.once('exit', r));
    const stale = `oppie-${pid}-stale-x`;
    execFileSync('ip', ['netns', 'add', stale]);
    try {
      lab = await NetLab.create(['a']);
      expect(labNamespaces(`oppie-${pid}-`)).toEqual([]);
    } finally {
      if (labNamespaces(stale).length > 0) execFileSync('ip', ['netns', 'del', stale]);
    }
  });
});
