import type {
  Command,
  EnrollmentToken,
  FieldFilter,
  Host,
  HostPage,
  LoginResponse,
  StoredEvent,
} from "@ring3/protocol";
import { ROUTES } from "@ring3/protocol";
import { LinkClient, describeAnswer } from "../src/link/link-client.ts";

/** Polls `probe` until it returns a value, failing after `timeoutMs`: tests wait for things, never sleep. */
export async function waitUntil<T>(
  what: string,
  probe: () => Promise<T | undefined> | T | undefined,
  timeoutMs = 20_000,
): Promise<T> {
  const until = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > until) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

/**
 * The console API as an admin sees it, over the real HTTP(S) listener: what the tests check the agent's
 * deliveries against. Uses the agent's own client (it pins the server's CA like the agent does).
 */
export class ConsoleApi {
  private readonly client: LinkClient;

  private constructor(client: LinkClient) {
    this.client = client;
  }

  static async login(url: string, password: string, ca?: string): Promise<ConsoleApi> {
    const client = new LinkClient({ serverUrl: url, ...(ca === undefined ? {} : { ca }) });
    const api = new ConsoleApi(client);
    const session = await api.call<LoginResponse>("POST", ROUTES.login.path, { username: "admin", password });
    client.setCredential(session.token);
    return api;
  }

  async call<T>(method: "GET" | "POST", path: string, body?: unknown): Promise<T> {
    const response = await this.client.request(method, path, body === undefined ? {} : { body });
    if (response.status !== 200) throw new Error(`${method} ${path}: ${describeAnswer(response)}`);
    return response.body as T;
  }

  async enrollmentToken(): Promise<string> {
    const created = await this.call<EnrollmentToken & { token: string }>("POST", ROUTES.createEnrollmentToken.path, {
      ttlSeconds: 600,
      maxUses: 1,
      description: "test agent",
    });
    return created.token;
  }

  /** The first page of hosts: these tests enroll a few. */
  async hosts(): Promise<Host[]> {
    return (await this.call<HostPage>("GET", ROUTES.listHosts.path)).items;
  }

  host(id: string): Promise<Host> {
    return this.call<Host>("GET", ROUTES.getHost.path.replace(":id", id));
  }

  /** Every stored event of a host matching the filters, all pages. */
  async events(hostId: string, filters: FieldFilter[] = []): Promise<StoredEvent[]> {
    const out: StoredEvent[] = [];
    let cursor: string | undefined;
    do {
      const page = await this.call<{ items: StoredEvent[]; nextCursor?: string }>("POST", ROUTES.searchEvents.path, {
        hostId,
        filters,
        limit: 1000,
        ...(cursor === undefined ? {} : { cursor }),
      });
      out.push(...page.items);
      cursor = page.nextCursor;
    } while (cursor !== undefined);
    return out;
  }

  command(hostId: string, request: unknown): Promise<Command> {
    return this.call<Command>("POST", ROUTES.createCommand.path.replace(":id", hostId), {
      request,
      timeoutSeconds: 60,
    });
  }

  getCommand(id: string): Promise<Command> {
    return this.call<Command>("GET", ROUTES.getCommand.path.replace(":id", id));
  }

  close(): void {
    this.client.close();
  }
}

/** Ids that occur more than once. */
export function duplicates(ids: readonly string[]): string[] {
  const seen = new Set<string>();
  const twice = new Set<string>();
  for (const id of ids) (seen.has(id) ? twice : seen).add(id);
  return [...twice];
}
