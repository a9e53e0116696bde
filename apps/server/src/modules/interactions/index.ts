// The interactions module's only door (ADR 0015): the collector, the sources admin, the processor, the
// analytics queries and the dashboard tick. It owns sources, interaction_batches, interactions and
// interactions_dead.
export { collectorRoutes, isCollectorRequest } from "./collector.routes.ts";
export type { CollectorOptions } from "./collector.routes.ts";
export { openInteractionStream } from "./interaction-stream.ts";
export type { InteractionStream } from "./interaction-stream.ts";
export { sourcesRoutes } from "./sources.routes.ts";
export type { SourcesOptions } from "./sources.routes.ts";
export { BUILTIN_SOURCE_ID } from "./sources.repo.ts";
export { startWriteKeys } from "./write-keys.ts";
export type { WriteKeys } from "./write-keys.ts";
