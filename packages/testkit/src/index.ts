export { REPO_ROOT, sharedDataDir, SHARED_DATA_MISSING } from "./shared-data.ts";
