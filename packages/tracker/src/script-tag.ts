import { flush, identify, init, optIn, optOut, page, track } from "./index.ts";

/*
 * The script-tag build: `<script src="tracker.min.js" data-endpoint="https://turnout.example/api/collect"
 * data-write-key="..." data-track-history></script>` starts tracking by itself; without data-endpoint the
 * page calls `turnout.init({...})`. Everything else is on `window.turnout`.
 */
interface ScriptElement {
  dataset: Record<string, string | undefined>;
}

const globals = globalThis as { turnout?: unknown; document?: { currentScript?: ScriptElement | null } };
globals.turnout = { init, page, track, identify, optOut, optIn, flush };

const dataset = globals.document?.currentScript?.dataset;
if (dataset?.endpoint !== undefined) {
  init({
    endpoint: dataset.endpoint,
    ...(dataset.writeKey === undefined ? {} : { writeKey: dataset.writeKey }),
    trackHistory: dataset.trackHistory !== undefined,
  });
}
