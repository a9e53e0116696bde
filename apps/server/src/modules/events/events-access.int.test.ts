import type { UserRole } from "@turnout/contracts";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createTestApp, type TestApp } from "../../../test/app.ts";
import { bearer, createUser, type CreatedUser } from "../../../test/factories.ts";
import { errorCode } from "../../../test/http.ts";
import { createDraft, createPublished } from "../../../test/events.support.ts";
import { findEventAccess } from "./index.ts";

// Who may do what to an event: anonymous, another user, the organizer, a moderator and an admin, against
// drafts and published events. Drafts someone may not see answer 404 like missing ones, never 403 or 500.

type Caller = "anonymous" | "other" | "organizer" | "moderator" | "admin";
type Action = "read" | "patch" | "publish" | "cancel" | "delete";
type Outcome = [status: number, code?: string];

const NOT_FOUND: Outcome = [404, "event.not_found"];
const FORBIDDEN: Outcome = [403, "auth.forbidden"];
const SIGN_IN: Outcome = [401, "auth.required"];

// Rows: callers; columns: actions. A manager's publish of a published event and delete of one are refused by
// state (409), which shows the permission check passed.
const ON_DRAFT: Record<Caller, Record<Action, Outcome>> = {
  anonymous: { read: NOT_FOUND, patch: SIGN_IN, publish: SIGN_IN, cancel: SIGN_IN, delete: SIGN_IN },
  other: { read: NOT_FOUND, patch: NOT_FOUND, publish: NOT_FOUND, cancel: NOT_FOUND, delete: NOT_FOUND },
  organizer: {
    read: [200],
    patch: [200],
    publish: [200],
    cancel: [409, "event.invalid_state"],
    delete: [204],
  },
  moderator: {
    read: [200],
    patch: [200],
    publish: [200],
    cancel: [409, "event.invalid_state"],
    delete: [204],
  },
  admin: { read: [200], patch: [200], publish: [200], cancel: [409, "event.invalid_state"], delete: [204] },
};
const MANAGER_ON_PUBLISHED: Record<Action, Outcome> = {
  read: [200],
  patch: [200],
  publish: [409, "event.invalid_state"],
  cancel: [200],
  delete: [409, "event.invalid_state"],
};
const ON_PUBLISHED: Record<Caller, Record<Action, Outcome>> = {
  anonymous: { read: [200], patch: SIGN_IN, publish: SIGN_IN, cancel: SIGN_IN, delete: SIGN_IN },
  other: { read: [200], patch: FORBIDDEN, publish: FORBIDDEN, cancel: FORBIDDEN, delete: FORBIDDEN },
  organizer: MANAGER_ON_PUBLISHED,
  moderator: MANAGER_ON_PUBLISHED,
  admin: MANAGER_ON_PUBLISHED,
};

let t: TestApp;
let organizer: CreatedUser;
const callers = new Map<Caller, CreatedUser | undefined>();

beforeAll(async () => {
  t = await createTestApp();
  organizer = await createUser(t);
  callers.set("anonymous", undefined);
  callers.set("organizer", organizer);
  const roles: [Caller, UserRole][] = [
    ["other", "user"],
    ["moderator", "moderator"],
    ["admin", "admin"],
  ];
  for (const [caller, role] of roles) callers.set(caller, await createUser(t, { role }));
});
afterAll(() => t.close());

function act(action: Action, eventId: string, who: CreatedUser | undefined) {
  const headers = who === undefined ? {} : bearer(who);
  const url = `/api/events/${eventId}`;
  switch (action) {
    case "read":
      return t.app.inject({ method: "GET", url, headers });
    case "patch":
      return t.app.inject({ method: "PATCH", url, headers, payload: { title: "Edited" } });
    case "publish":
      return t.app.inject({ method: "POST", url: `${url}/publish`, headers });
    case "cancel":
      return t.app.inject({ method: "POST", url: `${url}/cancel`, headers, payload: { reason: "Storm" } });
    case "delete":
      return t.app.inject({ method: "DELETE", url, headers });
  }
}

const ACTIONS: Action[] = ["read", "patch", "publish", "cancel", "delete"];
const CALLERS: Caller[] = ["anonymous", "other", "organizer", "moderator", "admin"];

for (const [state, matrix] of [
  ["draft", ON_DRAFT],
  ["published", ON_PUBLISHED],
] as const) {
  describe(`on a ${state} event`, () => {
    for (const caller of CALLERS) {
      it(`${caller}: ${ACTIONS.map((action) => `${action} ${matrix[caller][action][0]}`).join(", ")}`, async () => {
        for (const action of ACTIONS) {
          // A fresh event per cell, so no action's effect (publish, delete) leaks into the next.
          const event =
            state === "draft" ? await createDraft(t, organizer) : await createPublished(t, organizer);
          const response = await act(action, event.id, callers.get(caller));
          const [status, code] = matrix[caller][action];
          expect(response.statusCode, `${caller} ${action}`).toBe(status);
          if (code !== undefined) expect(errorCode(response), `${caller} ${action}`).toBe(code);
        }
      });
    }
  });
}

it("lets a moderator's edit of someone else's event keep the organizer", async () => {
  const event = await createPublished(t, organizer);
  const moderator = callers.get("moderator");
  const response = await act("patch", event.id, moderator);
  expect(response.json()).toMatchObject({ title: "Edited", organizer: { id: organizer.user.id } });
});

it("answers 401 for a read with a token that failed, so the client refreshes instead of seeing 404", async () => {
  const event = await createPublished(t, organizer);
  const garbage = await t.app.inject({
    method: "GET",
    url: `/api/events/${event.id}`,
    headers: { authorization: "Bearer garbage" },
  });
  expect(garbage.statusCode).toBe(401);
  expect(errorCode(garbage)).toBe("auth.invalid_token");
});

describe("findEventAccess, the door's answer for other modules", () => {
  const asActor = (who: CreatedUser | undefined) =>
    who === undefined ? null : { id: who.user.id, role: who.user.role, sessionId: who.user.id };

  it("agrees with the routes: read 200 is canSee, patch allowed is canManage; nothing for an unknown event", async () => {
    const draft = await createDraft(t, organizer);
    const published = await createPublished(t, organizer);
    for (const caller of CALLERS) {
      const actor = asActor(callers.get(caller));
      const onDraft = await findEventAccess(t.deps.db, actor, draft.id);
      const onPublished = await findEventAccess(t.deps.db, actor, published.id);
      expect(onDraft, `${caller} on a draft`).toEqual({
        canSee: ON_DRAFT[caller].read[0] === 200,
        canManage: ON_DRAFT[caller].patch[0] === 200,
      });
      expect(onPublished, `${caller} on a published event`).toEqual({
        canSee: ON_PUBLISHED[caller].read[0] === 200,
        canManage: ON_PUBLISHED[caller].patch[0] === 200,
      });
    }
    const unknown = "0193a1b2-0000-7000-8000-000000000000";
    expect(await findEventAccess(t.deps.db, asActor(callers.get("admin")), unknown)).toEqual({
      canSee: false,
      canManage: false,
    });
  });
});
