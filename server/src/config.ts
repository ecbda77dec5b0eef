/**
 * Relay configuration: one table of options, read from environment variables or matching CLI flags
 * (`PORT` <-> `--port`), validated at start with an error naming the bad variable, then frozen.
 * The README's configuration table is generated from OPTIONS (`npm run config:doc`) and checked by a test.
 */
import { turnOptions } from './turn/credentials.js';

type Kind = 'string' | 'int' | 'bool' | 'enum' | 'path' | 'url' | 'redis';

interface OptionSpec {
  readonly env: string;
  readonly kind: Kind;
  readonly default: string | number | boolean | undefined | ((env: Record<string, string | undefined>) => unknown);
  readonly description: string;
  readonly min?: number;
  readonly max?: number;
  readonly values?: readonly string[];
}

const KiB = 1024;
const MiB = 1024 * KiB;

const isProduction = (env: Record<string, string | undefined>) => env.NODE_ENV === 'production';

export const OPTIONS = {
  host: { env: 'HOST', kind: 'string', default: '127.0.0.1', description: 'Address to listen on.' },
  port: { env: 'PORT', kind: 'int', default: 8080, min: 0, max: 65535, description: 'TCP port (0 picks a free one).' },
  dataDir: {
    env: 'DATA_DIR',
    kind: 'path',
    default: './data',
    description: 'Directory for the embedded store (SQLite registry, signing keys, audit log).',
  },
  logLevel: {
    env: 'LOG_LEVEL',
    kind: 'enum',
    default: 'info',
    values: ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'],
    description: 'Log level of the service log (stdout, JSON lines).',
  },
  publicUrl: {
    env: 'PUBLIC_URL',
    kind: 'url',
    default: undefined,
    description:
      'External URL of the relay; the JWT issuer. Default: http://HOST:PORT. Required with REDIS_URL (the same on every instance).',
  },
  tlsCertFile: {
    env: 'TLS_CERT_FILE',
    kind: 'path',
    default: undefined,
    description: 'PEM certificate; with TLS_KEY_FILE serves HTTPS/WSS directly.',
  },
  tlsKeyFile: { env: 'TLS_KEY_FILE', kind: 'path', default: undefined, description: 'PEM private key for TLS.' },
  auditLog: {
    env: 'AUDIT_LOG',
    kind: 'string',
    default: undefined,
    description: 'Audit log destination: a file path, or "stdout". Default: DATA_DIR/audit.jsonl.',
  },
  registration: {
    env: 'REGISTRATION',
    kind: 'enum',
    values: ['open', 'enrollment'],
    default: (env) => (isProduction(env) ? 'enrollment' : 'open'),
    description:
      'open: any sidecar may create an account (rate-limited); enrollment: needs an operator token. Default: enrollment when NODE_ENV=production, else open.',
  },
  registrationsPerIpPerHour: {
    env: 'REGISTRATIONS_PER_IP_PER_HOUR',
    kind: 'int',
    default: 20,
    min: 1,
    description: 'Open registration rate limit per client address.',
  },
  jwtSigningKeyFile: {
    env: 'JWT_SIGNING_KEY_FILE',
    kind: 'path',
    default: undefined,
    description:
      'RSA private key (PEM, PKCS#8) that signs tokens. Required when NODE_ENV=production; otherwise a key is generated and kept in DATA_DIR.',
  },
  jwtVerifyKeyFiles: {
    env: 'JWT_VERIFY_KEY_FILES',
    kind: 'string',
    default: undefined,
    description: 'Comma-separated RSA public keys (PEM) of retired signing keys still accepted during rotation.',
  },
  tokenTtlSeconds: {
    env: 'TOKEN_TTL_SECONDS',
    kind: 'int',
    default: 600,
    min: 5,
    max: 900,
    description:
      'Access token lifetime (at most 15 minutes). A connection lives as long as its token: refresh it with an `auth` frame, or it is closed with 4005.',
  },
  clockSkewSeconds: {
    env: 'CLOCK_SKEW_SECONDS',
    kind: 'int',
    default: 60,
    min: 0,
    max: 600,
    description: 'Allowed clock skew for signed timestamps and token times.',
  },
  pairingTtlSeconds: {
    env: 'PAIRING_TTL_SECONDS',
    kind: 'int',
    default: 300,
    min: 30,
    max: 3600,
    description: 'Lifetime of a pairing code.',
  },
  pairingMaxAttempts: {
    env: 'PAIRING_MAX_ATTEMPTS',
    kind: 'int',
    default: 5,
    min: 1,
    max: 100,
    description: 'Wrong claims before a pairing code is burnt.',
  },
  stepUpMaxAgeSeconds: {
    env: 'STEP_UP_MAX_AGE_SECONDS',
    kind: 'int',
    default: 300,
    min: 10,
    description: 'How recent an OTP step-up must be for approve.',
  },
  maxFrameBytes: {
    env: 'MAX_FRAME_BYTES',
    kind: 'int',
    default: 1 * MiB,
    // The SDKs' largest frame is a chunk with a folded tail, ~107 KB of JSON (a full chunk ~85 KB); a smaller limit
    // would refuse every large message.
    min: 128 * KiB,
    max: 64 * MiB,
    description:
      'Largest envelope accepted (at least 128 KiB); bigger ones are refused with RELAY_ERR_PAYLOAD_TOO_LARGE.',
  },
  maxJsonDepth: {
    env: 'MAX_JSON_DEPTH',
    kind: 'int',
    default: 16,
    min: 4,
    max: 256,
    description: 'Deepest JSON nesting accepted in a frame.',
  },
  envelopesPerSecond: {
    env: 'ENVELOPES_PER_SECOND',
    kind: 'int',
    default: 200,
    min: 1,
    description: 'Per-device envelope rate (token bucket refill).',
  },
  envelopeBurst: {
    env: 'ENVELOPE_BURST',
    kind: 'int',
    default: 400,
    min: 1,
    description: 'Per-device envelope burst (token bucket size).',
  },
  maxConnectionsPerAccount: {
    env: 'MAX_CONNECTIONS_PER_ACCOUNT',
    kind: 'int',
    default: 32,
    min: 1,
    description: 'Live connections per account.',
  },
  maxConnectionsPerIp: {
    env: 'MAX_CONNECTIONS_PER_IP',
    kind: 'int',
    default: 20000,
    min: 1,
    description: 'Live connections per client address.',
  },
  upgradesPerIpPerSecond: {
    env: 'UPGRADES_PER_IP_PER_SECOND',
    kind: 'int',
    default: 50,
    min: 1,
    description: 'WebSocket upgrades per client address per second.',
  },
  authRequestsPerIpPerMinute: {
    env: 'AUTH_REQUESTS_PER_IP_PER_MINUTE',
    kind: 'int',
    default: 120,
    min: 1,
    description: 'Auth endpoint calls (challenge, token, claim, OTP) per address per minute.',
  },
  queueMaxCount: {
    env: 'QUEUE_MAX_COUNT',
    kind: 'int',
    default: 1000,
    min: 1,
    description: 'Envelopes queued per recipient device before the lowest-priority-oldest is dropped.',
  },
  queueMaxBytes: {
    env: 'QUEUE_MAX_BYTES',
    kind: 'int',
    default: 16 * MiB,
    min: 1 * KiB,
    description: 'Bytes queued per recipient device before the lowest-priority-oldest is dropped.',
  },
  maxTtlSeconds: {
    env: 'MAX_TTL_SECONDS',
    kind: 'int',
    default: 7 * 24 * 3600,
    min: 1,
    description: 'Cap on any envelope TTL.',
  },
  inflightMaxCount: {
    env: 'INFLIGHT_MAX_COUNT',
    kind: 'int',
    default: 512,
    min: 1,
    description: 'Envelopes sent to a device and not yet acknowledged before the relay waits; below QUEUE_MAX_COUNT.',
  },
  sendBufferMaxBytes: {
    env: 'SEND_BUFFER_MAX_BYTES',
    kind: 'int',
    default: 8 * MiB,
    min: 64 * KiB,
    description: 'Socket send buffer per connection; a connection above it is closed with 4001 (slow consumer).',
  },
  slowConsumerSeconds: {
    env: 'SLOW_CONSUMER_SECONDS',
    kind: 'int',
    default: 30,
    min: 1,
    description: 'A full in-flight window with no ack for this long closes the connection with 4001.',
  },
  heartbeatSeconds: {
    env: 'HEARTBEAT_SECONDS',
    kind: 'int',
    default: 25,
    min: 1,
    max: 300,
    description: 'Ping interval; a connection that misses two pings is terminated.',
  },
  dedupeWindow: {
    env: 'DEDUPE_WINDOW',
    kind: 'int',
    default: 4096,
    min: 16,
    description: 'Recent envelope ids remembered per sender to drop duplicates.',
  },
  shutdownGraceSeconds: {
    env: 'SHUTDOWN_GRACE_SECONDS',
    kind: 'int',
    default: 10,
    min: 0,
    max: 300,
    description: 'How long a graceful shutdown waits for sockets to close.',
  },
  corsOrigins: {
    env: 'CORS_ORIGINS',
    kind: 'string',
    default: undefined,
    description:
      'Comma-separated origins allowed to call the REST API from a browser (the PWA\'s origin), or "*". Default: none (same origin only).',
  },
  stunUrls: {
    env: 'STUN_URLS',
    kind: 'string',
    default: undefined,
    description: 'Comma-separated STUN URLs given to devices for WebRTC (e.g. stun:turn.example.com:3478).',
  },
  turnUrls: {
    env: 'TURN_URLS',
    kind: 'string',
    default: undefined,
    description:
      'Comma-separated TURN URLs (turn:host:3478?transport=udp, turns:host:5349?transport=tcp). Needs TURN_SECRETS.',
  },
  turnSecrets: {
    env: 'TURN_SECRETS',
    kind: 'string',
    default: undefined,
    description:
      'Comma-separated TURN REST shared secrets (coturn use-auth-secret). The first signs new credentials; list the old one too while coturn still accepts it.',
  },
  turnTtlSeconds: {
    env: 'TURN_TTL_SECONDS',
    kind: 'int',
    default: 600,
    // SDKs fetch fresh credentials when less than 60 s are left: a shorter lifetime would cost a request per attempt.
    min: 120,
    max: 86_400,
    description: 'Lifetime of minted TURN credentials (at least 120 s).',
  },
  pushEnabled: {
    env: 'PUSH_ENABLED',
    kind: 'bool',
    default: true,
    description:
      'Web Push wake-ups for offline PWAs (high-priority envelopes). Off: the /api/push routes answer RELAY_ERR_PUSH_DISABLED and nothing is sent.',
  },
  pushVapidSubject: {
    env: 'PUSH_VAPID_SUBJECT',
    kind: 'string',
    default: undefined,
    description:
      'VAPID contact (`mailto:` or `https:` URL) sent to push services. Default: PUBLIC_URL when it is https, else mailto:ops@localhost (set a real one in production).',
  },
  pushVapidKeyFile: {
    env: 'PUSH_VAPID_KEY_FILE',
    kind: 'path',
    default: undefined,
    description:
      'JSON `{ publicKey, privateKey }` (base64url, as `web-push generate-vapid-keys --json` prints). Default: a key pair generated once and kept in the store (relay.db, or Redis with REDIS_URL).',
  },
  pushCoalesceSeconds: {
    env: 'PUSH_COALESCE_SECONDS',
    kind: 'int',
    default: 30,
    min: 0,
    max: 3600,
    description: 'At most one push per device within this interval; later triggers are counted as coalesced.',
  },
  pushTtlSeconds: {
    env: 'PUSH_TTL_SECONDS',
    kind: 'int',
    default: 3600,
    min: 0,
    max: 86_400,
    description: 'How long the push service keeps an undelivered wake-up (the Web Push TTL header).',
  },
  pushConcurrency: {
    env: 'PUSH_CONCURRENCY',
    kind: 'int',
    default: 8,
    min: 1,
    max: 256,
    description: 'Push requests in flight at once, per instance.',
  },
  pushQueueMax: {
    env: 'PUSH_QUEUE_MAX',
    kind: 'int',
    default: 1000,
    min: 1,
    description: 'Wake-ups waiting for a free request slot before new ones are dropped (counted).',
  },
  pushTimeoutSeconds: {
    env: 'PUSH_TIMEOUT_SECONDS',
    kind: 'int',
    default: 10,
    min: 1,
    max: 120,
    description:
      'Deadline of a whole push request (lookup, connect, send, answer); past it the request is destroyed and counted as failed.',
  },
  pushCaFile: {
    env: 'PUSH_CA_FILE',
    kind: 'path',
    default: undefined,
    description:
      'PEM CA certificates trusted for push endpoints in addition to the system ones (a push service behind a private CA).',
  },
  pushAllowPrivateEndpoints: {
    env: 'PUSH_ALLOW_PRIVATE_ENDPOINTS',
    kind: 'bool',
    default: false,
    description:
      'Accept subscription endpoints on localhost, private addresses or ports other than 443 (tests, a LAN push service). Off: refused when stored, and every push connects only to public addresses on 443, so a device cannot make the relay call its own network.',
  },
  redisUrl: {
    env: 'REDIS_URL',
    kind: 'redis',
    default: undefined,
    description:
      'redis:// or rediss:// URL. Set, every store (queues, registry, pairing codes, rate limits, replay cache, signing keys, presence) moves to this Redis and several relay instances can run side by side behind a load balancer. Unset: the embedded single-process default.',
  },
  trustProxy: {
    env: 'TRUST_PROXY',
    kind: 'bool',
    default: false,
    description: 'Take the client address from X-Forwarded-For (only behind a load balancer you control).',
  },
} as const satisfies Record<string, OptionSpec>;

type Opts = typeof OPTIONS;
type ValueOf<K extends Kind> = K extends 'int' ? number : K extends 'bool' ? boolean : string;

/** The validated, frozen configuration. */
export type RelayConfig = {
  readonly [K in keyof Opts]: Opts[K]['default'] extends undefined
    ? ValueOf<Opts[K]['kind']> | undefined
    : ValueOf<Opts[K]['kind']>;
} & { readonly production: boolean; readonly issuer: string };

/** A configuration error names the variable (and flag) at fault. */
export class ConfigError extends Error {
  override readonly name = 'ConfigError';
  constructor(
    readonly variable: string,
    message: string,
  ) {
    super(`${variable} (--${flagOf(variable)}): ${message}`);
  }
}

export function flagOf(env: string): string {
  return env.toLowerCase().replaceAll('_', '-');
}

function parseValue(spec: OptionSpec, raw: string): unknown {
  switch (spec.kind) {
    case 'int': {
      if (!/^-?\d+$/.test(raw.trim())) throw new ConfigError(spec.env, `must be an integer, got "${raw}"`);
      const n = Number(raw);
      if (spec.min !== undefined && n < spec.min) throw new ConfigError(spec.env, `must be >= ${spec.min}, got ${n}`);
      if (spec.max !== undefined && n > spec.max) throw new ConfigError(spec.env, `must be <= ${spec.max}, got ${n}`);
      return n;
    }
    case 'bool':
      if (['1', 'true', 'yes', 'on'].includes(raw.toLowerCase())) return true;
      if (['0', 'false', 'no', 'off'].includes(raw.toLowerCase())) return false;
      throw new ConfigError(spec.env, `must be true or false, got "${raw}"`);
    case 'enum':
      if (!spec.values?.includes(raw)) throw new ConfigError(spec.env, `must be one of ${spec.values?.join(', ')}`);
      return raw;
    case 'redis':
      try {
        const u = new URL(raw);
        if (!['redis:', 'rediss:'].includes(u.protocol)) throw new Error('scheme');
      } catch {
        throw new ConfigError(spec.env, `must be a redis:// or rediss:// URL, got "${raw}"`);
      }
      return raw;
    case 'url':
      try {
        const u = new URL(raw);
        if (!['http:', 'https:'].includes(u.protocol)) throw new Error('scheme');
      } catch {
        throw new ConfigError(spec.env, `must be an http(s) URL, got "${raw}"`);
      }
      return raw.replace(/\/+$/, '');
    default:
      if (raw.length === 0) throw new ConfigError(spec.env, 'must not be empty');
      return raw;
  }
}

/**
 * Reads, validates and freezes the configuration. Flags win over environment variables, which win over defaults.
 *
 * @example
 * const config = loadConfig(process.env, ['--port', '9000']);
 */
export function loadConfig(
  env: Record<string, string | undefined> = process.env,
  argv: readonly string[] = [],
  overrides: Partial<Record<keyof Opts, unknown>> = {},
): RelayConfig {
  const flags = parseFlags(argv);
  const out: Record<string, unknown> = {};
  for (const [key, spec] of Object.entries(OPTIONS) as Array<[keyof Opts, OptionSpec]>) {
    if (key in overrides && overrides[key] !== undefined) {
      out[key] = overrides[key];
      continue;
    }
    const raw = flags.get(flagOf(spec.env)) ?? env[spec.env];
    if (raw !== undefined && raw !== '') out[key] = parseValue(spec, raw);
    else out[key] = typeof spec.default === 'function' ? spec.default(env) : spec.default;
  }
  const production = env.NODE_ENV === 'production';
  const turn = turnOptions({
    stunUrls: out.stunUrls as string | undefined,
    turnUrls: out.turnUrls as string | undefined,
    turnSecrets: out.turnSecrets as string | undefined,
    turnTtlSeconds: out.turnTtlSeconds as number,
  });
  if (turn.turnUrls.length > 0 && turn.secrets.length === 0) {
    throw new ConfigError('TURN_SECRETS', 'is required when TURN_URLS is set (credentials are minted per device)');
  }
  for (const [env, urls, schemes] of [
    ['STUN_URLS', turn.stunUrls, /^stuns?:/],
    // A credentialed entry may list STUN URLs too (browsers take them).
    ['TURN_URLS', turn.turnUrls, /^(turns?|stuns?):/],
  ] as const) {
    // A browser's RTCPeerConnection throws on a URL without its scheme: every attempt would fail.
    const bad = urls.find((u) => !schemes.test(u));
    if (bad !== undefined) throw new ConfigError(env, `"${bad}" has no ${schemes.source.slice(1)} scheme`);
  }
  const frame = out.maxFrameBytes as number;
  if (frame > (out.queueMaxBytes as number)) {
    throw new ConfigError(
      'MAX_FRAME_BYTES',
      `must not exceed QUEUE_MAX_BYTES (${out.queueMaxBytes}): such frames could never be queued`,
    );
  }
  if (frame > (out.sendBufferMaxBytes as number)) {
    throw new ConfigError('MAX_FRAME_BYTES', `must not exceed SEND_BUFFER_MAX_BYTES (${out.sendBufferMaxBytes})`);
  }
  if ((out.inflightMaxCount as number) >= (out.queueMaxCount as number)) {
    // In-flight envelopes count against the queue bound; a window as large as the queue would evict new envelopes
    // for a recipient that is online and acknowledging.
    throw new ConfigError('INFLIGHT_MAX_COUNT', `must be below QUEUE_MAX_COUNT (${out.queueMaxCount})`);
  }
  if ((out.tlsCertFile === undefined) !== (out.tlsKeyFile === undefined)) {
    throw new ConfigError(
      out.tlsCertFile === undefined ? 'TLS_CERT_FILE' : 'TLS_KEY_FILE',
      'TLS needs both a certificate and a key',
    );
  }
  if (production && out.jwtSigningKeyFile === undefined) {
    throw new ConfigError('JWT_SIGNING_KEY_FILE', 'is required when NODE_ENV=production');
  }
  if (out.redisUrl !== undefined && out.publicUrl === undefined) {
    // Tokens name their issuer; instances behind one balancer must all accept each other's.
    throw new ConfigError('PUBLIC_URL', 'is required with REDIS_URL: every instance must name the same issuer');
  }
  const subject = out.pushVapidSubject as string | undefined;
  if (subject !== undefined && !/^(mailto:[^@\s]+@[^@\s]+|https:\/\/[^\s]+)$/.test(subject)) {
    throw new ConfigError('PUSH_VAPID_SUBJECT', `must be a mailto: address or an https: URL, got "${subject}"`);
  }
  const scheme = out.tlsCertFile === undefined ? 'http' : 'https';
  const issuer = (out.publicUrl as string | undefined) ?? `${scheme}://${out.host}:${out.port}`;
  return Object.freeze({ ...out, production, issuer }) as RelayConfig;
}

const KNOWN_FLAGS = new Set(Object.values(OPTIONS).map((o) => flagOf(o.env)));

function parseFlags(argv: readonly string[]): Map<string, string> {
  const flags = new Map<string, string>();
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i] as string;
    if (!arg.startsWith('--')) throw new ConfigError('ARGS', `unexpected argument "${arg}"`);
    const eq = arg.indexOf('=');
    const name = arg.slice(2, eq === -1 ? undefined : eq);
    if (!KNOWN_FLAGS.has(name)) throw new ConfigError(name.toUpperCase().replaceAll('-', '_'), 'unknown flag');
    const value = eq === -1 ? argv[++i] : arg.slice(eq + 1);
    if (value === undefined) throw new ConfigError(name.toUpperCase().replaceAll('-', '_'), 'flag needs a value');
    flags.set(name, value);
  }
  return flags;
}

/** The README configuration table (markdown), generated from OPTIONS. */
export function configTable(): string {
  const rows = Object.values(OPTIONS as Record<string, OptionSpec>).map((o) => {
    const d = typeof o.default === 'function' ? 'see description' : o.default === undefined ? '—' : `\`${o.default}\``;
    return `| \`${o.env}\` | \`--${flagOf(o.env)}\` | ${d} | ${o.description} |`;
  });
  return ['| Variable | Flag | Default | Meaning |', '| --- | --- | --- | --- |', ...rows].join('\n');
}
