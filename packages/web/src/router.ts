import { useEffect, useState } from "react";

// Links are pure (no window): modules that tests run under Node build them too.
export { href, withQuery } from "./links.ts";

/**
 * Hash routes (`#/alerts/a1?x=y`): the server serves one index.html at `/`, and a reload or a shared link
 * needs no server-side fallback.
 */
export type Route = { readonly path: readonly string[]; readonly query: URLSearchParams };

function parse(hash: string): Route {
  const text = hash.replace(/^#/, "");
  const [path = "", query = ""] = text.split("?", 2);
  return {
    path: path
      .split("/")
      .filter((part) => part !== "")
      .map((part) => decodeURIComponent(part)),
    query: new URLSearchParams(query),
  };
}

/**
 * The mounted `useRoute` hooks, which `navigate` tells at once: the browser fires `hashchange` a task later, and
 * until then a control whose state is the route (the hosts page's health checkboxes) would be put back to the
 * old route's state by React, and a click on it would seem to do nothing.
 */
const routeListeners = new Set<() => void>();

function currentRoute(): { readonly hash: string; readonly route: Route } {
  const hash = window.location.hash;
  return { hash, route: parse(hash) };
}

export function useRoute(): Route {
  const [state, setState] = useState(currentRoute);
  useEffect(() => {
    // Told twice of a navigation (at once, then by hashchange): the route is parsed again only if it moved.
    const onChange = () => setState((seen) => (seen.hash === window.location.hash ? seen : currentRoute()));
    routeListeners.add(onChange);
    window.addEventListener("hashchange", onChange);
    return () => {
      routeListeners.delete(onChange);
      window.removeEventListener("hashchange", onChange);
    };
  }, []);
  return state.route;
}

export function navigate(target: string): void {
  window.location.hash = target.replace(/^#/, "");
  for (const listener of routeListeners) listener();
}
