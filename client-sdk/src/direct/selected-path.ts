/**
 * Which path a connected peer connection took, from its stats: `turn` when either end of the selected candidate pair
 * is a relay candidate (with policy `all` often only one side is relayed), else `direct`. The local candidate's
 * `relayProtocol` tells TURN over UDP from TURN over TCP/TLS (its `protocol` says `udp` even for TURN over TCP).
 */
export interface SelectedPath {
  readonly path: 'direct' | 'turn';
  readonly relayProtocol?: 'udp' | 'tcp' | 'tls';
  /** Whether this side's own candidate is a TURN relay (what this side tells its peer). */
  readonly localRelay?: boolean;
}

type Stat = Record<string, unknown> & { id: string; type: string };

export async function selectedPath(pc: unknown): Promise<SelectedPath | undefined> {
  const getStats = (pc as { getStats?: () => Promise<{ forEach(fn: (s: Stat) => void): void }> }).getStats;
  if (typeof getStats !== 'function') return undefined;
  const report = await getStats.call(pc);
  const byId = new Map<string, Stat>();
  report.forEach((s) => {
    byId.set(s.id, s);
  });
  let pair: Stat | undefined;
  for (const s of byId.values()) {
    if (s.type === 'transport' && typeof s.selectedCandidatePairId === 'string') {
      pair = byId.get(s.selectedCandidatePairId);
      if (pair !== undefined) break;
    }
  }
  if (pair === undefined) {
    for (const s of byId.values()) {
      if (s.type !== 'candidate-pair') continue;
      if (s.selected === true || (s.nominated === true && s.state === 'succeeded')) {
        pair = s;
        break;
      }
    }
  }
  if (pair === undefined) return undefined;
  const local = byId.get(String(pair.localCandidateId));
  const remote = byId.get(String(pair.remoteCandidateId));
  const localRelay = local?.candidateType === 'relay';
  if (!localRelay && remote?.candidateType !== 'relay') return { path: 'direct', localRelay };
  const proto = localRelay ? local?.relayProtocol : undefined;
  return proto === 'udp' || proto === 'tcp' || proto === 'tls'
    ? { path: 'turn', relayProtocol: proto, localRelay }
    : { path: 'turn', localRelay };
}
