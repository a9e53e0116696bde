import { existsSync, readFileSync } from "node:fs";
import { resolve } from "node:path";
import { describe, expect, it } from "vitest";
import {
  readConfigSettings,
  readConfigSource,
  readProcessRoles,
  REPO_ROOT,
} from "../../test/config-settings.ts";
import {
  apiPodNodeOptions,
  buildKustomization,
  podSpecOf,
  readAppRoutes,
  readComposeServices,
  readManifests,
  type Container,
  type K8sObject,
} from "../../test/deploy-files.ts";

/*
 * Every deployment file against the code (issue 15): the kustomizations build with kubectl, every object
 * validates against the Kubernetes (and Argo CD) schemas, every environment variable is a setting config.ts
 * reads, every role is one config.ts knows, probes and ports are the server's, and termination waits for
 * the server's own shutdown. Compose's services are held to the same.
 */

const KUSTOMIZATIONS = ["deploy/k8s/base", "deploy/k8s/overlays/example"];
const ARGO_APPLICATIONS = ["deploy/argocd/turnout.yaml", "deploy/argocd/nats.yaml"];
// Custom resources of operators with no schema package here: checked by kubectl kustomize's build only.
const OPERATOR_KINDS = new Set(["postgresql.cnpg.io/v1 Cluster", "postgresql.cnpg.io/v1 ScheduledBackup"]);
// Settings a cluster deployment leaves unset: embedded mode's, and the one set only while a key rotates.
const NOT_FOR_CLUSTERS = new Set(["DATA_DIR", "EMBEDDED_POSTGRES_PORT", "TOKEN_SECRET_PREVIOUS"]);
const MIGRATE_SCRIPT = "apps/server/src/db-migrate.ts";
// Read by node itself, not config.ts: V8 flags of one role's pods (ADR 0005).
const NODE_VARIABLES = new Set(["NODE_OPTIONS"]);

const configSource = readConfigSource();
const settings = readConfigSettings(configSource);
const roles = readProcessRoles(configSource);
const routes = readAppRoutes();
const built = new Map(KUSTOMIZATIONS.map((dir) => [dir, buildKustomization(dir)]));
const overlay = built.get("deploy/k8s/overlays/example") ?? [];
const compose = readComposeServices();
const turnoutServices = Object.entries(compose).filter(([, service]) => service.image?.startsWith("turnout"));

function objectsOf(objects: K8sObject[], kind: string): K8sObject[] {
  return objects.filter((object) => object.kind === kind);
}

function deploymentOf(objects: K8sObject[], role: string): { object: K8sObject; container: Container } {
  const object = objects.find(
    ({ kind, metadata }) => kind === "Deployment" && metadata.name === `turnout-${role}`,
  );
  const container = object === undefined ? undefined : podSpecOf(object)?.containers[0];
  if (object === undefined || container === undefined) throw new Error(`no Deployment turnout-${role}`);
  return { object, container };
}

async function validateAgainstSchema(object: K8sObject): Promise<string | null> {
  const modulePath = object.apiVersion.startsWith("argoproj.io/")
    ? `@kubernetes-models/argo-cd/${object.apiVersion}/${object.kind}`
    : `kubernetes-models/${object.apiVersion.includes("/") ? object.apiVersion : `v1`}/${object.kind}`;
  const models = (await import(modulePath)) as Record<string, new (data: unknown) => { validate(): void }>;
  const Model = models[object.kind];
  if (Model === undefined) return `${object.kind} ${object.metadata.name}: no schema in ${modulePath}`;
  try {
    new Model(withUnwrappedSecretData(object)).validate();
    return null;
  } catch (error) {
    return `${object.kind} ${object.metadata.name}: ${error instanceof Error ? error.message : String(error)}`;
  }
}

// kustomize wraps long base64 values of a Secret's data over lines; Go's base64 decoder in the API server
// skips the line breaks, the schema's "byte" format does not.
function withUnwrappedSecretData(object: K8sObject): K8sObject {
  if (object.kind !== "Secret" || object.data === undefined) return object;
  const data = Object.fromEntries(
    Object.entries(object.data).map(([key, value]) => [key, value.replace(/\s/g, "")]),
  );
  return { ...object, data };
}

describe("Kubernetes manifests", () => {
  it("build with kubectl kustomize and validate against the Kubernetes and Argo CD schemas", async () => {
    const argo = ARGO_APPLICATIONS.flatMap((file) => readManifests(file));
    const all = [...built.values(), argo].flat();
    expect(overlay.length).toBeGreaterThan(20);
    const unchecked = all.filter(({ apiVersion, kind }) => OPERATOR_KINDS.has(`${apiVersion} ${kind}`));
    const problems = await Promise.all(
      all.filter((object) => !unchecked.includes(object)).map((object) => validateAgainstSchema(object)),
    );
    expect(problems.filter((problem) => problem !== null)).toEqual([]);
    expect(unchecked.map(({ kind }) => kind).sort()).toEqual(["Cluster", "ScheduledBackup"]);
  });

  it("names only settings config.ts reads, and gives every cluster setting a ConfigMap or Secret entry", () => {
    for (const [dir, objects] of built) {
      const named = new Map<string, string>();
      for (const object of [...objectsOf(objects, "ConfigMap"), ...objectsOf(objects, "Secret")]) {
        for (const key of Object.keys({ ...object.data, ...object.stringData })) {
          named.set(key, `${object.kind} ${object.metadata.name}`);
        }
      }
      for (const object of objects) {
        for (const container of podSpecOf(object)?.containers ?? []) {
          for (const { name } of container.env ?? [])
            named.set(name, `${object.kind} ${object.metadata.name}`);
        }
      }
      const unknown = [...named].filter(([name]) => !settings.has(name) && !NODE_VARIABLES.has(name));
      expect(
        unknown.map(([name, where]) => `${dir}: ${where} sets ${name}, which config.ts does not read`),
      ).toEqual([]);
      const missing = [...settings.keys()].filter((name) => !named.has(name) && !NOT_FOR_CLUSTERS.has(name));
      expect(
        missing.map(
          (name) => `${dir}: ${name} (config.ts) is in neither the ConfigMap nor the Secret nor ROLES`,
        ),
      ).toEqual([]);
    }
  });

  it("runs one Deployment per role config.ts knows, each with ROLES naming it", () => {
    const deployed = objectsOf(overlay, "Deployment").map((object) => {
      const role = podSpecOf(object)?.containers[0]?.env?.find(({ name }) => name === "ROLES")?.value;
      return { name: object.metadata.name, role };
    });
    const wrong = deployed.filter(({ name, role }) => role === undefined || name !== `turnout-${role}`);
    expect(wrong.map(({ name, role }) => `Deployment ${name} sets ROLES=${role}`)).toEqual([]);
    const unknown = deployed.filter(({ role }) => role !== undefined && !roles.includes(role));
    expect(
      unknown.map(
        ({ name, role }) => `Deployment ${name} runs role ${role}; config.ts knows ${roles.join(", ")}`,
      ),
    ).toEqual([]);
    const undeployed = roles.filter((role) => !deployed.some((deployment) => deployment.role === role));
    expect(undeployed.map((role) => `config.ts's role ${role} has no Deployment`)).toEqual([]);
  });

  it("gives the api role alone a larger young generation, which the benches' api server runs with", () => {
    const nodeOptions = objectsOf(overlay, "Deployment").map((object) => [
      object.metadata.name,
      podSpecOf(object)?.containers[0]?.env?.find(({ name }) => name === "NODE_OPTIONS")?.value,
    ]);
    expect(Object.fromEntries(nodeOptions)).toEqual({
      "turnout-api": "--max-semi-space-size=64",
      "turnout-realtime": undefined,
      "turnout-collector": undefined,
      "turnout-worker": undefined,
    });
    expect(apiPodNodeOptions()).toBe("--max-semi-space-size=64");
    const composeOptions = turnoutServices.map(([name, service]) => [
      name,
      service.environment?.NODE_OPTIONS,
    ]);
    expect(Object.fromEntries(composeOptions)).toMatchObject({
      api: "--max-semi-space-size=64",
      realtime: undefined,
      collector: undefined,
      worker: undefined,
    });
  });

  it("probes /readyz and /healthz on the container port PORT names, with requests and limits", () => {
    const port = Number(objectsOf(overlay, "ConfigMap")[0]?.data?.PORT);
    expect(routes).toEqual(expect.arrayContaining(["/healthz", "/readyz", "/metrics"]));
    for (const role of roles) {
      const { object, container } = deploymentOf(overlay, role);
      expect(container.ports).toEqual([{ name: "http", containerPort: port }]);
      expect(container.readinessProbe?.httpGet).toEqual({ path: "/readyz", port: "http" });
      expect(container.livenessProbe?.httpGet).toEqual({ path: "/healthz", port: "http" });
      expect(routes).toContain(container.startupProbe?.httpGet?.path);
      expect(Object.keys(container.resources?.requests ?? {}).sort(), object.metadata.name).toEqual([
        "cpu",
        "memory",
      ]);
      expect(Object.keys(container.resources?.limits ?? {}).sort(), object.metadata.name).toEqual([
        "cpu",
        "memory",
      ]);
      const template = (object.spec?.template as { metadata: { annotations: Record<string, string> } })
        .metadata;
      expect(template.annotations["prometheus.io/port"]).toBe(String(port));
      expect(routes).toContain(template.annotations["prometheus.io/path"]);
    }
  });

  it("gives each pod longer to stop than preStop plus the server's SHUTDOWN_TIMEOUT_MS", () => {
    const config = objectsOf(overlay, "ConfigMap")[0]?.data ?? {};
    const shutdownMs = Number(config.SHUTDOWN_TIMEOUT_MS ?? settings.get("SHUTDOWN_TIMEOUT_MS"));
    expect(Number(config.SHUTDOWN_GRACE_MS)).toBeLessThan(shutdownMs);
    for (const role of roles) {
      const { object, container } = deploymentOf(overlay, role);
      const preStop = container.lifecycle?.preStop?.exec?.command ?? [];
      expect(preStop[0]).toBe("sleep");
      const preStopMs = Number(preStop[1]) * 1000;
      const graceMs = (podSpecOf(object)?.terminationGracePeriodSeconds ?? 30) * 1000;
      expect(graceMs, object.metadata.name).toBeGreaterThanOrEqual(preStopMs + shutdownMs + 1000);
    }
  });

  it("scales api and collector on CPU, realtime on realtime_connections, and budgets disruptions per role", () => {
    const autoscalers = objectsOf(overlay, "HorizontalPodAutoscaler").map((object) => {
      const spec = object.spec as {
        scaleTargetRef: { name: string };
        metrics: { type: string; resource?: { name: string }; pods?: { metric: { name: string } } }[];
      };
      const metric = spec.metrics[0];
      return [spec.scaleTargetRef.name, metric?.resource?.name ?? metric?.pods?.metric.name] as const;
    });
    expect(Object.fromEntries(autoscalers)).toEqual({
      "turnout-api": "cpu",
      "turnout-collector": "cpu",
      "turnout-realtime": "realtime_connections",
    });
    const budgets = objectsOf(overlay, "PodDisruptionBudget").map(({ metadata }) => metadata.name);
    expect(budgets.sort()).toEqual(roles.map((role) => `turnout-${role}`).sort());
  });

  it("routes /api/realtime (with WebSocket timeouts), /api/collect and /v1 to their roles, the rest to api", () => {
    const services = new Set(objectsOf(overlay, "Service").map(({ metadata }) => metadata.name));
    const routing = new Map<string, { service: string; timeout: number }>();
    for (const ingress of objectsOf(overlay, "Ingress")) {
      const timeout = Number(
        ingress.metadata.annotations?.["nginx.ingress.kubernetes.io/proxy-read-timeout"] ?? 60,
      );
      const rules = (ingress.spec as { rules: { http: { paths: IngressPath[] } }[] }).rules;
      for (const { path, backend } of rules.flatMap((rule) => rule.http.paths)) {
        routing.set(path, { service: backend.service.name, timeout });
        expect(services).toContain(backend.service.name);
        expect(backend.service.port.name).toBe("http");
      }
    }
    expect(routing.get("/api/realtime")?.service).toBe("turnout-realtime");
    expect(routing.get("/api/realtime")?.timeout).toBeGreaterThanOrEqual(3600);
    expect(routing.get("/api/collect")?.service).toBe("turnout-collector");
    expect(routing.get("/v1")?.service).toBe("turnout-collector");
    expect(routing.get("/")?.service).toBe("turnout-api");
  });

  it("keeps as many copies of each stream as the NATS chart runs servers", () => {
    const replicasIn = (objects: K8sObject[]) =>
      Number(objectsOf(objects, "ConfigMap")[0]?.data?.NATS_STREAM_REPLICAS);
    const [nats] = readManifests("deploy/argocd/nats.yaml");
    const chart = nats?.spec?.source as {
      helm: { valuesObject: { config: { cluster: { replicas: number } } } };
    };
    const servers = chart.helm.valuesObject.config.cluster.replicas;
    expect(servers).toBe(3);
    expect(replicasIn(overlay)).toBe(servers);
    expect(replicasIn(built.get("deploy/k8s/base") ?? [])).toBe(1);
  });

  it("migrates with db-migrate.ts in a PreSync Job, and Argo CD deploys the overlay", () => {
    const [job] = objectsOf(overlay, "Job");
    expect(job?.metadata.annotations?.["argocd.argoproj.io/hook"]).toBe("PreSync");
    const command = job === undefined ? [] : (podSpecOf(job)?.containers[0]?.command ?? []);
    expect(command).toEqual(["node", "--import", "tsx", MIGRATE_SCRIPT]);
    expect(existsSync(resolve(REPO_ROOT, MIGRATE_SCRIPT))).toBe(true);
    const [application] = readManifests("deploy/argocd/turnout.yaml");
    const source = application?.spec?.source as { path: string };
    expect(KUSTOMIZATIONS).toContain(source.path);
  });
});

interface IngressPath {
  path: string;
  backend: { service: { name: string; port: { name: string } } };
}

describe("deploy/compose.yaml", () => {
  it("runs one Turnout service per role config.ts knows, plus the migration, with known settings only", () => {
    const serviceRoles = turnoutServices.map(
      ([name, service]) => [name, service.environment?.ROLES] as const,
    );
    const unknown = serviceRoles.filter(([, role]) => role !== undefined && !roles.includes(role));
    expect(
      unknown.map(
        ([name, role]) => `compose service ${name} runs role ${role}; config.ts knows ${roles.join(", ")}`,
      ),
    ).toEqual([]);
    const missing = roles.filter((role) => !serviceRoles.some(([, named]) => named === role));
    expect(missing.map((role) => `config.ts's role ${role} has no compose service`)).toEqual([]);
    for (const [name, service] of turnoutServices) {
      const unknown = Object.keys(service.environment ?? {}).filter(
        (key) => !settings.has(key) && !NODE_VARIABLES.has(key),
      );
      expect(
        unknown.map((key) => `compose service ${name} sets ${key}, which config.ts does not read`),
      ).toEqual([]);
    }
    expect(compose.migrate?.command).toEqual(["node", "--import", "tsx", MIGRATE_SCRIPT]);
  });

  it("checks each role's /readyz on PORT and starts it after PostgreSQL, NATS and the migration", () => {
    for (const [name, service] of turnoutServices) {
      if (name === "migrate") continue;
      const check = service.healthcheck?.test.join(" ") ?? "";
      expect(check).toContain(`127.0.0.1:${service.environment?.PORT}/readyz`);
      expect(service.depends_on?.postgres?.condition).toBe("service_healthy");
      expect(service.depends_on?.nats?.condition).toBe("service_healthy");
      expect(service.depends_on?.migrate?.condition).toBe("service_completed_successfully");
      const graceSeconds = Number(/^(\d+)s$/.exec(service.stop_grace_period ?? "")?.[1]);
      expect(graceSeconds * 1000).toBeGreaterThan(Number(settings.get("SHUTDOWN_TIMEOUT_MS")));
    }
    for (const dependency of ["postgres", "nats", "minio", "mailpit"]) {
      expect(compose[dependency]?.healthcheck, dependency).toBeDefined();
    }
  });

  it("points Turnout at MinIO's bucket, made before any role starts, and waits for Mailpit", () => {
    const names = new Set(Object.keys(compose));
    for (const [name, service] of Object.entries(compose)) {
      const unknown = Object.keys(service.depends_on ?? {}).filter((dependency) => !names.has(dependency));
      expect(unknown, `compose service ${name} depends on services that do not exist`).toEqual([]);
    }
    const minioHosts = ["minio", ...(compose.minio?.networks?.default?.aliases ?? [])];
    const setup = compose["minio-setup"]?.entrypoint?.join(" ") ?? "";
    for (const [name, service] of turnoutServices) {
      const env = service.environment ?? {};
      expect(minioHosts, name).toContain(new URL(env.S3_ENDPOINT ?? "http://unset").hostname);
      expect(setup, name).toContain(`mc mb --ignore-existing local/${env.S3_BUCKET ?? "unset"}`);
      expect(Number(env.NATS_STREAM_REPLICAS), name).toBe(1);
      if (name === "migrate") continue;
      expect(service.depends_on?.["minio-setup"]?.condition, name).toBe("service_completed_successfully");
      expect(service.depends_on?.mailpit?.condition, name).toBe("service_healthy");
    }
  });

  it("routes in Caddy as the Ingress does", () => {
    const caddyfile = readFileSync(resolve(REPO_ROOT, "deploy/Caddyfile"), "utf8");
    expect(caddyfile).toMatch(/handle \/api\/realtime\* \{\s*reverse_proxy realtime:3000/);
    expect(caddyfile).toMatch(/handle \/api\/collect\* \{\s*reverse_proxy collector:3000/);
    expect(caddyfile).toMatch(/handle \/v1\/\* \{\s*reverse_proxy collector:3000/);
    expect(caddyfile).toMatch(/handle \{\s*reverse_proxy api:3000/);
  });
});
