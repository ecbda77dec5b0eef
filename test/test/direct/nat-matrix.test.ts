import type { ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { requireBinary } from '../relay/require-binary.js';
import { NetLab, requireNetns } from './netns.js';

/*
 * The NAT matrix of the direct path: a relay and a coturn in namespace `relay`, a sidecar in `a`, a PWA in `b`, all
 * from the BUILT packages (dist/, made by `npm run build`; `npm test` builds first). Each scenario puts iptables rules
 * in `a` and `b`, pairs a fresh sidecar and PWA, has both send numbered chats at a steady pace from the start, and
 * checks the path they end on, that every number arrived exactly once and in order both ways, and the relay's
 * transport report metrics. The rules are cumulative: (a) none, (b) a and b drop each other's packets, (c) also all
 * UDP, (d) also TCP to TURN's port. Only the lab's addresses are ever contacted.
 *
 * OPPIE_NAT_VERBOSE=1 prints every peer's events (path, upgrade, the selected ICE pair) for each scenario.
 */

const ROOT = fileURLToPath(new URL('../../../', import.meta.url));
const PEER = fileURLToPath(new URL('./nat-peer.mjs', import.meta.url));
const BUILT = ['server/dist/main.js', 'client-sdk/dist/index.js', 'sidecar-sdk/dist/index.js'];
const SECRET = 'nat-matrix-shared-with-coturn';
const RELAY_PORT = 8080; // each namespace has its own ports: nothing else listens there
const TURN_PORT = 3478;
const COUNT = 300;
const INTERVAL_MS = 20; // 300 chats each way over ~6 s
const UPGRADE_TIMEOUT_MS = 4_000;
const RETRY_BASE_MS = 500; // first retry within 0.5 s, then 1 s, 2 s (full jitter)

type Ev = Record<string, unknown> & { ev?: string };

/** A child in the lab whose stdout is JSON lines (or a plain log), with bounded waits that explain themselves. */
class Proc {
  readonly events: Ev[] = [];
  log = '';
  stderr = '';
  private readonly listeners = new Set<() => void>();

  constructor(
    readonly label: string,
    readonly child: ChildProcess,
  ) {
    if (child.stdout) {
      createInterface({ input: child.stdout }).on('line', (line) => {
        this.log += `${line}\n`;
        if (line.startsWith('{')) {
          try {
            this.events.push(JSON.parse(line) as Ev);
          } catch {
            // a log line that happens to start with {
          }
        }
        this.notify();
      });
    }
    child.stderr?.on('data', (d: Buffer) => {
      this.stderr += d.toString();
    });
    child.once('exit', () => this.notify());
  }

  private notify(): void {
    for (const l of [...this.listeners]) l();
  }

  exited(): boolean {
    return this.child.exitCode !== null || this.child.signalCode !== null;
  }

  describe(): string {
    const status = this.exited() ? `exited (${this.child.exitCode ?? this.child.signalCode})` : 'running';
    const events = this.events
      .filter((e) => e.ev !== 'recv')
      .slice(-25)
      .map((e) => JSON.stringify(e));
    const recv = this.events.filter((e) => e.ev === 'recv').length;
    const tail = this.events.length === 0 ? `\n  log: ${this.log.slice(-2000)}` : '';
    return (
      `${this.label} ${status}; received ${recv} numbers; events:\n  ${events.join('\n  ')}${tail}\n` +
      `  stderr: ${this.stderr.slice(-3000) || '(empty)'}`
    );
  }

  /** Resolves when `test` holds for the output so far; rejects after `ms` or when the child exits first. */
  waitFor<T>(what: string, ms: number, test: (p: Proc) => T | undefined): Promise<T> {
    return new Promise((resolve, reject) => {
      const done = () => {
        clearTimeout(timer);
        this.listeners.delete(check);
      };
      const check = () => {
        const v = test(this);
        if (v !== undefined && v !== false) {
          done();
          resolve(v);
        } else if (this.exited()) {
          done();
          reject(new Error(`${this.label} exited before ${what}.\n${this.describe()}`));
        }
      };
      const timer = setTimeout(() => {
        done();
        reject(new Error(`${this.label}: ${what} did not happen within ${ms} ms.\n${this.describe()}`));
      }, ms);
      this.listeners.add(check);
      check();
    });
  }

  waitEvent(ev: string, ms: number): Promise<Ev> {
    return this.waitFor(`event "${ev}"`, ms, (p) => p.events.find((e) => e.ev === ev));
  }

  tell(cmd: object): void {
    this.child.stdin?.write(`${JSON.stringify(cmd)}\n`);
  }

  /** Asks a peer to close its client and exit; SIGKILL after `ms`. */
  async stop(ms = 5_000): Promise<void> {
    if (this.exited()) return;
    const exited = new Promise<void>((r) => this.child.once('exit', () => r()));
    this.tell({ cmd: 'close' });
    const timer = setTimeout(() => this.child.kill('SIGKILL'), ms);
    await exited;
    clearTimeout(timer);
  }
}

let lab: NetLab | undefined;
let relay: Proc | undefined;
let turn: Proc | undefined;
let enabled = false;
const tmp: string[] = [];
const peers: Proc[] = [];

function relayUrl(l: NetLab): string {
  return `http://${l.ip('relay')}:${RELAY_PORT}`;
}

// A reachability probe run inside a namespace: prints `ok` or `blocked` (or `http <status>`), bounded to 1.5 s.
const PROBE = `
const [kind, host, port] = process.argv.slice(1);
const say = (s) => { console.log(s); process.exit(0); };
setTimeout(() => say('blocked'), 1500);
if (kind === 'http') {
  fetch('http://' + host + ':' + port + '/api/health', { signal: AbortSignal.timeout(1400) })
    .then((r) => say(r.status === 200 ? 'ok' : 'http ' + r.status), () => say('blocked'));
} else if (kind === 'tcp') {
  require('node:net').connect(Number(port), host, () => say('ok')).on('error', () => say('blocked'));
} else {
  // A STUN binding request: coturn answers it on its UDP port.
  const s = require('node:dgram').createSocket('udp4');
  const req = Buffer.alloc(20);
  req.writeUInt16BE(0x0001, 0);
  req.writeUInt32BE(0x2112a442, 4);
  require('node:crypto').randomFillSync(req, 8, 12);
  s.on('message', () => say('ok'));
  s.on('error', () => say('blocked'));
  s.send(req, Number(port), host);
}
`;

async function probe(l: NetLab, from: string, kind: 'http' | 'tcp' | 'stun', port: number): Promise<string> {
  const r = await l.run(from, 'node', ['-e', PROBE, kind, l.ip('relay'), String(port)], { timeoutMs: 10_000 });
  if (r.code !== 0) throw new Error(`${kind} probe from ${from} failed (${r.code ?? r.signal}): ${r.stderr}`);
  return r.stdout.trim();
}

/** The relay's Prometheus text, fetched from inside the relay namespace. */
async function metricsText(l: NetLab): Promise<string> {
  const r = await l.run(
    'relay',
    'node',
    [
      '-e',
      'fetch(process.argv[1], { signal: AbortSignal.timeout(4000) }).then(async (r) => { if (r.status !== 200) process.exit(2); process.stdout.write(await r.text()); })',
      `${relayUrl(l)}/api/metrics`,
    ],
    { timeoutMs: 10_000 },
  );
  if (r.code !== 0)
    throw new Error(`GET /api/metrics in the relay namespace failed (${r.code ?? r.signal}): ${r.stderr}`);
  return r.stdout;
}

/** oppie_relay_transport_reports_total by `path/outcome`. */
function transportReports(text: string): Map<string, number> {
  const m = new Map<string, number>();
  for (const line of text.split('\n')) {
    if (!line.startsWith('oppie_relay_transport_reports_total{')) continue;
    const labels = line.slice(line.indexOf('{') + 1, line.lastIndexOf('}'));
    const path = /path="([^"]*)"/.exec(labels)?.[1];
    const outcome = /outcome="([^"]*)"/.exec(labels)?.[1];
    const value = Number(line.slice(line.lastIndexOf('}') + 1).trim());
    m.set(`${path}/${outcome}`, value);
  }
  return m;
}

function startPeer(l: NetLab, host: 'a' | 'b', role: 'sidecar' | 'pwa', dir: string): Proc {
  const child = l.spawn(
    host,
    process.execPath,
    [
      PEER,
      role,
      relayUrl(l),
      dir,
      String(COUNT),
      String(INTERVAL_MS),
      String(UPGRADE_TIMEOUT_MS),
      String(RETRY_BASE_MS),
    ],
    { cwd: ROOT, stdio: ['pipe', 'pipe', 'pipe'], env: { ...process.env, NODE_OPTIONS: '' } },
  );
  const p = new Proc(`peer ${host} (${role})`, child);
  peers.push(p);
  return p;
}

beforeAll(async () => {
  enabled = requireNetns() && requireBinary('turnserver', 'apt-get install coturn');
  if (!enabled) return;
  const missing = BUILT.filter((f) => !existsSync(join(ROOT, f)));
  if (missing.length > 0) {
    throw new Error(`the NAT matrix runs the built packages; missing ${missing.join(', ')}: run \`npm run build\``);
  }
  const l = await NetLab.create(['relay', 'a', 'b']);
  lab = l;
  const ip = l.ip('relay');
  const turnDir = mkdtempSync(join(tmpdir(), 'oppie-nat-turn-'));
  const dataDir = mkdtempSync(join(tmpdir(), 'oppie-nat-relay-'));
  tmp.push(turnDir, dataDir);

  // coturn as turn/scripts/dev-turnserver.sh runs it, on the relay namespace's address (not loopback, so no
  // --allow-loopback-peers; with -n no config file is read, so no denied-peer-ip ranges refuse the lab's 10.x peers).
  turn = new Proc(
    'coturn',
    l.spawn(
      'relay',
      'stdbuf',
      [
        '-oL',
        '-eL',
        'turnserver',
        '-n',
        '--no-cli',
        '--log-file=stdout',
        '--simple-log',
        `--listening-ip=${ip}`,
        `--relay-ip=${ip}`,
        `--listening-port=${TURN_PORT}`,
        '--min-port=49160',
        '--max-port=49300',
        '--use-auth-secret',
        `--static-auth-secret=${SECRET}`,
        '--realm=oppie.local',
        '--no-tls',
        '--no-dtls',
        '--fingerprint',
        `--pidfile=${turnDir}/turn.pid`,
        `--userdb=${turnDir}/turndb`,
      ],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    ),
  );
  relay = new Proc(
    'relay',
    l.spawn('relay', process.execPath, [join(ROOT, 'server/dist/main.js')], {
      cwd: ROOT,
      stdio: ['ignore', 'pipe', 'pipe'],
      env: {
        ...process.env,
        NODE_OPTIONS: '',
        HOST: ip,
        PORT: String(RELAY_PORT),
        DATA_DIR: dataDir,
        LOG_LEVEL: 'warn',
        REGISTRATION: 'open',
        REGISTRATIONS_PER_IP_PER_HOUR: '1000',
        STUN_URLS: `stun:${ip}:${TURN_PORT}`,
        TURN_URLS: `turn:${ip}:${TURN_PORT}?transport=udp,turn:${ip}:${TURN_PORT}?transport=tcp`,
        TURN_SECRETS: SECRET,
      },
    }),
  );
  await turn.waitFor('coturn startup ("Total General servers" in its log)', 10_000, (p) =>
    /Total General servers/i.test(p.log) ? true : undefined,
  );
  const deadline = Date.now() + 15_000;
  for (;;) {
    if (relay.exited()) throw new Error(`the relay exited at startup.\n${relay.describe()}`);
    if ((await probe(l, 'relay', 'http', RELAY_PORT)) === 'ok') break;
    if (Date.now() > deadline) throw new Error(`the relay did not answer /api/health in 15 s.\n${relay.describe()}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}, 40_000);

afterAll(async () => {
  await Promise.all(peers.map((p) => p.stop(3_000)));
  await lab?.destroy();
  lab = undefined;
  for (const d of tmp.splice(0)) rmSync(d, { recursive: true, force: true });
}, 30_000);

interface Scenario {
  readonly name: string;
  /** iptables rules in `a` and `b` (both start from an empty firewall). */
  readonly rules: (l: NetLab) => void;
  /** What the probes from `a` and `b` see: the relay's HTTP always works. */
  readonly reach: { stun: 'ok' | 'blocked'; turnTcp: 'ok' | 'blocked' };
  readonly path: 'direct' | 'turn' | 'relay';
  readonly relayProtocol?: 'udp' | 'tcp';
  readonly outcome: 'upgraded' | 'timeout';
}

const dropEachOther = (l: NetLab) => {
  l.iptables('a', '-A', 'INPUT', '-s', l.ip('b'), '-j', 'DROP');
  l.iptables('b', '-A', 'INPUT', '-s', l.ip('a'), '-j', 'DROP');
};
const dropUdp = (l: NetLab) => {
  for (const h of ['a', 'b']) {
    l.iptables(h, '-A', 'INPUT', '-p', 'udp', '-j', 'DROP');
    l.iptables(h, '-A', 'OUTPUT', '-p', 'udp', '-j', 'DROP');
  }
};
const dropTurnTcp = (l: NetLab) => {
  for (const h of ['a', 'b']) {
    l.iptables(h, '-A', 'OUTPUT', '-d', l.ip('relay'), '-p', 'tcp', '--dport', String(TURN_PORT), '-j', 'DROP');
  }
};

const SCENARIOS: Scenario[] = [
  {
    name: 'no rules: direct',
    rules: () => {},
    reach: { stun: 'ok', turnTcp: 'ok' },
    path: 'direct',
    outcome: 'upgraded',
  },
  {
    name: 'a and b drop each other: TURN (udp)',
    rules: dropEachOther,
    reach: { stun: 'ok', turnTcp: 'ok' },
    path: 'turn',
    relayProtocol: 'udp',
    outcome: 'upgraded',
  },
  {
    name: 'and all UDP dropped: TURN over TCP',
    rules: (l) => {
      dropEachOther(l);
      dropUdp(l);
    },
    reach: { stun: 'blocked', turnTcp: 'ok' },
    path: 'turn',
    relayProtocol: 'tcp',
    outcome: 'upgraded',
  },
  {
    name: "and TURN's port blocked: stays on the relay, upgrade times out",
    rules: (l) => {
      dropEachOther(l);
      dropUdp(l);
      dropTurnTcp(l);
    },
    reach: { stun: 'blocked', turnTcp: 'blocked' },
    path: 'relay',
    outcome: 'timeout',
  },
];

describe('direct path NAT matrix (network namespaces, real coturn, built SDKs)', () => {
  for (const s of SCENARIOS) {
    it(s.name, async () => {
      if (!enabled) return;
      const l = lab as NetLab;
      for (const h of ['a', 'b']) l.resetFirewall(h);
      s.rules(l);
      const seen = await Promise.all(
        (['a', 'b'] as const).flatMap((h) => [
          probe(l, h, 'http', RELAY_PORT).then((r) => `${h}: relay http ${r}`),
          probe(l, h, 'stun', TURN_PORT).then((r) => `${h}: turn udp ${r}`),
          probe(l, h, 'tcp', TURN_PORT).then((r) => `${h}: turn tcp ${r}`),
        ]),
      );
      expect(seen).toEqual(
        (['a', 'b'] as const).flatMap((h) => [
          `${h}: relay http ok`,
          `${h}: turn udp ${s.reach.stun}`,
          `${h}: turn tcp ${s.reach.turnTcp}`,
        ]),
      );
      const before = transportReports(await metricsText(l));

      const dir = mkdtempSync(join(tmpdir(), 'oppie-nat-peers-'));
      tmp.push(dir);
      const a = startPeer(l, 'a', 'sidecar', join(dir, 'a'));
      const b = startPeer(l, 'b', 'pwa', join(dir, 'b'));
      try {
        const link = await a.waitEvent('link', 15_000);
        b.tell({ cmd: 'pair', link: link.link });
        // Sending takes COUNT * INTERVAL_MS; the rest is startup, pairing and slack for a loaded machine.
        const budget = COUNT * INTERVAL_MS + 15_000;
        await Promise.all([a.waitEvent('done', budget), b.waitEvent('done', budget)]);

        const key = `${s.path}/${s.outcome}`;
        const wanted = (before.get(key) ?? 0) + 1;
        let after = transportReports(await metricsText(l));
        const deadline = Date.now() + 5_000;
        while ((after.get(key) ?? 0) < wanted && Date.now() < deadline) {
          await new Promise((r) => setTimeout(r, 250));
          after = transportReports(await metricsText(l));
        }
        if (s.outcome === 'upgraded') {
          // Tolerated (a retry follows at once here) but never silent: on these networks the first attempt should work.
          const failed = [a, b].flatMap((p) =>
            p.events
              .filter((e) => e.ev === 'upgrade' && e.outcome !== 'upgraded')
              .map((e) => `${p.label}: ${JSON.stringify(e)}`),
          );
          if (failed.length > 0) {
            console.warn(`!!! ${s.name}: an upgrade attempt failed before one succeeded:\n  ${failed.join('\n  ')}`);
          }
        }
        if (process.env.OPPIE_NAT_VERBOSE === '1') console.log(`${s.name}\n${a.describe()}\n${b.describe()}`);
        const ctx = `\n${a.describe()}\n${b.describe()}\nreports before: ${JSON.stringify([...before])}, after: ${JSON.stringify([...after])}`;

        for (const p of [a, b]) {
          const numbers = p.events.filter((e) => e.ev === 'recv').map((e) => e.n);
          expect(numbers, `${p.label}: every number once, in order${ctx}`).toEqual(
            Array.from({ length: COUNT }, (_, i) => i),
          );
          expect(
            p.events.filter((e) => e.ev === 'sendError' || e.ev === 'fatal'),
            `${p.label}${ctx}`,
          ).toEqual([]);
          const paths = p.events.filter((e) => e.ev === 'path');
          const upgrades = p.events.filter((e) => e.ev === 'upgrade');
          const done = p.events.find((e) => e.ev === 'done');
          expect(done?.path, `${p.label}: path when done${ctx}`).toBe(s.path);
          if (s.path === 'relay') {
            expect(
              paths.filter((e) => e.path !== 'relay'),
              `${p.label}: never left the relay${ctx}`,
            ).toEqual([]);
          } else {
            expect(paths.at(-1)?.path, `${p.label}: last path event${ctx}`).toBe(s.path);
            expect(
              paths.filter((e) => e.path !== 'relay' && e.path !== s.path),
              `${p.label}: no other path${ctx}`,
            ).toEqual([]);
          }
          if (s.outcome === 'timeout') {
            // The dialing side (the smaller device id) runs the timer; the other side may never hear of an attempt
            // whose offer could not be completed.
            const paired = p.events.find((e) => e.ev === 'paired');
            if (String(paired?.self) < String(paired?.peer)) {
              expect(upgrades.length, `${p.label} (dials): an upgrade attempt ended${ctx}`).toBeGreaterThan(0);
            }
            expect(
              upgrades.filter((e) => e.outcome !== 'timeout'),
              `${p.label}: every attempt timed out${ctx}`,
            ).toEqual([]);
          }
        }
        if (s.outcome === 'upgraded') {
          const upgraded = [a, b].flatMap((p) =>
            p.events.filter((e) => e.ev === 'upgrade' && e.outcome === 'upgraded'),
          );
          expect(upgraded.length, `an upgrade outcome "upgraded"${ctx}`).toBeGreaterThan(0);
        }
        if (s.relayProtocol !== undefined) {
          // With policy `all` often only one side is relayed: that side knows the relay protocol.
          const protocols = [a, b].flatMap((p) =>
            p.events.filter((e) => e.ev === 'path' && e.path === 'turn' && e.relayProtocol !== undefined),
          );
          expect(
            protocols.map((e) => e.relayProtocol),
            `relayProtocol of the turn path${ctx}`,
          ).toContain(s.relayProtocol);
          if (s.relayProtocol === 'tcp') {
            expect(
              protocols.filter((e) => e.relayProtocol !== 'tcp'),
              `only TURN over TCP${ctx}`,
            ).toEqual([]);
          }
        }
        expect(after.get(key) ?? 0, `oppie_relay_transport_reports_total{${key}} grew${ctx}`).toBeGreaterThanOrEqual(
          wanted,
        );
      } catch (err) {
        // A wait that ran out: add what the relay and coturn said (assertion failures carry the peers' events).
        if ((err as Error).name !== 'AssertionError') {
          (err as Error).message += `\n${relay?.describe() ?? ''}\n${turn?.describe() ?? ''}`;
        }
        throw err;
      } finally {
        await Promise.all([a.stop(), b.stop()]);
        peers.splice(0);
      }
    }, 60_000);
  }
});
