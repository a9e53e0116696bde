import { trace } from "@opentelemetry/api";
import type { FastifyInstance } from "fastify";

/**
 * Names each request's server span (made by the http instrumentation) after its route template, as the
 * latency histogram labels it, and gives it the request id the logs carry (`reqId`), so a slow trace leads
 * to its log lines. Loaded only when tracing is on.
 */
export function nameRequestSpans(app: FastifyInstance): void {
  app.addHook("onRequest", (request, _reply, done) => {
    const span = trace.getActiveSpan();
    if (span !== undefined) {
      span.setAttribute("turnout.request_id", request.id);
      const route = request.routeOptions.url;
      if (route !== undefined) {
        span.updateName(`${request.method} ${route}`);
        span.setAttribute("http.route", route);
      }
    }
    done();
  });
}
