import { useCallback, useEffect } from "react";
import { page, track, type Properties } from "./index.ts";

/** Records a page view when the component mounts and whenever `path` changes (pass the router's path). */
export function usePageView(path: string): void {
  useEffect(() => {
    page({ path });
  }, [path]);
}

/** A stable `track(name, properties)` for event handlers. */
export function useTrack(): (name: string, properties?: Properties) => void {
  return useCallback((name: string, properties?: Properties) => {
    track(name, properties);
  }, []);
}
