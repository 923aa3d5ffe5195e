import { readdirSync } from 'node:fs';
import { join, posix } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parse, parseAllDocuments } from 'yaml';
import { ROOT, loadConfigCopy, readRepoFile } from './support.js';

/** Just the parts of the manifests these tests read. */
interface Probe {
  httpGet: { path: string; port: string | number };
}
interface Mount {
  name: string;
  mountPath: string;
  readOnly?: boolean;
}
interface Container {
  name: string;
  image: string;
  args: string[];
  env?: { name: string; value: string }[];
  ports?: { name: string; containerPort: number }[];
  readinessProbe?: Probe;
  livenessProbe?: Probe;
  resources?: { requests?: Record<string, string>; limits?: Record<string, string> };
  securityContext: {
    allowPrivilegeEscalation: boolean;
    readOnlyRootFilesystem: boolean;
    capabilities: { drop: string[] };
  };
  volumeMounts: Mount[];
}
interface Volume {
  name: string;
  configMap?: { name: string };
  secret?: { secretName: string };
  persistentVolumeClaim?: { claimName: string };
  emptyDir?: object;
}
interface PodSpec {
  restartPolicy?: string;
  automountServiceAccountToken?: boolean;
  securityContext: { runAsNonRoot: boolean; runAsUser: number; fsGroup: number };
  containers: Container[];
  volumes: Volume[];
}
interface Manifest {
  apiVersion: string;
  kind: string;
  metadata: { name: string };
  data?: Record<string, string>;
  stringData?: Record<string, string>;
  spec: {
    replicas?: number;
    strategy?: { type: string };
    template?: { spec: PodSpec };
    concurrencyPolicy?: string;
    schedule?: string;
    jobTemplate?: {
      spec: {
        podFailurePolicy?: {
          rules: { action: string; onExitCodes?: { operator: string; values: number[] } }[];
        };
        template: { spec: PodSpec };
      };
    };
  };
}

function yamlDocuments(path: string): unknown[] {
  const docs = parseAllDocuments(readRepoFile(path));
  if (!Array.isArray(docs)) throw new Error(`${path}: no YAML documents`);
  for (const doc of docs) {
    expect(
      doc.errors.map((e) => e.message),
      path,
    ).toEqual([]);
    expect(
      doc.warnings.map((e) => e.message),
      path,
    ).toEqual([]);
  }
  return docs.map((d) => d.toJS() as unknown);
}

const manifests = (path: string): Manifest[] => yamlDocuments(path) as Manifest[];
const only = (list: Manifest[], kind: string): Manifest => {
  const found = list.filter((m) => m.kind === kind);
  expect(found.map((m) => m.kind)).toEqual([kind]);
  return found[0]!;
};

const deployment = manifests('deploy/kubernetes/deployment.yaml');
const cronjob = only(manifests('deploy/kubernetes/cronjob.yaml'), 'CronJob');
const secret = only(manifests('deploy/kubernetes/secret.example.yaml'), 'Secret');
const configMap = only(deployment, 'ConfigMap');
const pvc = only(deployment, 'PersistentVolumeClaim');
const daemon = only(deployment, 'Deployment');
const daemonPod = daemon.spec.template!.spec;
const cronPod = cronjob.spec.jobTemplate!.spec.template.spec;

const mountOf = (pod: PodSpec, volume: (v: Volume) => boolean): string => {
  const name = pod.volumes.find(volume)?.name;
  const mount = pod.containers[0]!.volumeMounts.find((m) => m.name === name);
  expect(mount, 'the volume is mounted').toBeDefined();
  return mount!.mountPath;
};

/** The ConfigMap's config.yaml, loaded the way the container would load it. */
function loadConfigMapConfig() {
  const secretDir = mountOf(daemonPod, (v) => v.secret !== undefined);
  return loadConfigCopy(configMap.data!['config.yaml']!, secretDir);
}

describe('deploy/', () => {
  it('holds YAML files that all parse, without warnings', () => {
    const files = readdirSync(join(ROOT, 'deploy'), { recursive: true, encoding: 'utf8' }).filter(
      (f) => /\.ya?ml$/.test(f),
    );

    expect(files.length).toBeGreaterThanOrEqual(4);
    for (const file of files) expect(yamlDocuments(join('deploy', file)).length).toBeGreaterThan(0);
  });
});

describe('kubernetes/deployment.yaml', () => {
  it('runs exactly one daemon, replaced with Recreate', () => {
    expect(daemon.spec.replicas).toBe(1);
    expect(daemon.spec.strategy).toEqual({ type: 'Recreate' });
    expect(daemonPod.containers).toHaveLength(1);
    expect(daemonPod.containers[0]!.args).toEqual(['daemon']);
  });

  it('probes /readyz for readiness and /healthz for liveness, on server.port', () => {
    const container = daemonPod.containers[0]!;
    const port = loadConfigMapConfig().loaded.config.server.port;
    const named = (p: string | number): number | undefined =>
      typeof p === 'number' ? p : container.ports?.find((x) => x.name === p)?.containerPort;

    expect(container.readinessProbe?.httpGet.path).toBe('/readyz');
    expect(container.livenessProbe?.httpGet.path).toBe('/healthz');
    expect(named(container.readinessProbe!.httpGet.port)).toBe(port);
    expect(named(container.livenessProbe!.httpGet.port)).toBe(port);
  });

  it('sets resources', () => {
    const { resources } = daemonPod.containers[0]!;

    expect(Object.keys(resources?.requests ?? {}).sort()).toEqual(['cpu', 'memory']);
    expect(Object.keys(resources?.limits ?? {})).toContain('memory');
  });

  it.each([
    ['Deployment', daemonPod],
    ['CronJob', cronPod],
  ])('%s: runs as non-root on a read-only root filesystem, /tmp and state writable', (_, pod) => {
    const container = pod.containers[0]!;

    expect(pod.securityContext.runAsNonRoot).toBe(true);
    expect(pod.securityContext.runAsUser).toBeGreaterThan(0);
    expect(pod.automountServiceAccountToken).toBe(false);
    expect(container.securityContext).toEqual({
      allowPrivilegeEscalation: false,
      readOnlyRootFilesystem: true,
      capabilities: { drop: ['ALL'] },
    });
    expect(mountOf(pod, (v) => v.emptyDir !== undefined)).toBe('/tmp');
    expect(mountOf(pod, (v) => v.persistentVolumeClaim !== undefined)).toBe('/var/lib/dirsync');
  });

  it.each([
    ['Deployment', daemonPod],
    ['CronJob', cronPod],
  ])(
    '%s: mounts the ConfigMap, the Secret and the state claim that deployment.yaml defines',
    (_, pod) => {
      const byName = (pred: (v: Volume) => boolean): Volume | undefined => pod.volumes.find(pred);

      expect(byName((v) => v.configMap !== undefined)?.configMap?.name).toBe(
        configMap.metadata.name,
      );
      expect(byName((v) => v.secret !== undefined)?.secret?.secretName).toBe(secret.metadata.name);
      expect(byName((v) => v.persistentVolumeClaim !== undefined)?.persistentVolumeClaim).toEqual({
        claimName: pvc.metadata.name,
      });
      const configDir = mountOf(pod, (v) => v.configMap !== undefined);
      expect(pod.containers[0]!.env).toContainEqual({
        name: 'DIRSYNC_CONFIG',
        value: posix.join(configDir, 'config.yaml'),
      });
    },
  );

  it('has a ConfigMap config that loads, with secrets, state and CA where the pod puts them', () => {
    const { loaded, secrets } = loadConfigMapConfig();
    const { config } = loaded;
    const secretDir = mountOf(daemonPod, (v) => v.secret !== undefined);
    const configDir = mountOf(daemonPod, (v) => v.configMap !== undefined);
    if (config.source.type !== 'ldap') throw new Error('expected the ldap source');

    // The secret files the config names are keys of the Secret, under its mount.
    const named = [...secrets.keys()].map((p) => posix.relative(secretDir, p)).sort();
    expect(named).toEqual(Object.keys(secret.stringData!).sort());
    expect(loaded.secrets.bindPassword).toBeDefined();
    expect(loaded.secrets.token).toBeDefined();
    expect(posix.dirname(config.state.path)).toBe(
      mountOf(daemonPod, (v) => v.persistentVolumeClaim !== undefined),
    );
    expect(Object.keys(configMap.data!)).toContain(
      posix.relative(configDir, config.source.tls.caFile!),
    );
  });
});

describe('kubernetes/cronjob.yaml', () => {
  it('runs one `apply` at a time, never retrying what a retry cannot fix', () => {
    const rules = cronjob.spec.jobTemplate!.spec.podFailurePolicy!.rules;

    expect(cronjob.spec.concurrencyPolicy).toBe('Forbid');
    expect(cronjob.spec.schedule).toMatch(/^\S+( \S+){4}$/);
    expect(cronPod.containers[0]!.args).toEqual(['apply']);
    expect(cronPod.restartPolicy).toBe('Never');
    expect(rules).toContainEqual({
      action: 'FailJob',
      onExitCodes: expect.objectContaining({ operator: 'In', values: [2, 3, 4] }) as unknown,
    });
  });
});

describe('kubernetes/secret.example.yaml', () => {
  it('holds placeholders only, for the bind password and the API token', () => {
    expect(secret.stringData).toEqual({
      'ldap-bind-password': 'change-me',
      'api-token': 'change-me',
    });
  });
});

describe('compose.yaml', () => {
  interface ComposeService {
    command?: string[];
    image: string;
    user: string;
    read_only: boolean;
    init?: boolean;
    ports?: string[];
    volumes: { type: string; source: string; target: string; read_only?: boolean }[];
    secrets?: { source: string; target: string }[];
  }
  const compose = parse(readRepoFile('deploy/compose.yaml')) as {
    services: Record<string, ComposeService>;
    secrets: Record<string, { file: string }>;
    volumes: Record<string, unknown>;
  };
  const service = compose.services['dirsync']!;
  const example = loadConfigCopy(readRepoFile('config/example.yaml'), '/run/secrets/dirsync');

  it('runs the daemon as a non-root user on a read-only filesystem', () => {
    expect(service.command).toEqual(['daemon']);
    expect(service.user.split(':')[0]).not.toMatch(/^(0|root)$/);
    expect(service.read_only).toBe(true);
    expect(service.init).toBe(true);
    expect(service.ports).toContain('127.0.0.1:9464:9464');
  });

  it('mounts the declared secrets where config/example.yaml reads them', () => {
    const targets = (service.secrets ?? []).map((s) => s.target).sort();

    for (const s of service.secrets ?? []) expect(Object.keys(compose.secrets)).toContain(s.source);
    expect(targets).toEqual([...example.secrets.keys()].sort());
  });

  it('mounts the config and the LDAP CA read-only and keeps state in a named volume', () => {
    const config = service.volumes.find((v) => v.target === '/etc/dirsync/config.yaml');
    const state = service.volumes.find((v) => v.type === 'volume');

    expect(config).toMatchObject({ type: 'bind', read_only: true });
    const { source } = example.loaded.config;
    if (source.type !== 'ldap') throw new Error('expected the ldap source');
    expect(service.volumes.map((v) => v.target)).toContain(source.tls.caFile);
    expect(state?.target).toBe(posix.dirname(example.loaded.config.state.path));
    expect(Object.keys(compose.volumes)).toContain(state?.source);
  });
});
