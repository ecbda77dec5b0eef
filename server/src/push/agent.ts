/**
 * The HTTPS agent every push request goes through. A subscription endpoint is chosen by a device, so the relay must
 * not let it point the relay at its own network: the check runs where the connection is made, on the port and on
 * every address the name resolves to at that moment (so a public name that resolves to a private address, or
 * starts to, is refused too), not only on the URL when it was stored.
 */
import { lookup as dnsLookup, type LookupAddress, type LookupOptions } from 'node:dns';
import { readFileSync } from 'node:fs';
import { Agent, type RequestOptions } from 'node:https';
import type { LookupFunction } from 'node:net';
import type { Duplex } from 'node:stream';
import { rootCertificates } from 'node:tls';
import { ConfigError } from '../config.js';
import { isPrivateAddress, isPrivateHost } from './address.js';

/** A push request refused before connecting; `reason` says why (never the URL path: it is the device's secret). */
export class PushEndpointRefusedError extends Error {
  override readonly name = 'PushEndpointRefusedError';
  readonly code = 'PUSH_ERR_ENDPOINT_REFUSED';

  constructor(
    readonly reason: 'port' | 'private_address',
    message: string,
  ) {
    super(message);
  }
}

export interface PushAgentOptions {
  /** PUSH_ALLOW_PRIVATE_ENDPOINTS: any port, any address. */
  readonly allowPrivate: boolean;
  /** PUSH_CA_FILE: trusted in addition to the system roots. */
  readonly caFile?: string | undefined;
  /** Name resolution; default `dns.lookup` (the system resolver, /etc/hosts included). */
  readonly resolve?: ResolveAll;
}

/** Resolves every address of a name (`dns.lookup` with `all: true`). */
export type ResolveAll = (
  hostname: string,
  options: LookupOptions & { all: true },
  callback: (err: NodeJS.ErrnoException | null, addresses: LookupAddress[]) => void,
) => void;

/** A `lookup` for net.connect that resolves as asked but only ever hands back public addresses. */
function publicLookup(resolve: ResolveAll) {
  return (hostname: string, options: LookupOptions, callback: (...args: unknown[]) => void): void => {
    resolve(hostname, { ...options, all: true }, (err, addresses) => {
      if (err) return callback(err);
      const usable = addresses.filter((a) => !isPrivateAddress(a.address));
      if (usable.length === 0) {
        const message = `push endpoint host ${hostname} resolves to a private address`;
        return callback(new PushEndpointRefusedError('private_address', message));
      }
      if (options.all === true) return callback(null, usable);
      const [first] = usable as [LookupAddress];
      return callback(null, first.address, first.family);
    });
  };
}

/**
 * Refuses a port other than 443, a private address literal (connected to without any lookup) and `localhost` (which
 * resolvers answer in their own ways, `localhost.` included); other names go through {@link publicLookup}. The
 * refusal reaches the request as its `error`.
 */
class GuardedAgent extends Agent {
  override createConnection(
    options: RequestOptions,
    cb?: (err: Error | null, stream: Duplex) => void,
  ): Duplex | null | undefined {
    const port = Number(options.port ?? 443);
    const host = options.host ?? '';
    let refusal: PushEndpointRefusedError | undefined;
    if (isPrivateHost(host)) {
      refusal = new PushEndpointRefusedError('private_address', `push endpoint host ${host} is a private address`);
    } else if (port !== 443) refusal = new PushEndpointRefusedError('port', `push endpoint port ${port} is not 443`);
    if (refusal === undefined) return super.createConnection(options, cb);
    // The agent hands this error to the request (its `error` event); no socket is made.
    cb?.(refusal, undefined as never);
    return undefined;
  }
}

/**
 * @example
 * const agent = pushAgent({ allowPrivate: config.pushAllowPrivateEndpoints, caFile: config.pushCaFile });
 * https.request(url, { method: 'POST', agent });
 */
export function pushAgent(opts: PushAgentOptions): Agent {
  let ca: string[] | undefined;
  if (opts.caFile !== undefined) {
    try {
      // `ca` replaces the default roots: keep them, so public push services still verify.
      ca = [...rootCertificates, readFileSync(opts.caFile, 'utf8')];
    } catch (err) {
      throw new ConfigError('PUSH_CA_FILE', `cannot read ${opts.caFile}: ${(err as Error).message}`);
    }
  }
  const base = { keepAlive: true, maxSockets: 64, ...(ca !== undefined && { ca }) };
  if (opts.allowPrivate) return new Agent(base);
  const lookup = publicLookup(opts.resolve ?? (dnsLookup as ResolveAll));
  return new GuardedAgent({ ...base, lookup: lookup as LookupFunction });
}
