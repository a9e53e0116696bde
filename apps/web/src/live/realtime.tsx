import { type ChannelEvent, createRealtimeClient, type RealtimeClient } from "@turnout/contracts";
import { useEffect, useRef, useSyncExternalStore } from "react";
import { getAccessToken, onAccessToken, refreshSession } from "../api/session.ts";

/*
 * The page's one connection to the realtime gateway (API.md "Real time"), shared by every component that
 * watches a channel. The client reconnects with jittered backoff and resumes each channel where it stopped;
 * this file adds the connection state for the reconnecting indicator and follows the session's token.
 */

export type ConnectionState = "connecting" | "open" | "reconnecting";

let client: RealtimeClient | null = null;
let state: ConnectionState = "connecting";
const stateListeners = new Set<() => void>();

function setState(next: ConnectionState): void {
  state = next;
  for (const listener of stateListeners) listener();
}

function getClient(): RealtimeClient {
  if (client !== null) return client;
  const scheme = location.protocol === "https:" ? "wss" : "ws";
  const created = createRealtimeClient({
    url: `${scheme}://${location.host}/api/realtime`,
    getToken: getAccessToken,
    onConnectionChange: (isConnected) => {
      setState(isConnected ? "open" : "reconnecting");
    },
    onError: (code) => {
      // The token ran out while the socket stayed open: fetch a new one; the session hands it over below.
      if (code === "auth.token_expired") void refreshSession();
    },
  });
  onAccessToken((token) => {
    if (token !== null) created.setToken(token);
    // Signed out: reconnect anonymously, so the socket no longer speaks for the person who left.
    else created.dropConnection();
  });
  client = created;
  return created;
}

export function useConnectionState(): ConnectionState {
  return useSyncExternalStore(
    (listener) => {
      stateListeners.add(listener);
      return () => stateListeners.delete(listener);
    },
    () => state,
  );
}

/**
 * Watches `channel` while the component is mounted (null: nothing). `onMessage` sees each message once, in
 * order; `onReset` is called when the history is gone and the state must be fetched again.
 */
export function useChannel(
  channel: string | null,
  onMessage: (event: ChannelEvent) => void,
  onReset: () => void,
): void {
  const handlers = useRef({ onMessage, onReset });
  useEffect(() => {
    handlers.current = { onMessage, onReset };
  });
  useEffect(() => {
    if (channel === null) return;
    return getClient().subscribe(
      channel,
      (event) => {
        handlers.current.onMessage(event);
      },
      {
        onReset: () => {
          handlers.current.onReset();
        },
      },
    );
  }, [channel]);
}
