// User roles (what a signed-in user may do). Process roles (what a process runs) are src/roles/.
import type { UserRole } from "@turnout/contracts";

const RANK: Record<UserRole, number> = { user: 0, moderator: 1, admin: 2 };

/** True when `role` is `required` or above it (user < moderator < admin). */
export function hasRole(role: UserRole, required: UserRole): boolean {
  return RANK[role] >= RANK[required];
}
