import { StoreError } from "./store-error.ts";

/**
 * Keyset pagination: a cursor is the sort key of the last row a page returned (never an offset, so a page
 * costs the same at row 10 and at row 10 million), tagged with the listing it belongs to. Opaque to clients:
 * base64url of a JSON array.
 */
export function encodeCursor(listing: string, key: readonly (number | string)[]): string {
  return Buffer.from(JSON.stringify([listing, ...key])).toString("base64url");
}

/** The key of a cursor made by `encodeCursor(listing, …)` whose parts have these types. */
export function decodeCursor(
  cursor: string,
  listing: string,
  types: readonly ("number" | "string")[],
): (number | string)[] {
  let parsed: unknown;
  try {
    parsed = JSON.parse(Buffer.from(cursor, "base64url").toString("utf8"));
  } catch {
    parsed = undefined;
  }
  if (
    !Array.isArray(parsed) ||
    parsed[0] !== listing ||
    parsed.length !== types.length + 1 ||
    !types.every((type, i) => typeof parsed[i + 1] === type && (type === "string" || Number.isFinite(parsed[i + 1])))
  ) {
    throw new StoreError("R3_ERR_STORE_BAD_CURSOR", `not a cursor of this ${listing} listing`);
  }
  return parsed.slice(1) as (number | string)[];
}
