import { useState } from "react";
import type { Host } from "@ring3/protocol";
import { useApi } from "../api/use-api.ts";

/** Hosts offered at once; typing part of a hostname narrows a fleet of thousands to these. */
const OFFERED = 50;

/**
 * Picks one host of a fleet too large for one list: the hostname typed narrows the server's host list (any
 * case), and the matches are offered by name. Hosts that share a hostname (a machine that enrolled again)
 * are told apart by their id.
 */
export function HostPicker({ value, onChange }: { value: string; onChange: (hostId: string) => void }) {
  const [text, setText] = useState("");
  const [chosen, setChosen] = useState<Host | undefined>(undefined);
  const offered = useApi("listHosts", { query: { limit: OFFERED, ...(text.trim() === "" ? {} : { q: text.trim() }) } });
  const hosts = offered.data?.items ?? [];
  // The chosen host stays a choice while the text no longer matches it.
  const options =
    chosen !== undefined && chosen.id === value && !hosts.some((h) => h.id === value) ? [chosen, ...hosts] : hosts;
  const named = new Map<string, number>();
  for (const host of options) named.set(host.hostname, (named.get(host.hostname) ?? 0) + 1);
  return (
    <>
      <label>
        Host name
        <input
          type="search"
          aria-label="Host name"
          placeholder="filter hosts"
          value={text}
          size={14}
          onChange={(e) => setText(e.target.value)}
        />
      </label>
      <label>
        Host
        <select
          aria-label="Host"
          value={value}
          onChange={(e) => {
            setChosen(options.find((h) => h.id === e.target.value));
            onChange(e.target.value);
          }}
        >
          <option value="">all hosts</option>
          {options.map((host) => (
            <option key={host.id} value={host.id}>
              {host.hostname}
              {(named.get(host.hostname) ?? 0) > 1 ? ` (${host.id.slice(0, 8)})` : ""}
            </option>
          ))}
          {offered.data?.nextCursor !== undefined ? (
            <option disabled value="more">
              … more: type part of a name
            </option>
          ) : null}
        </select>
      </label>
    </>
  );
}
