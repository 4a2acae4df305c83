/**
 * One TCP connection (RFC 9293 Transmission Control Block): the state machine, the send and
 * receive sequence spaces, options (RFC 7323 window scale / timestamps / PAWS, RFC 2018 SACK),
 * loss recovery (RFC 6675 with a SACK scoreboard, RFC 6582 NewReno without), RTO (RFC 6298),
 * delayed ACK, Nagle, persist and keepalive timers, and RFC 5961 hardening.
 *
 * All state is plain fields (numbers, booleans, rings) so `snapshot()` can carry a live
 * connection to another host. Timers are deadlines (ms, Infinity when off) that the engine's
 * `poll(now)` runs. Sequence space layout of the send side:
 *
 * ```
 *  ISS  SND.UNA        sndBase            SND.NXT      SND.MAX     dataEnd (+1 if FIN)
 *   |------|---acked----|----in the ring: unacked / unsent bytes------------|
 * ```
 * `sndBase` is the sequence number of the send ring's head (ISS+1 until data is acknowledged);
 * `SND.MAX` is the highest sequence number sent (SND.NXT goes back to SND.UNA after an RTO).
 */

import type { Clock } from "../../core/clock.ts";
import type { Rng } from "../../core/rng.ts";
import { addr_equal, type IpAddr } from "../addr.ts";
import type { IpOutput } from "../ip_io.ts";
import { TX_HEADROOM } from "../ip_io.ts";
import type { TcpErrorKind, TcpEvent, TcpSocketCore, TcpStateName } from "../socket_core.ts";
import {
  emit_tcp,
  TCP_ACK,
  TCP_FIN,
  TCP_HEADER_LEN,
  tcp_options_len,
  TCP_PSH,
  TCP_RST,
  TCP_SYN,
  type TcpFields,
  type TcpView,
} from "../wire/mod.ts";
import { Assembler } from "./assembler.ts";
import { type CongestionControl, type CongestionName, createCongestion } from "./congestion.ts";
import { ByteRing } from "./ring.ts";
import { Rack, type RackSnapshot } from "./rack.ts";
import { RttEstimator } from "./rtt.ts";
import { SackScoreboard } from "./scoreboard.ts";
import { SEG_LOST, SEG_RETRANS, SEG_SACKED, SegLog, type SegLogSnapshot } from "./seg_log.ts";
import { seq_add, seq_diff, seq_ge, seq_gt, seq_le, seq_lt, seq_max, seq_min } from "./seq.ts";

/** Pending-event bits, flushed by the engine in this order. */
export const EV_ACCEPT = 1;
export const EV_ESTABLISHED = 2;
export const EV_READABLE = 4;
export const EV_WRITABLE = 8;
export const EV_ERROR = 16;
export const EV_CLOSED = 32;
/** A passive open's SYN arrived and its listener wants to hear of it (TcpListener.onSyn). */
export const EV_SYN = 64;

/** Counters shared by all connections of an engine. */
export interface TcpStats {
  segmentsIn: number;
  segmentsOut: number;
  bytesIn: number;
  bytesOut: number;
  /** Every segment re-sent (RTO, fast or SACK recovery). */
  retransmits: number;
  /** Retransmissions chosen by RFC 6675 from the SACK scoreboard. */
  sackRetransmits: number;
  /** Fast retransmissions without SACK (RFC 5681 / RFC 6582). */
  fastRetransmits: number;
  rtoTimeouts: number;
  fastRecoveries: number;
  challengeAcks: number;
  /** Challenge ACKs not sent because of the rate limit (RFC 5961 §7). */
  challengeAcksSuppressed: number;
  resetsIn: number;
  resetsOut: number;
  activeOpens: number;
  passiveOpens: number;
  /** SYNs refused because a listener's SYN backlog was full. */
  synBacklogRefusals: number;
  zeroWindowProbes: number;
  keepaliveProbes: number;
  /** sendIp returned false (counted as a loss; the timer retransmits). */
  ipSendFailures: number;
  /** Segments the NIC refused (queue full) and that were sent again later: not losses. */
  txBlocked: number;
  /** Tail loss probes sent (RFC 8985 §7). */
  tlpProbes: number;
  /** Recoveries (fast or RTO) found spurious and undone (RFC 3522 Eifel / D-SACK, RFC 4015). */
  spuriousRecoveries: number;
  /** D-SACK blocks received (RFC 2883): the peer got some data twice. */
  dsacksIn: number;
  /** D-SACK blocks sent for duplicate data received (RFC 2883 §4). */
  dsacksOut: number;
  /** New connections accepted from a SYN that reused a TIME-WAIT connection's ports (RFC 6191). */
  timeWaitReopens: number;
  drops: Record<string, number>;
}

export function newStats(): TcpStats {
  return {
    segmentsIn: 0,
    segmentsOut: 0,
    bytesIn: 0,
    bytesOut: 0,
    retransmits: 0,
    sackRetransmits: 0,
    fastRetransmits: 0,
    rtoTimeouts: 0,
    fastRecoveries: 0,
    challengeAcks: 0,
    challengeAcksSuppressed: 0,
    resetsIn: 0,
    resetsOut: 0,
    activeOpens: 0,
    passiveOpens: 0,
    synBacklogRefusals: 0,
    zeroWindowProbes: 0,
    keepaliveProbes: 0,
    ipSendFailures: 0,
    txBlocked: 0,
    tlpProbes: 0,
    spuriousRecoveries: 0,
    dsacksIn: 0,
    dsacksOut: 0,
    timeWaitReopens: 0,
    drops: {},
  };
}

/** Resolved engine options every connection reads. */
export interface TcbConfig {
  congestion: CongestionName;
  sendBuffer: number;
  recvBuffer: number;
  timeWaitMs: number;
  finWait2Ms: number;
  delayedAckMs: number;
  maxRetries: number;
  synRetries: number;
  initialRto: number;
  minRto: number;
  maxRto: number;
  keepAliveIntervalMs: number;
  keepAliveProbes: number;
  windowScaling: boolean;
  timestamps: boolean;
  sack: boolean;
}

/** What a connection needs from its engine. */
/** Retry delay after the NIC refused a segment: about the time a NIC queue needs to drain. */
const TX_RETRY_MS = 1;

export interface TcbHost {
  readonly ip: IpOutput;
  readonly clock: Clock;
  readonly rng: Rng;
  readonly stats: TcpStats;
  readonly cfg: TcbConfig;
  /** Shared header fields for emit_tcp (one object, reused). */
  readonly fields: TcpFields;
  /** Shared scratch for SACK blocks. */
  readonly sackTmp: number[];
  /** The timestamp clock offset for this address pair (RFC 7323 §5.4). */
  tsOffsetFor(local: IpAddr, remote: IpAddr): number;
  mark(tcb: Tcb, bits: number): void;
  /** The connection reached CLOSED: remove it from the tables. */
  detach(tcb: Tcb): void;
  /** RFC 5961 §7 rate limit: may a challenge ACK go out now? */
  challengeAllowed(now: number): boolean;
  /** The connection whose segment is being processed: output() follows the event flush. */
  readonly postOutput: Tcb | undefined;
  /** An API call begins / ends: events it raised are flushed at the end, never inside it. */
  /** An application call on `tcb` begins (its deadlines may change); events wait until leave. */
  enter(tcb?: Tcb): void;
  leave(): void;
}

const DUP_THRESH = 3;
/**
 * How long the ACK that completes an active open, or that answers a FIN in ESTABLISHED, waits
 * for the application's reply to carry it. A delayed ACK (RFC 9293 §3.8.6.3, RFC 1122 §4.2.3.2:
 * allowed, under 500 ms), kept short: the reply is normally written within the same event-loop
 * turn (microseconds), and when none comes the peer waits 1 ms more. Between two processes each
 * frame costs a wake-up of the switch and of the peer (measured here: ~90 µs of CPU for a
 * sendmmsg that wakes a sleeping process, in a VM), and these two pure ACKs were 2 of the 10
 * frames of an HTTP request on a fresh connection (7 now: stack/http/two_stacks_test.ts).
 * Linux delays them too: the SYN,ACK's ACK while a write is pending
 * (tcp_rcv_synsent_state_process), the FIN's once tcp_fin put the socket in pingpong mode.
 */
const ACK_SOON_MS = 1;
/** RFC 8985 §7.2 WCDelAckT: the worst-case delayed ACK timer a lone tail segment may wait for. */
const WC_DEL_ACK_MS = 200;
/** Floor of the probe timeout (as Linux's TCP_TIMEOUT_MIN-based 10 ms): timer granularity. */
const MIN_PTO_MS = 10;
const MAX_PERSIST_MS = 60000;
const DEFAULT_MSS_V4 = 536;
const DEFAULT_MSS_V6 = 1220;

/** Numeric/boolean/string fields carried by `snapshot()` as they are. */
const PLAIN_FIELDS = [
  "state",
  "localPort",
  "remotePort",
  "error",
  "passive",
  "iss",
  "sndUna",
  "sndNxt",
  "sndMax",
  "sndWnd",
  "sndWl1",
  "sndWl2",
  "maxSndWnd",
  "sndBase",
  "sndWscale",
  "finPending",
  "irs",
  "rcvNxt",
  "rcvAdv",
  "rcvWscale",
  "rcvFin",
  "rcvFinSeq",
  "rcvMss",
  "mss",
  "peerMss",
  "tsOk",
  "sackOk",
  "tsRecent",
  "lastAckSent",
  "dupAcks",
  "inRecovery",
  "recoveryPoint",
  "recover",
  "highRxt",
  "lossEdge",
  "rttSeq",
  "retries",
  "persistBackoff",
  "keepProbes",
  "keepIdle",
  "noDelay",
  "userClosed",
  "wantWritable",
  "ackNow",
  "bytesSinceAck",
  "closedEmitted",
] as const;

/**
 * Deadlines (Infinity = off) and past instants, stored relative to the snapshot's `now` so they
 * mean the same on another host's clock; Infinity is stored as null (JSON has no Infinity).
 */
const TIME_FIELDS = [
  "rtoAt",
  "delackAt",
  "persistAt",
  "keepAt",
  "twAt",
  "rttTime",
  "lastRecvAt",
  "lastSendAt",
  "rackAt",
  "tlpAt",
] as const;

/** Loss-recovery fields added with RACK-TLP: carried in `TcbSnapshot.rack`, defaulted if absent. */
const RECOVERY_FIELDS = {
  rtoRecovery: false,
  undoMarker: false,
  undoRetrans: 0,
  retransStamp: -1,
  tlpEndSeq: -1,
  tlpIsRetrans: false,
  tlpTsval: 0,
  dsackL: 0,
  dsackR: 0,
} as const;

export interface TcbSnapshot {
  localAddr: number[];
  remoteAddr: number[];
  plain: Record<string, number | boolean | string | null>;
  times: Record<string, number | null>;
  /** The timestamp clock's current TSval, so the restored side continues it (RFC 7323 §5.4). */
  tsNow: number;
  snd: { capacity: number; data: Uint8Array; length: number };
  rcv: { capacity: number; data: Uint8Array; length: number };
  asm: Array<[number, number]>;
  sacked: number[];
  rtt: { srtt: number; rttvar: number; rto: number; has: boolean };
  cc: { name: CongestionName; state: Record<string, number | string> };
  /** RACK-TLP state (absent in snapshots from before it). */
  rack?: {
    state: RackSnapshot;
    log: SegLogSnapshot;
    fields: Record<string, number | boolean>;
    ccPrior: Record<string, number | string> | null;
  };
}

export class Tcb implements TcpSocketCore {
  state: TcpStateName = "CLOSED";
  readonly localAddr: IpAddr;
  localPort: number;
  readonly remoteAddr: IpAddr;
  remotePort: number;
  error: TcpErrorKind | undefined = undefined;
  onEvent: ((ev: TcpEvent) => void) | undefined = undefined;

  /** Engine bookkeeping: pending event bits, demux hash, the listener of a passive open. */
  events = 0;
  hash = 0;
  listener:
    | { removePending(t: Tcb): void; deliver(t: Tcb): void; announce(t: Tcb): void }
    | undefined = undefined;
  /** Handed to the application while half-open (TcpListener.onSyn): it hears how it ends. */
  announced = false;
  passive = false;
  /** The IP pseudo-header sum (without length), fixed for the connection. */
  pseudo = 0;

  // Send sequence space (RFC 9293 §3.3.1).
  iss = 0;
  sndUna = 0;
  sndNxt = 0;
  sndMax = 0;
  sndWnd = 0;
  sndWl1 = 0;
  sndWl2 = 0;
  maxSndWnd = 0;
  sndBase = 0;
  sndWscale = 0;
  finPending = false;
  snd: ByteRing;

  // Receive sequence space.
  irs = 0;
  rcvNxt = 0;
  /** Right edge of the window last advertised (RCV.NXT + RCV.WND then). */
  rcvAdv = 0;
  rcvWscale = 0;
  /** Our receive side is finished: the peer's FIN was consumed. */
  rcvFin = false;
  /** Sequence number of a FIN seen beyond a hole, or -1. */
  rcvFinSeq = -1;
  /** Largest segment seen from the peer (for delayed ACK and receiver SWS). */
  rcvMss = DEFAULT_MSS_V4;
  rcv: ByteRing;
  asm: Assembler;

  // Options.
  /** Effective send MSS: data bytes per full segment (timestamp option already deducted). */
  mss = DEFAULT_MSS_V4;
  peerMss = DEFAULT_MSS_V4;
  tsOk = false;
  sackOk = false;
  tsRecent = 0;
  tsOffset = 0;
  lastAckSent = 0;

  // Congestion control and recovery.
  cc: CongestionControl;
  rtt: RttEstimator;
  sb = new SackScoreboard();
  dupAcks = 0;
  inRecovery = false;
  /** RFC 6675 RecoveryPoint: SND.MAX when recovery started. */
  recoveryPoint = 0;
  /** RFC 6582 `recover`: no new fast recovery for duplicate ACKs below it (after an RTO). */
  recover = 0;
  /** RFC 6675 HighRxt: retransmissions in this recovery went up to here. */
  highRxt = 0;
  /** Un-SACKed bytes below this edge are deemed lost (IsLost, or the head on entry/partial ACK). */
  lossEdge = 0;
  /** Karn-safe RTT timing of one segment when timestamps are off (-1: none). */
  rttSeq = -1;
  rttTime = 0;

  // RACK-TLP (RFC 8985), used when SACK is on; the DupThresh/NewReno path serves the rest.
  /** Transmit time and state of every segment in flight. */
  log = new SegLog();
  rack = new Rack();
  /** The recovery was entered by an RTO (RFC 8985 §6.3): cwnd grows by slow start meanwhile. */
  rtoRecovery = false;
  /** Undo is possible (RFC 3522/4015): `ccPrior` holds the window before the reduction. */
  undoMarker = false;
  ccPrior: Record<string, number | string> | undefined = undefined;
  /** Retransmissions in this recovery not yet shown spurious by a D-SACK (Linux's undo_retrans). */
  undoRetrans = 0;
  /** TSval of the first retransmission of this recovery (-1: none yet). */
  retransStamp = -1;
  /** A tail loss probe is outstanding up to here (RFC 8985 §7: TLP.end_seq; -1: none). */
  tlpEndSeq = -1;
  tlpIsRetrans = false;
  tlpTsval = 0;
  /** A D-SACK block to report in the next ACK (RFC 2883 §4); empty when equal. */
  dsackL = 0;
  dsackR = 0;
  private readonly sackScratch: number[] = [0, 0, 0, 0, 0, 0, 0, 0];

  // Timers (deadlines, Infinity when off).
  rtoAt = Infinity;
  delackAt = Infinity;
  persistAt = Infinity;
  keepAt = Infinity;
  /** TIME-WAIT expiry, or the FIN-WAIT-2 timeout of a closed socket. */
  twAt = Infinity;
  /** RACK reordering timer (RFC 8985 §6.2 step 5) and the probe timeout (§7.2). */
  rackAt = Infinity;
  tlpAt = Infinity;
  /** When to retry after the NIC refused a segment (local back-pressure); not migrated. */
  txRetryAt = Infinity;
  /** Set by the engine while this connection waits in its list of touched ones (see poll). */
  touched = false;
  retries = 0;
  persistBackoff = 0;
  keepProbes = 0;
  keepIdle = 0;
  lastRecvAt = 0;
  lastSendAt = 0;

  noDelay = false;
  userClosed = false;
  wantWritable = false;
  ackNow = false;
  bytesSinceAck = 0;
  closedEmitted = false;

  readonly host: TcbHost;

  constructor(
    host: TcbHost,
    localAddr: IpAddr,
    localPort: number,
    remoteAddr: IpAddr,
    remotePort: number,
  ) {
    this.host = host;
    this.localAddr = localAddr.slice();
    this.localPort = localPort;
    this.remoteAddr = remoteAddr.slice();
    this.remotePort = remotePort;
    const cfg = host.cfg;
    this.snd = new ByteRing(cfg.sendBuffer);
    this.rcv = new ByteRing(cfg.recvBuffer);
    this.asm = new Assembler(32);
    this.rtt = new RttEstimator({
      initialRto: cfg.initialRto,
      minRto: cfg.minRto,
      maxRto: cfg.maxRto,
    });
    const v6 = localAddr.length === 16;
    this.mss = this.peerMss = this.rcvMss = v6 ? DEFAULT_MSS_V6 : DEFAULT_MSS_V4;
    const now = host.clock.now();
    this.cc = createCongestion(cfg.congestion, this.mss, now);
    this.lastRecvAt = this.lastSendAt = now;
    // RFC 7323 §5.4: an offset keeps TSval from revealing uptime; a keyed hash of the address
    // pair rather than a draw per connection keeps it increasing across connections (RFC 6191).
    this.tsOffset = host.tsOffsetFor(localAddr, remoteAddr);
    let s = 0;
    if (cfg.windowScaling) { while (s < 14 && (cfg.recvBuffer >>> s) > 65535) s++; }
    this.rcvWscale = s;
  }

  // ---------------------------------------------------------------------------------------------
  // Socket API (TcpSocketCore)

  recv(into: Uint8Array): number {
    const n = this.rcv.read(into);
    if (n === 0) return this.rcvFin ? -1 : 0;
    // Inside the engine's input the ACK follows the event flush anyway (see output()).
    if (this.host.postOutput !== this && this.windowUpdateDue()) {
      this.host.enter(this);
      this.sendAck(this.host.clock.now());
      this.host.leave();
    }
    return n;
  }

  /**
   * Whether reads opened the window enough to send an ACK just to announce it. Receiver SWS
   * avoidance (RFC 9293 §3.8.6.2.2): the right edge must move by min(RCV.BUFF/2, MSS); we wait
   * for 2 MSS, as BSD does. And only while the window the peer still has is under 2 MSS: with
   * more, the peer can send two more full segments, and their ACK (every second full segment,
   * RFC 5681 §4.2) carries the new edge anyway. Without that condition every passive open sent
   * one ACK for nothing: the SYN,ACK window is unscaled (at most 64 KiB, RFC 7323 §2.2), so the
   * first read "opened" the window to the buffer's size and a pure ACK went out just before the
   * response that would have carried it (one more frame per HTTP exchange).
   */
  private windowUpdateDue(): boolean {
    if (!this.isSynchronized() || this.rcvFin || this.state === "TIME-WAIT") return false;
    const cur = seq_diff(this.rcvAdv, this.rcvNxt);
    if (cur >= 2 * this.rcvMss) return false;
    const w = Math.min(this.rcv.capacity - this.rcv.length, 65535 * 2 ** this.rcvWscale);
    return w - cur >= Math.min(this.rcv.capacity >>> 1, 2 * this.rcvMss);
  }

  send(from: Uint8Array): number {
    if (this.finPending || this.error !== undefined) return 0;
    if (
      this.state !== "ESTABLISHED" && this.state !== "CLOSE-WAIT" && this.state !== "SYN-SENT" &&
      this.state !== "SYN-RECEIVED"
    ) return 0;
    const n = this.snd.write(from);
    if (n < from.length) this.wantWritable = true;
    if (n > 0 && (this.state === "ESTABLISHED" || this.state === "CLOSE-WAIT")) {
      this.host.enter(this);
      this.output(this.host.clock.now());
      this.host.leave();
    }
    return n;
  }

  shutdownWrite(): void {
    if (this.finPending) return;
    this.host.enter(this);
    switch (this.state) {
      case "SYN-SENT":
      case "SYN-RECEIVED":
        this.finPending = true; // FIN goes out once established (RFC 9293 §3.10.4).
        break;
      case "ESTABLISHED":
        this.finPending = true;
        this.state = "FIN-WAIT-1";
        this.output(this.host.clock.now());
        break;
      case "CLOSE-WAIT":
        this.finPending = true;
        this.state = "LAST-ACK";
        this.output(this.host.clock.now());
        break;
    }
    this.host.leave();
  }

  close(): void {
    this.host.enter(this);
    const now = this.host.clock.now();
    this.userClosed = true;
    if (this.state === "SYN-SENT" || this.state === "CLOSED") {
      this.toClosed(undefined);
    } else if (this.rcv.length > 0 && this.isSynchronized()) {
      // RFC 1122 §4.2.2.13 / RFC 9293 §3.6.1: closing with unread data loses it; tell the peer.
      this.sendRst(now);
      this.toClosed(undefined);
    } else {
      this.shutdownWrite();
      if (this.state === "FIN-WAIT-2") this.twAt = now + this.host.cfg.finWait2Ms;
    }
    this.host.leave();
  }

  abort(): void {
    this.host.enter(this);
    if (
      (this.isSynchronized() && this.state !== "TIME-WAIT") || this.state === "SYN-RECEIVED"
    ) this.sendRst(this.host.clock.now());
    this.userClosed = true;
    this.toClosed(undefined);
    this.host.leave();
  }

  setNoDelay(on: boolean): void {
    this.noDelay = on;
    if (on && this.isSynchronized()) {
      this.host.enter(this);
      this.output(this.host.clock.now());
      this.host.leave();
    }
  }

  setKeepAlive(idleMs: number): void {
    this.keepIdle = idleMs > 0 ? idleMs : 0;
    this.keepProbes = 0;
    this.keepAt = this.keepIdle > 0 ? this.lastRecvAt + this.keepIdle : Infinity;
    this.host.enter(this);
    this.host.leave();
  }

  // ---------------------------------------------------------------------------------------------
  // Opening

  /** Active open: send SYN (RFC 9293 §3.10.1). */
  openActive(now: number): void {
    this.iss = this.host.rng.u32();
    this.sndUna = this.iss;
    this.sndNxt = this.sndMax = seq_add(this.iss, 1);
    this.sndBase = this.sndNxt;
    this.recover = this.iss;
    this.state = "SYN-SENT";
    this.sendSyn(now);
    this.rttSeq = this.iss;
    this.rttTime = now;
    this.rtoAt = now + this.rtt.rto;
  }

  /** Passive open from a SYN a listener accepted (RFC 9293 §3.10.7.2). */
  openPassive(v: TcpView, now: number): void {
    this.passive = true;
    this.irs = v.seq_number;
    this.rcvNxt = seq_add(this.irs, 1);
    this.rcvAdv = this.rcvNxt;
    this.negotiate(v);
    this.tsRecent = v.ts_val;
    this.iss = this.host.rng.u32();
    this.sndUna = this.iss;
    this.sndNxt = this.sndMax = seq_add(this.iss, 1);
    this.sndBase = this.sndNxt;
    this.recover = this.iss;
    this.sndWnd = v.window; // never scaled in a SYN (RFC 7323 §2.2)
    this.maxSndWnd = this.sndWnd;
    this.sndWl1 = v.seq_number;
    this.sndWl2 = this.iss;
    this.state = "SYN-RECEIVED";
    this.sendSyn(now);
    this.rttSeq = this.iss;
    this.rttTime = now;
    this.rtoAt = now + this.rtt.rto;
  }

  /** Apply the peer's SYN options: MSS, window scale, SACK-permitted, timestamps. */
  negotiate(v: TcpView): void {
    const cfg = this.host.cfg;
    const v6 = this.remoteAddr.length === 16;
    this.peerMss = v.mss > 0 ? v.mss : (v6 ? DEFAULT_MSS_V6 : DEFAULT_MSS_V4);
    if (cfg.windowScaling && v.window_scale >= 0) {
      this.sndWscale = Math.min(v.window_scale, 14); // RFC 7323 §2.3
    } else {
      this.sndWscale = 0;
      this.rcvWscale = 0;
    }
    this.sackOk = cfg.sack && v.sack_permitted;
    this.tsOk = cfg.timestamps && v.has_timestamps;
    this.updateMss();
  }

  /** Effective send MSS (RFC 9293 §3.7.1; RFC 6691: the MSS excludes options, so deduct ours). */
  updateMss(): void {
    const path = this.host.ip.maxSegmentTo(this.remoteAddr) - TCP_HEADER_LEN;
    const m = Math.min(this.peerMss, path) - (this.tsOk ? 12 : 0);
    this.mss = Math.max(m, 64);
    if (this.cc) this.cc.smss = this.mss;
  }

  /** Handshake done: window, congestion state, and the right events. */
  private establish(now: number): void {
    this.state = "ESTABLISHED";
    this.cc = createCongestion(this.host.cfg.congestion, this.mss, now);
    this.rtoAt = Infinity;
    this.retries = 0;
    this.lastRecvAt = now;
    if (this.keepIdle > 0) this.keepAt = now + this.keepIdle;
    if (this.passive && this.listener) this.host.mark(this, EV_ACCEPT);
    else this.host.mark(this, EV_ESTABLISHED);
    if (this.finPending) this.state = "FIN-WAIT-1";
  }

  /**
   * An ACK that may wait until the end of what the application does in reply (ACK_SOON_MS),
   * so that its next segment carries it; a delayed-ACK deadline that comes sooner stays.
   */
  private ackSoon(now: number): void {
    if (this.delackAt > now + ACK_SOON_MS) this.delackAt = now + ACK_SOON_MS;
  }

  // ---------------------------------------------------------------------------------------------
  // Input (RFC 9293 §3.10.7)

  /**
   * Whether a SYN for this connection in TIME-WAIT may open a new incarnation (RFC 6191 §2,
   * extending RFC 1122 §4.2.2.13): it must be newer than anything of the old one — a larger
   * timestamp when both use them, else a sequence number beyond the old RCV.NXT. Anything
   * else keeps TIME-WAIT (the usual ACK answers it). The caller checks for a listener.
   */
  acceptsReopen(v: TcpView): boolean {
    const f = v.flags;
    if ((f & (TCP_SYN | TCP_ACK | TCP_RST | TCP_FIN)) !== TCP_SYN) return false;
    const seqNewer = seq_gt(v.seq_number, this.rcvNxt);
    const tsNew = this.host.cfg.timestamps && v.has_timestamps;
    if (!this.tsOk) return tsNew || seqNewer;
    if (!tsNew) return seqNewer;
    if (v.ts_val === this.tsRecent) return seqNewer;
    return seq_gt(v.ts_val, this.tsRecent);
  }

  /** One segment for this connection (checksum and options already validated). */
  segment(v: TcpView, now: number): void {
    // No output here: the engine calls output() after the application saw the events, so the
    // ACK carries the window its reads opened and any reply data rides along.
    if (this.state === "SYN-SENT") this.inputSynSent(v, now);
    else if (this.state !== "CLOSED") this.inputSynchronized(v, now);
  }

  private inputSynSent(v: TcpView, now: number): void {
    const flags = v.flags;
    const ack = v.ack_number;
    let ackOk = false;
    if (flags & TCP_ACK) {
      if (seq_le(ack, this.iss) || seq_gt(ack, this.sndMax)) {
        if (!(flags & TCP_RST)) this.rstFor(ack, now);
        this.drop("bad_ack");
        return;
      }
      ackOk = true;
    }
    if (flags & TCP_RST) {
      if (ackOk) {
        this.host.stats.resetsIn++;
        this.toClosed("refused");
      } else this.drop("rst_without_ack");
      return;
    }
    if (!(flags & TCP_SYN)) {
      this.drop("no_syn");
      return;
    }
    this.irs = v.seq_number;
    this.rcvNxt = seq_add(this.irs, 1);
    // Our SYN offered min(buffer, 64 KiB) (unscaled, RFC 7323 §2.2) and the peer may use it from
    // its ISN on: that is the window it holds. (RCV.NXT alone would look like a closed window
    // and trigger a window update, one more frame, instead of letting the ACK wait.)
    this.rcvAdv = seq_add(this.rcvNxt, Math.min(this.rcv.capacity, 65535));
    this.negotiate(v);
    if (this.tsOk) this.tsRecent = v.ts_val;
    this.lastRecvAt = now;
    if (ackOk) {
      this.sndUna = ack;
      this.sndWnd = v.window;
      this.maxSndWnd = this.sndWnd;
      this.sndWl1 = v.seq_number;
      this.sndWl2 = ack;
      // The SYN's RTT is Karn-safe only when it was not retransmitted.
      if (this.retries === 0) this.rtt.sample(now - this.rttTime);
      this.rttSeq = -1;
      this.establish(now);
      // The handshake's last ACK may wait a moment (see ACK_SOON_MS): a client that talks first
      // writes its request now, and the ACK rides on it.
      this.ackSoon(now);
    } else {
      // Simultaneous open (RFC 9293 §3.5, figure 7): answer with SYN,ACK on the same ISS.
      this.state = "SYN-RECEIVED";
      this.sndWnd = v.window;
      this.maxSndWnd = this.sndWnd;
      this.sndWl1 = v.seq_number;
      this.sndWl2 = this.iss;
      this.sendSyn(now);
    }
  }

  private inputSynchronized(v: TcpView, now: number): void {
    const flags = v.flags;
    const seq = v.seq_number;
    const plen = v.payload_len;
    const segLen = plen + ((flags & TCP_SYN) ? 1 : 0) + ((flags & TCP_FIN) ? 1 : 0);
    const stats = this.host.stats;

    // PAWS (RFC 7323 §5.3): an old timestamp marks an old duplicate.
    if (
      this.tsOk && v.has_timestamps && !(flags & TCP_RST) && seq_lt(v.ts_val, this.tsRecent) &&
      this.state !== "SYN-RECEIVED"
    ) {
      this.drop("paws");
      this.ackNow = true;
      return;
    }

    // A SYN again in SYN-RECEIVED: the peer's retransmitted SYN (our SYN,ACK was lost) gets the
    // SYN,ACK again; its SYN,ACK (simultaneous open) completes the handshake at once instead of
    // waiting for the ACK that the RFC's sequence check would trade first.
    if (
      this.state === "SYN-RECEIVED" && (flags & TCP_SYN) && !(flags & TCP_RST) && seq === this.irs
    ) {
      const ack = v.ack_number;
      if ((flags & TCP_ACK) && seq_lt(this.sndUna, ack) && seq_le(ack, this.sndMax)) {
        this.sndUna = ack;
        this.sndWnd = v.window;
        this.maxSndWnd = Math.max(this.maxSndWnd, this.sndWnd);
        this.sndWl1 = seq;
        this.sndWl2 = ack;
        this.rttSeq = -1;
        this.establish(now);
        this.ackNow = true;
      } else if (!(flags & TCP_ACK)) {
        this.sendSyn(now);
      } else this.rstFor(ack, now);
      return;
    }

    // First: sequence number acceptability (RFC 9293 §3.10.7.4, the four cases).
    const wnd = Math.max(seq_diff(this.rcvAdv, this.rcvNxt), 0);
    let ok: boolean;
    if (segLen === 0) {
      ok = wnd === 0 ? seq === this.rcvNxt : seq_le(this.rcvNxt, seq) && seq_lt(seq, this.rcvAdv);
    } else if (wnd === 0) {
      ok = false;
    } else {
      const last = seq_add(seq, segLen - 1);
      ok = (seq_le(this.rcvNxt, seq) && seq_lt(seq, this.rcvAdv)) ||
        (seq_le(this.rcvNxt, last) && seq_lt(last, this.rcvAdv));
    }
    // An old duplicate (all of it below RCV.NXT) still carries a current ACK: as BSD does, take
    // its ACK and answer with an ACK (keepalive and zero-window probes, SEG.SEQ = SND.UNA - 1,
    // rely on that answer) rather than drop it; RST and SYN still need the window checks.
    if (
      !ok && (flags & TCP_ACK) && !(flags & (TCP_RST | TCP_SYN)) &&
      (segLen > 0 ? seq_le(seq_add(seq, segLen), this.rcvNxt) : seq_lt(seq, this.rcvNxt)) &&
      seq_diff(this.rcvNxt, seq) <= this.rcv.capacity + 65535
    ) {
      ok = true;
      this.ackNow = true;
    }
    if (!ok) {
      this.drop("out_of_window");
      if (!(flags & TCP_RST)) {
        this.ackNow = true;
        // A retransmitted FIN in TIME-WAIT restarts the 2 MSL wait (RFC 9293 §3.10.7.4).
        if (this.state === "TIME-WAIT" && (flags & TCP_FIN)) {
          this.twAt = now + this.host.cfg.timeWaitMs;
        }
      }
      return;
    }
    this.lastRecvAt = now;
    this.keepProbes = 0;

    // Second: RST (RFC 5961 §3.2): only an exact match resets; in-window gets a challenge ACK.
    if (flags & TCP_RST) {
      if (seq !== this.rcvNxt) {
        this.challengeAck(now);
        return;
      }
      stats.resetsIn++;
      switch (this.state) {
        case "SYN-RECEIVED":
          // A passive open goes back to LISTEN (RFC 9293 §3.10.7.4), unseen by the application
          // — unless it was handed out at its SYN (TcpListener.onSyn): for that one it is a reset.
          this.toClosed(!this.passive ? "refused" : this.announced ? "reset" : undefined);
          return;
        case "CLOSING":
        case "LAST-ACK":
        case "TIME-WAIT":
          this.toClosed(undefined);
          return;
        default:
          this.toClosed("reset");
          return;
      }
    }

    // Fourth: SYN in a synchronized state (RFC 5961 §4): challenge ACK, never reset.
    if (flags & TCP_SYN) {
      this.challengeAck(now);
      return;
    }

    // Fifth: ACK.
    if (!(flags & TCP_ACK)) {
      this.drop("no_ack");
      return;
    }
    const ack = v.ack_number;
    if (this.state === "SYN-RECEIVED") {
      if (seq_lt(this.sndUna, ack) && seq_le(ack, this.sndMax)) {
        this.sndWnd = v.window << this.sndWscale;
        this.maxSndWnd = Math.max(this.maxSndWnd, this.sndWnd);
        this.sndWl1 = seq;
        this.sndWl2 = ack;
        if (this.retries === 0 && this.rttSeq >= 0) this.rtt.sample(now - this.rttTime);
        this.rttSeq = -1;
        this.sndUna = ack;
        this.establish(now);
      } else {
        this.rstFor(ack, now);
        return;
      }
    }
    // RFC 5961 §5.2: ACKs outside [SND.UNA - MAX.SND.WND, SND.MAX] are dropped (blind injection).
    if (seq_gt(ack, this.sndMax)) {
      this.drop("ack_unsent");
      this.challengeAck(now);
      return;
    }
    if (seq_lt(ack, seq_add(this.sndUna, -this.maxSndWnd))) {
      this.drop("ack_too_old");
      this.challengeAck(now);
      return;
    }
    // RFC 7323 §4.3: TS.Recent from the segment that covers Last.ACK.sent.
    if (this.tsOk && v.has_timestamps && seq_le(seq, this.lastAckSent)) this.tsRecent = v.ts_val;

    this.processAck(v, now);
    if (this.state === "CLOSED") return;

    const finAcked = this.finPending && this.sndUna === seq_add(this.dataEnd(), 1);
    switch (this.state) {
      case "FIN-WAIT-1":
        if (finAcked) {
          this.state = "FIN-WAIT-2";
          if (this.userClosed) this.twAt = now + this.host.cfg.finWait2Ms;
        }
        break;
      case "CLOSING":
        if (finAcked) this.enterTimeWait(now);
        break;
      case "LAST-ACK":
        if (finAcked) {
          this.toClosed(undefined);
          return;
        }
        break;
      case "TIME-WAIT":
        if (flags & TCP_FIN) {
          this.ackNow = true;
          this.twAt = now + this.host.cfg.timeWaitMs;
        }
        return;
    }

    // Seventh: segment text.
    if (plen > 0) {
      if (
        this.state === "ESTABLISHED" || this.state === "FIN-WAIT-1" || this.state === "FIN-WAIT-2"
      ) {
        if (this.userClosed) {
          // Nobody will read it: reset, as RFC 1122 §4.2.2.13 / Linux do for an orphaned socket.
          this.sendRst(now);
          this.toClosed(undefined);
          return;
        }
        this.receiveData(v, seq, plen, (flags & TCP_FIN) !== 0, now);
      }
    } else if (flags & TCP_FIN) {
      this.noteFin(seq, now);
    }
    if (this.rcvFinSeq >= 0 && this.rcvFinSeq === this.rcvNxt && !this.rcvFin) this.consumeFin(now);
  }

  private receiveData(v: TcpView, seq: number, plen: number, fin: boolean, now: number): void {
    let off = v.payload_offset;
    let n = plen;
    let s = seq;
    if (seq_lt(s, this.rcvNxt)) {
      // RFC 2883 §4: report the duplicate part in the next ACK (D-SACK), sent at once.
      if (this.sackOk) {
        this.dsackL = s;
        this.dsackR = seq_min(seq_add(s, plen), this.rcvNxt);
        this.ackNow = true;
      }
      const d = seq_diff(this.rcvNxt, s);
      off += d;
      n -= d;
      s = this.rcvNxt;
    }
    if (plen > this.rcvMss) this.rcvMss = plen;
    // Trim to the window we advertised and to the ring (RFC 9293 §3.10.7.4 "trim to window").
    const rel = seq_diff(s, this.rcvNxt);
    const room = Math.min(seq_diff(this.rcvAdv, s), this.rcv.capacity - this.rcv.length - rel);
    if (n > room) {
      n = Math.max(room, 0);
      fin = false;
    }
    if (n > 0) {
      this.host.stats.bytesIn += n;
      this.rcv.writeAt(this.rcv.length + rel, v.buf, off, n);
      if (rel === 0 && this.asm.isEmpty) {
        this.rcv.commit(n);
        this.rcvNxt = seq_add(this.rcvNxt, n);
        this.bytesSinceAck += n;
        this.host.mark(this, EV_READABLE);
        // Delayed ACK (RFC 1122 §4.2.3.2, RFC 5681 §4.2): at least every second full segment,
        // within 40 ms otherwise.
        if (this.bytesSinceAck >= 2 * this.rcvMss) this.ackNow = true;
        else if (this.delackAt === Infinity) this.delackAt = now + this.host.cfg.delayedAckMs;
      } else if (this.asm.add(rel, n)) {
        const k = this.asm.takeFront();
        if (k > 0) {
          this.rcv.commit(k);
          this.rcvNxt = seq_add(this.rcvNxt, k);
          this.host.mark(this, EV_READABLE);
        }
        // Out of order, or filling a hole: ACK at once (RFC 5681 §4.2) so the sender learns fast.
        this.ackNow = true;
      } else {
        this.drop("ooo_ranges");
        this.ackNow = true;
      }
    } else {
      this.ackNow = true; // a duplicate: re-ACK (it may be a lost ACK's retransmission)
    }
    if (fin) this.noteFin(seq_add(seq, plen), now);
  }

  private noteFin(finSeq: number, now: number): void {
    if (
      this.state !== "ESTABLISHED" && this.state !== "FIN-WAIT-1" && this.state !== "FIN-WAIT-2"
    ) {
      this.ackNow = true; // CLOSE-WAIT/CLOSING/LAST-ACK: a retransmitted FIN, re-ACK it
      return;
    }
    this.rcvFinSeq = finSeq;
    if (finSeq === this.rcvNxt) this.consumeFin(now);
    else this.ackNow = true;
  }

  /** The peer's FIN is in order: RCV.NXT covers it (RFC 9293 §3.10.7.4 eighth step). */
  private consumeFin(now: number): void {
    this.rcvNxt = seq_add(this.rcvNxt, 1);
    this.rcvFin = true;
    this.rcvFinSeq = -1;
    // In ESTABLISHED the application usually answers the FIN with its own close at once (an
    // HTTP client after a `Connection: close` response): the ACK may wait a moment for that FIN
    // (see ACK_SOON_MS). Elsewhere (FIN-WAIT-1/2) there is nothing left to send: ACK now.
    if (this.state === "ESTABLISHED" && !this.userClosed) this.ackSoon(now);
    else this.ackNow = true;
    this.host.mark(this, EV_READABLE);
    const finAcked = this.finPending && this.sndUna === seq_add(this.dataEnd(), 1);
    switch (this.state) {
      case "ESTABLISHED":
        this.state = "CLOSE-WAIT";
        break;
      case "FIN-WAIT-1":
        if (finAcked) this.enterTimeWait(now);
        else this.state = "CLOSING";
        break;
      case "FIN-WAIT-2":
        this.enterTimeWait(now);
        break;
    }
  }

  private processAck(v: TcpView, now: number): void {
    const ack = v.ack_number;
    const seq = v.seq_number;
    const rackOn = this.sackOk;
    let windowChanged = false;
    // Window update (RFC 9293 §3.10.7.4): only from a newer segment, so old ones can't shrink it.
    if (seq_lt(this.sndWl1, seq) || (this.sndWl1 === seq && seq_le(this.sndWl2, ack))) {
      const w = v.window << this.sndWscale;
      windowChanged = w !== this.sndWnd;
      this.sndWnd = w;
      this.sndWl1 = seq;
      this.sndWl2 = ack;
      if (w > this.maxSndWnd) this.maxSndWnd = w;
      if (w > 0) {
        this.persistAt = Infinity;
        this.persistBackoff = 0;
      }
    }
    const tsecr = this.tsOk && v.has_timestamps ? v.ts_ecr : -1;
    if (rackOn) this.rack.beginAck();
    let newSack = false;
    let dsack = false;
    if (this.sackOk && v.sack_count > 0) {
      for (let i = 0; i < v.sack_count; i++) {
        const l = v.sack_left(i), r = v.sack_right(i);
        if (!seq_lt(l, r)) continue;
        // RFC 2883 §4: a first block below the cumulative ACK, or inside the second block, is a
        // D-SACK: it reports data received twice, not data held.
        if (
          i === 0 &&
          (seq_le(r, ack) ||
            (v.sack_count > 1 && seq_le(v.sack_left(1), l) && seq_le(r, v.sack_right(1))))
        ) {
          dsack = true;
          this.onDsack(l, r);
          continue;
        }
        // Ignore blocks outside what we sent (RFC 6675 §5).
        if (seq_le(r, ack) || seq_gt(r, this.sndMax)) continue;
        const lo = seq_max(l, ack);
        if (this.sb.add(lo, r)) {
          newSack = true;
          // TSecr echoes the in-order segment (RFC 7323 §4.3), not the SACKed one: no TS check.
          if (rackOn) this.sackLog(lo, r, now, -1);
        }
      }
    }
    if (seq_gt(ack, this.sndUna)) {
      const acked = seq_diff(ack, this.sndUna);
      const flight = seq_diff(this.sndMax, this.sndUna);
      // RTT: TSecr (RFC 7323 §4) is Karn-safe; otherwise the one timed segment.
      if (tsecr >= 0 && tsecr !== 0) {
        const r = seq_diff(this.tsNow(now), tsecr);
        if (r >= 0) {
          this.rtt.sample(r);
          this.rack.noteRtt(r);
        }
      } else if (this.rttSeq >= 0 && seq_gt(ack, this.rttSeq)) {
        this.rtt.sample(now - this.rttTime);
        this.rack.noteRtt(now - this.rttTime);
        this.rttSeq = -1;
      }
      const dataAcked = Math.min(Math.max(seq_diff(ack, this.sndBase), 0), this.snd.length);
      if (dataAcked > 0) {
        this.snd.discard(dataAcked);
        this.sndBase = seq_add(this.sndBase, dataAcked);
        if (this.wantWritable) {
          this.wantWritable = false;
          this.host.mark(this, EV_WRITABLE);
        }
      }
      if (rackOn) {
        // RACK (RFC 8985 §6.2): each segment newly delivered by the cumulative ACK.
        const log = this.log;
        for (let i = log.head; i < log.tail && seq_le(log.end[i], ack); i++) {
          if (!(log.flags[i] & SEG_SACKED)) {
            this.rack.delivered(log, i, now, tsecr, this.tsOffset);
          }
        }
        log.ack(ack);
      }
      this.sndUna = ack;
      if (seq_lt(this.sndNxt, ack)) this.sndNxt = ack;
      if (seq_lt(this.highRxt, ack)) this.highRxt = ack;
      if (seq_lt(this.lossEdge, ack)) this.lossEdge = ack;
      this.sb.advance(ack);
      this.retries = 0;
      if (rackOn && this.tlpEndSeq >= 0 && seq_ge(ack, this.tlpEndSeq)) this.tlpAcked(now, tsecr);
      if (rackOn && this.undoMarker && this.spurious(tsecr)) {
        this.undoRecovery(now);
      } else if (this.inRecovery) {
        if (this.rtoRecovery) this.cc.onAck(acked, now, this.rtt.srtt, flight);
        if (seq_ge(ack, this.recoveryPoint)) {
          this.inRecovery = false;
          this.dupAcks = 0;
          if (!this.rtoRecovery) this.cc.onRecoveryExit(now);
          this.rtoRecovery = false;
          this.undoMarker = false;
          this.ccPrior = undefined;
          this.rack.recoveryDone();
        } else if (!rackOn) {
          // Partial ACK (RFC 6582 §3.2 step 5): the new head is lost too; retransmit it.
          this.lossEdge = seq_max(this.lossEdge, seq_min(seq_add(ack, this.mss), this.sndMax));
          this.highRxt = ack;
          this.dupAcks = 0;
        }
      } else {
        this.dupAcks = 0;
        this.undoMarker = false;
        this.cc.onAck(acked, now, this.rtt.srtt, flight);
      }
      this.rtoAt = this.sndUna === this.sndMax ? Infinity : now + this.rtt.rto;
    } else if (
      ack === this.sndUna && seq_lt(this.sndUna, this.sndMax) && v.payload_len === 0 &&
      !(v.flags & (TCP_SYN | TCP_FIN)) && (!windowChanged || newSack)
    ) {
      this.dupAcks++; // RFC 5681 §2 duplicate ACK
    }
    if (rackOn) {
      // An undo may also follow a D-SACK that arrives on a duplicate ACK.
      if (dsack && this.undoMarker && this.inRecovery && this.spurious(-1)) this.undoRecovery(now);
      this.rackDetect(now);
      this.armTlp(now);
    } else if (this.inRecovery) {
      if (this.sackOk) {
        this.lossEdge = seq_max(this.lossEdge, this.sb.lossEdge(this.sndUna, this.mss));
      }
    } else if (seq_lt(this.sndUna, this.sndMax) && seq_ge(this.sndUna, this.recover)) {
      // RFC 6582 §3.2: only when the ACK covers more than `recover` (not right after an RTO);
      // RFC 6675 §5: three duplicate ACKs, or the scoreboard already shows the head lost.
      const sackLoss = this.sackOk && this.sb.lossEdge(this.sndUna, this.mss) !== this.sndUna;
      if (this.dupAcks >= DUP_THRESH || sackLoss) this.enterRecovery(now);
    }
  }

  /** Mark the log's entries in [l, r) SACKed and tell RACK they were delivered. */
  private sackLog(l: number, r: number, now: number, tsecr: number): void {
    const log = this.log;
    let i = log.split(l);
    if (i < 0) return;
    if (seq_lt(r, log.end[log.tail - 1])) log.split(r);
    i = log.find(l);
    for (; i >= 0 && i < log.tail && seq_le(log.end[i], r); i++) {
      const f = log.flags[i];
      if (f & SEG_SACKED) continue;
      this.rack.delivered(log, i, now, tsecr, this.tsOffset);
      log.setFlags(i, (f & ~(SEG_LOST | SEG_RETRANS)) | SEG_SACKED);
    }
  }

  /** A D-SACK block [l, r) arrived (RFC 2883, RFC 3708). */
  private onDsack(l: number, r: number): void {
    this.host.stats.dsacksIn++;
    this.rack.onDsack(this.sndUna, this.sndMax);
    // One retransmission fewer that may have been needed (Linux's undo_retrans).
    if (this.undoMarker) this.undoRetrans -= Math.max(1, Math.ceil(seq_diff(r, l) / this.mss));
    // RFC 8985 §7.4.2: the probe's D-SACK shows the original arrived: no loss, no reduction.
    if (this.tlpEndSeq >= 0 && this.tlpIsRetrans && seq_le(r, this.tlpEndSeq)) {
      if (seq_ge(r, this.tlpEndSeq)) this.tlpEndSeq = -1;
    }
  }

  /**
   * Whether this recovery's retransmissions were needless: the ACK echoes a TSval from before the
   * first of them (RFC 3522 Eifel detection: the original arrived), or D-SACKs reported every one
   * of them (RFC 3708).
   */
  private spurious(tsecr: number): boolean {
    if (this.retransStamp < 0) return false;
    if (tsecr >= 0 && seq_lt(tsecr, this.retransStamp)) return true;
    return this.undoRetrans <= 0;
  }

  /**
   * Undo a spurious reduction (RFC 4015 §3 for timeouts; RFC 3522 / Linux's undo for fast
   * recovery): the window before it comes back, and nothing stays marked lost; RACK finds any
   * real loss again, now with a wider reordering window.
   */
  private undoRecovery(now: number): void {
    if (this.ccPrior) {
      const cur = this.cc.cwnd;
      this.cc.restore(this.ccPrior);
      if (this.cc.cwnd < cur) this.cc.cwnd = cur;
    }
    this.ccPrior = undefined;
    this.undoMarker = false;
    this.retransStamp = -1;
    this.inRecovery = false;
    this.rtoRecovery = false;
    this.dupAcks = 0;
    this.log.unmarkLost();
    this.rack.reorderingSeen = true;
    this.rack.onDsack(this.sndUna, this.sndMax);
    this.host.stats.spuriousRecoveries++;
    this.rackAt = Infinity;
    void now;
  }

  /** RACK loss detection after an ACK or at the reordering timer; starts recovery on a loss. */
  private rackDetect(now: number): void {
    if (this.log.isEmpty) {
      this.rackAt = Infinity;
      return;
    }
    const reo = this.rack.reoWnd(this.inRecovery, this.log.sackedBytes, this.mss, this.rtt.srtt);
    const timeout = this.rack.detectLoss(this.log, now, reo);
    this.rackAt = timeout > 0 ? now + timeout : Infinity;
    if (this.rack.lostNow > 0 && !this.inRecovery) this.enterRecovery(now);
  }

  /**
   * The ACK covers the tail loss probe (RFC 8985 §7.4.2). A retransmitted probe that repaired a
   * loss (the ACK echoes the probe's own TSval, so the original did not arrive first) costs the
   * congestion response fast recovery would have made.
   */
  private tlpAcked(now: number, tsecr: number): void {
    if (this.tlpIsRetrans && !this.inRecovery && !(tsecr >= 0 && seq_lt(tsecr, this.tlpTsval))) {
      this.cc.onLoss(now, seq_diff(this.sndMax, this.sndUna));
      this.cc.onRecoveryExit(now);
    }
    this.tlpEndSeq = -1;
  }

  /**
   * Arm the probe timeout (RFC 8985 §7.2) while data is in flight and no recovery or probe is
   * under way: PTO = 2*SRTT (plus the worst-case delayed ACK for a lone segment), when it comes
   * before the RTO.
   */
  private armTlp(now: number): void {
    this.tlpAt = Infinity;
    if (
      !this.sackOk || this.inRecovery || this.tlpEndSeq >= 0 || this.sndUna === this.sndMax ||
      !this.rtt.hasSample || this.rtoAt === Infinity
    ) return;
    const st = this.state;
    if (
      st !== "ESTABLISHED" && st !== "CLOSE-WAIT" && st !== "FIN-WAIT-1" && st !== "CLOSING" &&
      st !== "LAST-ACK"
    ) return;
    let pto = Math.max(2 * this.rtt.srtt, MIN_PTO_MS);
    if (seq_diff(this.sndMax, this.sndUna) <= this.mss) pto += WC_DEL_ACK_MS;
    const at = now + pto;
    if (at < this.rtoAt) this.tlpAt = at;
  }

  /**
   * The probe timeout fired (RFC 8985 §7.3): send one new segment if the windows allow, else
   * retransmit the last one, so its ACK (or SACK) lets RACK find a tail loss without an RTO.
   */
  private onTlp(now: number): void {
    if (
      !this.sackOk || this.inRecovery || this.tlpEndSeq >= 0 || this.sndUna === this.sndMax ||
      this.log.isEmpty
    ) return;
    const dataEnd = this.dataEnd();
    const avail = seq_diff(dataEnd, this.sndNxt);
    const wndRoom = seq_diff(seq_add(this.sndUna, this.sndWnd), this.sndNxt);
    let isRetrans = false;
    if (avail > 0 && wndRoom > 0 && this.sndNxt === this.sndMax) {
      const len = Math.min(avail, this.mss, wndRoom);
      const n = this.sendSeg(
        this.sndNxt,
        TCP_ACK | (len === avail ? TCP_PSH : 0),
        seq_diff(this.sndNxt, this.sndBase),
        len,
        now,
      );
      if (n < 0) return;
      this.sndNxt = this.sndMax = seq_add(this.sndNxt, n);
    } else {
      const i = this.log.tail - 1;
      const s = this.log.start[i];
      const off = seq_diff(s, this.sndBase);
      const dataLen = Math.max(Math.min(this.log.len(i), this.snd.length - off), 0);
      const fin = this.finPending && seq_add(s, dataLen) === dataEnd &&
        seq_gt(this.sndMax, dataEnd);
      const n = this.sendSeg(s, TCP_ACK | (fin ? TCP_FIN : 0), off, dataLen, now);
      if (n < 0) return;
      this.host.stats.retransmits++;
      isRetrans = true;
    }
    this.host.stats.tlpProbes++;
    this.tlpEndSeq = this.sndMax;
    this.tlpIsRetrans = isRetrans;
    this.tlpTsval = this.tsNow(now);
    this.rtoAt = now + this.rtt.rto;
  }

  /** Fast retransmit / loss recovery entry (RFC 5681 §3.2, RFC 6675 §5, RFC 6582 §3.2). */
  private enterRecovery(now: number): void {
    this.inRecovery = true;
    this.recoveryPoint = this.recover = this.sndMax;
    if (this.sackOk) {
      // Keep what undo would restore (RFC 3522 / RFC 4015).
      this.ccPrior = this.cc.snapshot();
      this.undoMarker = true;
      this.undoRetrans = 0;
      this.retransStamp = -1;
      this.tlpEndSeq = -1; // this reduction answers for a loss the probe may have repaired
      this.tlpAt = Infinity;
    }
    this.cc.onLoss(now, seq_diff(this.sndMax, this.sndUna));
    this.highRxt = this.sndUna;
    // The head is presumed lost on entry (RFC 6675 §5 step 3: retransmit HighACK+1).
    const head = seq_min(
      seq_add(this.sndUna, this.mss),
      this.sb.nextSackedStart(this.sndUna, this.sndMax),
    );
    this.lossEdge = seq_max(
      head,
      this.sackOk ? this.sb.lossEdge(this.sndUna, this.mss) : this.sndUna,
    );
    this.rttSeq = -1;
    this.host.stats.fastRecoveries++;
  }

  /** RFC 6675 pipe: bytes believed in the network. */
  pipe(): number {
    if (this.sackOk) return this.log.pipe(seq_diff(this.sndMax, this.sndUna));
    let p = seq_diff(this.sndMax, this.sndUna) - this.sb.sackedBytes;
    const from = seq_max(this.highRxt, this.sndUna);
    if (seq_lt(from, this.lossEdge)) p -= this.sb.unsackedIn(from, this.lossEdge);
    // Without SACK each duplicate ACK means a segment left the network (RFC 5681 §3.2 step 4).
    if (!this.sackOk) p -= this.dupAcks * this.mss;
    return p > 0 ? p : 0;
  }

  // ---------------------------------------------------------------------------------------------
  // Output

  /** Sequence number just past the last queued byte (where the FIN goes). */
  dataEnd(): number {
    return seq_add(this.sndBase, this.snd.length);
  }

  isSynchronized(): boolean {
    const s = this.state;
    return s !== "CLOSED" && s !== "LISTEN" && s !== "SYN-SENT" && s !== "SYN-RECEIVED";
  }

  /** Send what the windows allow (batching up to MSS per segment), then any pending ACK. */
  output(now: number): void {
    const st = this.state;
    if (
      st === "ESTABLISHED" || st === "CLOSE-WAIT" || st === "FIN-WAIT-1" || st === "CLOSING" ||
      st === "LAST-ACK"
    ) {
      this.sendData(now);
      if (this.sackOk && this.tlpAt === Infinity) this.armTlp(now);
    }
    if (!this.ackNow && this.windowUpdateDue()) this.ackNow = true;
    if (this.ackNow && st !== "CLOSED" && st !== "SYN-SENT") this.sendAck(now);
  }

  private sendData(now: number): void {
    const dataEnd = this.dataEnd();
    const stats = this.host.stats;
    let blocked = false;
    for (let guard = 0; guard < 100000; guard++) {
      let room: number;
      if (this.inRecovery && this.sackOk) {
        room = this.cc.cwnd - this.pipe();
        if (room < this.mss) break; // RFC 6675 §5 (C): cwnd - pipe >= 1 SMSS
        // NextSeg rule 1 with RACK deciding what is lost (RFC 8985 §6.1).
        let i = this.log.nextLost();
        if (i >= 0) {
          const s = this.log.start[i];
          if (this.log.len(i) > this.mss) {
            this.log.split(seq_add(s, this.mss));
            i = this.log.find(s); // the split may have moved the entries
          }
          const off = seq_diff(s, this.sndBase);
          const dataLen = Math.max(Math.min(this.log.len(i), this.snd.length - off), 0);
          const fin = this.finPending && seq_add(s, dataLen) === dataEnd &&
            seq_gt(this.sndMax, dataEnd);
          const n = this.sendSeg(s, TCP_ACK | (fin ? TCP_FIN : 0), off, dataLen, now);
          if (n < 0) break;
          if (n === 0 && !fin) {
            this.log.setFlags(i, this.log.flags[i] | SEG_RETRANS); // nothing to resend: skip it
            continue;
          }
          stats.retransmits++;
          stats.sackRetransmits++;
          if (this.rtoAt === Infinity) this.rtoAt = now + this.rtt.rto;
          continue;
        }
        // Rule 2: new data, within cwnd - pipe.
      } else if (this.inRecovery) {
        const pipe = this.pipe();
        room = this.cc.cwnd - pipe;
        if (room < this.mss) break; // RFC 6675 §5 (C): cwnd - pipe >= 1 SMSS
        // NextSeg rule 1: the lowest lost, un-retransmitted, un-SACKed bytes.
        let s = seq_max(this.highRxt, this.sndUna);
        for (let k = 0; k < 64; k++) {
          const t = this.sb.skipSacked(s);
          if (t === s) break;
          s = t;
        }
        if (seq_lt(s, this.lossEdge)) {
          const end = this.sb.nextSackedStart(s, this.lossEdge);
          const len = Math.min(seq_diff(end, s), this.mss);
          const off = seq_diff(s, this.sndBase);
          const dataLen = Math.max(Math.min(len, this.snd.length - off), 0);
          const fin = this.finPending && seq_add(s, dataLen) === dataEnd &&
            seq_gt(this.sndMax, dataEnd);
          const n = this.sendSeg(s, TCP_ACK | (fin ? TCP_FIN : 0), off, dataLen, now);
          if (n < 0) break;
          this.highRxt = seq_add(s, Math.max(n + (fin && n === dataLen ? 1 : 0), 1));
          stats.retransmits++;
          if (this.sackOk) stats.sackRetransmits++;
          else stats.fastRetransmits++;
          if (this.rtoAt === Infinity) this.rtoAt = now + this.rtt.rto;
          continue;
        }
        // Rule 2: new data, within cwnd - pipe.
      } else {
        room = this.cc.cwnd - seq_diff(this.sndNxt, this.sndUna);
      }
      // After an RTO (SND.NXT < SND.MAX) step over what the peer already SACKed.
      if (seq_lt(this.sndNxt, this.sndMax) && !this.sb.isEmpty) {
        const t = this.sb.skipSacked(this.sndNxt);
        if (t !== this.sndNxt) {
          this.sndNxt = seq_min(t, this.sndMax);
          continue;
        }
      }
      const avail = seq_diff(dataEnd, this.sndNxt); // -1 once the FIN is out
      const wndRoom = seq_diff(seq_add(this.sndUna, this.sndWnd), this.sndNxt);
      const retrans = seq_lt(this.sndNxt, this.sndMax);
      let len = Math.min(avail, this.mss, wndRoom, room);
      if (retrans && !this.sb.isEmpty && len > 0) {
        const lim = seq_add(this.sndNxt, len);
        len = seq_diff(this.sb.nextSackedStart(this.sndNxt, lim), this.sndNxt);
      }
      const sendFin = this.finPending && avail >= 0 && len >= avail && room > 0;
      if (len <= 0 && !sendFin) {
        if (avail > 0 && wndRoom <= 0) blocked = true;
        break;
      }
      if (len < 0) len = 0;
      if (!sendFin && !retrans && len < this.mss && len < avail) {
        // Sender SWS avoidance (RFC 9293 §3.8.6.2.1): no small segment just because the window is
        // small, unless it is half the largest window the peer offered.
        if (len < (this.maxSndWnd >>> 1) || room < len) {
          if (wndRoom < avail && wndRoom < this.mss) blocked = true;
          break;
        }
      }
      if (
        !sendFin && !retrans && len < this.mss && len === avail && !this.noDelay &&
        seq_lt(this.sndUna, this.sndNxt)
      ) {
        break; // Nagle (RFC 1122 §4.2.3.4): a small tail waits for outstanding data's ACK
      }
      if (this.sndUna === this.sndMax && now - this.lastSendAt > this.rtt.rto) {
        this.cc.onIdleRestart(now); // RFC 5681 §4.1
      }
      const off = seq_diff(this.sndNxt, this.sndBase);
      const flags = TCP_ACK | (len === avail && len > 0 ? TCP_PSH : 0) | (sendFin ? TCP_FIN : 0);
      const n = this.sendSeg(this.sndNxt, flags, off, len, now);
      if (n < 0) break;
      const finSent = sendFin && n === len;
      if (retrans) stats.retransmits++;
      else if (!this.tsOk && this.rttSeq < 0) {
        this.rttSeq = this.sndNxt;
        this.rttTime = now;
      }
      this.sndNxt = seq_add(this.sndNxt, n + (finSent ? 1 : 0));
      if (seq_gt(this.sndNxt, this.sndMax)) this.sndMax = this.sndNxt;
      if (this.rtoAt === Infinity) this.rtoAt = now + this.rtt.rto;
      this.persistAt = Infinity;
      if (n === 0 && !finSent) break;
    }
    // Persist (RFC 9293 §3.8.6.1): data waits on a closed window and nothing is in flight to
    // bring a window update: probe on a backed-off timer.
    if (blocked && this.sndUna === this.sndMax && this.persistAt === Infinity) {
      this.persistAt = now + this.persistInterval();
    }
  }

  private persistInterval(): number {
    return Math.min(this.rtt.rto * 2 ** this.persistBackoff, MAX_PERSIST_MS);
  }

  /** TSval: a millisecond clock with a per-connection offset (RFC 7323 §5.4). */
  tsNow(now: number): number {
    return (Math.floor(now) + this.tsOffset) >>> 0;
  }

  /** Our receive window now, with receiver SWS avoidance (RFC 9293 §3.8.6.2.2). */
  private rcvWindow(): number {
    const cur = Math.max(seq_diff(this.rcvAdv, this.rcvNxt), 0);
    let w = Math.min(this.rcv.capacity - this.rcv.length, 65535 * 2 ** this.rcvWscale);
    if (w - cur < Math.min(this.rcv.capacity >>> 1, this.rcvMss)) w = cur; // keep the old edge
    return w; // never below cur: the window does not shrink (RFC 9293 §3.8.6.2.2)
  }

  /**
   * Write one segment into ip.tx (header + `len` bytes from the send ring at `off`) and send it.
   * Returns the payload bytes actually sent (fewer when the options left less room; a FIN in
   * `flags` is then dropped).
   */
  sendSeg(seq: number, flags: number, off: number, len: number, now: number): number {
    // (-1: the NIC refused the segment for now; see txRetryAt.)
    const host = this.host;
    const f = host.fields;
    const ip = host.ip;
    f.src_port = this.localPort;
    f.dst_port = this.remotePort;
    f.seq_number = seq;
    f.ack_number = (flags & TCP_ACK) ? this.rcvNxt : 0;
    f.mss = -1;
    f.window_scale = -1;
    f.sack_permitted = false;
    f.sack_count = 0;
    f.ts_val = undefined;
    let wnd = 0;
    if (!(flags & TCP_RST)) {
      const w = this.rcvWindow();
      if (flags & TCP_SYN) {
        wnd = Math.min(w, 65535); // never scaled in a SYN (RFC 7323 §2.2)
      } else {
        wnd = Math.floor(w / 2 ** this.rcvWscale);
        if (wnd > 65535) wnd = 65535;
      }
    }
    f.window = wnd;
    if (flags & TCP_SYN) {
      const cfg = host.cfg;
      f.mss = Math.min(ip.maxSegmentTo(this.remoteAddr) - TCP_HEADER_LEN, 65535);
      const synAck = (flags & TCP_ACK) !== 0;
      if (cfg.windowScaling && (!synAck || this.sndWscale > 0 || this.rcvWscale > 0)) {
        f.window_scale = this.rcvWscale;
      }
      if (synAck ? this.sackOk : cfg.sack) f.sack_permitted = true;
      if (synAck ? this.tsOk : cfg.timestamps) {
        f.ts_val = this.tsNow(now);
        f.ts_ecr = synAck ? this.tsRecent : 0;
      }
    } else if (this.tsOk && !(flags & TCP_RST)) {
      f.ts_val = this.tsNow(now);
      f.ts_ecr = this.tsRecent;
    }
    const dsack = this.dsackL !== this.dsackR;
    if (this.sackOk && !(flags & (TCP_SYN | TCP_RST)) && (dsack || !this.asm.isEmpty)) {
      const tmp = host.sackTmp;
      const max = this.tsOk ? 3 : 4;
      let c = 0;
      if (dsack) {
        // RFC 2883 §4: the duplicate range goes first, in this one ACK only.
        tmp[0] = this.dsackL;
        tmp[1] = this.dsackR;
        c = 1;
        host.stats.dsacksOut++;
        this.dsackL = this.dsackR = 0;
      }
      if (!this.asm.isEmpty) {
        const k = this.asm.sackBlocks(c ? this.sackScratch : tmp, max - c);
        const src = c ? this.sackScratch : tmp;
        for (let i = 0; i < 2 * k; i++) tmp[2 * c + i] = seq_add(this.rcvNxt, src[i]);
        c += k;
      }
      f.sack_blocks = tmp;
      f.sack_count = c;
    }
    const hl = TCP_HEADER_LEN + tcp_options_len(f);
    const maxData = ip.maxSegmentTo(this.remoteAddr) - hl;
    let n = len;
    if (n > maxData) {
      n = Math.max(maxData, 0);
      flags &= ~TCP_FIN;
    }
    f.flags = flags;
    const tx = ip.tx;
    if (n > 0) n = this.snd.peek(off, tx, TX_HEADROOM + hl, n);
    emit_tcp(tx, TX_HEADROOM, f, n, this.pseudo);
    const stats = host.stats;
    if (!ip.sendIp(this.localAddr, this.remoteAddr, 6, hl + n)) {
      stats.ipSendFailures++;
      if (ip.txBlocked) {
        // The NIC's queue is full: nothing left, nothing lost. Try again in a moment.
        stats.txBlocked++;
        if (this.txRetryAt === Infinity) this.txRetryAt = now + TX_RETRY_MS;
        return -1;
      }
    }
    stats.segmentsOut++;
    stats.bytesOut += n;
    if (this.sackOk && (n > 0 || (flags & TCP_FIN)) && !(flags & (TCP_SYN | TCP_RST))) {
      // RACK's transmit record (RFC 8985 §5.2), and what undo needs about retransmissions.
      if (this.log.onSend(seq, seq_add(seq, n + ((flags & TCP_FIN) ? 1 : 0)), now)) {
        if (this.undoMarker) {
          this.undoRetrans++;
          if (this.retransStamp < 0) this.retransStamp = this.tsNow(now);
        }
      }
    }
    if (flags & TCP_ACK) {
      this.delackAt = Infinity;
      this.ackNow = false;
      this.bytesSinceAck = 0;
      this.lastAckSent = this.rcvNxt;
      if (!(flags & (TCP_SYN | TCP_RST))) {
        const adv = seq_add(this.rcvNxt, wnd * 2 ** this.rcvWscale);
        if (seq_gt(adv, this.rcvAdv)) this.rcvAdv = adv;
      } else if (flags & TCP_SYN) {
        this.rcvAdv = seq_add(this.rcvNxt, wnd);
      }
    }
    if (n > 0 || (flags & (TCP_SYN | TCP_FIN))) this.lastSendAt = now;
    return n;
  }

  /** SYN (active) or SYN,ACK (passive / simultaneous open), always from ISS. */
  private sendSyn(now: number): void {
    const flags = this.state === "SYN-SENT" ? TCP_SYN : TCP_SYN | TCP_ACK;
    this.sendSeg(this.iss, flags, 0, 0, now);
    if (flags === TCP_SYN) this.rcvAdv = 0;
  }

  /**
   * A pure ACK carries SND.MAX, not SND.NXT (as BSD's tcp_output): after an RTO rewound SND.NXT,
   * SND.NXT may lie below the peer's RCV.NXT, and two such sides would answer each other's
   * "unacceptable" ACKs forever.
   */
  sendAck(now: number): void {
    this.sendSeg(this.sndMax, TCP_ACK, 0, 0, now);
  }

  /** RST for our side of a synchronized connection: SND.MAX, for the reason sendAck gives. */
  private sendRst(now: number): void {
    this.host.stats.resetsOut++;
    this.sendSeg(this.sndMax, TCP_RST | TCP_ACK, 0, 0, now);
  }

  /** <SEQ=SEG.ACK><CTL=RST> for an unacceptable ACK (RFC 9293 §3.10.7.3/4). */
  private rstFor(ack: number, now: number): void {
    this.host.stats.resetsOut++;
    this.sendSeg(ack, TCP_RST, 0, 0, now);
  }

  /** RFC 5961 §3.2/§4.2/§5.2 challenge ACK, rate-limited engine-wide (§7). */
  private challengeAck(now: number): void {
    if (this.host.challengeAllowed(now)) {
      this.host.stats.challengeAcks++;
      this.sendAck(now);
    } else this.host.stats.challengeAcksSuppressed++;
  }

  private drop(reason: string): void {
    const d = this.host.stats.drops;
    d[reason] = (d[reason] ?? 0) + 1;
  }

  // ---------------------------------------------------------------------------------------------
  // Timers

  /** The earliest deadline. */
  nextDeadline(): number {
    return Math.min(
      this.rtoAt,
      this.delackAt,
      this.persistAt,
      this.keepAt,
      this.twAt,
      this.txRetryAt,
      this.rackAt,
      this.tlpAt,
    );
  }

  /** Run what is due at `now`. */
  onTimer(now: number): void {
    if (this.txRetryAt <= now) this.txRetryAt = Infinity; // output() below sends what waited
    if (this.twAt <= now) {
      this.twAt = Infinity;
      if (this.state === "TIME-WAIT" || this.state === "FIN-WAIT-2") {
        this.toClosed(undefined);
        return;
      }
    }
    if (this.rtoAt <= now) {
      this.onRto(now);
      if (this.state === "CLOSED") return;
    }
    if (this.rackAt <= now) {
      this.rackAt = Infinity;
      if (this.sackOk && this.isSynchronized()) this.rackDetect(now);
    }
    if (this.tlpAt <= now) {
      this.tlpAt = Infinity;
      if (this.isSynchronized()) this.onTlp(now);
    }
    if (this.persistAt <= now) {
      this.persistAt = Infinity;
      this.onPersist(now);
    }
    if (this.keepAt <= now) {
      this.keepAt = Infinity;
      this.onKeepalive(now);
      if (this.state === "CLOSED") return;
    }
    if (this.delackAt <= now) {
      this.delackAt = Infinity;
      this.ackNow = true;
    }
    if (this.state !== "CLOSED") this.output(now);
  }

  private onRto(now: number): void {
    const cfg = this.host.cfg;
    this.rtoAt = Infinity;
    if (this.state === "SYN-SENT" || this.state === "SYN-RECEIVED") {
      if (++this.retries > cfg.synRetries) {
        this.toClosed("timeout");
        return;
      }
      this.rtt.backoff();
      this.host.stats.retransmits++;
      this.sendSyn(now);
      this.rtoAt = now + this.rtt.rto;
      return;
    }
    if (this.sndUna === this.sndMax) return;
    if (++this.retries > cfg.maxRetries) {
      this.toClosed("timeout");
      return;
    }
    this.host.stats.rtoTimeouts++;
    if (this.sackOk) {
      this.rtoSack(now);
      return;
    }
    // RFC 6298 §5.4–5.6 and RFC 5681 §3.1: back off, collapse cwnd, go back to SND.UNA.
    this.cc.onTimeout(now, seq_diff(this.sndMax, this.sndUna));
    this.rtt.backoff();
    this.inRecovery = false;
    this.dupAcks = 0;
    this.recover = this.sndMax;
    this.highRxt = this.lossEdge = this.sndUna;
    this.sndNxt = this.sndUna;
    this.rttSeq = -1;
    // RFC 2018 §8: the receiver may have reneged; forget SACKed bits after a timeout.
    this.sb.clear();
    this.rtoAt = now + this.rtt.rto;
  }

  /**
   * RTO with SACK (RFC 8985 §6.3, RFC 6298 §5.4–5.6, RFC 5681 §3.1): back off, collapse cwnd,
   * deem everything outstanding lost and forget SACKs (RFC 2018 §8: the receiver may renege);
   * the lost segments then go out in order as slow start lets the window grow, and RACK finds
   * lost retransmissions among them. SND.NXT stays: nothing is sent twice needlessly.
   */
  private rtoSack(now: number): void {
    if (!this.undoMarker) {
      this.ccPrior = this.cc.snapshot();
      this.undoMarker = true;
    }
    this.undoRetrans = 0;
    this.retransStamp = -1;
    this.cc.onTimeout(now, seq_diff(this.sndMax, this.sndUna));
    this.rtt.backoff();
    this.inRecovery = true;
    this.rtoRecovery = true;
    this.dupAcks = 0;
    this.recoveryPoint = this.recover = this.sndMax;
    this.highRxt = this.lossEdge = this.sndUna;
    this.rttSeq = -1;
    this.sb.clear();
    this.log.markAllLost();
    this.tlpEndSeq = -1;
    this.tlpAt = this.rackAt = Infinity;
    if (this.log.isEmpty) this.sndNxt = this.sndUna; // nothing recorded: plain go-back-N
    this.rtoAt = now + this.rtt.rto;
  }

  private onPersist(now: number): void {
    if (!this.isSynchronized() || this.sndUna !== this.sndMax) return;
    const avail = seq_diff(this.dataEnd(), this.sndNxt);
    if (avail <= 0) return;
    const wndRoom = seq_diff(seq_add(this.sndUna, this.sndWnd), this.sndNxt);
    if (wndRoom > 0) {
      // RFC 9293 §3.8.6.2.1 override: send what the small window takes.
      const len = Math.min(wndRoom, avail, this.mss);
      const n = this.sendSeg(
        this.sndNxt,
        TCP_ACK | TCP_PSH,
        seq_diff(this.sndNxt, this.sndBase),
        len,
        now,
      );
      this.sndNxt = seq_add(this.sndNxt, n);
      if (seq_gt(this.sndNxt, this.sndMax)) this.sndMax = this.sndNxt;
      if (this.rtoAt === Infinity) this.rtoAt = now + this.rtt.rto;
      return;
    }
    // Zero window probe: an out-of-window segment (SND.UNA - 1) makes the receiver answer with
    // its current window (RFC 9293 §3.8.6.1; the same probe Linux sends). Never gives up while
    // the receiver answers.
    this.host.stats.zeroWindowProbes++;
    this.sendSeg(seq_add(this.sndUna, -1), TCP_ACK, 0, 0, now);
    this.persistBackoff++;
    this.persistAt = now + this.persistInterval();
  }

  private onKeepalive(now: number): void {
    if (this.keepIdle <= 0 || (this.state !== "ESTABLISHED" && this.state !== "CLOSE-WAIT")) return;
    const idle = now - this.lastRecvAt;
    if (idle < this.keepIdle && this.keepProbes === 0) {
      this.keepAt = this.lastRecvAt + this.keepIdle;
      return;
    }
    if (this.keepProbes > 0 && now - this.lastRecvAt < this.keepIdle) {
      this.keepProbes = 0;
      this.keepAt = this.lastRecvAt + this.keepIdle;
      return;
    }
    if (this.keepProbes >= this.host.cfg.keepAliveProbes) {
      this.toClosed("timeout");
      return;
    }
    // RFC 1122 §4.2.3.6: a segment with SEG.SEQ = SND.NXT - 1 elicits an ACK.
    this.keepProbes++;
    this.host.stats.keepaliveProbes++;
    this.sendSeg(seq_add(this.sndUna, -1), TCP_ACK, 0, 0, now);
    this.keepAt = now + this.host.cfg.keepAliveIntervalMs;
  }

  private enterTimeWait(now: number): void {
    this.state = "TIME-WAIT";
    this.rtoAt =
      this.persistAt =
      this.keepAt =
      this.rackAt =
      this.tlpAt =
        Infinity;
    this.twAt = now + this.host.cfg.timeWaitMs;
    // Both sides' data is done: the backings can serve new connections during the 2 MSL.
    this.snd.release();
    this.rcv.release();
    this.emitClosed();
  }

  /** Tell the socket layer once that the connection is over (TIME-WAIT or CLOSED). */
  private emitClosed(): void {
    if (this.closedEmitted) return;
    this.closedEmitted = true;
    this.host.mark(this, EV_CLOSED);
  }

  /** Enter CLOSED (with an error kind when it failed) and leave the engine's tables. */
  toClosed(err: TcpErrorKind | undefined): void {
    if (this.state === "CLOSED" && this.closedEmitted) return;
    const wasPassiveHalfOpen = this.passive && this.listener !== undefined &&
      (this.state === "SYN-RECEIVED");
    this.state = "CLOSED";
    this.rtoAt =
      this.delackAt =
      this.persistAt =
      this.keepAt =
      this.twAt =
      this.rackAt =
      this.tlpAt =
        Infinity;
    if (err !== undefined && this.error === undefined) {
      this.error = err;
      this.host.mark(this, EV_ERROR);
    }
    this.snd.release();
    this.rcv.release();
    if (wasPassiveHalfOpen) {
      this.listener!.removePending(this);
      // Never delivered to the application: nobody to tell — unless it was handed out at its SYN.
      if (this.announced) this.emitClosed();
      else this.closedEmitted = true;
    } else this.emitClosed();
    this.host.detach(this);
  }

  // ---------------------------------------------------------------------------------------------
  // Snapshot

  /** The whole connection as plain data; deadlines relative to `now`. */
  snapshot(now: number): TcbSnapshot {
    const self = this as unknown as Record<string, unknown>;
    const plain: Record<string, number | boolean | string | null> = {};
    for (const k of PLAIN_FIELDS) plain[k] = (self[k] ?? null) as number | boolean | string | null;
    const times: Record<string, number | null> = {};
    for (const k of TIME_FIELDS) {
      const t = self[k] as number;
      times[k] = t === Infinity ? null : t - now;
    }
    // The receive ring carries the out-of-order bytes the Assembler describes too.
    return {
      localAddr: Array.from(this.localAddr),
      remoteAddr: Array.from(this.remoteAddr),
      plain,
      times,
      tsNow: this.tsNow(now),
      snd: this.snd.snapshot(),
      rcv: this.rcv.snapshot(this.rcv.length + this.asm.extent),
      asm: this.asm.snapshot(),
      sacked: this.sb.snapshot(),
      rtt: this.rtt.snapshot(),
      cc: { name: this.cc.name, state: this.cc.snapshot() },
      rack: {
        state: this.rack.snapshot(now),
        log: this.log.snapshot(now),
        fields: Object.fromEntries(
          Object.keys(RECOVERY_FIELDS).map((k) => [k, self[k] as number | boolean]),
        ),
        ccPrior: this.ccPrior ?? null,
      },
    };
  }

  /** Rebuild a connection from `snapshot()` at `now` (possibly on another host and clock). */
  static restore(host: TcbHost, s: TcbSnapshot, now: number): Tcb {
    const t = new Tcb(
      host,
      new Uint8Array(s.localAddr),
      Number(s.plain.localPort),
      new Uint8Array(s.remoteAddr),
      Number(s.plain.remotePort),
    );
    const self = t as unknown as Record<string, unknown>;
    for (const k of PLAIN_FIELDS) self[k] = s.plain[k] === null ? undefined : s.plain[k];
    for (const k of TIME_FIELDS) {
      const v = s.times[k];
      self[k] = v === null || v === undefined ? Infinity : now + v;
    }
    t.tsOffset = (s.tsNow - Math.floor(now)) >>> 0;
    t.snd = ByteRing.restore(s.snd);
    t.rcv = ByteRing.restore(s.rcv);
    t.asm = Assembler.restore(s.asm, 32);
    t.sb.restore(s.sacked);
    t.rtt.restore(s.rtt);
    t.cc = createCongestion(s.cc.name, t.mss, now);
    t.cc.restore(s.cc.state);
    if (s.rack) {
      for (const [k, d] of Object.entries(RECOVERY_FIELDS)) {
        const v = s.rack.fields[k];
        self[k] = typeof v === typeof d ? v : d;
      }
      t.rack.restore(s.rack.state, now);
      t.log.restore(s.rack.log, now);
      t.ccPrior = s.rack.ccPrior ?? undefined;
    } else if (t.sackOk && seq_lt(t.sndUna, t.sndMax)) {
      // From an older snapshot: what is in flight counts as one segment sent now.
      t.log.onSend(t.sndUna, t.sndMax, now);
    }
    return t;
  }

  /** Whether this connection is the 4-tuple (local addr/port, remote addr/port). */
  matches(la: IpAddr, lp: number, ra: IpAddr, rp: number): boolean {
    return this.localPort === lp && this.remotePort === rp && addr_equal(this.remoteAddr, ra) &&
      addr_equal(this.localAddr, la);
  }
}
