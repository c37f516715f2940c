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

export function useRoute(): Route {
  const [route, setRoute] = useState(() => parse(window.location.hash));
  useEffect(() => {
    const onChange = () => setRoute(parse(window.location.hash));
    window.addEventListener("hashchange", onChange);
    return () => window.removeEventListener("hashchange", onChange);
  }, []);
  return route;
}

export function navigate(target: string): void {
  window.location.hash = target.replace(/^#/, "");
}
