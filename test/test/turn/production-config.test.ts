/**
 * turn/turnserver.conf as shipped, on a real coturn bound to loopback. Only what cannot work in a test is rewritten
 * (certificate, addresses, ports, log and state files, the secret, the user to switch to), and each value is replaced
 * the way an operator fills it in, keeping whatever follows it on the line: a setting coturn rejects in production is
 * rejected here too. OPPIE_TURN_CONF=<file> runs the same checks on another configuration.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { createSocket } from 'node:dgram';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect } from 'node:tls';
import { fileURLToPath } from 'node:url';
import { turnCredential } from '@oppie/relay';
import { freePort, requireBinary, selfSignedCertificate } from '@oppie/test-kit';
import { afterEach, describe, expect, it } from 'vitest';
import { freeUdpPort } from './coturn.js';

const CONF_FILE =
  process.env.OPPIE_TURN_CONF ?? fileURLToPath(new URL('../../../turn/turnserver.conf', import.meta.url));
const SECRET = 'production-config-test-secret';
// coturn logs a setting it ignored or could not use with one of these. It also logs refused peers as ERROR, so the
// log is read before any peer is tried.
const COMPLAINT = /Bad configuration format|cannot find|cannot start|\bERROR\b/;

interface ProductionCoturn {
  readonly port: number;
  readonly tlsPort: number;
  /** coturn's log file so far. */
  log(): string;
  stop(): Promise<void>;
}

let coturn: ProductionCoturn | undefined;
afterEach(async () => {
  await coturn?.stop();
  coturn = undefined;
});

/**
 * `text` with each key in `set` given its value (replacing the first word or the whole `<placeholder>`, as an
 * operator does) or appended when missing, every key in `drop` removed, and `add` appended.
 */
function rewrite(text: string, set: Record<string, string>, drop: readonly string[], add: readonly string[]): string {
  const missing = new Set(Object.keys(set));
  const lines = text.split('\n').flatMap((line) => {
    const key = /^\s*([\w-]+)\s*(?:=|$)/.exec(line)?.[1];
    if (key === undefined) return [line];
    if (drop.includes(key)) return [];
    const value = set[key];
    if (value === undefined) return [line];
    missing.delete(key);
    return [line.replace(/^(\s*[\w-]+\s*=\s*)(<[^>]*>|\S*)/, (_, head: string) => head + value)];
  });
  return [...lines, ...[...missing].map((k) => `${k}=${set[k]}`), ...add, ''].join('\n');
}

async function ipv6Loopback(): Promise<boolean> {
  const s = createSocket('udp6');
  const bound = await new Promise<boolean>((resolve) => {
    s.once('error', () => resolve(false));
    s.bind(0, '::1', () => resolve(true));
  });
  s.close();
  return bound;
}

/** Starts coturn in the foreground on the rewritten `confFile`; ready, with its startup logged, when it returns. */
async function startProductionCoturn(confFile: string, relayIpv6: boolean): Promise<ProductionCoturn> {
  const dir = mkdtempSync(join(tmpdir(), 'oppie-turn-conf-'));
  const logFile = join(dir, 'turn.log');
  let child: ChildProcess | undefined;
  let output = '';
  const stop = async () => {
    if (child !== undefined && child.exitCode === null && child.signalCode === null) {
      const exited = new Promise((r) => child?.once('exit', r));
      // Nothing to shut down gracefully in a throwaway server, and SIGTERM takes coturn 2-3 s.
      child.kill('SIGKILL');
      await exited;
    }
    rmSync(dir, { recursive: true, force: true });
  };
  const log = () => (existsSync(logFile) ? readFileSync(logFile, 'utf8') : '');
  try {
    const { certFile, keyFile } = selfSignedCertificate(dir);
    const port = await freeUdpPort();
    const tlsPort = await freePort();
    const relayMin = Math.min(await freeUdpPort(), 65535 - 20);
    const conf = rewrite(
      readFileSync(confFile, 'utf8'),
      {
        cert: certFile,
        pkey: keyFile,
        'listening-port': String(port),
        'tls-listening-port': String(tlsPort),
        'min-port': String(relayMin),
        'max-port': String(relayMin + 20),
        'log-file': logFile,
        'static-auth-secret': SECRET,
        pidfile: join(dir, 'turn.pid'),
        userdb: join(dir, 'turndb'),
      },
      // Only root may switch users; as root the switch is part of what is tested.
      ['listening-ip', 'relay-ip', 'external-ip', ...(process.getuid?.() === 0 ? [] : ['proc-user', 'proc-group'])],
      ['listening-ip=127.0.0.1', 'relay-ip=127.0.0.1', ...(relayIpv6 ? ['relay-ip=::1'] : [])],
    );
    const confPath = join(dir, 'turnserver.conf');
    writeFileSync(confPath, conf);
    child = spawn('turnserver', ['-c', confPath], { stdio: ['ignore', 'pipe', 'pipe'] });
    child.stdout?.on('data', (d: Buffer) => {
      output += d.toString();
    });
    child.stderr?.on('data', (d: Buffer) => {
      output += d.toString();
    });
    child.once('error', (err) => {
      output += `\n${err.message}`;
    });

    // Ready once its relay servers run and the log has been quiet for a moment: the auth and admin threads and
    // the switch to proc-user are logged just after.
    const deadline = Date.now() + 10_000;
    let seen = '';
    let quietSince = Date.now();
    for (;;) {
      const now = log();
      if (now !== seen) {
        seen = now;
        quietSince = Date.now();
      }
      if (/Total General servers/.test(seen) && Date.now() - quietSince >= 300) break;
      if (Date.now() > deadline || child.exitCode !== null || child.signalCode !== null) {
        throw new Error(`coturn did not start with ${confFile}:\n${seen}\n${output}`);
      }
      await new Promise((r) => setTimeout(r, 50));
    }
    return { port, tlsPort, log, stop };
  } catch (err) {
    await stop();
    throw err;
  }
}

function complaints(log: string): string[] {
  return log.split('\n').filter((line) => COMPLAINT.test(line));
}

function tlsHandshake(port: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = connect({ host: '127.0.0.1', port, rejectUnauthorized: false, timeout: 5_000 });
    socket.once('secureConnect', () => {
      resolve(socket.getProtocol() ?? 'unknown');
      socket.destroy();
    });
    socket.once('timeout', () => {
      reject(new Error('no handshake within 5 s'));
      socket.destroy();
    });
    socket.once('error', reject);
  });
}

/**
 * Asks coturn, through an IPv6 relay address, to relay to `peer` (turnutils_uclient binds a channel, which
 * installs a permission). A refusal arrives within milliseconds; a granted permission makes uclient send and wait
 * about 15 s for echoes, so it is stopped after 5 s.
 */
function askToRelay(port: number, peer: string, username: string, credential: string): Promise<string> {
  return new Promise((resolve) => {
    const args = ['-x', '-n', '1', '-m', '1', '-e', peer, '-u', username, '-w', credential, '-p', String(port)];
    const child = spawn('turnutils_uclient', [...args, '127.0.0.1'], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.on('data', (d: Buffer) => {
      out += d.toString();
    });
    child.stderr.on('data', (d: Buffer) => {
      out += d.toString();
    });
    const timer = setTimeout(() => child.kill('SIGKILL'), 5_000);
    child.once('close', () => {
      clearTimeout(timer);
      if (/error 403/.test(out)) return resolve('refused (403)');
      const last = out.trim().split('\n').at(-1) ?? '';
      resolve(`not refused: ${last}`);
    });
  });
}

describe('turn/turnserver.conf as shipped, on a real coturn', () => {
  it('starts without a setting coturn rejects or cannot use', async () => {
    if (!requireBinary('turnserver', 'apt-get install coturn')) return;
    if (!requireBinary('openssl', 'apt-get install openssl')) return;
    coturn = await startProductionCoturn(CONF_FILE, false);
    expect(complaints(coturn.log()), 'coturn ignored or could not use part of the configuration').toEqual([]);
  }, 30_000);

  it('completes a TLS handshake on tls-listening-port', async () => {
    if (!requireBinary('turnserver', 'apt-get install coturn')) return;
    if (!requireBinary('openssl', 'apt-get install openssl')) return;
    const c = await startProductionCoturn(CONF_FILE, false);
    coturn = c;
    const protocol = await tlsHandshake(c.tlsPort).catch((err: Error) => {
      const said = complaints(c.log()).join('\n');
      throw new Error(`no TLS handshake on 127.0.0.1:${c.tlsPort} (${err.message}); coturn logged:\n${said}`);
    });
    expect(protocol).toMatch(/^TLSv1\.[23]$/);
  }, 30_000);

  // Loopback spellings only: had coturn granted one, what uclient then sends still stays on this host.
  it('refuses IPv6 spellings of IPv4 peers', async () => {
    if (!requireBinary('turnserver', 'apt-get install coturn')) return;
    if (!requireBinary('turnutils_uclient', 'apt-get install coturn')) return;
    if (!requireBinary('openssl', 'apt-get install openssl')) return;
    if (!(await ipv6Loopback())) {
      console.warn('\n!!! SKIPPED: ::1 cannot be bound here, and an IPv6 peer needs an IPv6 relay address.\n');
      return;
    }
    const c = await startProductionCoturn(CONF_FILE, true);
    coturn = c;
    const { username, credential } = turnCredential(SECRET, 'device-1', Math.floor(Date.now() / 1000) + 300);
    const peers = ['::ffff:127.0.0.1', '::127.0.0.1'];
    const answers = await Promise.all(peers.map((p) => askToRelay(c.port, p, username, credential)));
    expect(Object.fromEntries(peers.map((p, i) => [p, answers[i]]))).toEqual({
      '::ffff:127.0.0.1': 'refused (403)',
      '::127.0.0.1': 'refused (403)',
    });
  }, 30_000);

  // coturn < 4.9.0 reads a "::" lower bound as no bound and then matches every IPv4 peer as well.
  it('has no IPv6 denied-peer-ip range starting at ::', () => {
    const lowerBounds = readFileSync(CONF_FILE, 'utf8')
      .split('\n')
      .map((line) => /^\s*denied-peer-ip\s*=\s*([^\s-]+)-/.exec(line)?.[1])
      .filter((low): low is string => low?.includes(':') === true);
    expect(lowerBounds.filter((low) => /^[:0.]+$/.test(low))).toEqual([]);
  });
});
