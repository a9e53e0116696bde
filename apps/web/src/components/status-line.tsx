import { useEffect, useState } from "react";
import { fetchReadiness, type Readiness } from "../api/readiness.ts";

type Status = { kind: "checking" } | { kind: "unreachable" } | { kind: "known"; readiness: Readiness };

// Ready servers are rechecked rarely; an unready one is rechecked soon so the line turns green by itself.
const RECHECK_READY_MS = 30_000;
const RECHECK_UNREADY_MS = 3_000;

/** One line telling whether the server and its dependencies are ready, kept current by polling /readyz. */
export function StatusLine() {
  const [status, setStatus] = useState<Status>({ kind: "checking" });

  useEffect(() => {
    const controller = new AbortController();
    let timer: ReturnType<typeof setTimeout> | undefined;
    const check = async () => {
      let next: Status;
      try {
        next = { kind: "known", readiness: await fetchReadiness(controller.signal) };
      } catch {
        if (controller.signal.aborted) return;
        next = { kind: "unreachable" };
      }
      setStatus(next);
      const isReady = next.kind === "known" && next.readiness.isReady;
      timer = setTimeout(() => void check(), isReady ? RECHECK_READY_MS : RECHECK_UNREADY_MS);
    };
    void check();
    return () => {
      controller.abort();
      clearTimeout(timer);
    };
  }, []);

  const { tone, text } = describe(status);
  return (
    <p className={`status status--${tone}`} role="status" aria-live="polite">
      <span className="status__dot" aria-hidden="true" />
      {text}
    </p>
  );
}

function describe(status: Status): { tone: "pending" | "ok" | "bad"; text: string } {
  switch (status.kind) {
    case "checking":
      return { tone: "pending", text: "Checking systems…" };
    case "unreachable":
      return { tone: "bad", text: "Cannot reach the server" };
    case "known":
      if (status.readiness.isReady) return { tone: "ok", text: "All systems ready" };
      return {
        tone: "bad",
        text:
          status.readiness.problems.length > 0
            ? `Not ready: ${status.readiness.problems.join(", ")}`
            : "Not ready yet",
      };
  }
}
