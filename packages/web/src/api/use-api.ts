import { useCallback, useEffect, useState } from "react";
import type { RouteInput, RouteName, RouteResponse } from "@ring3/protocol";
import { call } from "./client.ts";

export type ApiState<T> = {
  readonly data: T | undefined;
  readonly error: unknown;
  readonly loading: boolean;
  /** Fetches again, keeping the current data on screen until the new answer arrives. */
  readonly reload: () => void;
  readonly setData: (update: (data: T | undefined) => T | undefined) => void;
};

/**
 * Loads one route while the component is mounted and again whenever `input` changes (compared as JSON);
 * an answer that arrives after a newer request started is dropped.
 */
export function useApi<N extends RouteName>(name: N, input: RouteInput<N> | undefined): ApiState<RouteResponse<N>> {
  const [data, setDataState] = useState<RouteResponse<N> | undefined>(undefined);
  const [error, setError] = useState<unknown>(undefined);
  const [loading, setLoading] = useState(input !== undefined);
  const [generation, setGeneration] = useState(0);
  // The request is keyed by its JSON: a new object with the same content does not fetch again.
  const key = input === undefined ? undefined : JSON.stringify(input);

  useEffect(() => {
    if (key === undefined) return;
    const controller = new AbortController();
    setLoading(true);
    call(name, JSON.parse(key) as RouteInput<N>, { signal: controller.signal }).then(
      (result) => {
        if (controller.signal.aborted) return;
        setDataState(result);
        setError(undefined);
        setLoading(false);
      },
      (cause: unknown) => {
        if (controller.signal.aborted) return;
        setError(cause);
        setLoading(false);
      },
    );
    return () => controller.abort();
  }, [name, key, generation]);

  const reload = useCallback(() => setGeneration((g) => g + 1), []);
  const setData = useCallback((update: (data: RouteResponse<N> | undefined) => RouteResponse<N> | undefined) => {
    setDataState(update);
  }, []);
  return { data, error, loading, reload, setData };
}
