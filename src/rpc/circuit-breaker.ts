/**
 * The pipeline's breakers, built on the one CircuitBreaker primitive (util/circuit-breaker.ts):
 *
 * - one per endpoint (node × service × method), as Moleculer keys them: a method that fails
 *   or hangs on one node pauses that method there, never the node's other methods nor the
 *   method elsewhere. Fed by endpoint faults (classify.ts: attempt caps, UNAVAILABLE answers).
 * - one per node, fed only by failures that prove the node unreachable (not sent, connection
 *   lost, node left). Membership confirms: when it reports the node alive again (a refuted
 *   suspicion, a rejoin), the node breaker closes at once.
 *
 * A call is allowed when both let it through. The caller's own deadline (deadline_exceeded),
 * local refusals and draining targets count for nothing: they only give back a probe slot.
 */
import { P2PError } from "../errors.js";
import type { Clock } from "../util/clock.js";
import { CircuitBreaker, type BreakerOptions, type BreakerState } from "../util/circuit-breaker.js";
import { classify } from "./classify.js";

export type { BreakerState } from "../util/circuit-breaker.js";

export interface BreakerSetOptions {
  /** Per (node, service, method); default: Moleculer's 0.5 over ≥ 20 calls in 60 s, 10 s open. */
  endpoint?: BreakerOptions;
  /** Per node, unreachability only; default NODE_BREAKER_OPTIONS. */
  node?: BreakerOptions;
}

/** Unreachability is clear-cut and membership is quick to confirm it: a small window suffices. */
export const NODE_BREAKER_OPTIONS: Required<BreakerOptions> = {
  failureRate: 0.5,
  minCalls: 5,
  windowMs: 10_000,
  openMs: 5_000,
  halfOpenMax: 1,
};

export interface EndpointBreakerState {
  nodeId: string;
  service: string;
  method: string;
  state: BreakerState;
}

interface NodeBreakers {
  node: CircuitBreaker;
  /** service → method → breaker */
  endpoints: Map<string, Map<string, CircuitBreaker>>;
}

export class BreakerSet {
  private readonly nodes = new Map<string, NodeBreakers>();
  private readonly endpointOptions: BreakerOptions;
  private readonly nodeOptions: BreakerOptions;

  constructor(
    private readonly clock: Clock,
    options: BreakerSetOptions = {},
  ) {
    this.endpointOptions = options.endpoint ?? {};
    this.nodeOptions = { ...NODE_BREAKER_OPTIONS, ...options.node };
  }

  /**
   * May a call to this endpoint go out now? A `true` may reserve half-open probe slots:
   * report the outcome with onSuccess / onFailure exactly once.
   */
  allow(nodeId: string, service: string, method: string): boolean {
    const entry = this.nodes.get(nodeId);
    if (entry === undefined) return true;
    if (!entry.node.tryAcquire()) return false;
    const endpoint = entry.endpoints.get(service)?.get(method);
    if (endpoint === undefined || endpoint.tryAcquire()) return true;
    entry.node.release();
    return false;
  }

  /** Successes count too: the breakers trip on a failure rate over every call. */
  onSuccess(nodeId: string, service: string, method: string): void {
    const entry = this.entry(nodeId);
    entry.node.success();
    this.endpoint(entry, service, method).success();
  }

  onFailure(nodeId: string, service: string, method: string, err: P2PError): void {
    const c = classify(err);
    if (c.nodeFault) {
      const entry = this.entry(nodeId);
      entry.node.failure();
      entry.endpoints.get(service)?.get(method)?.release();
    } else if (c.endpointFault) {
      const entry = this.entry(nodeId);
      entry.node.release();
      this.endpoint(entry, service, method).failure();
    } else if (c.kind === "answered") {
      this.onSuccess(nodeId, service, method); // an answer proves both up
    } else {
      const entry = this.nodes.get(nodeId);
      entry?.node.release();
      entry?.endpoints.get(service)?.get(method)?.release();
    }
  }

  /** The node-level state (unreachability). */
  nodeState(nodeId: string): BreakerState {
    return this.nodes.get(nodeId)?.node.state ?? "closed";
  }

  state(nodeId: string, service: string, method: string): BreakerState {
    return this.nodes.get(nodeId)?.endpoints.get(service)?.get(method)?.state ?? "closed";
  }

  /** Every endpoint breaker known, for metrics (departed nodes are forgotten, so absent). */
  endpoints(): EndpointBreakerState[] {
    const out: EndpointBreakerState[] = [];
    for (const [nodeId, entry] of this.nodes) {
      for (const [service, methods] of entry.endpoints) {
        for (const [method, breaker] of methods) out.push({ nodeId, service, method, state: breaker.state });
      }
    }
    return out;
  }

  /** Node-level breakers known, for metrics. */
  nodeStates(): Array<{ nodeId: string; state: BreakerState }> {
    return [...this.nodes].map(([nodeId, entry]) => ({ nodeId, state: entry.node.state }));
  }

  /** Membership says the node is alive (again): it is reachable, whatever failed before. */
  confirmAlive(nodeId: string): void {
    this.nodes.get(nodeId)?.node.reset();
  }

  /** The error for a call refused because every breaker on its way is open (e.g. `?node=`). */
  openError(nodeId: string): P2PError {
    return new P2PError("UNAVAILABLE", `node ${nodeId} is failing; calls to it are paused`, {
      reason: "circuit_open",
      node: nodeId,
      state: this.nodeState(nodeId),
    });
  }

  /** Forget a node that left: a returning node starts closed, and its series go. */
  forget(nodeId: string): void {
    this.nodes.delete(nodeId);
  }

  private entry(nodeId: string): NodeBreakers {
    let entry = this.nodes.get(nodeId);
    if (entry === undefined) {
      entry = { node: new CircuitBreaker(this.clock, this.nodeOptions), endpoints: new Map() };
      this.nodes.set(nodeId, entry);
    }
    return entry;
  }

  private endpoint(entry: NodeBreakers, service: string, method: string): CircuitBreaker {
    let methods = entry.endpoints.get(service);
    if (methods === undefined) entry.endpoints.set(service, (methods = new Map()));
    let breaker = methods.get(method);
    if (breaker === undefined) methods.set(method, (breaker = new CircuitBreaker(this.clock, this.endpointOptions)));
    return breaker;
  }
}
