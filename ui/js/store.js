// What the page knows about the cluster: snapshots fetched at sign-in (and after each
// reconnect), kept current by the event stream. Views re-render at most every RENDER_MS.
import { get } from "./api.js";
import { MetricsHistory } from "./history.js";

const RENDER_MS = 300;
const REFRESH_MS = 700;
const TIMELINE_MAX = 500;

/** Calls fn at most once per `ms`, always once after the last request. */
function throttle(fn, ms) {
  let timer = null;
  let again = false;
  return () => {
    if (timer) {
      again = true;
      return;
    }
    fn();
    timer = setTimeout(function tick() {
      timer = null;
      if (again) {
        again = false;
        fn();
        timer = setTimeout(tick, ms);
      }
    }, ms);
  };
}

async function optional(path) {
  try {
    return await get(path);
  } catch (err) {
    if (err.status === 404) return null; // route not in this version of the node
    throw err;
  }
}

export class ClusterStore {
  constructor() {
    this.nodes = new Map();
    this.status = null;
    this.me = null;
    this.services = null;
    this.metrics = null;
    this.nodeMetrics = new Map();
    this.history = new MetricsHistory();
    this.timeline = [];
    this.deployments = new Map();
    this.connection = "connecting";
    this.error = null;
    this.version = 0;
    this.listeners = new Set();
    this.notify = throttle(() => {
      this.version += 1;
      for (const fn of this.listeners) fn(this.version);
    }, RENDER_MS);
    this.refreshNodes = throttle(() => this.loadNodes(), REFRESH_MS);
    this.refreshServices = throttle(() => this.loadServices(), REFRESH_MS);
  }

  subscribe(fn) {
    this.listeners.add(fn);
    return () => this.listeners.delete(fn);
  }

  async loadNodes() {
    try {
      const [nodes, status] = await Promise.all([get("/cluster/nodes"), get("/cluster/status")]);
      this.nodes = new Map(nodes.nodes.map((n) => [n.node_id, n]));
      this.status = status;
      this.me ??= status.node_id;
      this.error = null;
    } catch (err) {
      this.error = err.message;
    }
    this.notify();
  }

  async loadServices() {
    try {
      this.services = await optional("/cluster/services");
    } catch (err) {
      this.error = err.message;
    }
    this.notify();
  }

  async load() {
    const metrics = optional("/cluster/metrics").catch(() => null);
    await Promise.all([this.loadNodes(), this.loadServices()]);
    const m = await metrics;
    if (m && !this.metrics) this.applyMetrics(m, false);
  }

  setConnection(state) {
    this.connection = state;
    this.notify();
  }

  addTimeline(event, kind, text) {
    this.timeline.unshift({ id: event.id ?? `${Date.now()}-${Math.random()}`, time: event.time ?? new Date().toISOString(), kind, text });
    if (this.timeline.length > TIMELINE_MAX) this.timeline.length = TIMELINE_MAX;
  }

  applyMetrics(body, record = true) {
    this.metrics = body;
    this.nodeMetrics = new Map((body.nodes ?? []).map((n) => [n.node_id, n]));
    if (record) this.history.push(body);
  }

  /** One event of /cluster/events: { id, type, data }, data carrying the bus event's payload. */
  onEvent(event) {
    const data = event.data ?? {};
    const time = new Date().toISOString(); // frames carry no time: they arrive as they happen
    switch (event.type) {
      case "hello":
        this.me = data.node_id;
        if (data.cluster) this.status = data.cluster;
        this.refreshNodes();
        this.refreshServices();
        break;
      case "member": {
        const known = this.nodes.get(data.node_id);
        if (known) this.nodes.set(data.node_id, { ...known, state: data.state, role: data.role ?? known.role, address: data.address ?? known.address });
        this.refreshNodes(); // the full record (labels, version, services) of a new or returning node
        this.refreshServices();
        const was = data.previous ? ` (was ${data.previous})` : "";
        this.addTimeline({ id: event.id, time }, `member ${data.state}`, `${data.node_id} is ${data.state}${was}`);
        break;
      }
      case "member_removed":
        this.nodes.delete(data.node_id);
        this.refreshNodes();
        this.refreshServices();
        this.addTimeline({ id: event.id, time }, "member removed", `${data.node_id} forgotten (was ${data.previous})`);
        break;
      case "leader":
        if (this.status) this.status = { ...this.status, leader: data.leader };
        this.addTimeline({ id: event.id, time }, "leader", data.leader ? `${data.leader} leads${data.previous ? ` (was ${data.previous})` : ""}` : "no leader");
        break;
      case "metrics":
        this.applyMetrics(data);
        break;
      case "deployment":
        this.deployments.set(data.service, { ...data, time });
        this.addTimeline({ id: event.id, time }, "deployment", `${data.service} generation ${data.generation}: ${data.status}`);
        break;
      case "service":
        this.refreshServices();
        this.refreshNodes();
        this.addTimeline({ id: event.id, time }, `service ${data.status}`, `${data.service} on ${data.node_id}: ${data.status}${data.error ? ` — ${data.error}` : ""}`);
        break;
      default:
        return;
    }
    this.notify();
  }
}
