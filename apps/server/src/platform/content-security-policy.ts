/**
 * The Content-Security-Policy of every document the server sends (the web app's shell and the API reference
 * page): scripts and styles only from this origin, never inline, so injected markup cannot run code. Images
 * may come from any https origin because cover photos are links to wherever the organizer keeps them (and
 * photos from the object store). Same-origin fetches and the realtime WebSocket are covered by 'self'; when
 * the web app uploads photos straight to S3, that bucket's origin must join connect-src.
 * No upgrade-insecure-requests: a self-hosted instance may be served over plain http on a local network,
 * where that directive would break every asset.
 */
export const DOCUMENT_CSP_DIRECTIVES: Record<string, string[]> = {
  "default-src": ["'self'"],
  "base-uri": ["'self'"],
  "connect-src": ["'self'"],
  "font-src": ["'self'", "data:"],
  "form-action": ["'self'"],
  "frame-ancestors": ["'self'"],
  "img-src": ["'self'", "data:", "blob:", "https:"],
  "object-src": ["'none'"],
  "script-src": ["'self'"],
  "script-src-attr": ["'none'"],
  "style-src": ["'self'"],
};
