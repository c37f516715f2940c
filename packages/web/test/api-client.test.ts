import assert from "node:assert/strict";
import { test } from "node:test";
import { ROUTES } from "@ring3/protocol";
import { fillPath, queryString } from "../src/api/client.ts";

test("fillPath puts encoded parameters into a route's path", () => {
  assert.equal(fillPath(ROUTES.getAlert.path, { id: "a:1/x" }), "/api/v1/alerts/a%3A1%2Fx");
  assert.equal(fillPath(ROUTES.commandResult.path, { id: "c1" }), "/api/v1/agent/commands/c1/result");
  // A rule named by its title may hold any character.
  assert.equal(
    fillPath(ROUTES.getRule.path, { id: "Suspicious ? & # title" }),
    "/api/v1/rules/Suspicious%20%3F%20%26%20%23%20title",
  );
});

test("fillPath refuses a missing parameter instead of calling a wrong URL", () => {
  assert.throws(() => fillPath(ROUTES.getAlert.path, {}), /missing path parameter 'id'/);
  assert.throws(() => fillPath(ROUTES.getAlert.path, undefined), /missing path parameter 'id'/);
});

test("queryString repeats array keys and leaves out empty values", () => {
  assert.equal(
    queryString({ status: ["new", "in_progress"], level: [], q: "", limit: 1000, hostId: undefined, order: "desc" }),
    "?status=new&status=in_progress&limit=1000&order=desc",
  );
  assert.equal(queryString({ q: "a&b=c d" }), "?q=a%26b%3Dc+d");
  assert.equal(queryString({}), "");
  assert.equal(queryString(undefined), "");
});
