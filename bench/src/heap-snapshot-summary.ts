import { readFileSync } from "node:fs";

// `node --import tsx bench/src/heap-snapshot-summary.ts FILE [TOP]`: a heap snapshot (.heapsnapshot) as the
// bytes and counts of its objects by constructor (strings, arrays, code and V8's internals by type), or a
// sampling heap profile (.heapprofile) as the bytes allocated by function and by where the code lives.

const [file, topArg] = process.argv.slice(2);
if (file === undefined)
  throw new Error("usage: heap-snapshot-summary.ts FILE.heapsnapshot|FILE.heapprofile [TOP]");
const top = Number(topArg ?? 40);
const data: unknown = JSON.parse(readFileSync(file, "utf8"));
if (file.endsWith(".heapprofile")) summariseProfile(data as SamplingProfile);
else summariseSnapshot(data as Snapshot);

interface Snapshot {
  snapshot: { meta: { node_fields: string[]; node_types: [string[], ...unknown[]] } };
  nodes: number[];
  strings: string[];
}

function summariseSnapshot({ snapshot, nodes, strings }: Snapshot): void {
  const fields = snapshot.meta.node_fields;
  const types = snapshot.meta.node_types[0];
  const width = fields.length;
  const [typeAt, nameAt, sizeAt] = ["type", "name", "self_size"].map((field) => fields.indexOf(field));
  const groups = new Map<string, { bytes: number; count: number }>();
  let total = 0;
  for (let at = 0; at < nodes.length; at += width) {
    const type = types[nodes[at + (typeAt ?? 0)] ?? 0] ?? "?";
    const bytes = nodes[at + (sizeAt ?? 0)] ?? 0;
    const name = strings[nodes[at + (nameAt ?? 0)] ?? 0] ?? "?";
    const key =
      type === "object" || type === "closure"
        ? `${type} ${name}`
        : type === "native"
          ? `native ${name.slice(0, 40)}`
          : type;
    const group = groups.get(key) ?? { bytes: 0, count: 0 };
    group.bytes += bytes;
    group.count++;
    groups.set(key, group);
    total += bytes;
  }
  console.log(`${(total / 2 ** 20).toFixed(1)} MiB in ${nodes.length / width} nodes`);
  for (const [key, { bytes, count }] of [...groups].sort((a, b) => b[1].bytes - a[1].bytes).slice(0, top))
    console.log(`${(bytes / 2 ** 20).toFixed(2).padStart(8)} MiB ${String(count).padStart(9)}  ${key}`);
}

interface ProfileNode {
  callFrame: { functionName: string; url: string; lineNumber: number };
  selfSize: number;
  children: ProfileNode[];
}

interface SamplingProfile {
  head: ProfileNode;
}

function summariseProfile({ head }: SamplingProfile): void {
  const byFunction = new Map<string, number>();
  const byPlace = new Map<string, number>();
  let total = 0;
  const visit = (node: ProfileNode) => {
    const { functionName, url, lineNumber } = node.callFrame;
    if (node.selfSize > 0) {
      const fn = `${functionName || "(anonymous)"} ${shortUrl(url)}:${lineNumber + 1}`;
      byFunction.set(fn, (byFunction.get(fn) ?? 0) + node.selfSize);
      const place = placeOf(url);
      byPlace.set(place, (byPlace.get(place) ?? 0) + node.selfSize);
      total += node.selfSize;
    }
    for (const child of node.children) visit(child);
  };
  visit(head);
  console.log(`${(total / 2 ** 20).toFixed(1)} MiB sampled`);
  const print = (title: string, map: Map<string, number>) => {
    console.log(`\n${title}`);
    for (const [key, bytes] of [...map].sort((a, b) => b[1] - a[1]).slice(0, top))
      console.log(`${((100 * bytes) / total).toFixed(1).padStart(5)}%  ${key}`);
  };
  print("by function", byFunction);
  print("by place", byPlace);
}

function shortUrl(url: string): string {
  const at = url.lastIndexOf("node_modules/");
  if (at >= 0) return url.slice(at + "node_modules/".length);
  const src = url.indexOf("/apps/");
  return src >= 0 ? url.slice(src + 1) : url;
}

function placeOf(url: string): string {
  if (url === "") return "(V8/native)";
  if (url.startsWith("node:")) return url;
  const at = url.lastIndexOf("node_modules/");
  if (at >= 0) {
    const parts = url.slice(at + "node_modules/".length).split("/");
    return parts[0]?.startsWith("@") === true ? `${parts[0]}/${parts[1] ?? ""}` : (parts[0] ?? "?");
  }
  return shortUrl(url);
}
