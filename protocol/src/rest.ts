/**
 * REST request and response schemas. The relay registers these on its routes, and the OpenAPI document at
 * `/api/openapi.json` is generated from them, so the API reference and the validation cannot drift apart.
 */
import { type Static, Type } from '@sinclair/typebox';
import { DeviceId, IceServer, Path, Role } from './envelope.js';

const Base64Url = (description: string, min = 1, max = 256) =>
  Type.String({ pattern: '^[A-Za-z0-9_-]+$', minLength: min, maxLength: max, description });

export const ErrorBody = Type.Object(
  {
    code: Type.String({ description: 'A RELAY_ERR_* code.' }),
    message: Type.String(),
  },
  { title: 'ErrorBody' },
);

/**
 * Proof that the caller holds a device's Ed25519 private key: a signature over the string built by
 * `proofMessage()`, bound either to a fresh server challenge or to a timestamp and a nonce.
 */
export const Proof = Type.Object(
  {
    publicKey: Base64Url('Ed25519 public key, 32 bytes, base64url.', 43, 43),
    signature: Base64Url('Ed25519 signature over proofMessage(), 64 bytes, base64url.', 86, 86),
    challenge: Type.Optional(Base64Url('A challenge from GET /api/auth/challenge (single use).', 16, 128)),
    timestamp: Type.Optional(Type.Integer({ minimum: 0, description: 'Milliseconds since the epoch (skew-checked).' })),
    nonce: Type.Optional(Base64Url('Random, at least 16 bytes; never reused.', 22, 128)),
  },
  { additionalProperties: false, title: 'Proof' },
);
export type Proof = Static<typeof Proof>;

export type ProofPurpose = 'register' | 'token' | `pair:${string}`;

/**
 * The exact bytes a device signs. Purpose binds the proof to one operation (a token proof cannot register a device
 * or claim a pairing code).
 *
 * @example
 * const msg = proofMessage('token', { publicKey, challenge });
 * const signature = base64url(ed25519.sign(msg, privateKey));
 */
export function proofMessage(
  purpose: ProofPurpose,
  p: { publicKey: string; challenge?: string | undefined; timestamp?: number | undefined; nonce?: string | undefined },
): string {
  return ['oppie-relay-proof-v1', purpose, p.publicKey, p.challenge ?? '', p.timestamp ?? '', p.nonce ?? ''].join('\n');
}

export const ChallengeResponse = Type.Object(
  {
    challenge: Base64Url('Sign it within its lifetime; usable once.'),
    expiresAt: Type.Integer({ description: 'Milliseconds since the epoch.' }),
  },
  { title: 'ChallengeResponse' },
);

export const TokenResponse = Type.Object(
  {
    token: Type.String({ description: 'RS256 JWT. Send as Authorization: Bearer, or on the WebSocket upgrade.' }),
    expiresAt: Type.Integer({ description: 'Milliseconds since the epoch.' }),
    deviceId: DeviceId,
    accountId: Type.String(),
    role: Role,
  },
  { title: 'TokenResponse' },
);
export type TokenResponse = Static<typeof TokenResponse>;

const DeviceName = Type.String({ minLength: 1, maxLength: 64, description: 'Human-readable device name.' });

export const RegisterRequest = Type.Object(
  {
    proof: Proof,
    name: DeviceName,
    enrollmentToken: Type.Optional(
      Type.String({
        minLength: 8,
        maxLength: 256,
        description: 'Operator-issued; required when REGISTRATION=enrollment.',
      }),
    ),
  },
  { additionalProperties: false, title: 'RegisterRequest' },
);
export type RegisterRequest = Static<typeof RegisterRequest>;

export const TokenRequest = Type.Object({ proof: Proof }, { additionalProperties: false, title: 'TokenRequest' });
export type TokenRequest = Static<typeof TokenRequest>;

export const PairingResponse = Type.Object(
  {
    code: Type.String({ description: 'One-time pairing code: show it in the QR code / link.' }),
    expiresAt: Type.Integer(),
    maxAttempts: Type.Integer(),
  },
  { title: 'PairingResponse' },
);

export const PairingClaimRequest = Type.Object(
  {
    code: Type.String({ minLength: 3, maxLength: 64 }),
    proof: Proof,
    name: DeviceName,
  },
  { additionalProperties: false, title: 'PairingClaimRequest' },
);
export type PairingClaimRequest = Static<typeof PairingClaimRequest>;

export const PairingClaimResponse = Type.Intersect([TokenResponse, Type.Object({ sidecarDeviceId: DeviceId })], {
  title: 'PairingClaimResponse',
});

export const DeviceInfo = Type.Object(
  {
    id: DeviceId,
    role: Role,
    name: Type.String(),
    publicKey: Type.String(),
    createdAt: Type.Integer(),
    lastSeenAt: Type.Union([Type.Integer(), Type.Null()]),
    online: Type.Boolean(),
  },
  { title: 'DeviceInfo' },
);
export type DeviceInfo = Static<typeof DeviceInfo>;
export const DeviceList = Type.Object({ devices: Type.Array(DeviceInfo) }, { title: 'DeviceList' });

export const DeviceIdParams = Type.Object({ id: DeviceId });

export const OtpEnrollResponse = Type.Object(
  {
    secret: Type.String({ description: 'Base32 TOTP secret (RFC 6238: SHA-1, 6 digits, 30 s).' }),
    uri: Type.String({ description: 'otpauth:// URI for authenticator apps.' }),
  },
  { title: 'OtpEnrollResponse' },
);
export const OtpVerifyRequest = Type.Object(
  { code: Type.String({ pattern: '^[0-9]{6}$' }) },
  { additionalProperties: false, title: 'OtpVerifyRequest' },
);

export const HealthResponse = Type.Object(
  {
    status: Type.Union([Type.Literal('ok'), Type.Literal('degraded'), Type.Literal('draining')]),
    live: Type.Boolean(),
    ready: Type.Boolean(),
    checks: Type.Record(Type.String(), Type.Object({ ok: Type.Boolean(), error: Type.Optional(Type.String()) })),
    uptimeMs: Type.Integer(),
    connections: Type.Integer(),
  },
  { title: 'HealthResponse' },
);

export const SessionInfo = Type.Object(
  {
    deviceId: DeviceId,
    role: Role,
    name: Type.String(),
    online: Type.Boolean(),
    connectedAt: Type.Union([Type.Integer(), Type.Null()]),
    connectionAgeMs: Type.Union([Type.Integer(), Type.Null()]),
    path: Type.Union([Path, Type.Null()]),
    queueDepth: Type.Integer(),
    queueBytes: Type.Integer(),
    inFlight: Type.Integer(),
  },
  { title: 'SessionInfo' },
);
export const SessionList = Type.Object({ sessions: Type.Array(SessionInfo) }, { title: 'SessionList' });
export type SessionInfo = Static<typeof SessionInfo>;

export const TurnCredentialsResponse = Type.Object(
  {
    iceServers: Type.Array(IceServer),
    expiresAt: Type.Integer({ description: 'When the minted TURN credentials expire (ms since the epoch).' }),
  },
  { title: 'TurnCredentialsResponse' },
);

export const Jwks = Type.Object({ keys: Type.Array(Type.Record(Type.String(), Type.Unknown())) }, { title: 'JWKS' });

/** GET /api/push/vapid-public-key: the VAPID key a PWA passes to `pushManager.subscribe()`. */
export const VapidPublicKeyResponse = Type.Object(
  {
    publicKey: Base64Url('applicationServerKey: the uncompressed P-256 point (65 bytes), base64url.', 87, 87),
  },
  { title: 'VapidPublicKeyResponse' },
);
export type VapidPublicKeyResponse = Static<typeof VapidPublicKeyResponse>;

/**
 * PUT /api/push/subscription: the browser's `PushSubscription.toJSON()`. The schema only bounds the shape and sizes
 * (a violation is RELAY_ERR_BAD_REQUEST); the relay then checks the content (https endpoint, a P-256 point of 65
 * bytes, a 16-byte auth secret) and refuses with RELAY_ERR_PUSH_SUBSCRIPTION_INVALID.
 */
export const PushSubscriptionRequest = Type.Object(
  {
    endpoint: Type.String({ minLength: 1, maxLength: 2048, description: 'The push service URL (https).' }),
    expirationTime: Type.Optional(
      Type.Union([Type.Integer({ minimum: 0 }), Type.Null()], { description: 'Ignored (browsers send null).' }),
    ),
    keys: Type.Object(
      {
        p256dh: Type.String({ minLength: 1, maxLength: 128, description: 'P-256 public key, base64url.' }),
        auth: Type.String({ minLength: 1, maxLength: 64, description: 'Auth secret, 16 bytes, base64url.' }),
      },
      { additionalProperties: false },
    ),
  },
  // Browsers may add fields to toJSON() in future; unknown ones are dropped, not refused.
  { additionalProperties: true, title: 'PushSubscriptionRequest' },
);
export type PushSubscriptionRequest = Static<typeof PushSubscriptionRequest>;

/**
 * The body of a wake-up push (encrypted for the PWA, RFC 8291): that something awaits it and opaque ids, never
 * content. `ids` are the ids of the queued envelopes that caused it, `from` the sender device id.
 */
export interface PushWakePayload {
  readonly t: 'wake';
  readonly ids: readonly string[];
  readonly from: string;
}
