// deploy/k8s as `kubectl apply -k deploy/k8s` sends it: rendered by kubectl's kustomize, every object
// checked against the Kubernetes API's schemas (kubernetes-models), then what a schema cannot say.
import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { parseAllDocuments } from 'yaml';
import { productionSecretProblem } from '../kernel/src/secrets';
import { builtFiles, nodeScript } from './support/build-output';

const ROOT = path.resolve(__dirname, '..');
const SUBGRAPHS = ['auth', 'catalog', 'inventory', 'order', 'notification'];
const SERVICES = ['gateway', ...SUBGRAPHS];

// Only the fields these checks read; kubernetes-models checks the rest.
type Probe = { httpGet?: { path?: string; port?: string | number } };
type Container = {
  name: string;
  command?: string[];
  ports?: Array<{ name?: string; containerPort: number }>;
  env?: Array<{ name: string; value?: string; valueFrom?: { secretKeyRef?: { name: string; key: string; optional?: boolean } } }>;
  envFrom?: Array<{ configMapRef?: { name: string } }>;
  readinessProbe?: Probe;
  livenessProbe?: Probe;
  resources?: { requests?: Record<string, string>; limits?: Record<string, string> };
  securityContext?: { allowPrivilegeEscalation?: boolean; readOnlyRootFilesystem?: boolean };
};
type PodTemplate = { metadata?: { labels?: Record<string, string> }; spec: { containers: Container[]; restartPolicy?: string; securityContext?: { runAsNonRoot?: boolean; runAsUser?: number } } };
type K8sObject = {
  apiVersion: string;
  kind: string;
  metadata: { name: string; namespace?: string };
  spec?: any;
  data?: Record<string, string>;
};

function kubectl(args: string[], input?: string) {
  const result = spawnSync('kubectl', args, { cwd: ROOT, input, encoding: 'utf8', timeout: 30_000 });
  if (result.error && (result.error as NodeJS.ErrnoException).code === 'ENOENT') {
    throw new Error('kubectl is not installed: apt-get install -y --no-install-recommends kubernetes-client (.ci/run does it)');
  }
  return result;
}

/** kubernetes-models' verdict on each object: [kind/name, error or null]. */
function schemaErrors(objects: K8sObject[]): Array<[string, string | null]> {
  const result = spawnSync(process.execPath, [path.join(__dirname, 'support/kubernetes-schemas.mjs')], {
    cwd: ROOT,
    input: JSON.stringify(objects),
    encoding: 'utf8',
    timeout: 30_000,
  });
  if (result.status !== 0) throw new Error(`kubernetes-schemas.mjs failed: ${result.stderr}`);
  return JSON.parse(result.stdout) as Array<[string, string | null]>;
}

describe('deploy/k8s', () => {
  let objects: K8sObject[];
  const all = (kind: string) => objects.filter((object) => object.kind === kind);
  const one = (kind: string, name: string) => {
    const found = objects.find((object) => object.kind === kind && object.metadata.name === name);
    if (!found) throw new Error(`no ${kind} ${name}`);
    return found;
  };
  const workloads = () => [...all('Deployment'), ...all('Job')];
  const podOf = (workload: K8sObject) => workload.spec.template as PodTemplate;

  beforeAll(() => {
    const rendered = kubectl(['kustomize', 'deploy/k8s']);
    if (rendered.status !== 0) throw new Error(`kubectl kustomize deploy/k8s failed: ${rendered.stderr}`);
    objects = parseAllDocuments(rendered.stdout).map((document) => document.toJSON() as K8sObject).filter(Boolean);
  });

  it('renders a Deployment and a Service per process, the migration Job, the gateway\'s autoscaler, the settings and the secrets', () => {
    const names = (kind: string) => all(kind).map((object) => object.metadata.name).sort();
    expect(names('Deployment')).toEqual([...SERVICES].sort());
    expect(names('Service')).toEqual([...SERVICES].sort());
    expect(names('Job')).toEqual(['migrate']);
    expect(names('HorizontalPodAutoscaler')).toEqual(['gateway']);
    expect(all('ConfigMap')).toHaveLength(1);
    expect(all('Secret')).toHaveLength(1);
    expect(objects.filter((object) => object.kind !== 'Namespace' && object.metadata.namespace !== 'shop')).toEqual([]);
  });

  it('is valid against the Kubernetes API\'s schemas, object by object', () => {
    expect(schemaErrors(objects)).toEqual(objects.map((object) => [`${object.kind}/${object.metadata.name}`, null]));
    // The validator does reject: a port that is not a number.
    const broken = structuredClone(one('Deployment', 'gateway'));
    broken.spec.template.spec.containers[0].ports[0].containerPort = 'http';
    const [[, error]] = schemaErrors([broken]) as [[string, string | null]];
    expect(error).toMatch(/containerPort must be integer/);
  });

  it('runs what npm run build compiles, with plain node', () => {
    const built = new Set(builtFiles());
    const commands = Object.fromEntries(workloads().map((workload) => [workload.metadata.name, nodeScript(podOf(workload).spec.containers[0]!.command)]));
    expect(commands).toEqual({
      gateway: 'dist/gateway/src/main.js',
      ...Object.fromEntries(SUBGRAPHS.map((name) => [name, `dist/subgraphs/${name}/src/main.js`])),
      migrate: 'dist/scripts/db/migrate.js',
    });
    expect(Object.values(commands).filter((script) => !built.has(script!))).toEqual([]);
  });

  it('probes every Deployment: ready on /ready, alive on /health, on the port its container names', () => {
    for (const deployment of all('Deployment')) {
      for (const container of podOf(deployment).spec.containers) {
        const named = (container.ports ?? []).map((port) => port.name);
        const probe = (p?: Probe) => ({ path: p?.httpGet?.path, portNamed: named.includes(p?.httpGet?.port as string) });
        expect({ deployment: deployment.metadata.name, readiness: probe(container.readinessProbe), liveness: probe(container.livenessProbe) }).toEqual({
          deployment: deployment.metadata.name,
          readiness: { path: '/ready', portNamed: true },
          liveness: { path: '/health', portNamed: true },
        });
      }
    }
  });

  it('gives each Service the pods of one Deployment, on a port they listen on, under the name the others call it by', () => {
    const config = all('ConfigMap')[0]!.data!;
    for (const service of all('Service')) {
      const selector = service.spec.selector as Record<string, string>;
      const selected = all('Deployment').filter((deployment) => {
        const labels = podOf(deployment).metadata?.labels ?? {};
        return Object.entries(selector).every(([key, value]) => labels[key] === value);
      });
      expect({ service: service.metadata.name, selects: selected.map((d) => d.metadata.name) }).toEqual({ service: service.metadata.name, selects: [service.metadata.name] });
      const ports = podOf(selected[0]!).spec.containers.flatMap((container) => container.ports ?? []);
      for (const port of service.spec.ports as Array<{ port: number; targetPort: string | number }>) {
        const target = ports.find((p) => p.name === port.targetPort || p.containerPort === port.targetPort);
        expect({ service: service.metadata.name, targetPort: port.targetPort, found: target !== undefined }).toEqual({ service: service.metadata.name, targetPort: port.targetPort, found: true });
        if (service.metadata.name !== 'gateway') {
          expect(config[`${service.metadata.name.toUpperCase()}_URL`]).toBe(`http://${service.metadata.name}:${port.port}/graphql`);
        }
      }
    }
  });

  it('scales the gateway with its CPU, never below two, and nothing else owns its replica count', () => {
    const hpa = one('HorizontalPodAutoscaler', 'gateway');
    expect(hpa.spec.scaleTargetRef).toEqual({ apiVersion: 'apps/v1', kind: 'Deployment', name: 'gateway' });
    expect(hpa.spec.minReplicas).toBeGreaterThanOrEqual(2);
    expect(hpa.spec.metrics).toEqual([{ type: 'Resource', resource: { name: 'cpu', target: { type: 'Utilization', averageUtilization: expect.any(Number) } } }]);
    expect(one('Deployment', 'gateway').spec.replicas).toBeUndefined();
    // One poller of Telegram's updates per bot.
    expect(one('Deployment', 'notification').spec.replicas).toBe(1);
  });

  it('runs every pod unprivileged, with a read-only root, within requests and limits', () => {
    for (const workload of workloads()) {
      const pod = podOf(workload).spec;
      expect({ name: workload.metadata.name, pod: pod.securityContext }).toMatchObject({ name: workload.metadata.name, pod: { runAsNonRoot: true, runAsUser: expect.any(Number) } });
      expect(pod.securityContext!.runAsUser).not.toBe(0);
      for (const container of pod.containers) {
        expect({ name: workload.metadata.name, securityContext: container.securityContext }).toMatchObject({
          name: workload.metadata.name,
          securityContext: { allowPrivilegeEscalation: false, readOnlyRootFilesystem: true },
        });
        const amounts = { cpu: expect.any(String), memory: expect.any(String) };
        expect({ name: workload.metadata.name, resources: container.resources }).toEqual({ name: workload.metadata.name, resources: { requests: amounts, limits: amounts } });
      }
    }
  });

  it('takes settings from the ConfigMap and secrets from the Secret, whose values are marked placeholders', () => {
    const configMap = all('ConfigMap')[0]!;
    const secret = all('Secret')[0]!;
    const secretKeys = Object.keys(secret.data ?? {});
    for (const workload of workloads()) {
      for (const container of podOf(workload).spec.containers) {
        if (workload.kind === 'Deployment') expect({ name: workload.metadata.name, envFrom: container.envFrom }).toEqual({ name: workload.metadata.name, envFrom: [{ configMapRef: { name: configMap.metadata.name } }] });
        for (const variable of container.env ?? []) {
          const ref = variable.valueFrom?.secretKeyRef;
          if (!ref) {
            expect(variable.name).toBe('NODE_OPTIONS');
            continue;
          }
          expect({ variable: variable.name, secret: ref.name }).toEqual({ variable: variable.name, secret: secret.metadata.name });
          if (!ref.optional) expect(secretKeys).toContain(ref.key);
        }
      }
    }
    expect(Object.keys(configMap.data!).filter((key) => /SECRET|TOKEN|PASSWORD|DATABASE_URL|PRIVATE_KEY/.test(key))).toEqual([]);
    const values = Object.entries(secret.data!).map(([key, value]) => [key, Buffer.from(value, 'base64').toString('utf8')]);
    expect(values.filter(([, value]) => !value!.includes('REPLACE-ME'))).toEqual([]);
    // A placeholder left in place stops a service in production, since it is written in the repository.
    const jwtSecret = Object.fromEntries(values).JWT_SECRET!;
    expect(productionSecretProblem({ JWT_SECRET: jwtSecret })).toMatch(/^JWT_SECRET is written in deploy\/k8s\/secrets\.env, so it is no secret/);
  });

  it('migrates in a Job that is retried as a new pod, not restarted in place', () => {
    const job = one('Job', 'migrate');
    expect(podOf(job).spec.restartPolicy).toBe('Never');
    expect(job.spec.backoffLimit).toBeGreaterThan(0);
  });
});
