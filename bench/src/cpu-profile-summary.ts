import { existsSync, readFileSync } from "node:fs";

// `node --import tsx bench/src/cpu-profile-summary.ts FILE.cpuprofile [TOP]`: where a V8 CPU profile's time
// went, as text: by self time per function, and by where the code lives (node's internals, each package,
// each of our files), with the idle and garbage-collection time apart.

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  children?: number[];
}

interface Profile {
  nodes: ProfileNode[];
  startTime: number;
  endTime: number;
  samples: number[];
  timeDeltas: number[];
}

const [file, topArg] = process.argv.slice(2);
if (file === undefined) throw new Error("usage: cpu-profile-summary.ts FILE.cpuprofile [TOP]");
const top = Number(topArg ?? 25);
const profile = JSON.parse(readFileSync(file, "utf8")) as Profile;
const byId = new Map(profile.nodes.map((node) => [node.id, node]));

const selfUs = new Map<number, number>();
profile.samples.forEach((id, index) => {
  // The delta before sample i+1 is the time sample i stood for.
  const us = profile.timeDeltas[index + 1] ?? 0;
  selfUs.set(id, (selfUs.get(id) ?? 0) + us);
});

const totalUs = profile.endTime - profile.startTime;
const byFunction = new Map<string, number>();
const byPlace = new Map<string, number>();
for (const [id, us] of selfUs) {
  const node = byId.get(id);
  if (node === undefined) continue;
  const { functionName, url, lineNumber } = node.callFrame;
  const name = `${functionName || "(anonymous)"} ${shorten(url)}:${lineNumber + 1}`;
  byFunction.set(name, (byFunction.get(name) ?? 0) + us);
  const place = placeOf(functionName, url);
  byPlace.set(place, (byPlace.get(place) ?? 0) + us);
}

const ms = (us: number) => (us / 1000).toFixed(1).padStart(8);
const percent = (us: number) => `${((100 * us) / totalUs).toFixed(1).padStart(5)}%`;
process.stdout.write(`${file}: ${ms(totalUs).trim()} ms profiled\n\nby place\n`);
for (const [place, us] of sorted(byPlace)) process.stdout.write(`${ms(us)} ms ${percent(us)}  ${place}\n`);
process.stdout.write(`\ntop ${top} functions by self time\n`);
for (const [name, us] of sorted(byFunction).slice(0, top))
  process.stdout.write(`${ms(us)} ms ${percent(us)}  ${name}\n`);

function sorted(map: Map<string, number>): [string, number][] {
  return [...map].sort((a, b) => b[1] - a[1]);
}

function placeOf(functionName: string, url: string): string {
  if (url === "") return `(${functionName.replace(/[()]/g, "")})`;
  if (url.startsWith("node:")) return `node:${url.slice(5).split("/")[0] ?? ""}`;
  const inPackage = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(url);
  if (inPackage !== null) return inPackage[1] ?? url;
  return shorten(url);
}

function shorten(url: string): string {
  return url.replace(/^file:\/\/.*?\/(apps|packages|bench)\//, "$1/");
}

// The server's own timeline beside the profile (cpu-profile.preload.ts), when there is one.
const timelineFile = file.replace(/profile-(\d+)\.cpuprofile$/, "timeline-$1.json");
if (timelineFile !== file && existsSync(timelineFile)) {
  const { began, finished } = JSON.parse(readFileSync(timelineFile, "utf8")) as {
    began: number[];
    finished: number[];
  };
  const at = (values: number[], fraction: number) =>
    (values[Math.min(values.length - 1, Math.floor(fraction * values.length))] ?? 0).toFixed(1);
  const line = (name: string, values: number[]) =>
    `${name}: ${values.length}, first ${at(values, 0)} ms, p50 ${at(values, 0.5)} ms, ` +
    `p95 ${at(values, 0.95)} ms, last ${at(values, 1)} ms\n`;
  process.stdout.write(`\nserver timeline (from the first signal)\n`);
  process.stdout.write(
    line(
      "requests begun",
      began.sort((a, b) => a - b),
    ),
  );
  process.stdout.write(
    line(
      "answers finished",
      finished.sort((a, b) => a - b),
    ),
  );
}
