/**
 * The envelope: one JSON object per WebSocket text frame, in both directions.
 *
 * This file is the single schema source: TypeScript types (`Static`), runtime validation (validate.ts compiles these
 * schemas) and the published JSON Schema / OpenAPI components are all derived from it.
 */
import { type Static, type TSchema, Type } from '@sinclair/typebox';
import { APPLICATION_TYPES, PRIORITIES, type RoutedType } from './message-types.js';

/** A device id: derived by the relay from the device's public key (see auth). */
export const DeviceId = Type.String({
  title: 'DeviceId',
  pattern: '^[A-Za-z0-9_-]{8,64}$',
  description: 'Device id, derived from the device public key.',
});
/** A client-generated idempotency key; unique per sender. */
export const EnvelopeId = Type.String({
  title: 'EnvelopeId',
  pattern: '^[A-Za-z0-9_.:-]{1,64}$',
  description: 'Client-generated idempotency key, unique per sender. The relay drops duplicates by it.',
});
export const PrioritySchema = Type.Union(
  PRIORITIES.map((p) => Type.Literal(p)),
  { title: 'Priority', description: 'Queue class: high drains before normal before low.' },
);
export const Path = Type.Union([Type.Literal('relay'), Type.Literal('turn'), Type.Literal('direct')], {
  title: 'Path',
  description: 'Transport path between two devices.',
});
export const Role = Type.Union([Type.Literal('sidecar'), Type.Literal('pwa')], { title: 'Role' });

export const Metadata = Type.Object(
  {
    deviceId: Type.String({ minLength: 1, maxLength: 64, description: 'Sender device id ("relay" for the relay).' }),
    sessionId: Type.Optional(Type.String({ maxLength: 64, description: 'Application session (task) id.' })),
    priority: Type.Optional(PrioritySchema),
  },
  { additionalProperties: false, title: 'Metadata' },
);

const Timestamp = Type.Integer({ minimum: 0, description: 'Sender clock, milliseconds since the Unix epoch.' });
const MAX_IDS = 512;
const IdList = Type.Array(EnvelopeId, { minItems: 1, maxItems: MAX_IDS });

const Common = {
  id: EnvelopeId,
  timestamp: Timestamp,
  re: Type.Optional(EnvelopeId),
};

/** A device-to-device envelope: addressed (`to`), ordered (`seq`), expiring (`ttl`), sender stamped (`metadata`). */
function routedEnvelope<T extends string, P extends TSchema>(type: T, payload: P, description: string) {
  return Type.Object(
    {
      type: Type.Literal(type),
      ...Common,
      to: DeviceId,
      seq: Type.Optional(Type.Integer({ minimum: 0, description: 'Per sender-to-recipient stream sequence.' })),
      ttl: Type.Optional(Type.Integer({ minimum: 1, description: 'Time to live in ms; clamped to the relay caps.' })),
      metadata: Metadata,
      payload,
    },
    { additionalProperties: false, $id: `Envelope.${type}`, description },
  );
}

/** A control envelope between one device and the relay. */
function controlEnvelope<T extends string, P extends TSchema>(type: T, payload: P, description: string) {
  return Type.Object(
    {
      type: Type.Literal(type),
      ...Common,
      metadata: Type.Optional(Metadata),
      payload,
    },
    { additionalProperties: false, $id: `Envelope.${type}`, description },
  );
}

/** Ciphertext (base64url) of an end-to-end encrypted payload; opaque to the relay. */
export const Ciphertext = Type.String({
  minLength: 1,
  pattern: '^[A-Za-z0-9_=-]*$',
  description: 'End-to-end encrypted payload, base64url. The relay never decrypts it.',
});

export const HelloPayload = Type.Object(
  {
    sdk: Type.String({ maxLength: 64 }),
    version: Type.String({ maxLength: 32 }),
    capabilities: Type.Optional(Type.Array(Type.String({ maxLength: 32 }), { maxItems: 32 })),
  },
  { additionalProperties: false },
);
export const DeviceAckPayload = Type.Object(
  {
    ids: IdList,
    from: Type.Optional(
      Type.String({
        pattern: DeviceId.pattern,
        description:
          'Sender of the acknowledged envelopes. Ids are unique per sender; with `from` the relay matches exactly, without it every in-flight envelope with that id is acknowledged.',
      }),
    ),
  },
  { additionalProperties: false },
);
export const PingPayload = Type.Object(
  { t: Type.Optional(Type.Number({ description: 'Echoed back in pong.' })) },
  { additionalProperties: false },
);
export const AuthPayload = Type.Object(
  { token: Type.String({ minLength: 1, maxLength: 8192, description: 'A fresh JWT for this same device.' }) },
  { additionalProperties: false },
);
export const UpgradeOutcome = Type.Union(
  [
    Type.Literal('upgraded'),
    Type.Literal('timeout'),
    Type.Literal('ice_failed'),
    Type.Literal('turn_auth'),
    Type.Literal('closed'),
  ],
  { title: 'UpgradeOutcome' },
);
export const TransportPayload = Type.Object(
  {
    peer: DeviceId,
    path: Path,
    outcome: Type.Optional(UpgradeOutcome),
    setupMs: Type.Optional(Type.Number({ minimum: 0, maximum: 3_600_000 })),
    // 2^40 (1 TiB) per report: far above 30 s of any link, and a counter one report cannot push to +Inf.
    bytesSent: Type.Optional(Type.Integer({ minimum: 0, maximum: 2 ** 40 })),
    bytesReceived: Type.Optional(Type.Integer({ minimum: 0, maximum: 2 ** 40 })),
  },
  { additionalProperties: false },
);

export const PresenceEntry = Type.Object(
  {
    deviceId: DeviceId,
    role: Role,
    name: Type.String(),
    online: Type.Boolean(),
    path: Type.Optional(Path),
    revoked: Type.Optional(
      Type.Literal(true, {
        description: 'The device was revoked: it is gone for good, and any data channel to it must be closed.',
      }),
    ),
  },
  { additionalProperties: false, title: 'PresenceEntry' },
);
export const IceServer = Type.Object(
  {
    urls: Type.Array(Type.String(), { minItems: 1 }),
    username: Type.Optional(Type.String({ description: 'TURN REST username: "<expiry seconds>:<deviceId>".' })),
    credential: Type.Optional(Type.String({ description: 'base64(HMAC-SHA1(secret, username)).' })),
  },
  { additionalProperties: false, title: 'IceServer' },
);

export const WelcomePayload = Type.Object(
  {
    deviceId: DeviceId,
    accountId: Type.String(),
    role: Role,
    connectionId: Type.String(),
    serverTime: Type.Integer(),
    heartbeatMs: Type.Integer(),
    stepUpRequired: Type.Boolean({ description: 'Whether approve needs a recent OTP step-up on this account.' }),
    limits: Type.Object({
      maxFrameBytes: Type.Integer(),
      maxJsonDepth: Type.Integer(),
      envelopesPerSecond: Type.Integer(),
      queueMaxCount: Type.Integer(),
      queueMaxBytes: Type.Integer(),
      maxTtlMs: Type.Integer(),
    }),
    devices: Type.Array(PresenceEntry),
    iceServers: Type.Array(IceServer, {
      description: 'STUN and TURN servers for the WebRTC upgrade, TURN credentials minted for this device.',
    }),
    iceExpiresAt: Type.Integer({
      description: 'When the TURN credentials expire (ms); refresh at /api/turn/credentials.',
    }),
  },
  { additionalProperties: false },
);
export const AckStatus = Type.Union(
  [Type.Literal('forwarded'), Type.Literal('queued'), Type.Literal('duplicate'), Type.Literal('applied')],
  {
    title: 'AckStatus',
    description:
      'forwarded: sent on to the online recipient; queued: stored for an offline recipient; duplicate: an id already seen, not forwarded again; applied: a control request (auth) took effect.',
  },
);
export const RelayAckPayload = Type.Object({ ids: IdList, status: AckStatus }, { additionalProperties: false });
export const PongPayload = Type.Object(
  { t: Type.Optional(Type.Number()), serverTime: Type.Integer() },
  { additionalProperties: false },
);
export const ErrorPayload = Type.Object(
  {
    code: Type.String({ description: 'A RELAY_ERR_* code from the registry.' }),
    message: Type.String(),
    type: Type.Optional(Type.String({ description: 'Type of the refused envelope, when known.' })),
  },
  { additionalProperties: false },
);
export const DropReason = Type.Union([Type.Literal('queue_full'), Type.Literal('recipient_revoked')], {
  title: 'DropReason',
});
export const DroppedPayload = Type.Object(
  { ids: IdList, to: DeviceId, reason: DropReason },
  { additionalProperties: false },
);
export const ExpiredPayload = Type.Object({ ids: IdList, to: DeviceId }, { additionalProperties: false });

// Routed envelopes: device -> relay -> device, payload opaque.
export const RoutedEnvelopes = {
  ...(Object.fromEntries(
    APPLICATION_TYPES.map((t) => [
      t,
      routedEnvelope(t, Ciphertext, `Application frame "${t}" (end-to-end encrypted).`),
    ]),
  ) as Record<(typeof APPLICATION_TYPES)[number], ReturnType<typeof routedEnvelope<string, typeof Ciphertext>>>),
  signal: routedEnvelope(
    'signal',
    Ciphertext,
    'WebRTC signaling (SDP, ICE) between paired devices, end-to-end encrypted; never queued long.',
  ),
  receipt: routedEnvelope('receipt', Ciphertext, 'End-to-end acknowledgement between devices (encrypted).'),
  pair: routedEnvelope(
    'pair',
    Ciphertext,
    'Pairing confirmation between a new PWA and its sidecar: each proves knowledge of the pairing secret (MAC over both public keys).',
  ),
};

/** Control envelopes a device sends to the relay. */
export const DeviceControlEnvelopes = {
  hello: controlEnvelope('hello', HelloPayload, 'Optional: the client announces its SDK and version.'),
  ack: controlEnvelope(
    'ack',
    DeviceAckPayload,
    'The device confirms receipt of relayed envelopes; the relay removes them from its queue.',
  ),
  ping: controlEnvelope('ping', PingPayload, 'Application-level heartbeat (browsers cannot send ws pings).'),
  auth: controlEnvelope('auth', AuthPayload, 'Presents a fresh token (refresh, OTP step-up) on the live connection.'),
  transport: controlEnvelope(
    'transport',
    TransportPayload,
    'Transport report: the path to a peer and the outcome of an upgrade attempt.',
  ),
};

/** Control envelopes the relay sends. */
export const RelayControlEnvelopes = {
  welcome: controlEnvelope('welcome', WelcomePayload, 'First frame on every connection.'),
  ack: controlEnvelope('ack', RelayAckPayload, 'The relay accepted envelopes from this device.'),
  pong: controlEnvelope('pong', PongPayload, 'Answer to ping.'),
  error: controlEnvelope(
    'error',
    ErrorPayload,
    'A refused envelope or request; `re` names it. The connection stays open.',
  ),
  presence: controlEnvelope('presence', PresenceEntry, 'A device of the account came online or went away.'),
  dropped: controlEnvelope(
    'dropped',
    DroppedPayload,
    'Envelopes this device sent were dropped before delivery, with the reason.',
  ),
  expired: controlEnvelope('expired', ExpiredPayload, 'Envelopes this device sent expired (TTL) before delivery.'),
};

/** A device-to-device envelope; the relay reads only its header. */
export type RoutedEnvelope = Omit<Static<(typeof RoutedEnvelopes)['signal']>, 'type'> & { type: RoutedType };
export type HelloEnvelope = Static<(typeof DeviceControlEnvelopes)['hello']>;
export type DeviceAckEnvelope = Static<(typeof DeviceControlEnvelopes)['ack']>;
export type PingEnvelope = Static<(typeof DeviceControlEnvelopes)['ping']>;
export type AuthEnvelope = Static<(typeof DeviceControlEnvelopes)['auth']>;
export type TransportEnvelope = Static<(typeof DeviceControlEnvelopes)['transport']>;
export type DeviceControlEnvelope = HelloEnvelope | DeviceAckEnvelope | PingEnvelope | AuthEnvelope | TransportEnvelope;
/** Anything a device may send. */
export type DeviceEnvelope = RoutedEnvelope | DeviceControlEnvelope;

export type WelcomePayload = Static<typeof WelcomePayload>;
export type RelayAckPayload = Static<typeof RelayAckPayload>;
export type ErrorPayload = Static<typeof ErrorPayload>;
export type PresenceEntry = Static<typeof PresenceEntry>;
export type DroppedPayload = Static<typeof DroppedPayload>;
export type ExpiredPayload = Static<typeof ExpiredPayload>;
export type TransportPayload = Static<typeof TransportPayload>;
export type Metadata = Static<typeof Metadata>;
export type PathName = Static<typeof Path>;
export type RoleName = Static<typeof Role>;
export type AckStatus = Static<typeof AckStatus>;
export type DropReason = Static<typeof DropReason>;
export type UpgradeOutcome = Static<typeof UpgradeOutcome>;

/** A frame the relay sends, typed by its `type`. */
export interface RelayFrame<T extends keyof typeof RelayControlEnvelopes = keyof typeof RelayControlEnvelopes> {
  type: T;
  id: string;
  timestamp: number;
  re?: string;
  payload: Static<(typeof RelayControlEnvelopes)[T]>['payload'];
}
