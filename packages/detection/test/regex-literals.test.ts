import assert from "node:assert/strict";
import { test } from "node:test";
import { requiredRegexLiterals } from "../src/regex-literals.ts";

test("regex literals: runs of plain characters and escaped punctuation, lower-cased", () => {
  assert.deepEqual(requiredRegexLiterals("cmd.{0,5}/c.+PowerShell"), ["powershell"]);
  assert.deepEqual(requiredRegexLiterals("\\\\AppData\\\\Roaming"), ["\\appdata\\roaming"]);
  assert.deepEqual(requiredRegexLiterals("evil\\.exe|bad\\.dll"), ["evil.exe", "bad.dll"]);
  assert.equal(requiredRegexLiterals("[a-f0-9]{64}"), undefined);
  assert.equal(requiredRegexLiterals("ab|[0-9]+"), undefined);
});

test("regex literals: RE2's control escapes stand for their characters", () => {
  // SigmaHQ: `CommandLine|re: '\n\n\n\n\n\n'`, a command line padded with line feeds.
  assert.deepEqual(requiredRegexLiterals("\\n\\n\\n\\n\\n\\n"), ["\n\n\n\n\n\n"]);
  assert.deepEqual(requiredRegexLiterals("x\\r\\n\\tY+"), ["x\r\n\ty"]);
  // Other escapes (`\x0a`, `\d`) still end a run.
  assert.equal(requiredRegexLiterals("\\x0a\\x0a\\x0a"), undefined);
  assert.deepEqual(requiredRegexLiterals("ab\\dcdef"), ["cdef"]);
});
