export * from "./errors.ts";
export * from "./numbers.ts";
export * from "./domain-events.ts";
export * from "./auth.ts";
export * from "./jobs.ts";
export * from "./events.ts";
export * from "./participation.ts";
export * from "./interactions.ts";
