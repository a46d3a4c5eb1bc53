/**
 * Progress on the console: bars (cli-progress) when stderr is a terminal, a line per milestone
 * when it is not (CI logs, pipes), nothing when quiet.
 */
import cliProgress from 'cli-progress';

export interface ProgressView {
  /** Updates one run's bar (created on first sight). */
  update(id: string, fraction: number, payload: Record<string, string | number>): void;
  /** A run ended: a line above the bars (or alone when not on a terminal). */
  log(line: string): void;
  stop(): void;
}

const FORMAT = ' {id} |{bar}| {percentage}% | step {step} ep {epoch} | loss {loss} | lr {lr} | b {batch} | ETA {eta_formatted}';

export function progressView(opts: { quiet?: boolean; tty?: boolean } = {}): ProgressView {
  if (opts.quiet) return { update: () => {}, log: () => {}, stop: () => {} };
  if (!(opts.tty ?? process.stderr.isTTY)) {
    return { update: () => {}, log: (line) => void process.stderr.write(`${line}\n`), stop: () => {} };
  }
  const multi = new cliProgress.MultiBar(
    { format: FORMAT, stream: process.stderr, hideCursor: true, clearOnComplete: false, barsize: 20, etaBuffer: 50, fps: 5 },
    cliProgress.Presets.shades_classic,
  );
  const bars = new Map<string, cliProgress.SingleBar>();
  return {
    update(id, fraction, payload) {
      let bar = bars.get(id);
      if (!bar) bars.set(id, (bar = multi.create(1000, 0, { id, step: 0, epoch: 0, loss: '-', lr: '-', batch: '-' })));
      bar.update(Math.round(1000 * Math.min(1, Math.max(0, fraction))), { id, ...payload });
    },
    log: (line) => multi.log(`${line}\n`),
    stop: () => multi.stop(),
  };
}

/** A number as a progress line shows it. */
export function short(x: number | null | undefined): string {
  if (x === null || x === undefined || !Number.isFinite(x)) return '-';
  return Math.abs(x) >= 1e-3 && Math.abs(x) < 1e4 ? x.toPrecision(3) : x.toExponential(1);
}
