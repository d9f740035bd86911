// The offline checks deploy:verify applies to what deploy/ ships (scripts/deploy/manifests.ts): given a rendering, the
// problems named. The chart itself is rendered by helm in deploy:verify; deploy/compose.yaml is checked here too.
import fs from 'node:fs';
import path from 'node:path';
import { parse } from 'yaml';
import { PROJECT_ROOT } from '../../infra/tools';
import { composeProblems, manifestProblems, schemaProblem } from '../../scripts/deploy/manifests';

type Obj = Record<string, any>;

const labels = (role: string) => ({ 'app.kubernetes.io/instance': 'rf', 'app.kubernetes.io/component': role });
const hardened = { readOnlyRootFilesystem: true, allowPrivilegeEscalation: false, capabilities: { drop: ['ALL'] } };

function deployment(role: string): Obj {
  const port = role === 'api' ? 'http' : 'health';
  const env = [
    { name: 'ROLES', value: role },
    { name: 'SHUTDOWN_GRACE_SECONDS', value: '30' },
    ...(role === 'gpu-worker' ? [{ name: 'WORKER_DRAIN_SECONDS', value: '20' }] : []),
    ...(role === 'orchestration-worker'
      ? [
          { name: 'C2PA_SIGNING_KEY', value: '/run/secrets/c2pa/signer.key' },
          { name: 'C2PA_SIGNING_CERTS', value: '/run/secrets/c2pa/chain.pem' },
        ]
      : []),
  ];
  const signs = role === 'orchestration-worker';
  return {
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: { name: `rf-${role}`, labels: labels(role) },
    spec: {
      ...(role === 'gpu-worker' ? {} : { replicas: 1 }),
      selector: { matchLabels: labels(role) },
      template: {
        metadata: { labels: labels(role) },
        spec: {
          automountServiceAccountToken: false,
          securityContext: { runAsNonRoot: true },
          terminationGracePeriodSeconds: 40,
          containers: [
            {
              name: role,
              image: 'reelforge:1',
              env,
              envFrom: [{ configMapRef: { name: 'rf-config' } }, { secretRef: { name: 'rf-secrets' } }],
              ports: [{ name: port, containerPort: 8080 }],
              startupProbe: { httpGet: { path: '/healthz', port } },
              livenessProbe: { httpGet: { path: '/healthz', port } },
              readinessProbe: { httpGet: { path: '/readyz', port } },
              resources: { requests: { cpu: '1' }, ...(role === 'gpu-worker' ? { limits: { 'nvidia.com/gpu': 1 } } : {}) },
              securityContext: hardened,
              volumeMounts: [{ name: 'tmp', mountPath: '/tmp' }, ...(signs ? [{ name: 'c2pa', mountPath: '/run/secrets/c2pa', readOnly: true }] : [])],
            },
          ],
          volumes: [{ name: 'tmp', emptyDir: {} }, ...(signs ? [{ name: 'c2pa', secret: { secretName: 'rf-c2pa' } }] : [])],
        },
      },
    },
  };
}

function rendering(): Obj[] {
  const roles = ['api', 'orchestration-worker', 'projector', 'gpu-worker'];
  return [
    { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'rf-config' }, data: {} },
    { apiVersion: 'v1', kind: 'Secret', metadata: { name: 'rf-secrets' }, stringData: {} },
    { apiVersion: 'v1', kind: 'Secret', metadata: { name: 'rf-c2pa' }, stringData: {} },
    ...roles.map(deployment),
    ...roles.map((role) => ({
      apiVersion: 'policy/v1',
      kind: 'PodDisruptionBudget',
      metadata: { name: `rf-${role}` },
      spec: { minAvailable: 1, selector: { matchLabels: labels(role) } },
    })),
    ...roles.map((role) => ({
      apiVersion: 'networking.k8s.io/v1',
      kind: 'NetworkPolicy',
      metadata: { name: `rf-${role}` },
      spec: { podSelector: { matchLabels: labels(role) } },
    })),
    { apiVersion: 'v1', kind: 'Service', metadata: { name: 'rf-api' }, spec: { selector: labels('api'), ports: [{ port: 80, targetPort: 'http' }] } },
    {
      apiVersion: 'keda.sh/v1alpha1',
      kind: 'ScaledObject',
      metadata: { name: 'rf-gpu' },
      spec: {
        scaleTargetRef: { name: 'rf-gpu-worker' },
        triggers: [{ type: 'temporal', metadata: { endpoint: 't:7233', taskQueue: 'gpu', queueTypes: 'activity', targetQueueSize: '4' } }],
      },
    },
    {
      apiVersion: 'batch/v1',
      kind: 'Job',
      metadata: { name: 'rf-migrate-1' },
      spec: {
        template: {
          spec: {
            restartPolicy: 'OnFailure',
            automountServiceAccountToken: false,
            securityContext: { runAsNonRoot: true },
            containers: [
              {
                name: 'migrate',
                image: 'reelforge:1',
                args: ['migrate'],
                resources: { requests: { cpu: '100m' } },
                securityContext: hardened,
                volumeMounts: [{ name: 'tmp', mountPath: '/tmp' }],
              },
            ],
            volumes: [{ name: 'tmp', emptyDir: {} }],
          },
        },
      },
    },
  ];
}

const find = (objects: Obj[], kind: string, name: string) => objects.find((o) => o.kind === kind && o.metadata.name === name)!;
const container = (objects: Obj[], role: string) => find(objects, 'Deployment', `rf-${role}`).spec.template.spec.containers[0];

describe('deploy manifests: the rules deploy:verify applies to the rendered chart', () => {
  it('finds nothing wrong with a complete, hardened rendering', () => {
    expect(manifestProblems(rendering())).toEqual([]);
  });

  it('names an object its schema refuses, and an apiVersion it has no schema for', () => {
    const objects = rendering();
    find(objects, 'Deployment', 'rf-api').spec.replicas = 'two';
    expect(manifestProblems(objects)).toEqual(['Deployment rf-api: data/spec/replicas must be integer']);
    expect(schemaProblem({ apiVersion: 'example.com/v1', kind: 'Thing', metadata: { name: 'x' } })).toMatch(
      /^Thing x: no schema for apiVersion "example.com\/v1"/,
    );
  });

  it('names a container that could write its root filesystem, escalate, or keep capabilities', () => {
    const objects = rendering();
    container(objects, 'projector').securityContext = { readOnlyRootFilesystem: false };
    expect(manifestProblems(objects)).toEqual([
      'Deployment rf-projector container projector: securityContext.readOnlyRootFilesystem is not true',
      'Deployment rf-projector container projector: securityContext.allowPrivilegeEscalation is not false',
      'Deployment rf-projector container projector: securityContext.capabilities.drop lacks ALL',
    ]);
  });

  it('names a GPU worker without a GPU, or whose pod is killed before its drain ends', () => {
    const objects = rendering();
    delete container(objects, 'gpu-worker').resources.limits;
    find(objects, 'Deployment', 'rf-gpu-worker').spec.template.spec.terminationGracePeriodSeconds = 30;
    expect(manifestProblems(objects)).toEqual([
      'Deployment rf-gpu-worker: terminationGracePeriodSeconds 30 is not longer than SHUTDOWN_GRACE_SECONDS 30',
      'Deployment rf-gpu-worker: no nvidia.com/gpu limit',
    ]);
  });

  it('names autoscalers aimed at the wrong Deployment, a temporal trigger without its fields, missing probes and budgets', () => {
    const objects = rendering();
    const so = find(objects, 'ScaledObject', 'rf-gpu');
    so.spec.scaleTargetRef.name = 'rf-api';
    so.spec.triggers[0].metadata = { endpoint: 't:7233', queueTypes: 'nexus', targetQueueSize: 'many' };
    delete container(objects, 'api').readinessProbe;
    objects.splice(objects.indexOf(find(objects, 'PodDisruptionBudget', 'rf-projector')), 1);
    objects.splice(objects.indexOf(find(objects, 'Job', 'rf-migrate-1')), 1);
    expect(manifestProblems(objects)).toEqual([
      'Deployment rf-api: no HTTP readinessProbe',
      'Deployment rf-api: readinessProbe is not GET /readyz',
      'Deployment rf-projector: no PodDisruptionBudget selects its pods',
      'ScaledObject rf-gpu: does not scale the GPU worker Deployment',
      'ScaledObject rf-gpu: the temporal trigger has no taskQueue',
      'ScaledObject rf-gpu: queueTypes nexus is not a list of workflow, activity',
      'ScaledObject rf-gpu: targetQueueSize many is not a whole number',
      'no Job runs the migrations (args: [migrate])',
    ]);
  });

  it('names configuration a pod reads that the rendering does not hold, unless it lives outside the chart', () => {
    const objects = rendering().filter((o) => o.kind !== 'Secret');
    expect(manifestProblems(objects).filter((p) => p.includes('rf-api'))).toEqual([
      'Deployment rf-api container api: envFrom names Secret rf-secrets, which is not rendered',
    ]);
    expect(manifestProblems(objects, { secrets: ['rf-secrets'] })).toEqual([
      'Deployment rf-orchestration-worker volume c2pa: names Secret rf-c2pa, which is not rendered',
    ]);
    expect(manifestProblems(objects, { secrets: ['rf-secrets', 'rf-c2pa'] })).toEqual([]);
  });

  it('names an orchestration worker that could not sign content credentials: no key, or a key outside a read-only Secret mount', () => {
    const objects = rendering();
    const worker = container(objects, 'orchestration-worker');
    worker.env = worker.env.filter((e: Obj) => e.name !== 'C2PA_SIGNING_CERTS');
    worker.volumeMounts.find((m: Obj) => m.name === 'c2pa').readOnly = false;
    expect(manifestProblems(objects)).toEqual([
      'Deployment rf-orchestration-worker: C2PA_SIGNING_KEY (/run/secrets/c2pa/signer.key) is not a file in a read-only Secret mount: it could not sign content credentials',
      'Deployment rf-orchestration-worker: C2PA_SIGNING_CERTS (unset) is not a file in a read-only Secret mount: it could not sign content credentials',
    ]);
  });
});

describe('deploy/compose.yaml', () => {
  const compose = () => parse(fs.readFileSync(path.join(PROJECT_ROOT, 'deploy', 'compose.yaml'), 'utf8'), { merge: true }) as Obj;

  it('runs the migrations once, before the roles, each role from one image, health-checked, the GPU worker with a GPU', () => {
    expect(composeProblems(compose())).toEqual([]);
  });

  it('would be caught migrating in every replica, or starting before the migrations', () => {
    const c = compose();
    c.services.api.environment.SCHEMA_MIGRATIONS = 'apply';
    delete c.services.projector.depends_on.migrate;
    delete c.services['gpu-worker'].deploy;
    expect(composeProblems(c)).toEqual([
      'compose: service api may migrate itself (SCHEMA_MIGRATIONS is not verify)',
      'compose: service projector does not wait for migrate (depends_on condition service_completed_successfully)',
      'compose: the gpu-worker service reserves no GPU',
    ]);
  });

  it('mounts the signing key and chain read-only into the orchestration worker, or says it could not sign', () => {
    const worker = compose().services['orchestration-worker'];
    expect(worker.volumes).toEqual([expect.stringMatching(/^\$\{C2PA_SECRETS_DIR:\?[^}]+\}:\/run\/secrets\/c2pa:ro$/)]);
    const c = compose();
    c.services['orchestration-worker'].volumes = ['./c2pa:/run/secrets/c2pa'];
    delete c.services['orchestration-worker'].environment.C2PA_SIGNING_CERTS;
    expect(composeProblems(c)).toEqual([
      "compose: service orchestration-worker's C2PA_SIGNING_KEY (/run/secrets/c2pa/signer.key) is not a file in a read-only volume: it could not sign content credentials",
      "compose: service orchestration-worker's C2PA_SIGNING_CERTS (unset) is not a file in a read-only volume: it could not sign content credentials",
    ]);
  });
});
