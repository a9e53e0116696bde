import { useSyncExternalStore } from "react";
import { getSession, type Session, subscribeSession } from "./session.ts";

/** The current session; re-renders when someone signs in or out. */
export function useSession(): Session {
  return useSyncExternalStore(subscribeSession, getSession);
}
