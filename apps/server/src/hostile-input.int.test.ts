import { errorBodySchema } from "@turnout/contracts";
import fc from "fast-check";
import type { LightMyRequestResponse } from "fastify";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createTestApp, type TestApp } from "../test/app.ts";
import { bearer, createUser, type CreatedUser } from "../test/factories.ts";
import { writeCursor } from "./platform/cursor.ts";
import { createPublished } from "../test/events.support.ts";

// Every route the OpenAPI document lists gets hostile values in every path parameter, query field and body
// field, with no token, a garbage token and a valid one. Whatever it is sent, the API answers below 500, with
// the contract's error body, and authenticates (401) before it validates (400). New routes are covered by
// being in the document: nobody has to remember to add them here.

interface JsonSchema {
  type?: string | string[];
  format?: string;
  enum?: unknown[];
  minimum?: number;
  minLength?: number;
  properties?: Record<string, JsonSchema>;
  required?: string[];
  items?: JsonSchema;
  anyOf?: JsonSchema[];
  oneOf?: JsonSchema[];
  default?: unknown;
}

interface Parameter {
  in: "path" | "query" | "header";
  name: string;
  schema?: JsonSchema;
}

interface Operation {
  parameters?: Parameter[];
  requestBody?: { content?: Record<string, { schema?: JsonSchema }> };
  security?: Record<string, unknown>[];
}

interface Route {
  method: string;
  path: string;
  operation: Operation;
  auth: "required" | "optional" | "none";
}

type AuthKind = "none" | "garbage" | "valid";

let t: TestApp;
let routes: Route[];
let admin: CreatedUser;
let eventIds: string[];
const uuids: string[] = [];

beforeAll(async () => {
  t = await createTestApp({
    env: { RATE_LIMIT_REQUESTS: "0", RATE_LIMIT_LOGIN_FAILURES: "0", RATE_LIMIT_REGISTRATIONS: "0" },
  });
  admin = await createUser(t, { role: "admin" });
  const organizer = await createUser(t);
  eventIds = [(await createPublished(t, admin)).id, (await createPublished(t, organizer)).id];
  uuids.push(...eventIds, admin.user.id, organizer.user.id);
  routes = await readRoutes();
});
afterAll(() => t.close());

async function readRoutes(): Promise<Route[]> {
  const response = await t.app.inject({ url: "/api/openapi.json" });
  const document = response.json<{ paths: Record<string, Record<string, Operation>> }>();
  return Object.entries(document.paths).flatMap(([path, operations]) =>
    Object.entries(operations).map(([method, operation]) => ({
      method: method.toUpperCase(),
      path,
      operation,
      auth: authOf(operation.security),
    })),
  );
}

function authOf(security: Record<string, unknown>[] | undefined): Route["auth"] {
  if (security === undefined || security.length === 0) return "none";
  return security.some((item) => Object.keys(item).length === 0) ? "optional" : "required";
}

// ---- values ----------------------------------------------------------------------------------------------

const futureTime = new Date(Date.now() + 30 * 24 * 3600_000);
const KNOWN_GOOD: Record<string, unknown> = {
  email: "someone@example.test",
  password: "a-long-enough-password",
  timezone: "Europe/Paris",
  startsAt: futureTime.toISOString(),
  endsAt: new Date(futureTime.getTime() + 3600_000).toISOString(),
};

/** A value the schema accepts (or nearly: rules across fields are not modelled), so requests reach deep. */
function plausible(schema: JsonSchema | undefined, name: string): unknown {
  if (name in KNOWN_GOOD) return KNOWN_GOOD[name];
  if (schema === undefined) return "x";
  const choice = schema.anyOf?.[0] ?? schema.oneOf?.[0];
  if (choice !== undefined) return plausible(choice, name);
  if (schema.enum !== undefined) return schema.enum[0];
  const type = Array.isArray(schema.type) ? schema.type[0] : schema.type;
  switch (type) {
    case "object":
      return Object.fromEntries(
        Object.entries(schema.properties ?? {}).map(([key, value]) => [key, plausible(value, key)]),
      );
    case "array":
      return [plausible(schema.items, name)];
    case "integer":
    case "number":
      return Math.max(schema.minimum ?? 1, 1);
    case "boolean":
      return true;
    case "null":
      return null;
    case "string":
    case undefined:
    default:
      return plausibleString(schema);
  }
}

function plausibleString(schema: JsonSchema): string {
  switch (schema.format) {
    case "uuid":
      return uuids[0] ?? "00000000-0000-7000-8000-000000000000";
    case "date-time":
      return futureTime.toISOString();
    case "email":
      return "someone@example.test";
    case "uri":
      return "https://example.test/page";
    case undefined:
    default:
      return "x".repeat(Math.max(schema.minLength ?? 1, 1));
  }
}

const AUTH_KINDS: AuthKind[] = ["none", "garbage", "valid"];
const CLASSIC_ATTACKS: unknown[] = [
  "a\u0000b",
  "\ud800",
  "x\udc00y",
  "",
  "x".repeat(100_001),
  "2026-02-30T10:00:00Z",
  "0000-01-01T00:00:00Z",
  "0000-01-01T00:00:00+14:00",
  1e308,
  -1,
  { "\u0000": "x" },
];
const cursor = (value: unknown) => writeCursor(value);
const hostileString = fc.oneof(
  fc.constantFrom(
    "",
    " ",
    "\u0000",
    "a\u0000b",
    "\ud800",
    "x\udc00y",
    "\ud83d",
    "x".repeat(5_000),
    "x".repeat(100_001),
    "2026-02-30T10:00:00Z",
    "0000-01-01T00:00:00Z",
    "0001-01-01T00:00:00+14:00",
    "9999-12-31T23:59:59-14:00",
    "275760-09-13T00:00:00Z",
    "1e308",
    "-1",
    "NaN",
    "null",
    "00000000-0000-0000-0000-000000000000",
    "ffffffff-ffff-ffff-ffff-ffffffffffff",
    "../../etc/passwd",
    "' OR 1=1 --",
    "%00",
    cursor(["t", "2026-02-30T10:00:00.000000Z", "00000000-0000-7000-8000-000000000000"]),
    cursor(["t", "0000-01-01T00:00:00.000000Z", "00000000-0000-7000-8000-000000000000"]),
    cursor(["r", "1e99", "2026-05-01T10:00:00.000000Z", "00000000-0000-7000-8000-000000000000"]),
    cursor(["q", 1e308]),
    cursor(["q", -1]),
    cursor({ "\u0000": 1 }),
  ),
  fc.string({ unit: "binary", maxLength: 40 }),
  fc.base64String({ maxLength: 60 }),
);
const hostileNumber = fc.oneof(
  fc.constantFrom(0, -1, 0.5, -0, 1e308, -1e308, 2 ** 53 + 2, 2 ** 31, 1e-320),
  fc.double({ noNaN: true, noDefaultInfinity: true }),
  fc.integer(),
);
/** JSON text sent as it is: deep nesting that would be too slow to build, print or shrink as a value. */
class RawJson {
  constructor(
    readonly text: string,
    readonly label: string,
  ) {}
  [fc.toStringMethod](): string {
    return this.label;
  }
}
const deepNesting = fc
  .integer({ min: 50, max: 5_000 })
  .map((depth) => new RawJson(`${'{"a":'.repeat(depth)}"deep"${"}".repeat(depth)}`, `nested ${depth} deep`));
const hostileValue: fc.Arbitrary<unknown> = fc.oneof(
  hostileString,
  hostileNumber,
  fc.constantFrom(true, false, null, [], {}, [[]], { "\u0000": "x" }, { "\ud800": 1 }),
  fc.array(hostileString, { maxLength: 3 }),
  fc.dictionary(hostileString, hostileString, { maxKeys: 3 }),
  deepNesting,
);

// ---- requests --------------------------------------------------------------------------------------------

type Target = { part: "path" | "query" | "body"; name: string } | { part: "wholeBody" };

function targetsOf(route: Route): Target[] {
  const parameters = route.operation.parameters ?? [];
  const body = bodySchemaOf(route);
  return [
    ...parameters
      .filter((parameter) => parameter.in === "path" || parameter.in === "query")
      .map((parameter) => ({ part: parameter.in as "path" | "query", name: parameter.name })),
    ...Object.keys(body?.properties ?? {}).map((name) => ({ part: "body" as const, name })),
    { part: "wholeBody" as const },
  ];
}

function bodySchemaOf(route: Route): JsonSchema | undefined {
  return route.operation.requestBody?.content?.["application/json"]?.schema;
}

/** Percent-encodes any string, lone surrogates too (as the bytes a careless client would send). */
function encodeAny(text: string): string {
  return Array.from(text, (char) => {
    const code = char.codePointAt(0) ?? 0;
    if (code >= 0xd800 && code <= 0xdfff) {
      return `%${(0xe0 | (code >> 12)).toString(16)}%${(0x80 | ((code >> 6) & 0x3f)).toString(16)}%${(0x80 | (code & 0x3f)).toString(16)}`;
    }
    return encodeURIComponent(char);
  }).join("");
}

const RAW_MARK = "\u0001raw\u0001";

/** JSON text of a value that may hold a RawJson (only ever as the value itself, never deeper). */
function toJson(value: unknown, raw: RawJson | undefined): string {
  const text = JSON.stringify(value);
  return raw === undefined ? text : text.replace(JSON.stringify(RAW_MARK), raw.text);
}

function asText(value: unknown): string {
  if (value instanceof RawJson) return value.text;
  return typeof value === "string" ? value : JSON.stringify(value);
}

/** An empty path parameter makes another URL (`/api/events/` is the feed): that is not this route's request. */
function isAnotherRoute(target: Target, value: unknown): boolean {
  return target.part === "path" && asText(value) === "";
}

const IDEMPOTENCY_KEYS = [undefined, "", " ", "x".repeat(200), "x".repeat(201), "é", "\u00ff\u00fe"];

async function send(
  route: Route,
  target: Target,
  value: unknown,
  auth: AuthKind,
  eventId: string,
  idempotencyKey?: string,
) {
  const parameters = route.operation.parameters ?? [];
  const pathValues = new Map<string, string>();
  const query: string[] = [];
  for (const parameter of parameters) {
    const isTarget = target.part === parameter.in && "name" in target && target.name === parameter.name;
    if (parameter.in === "path") {
      const fallback =
        parameter.name === "id" ? eventId : asText(plausible(parameter.schema, parameter.name));
      pathValues.set(parameter.name, isTarget ? asText(value) : fallback);
    } else if (parameter.in === "query" && isTarget) {
      query.push(`${encodeAny(parameter.name)}=${encodeAny(asText(value))}`);
    }
  }
  const path = route.path.replace(/\{(\w+)\}/g, (_match, name: string) =>
    encodeAny(pathValues.get(name) ?? "x"),
  );
  const bodySchema = bodySchemaOf(route);
  let payload: string | undefined;
  const raw = value instanceof RawJson ? value : undefined;
  const inJson = raw === undefined ? value : RAW_MARK;
  if (target.part === "wholeBody") payload = toJson(inJson, raw);
  else if (bodySchema !== undefined) {
    const body = plausible(bodySchema, "body") as Record<string, unknown>;
    if (target.part === "body") body[target.name] = inJson;
    payload = toJson(body, raw);
  }
  const headers: Record<string, string> = {};
  if (payload !== undefined) headers["content-type"] = "application/json";
  if (auth === "garbage") headers.authorization = "Bearer not.a.token";
  if (auth === "valid") Object.assign(headers, bearer(admin));
  if (idempotencyKey !== undefined) headers["idempotency-key"] = idempotencyKey;
  return t.app.inject({
    method: route.method as "GET",
    url: query.length === 0 ? path : `${path}?${query.join("&")}`,
    headers,
    ...(payload === undefined ? {} : { payload }),
  });
}

function checkAnswer(route: Route, auth: AuthKind, response: LightMyRequestResponse): void {
  const where = `${route.method} ${route.path} (${auth}) -> ${response.statusCode} ${response.body.slice(0, 300)}`;
  expect(response.statusCode, where).toBeLessThan(500);
  if (response.statusCode >= 400) {
    expect(errorBodySchema.safeParse(response.json()).success, where).toBe(true);
  }
  // A URL the router cannot read (a path segment past its limit, broken percent-encoding) names no route, so
  // there is no route to authenticate for: it is refused as a request line, in the contract's body.
  const code = response.statusCode >= 400 ? errorBodySchema.parse(response.json()).error.code : undefined;
  if (code === "request.uri_too_long" || code === "request.malformed") return;
  const mustRefuse =
    (route.auth === "required" && auth !== "valid") || (route.auth === "optional" && auth === "garbage");
  if (mustRefuse) expect(response.statusCode, where).toBe(401);
}

describe("every route, every field, hostile values", () => {
  it("lists the routes it attacks", () => {
    expect(routes.length).toBeGreaterThanOrEqual(30);
    expect(routes.some((route) => route.auth === "optional")).toBe(true);
  });

  it("refuses the classic attacks in every field of every route", async () => {
    for (const route of routes) {
      for (const target of targetsOf(route)) {
        for (const value of CLASSIC_ATTACKS) {
          if (isAnotherRoute(target, value)) continue;
          for (const auth of AUTH_KINDS) {
            const eventId = eventIds[0] ?? "";
            checkAnswer(route, auth, await send(route, target, value, auth, eventId));
          }
        }
      }
    }
  });

  it("never answers 5xx or off-contract, and authenticates before it validates", async () => {
    for (const route of routes) {
      await fc.assert(
        fc.asyncProperty(
          fc.constantFrom(...targetsOf(route)),
          hostileValue,
          fc.constantFrom(...AUTH_KINDS),
          fc.constantFrom(...eventIds),
          fc.constantFrom(...IDEMPOTENCY_KEYS),
          async (target, value, auth, eventId, key) => {
            if (isAnotherRoute(target, value)) return;
            checkAnswer(route, auth, await send(route, target, value, auth, eventId, key));
          },
        ),
        { numRuns: 40 },
      );
    }
  });
});
