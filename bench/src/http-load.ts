import autocannon from "autocannon";

export interface HttpLoad {
  durationS: number;
  connections: number;
  /** Sent with every request. */
  headers?: Record<string, string>;
}

export interface HttpLoadResult {
  /** Mean requests per second over the run. */
  rps: number;
  p50Ms: number;
  p99Ms: number;
  requests: number;
}

/** Drives GET `url` with autocannon for `durationS` seconds; throws if any request failed or was not 2xx. */
export async function measureHttp(
  url: string,
  { durationS, connections, headers = {} }: HttpLoad,
): Promise<HttpLoadResult> {
  if (!url.startsWith("http://127.0.0.1:")) throw new Error(`bench traffic stays on 127.0.0.1, not ${url}`);
  const result = await autocannon({ url, connections, duration: durationS, headers });
  if (result.errors > 0 || result.non2xx > 0) {
    throw new Error(
      `${url}: ${result.errors} errors (${result.timeouts} timeouts), ${result.non2xx} non-2xx answers`,
    );
  }
  return {
    rps: Math.round(result.requests.average),
    p50Ms: result.latency.p50,
    p99Ms: result.latency.p99,
    requests: result.requests.total,
  };
}
