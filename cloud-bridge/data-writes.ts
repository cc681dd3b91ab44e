/** A gateway's data writes in progress: at most `max` at once, completed in arrival order through `tail`. */
export class DataWrites {
  tail: Promise<void> = Promise.resolve();
  private running = 0;
  private readonly waiters: (() => void)[] = [];

  constructor(private readonly max: number, private readonly onIdle: () => void) {}

  get idle(): boolean {
    return this.running === 0 && this.waiters.length === 0;
  }

  slot(): Promise<void> {
    if (this.running < this.max) {
      this.running++;
      return Promise.resolve();
    }
    return new Promise((resolve) => this.waiters.push(() => { this.running++; resolve(); }));
  }

  release(): void {
    this.running--;
    const next = this.waiters.shift();
    if (next) next();
    else if (this.idle) this.onIdle();
  }
}
