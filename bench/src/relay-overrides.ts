/** Relay settings for a bench: limits that would throttle a load test lifted, everything else default. */
export const RELAY_BENCH_OVERRIDES = {
  envelopesPerSecond: 10_000_000,
  envelopeBurst: 10_000_000,
  registrationsPerIpPerHour: 10_000_000,
  authRequestsPerIpPerMinute: 10_000_000,
  upgradesPerIpPerSecond: 10_000_000,
  maxConnectionsPerIp: 10_000_000,
  maxConnectionsPerAccount: 10_000_000,
  tokenTtlSeconds: 900,
};

/** The bench overrides with `BENCH_RELAY_OVERRIDES` (JSON) merged over them, as the relay child reads them. */
export function relayOverridesJson(env: NodeJS.ProcessEnv = process.env): string {
  const user = JSON.parse(env.BENCH_RELAY_OVERRIDES ?? '{}') as Record<string, unknown>;
  return JSON.stringify({ ...RELAY_BENCH_OVERRIDES, ...user });
}
