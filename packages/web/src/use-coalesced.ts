import { useCallback, useEffect, useRef } from "react";

/**
 * A trigger that runs `action` once, `ms` after the first call of a burst: live messages come one per host,
 * and a fleet back from a server restart is thousands at once, so the counts they change are fetched once per
 * burst. The latest `action` runs (it closes over the latest state); a pending run is dropped on unmount.
 */
export function useCoalesced(action: () => void, ms: number): () => void {
  const latest = useRef(action);
  useEffect(() => {
    latest.current = action;
  });
  const timer = useRef<ReturnType<typeof setTimeout> | undefined>(undefined);
  useEffect(() => () => clearTimeout(timer.current), []);
  return useCallback(() => {
    timer.current ??= setTimeout(() => {
      timer.current = undefined;
      latest.current();
    }, ms);
  }, [ms]);
}
