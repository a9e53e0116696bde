/** What GET /readyz says: ready, or the names of the dependencies that do not answer. */
export type Readiness = { isReady: true } | { isReady: false; problems: string[] };

/** Asks the server whether it can serve requests; rejects only when the server cannot be reached or answers nonsense. */
export async function fetchReadiness(signal: AbortSignal): Promise<Readiness> {
  const response = await fetch("/readyz", { signal, headers: { accept: "application/json" } });
  // 503 is a normal answer here: the body lists what is not ready.
  if (response.status !== 200 && response.status !== 503)
    throw new Error(`unexpected status ${response.status}`);
  const body: unknown = await response.json();
  const problems = readProblems(body);
  return response.status === 200 && problems.length === 0 ? { isReady: true } : { isReady: false, problems };
}

function readProblems(body: unknown): string[] {
  if (typeof body !== "object" || body === null || !("problems" in body)) return [];
  const { problems } = body;
  return Array.isArray(problems) ? problems.filter((item): item is string => typeof item === "string") : [];
}
