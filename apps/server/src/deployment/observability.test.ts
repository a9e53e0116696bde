import { readdirSync, readFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { collectDefaultMetrics, Registry } from "prom-client";
import { describe, expect, it } from "vitest";
import { parse } from "yaml";
import { REPO_ROOT } from "../../test/config-settings.ts";
import { buildKustomization } from "../../test/deploy-files.ts";

/*
 * The alert rules, dashboards and autoscaler of deploy/ name metrics: each must be one the code exports, so
 * a renamed metric cannot leave an alert that never fires or a panel that stays empty.
 */

const OBSERVABILITY = "deploy/observability";
// Prometheus's own series for every target.
const PROMETHEUS_SERIES = new Set(["up"]);

interface AlertRule {
  alert: string;
  expr: string;
  for: string;
  labels: { severity: string };
  annotations: { summary: string };
}

interface Panel {
  id: number;
  type: string;
  datasource?: { uid: string };
  targets?: { expr: string }[];
}

/** Metric names the server's sources define with prom-client, plus its default process and Node.js ones. */
async function readExportedMetrics(): Promise<Set<string>> {
  const names = new Set<string>();
  const walk = (dir: string) => {
    for (const entry of readdirSync(dir, { withFileTypes: true })) {
      const path = join(dir, entry.name);
      if (entry.isDirectory()) walk(path);
      else if (entry.name.endsWith(".ts") && !entry.name.endsWith(".test.ts")) {
        const source = readFileSync(path, "utf8");
        for (const match of source.matchAll(
          /new (?:Counter|Gauge|Histogram|Summary)\(\{\s*name:\s*"([^"]+)"/g,
        )) {
          names.add(match[1] ?? "");
        }
      }
    }
  };
  walk(resolve(REPO_ROOT, "apps/server/src"));
  const registry = new Registry();
  collectDefaultMetrics({ register: registry });
  for (const metric of await registry.getMetricsAsJSON()) names.add(metric.name);
  return names;
}

/** Metric names a PromQL expression selects (each written with a {…} selector, as every file here does). */
function metricsIn(expr: string): string[] {
  return [...expr.matchAll(/([a-zA-Z_:][a-zA-Z0-9_:]*)\{/g)].map((match) =>
    (match[1] ?? "").replace(/_(bucket|count|sum)$/, ""),
  );
}

const alerts = (
  parse(readFileSync(resolve(REPO_ROOT, OBSERVABILITY, "alerts.yaml"), "utf8")) as {
    groups: { rules: AlertRule[] }[];
  }
).groups.flatMap((group) => group.rules);
const dashboard = JSON.parse(
  readFileSync(resolve(REPO_ROOT, OBSERVABILITY, "grafana/turnout-overview.json"), "utf8"),
) as { uid: string; panels: Panel[] };
const dashboardExprs = dashboard.panels.flatMap((panel) => (panel.targets ?? []).map(({ expr }) => expr));

describe("observability files against the code", () => {
  it("alert on error rate, latency, outbox backlog, dead jobs, bus lag and dropped slow clients", () => {
    const byMetric = (metric: string) => alerts.filter((rule) => metricsIn(rule.expr).includes(metric));
    for (const metric of [
      "http_request_duration_seconds",
      "outbox_backlog",
      "jobs_dead",
      "bus_lag_seconds",
      "realtime_slow_clients_dropped_total",
    ]) {
      expect(byMetric(metric).length, metric).toBeGreaterThan(0);
    }
    expect(alerts.map(({ alert }) => alert)).toEqual(
      expect.arrayContaining(["TurnoutHighErrorRate", "TurnoutHighLatency"]),
    );
    for (const rule of alerts) {
      expect(rule.for, rule.alert).toMatch(/^\d+m$/);
      expect(["critical", "warning"]).toContain(rule.labels.severity);
      expect(rule.annotations.summary, rule.alert).not.toBe("");
    }
  });

  it("chart HTTP per route, joins by outcome, realtime connections and fan-out, ingestion", () => {
    const charted = new Set(dashboardExprs.flatMap(metricsIn));
    for (const metric of [
      "http_request_duration_seconds",
      "joins_total",
      "realtime_connections",
      "bus_lag_seconds",
      "interactions_total",
    ]) {
      expect(charted, metric).toContain(metric);
    }
    expect(dashboardExprs.some((expr) => expr.includes("sum by (route)"))).toBe(true);
    expect(dashboardExprs.some((expr) => expr.includes("sum by (outcome) (rate(joins_total"))).toBe(true);
    const ids = dashboard.panels.map(({ id }) => id);
    expect(new Set(ids).size).toBe(ids.length);
    const charts = dashboard.panels.filter(({ type }) => type !== "row");
    expect(charts.filter(({ datasource }) => datasource?.uid !== "${datasource}")).toEqual([]);
  });

  it("names only metrics the code exports", async () => {
    const exported = await readExportedMetrics();
    expect(exported).toContain("http_request_duration_seconds");
    expect(exported).toContain("process_resident_memory_bytes");
    const adapter = readFileSync(resolve(REPO_ROOT, OBSERVABILITY, "prometheus-adapter-values.yaml"), "utf8");
    const autoscaled = buildKustomization("deploy/k8s/base")
      .filter(({ kind }) => kind === "HorizontalPodAutoscaler")
      .flatMap((hpa) => (hpa.spec as { metrics: { pods?: { metric: { name: string } } }[] }).metrics)
      .flatMap((metric) => (metric.pods === undefined ? [] : [metric.pods.metric.name]));
    const uses = [
      ...alerts.flatMap((rule) => metricsIn(rule.expr).map((metric) => [metric, `alert ${rule.alert}`])),
      ...dashboardExprs.flatMap((expr) =>
        metricsIn(expr).map((metric) => [metric, `dashboard ${dashboard.uid}`]),
      ),
      ...metricsIn(adapter).map((metric) => [metric, "prometheus-adapter-values.yaml"]),
      ...autoscaled.map((metric) => [metric, "HorizontalPodAutoscaler"]),
    ];
    expect(uses.length).toBeGreaterThan(20);
    const unknown = uses.filter(([metric = ""]) => !exported.has(metric) && !PROMETHEUS_SERIES.has(metric));
    expect(
      unknown.map(([metric, where]) => `${where} uses ${metric}, which apps/server/src does not export`),
    ).toEqual([]);
  });

  it("ships logs with the request id as structured metadata, never as a label", () => {
    const alloy = readFileSync(resolve(REPO_ROOT, OBSERVABILITY, "config.alloy"), "utf8");
    expect(alloy).toMatch(/stage\.structured_metadata \{\s*values = \{ reqId = "" \}/);
    const labels = /stage\.labels \{\s*values = \{([^}]*)\}/.exec(alloy)?.[1] ?? "";
    expect(labels).not.toContain("reqId");
    expect(alloy).toContain('regex         = "turnout"');
  });

  it("scrapes the pods by the annotations the Deployments carry", () => {
    const scrape = readFileSync(resolve(REPO_ROOT, OBSERVABILITY, "prometheus.yaml"), "utf8");
    const deployment = buildKustomization("deploy/k8s/base").find(({ kind }) => kind === "Deployment");
    const annotations = (deployment?.spec?.template as { metadata: { annotations: Record<string, string> } })
      .metadata.annotations;
    for (const key of Object.keys(annotations)) {
      expect(scrape).toContain(`__meta_kubernetes_pod_annotation_${key.replace(/[./]/g, "_")}`);
    }
  });
});
