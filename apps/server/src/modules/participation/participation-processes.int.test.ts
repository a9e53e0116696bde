import { rm } from "node:fs/promises";
import { afterAll, beforeAll, describe, it } from "vitest";
import {
  createDataDir,
  findFreePort,
  type ServerProcess,
  startServer,
} from "../../../../../e2e/support/server-process.ts";
import { createTestApp, TEST_SECRETS, type TestApp } from "../../../test/app.ts";
import { createUser, createUsersFast, type CreatedUser } from "../../../test/factories.ts";
import { createPublished } from "../../../test/events.support.ts";
import { expectFairCrowd, sendAll } from "../../../test/participation-load.support.ts";
import { expectConsistent } from "../../../test/participation.support.ts";

// The same flash crowd split across two server processes on one database: the event row's lock, not
// anything in one process's memory, keeps the seats exact and the line in order.

let t: TestApp;
let organizer: CreatedUser;
let dataDir: string;
const servers: ServerProcess[] = [];

beforeAll(async () => {
  t = await createTestApp();
  organizer = await createUser(t);
  dataDir = await createDataDir("two-processes");
  for (const name of ["joins-a", "joins-b"]) {
    const server = startServer({
      name,
      port: await findFreePort(),
      dataDir,
      env: {
        ...TEST_SECRETS,
        DATABASE_URL: t.database.url,
        ROLES: "api",
        LOG_LEVEL: "warn",
        RATE_LIMIT_REQUESTS: "0",
      },
    });
    servers.push(server);
  }
  await Promise.all(servers.map((server) => server.waitUntilReady(30_000)));
}, 60_000);

afterAll(async () => {
  await Promise.all(servers.map((server) => server.forceStop()));
  await rm(dataDir, { recursive: true, force: true });
  await t.close();
});

describe("two server processes", () => {
  it("1,500 users at once, alternating between the processes: 100 seats, 100 in line in order", async () => {
    const event = await createPublished(t, organizer, { capacity: 100, waitlistLimit: 100 });
    const crowd = await createUsersFast(t, 1_500);
    const answers = await sendAll(
      servers.map((server) => server.baseUrl),
      crowd.map((user) => ({
        method: "POST",
        path: `/api/events/${event.id}/join`,
        token: user.accessToken,
      })),
    );
    expectFairCrowd(answers, await expectConsistent(t, event.id));
  });
});
