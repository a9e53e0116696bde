import { config } from "zod";

// zod compiles object parsers with new Function() when it can, and probes for that as each schema is built.
// The page's CSP forbids eval, so the probe would be reported on every page: zod is told not to try. This
// module is main.tsx's first import, so it runs before any schema of @turnout/contracts is built.
config({ jitless: true });
