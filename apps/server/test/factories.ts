import { randomUUID } from "node:crypto";
import { authResponseSchema, type User, type UserRole } from "@turnout/contracts";
import { createTokenKey, signAccessToken } from "../src/modules/auth/index.ts";
import type { TestApp } from "./app.ts";

export interface CreatedUser {
  user: User;
  accessToken: string;
  refreshToken: string;
  /** The password it was registered with, for login tests. */
  password: string;
}

export interface CreateUserOptions {
  /** Defaults to "user", even for the first account of a database (which registration makes admin). */
  role?: UserRole;
  email?: string;
  name?: string;
  password?: string;
}

/**
 * Registers a user through the real API, then sets its role in the database and hands back an access
 * token carrying that role. Each call comes from its own client address, so registration limits never
 * trip in tests that create many users.
 */
export async function createUser(testApp: TestApp, options: CreateUserOptions = {}): Promise<CreatedUser> {
  const suffix = randomUUID();
  const password = options.password ?? `password-${suffix}`;
  const response = await testApp.app.inject({
    method: "POST",
    url: "/api/auth/register",
    remoteAddress: randomLoopbackAddress(),
    payload: {
      email: options.email ?? `user-${suffix}@example.test`,
      name: options.name ?? `User ${suffix.slice(0, 8)}`,
      password,
    },
  });
  if (response.statusCode !== 201)
    throw new Error(`register failed: ${response.statusCode} ${response.body}`);
  const registered = authResponseSchema.parse(response.json());
  const role = options.role ?? "user";
  if (registered.user.role === role) return { ...registered, password };

  await testApp.deps.db.updateTable("users").set({ role }).where("id", "=", registered.user.id).execute();
  const sessionId = readSessionId(registered.accessToken);
  const accessToken = await signAccessToken(
    createTokenKey(testApp.deps.secrets.tokenSecret),
    { id: registered.user.id, role, sessionId },
    testApp.deps.clock.now(),
  );
  return { user: { ...registered.user, role }, accessToken, refreshToken: registered.refreshToken, password };
}

/** `Authorization` header for a created user's access token. */
export function bearer(created: { accessToken: string }): { authorization: string } {
  return { authorization: `Bearer ${created.accessToken}` };
}

/** How many accounts in the app's database have `role`. */
export async function countUsersWithRole(testApp: TestApp, role: UserRole): Promise<number> {
  const rows = await testApp.deps.db.selectFrom("users").select("id").where("role", "=", role).execute();
  return rows.length;
}

function readSessionId(accessToken: string): string {
  const payload = accessToken.split(".")[1] ?? "";
  const claims: unknown = JSON.parse(Buffer.from(payload, "base64url").toString("utf8"));
  if (typeof claims === "object" && claims !== null && "sid" in claims && typeof claims.sid === "string")
    return claims.sid;
  throw new Error("access token without sid");
}

function randomLoopbackAddress(): string {
  const byte = () => Math.floor(Math.random() * 254) + 1;
  return `127.${byte()}.${byte()}.${byte()}`;
}

/**
 * `count` users inserted with one statement, with access tokens, for crowd tests: registering through the
 * API hashes a password per user (argon2id), far too slow for thousands. They cannot log in.
 */
export async function createUsersFast(
  // Only these parts: the cluster tier calls it with its own database handle and the servers' signing key.
  testApp: { deps: Pick<TestApp["deps"], "db" | "secrets" | "clock"> },
  count: number,
): Promise<{ user: { id: string }; accessToken: string }[]> {
  const rows = await testApp.deps.db
    .insertInto("users")
    .values(
      Array.from({ length: count }, () => {
        const id = randomUUID();
        return {
          id,
          email: `crowd-${id}@example.test`,
          name: `Crowd ${id.slice(0, 8)}`,
          password_hash: "-",
          role: "user" as const,
        };
      }),
    )
    .returning("id")
    .execute();
  const key = createTokenKey(testApp.deps.secrets.tokenSecret);
  const now = testApp.deps.clock.now();
  return Promise.all(
    rows.map(async ({ id }) => ({
      user: { id },
      accessToken: await signAccessToken(key, { id, role: "user", sessionId: randomUUID() }, now),
    })),
  );
}
