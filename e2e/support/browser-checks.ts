import { readFile } from "node:fs/promises";
import { createRequire } from "node:module";
import type { Page } from "playwright-core";

/**
 * Every Content-Security-Policy violation the page reports, as "directive: blocked URI", followed by
 * " (from <script URL>)" when a script of the page caused it.
 */
export async function recordCspViolations(page: Page): Promise<string[]> {
  const violations: string[] = [];
  await page.exposeFunction("reportCspViolation", (text: string) => violations.push(text));
  // A string, not a function: this file is type-checked without the DOM library.
  await page.addInitScript(`document.addEventListener("securitypolicyviolation", (event) => {
    window.reportCspViolation(event.effectiveDirective + ": " + event.blockedURI +
      (event.sourceFile ? " (from " + event.sourceFile + ")" : ""));
  });`);
  return violations;
}

/**
 * Errors the page throws or logs. Chromium logs every 4xx answer as "Failed to load resource"; those are
 * expected answers of the API here (401 before sign-in, 404 for "no participation yet") and are left out.
 */
export function recordPageProblems(page: Page): string[] {
  const problems: string[] = [];
  page.on("console", (message) => {
    if (message.type() === "error" && !message.text().startsWith("Failed to load resource"))
      problems.push(`console: ${message.text()}`);
  });
  page.on("pageerror", (error) => problems.push(`page error: ${error.message}`));
  return problems;
}

let axeSource: string | undefined;

export interface AxeFinding {
  id: string;
  impact: string;
  nodes: number;
}

/**
 * Runs axe-core in the page and returns every violation found. axe compiles its templates with new Function,
 * which the app's CSP refuses: those reports name no source file (see isCausedByAxe).
 */
export async function runAxe(page: Page): Promise<AxeFinding[]> {
  axeSource ??= await readFile(createRequire(import.meta.url).resolve("axe-core/axe.min.js"), "utf8");
  // Evaluated through the DevTools protocol: an inline <script> (addScriptTag) would be refused by the app's
  // own Content-Security-Policy, which is the point of that policy.
  if (!(await page.evaluate("typeof window.axe !== 'undefined'"))) await page.evaluate(axeSource);
  const result = await page.evaluate<
    AxeFinding[]
  >(`window.axe.run(document, { resultTypes: ["violations"] }).then((r) =>
    r.violations.map((v) => ({ id: v.id, impact: v.impact ?? "unknown", nodes: v.nodes.length })))`);
  return result;
}

export function isSeriousOrCritical(finding: AxeFinding): boolean {
  return finding.impact === "serious" || finding.impact === "critical";
}

/** A CSP report of axe's own `new Function` (evaluated through DevTools, so without a source file). */
export function isCausedByAxe(violation: string): boolean {
  return violation === "script-src: eval";
}
