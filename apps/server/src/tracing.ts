import { isTracingRequested } from "./config.ts";

/*
 * Loaded with `--import` ahead of main.ts (SERVER_NODE_ARGS, the image's CMD): instrumentation must be in
 * place before fastify and pg are first imported. With OTEL_EXPORTER_OTLP_ENDPOINT unset it loads nothing
 * more, so tracing off costs one check (ADR 0023).
 */
if (isTracingRequested()) {
  const { startTracing } = await import("./platform/tracing/start-tracing.ts");
  await startTracing();
}
