import { Agent, request as httpRequest } from "node:http";
import { connect, type Socket } from "node:net";
import { readFileSync } from "node:fs";
import { loadavg } from "node:os";

// A crowd of clients, each on its own keep-alive connection, that sends one request each at the same moment:
// the shape of the joins burst. The joins scenario, and the burst scenario that repeats it beside a bare
// Fastify server, share it so that both measure with the same load generator. BENCH_BURST_CLIENT=node-http
// swaps the raw sockets for node's HTTP client, the generator before issue 10, to compare the two (ADR 0005).

export interface BurstRequest {
  path: string;
  method: "GET" | "POST";
  headers: Record<string, string>;
}

export interface BurstAnswer {
  status: number;
  body: unknown;
  /** From the moment the burst started to the end of this answer. */
  ms: number;
}

export interface BurstResult {
  answers: BurstAnswer[];
  /** When the last request had been handed to the kernel, from the start of the burst. */
  allSentMs: number;
}

export interface Crowd {
  /** Sends every request at once, each on its own open connection; resolves when all are answered. */
  send(requests: readonly BurstRequest[]): Promise<BurstResult>;
  /** Closes the connections, as the crowd leaves. */
  close(): void;
}

/**
 * Opens `size` keep-alive connections to `baseUrl` (one GET of `warmPath` each). The crowd is on the event
 * page already: the load generator's cost of opening 1,500 sockets at once (about a second here, even
 * against a bare server) stays out of the figure.
 */
export async function openHttpCrowd(baseUrl: string, size: number, warmPath = "/healthz"): Promise<Crowd> {
  if (!baseUrl.startsWith("http://127.0.0.1:"))
    throw new Error(`bench traffic stays on 127.0.0.1, not ${baseUrl}`);
  // maxFreeSockets: by default an agent keeps only 256 idle connections and closes the rest, so most of the
  // crowd would connect anew in the middle of the burst.
  const agent = new Agent({ keepAlive: true, maxSockets: Infinity, maxFreeSockets: size });
  const warm: BurstRequest = { path: warmPath, method: "GET", headers: {} };
  await Promise.all(Array.from({ length: size }, () => send(agent, baseUrl, warm)));
  return {
    async send(requests) {
      const startedAt = performance.now();
      let sent = 0;
      let allSentMs = 0;
      const onSent = () => {
        sent++;
        if (sent === requests.length) allSentMs = performance.now() - startedAt;
      };
      const answers = await Promise.all(
        requests.map(async (request) => {
          const answer = await send(agent, baseUrl, request, onSent).catch(() => ({ status: 0, body: null }));
          return { ...answer, ms: performance.now() - startedAt };
        }),
      );
      return { answers, allSentMs: round1(allSentMs) };
    },
    close() {
      agent.destroy();
    },
  };
}

/** The value below which `fraction` of `values` lie, to 0.1. */
export function percentile(values: readonly number[], fraction: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  const value = sorted[Math.min(sorted.length - 1, Math.floor(fraction * sorted.length))] ?? 0;
  return round1(value);
}

/** The one-minute load average, to 0.01: the machine is shared, so every figure is recorded with it. */
export function loadAverage(): number {
  return Math.round((loadavg()[0] ?? 0) * 100) / 100;
}

/**
 * CPU time (user + system) a process of this machine has used so far, in ms, from /proc: unlike wall time it
 * barely moves with the load other processes put on the shared cores, so it compares two versions fairly.
 */
export function processCpuMs(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
  // Fields after the command name (which may hold spaces) start at state; utime and stime are 14th and 15th.
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  const ticks = Number(fields[11]) + Number(fields[12]);
  return Math.round((ticks * 1000) / CLOCK_TICKS_PER_SECOND);
}

// USER_HZ: 100 on every Linux this runs on (getconf CLK_TCK).
const CLOCK_TICKS_PER_SECOND = 100;

function round1(value: number): number {
  return Math.round(value * 10) / 10;
}

/** One HTTP request on `agent`'s connections; resolves with the status and the parsed JSON body. */
function send(
  agent: Agent,
  baseUrl: string,
  { path, method, headers }: BurstRequest,
  onSent: () => void = () => undefined,
): Promise<{ status: number; body: unknown }> {
  return new Promise((resolve, reject) => {
    const sent = httpRequest(`${baseUrl}${path}`, { agent, method, headers }, (response) => {
      let text = "";
      response.setEncoding("utf8");
      response.on("data", (chunk: string) => (text += chunk));
      response.on("end", () => {
        try {
          resolve({ status: response.statusCode ?? 0, body: JSON.parse(text) as unknown });
        } catch (error) {
          reject(error instanceof Error ? error : new Error(String(error)));
        }
      });
      response.on("error", reject);
    });
    sent.on("finish", onSent);
    sent.on("error", reject);
    sent.end();
  });
}

const CONNECT_SLICE = 100;

/**
 * As openHttpCrowd, with a load generator of raw sockets: each request is written as prepared bytes and each
 * answer read by its Content-Length, as autocannon does, instead of node's HTTP client, whose cost per
 * request on this machine's two shared cores rivals the server's.
 */
export async function openCrowd(baseUrl: string, size: number, warmPath = "/healthz"): Promise<Crowd> {
  if (process.env.BENCH_BURST_CLIENT === "node-http") return openHttpCrowd(baseUrl, size, warmPath);
  const url = new URL(baseUrl);
  if (url.hostname !== "127.0.0.1") throw new Error(`bench traffic stays on 127.0.0.1, not ${baseUrl}`);
  const port = Number(url.port);
  const connections: Connection[] = [];
  try {
    // In slices: 1,500 connects at once overflow the listen backlog, and the retries take seconds.
    for (let start = 0; start < size; start += CONNECT_SLICE) {
      const slice = Array.from({ length: Math.min(CONNECT_SLICE, size - start) }, () => openConnection(port));
      connections.push(...(await Promise.all(slice)));
    }
    const warm = encodeRequest(url.host, { path: warmPath, method: "GET", headers: {} });
    await Promise.all(connections.map((connection) => connection.exchange(warm)));
  } catch (error) {
    for (const connection of connections) connection.socket.destroy();
    throw error;
  }
  return {
    async send(requests) {
      if (requests.length > connections.length)
        throw new Error(`${requests.length} requests for a crowd of ${connections.length}`);
      const encoded = requests.map((request) => encodeRequest(url.host, request));
      const startedAt = performance.now();
      const pending = encoded.map(async (bytes, index) => {
        const connection = connections[index];
        if (connection === undefined) throw new Error("no connection");
        const answer = await connection.exchange(bytes).catch(() => ({ status: 0, body: null }));
        return { ...answer, ms: performance.now() - startedAt };
      });
      // Writes to a connected socket with room in its buffer complete at once, within this turn.
      const allSentMs = round1(performance.now() - startedAt);
      return { answers: await Promise.all(pending), allSentMs };
    },
    close() {
      for (const connection of connections) connection.socket.destroy();
    },
  };
}

interface Connection {
  socket: Socket;
  /** Writes one request and resolves with its answer; one at a time. */
  exchange(request: Buffer): Promise<{ status: number; body: unknown }>;
}

function openConnection(port: number): Promise<Connection> {
  return new Promise((resolve, reject) => {
    const socket = connect({ host: "127.0.0.1", port, noDelay: true });
    let waiting: {
      resolve(answer: { status: number; body: unknown }): void;
      reject(error: Error): void;
    } | null = null;
    let received: Buffer = Buffer.alloc(0);
    const fail = (error: Error) => {
      const current = waiting;
      waiting = null;
      current?.reject(error);
    };
    socket.on("data", (chunk: Buffer) => {
      received = received.length === 0 ? chunk : Buffer.concat([received, chunk]);
      let answer: ReturnType<typeof parseResponse>;
      try {
        answer = parseResponse(received);
      } catch (error) {
        fail(error instanceof Error ? error : new Error(String(error)));
        socket.destroy();
        return;
      }
      if (answer === undefined) return;
      received = received.subarray(answer.length);
      const current = waiting;
      waiting = null;
      current?.resolve({ status: answer.status, body: answer.body });
    });
    socket.on("error", fail);
    socket.on("close", () => {
      fail(new Error("connection closed"));
    });
    socket.once("connect", () => {
      socket.off("error", reject);
      resolve({
        socket,
        exchange(request) {
          return new Promise((resolveAnswer, rejectAnswer) => {
            if (waiting !== null) throw new Error("one request at a time per connection");
            waiting = { resolve: resolveAnswer, reject: rejectAnswer };
            socket.write(request);
          });
        },
      });
    });
    socket.once("error", reject);
  });
}

function encodeRequest(host: string, { path, method, headers }: BurstRequest): Buffer {
  const lines = [`${method} ${path} HTTP/1.1`, `host: ${host}`, "content-length: 0"];
  for (const [name, value] of Object.entries(headers)) lines.push(`${name}: ${value}`);
  return Buffer.from(`${lines.join("\r\n")}\r\n\r\n`, "latin1");
}

const HEADER_END = Buffer.from("\r\n\r\n");

// One complete response at the start of `bytes` (Content-Length framing, which is all Fastify sends for
// JSON), or undefined while it is still arriving.
function parseResponse(bytes: Buffer): { status: number; body: unknown; length: number } | undefined {
  const headerEnd = bytes.indexOf(HEADER_END);
  if (headerEnd === -1) return undefined;
  const head = bytes.toString("latin1", 0, headerEnd);
  const status = Number(head.slice(9, 12));
  const contentLength = /\r\ncontent-length:\s*(\d+)/i.exec(head)?.[1];
  if (contentLength === undefined) throw new Error(`an answer without Content-Length:\n${head}`);
  const length = headerEnd + HEADER_END.length + Number(contentLength);
  if (bytes.length < length) return undefined;
  const text = bytes.toString("utf8", headerEnd + HEADER_END.length, length);
  return { status, body: text === "" ? null : (JSON.parse(text) as unknown), length };
}
