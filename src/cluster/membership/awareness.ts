/**
 * Lifeguard local health: a score in [0, max − 1] that grows when this member misses acks
 * it should have had (or has to refute suspicions) and shrinks on successful probes. A slow
 * member stretches its own probe period and timeouts instead of accusing healthy peers.
 */
export class Awareness {
  private score = 0;

  constructor(private readonly max: number) {}

  applyDelta(delta: number): void {
    this.score = Math.min(this.max - 1, Math.max(0, this.score + delta));
  }

  getHealthScore(): number {
    return this.score;
  }

  /** timeout × (score + 1) */
  scaleTimeout(timeoutMs: number): number {
    return timeoutMs * (this.score + 1);
  }
}
