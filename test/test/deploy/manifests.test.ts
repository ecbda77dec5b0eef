import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { loadConfig, OPTIONS } from '@oppie/relay';
import { describe, expect, it } from 'vitest';
import { parseAllDocuments } from 'yaml';

/**
 * Static checks of deploy/: every Kubernetes manifest parses and has what the relay needs (probes on /api/health,
 * non-root, a grace period longer than the drain, only configuration variables the relay knows, and consistent
 * Service/HPA/PDB/Ingress wiring), and the Dockerfile is multi-stage, non-root and health-checked. No cluster and no
 * Docker engine are needed: the manifests are parsed as YAML 1.1, the way Kubernetes reads them.
 */

const root = new URL('../../../', import.meta.url).pathname;
const k8sDir = join(root, 'deploy/k8s');

// biome-ignore lint/suspicious/noExplicitAny: parsed YAML is untyped; the assertions below check its shape.
type Obj = Record<string, any>;

interface Manifest {
  readonly file: string;
  readonly doc: Obj;
}

function loadManifests(): Manifest[] {
  const out: Manifest[] = [];
  for (const file of readdirSync(k8sDir).filter((f) => /\.ya?ml$/.test(f))) {
    for (const d of parseAllDocuments(readFileSync(join(k8sDir, file), 'utf8'), { version: '1.1' })) {
      if (d.errors.length > 0) throw new Error(`${file}: ${d.errors.map((e) => e.message).join('; ')}`);
      const doc = d.toJS() as Obj | null;
      if (doc !== null) out.push({ file, doc });
    }
  }
  return out;
}

const manifests = loadManifests();

function only(kind: string, name?: string): Obj {
  const found = manifests.filter((m) => m.doc.kind === kind && (name === undefined || m.doc.metadata?.name === name));
  expect(
    found.map((m) => `${m.file}:${kind}/${m.doc.metadata?.name}`),
    `exactly one ${kind}`,
  ).toHaveLength(1);
  return (found[0] as Manifest).doc;
}

/** Whether `selector` (matchLabels form or a plain map) selects pods with `labels`. */
function selects(selector: Record<string, string>, labels: Record<string, string>): boolean {
  return Object.keys(selector).length > 0 && Object.entries(selector).every(([k, v]) => labels[k] === v);
}

const deployment = only('Deployment', 'oppie-relay');
const podSpec: Obj = deployment.spec.template.spec;
const podLabels: Record<string, string> = deployment.spec.template.metadata.labels;
const container: Obj = podSpec.containers.find((c: Obj) => c.name === 'relay');
const env: Obj[] = container.env ?? [];
const containerPort: Obj = container.ports.find((p: Obj) => p.name === 'http');
const knownEnv = new Set<string>([...Object.values(OPTIONS).map((o) => o.env), 'NODE_ENV']);

/** A probe's or Service's port (a name or a number) resolved against the relay container's ports. */
function resolvePort(port: string | number): number | undefined {
  if (typeof port === 'number') return port;
  return container.ports.find((p: Obj) => p.name === port)?.containerPort;
}

/** A Secret's value as the placeholder Secrets of secrets.yaml define it. */
function secretValue(name: string, key: string): string | undefined {
  const secret = manifests.find((m) => m.doc.kind === 'Secret' && m.doc.metadata?.name === name)?.doc;
  return secret?.stringData?.[key] ?? secret?.data?.[key];
}

/** The relay's environment as Kubernetes would give it (Secret values from the placeholder Secrets). */
function relayEnv(): Record<string, string> {
  const out: Record<string, string> = {};
  for (const e of env) {
    const ref = e.valueFrom?.secretKeyRef;
    out[e.name] = e.value ?? secretValue(ref?.name, ref?.key) ?? `secret-from-${ref?.name}`;
  }
  return out;
}

/** The redis-server arguments of the Redis StatefulSet (its shell script or its args), as one string. */
function redisServerCommand(redis: Obj): string {
  const c: Obj = redis.spec.template.spec.containers[0];
  return [...(c.command ?? []), ...(c.args ?? [])].join(' ').replace(/\\\n/g, ' ');
}

describe('Kubernetes manifests (deploy/k8s)', () => {
  it('every document has apiVersion, kind, metadata.name, and lives in the oppie namespace', () => {
    expect(manifests.length).toBeGreaterThan(5);
    const seen = new Set<string>();
    for (const { file, doc } of manifests) {
      const where = `${file}: ${doc.kind}/${doc.metadata?.name}`;
      expect(typeof doc.apiVersion, where).toBe('string');
      expect(typeof doc.kind, where).toBe('string');
      expect(doc.metadata?.name, where).toMatch(/^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/);
      if (doc.kind !== 'Namespace') expect(doc.metadata.namespace, where).toBe('oppie');
      const key = `${doc.kind}/${doc.metadata.name}`;
      expect(seen.has(key), `duplicate ${key}`).toBe(false);
      seen.add(key);
    }
  });

  it('the relay Deployment probes its container port, requests resources and runs as non-root', () => {
    expect(deployment.spec.selector.matchLabels).toBeDefined();
    expect(selects(deployment.spec.selector.matchLabels, podLabels)).toBe(true);
    expect(containerPort.containerPort).toBe(Number(relayEnv().PORT));
    // Readiness follows /api/health (503 while draining or when the store or Redis is unreachable).
    const readiness: Obj = container.readinessProbe;
    expect(readiness?.httpGet?.path).toBe('/api/health');
    expect(resolvePort(readiness.httpGet.port)).toBe(containerPort.containerPort);
    // Liveness must not: a Redis outage fails /api/health on every pod at once, and restarting them all would only
    // drop every connection.
    const liveness: Obj = container.livenessProbe;
    const livePort = liveness?.tcpSocket?.port ?? liveness?.httpGet?.port;
    expect(livePort, 'liveness probes the relay port').toBeDefined();
    expect(resolvePort(livePort)).toBe(containerPort.containerPort);
    expect(liveness.httpGet?.path, 'liveness must not restart pods during a Redis outage').not.toBe('/api/health');
    expect(liveness.exec, 'liveness must not restart pods during a Redis outage').toBeUndefined();
    expect(container.resources?.requests?.cpu).toBeDefined();
    expect(container.resources?.requests?.memory).toBeDefined();
    expect(container.resources?.limits?.memory).toBeDefined();
    expect(podSpec.securityContext?.runAsNonRoot).toBe(true);
    expect(podSpec.securityContext?.runAsUser).toBeGreaterThan(0);
    expect(container.securityContext?.allowPrivilegeEscalation).toBe(false);
  });

  it('the grace period outlasts the preStop pause plus the relay drain (configured and default)', () => {
    const configured = loadConfig(relayEnv()).shutdownGraceSeconds;
    const drain = Math.max(configured, OPTIONS.shutdownGraceSeconds.default);
    const command: string[] = container.lifecycle?.preStop?.exec?.command ?? [];
    const preStop = command[0] === 'sleep' ? Number(command[1]) : 0;
    expect(podSpec.terminationGracePeriodSeconds).toBeGreaterThan(drain + preStop);
  });

  it('sets only variables the relay reads, each once, as strings, and they pass its validation', () => {
    expect(container.envFrom, 'envFrom would hide variables from this check').toBeUndefined();
    const names = env.map((e) => e.name as string);
    expect(new Set(names).size).toBe(names.length);
    expect(names.filter((n) => !knownEnv.has(n))).toEqual([]);
    for (const e of env) {
      if (e.valueFrom === undefined) expect(typeof e.value, `${e.name} must be a string in Kubernetes`).toBe('string');
      else expect(e.valueFrom.secretKeyRef?.name, `${e.name} comes from a Secret`).toBeDefined();
    }
    const config = loadConfig(relayEnv()); // throws ConfigError naming the variable on a bad value
    expect(config.host).toBe('0.0.0.0');
    expect(config.production).toBe(true);
    expect(config.trustProxy).toBe(true);
    // Files and directories the configuration names are mounted.
    const mounts: string[] = container.volumeMounts.map((m: Obj) => m.mountPath);
    for (const path of [config.dataDir, config.jwtSigningKeyFile]) {
      expect(
        mounts.some((m) => path === m || path?.startsWith(`${m}/`)),
        `${path} is on a volume`,
      ).toBe(true);
    }
  });

  it('scales out on Redis: REDIS_URL and PUBLIC_URL set, several replicas, rolling updates, no relay volume', () => {
    expect(knownEnv.has('REDIS_URL'), 'REDIS_URL is a relay option').toBe(true);
    const redisUrl = env.find((e) => e.name === 'REDIS_URL');
    expect(redisUrl?.valueFrom?.secretKeyRef, 'REDIS_URL comes from a Secret (it holds the password)').toBeDefined();
    expect(env.find((e) => e.name === 'PUBLIC_URL')?.value, 'PUBLIC_URL is required with REDIS_URL').toMatch(
      /^https:\/\//,
    );
    const config = loadConfig(relayEnv());
    expect(config.redisUrl).toMatch(/^rediss?:\/\//);
    expect(config.issuer).toBe(relayEnv().PUBLIC_URL);
    const hpa = only('HorizontalPodAutoscaler');
    expect(hpa.spec.minReplicas).toBeGreaterThanOrEqual(2);
    expect(hpa.spec.maxReplicas).toBeGreaterThan(hpa.spec.minReplicas);
    expect(deployment.spec.replicas).toBeGreaterThanOrEqual(hpa.spec.minReplicas);
    expect(deployment.spec.replicas).toBeLessThanOrEqual(hpa.spec.maxReplicas);
    // RollingUpdate (not Recreate) that keeps at least one pod serving and may add one.
    const strategy: Obj = deployment.spec.strategy;
    expect(strategy?.type).toBe('RollingUpdate');
    expect(strategy.rollingUpdate?.maxSurge).toBe(1);
    expect([0, 1]).toContain(strategy.rollingUpdate?.maxUnavailable);
    expect(strategy.rollingUpdate.maxUnavailable).toBeLessThan(hpa.spec.minReplicas);
    // DATA_DIR holds nothing that must survive in Redis mode: an emptyDir, and no PVC (ReadWriteOnce would pin it).
    const dataMount = container.volumeMounts.find(
      (m: Obj) => config.dataDir === m.mountPath || config.dataDir?.startsWith(`${m.mountPath}/`),
    );
    const dataVolume = podSpec.volumes.find((v: Obj) => v.name === dataMount?.name);
    expect(dataVolume?.emptyDir, `${config.dataDir} is on an emptyDir`).toBeDefined();
    expect(podSpec.volumes.filter((v: Obj) => v.persistentVolumeClaim !== undefined)).toEqual([]);
    const relayClaims = manifests.filter(
      (m) =>
        m.doc.kind === 'PersistentVolumeClaim' && m.doc.metadata?.labels?.['app.kubernetes.io/name'] === 'oppie-relay',
    );
    expect(relayClaims.map((m) => m.doc.metadata.name)).toEqual([]);
  });

  it('every Secret and ConfigMap referenced by a workload exists with that key', () => {
    const secrets = new Map(manifests.filter((m) => m.doc.kind === 'Secret').map((m) => [m.doc.metadata.name, m.doc]));
    const configMaps = new Map(
      manifests.filter((m) => m.doc.kind === 'ConfigMap').map((m) => [m.doc.metadata.name, m.doc]),
    );
    const keysOf = (d: Obj | undefined) => Object.keys({ ...d?.data, ...d?.stringData });
    const workloads = manifests.filter((m) => ['Deployment', 'StatefulSet', 'DaemonSet'].includes(m.doc.kind));
    expect(workloads.length).toBeGreaterThanOrEqual(3);
    for (const { doc } of workloads) {
      const spec: Obj = doc.spec.template.spec;
      for (const c of spec.containers as Obj[]) {
        for (const e of (c.env ?? []) as Obj[]) {
          const ref = e.valueFrom?.secretKeyRef;
          if (ref !== undefined) expect(keysOf(secrets.get(ref.name)), `${doc.kind}/${ref.name}`).toContain(ref.key);
        }
      }
      for (const v of (spec.volumes ?? []) as Obj[]) {
        if (v.secret !== undefined) {
          expect(secrets.has(v.secret.secretName), v.secret.secretName).toBe(true);
        }
        if (v.configMap !== undefined) expect(configMaps.has(v.configMap.name), v.configMap.name).toBe(true);
      }
    }
    const keyMount = podSpec.volumes.find((v: Obj) => v.secret?.secretName === 'oppie-relay-keys');
    expect(keysOf(secrets.get('oppie-relay-keys'))).toContain('jwt-signing-key.pem');
    const keyPath = container.volumeMounts.find((m: Obj) => m.name === keyMount.name).mountPath;
    expect(loadConfig(relayEnv()).jwtSigningKeyFile).toBe(`${keyPath}/jwt-signing-key.pem`);
  });

  it('the Service selects the relay pods and targets the container port', () => {
    const service = only('Service', 'oppie-relay');
    expect(selects(service.spec.selector, podLabels)).toBe(true);
    const port = service.spec.ports.find((p: Obj) => p.name === 'http');
    expect(resolvePort(port.targetPort)).toBe(containerPort.containerPort);
  });

  it('the HPA scales the relay Deployment, the PDB covers its pods', () => {
    const hpa = only('HorizontalPodAutoscaler');
    expect(hpa.apiVersion).toBe('autoscaling/v2');
    expect(hpa.spec.scaleTargetRef).toMatchObject({ apiVersion: 'apps/v1', kind: 'Deployment', name: 'oppie-relay' });
    expect(hpa.spec.minReplicas).toBeGreaterThanOrEqual(1);
    expect(hpa.spec.maxReplicas).toBeGreaterThanOrEqual(hpa.spec.minReplicas);
    const pdb = only('PodDisruptionBudget');
    expect(pdb.apiVersion).toBe('policy/v1');
    expect(selects(pdb.spec.selector.matchLabels, podLabels)).toBe(true);
    // One pod at a time: with at least minReplicas (>= 2) the others keep serving; maxUnavailable never blocks a
    // drain outright, unlike minAvailable with a Deployment scaled down to one pod.
    expect(pdb.spec.maxUnavailable).toBe(1);
    expect(pdb.spec.maxUnavailable).toBeLessThan(hpa.spec.minReplicas);
  });

  it('the Ingress routes to the Service port with WebSocket-friendly nginx timeouts', () => {
    const ingress = only('Ingress');
    const service = only('Service', 'oppie-relay');
    expect(ingress.spec.ingressClassName).toBe('nginx');
    const annotations: Record<string, string> = ingress.metadata.annotations;
    const heartbeat = loadConfig(relayEnv()).heartbeatSeconds;
    for (const a of ['proxy-read-timeout', 'proxy-send-timeout']) {
      const value = annotations[`nginx.ingress.kubernetes.io/${a}`];
      expect(typeof value, `${a} must be a quoted string`).toBe('string');
      expect(Number(value)).toBeGreaterThan(2 * heartbeat);
    }
    const backends = ingress.spec.rules.flatMap((r: Obj) => r.http.paths.map((p: Obj) => p.backend.service));
    expect(backends.length).toBeGreaterThan(0);
    for (const b of backends) {
      expect(b.name).toBe(service.metadata.name);
      const port = service.spec.ports.find((p: Obj) => p.name === b.port.name || p.port === b.port.number);
      expect(port, `Ingress port ${JSON.stringify(b.port)}`).toBeDefined();
    }
    const host = new URL(relayEnv().PUBLIC_URL as string).host;
    expect(ingress.spec.rules.map((r: Obj) => r.host)).toContain(host);
  });

  it('Redis and coturn are there, with their caveats built in', () => {
    const redis = only('StatefulSet', 'oppie-redis');
    const redisService = only('Service', 'oppie-redis');
    expect(redis.spec.serviceName).toBe(redisService.metadata.name);
    expect(selects(redisService.spec.selector, redis.spec.template.metadata.labels)).toBe(true);
    // The relay's state lives here: persistence on (append-only file) and nothing evicted.
    const command = redisServerCommand(redis);
    expect(command).toMatch(/redis-server\b/);
    expect(command).toMatch(/--appendonly\s+yes\b/);
    expect(command).toMatch(/--maxmemory-policy\s+noeviction\b/);
    expect(command).toMatch(/--dir\s+\/data\b/);
    const dataClaim = redis.spec.volumeClaimTemplates?.find((t: Obj) => t.metadata.name === 'data');
    expect(dataClaim, 'the append-only file is on a persistent volume').toBeDefined();
    expect(redis.spec.template.spec.containers[0].volumeMounts).toContainEqual({ name: 'data', mountPath: '/data' });
    // The placeholder REDIS_URL names this Service, and the NetworkPolicy lets the relay pods in on its port.
    const redisRef = env.find((e) => e.name === 'REDIS_URL')?.valueFrom?.secretKeyRef;
    const url = new URL(secretValue(redisRef?.name, redisRef?.key) ?? 'missing:');
    expect(url.hostname.split('.').slice(0, 2)).toEqual([redisService.metadata.name, redisService.metadata.namespace]);
    expect(Number(url.port)).toBe(redisService.spec.ports[0].port);
    const policy = only('NetworkPolicy', 'oppie-redis');
    expect(selects(policy.spec.podSelector.matchLabels, redis.spec.template.metadata.labels)).toBe(true);
    const admitted = policy.spec.ingress.filter(
      (r: Obj) =>
        r.from.some((f: Obj) => selects(f.podSelector?.matchLabels ?? {}, podLabels)) &&
        r.ports.some((p: Obj) => p.port === Number(url.port)),
    );
    expect(admitted.length, 'the relay pods may reach Redis').toBeGreaterThan(0);
    const coturn = only('Deployment', 'oppie-coturn');
    const udpService = manifests.some(
      (m) => m.doc.kind === 'Service' && m.doc.spec.ports.some((p: Obj) => p.protocol === 'UDP'),
    );
    expect(coturn.spec.template.spec.hostNetwork === true || udpService).toBe(true);
    // The shared secret is the one the relay signs TURN credentials with.
    const relaySecret = env.find((e) => e.name === 'TURN_SECRETS')?.valueFrom?.secretKeyRef;
    const coturnSecret = coturn.spec.template.spec.containers[0].env.find((e: Obj) => e.name === 'TURN_SECRET')
      ?.valueFrom?.secretKeyRef;
    expect(coturnSecret).toEqual(relaySecret);
    for (const w of [redis, coturn]) expect(w.spec.template.spec.securityContext?.runAsNonRoot).toBe(true);
  });
});

describe('container image (deploy/Dockerfile)', () => {
  const dockerfile = readFileSync(join(root, 'deploy/Dockerfile'), 'utf8');
  // Instructions with their continuation lines joined, comments dropped.
  const instructions = dockerfile
    .replace(/\\\n(\s*#.*\n)*/g, ' ')
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l !== '' && !l.startsWith('#'));
  const stages = instructions.filter((l) => /^FROM\s/i.test(l));
  const lastStage = instructions.slice(instructions.lastIndexOf(stages.at(-1) as string));

  it('is multi-stage and the final stage runs as a non-root user with a health check', () => {
    expect(stages.length).toBeGreaterThanOrEqual(2);
    for (const s of stages) expect(s).toMatch(/\sAS\s+[a-z][-a-z0-9]*$/i);
    const users = lastStage.filter((l) => /^USER\s/i.test(l));
    expect(users.length).toBeGreaterThan(0);
    const user = (users.at(-1) as string).split(/\s+/)[1] as string;
    expect(user.split(':')[0]).not.toMatch(/^(root|0)$/);
    expect(String(podSpec.securityContext.runAsUser)).toBe(user.split(':')[0]);
    const healthcheck = lastStage.find((l) => /^HEALTHCHECK\s/i.test(l));
    expect(healthcheck).toMatch(/\/api\/health/);
    expect(lastStage.find((l) => /^CMD\s/i.test(l))).toMatch(/server\/dist\/main\.js/);
    expect(lastStage).toContain(`EXPOSE ${containerPort.containerPort}`);
    expect(lastStage.some((l) => /^ENV\s.*HOST=0\.0\.0\.0/.test(l))).toBe(true);
  });

  it('copies every workspace package.json (npm ci checks them all) and the build context lets them in', () => {
    const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as { workspaces: string[] };
    const dockerignore = readFileSync(join(root, '.dockerignore'), 'utf8');
    for (const ws of pkg.workspaces) {
      const copies = instructions.filter((l) => l === `COPY ${ws}/package.json ${ws}/`);
      expect(copies.length, `COPY ${ws}/package.json in the build and deps stages`).toBe(2);
      expect(dockerignore).toMatch(new RegExp(`^!${ws}/(package\\.json)?$`, 'm'));
    }
    expect(instructions.some((l) => /npm ci --omit=dev --workspace=@oppie\/relay/.test(l))).toBe(true);
  });
});
