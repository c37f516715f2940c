#!/usr/bin/env node
// The `ring3` command. npm scripts and npx put the pinned Node (the `node` package) first on PATH,
// which runs the TypeScript sources directly through type stripping.
import { main } from "../src/main.ts";

process.exitCode = await main(process.argv.slice(2));
