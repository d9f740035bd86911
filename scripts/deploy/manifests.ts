// Offline checks of what deploy/ ships, for `npm run deploy:verify` (and its unit tests):
// - every Kubernetes object the chart renders against the Kubernetes and KEDA schemas (the npm packages
//   kubernetes-models and @kubernetes-models/keda), then our own rules: hardened pods, probes, GPUs, drain, PDBs,
//   autoscalers aimed at the right Deployments, configuration that exists, a signing key for the role that muxes;
// - deploy/compose.yaml's shape: a one-shot migrate service every role waits for, health checks, a GPU reservation, the
//   signing key mounted read-only into the orchestration worker.
// Each returns the problems it found, one line each; none means it passed.

// Parsed YAML of any shape, read field by field.
// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Obj = Record<string, any>;

/** apiVersion -> the module of its models. */
const MODELS: Readonly<Record<string, string>> = {
  v1: 'kubernetes-models/v1',
  'apps/v1': 'kubernetes-models/apps/v1',
  'batch/v1': 'kubernetes-models/batch/v1',
  'policy/v1': 'kubernetes-models/policy/v1',
  'autoscaling/v2': 'kubernetes-models/autoscaling/v2',
  'networking.k8s.io/v1': 'kubernetes-models/networking.k8s.io/v1',
  'keda.sh/v1alpha1': '@kubernetes-models/keda/keda.sh/v1alpha1',
};

/** Validates one object against its kind's schema: undefined, or why not. */
export function schemaProblem(obj: Obj): string | undefined {
  const where = `${obj?.kind ?? '?'} ${obj?.metadata?.name ?? '?'}`;
  const module = MODELS[obj?.apiVersion];
  if (!module) return `${where}: no schema for apiVersion ${JSON.stringify(obj?.apiVersion)} (known: ${Object.keys(MODELS).join(', ')})`;
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const Model = (require(module) as Record<string, new (data: Obj) => { validate(): void }>)[obj.kind];
  if (!Model) return `${where}: ${obj.apiVersion} has no kind ${obj.kind}`;
  try {
    new Model(obj).validate();
    return undefined;
  } catch (err) {
    return `${where}: ${(err as Error).message}`;
  }
}

function podSpecOf(obj: Obj): Obj | undefined {
  return obj.kind === 'Deployment' || obj.kind === 'Job' ? obj.spec?.template?.spec : undefined;
}

function envValue(container: Obj, name: string): string | undefined {
  return (container.env as Obj[] | undefined)?.find((e) => e.name === name)?.value;
}

/** The roles that mux, and so sign every MP4's content credentials (C2PA_SIGNING_KEY / C2PA_SIGNING_CERTS). */
const SIGNING_ROLES = ['orchestration-worker'];
const SIGNING_ENV = ['C2PA_SIGNING_KEY', 'C2PA_SIGNING_CERTS'];

/** Whether `file` lies inside the folder `dir` (both absolute container paths). */
function inside(file: string, dir: string): boolean {
  return file.startsWith(`${dir.replace(/\/+$/, '')}/`);
}

function matches(selector: Obj | undefined, labels: Obj | undefined): boolean {
  const want = selector?.matchLabels as Obj | undefined;
  return !!want && Object.entries(want).every(([k, v]) => labels?.[k] === v);
}

/**
 * Our rules over a whole rendering. `external` names Secrets and ConfigMaps that live outside the chart (an
 * existingSecret), which envFrom may name without the rendering holding them.
 */
export function manifestProblems(objects: Obj[], external: { secrets?: string[]; configMaps?: string[] } = {}): string[] {
  const problems: string[] = [];
  const named = (kind: string) => new Set(objects.filter((o) => o.kind === kind).map((o) => o.metadata?.name as string));
  const secrets = new Set([...named('Secret'), ...(external.secrets ?? [])]);
  const configMaps = new Set([...named('ConfigMap'), ...(external.configMaps ?? [])]);
  const deployments = objects.filter((o) => o.kind === 'Deployment');
  const componentOf = (o: Obj) => o.metadata?.labels?.['app.kubernetes.io/component'] as string | undefined;

  for (const obj of objects) {
    const problem = schemaProblem(obj);
    if (problem) problems.push(problem);
    const pod = podSpecOf(obj);
    if (!pod) continue;
    const where = `${obj.kind} ${obj.metadata?.name}`;
    if (pod.securityContext?.runAsNonRoot !== true) problems.push(`${where}: the pod's securityContext.runAsNonRoot is not true`);
    if (pod.automountServiceAccountToken !== false) problems.push(`${where}: automountServiceAccountToken is not false (no role talks to the Kubernetes API)`);
    for (const c of [...(pod.initContainers ?? []), ...(pod.containers ?? [])] as Obj[]) {
      const cw = `${where} container ${c.name}`;
      const sc = c.securityContext ?? {};
      if (sc.readOnlyRootFilesystem !== true) problems.push(`${cw}: securityContext.readOnlyRootFilesystem is not true`);
      if (sc.allowPrivilegeEscalation !== false) problems.push(`${cw}: securityContext.allowPrivilegeEscalation is not false`);
      if (!(sc.capabilities?.drop as string[] | undefined)?.includes('ALL')) problems.push(`${cw}: securityContext.capabilities.drop lacks ALL`);
      if (!c.resources?.requests) problems.push(`${cw}: no resource requests`);
      for (const from of (c.envFrom ?? []) as Obj[]) {
        if (from.configMapRef && !configMaps.has(from.configMapRef.name))
          problems.push(`${cw}: envFrom names ConfigMap ${from.configMapRef.name}, which is not rendered`);
        if (from.secretRef && !secrets.has(from.secretRef.name)) problems.push(`${cw}: envFrom names Secret ${from.secretRef.name}, which is not rendered`);
      }
      const mounts = new Set(((c.volumeMounts ?? []) as Obj[]).map((m) => m.mountPath));
      if (!mounts.has('/tmp')) problems.push(`${cw}: no writable /tmp mounted (the root filesystem is read-only)`);
    }
    for (const volume of (pod.volumes ?? []) as Obj[]) {
      const name = volume.secret?.secretName as string | undefined;
      if (name !== undefined && !secrets.has(name)) problems.push(`${where} volume ${volume.name}: names Secret ${name}, which is not rendered`);
    }
    if (obj.kind !== 'Deployment') continue;
    const role = componentOf(obj);
    const main = (pod.containers as Obj[]).find((c) => envValue(c, 'ROLES') !== undefined);
    if (!main) {
      problems.push(`${where}: no container sets ROLES`);
      continue;
    }
    if (envValue(main, 'ROLES') !== role) problems.push(`${where}: ROLES=${envValue(main, 'ROLES')} but the component label says ${role}`);
    for (const probe of ['startupProbe', 'livenessProbe', 'readinessProbe']) {
      if (!main[probe]?.httpGet) problems.push(`${where}: no HTTP ${probe}`);
    }
    if (main.livenessProbe?.httpGet?.path !== '/healthz') problems.push(`${where}: livenessProbe is not GET /healthz`);
    if (main.readinessProbe?.httpGet?.path !== '/readyz') problems.push(`${where}: readinessProbe is not GET /readyz`);
    const grace = Number(envValue(main, 'SHUTDOWN_GRACE_SECONDS'));
    if (!(pod.terminationGracePeriodSeconds > grace)) {
      problems.push(
        `${where}: terminationGracePeriodSeconds ${pod.terminationGracePeriodSeconds} is not longer than SHUTDOWN_GRACE_SECONDS ${envValue(main, 'SHUTDOWN_GRACE_SECONDS')}`,
      );
    }
    if (role !== undefined && SIGNING_ROLES.includes(role)) {
      // Each signing file inside a read-only mount of a Secret volume: a worker without them fails every mux.
      const secretVolumes = new Set(((pod.volumes ?? []) as Obj[]).filter((v) => v.secret).map((v) => v.name as string));
      const secretMounts = ((main.volumeMounts ?? []) as Obj[]).filter((m) => m.readOnly === true && secretVolumes.has(m.name));
      for (const name of SIGNING_ENV) {
        const file = envValue(main, name);
        if (!file || !secretMounts.some((m) => inside(file, m.mountPath))) {
          problems.push(`${where}: ${name} (${file ?? 'unset'}) is not a file in a read-only Secret mount: it could not sign content credentials`);
        }
      }
    }
    if (role === 'gpu-worker') {
      if (!main.resources?.limits?.['nvidia.com/gpu']) problems.push(`${where}: no nvidia.com/gpu limit`);
      const drain = Number(envValue(main, 'WORKER_DRAIN_SECONDS'));
      if (!(drain < grace)) problems.push(`${where}: WORKER_DRAIN_SECONDS ${drain} leaves no time to hand back chunks within SHUTDOWN_GRACE_SECONDS ${grace}`);
    }
    const labels = obj.spec?.template?.metadata?.labels;
    if (!objects.some((o) => o.kind === 'PodDisruptionBudget' && matches(o.spec?.selector, labels)))
      problems.push(`${where}: no PodDisruptionBudget selects its pods`);
    if (!objects.some((o) => o.kind === 'NetworkPolicy' && matches(o.spec?.podSelector, labels))) problems.push(`${where}: no NetworkPolicy selects its pods`);
  }

  const byComponent = (role: string) => deployments.find((d) => componentOf(d) === role);
  for (const role of ['api', 'orchestration-worker', 'projector', 'gpu-worker']) {
    if (!byComponent(role)) problems.push(`no Deployment for the ${role} role`);
  }
  const api = byComponent('api');
  if (api && !objects.some((o) => o.kind === 'Service' && matches({ matchLabels: o.spec?.selector }, api.spec?.template?.metadata?.labels))) {
    problems.push('no Service selects the API pods');
  }
  for (const hpa of objects.filter((o) => o.kind === 'HorizontalPodAutoscaler')) {
    if (hpa.spec?.scaleTargetRef?.name !== api?.metadata?.name)
      problems.push(`HorizontalPodAutoscaler ${hpa.metadata?.name} does not scale the API Deployment`);
  }
  const gpu = byComponent('gpu-worker');
  for (const so of objects.filter((o) => o.kind === 'ScaledObject')) {
    const sw = `ScaledObject ${so.metadata?.name}`;
    if (so.spec?.scaleTargetRef?.name !== gpu?.metadata?.name) problems.push(`${sw}: does not scale the GPU worker Deployment`);
    const temporal = ((so.spec?.triggers ?? []) as Obj[]).find((t) => t.type === 'temporal');
    if (!temporal) {
      problems.push(`${sw}: no temporal trigger`);
      continue;
    }
    // KEDA's temporal scaler: endpoint (or endpointFromEnv) and taskQueue required; queueTypes workflow/activity.
    const m = temporal.metadata ?? {};
    if (!m.endpoint && !m.endpointFromEnv) problems.push(`${sw}: the temporal trigger has no endpoint`);
    if (!m.taskQueue) problems.push(`${sw}: the temporal trigger has no taskQueue`);
    if (
      m.queueTypes !== undefined &&
      !String(m.queueTypes)
        .split(',')
        .every((t) => ['workflow', 'activity'].includes(t.trim()))
    ) {
      problems.push(`${sw}: queueTypes ${m.queueTypes} is not a list of workflow, activity`);
    }
    if (!/^\d+$/.test(String(m.targetQueueSize ?? ''))) problems.push(`${sw}: targetQueueSize ${m.targetQueueSize} is not a whole number`);
    if (gpu?.spec?.replicas !== undefined) problems.push(`Deployment ${gpu.metadata?.name}: sets replicas although KEDA scales it (they would fight)`);
  }
  if (
    !objects.some((o) => o.kind === 'Job' && (podSpecOf(o)?.containers as Obj[] | undefined)?.some((c) => (c.args as string[] | undefined)?.[0] === 'migrate'))
  ) {
    problems.push('no Job runs the migrations (args: [migrate])');
  }
  return problems;
}

/** deploy/compose.yaml's shape (parsed with merge keys resolved). */
export function composeProblems(compose: Obj): string[] {
  const problems: string[] = [];
  const services = (compose.services ?? {}) as Record<string, Obj>;
  const migrate = services.migrate;
  if (!migrate) return ['compose: no migrate service'];
  if ((migrate.command as string[] | undefined)?.[0] !== 'migrate') problems.push('compose: the migrate service does not run the migrate command');
  if (migrate.restart !== 'no') problems.push('compose: the migrate service restarts (a one-shot service must have restart: "no")');
  for (const role of ['api', 'orchestration-worker', 'projector', 'gpu-worker']) {
    const svc = services[role];
    if (!svc) {
      problems.push(`compose: no ${role} service`);
      continue;
    }
    if (svc.environment?.ROLES !== role) problems.push(`compose: service ${role} has ROLES=${svc.environment?.ROLES}`);
    if (svc.image !== migrate.image) problems.push(`compose: service ${role} runs ${svc.image}, not the image of migrate (${migrate.image})`);
    if (!svc.healthcheck?.test) problems.push(`compose: service ${role} has no healthcheck`);
    if (svc.environment?.SCHEMA_MIGRATIONS !== 'verify') problems.push(`compose: service ${role} may migrate itself (SCHEMA_MIGRATIONS is not verify)`);
    const waitsForMigrate = svc.depends_on?.migrate?.condition === 'service_completed_successfully';
    const usesDb = role !== 'gpu-worker';
    if (usesDb && !waitsForMigrate) problems.push(`compose: service ${role} does not wait for migrate (depends_on condition service_completed_successfully)`);
    if (svc.read_only !== true) problems.push(`compose: service ${role} has a writable root filesystem (read_only: true)`);
    if (SIGNING_ROLES.includes(role)) {
      const readOnlyTargets = ((svc.volumes ?? []) as Array<string | Obj>).flatMap((v) => {
        if (typeof v !== 'string') return v.read_only === true && typeof v.target === 'string' ? [v.target as string] : [];
        // SOURCE:TARGET[:OPTIONS], where SOURCE may hold ${VAR:?message} and so colons of its own: read from the end.
        const m = /:(\/[^:]*)(?::([a-z,]+))?$/.exec(v);
        return m && (m[2] ?? '').split(',').includes('ro') ? [m[1]!] : [];
      });
      for (const name of SIGNING_ENV) {
        const file = svc.environment?.[name] as string | undefined;
        if (!file || !readOnlyTargets.some((dir) => inside(file, dir))) {
          problems.push(`compose: service ${role}'s ${name} (${file ?? 'unset'}) is not a file in a read-only volume: it could not sign content credentials`);
        }
      }
    }
  }
  const gpuDevices = services['gpu-worker']?.deploy?.resources?.reservations?.devices as Obj[] | undefined;
  if (!gpuDevices?.some((d) => (d.capabilities as string[] | undefined)?.includes('gpu'))) problems.push('compose: the gpu-worker service reserves no GPU');
  for (const shared of ['postgresql', 'temporal', 'minio']) {
    if (!services[shared]?.healthcheck) problems.push(`compose: shared service ${shared} is missing or has no healthcheck`);
  }
  return problems;
}
