// One peer of the NAT matrix (nat-matrix.test.ts), run with plain node inside a lab namespace against the BUILT
// packages (@oppie/sidecar-sdk and @oppie/client-sdk resolve to their dist/ after `npm run build`).
//
//   node nat-peer.mjs sidecar|pwa <relayUrl> <dataDir> <count> <intervalMs> <upgradeTimeoutMs> <retryBaseMs>
//
// stdout: one JSON object per line: {ev:'link'} (sidecar), {ev:'paired'}, {ev:'path'}, {ev:'upgrade'}, {ev:'recv', n},
// {ev:'sent'} (every send resolved), {ev:'done'} (all sent and all received), {ev:'error'} / {ev:'fatal'}.
// stdin: JSON lines: {cmd:'pair', link} (pwa), {cmd:'close'} (both: close the client and exit 0).
import { createInterface } from 'node:readline';
import { exponentialBackoff } from '@oppie/client-sdk';

const [role, relayUrl, dataDir, countArg, intervalArg, upgradeArg, retryArg] = process.argv.slice(2);
const count = Number(countArg);
const intervalMs = Number(intervalArg);
// A short upgrade timeout and retry backoff, so a failed attempt and its retry both fit in the run.
const retryBaseMs = Number(retryArg);
const direct = {
  upgradeTimeoutMs: Number(upgradeArg),
  retry: exponentialBackoff({ baseMs: retryBaseMs, maxMs: retryBaseMs * 4 }),
};
const started = Date.now();
const out = (o) => process.stdout.write(`${JSON.stringify({ ...o, ms: Date.now() - started })}\n`);

process.on('unhandledRejection', (err) => {
  out({ ev: 'fatal', error: String(err?.stack ?? err) });
  process.exit(3);
});

const commands = [];
const waiters = [];
const stdin = createInterface({ input: process.stdin });
// The test holds stdin open; when it goes away (test process gone), so does this peer.
stdin.on('close', () => process.exit(0));
stdin.on('line', (line) => {
  let cmd;
  try {
    cmd = JSON.parse(line);
  } catch {
    return;
  }
  const w = waiters.shift();
  if (w) w(cmd);
  else commands.push(cmd);
});
const nextCommand = () =>
  commands.length > 0 ? Promise.resolve(commands.shift()) : new Promise((r) => waiters.push(r));

// Diagnostics only (printed with a failure, never asserted): the selected ICE candidate pair behind a path event,
// read through the SDK's internals, so it may well break when they change.
async function selectedPair(client, peer) {
  try {
    const pc = client.directPaths?.byPeer?.get(peer)?.link?.peer?._pc;
    if (!pc) return undefined;
    const byId = new Map();
    (await pc.getStats()).forEach((s) => {
      byId.set(s.id, s);
    });
    const brief = (c) =>
      c &&
      `${c.candidateType}/${c.protocol}${c.relayProtocol ? `/${c.relayProtocol}` : ''} ${c.address ?? c.ip}:${c.port}`;
    const pairs = [...byId.values()].filter(
      (s) => s.type === 'candidate-pair' && (s.selected || s.nominated || s.state === 'succeeded'),
    );
    return pairs.map((s) => ({
      state: s.state,
      nominated: s.nominated,
      selected: s.selected,
      local: brief(byId.get(s.localCandidateId)),
      remote: brief(byId.get(s.remoteCandidateId)),
    }));
  } catch (err) {
    return String(err);
  }
}

function watch(client) {
  client.events.on('path', (e) => {
    out({ ev: 'path', ...e });
    if (e.path !== 'relay') void selectedPair(client, e.peer).then((pairs) => out({ ev: 'pairs', pairs }));
  });
  client.events.on('upgrade', (e) => out({ ev: 'upgrade', ...e }));
  client.events.on('error', (e) => out({ ev: 'error', code: e.code, message: e.message }));
  client.events.on('state', (e) => out({ ev: 'state', ...e }));
}

let client;
if (role === 'sidecar') {
  const { createSidecar } = await import('@oppie/sidecar-sdk');
  client = await createSidecar({ relayUrl, name: 'nat-a', dataDir, direct });
  watch(client);
  await client.connect();
  const offer = await client.createPairing();
  out({ ev: 'link', link: offer.link, self: client.deviceId });
  const peer = await offer.completed;
  out({ ev: 'paired', self: client.deviceId, peer: peer.deviceId });
} else if (role === 'pwa') {
  const { MemoryStore, OppieClient } = await import('@oppie/client-sdk');
  const { default: WebSocket } = await import('ws');
  const { default: wrtc } = await import('@roamhq/wrtc');
  client = await OppieClient.create({
    relayUrl,
    role: 'pwa',
    name: 'nat-b',
    direct,
    platform: {
      WebSocket,
      storage: new MemoryStore(),
      rtc: {
        RTCPeerConnection: wrtc.RTCPeerConnection,
        RTCSessionDescription: wrtc.RTCSessionDescription,
        RTCIceCandidate: wrtc.RTCIceCandidate,
      },
    },
  });
  watch(client);
  const cmd = await nextCommand();
  if (cmd.cmd !== 'pair') throw new Error(`expected a pair command first, got ${JSON.stringify(cmd)}`);
  const peer = await client.pair(cmd.link);
  out({ ev: 'paired', self: client.deviceId, peer: peer.deviceId });
} else {
  throw new Error(`role must be sidecar or pwa, not ${role}`);
}

const peerId = client.peers()[0]?.deviceId;
const received = [];
let allSent = false;
let doneSaid = false;
const maybeDone = () => {
  if (doneSaid || !allSent || received.length < count) return;
  doneSaid = true;
  out({ ev: 'done', received: received.length, path: client.pathTo(peerId) });
};
client.events.on('chat', (m) => {
  const n = m.payload?.n;
  received.push(n);
  out({ ev: 'recv', n });
  maybeDone();
});

// Numbered chats at a steady pace from the start, not waiting for one to be acknowledged before the next: ordering
// across a path switch is the SDK's job.
const sends = [];
const t0 = Date.now();
for (let n = 0; n < count; n++) {
  const wait = t0 + n * intervalMs - Date.now();
  if (wait > 0) await new Promise((r) => setTimeout(r, wait));
  sends.push(
    client.send('chat', { n, text: `${role} ${n}` }).catch((err) => {
      out({ ev: 'sendError', n, error: String(err?.message ?? err) });
    }),
  );
}
await Promise.all(sends);
out({ ev: 'sent', count });
allSent = true;
maybeDone();

for (;;) {
  const cmd = await nextCommand();
  if (cmd.cmd === 'close') break;
}
out({ ev: 'closing', path: client.pathTo(peerId) });
await client.close();
process.exit(0);
