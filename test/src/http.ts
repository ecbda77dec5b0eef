/**
 * A minimal JSON client over node:http. Not fetch: node:http can bind a local address (127.0.0.x), which the
 * benchmarks need to spread thousands of clients over several source addresses.
 */
import { Agent, request } from 'node:http';
import { asErrorBody, TestKitError } from './errors.js';

/** Keep-alive agent shared by the harness, so a loop of REST calls does not churn ephemeral ports. */
const keepAlive = new Agent({ keepAlive: true, maxSockets: 64 });

export interface ApiOptions {
  /** Sent as `Authorization: Bearer <token>`. */
  readonly token?: string | undefined;
  /** Source address, e.g. `127.0.0.2`. */
  readonly localAddress?: string | undefined;
  /** Extra request headers (attack tests: a forged X-Forwarded-For, a bad Authorization). */
  readonly headers?: Readonly<Record<string, string>> | undefined;
  readonly timeoutMs?: number | undefined;
}

/** An HTTP answer: status and parsed JSON body (`undefined` when the body was empty or not JSON). */
export interface ApiResponse<T = unknown> {
  readonly status: number;
  readonly body: T;
  readonly headers: Readonly<Record<string, string | string[] | undefined>>;
}

/**
 * Calls a relay REST endpoint and returns whatever it answered; never throws on a non-2xx status.
 *
 * @example
 * const res = await api(url, 'POST', '/api/auth/token', { proof: {} });
 * expect(res.status).toBe(400);
 */
export function api<T = unknown>(
  baseUrl: string,
  method: string,
  path: string,
  body?: unknown,
  opts: ApiOptions = {},
): Promise<ApiResponse<T>> {
  const target = new URL(path, baseUrl);
  const data = body === undefined ? undefined : Buffer.from(JSON.stringify(body));
  const headers: Record<string, string> = { accept: 'application/json', ...opts.headers };
  if (data !== undefined) {
    headers['content-type'] = 'application/json';
    headers['content-length'] = String(data.length);
  }
  if (opts.token !== undefined) headers.authorization = `Bearer ${opts.token}`;
  const timeoutMs = opts.timeoutMs ?? 10_000;
  return new Promise((resolve, reject) => {
    const req = request(
      target,
      {
        method,
        headers,
        agent: keepAlive,
        ...(opts.localAddress !== undefined && { localAddress: opts.localAddress }),
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('error', reject);
        res.on('end', () => {
          const text = Buffer.concat(chunks).toString('utf8');
          let parsed: unknown;
          if (text.length > 0) {
            try {
              parsed = JSON.parse(text);
            } catch {
              parsed = text;
            }
          }
          resolve({ status: res.statusCode ?? 0, body: parsed as T, headers: res.headers });
        });
      },
    );
    req.setTimeout(timeoutMs, () => {
      req.destroy(new TestKitError('TESTKIT_TIMEOUT', `${method} ${path} got no answer within ${timeoutMs} ms`));
    });
    req.on('error', (err) => {
      reject(
        err instanceof TestKitError
          ? err
          : new TestKitError('TESTKIT_CONNECT_FAILED', `${method} ${path}: ${err.message}`, { cause: err }),
      );
    });
    req.end(data);
  });
}

/**
 * Like {@link api} but throws a {@link TestKitError} (`TESTKIT_HTTP`, with `status` and the relay's `body`) unless
 * the answer is 2xx.
 */
export async function apiOk<T>(
  baseUrl: string,
  method: string,
  path: string,
  body?: unknown,
  opts: ApiOptions = {},
): Promise<T> {
  const res = await api<T>(baseUrl, method, path, body, opts);
  if (res.status < 200 || res.status > 299) {
    const err = asErrorBody(res.body);
    const detail = err === undefined ? JSON.stringify(res.body) : `${err.code}: ${err.message}`;
    throw new TestKitError('TESTKIT_HTTP', `${method} ${path} answered ${res.status} (${detail})`, {
      status: res.status,
      body: err,
    });
  }
  return res.body;
}
