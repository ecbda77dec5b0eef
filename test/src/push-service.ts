/**
 * A stand-in Web Push service on 127.0.0.1: HTTPS with a throwaway self-signed certificate (web-push only speaks
 * HTTPS), recording every push it receives and answering as the test says: a status, never, or as a hostile
 * endpoint would (a body without end, or one byte a second), noting when the relay cuts such an answer off.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer, type Server } from 'node:https';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { TestKitError } from './errors.js';

/** One push request as the service received it. */
export interface ReceivedPush {
  readonly path: string;
  readonly headers: Readonly<Record<string, string | string[] | undefined>>;
  readonly body: Buffer;
}

/**
 * How to answer a push: an HTTP status (201 is success), `hang` to never answer, `stream` (201, then a body that
 * never ends, as fast as the relay reads) or `trickle` (201, then one byte a second, forever).
 */
export type PushAnswer = number | 'hang' | 'stream' | 'trickle';

export interface TestPushService {
  /** `https://127.0.0.1:PORT`; endpoints are this plus any path. */
  readonly url: string;
  /** PEM file of the certificate (give it to the relay as PUSH_CA_FILE). */
  readonly caFile: string;
  /** Every push received so far, in order. */
  readonly received: readonly ReceivedPush[];
  /** Decides each answer; default 201. */
  answer: (push: ReceivedPush) => PushAnswer;
  /** Resolves with the `n`-th push (0-based) once it arrived; rejects with TESTKIT_TIMEOUT. */
  nth(n: number, timeoutMs?: number): Promise<ReceivedPush>;
  /**
   * Resolves with the bytes of body sent once the relay closed the connection of the `n`-th push while a `stream`
   * or `trickle` answer was still going; rejects with TESTKIT_TIMEOUT.
   */
  cutOff(n: number, timeoutMs?: number): Promise<number>;
  close(): Promise<void>;
}

/**
 * A throwaway P-256 certificate for 127.0.0.1 and localhost (valid one day), written as `cert.pem` and `key.pem`
 * into `dir`; it is its own CA, so trusting `certFile` trusts the server. Needs `openssl`.
 *
 * @example
 * const { certFile, keyFile } = selfSignedCertificate(mkdtempSync(join(tmpdir(), 'tls-')));
 */
export function selfSignedCertificate(dir: string): { certFile: string; keyFile: string } {
  const certFile = join(dir, 'cert.pem');
  const keyFile = join(dir, 'key.pem');
  const key = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', keyFile];
  const subject = ['-subj', '/CN=127.0.0.1', '-addext', 'subjectAltName=IP:127.0.0.1,DNS:localhost'];
  execFileSync('openssl', ['req', '-x509', ...key, '-out', certFile, '-days', '1', ...subject], { stdio: 'ignore' });
  return { certFile, keyFile };
}

/**
 * Starts the service; needs `openssl` (check with `requireBinary` first).
 *
 * @example
 * const ps = await startPushService();
 * const t = await startTestRelay({ pushCaFile: ps.caFile, pushAllowPrivateEndpoints: true });
 * const push = await ps.nth(0);
 */
export async function startPushService(): Promise<TestPushService> {
  const dir = mkdtempSync(join(tmpdir(), 'oppie-push-'));
  const { certFile: caFile, keyFile } = selfSignedCertificate(dir);
  const received: ReceivedPush[] = [];
  /** Bytes of an endless answer sent when the relay closed its connection, by push index. */
  const cut: number[] = [];
  const waiters: Array<() => void> = [];
  const wake = () => {
    for (const w of waiters.splice(0)) w();
  };
  function until<T>(get: () => T | undefined, timeoutMs: number, what: string): Promise<T> {
    const now = get();
    if (now !== undefined) return Promise.resolve(now);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(
        () => reject(new TestKitError('TESTKIT_TIMEOUT', `${what} did not happen within ${timeoutMs} ms`)),
        timeoutMs,
      );
      const check = () => {
        const value = get();
        if (value === undefined) return waiters.push(check);
        clearTimeout(timer);
        resolve(value);
      };
      waiters.push(check);
    });
  }
  const service: TestPushService = {
    url: '',
    caFile,
    received,
    answer: () => 201,
    nth: (n, timeoutMs = 5_000) => until(() => received[n], timeoutMs, `push #${n}`),
    cutOff: (n, timeoutMs = 5_000) => until(() => cut[n], timeoutMs, `the relay cutting off answer #${n}`),
    close: async () => {},
  };
  const server: Server = createServer({ cert: readFileSync(caFile), key: readFileSync(keyFile) }, (req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const push: ReceivedPush = { path: req.url ?? '/', headers: req.headers, body: Buffer.concat(chunks) };
      const index = received.push(push) - 1;
      wake();
      const answer = service.answer(push);
      if (answer === 'hang') return;
      if (answer !== 'stream' && answer !== 'trickle') {
        res.writeHead(answer).end();
        return;
      }
      let sent = 0;
      let timer: NodeJS.Timeout | undefined;
      res.on('close', () => {
        clearTimeout(timer);
        cut[index] = sent;
        wake();
      });
      res.writeHead(201, { 'content-type': 'text/plain' });
      const chunk = Buffer.alloc(answer === 'stream' ? 16 * 1024 : 1, 0x61);
      const more = () => {
        if (res.destroyed) return;
        sent += chunk.length;
        const room = res.write(chunk);
        if (answer === 'trickle') timer = setTimeout(more, 1000);
        else if (room) setImmediate(more);
        else res.once('drain', more);
      };
      more();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return Object.assign(service, {
    url: `https://127.0.0.1:${port}`,
    async close() {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      rmSync(dir, { recursive: true, force: true });
    },
  });
}
