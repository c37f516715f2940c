export { main } from "./main.ts";
export type { CliIo, CliCommand } from "./cli-io.ts";
export { ExitCode } from "./cli-io.ts";
