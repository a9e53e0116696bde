import { randomUUID } from "node:crypto";
import type { AddressInfo } from "node:net";
import { serverFrameSchema, type ServerFrame } from "@turnout/contracts";
import WebSocket from "ws";
import type { DomainStream } from "../src/platform/outbox/outbox.ts";
import { startOutboxRelay } from "../src/platform/outbox/relay.ts";
import { startRealtimeRole } from "../src/roles/realtime.ts";
import { buildApp } from "../src/app.ts";
import { loadConfig } from "../src/config.ts";
import { createDeps } from "../src/deps.ts";
import { createDb, SERVING_TIMEOUTS } from "../src/platform/db.ts";
import { createLogger } from "../src/platform/logger.ts";
import { createTestApp, TEST_SECRETS, type TestApp, type TestAppOptions } from "./app.ts";
import type { TestDatabase } from "./database.ts";

// Test support for the real-time suites: a listening app with the relay and the sequencer running, and a raw
// WebSocket peer that records every frame it gets.

export interface LiveApp {
  t: TestApp;
  /** ws://127.0.0.1:<port>/api/realtime */
  wsUrl: string;
  /** http://127.0.0.1:<port> */
  httpUrl: string;
  close(): Promise<void>;
}

/** A unique domain stream and live-subject prefix, so suites sharing one NATS stay apart. */
export function uniqueStreams(): { stream: DomainStream; subjectPrefix: string } {
  const tag = randomUUID().replaceAll("-", "").slice(0, 12);
  return { stream: { name: `T${tag}`, subjectPrefix: `t${tag}_domain` }, subjectPrefix: `t${tag}_rt` };
}

/**
 * Starts a test app that listens on a free port, with the outbox relay and the realtime sequencer on
 * `stream` (the relay only with `withRelay`, default true: two nodes on one database need one relay each anyway,
 * and the relay lock makes one of them active).
 */
export async function startLiveApp(
  options: TestAppOptions & { stream: DomainStream; subjectPrefix: string; attachTo?: TestApp },
): Promise<LiveApp> {
  const env = {
    OUTBOX_POLL_MS: "100",
    REALTIME_SUBJECT_PREFIX: options.subjectPrefix,
    RATE_LIMIT_REQUESTS: "0",
    ...options.env,
  };
  const t = await createTestApp({ ...options, env });
  const realtime = await startRealtimeRole(t.deps, { stream: options.stream });
  const relay = await startOutboxRelay(t.deps, { stream: options.stream });
  await t.app.listen({ port: 0, host: "127.0.0.1" });
  const { port } = t.app.server.address() as AddressInfo;
  return {
    t,
    wsUrl: `ws://127.0.0.1:${port}/api/realtime`,
    httpUrl: `http://127.0.0.1:${port}`,
    close: async () => {
      await relay.stop();
      await realtime.stop();
      await t.close();
    },
  };
}

/**
 * One more node on an existing database (as a second gateway process would be): its own pool, bus connection,
 * relay (standing by while another holds the lock), sequencer binding and listening app.
 */
export async function startNode(
  database: TestDatabase,
  options: { stream: DomainStream; subjectPrefix: string; env?: Record<string, string> },
): Promise<LiveApp> {
  const config = loadConfig({
    ...TEST_SECRETS,
    DATABASE_URL: database.url,
    LOG_LEVEL: "silent",
    READ_CACHE_MS: "0",
    SHUTDOWN_GRACE_MS: "0",
    OUTBOX_POLL_MS: "100",
    RATE_LIMIT_REQUESTS: "0",
    REALTIME_SUBJECT_PREFIX: options.subjectPrefix,
    ...options.env,
  });
  const { db, close: closeDb } = createDb(database.url, { maxConnections: 10, timeouts: SERVING_TIMEOUTS });
  const stops: (() => Promise<unknown>)[] = [closeDb];
  const deps = await createDeps(
    {
      config,
      secrets: {
        tokenSecret: TEST_SECRETS.TOKEN_SECRET,
        ticketSecret: TEST_SECRETS.TICKET_SECRET,
        urlSigningSecret: TEST_SECRETS.URL_SIGNING_SECRET,
      },
      db,
      databaseUrl: database.url,
      log: createLogger("silent"),
    },
    { onStop: (_name, stop) => stops.unshift(stop) },
  );
  const app = await buildApp(deps);
  const realtime = await startRealtimeRole(deps, { stream: options.stream });
  const relay = await startOutboxRelay(deps, { stream: options.stream });
  await app.listen({ port: 0, host: "127.0.0.1" });
  const { port } = app.server.address() as AddressInfo;
  const t: TestApp = { app, deps, database, close: () => Promise.resolve() };
  return {
    t,
    wsUrl: `ws://127.0.0.1:${port}/api/realtime`,
    httpUrl: `http://127.0.0.1:${port}`,
    close: async () => {
      await relay.stop();
      await realtime.stop();
      await app.close();
      for (const stop of stops) await stop();
    },
  };
}

/** A WebSocket peer that keeps every server frame, to wait for and assert on. */
export interface Peer {
  socket: WebSocket;
  frames: ServerFrame[];
  send(frame: unknown): void;
  /** Resolves with the first frame (from index `from` on) that matches, or rejects after `timeoutMs`. */
  next(
    match: (frame: ServerFrame) => boolean,
    options?: { from?: number; timeoutMs?: number },
  ): Promise<ServerFrame>;
  closed: Promise<{ code: number }>;
  close(): void;
}

export async function openPeer(url: string, token?: string): Promise<Peer> {
  const socket = new WebSocket(token === undefined ? url : `${url}?token=${encodeURIComponent(token)}`);
  const frames: ServerFrame[] = [];
  const waiters = new Set<() => void>();
  socket.on("message", (data: Buffer) => {
    frames.push(serverFrameSchema.parse(JSON.parse(data.toString("utf8"))));
    for (const wake of waiters) wake();
  });
  const closed = new Promise<{ code: number }>((resolve) =>
    socket.on("close", (code) => {
      resolve({ code });
    }),
  );
  await new Promise<void>((resolve, reject) => {
    socket.once("open", () => {
      resolve();
    });
    socket.once("error", reject);
  });
  return {
    socket,
    frames,
    send: (frame) => {
      socket.send(typeof frame === "string" ? frame : JSON.stringify(frame));
    },
    next: (match, { from = 0, timeoutMs = 5_000 } = {}) =>
      new Promise((resolve, reject) => {
        const look = () => {
          const found = frames.slice(from).find(match);
          if (found === undefined) return;
          cleanup();
          resolve(found);
        };
        const timer = setTimeout(() => {
          cleanup();
          reject(
            new Error(`no matching frame within ${timeoutMs} ms; got ${JSON.stringify(frames.slice(from))}`),
          );
        }, timeoutMs);
        const cleanup = () => {
          clearTimeout(timer);
          waiters.delete(look);
        };
        waiters.add(look);
        look();
      }),
    closed,
    close: () => {
      socket.close();
    },
  };
}

/** Subscribes and waits for `subscribed` or an error about the channel; returns that frame. */
export async function subscribe(peer: Peer, channel: string, since?: number): Promise<ServerFrame> {
  const from = peer.frames.length;
  peer.send({ type: "subscribe", channel, ...(since === undefined ? {} : { since }) });
  return peer.next(
    (frame) => (frame.type === "subscribed" || frame.type === "error") && frame.channel === channel,
    { from },
  );
}

/** The `message` frames of one channel received so far. */
export function messagesOn(peer: Peer, channel: string) {
  return peer.frames.flatMap((frame) =>
    frame.type === "message" && frame.channel === channel ? [frame] : [],
  );
}
