/** The strong ETag of a versioned resource: `"<version>"`. */
export function formatEtag(version: number): string {
  return `"${version}"`;
}

/**
 * Whether an `If-Match` header lets a write on `version` go ahead (RFC 9110): no header, `*`, or a list
 * naming the current strong ETag. Weak tags never match, since If-Match compares strongly.
 */
export function ifMatchAllows(header: string | undefined, version: number): boolean {
  if (header === undefined) return true;
  const current = formatEtag(version);
  return header
    .split(",")
    .map((tag) => tag.trim())
    .some((tag) => tag === "*" || tag === current);
}
