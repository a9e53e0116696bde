import { collectBodySchema, collectResultSchema } from "@turnout/contracts";
import type { Logger } from "../../platform/logger.ts";
import { batchOfRequest } from "./accept-batch.ts";
import { stampRequest } from "./client-stamps.ts";
import { scanJsonText } from "./collector-body.ts";
import { encodeMessage } from "./interaction-stream.ts";

/*
 * The collector's warm-up (ADR 0015, "the collector's CPU per item and its warm-up"): before it reports ready,
 * synthetic requests go through everything a real one does but the append (the body's parse and scan, its
 * shape, the item check, the stamps, the COPY lines and the message's text, the answer's shape), so V8 has
 * compiled and optimised that path, and the young generation has had its first collections, before real
 * traffic meets it. Without it, the first seconds of a full-rate start showed scavenges of up to 45 ms and
 * event-loop delays of up to 66 ms. It takes no stream and no database: nothing it makes can be appended or
 * stored. One request per turn of the event loop, so /healthz and /readyz answer meanwhile and the compiler's
 * background jobs are installed as they finish.
 */

export interface WarmUpOptions {
  /** Synthetic requests of 50 items (default WARM_UP_REQUESTS). */
  requests?: number;
  log: Logger;
}

export interface WarmUpReport {
  requests: number;
  /** Items accepted and written as lines (all but the one rejected item of every tenth request). */
  lines: number;
  /** Bytes of the messages written (and dropped). */
  messageBytes: number;
  ms: number;
}

export interface WarmUp {
  /** True once the warm-up has ended (finished, failed or stopped). */
  isDone(): boolean;
  /** Resolves when it ends; never rejects (a failure is logged and ends it). */
  done: Promise<WarmUpReport>;
  /** Ends it after the request under way (the app is closing). */
  stop(): void;
}

export const WARM_UP_REQUESTS = 400;
const ITEMS_PER_REQUEST = 50;
const SOURCE_ID = "00000000-0000-7000-8000-00000000f00d";

// The families summarizeUserAgent tells apart, so each of its patterns runs.
const USER_AGENTS = [
  "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36",
  "Mozilla/5.0 (iPhone; CPU iPhone OS 18_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/18.1 Mobile/15E148 Safari/604.1",
  "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:133.0) Gecko/20100101 Firefox/133.0",
  "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36 Edg/131.0.0.0",
  "Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Mobile Safari/537.36",
  "analytics-node/2.1.0",
  undefined,
];
const ADDRESSES = ["203.0.113.77", "::ffff:198.51.100.9", "2001:db8:85a3::8a2e:370:7348", "127.0.0.1"];

/** Item `i` of a synthetic request: the shapes trackers send (page, track, identify; optional fields left out). */
function syntheticItem(request: number, i: number, now: number): Record<string, unknown> {
  const kind = (request + i) % 3;
  const item: Record<string, unknown> = {
    id: `warm-up-${request}-${i}`,
    type: kind === 0 ? "page" : kind === 1 ? "track" : "identify",
    // Canonical times, an offset (rewritten) and, now and then, a future one (clamped).
    timestamp:
      i % 17 === 0
        ? new Date(now + 60_000).toISOString()
        : i % 5 === 0
          ? "2026-12-06T11:00:00.123+01:00"
          : new Date(now - i * 1_000).toISOString(),
    anonymousId: `visitor-${i % 7}`,
  };
  if (kind !== 0) item.name = kind === 1 ? "clicked" : "signed up";
  if (i % 3 !== 2) item.sessionId = `session-${i % 11}`;
  if (kind === 2) item.userId = `user-${i}`;
  if (i % 4 !== 3) {
    item.properties = {
      eventId: "00000000-0000-7000-8000-000000000042",
      button: i % 6 === 0 ? "join\tnow" : "join",
      position: i,
      note: i % 9 === 0 ? "a \\ b\nc – ünïcode ✓" : "plain",
      tags: ["a", "b"],
      nested: { isOn: i % 2 === 0, value: null },
    };
  }
  if (i % 5 !== 4) {
    item.context = {
      page: {
        path: `/events/${i}`,
        url: `https://turnout.test/events/${i}`,
        title: "Event",
        referrer: i % 2 === 0 ? "" : "https://search.test/",
      },
      locale: "en-GB",
      screen: { width: 1280, height: 800 },
      ...(i % 3 === 0 ? { userAgent: USER_AGENTS[0] } : {}),
    };
  }
  return item;
}

/** The text of synthetic request `request`; every tenth has one item the contract refuses. */
function syntheticBody(request: number, now: number): string {
  const batch: unknown[] = [];
  for (let i = 0; i < ITEMS_PER_REQUEST; i++) batch.push(syntheticItem(request, i, now));
  if (request % 10 === 9) batch[ITEMS_PER_REQUEST - 1] = { id: "", type: "unknown" };
  return JSON.stringify({ batch });
}

/** One synthetic request through the collector's path (collector.routes.ts), without the append. */
function warmOnce(request: number, report: WarmUpReport): void {
  const receivedAt = new Date();
  const text = syntheticBody(request, receivedAt.getTime());
  const scan = scanJsonText(text);
  const body = collectBodySchema.parse(JSON.parse(text));
  const stamp = stampRequest(
    SOURCE_ID,
    receivedAt,
    ADDRESSES[request % ADDRESSES.length],
    USER_AGENTS[request % USER_AGENTS.length],
  );
  const { appended, accepted, rejected } = batchOfRequest(body.batch, stamp, {
    receivedAt,
    mayHoldUnstorable: scan.hasRiskyEscape,
  });
  collectResultSchema.parse({ accepted, rejected });
  if (appended === undefined) throw new Error("the collector accepted no item of a valid synthetic request");
  report.lines += appended.lines.length;
  report.messageBytes += encodeMessage(appended, appended.lines.join("")).length;
}

/** Starts the warm-up on the next turn of the event loop; see the file's comment. */
export function warmUpCollector(options: WarmUpOptions): WarmUp {
  const requests = options.requests ?? WARM_UP_REQUESTS;
  const report: WarmUpReport = { requests: 0, lines: 0, messageBytes: 0, ms: 0 };
  // Objects, not lets: the loop reads what stop() and the end write.
  const state = { isDone: false, isStopped: false };
  const startedAt = performance.now();
  const done = (async () => {
    try {
      while (report.requests < requests && !state.isStopped) {
        await new Promise((resolve) => setImmediate(resolve));
        warmOnce(report.requests, report);
        report.requests++;
      }
    } catch (error) {
      // A bug in the path: the real requests will meet it too and answer it; readiness is not held for it.
      options.log.error({ err: error }, "collector warm-up failed");
    }
    report.ms = Math.round(performance.now() - startedAt);
    state.isDone = true;
    options.log.info({ warmUp: report }, "collector warmed up");
    return report;
  })();
  return {
    isDone: () => state.isDone,
    done,
    stop() {
      state.isStopped = true;
    },
  };
}
