import type { NetlinkSocket, SocketsAddon } from "../../native.ts";
import { SENSOR_BATCH_MS } from "../../native.ts";
import type { SensorStatusListener } from "../../sensor.ts";
import type { ProcessConnectorEvent } from "./parse.ts";
import {
  CN_IDX_PROC,
  ConnectorSequenceTracker,
  PROC_CN_MCAST_IGNORE,
  PROC_CN_MCAST_LISTEN,
  encodeMulticastOp,
  parseProcessConnectorDatagram,
} from "./parse.ts";

// linux/netlink.h: #define NETLINK_CONNECTOR 11
const NETLINK_CONNECTOR = 11;

export type ProcessConnectorStats = {
  readonly events: number;
  /** Events the kernel numbered but this socket never received (per-CPU sequence gaps). */
  readonly sequenceLost: number;
  readonly enobufs: number;
  readonly ringDrops: number;
};

export type ProcessConnectorOptions = {
  readonly rcvbuf?: number;
  readonly onEvents: (events: readonly ProcessConnectorEvent[]) => void;
  readonly onStatus: SensorStatusListener;
};

/**
 * Subscribes to the process events connector (needs CAP_NET_ADMIN). Fork/exec/exit arrive for every
 * process on the host, with no argv: the tree fills that in from audit or /proc.
 */
export class ProcessConnectorSource {
  static readonly sensorName = "process-connector";
  private readonly addon: SocketsAddon;
  private readonly options: ProcessConnectorOptions;
  private socket: NetlinkSocket | undefined;
  private readonly sequence = new ConnectorSequenceTracker();
  private events = 0;

  constructor(addon: SocketsAddon, options: ProcessConnectorOptions) {
    this.addon = addon;
    this.options = options;
  }

  /** True when listening; false (with a degraded status already reported) when it could not. */
  start(): boolean {
    const name = ProcessConnectorSource.sensorName;
    try {
      this.socket = this.addon.open({
        protocol: NETLINK_CONNECTOR,
        groups: CN_IDX_PROC,
        rcvbuf: this.options.rcvbuf ?? 8 << 20,
        batchMs: SENSOR_BATCH_MS,
      });
      this.addon.start(this.socket, (datagrams) => this.onBatch(datagrams));
      this.addon.send(this.socket, encodeMulticastOp(PROC_CN_MCAST_LISTEN));
    } catch (error) {
      this.closeSocket();
      this.options.onStatus(name, {
        state: "degraded",
        reason: `cannot listen to the process connector: ${(error as Error).message}`,
      });
      return false;
    }
    this.options.onStatus(name, { state: "started", detail: `rcvbuf ${this.socket.rcvbuf} bytes` });
    return true;
  }

  stats(): ProcessConnectorStats {
    const native = this.socket === undefined ? undefined : this.addon.stats(this.socket);
    return {
      events: this.events,
      sequenceLost: this.sequence.lost,
      enobufs: native?.enobufs ?? 0,
      ringDrops: native?.ringDrops ?? 0,
    };
  }

  stop(): void {
    if (this.socket === undefined) return;
    const stats = this.stats();
    try {
      // The kernel counts listeners and skips all work when there are none; tell it we are gone.
      this.addon.send(this.socket, encodeMulticastOp(PROC_CN_MCAST_IGNORE));
    } catch {
      // The socket is closing anyway; the kernel drops the listener when the socket is released.
    }
    this.closeSocket();
    this.options.onStatus(ProcessConnectorSource.sensorName, {
      state: "stopped",
      detail: `${stats.events} events, lost ${stats.sequenceLost} (sequence gaps), ${stats.enobufs} ENOBUFS, ${stats.ringDrops} ring drops`,
    });
  }

  private closeSocket(): void {
    if (this.socket !== undefined) this.addon.close(this.socket);
    this.socket = undefined;
  }

  private onBatch(datagrams: Buffer[]): void {
    if (datagrams.length === 0 && this.socket !== undefined) {
      const error = this.addon.stats(this.socket).error;
      if (error !== null)
        this.options.onStatus(ProcessConnectorSource.sensorName, {
          state: "degraded",
          reason: `read failed: ${error}`,
        });
      return;
    }
    const events: ProcessConnectorEvent[] = [];
    for (const datagram of datagrams) {
      for (const event of parseProcessConnectorDatagram(datagram)) {
        // Acks (anyone's: they are multicast) take a number from the same per-CPU counter.
        this.sequence.observe(event.cpu, event.seq);
        if (event.kind === "ack") {
          if (event.error !== 0) {
            this.options.onStatus(ProcessConnectorSource.sensorName, {
              state: "degraded",
              reason: `the connector refused a listen/ignore request (acks are multicast, possibly another listener's): error ${event.error}`,
            });
          }
          continue;
        }
        events.push(event);
      }
    }
    this.events += events.length;
    if (events.length > 0) this.options.onEvents(events);
  }
}
