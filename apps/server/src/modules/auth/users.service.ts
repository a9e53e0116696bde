import type { UpdateMeBody, User, UserRole } from "@turnout/contracts";
import type { Deps } from "../../deps.ts";
import { AppError } from "../../platform/errors.ts";
import * as repo from "./auth.repo.ts";
import type { CurrentUsers } from "./current-users.ts";
import type { AuthUser } from "./tokens.ts";

type UsersDeps = Pick<Deps, "db" | "clock">;

/** The caller's own account; 404 user.not_found when it no longer exists. */
export async function getMe(deps: UsersDeps, actor: AuthUser): Promise<User> {
  const user = await repo.findUserById(deps.db, actor.id);
  if (user === undefined) throw userNotFound();
  return user;
}

/** Changes the caller's own profile fields; an empty change answers the account unchanged. */
export async function updateMe(deps: UsersDeps, actor: AuthUser, changes: UpdateMeBody): Promise<User> {
  if (changes.name === undefined) return getMe(deps, actor);
  const user = await repo.updateUser(deps.db, actor.id, { name: changes.name, now: deps.clock.now() });
  if (user === undefined) throw userNotFound();
  return user;
}

/**
 * Sets another (or the caller's own) role. The caller must be an admin now, in the database, not only
 * in their token; demoting the last admin is 409 user.last_admin. Admin rows are locked so two admins
 * demoting each other at once cannot leave none. The new role holds from the next request on: here at once,
 * in other processes when the users trigger's notification reaches them (ADR 0009).
 */
export async function changeUserRole(
  deps: UsersDeps & { currentUsers: Pick<CurrentUsers, "forget"> },
  actor: AuthUser,
  userId: string,
  role: UserRole,
): Promise<User> {
  const updated = await setRoleInTransaction(deps, actor, userId, role);
  deps.currentUsers.forget(userId);
  return updated;
}

async function setRoleInTransaction(
  deps: UsersDeps,
  actor: AuthUser,
  userId: string,
  role: UserRole,
): Promise<User> {
  return deps.db.transaction().execute(async (trx) => {
    const adminIds = await repo.lockAdminIds(trx);
    if (!adminIds.includes(actor.id)) throw new AppError("auth.forbidden", "This needs the admin role.");
    const target = await repo.findUserById(trx, userId, { forUpdate: true });
    if (target === undefined) throw userNotFound();
    if (target.role === role) return target;
    if (target.role === "admin" && adminIds.length <= 1) {
      throw new AppError(
        "user.last_admin",
        "The last admin cannot be demoted; make someone else admin first.",
      );
    }
    const updated = await repo.updateUser(trx, userId, { role, now: deps.clock.now() });
    if (updated === undefined) throw userNotFound();
    return updated;
  });
}

function userNotFound(): AppError {
  return new AppError("user.not_found", "No such user.");
}
