import type { IncomingMessage } from "node:http";
import { register } from "node:module";
import { OTLPTraceExporter } from "@opentelemetry/exporter-trace-otlp-http";
import { registerInstrumentations } from "@opentelemetry/instrumentation";
import { HttpInstrumentation } from "@opentelemetry/instrumentation-http";
import { PgInstrumentation } from "@opentelemetry/instrumentation-pg";
import {
  defaultResource,
  detectResources,
  envDetector,
  resourceFromAttributes,
} from "@opentelemetry/resources";
import { BatchSpanProcessor, NodeTracerProvider } from "@opentelemetry/sdk-trace-node";
import { createAddHookMessageChannel } from "import-in-the-middle";

// Probes and scrapes answer every few seconds per pod: as traces they would only bury the requests.
const UNTRACED_PATHS = new Set(["/healthz", "/readyz", "/metrics"]);

let provider: NodeTracerProvider | undefined;

/**
 * Starts the OpenTelemetry SDK: spans of incoming HTTP requests and of the PostgreSQL queries made while
 * serving one, exported in batches over OTLP/HTTP (JSON) to OTEL_EXPORTER_OTLP_ENDPOINT. The SDK reads the
 * other standard OTEL_* settings itself (service name, sampler, batch sizes). Called by tracing.ts only.
 */
export async function startTracing(): Promise<void> {
  // main.ts imports pg as ESM: import-in-the-middle's loader hook lets the instrumentation patch it, and
  // with the message channel it wraps only the modules an instrumentation asks for.
  const { registerOptions, waitForAllMessagesAcknowledged } = createAddHookMessageChannel();
  register("import-in-the-middle/hook.mjs", import.meta.url, registerOptions);

  provider = new NodeTracerProvider({
    resource: defaultResource()
      .merge(resourceFromAttributes({ "service.name": "turnout" }))
      .merge(detectResources({ detectors: [envDetector] })),
    spanProcessors: [new BatchSpanProcessor(new OTLPTraceExporter())],
  });
  provider.register();
  registerInstrumentations({
    tracerProvider: provider,
    instrumentations: [
      new HttpInstrumentation({
        ignoreIncomingRequestHook: (request) => UNTRACED_PATHS.has(pathOf(request)),
        // Outgoing calls (S3) only as part of a traced request, never as traces of their own.
        requireParentforOutgoingSpans: true,
      }),
      // Queries outside a request (the outbox relay's polls, pg-boss, sweeps) would be a trace each.
      new PgInstrumentation({ requireParentSpan: true }),
    ],
  });
  await waitForAllMessagesAcknowledged();
}

/** Exports the spans still buffered and stops the SDK; nothing to do when tracing never started. */
export async function stopTracing(): Promise<void> {
  await provider?.shutdown();
}

function pathOf(request: IncomingMessage): string {
  const url = request.url ?? "/";
  const query = url.indexOf("?");
  return query < 0 ? url : url.slice(0, query);
}
