import type { StoredEvent } from "@ring3/protocol";
import { fieldText } from "../format.ts";

/** Fields that say what an event is about, in the order an analyst reads them (Sigma taxonomy names). */
const SUMMARY_FIELDS = [
  "Image",
  "CommandLine",
  "TargetFilename",
  "DestinationIp",
  "DestinationPort",
  "DestinationHostname",
  "TargetObject",
  "QueryName",
  "User",
] as const;

export function eventKind(event: StoredEvent): string {
  const { category, service, product } = event.logsource;
  return category ?? service ?? product ?? "event";
}

/** One line for a list: the first few summary fields present. */
export function eventSummary(event: StoredEvent): string {
  const parts: string[] = [];
  for (const name of SUMMARY_FIELDS) {
    const value = fieldText(event.fields[name]);
    if (value !== "") parts.push(name === "DestinationPort" ? `:${value}` : value);
    if (parts.length >= 3) break;
  }
  return parts.join("  ");
}

/** Every field of an event as a two-column table. */
export function EventFields({ event }: { event: StoredEvent }) {
  const entries = Object.entries(event.fields).sort(([a], [b]) => a.localeCompare(b));
  return (
    <table className="fields">
      <tbody>
        {entries.map(([name, value]) => (
          <tr key={name}>
            <th scope="row">{name}</th>
            <td>
              <code>{fieldText(value)}</code>
            </td>
          </tr>
        ))}
      </tbody>
    </table>
  );
}
