import { execFileSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { resolve } from "node:path";
import { parse, parseAllDocuments } from "yaml";
import { REPO_ROOT } from "./config-settings.ts";

// Reading the deployment files (deploy/) for the tests that hold them to the code.

/** The parts of a Kubernetes object the deployment tests look at; everything else passes through. */
export interface K8sObject {
  apiVersion: string;
  kind: string;
  metadata: { name: string; annotations?: Record<string, string> };
  data?: Record<string, string>;
  stringData?: Record<string, string>;
  spec?: Record<string, unknown>;
}

export interface Container {
  name: string;
  image?: string;
  command?: string[];
  env?: { name: string; value?: string }[];
  envFrom?: { configMapRef?: { name: string }; secretRef?: { name: string } }[];
  ports?: { name?: string; containerPort: number }[];
  readinessProbe?: Probe;
  livenessProbe?: Probe;
  startupProbe?: Probe;
  lifecycle?: { preStop?: { exec?: { command: string[] } } };
  resources?: { requests?: Record<string, string>; limits?: Record<string, string> };
}

export interface Probe {
  httpGet?: { path: string; port: string | number };
}

export interface PodSpec {
  containers: Container[];
  terminationGracePeriodSeconds?: number;
}

/** `kubectl kustomize dir`'s objects; throws with kubectl's words if the build fails. */
export function buildKustomization(dir: string): K8sObject[] {
  const output = execFileSync("kubectl", ["kustomize", resolve(REPO_ROOT, dir)], {
    encoding: "utf8",
    stdio: ["ignore", "pipe", "pipe"],
  });
  return parseManifests(output);
}

export function readManifests(file: string): K8sObject[] {
  return parseManifests(readFileSync(resolve(REPO_ROOT, file), "utf8"));
}

function parseManifests(text: string): K8sObject[] {
  return parseAllDocuments(text)
    .map((document) => document.toJS() as K8sObject | null)
    .filter((object): object is K8sObject => object !== null);
}

/** The pod template's spec of a Deployment or Job, or null for other kinds. */
export function podSpecOf(object: K8sObject): PodSpec | null {
  if (object.kind !== "Deployment" && object.kind !== "Job") return null;
  const template = object.spec?.template as { spec: PodSpec } | undefined;
  return template?.spec ?? null;
}

export interface ComposeService {
  image?: string;
  command?: string[];
  environment?: Record<string, string>;
  depends_on?: Record<string, { condition: string }>;
  healthcheck?: { test: string[] };
  stop_grace_period?: string;
  entrypoint?: string[];
  networks?: Record<string, { aliases?: string[] } | null>;
}

/** deploy/compose.yaml's services, with YAML merge keys (<<) applied as Compose applies them. */
export function readComposeServices(): Record<string, ComposeService> {
  const text = readFileSync(resolve(REPO_ROOT, "deploy/compose.yaml"), "utf8");
  const compose = parse(text, { merge: true }) as { services: Record<string, ComposeService> };
  return compose.services;
}

/** The route paths app.ts registers itself (/healthz, /readyz, /metrics). */
export function readAppRoutes(): string[] {
  const source = readFileSync(resolve(REPO_ROOT, "apps/server/src/app.ts"), "utf8");
  return [...source.matchAll(/app\.get\("([^"]+)"/g)].map((match) => match[1] ?? "");
}

/**
 * NODE_OPTIONS of the api role's pods (deploy/k8s/base/api.yaml), or "" when unset: what the benches start
 * their api-role server with, so that they measure the flags production runs.
 */
export function apiPodNodeOptions(): string {
  const deployment = readManifests("deploy/k8s/base/api.yaml").find((object) => object.kind === "Deployment");
  const env = deployment === undefined ? undefined : podSpecOf(deployment)?.containers[0]?.env;
  return env?.find(({ name }) => name === "NODE_OPTIONS")?.value ?? "";
}
