/** Where progress goes: stderr by default (stdout carries data only). */
export interface ProgressStream {
  write(text: string): unknown;
  isTTY?: boolean;
  columns?: number;
}

/** Options of {@link Progress}. */
export interface ProgressOptions {
  /** What is counted (`train`, `translate`, `score`). */
  label: string;
  /** Units to reach; unknown totals show the count and rate only. */
  total?: number;
  /** Unit of the rate (`it/s`, `sent/s`). Default `it`. */
  unit?: string;
  /** Default `process.stderr`. */
  stream?: ProgressStream;
  /** Live single line (`\r`, cleared) when the stream is a TTY; plain periodic lines otherwise. Default: `stream.isTTY`. */
  live?: boolean;
  /** Print nothing at all. */
  quiet?: boolean;
  /** Plain mode: a line every this many units (and at the end). Default: about 10 lines per run. */
  every?: number;
  /** Clock in ms (tests). Default `performance.now`. */
  now?: () => number;
}

/** `h:mm:ss` or `mm:ss`, as tqdm prints elapsed time and ETA. */
export function formatDuration(seconds: number): string {
  if (!Number.isFinite(seconds) || seconds < 0) return '?';
  const s = Math.round(seconds);
  const [h, m, r] = [Math.floor(s / 3600), Math.floor((s % 3600) / 60), s % 60];
  const two = (x: number) => String(x).padStart(2, '0');
  return h > 0 ? `${h}:${two(m)}:${two(r)}` : `${two(m)}:${two(r)}`;
}

/**
 * A progress display in the manner of tqdm and the HF Trainer: on a TTY one live line rewritten in place
 * (`label done/total pct | fields | rate | elapsed<ETA`); when the stream is not a TTY (piped, CI logs) plain lines
 * every `every` units. Messages printed through {@link message} clear the live line first, so they never mix.
 */
export class Progress {
  private readonly options: ProgressOptions;
  private readonly stream: ProgressStream;
  private readonly live: boolean;
  private readonly now: () => number;
  private started: number;
  private startDone = 0;
  private lastPlain = 0;
  private shown = false;
  done = 0;
  fields: Record<string, string> = {};

  constructor(options: ProgressOptions) {
    this.options = options;
    this.stream = options.stream ?? process.stderr;
    this.live = options.live ?? !!this.stream.isTTY;
    this.now = options.now ?? (() => performance.now());
    this.started = this.now();
  }

  private get every(): number {
    const { every, total } = this.options;
    return every ?? (total ? Math.max(1, Math.ceil(total / 10)) : 1);
  }

  /** The status line for the current state (without `\r` or newline). */
  line(): string {
    const { label, total, unit = 'it' } = this.options;
    const seconds = (this.now() - this.started) / 1000;
    // Rates and ETA from this run's own units (a resumed run starts counting at its resume point).
    const counted = this.done - this.startDone;
    const rate = seconds > 0 ? counted / seconds : 0;
    const parts = [
      total
        ? `${label} ${this.done}/${total} ${Math.floor((100 * this.done) / total)}%`
        : `${label} ${this.done}`,
    ];
    const fields = Object.entries(this.fields).map(([k, v]) => `${k} ${v}`);
    if (fields.length) parts.push(fields.join(' '));
    if (counted > 0) parts.push(`${rate >= 10 ? Math.round(rate) : rate.toPrecision(2)} ${unit}/s`);
    const eta = total && rate > 0 ? formatDuration((total - this.done) / rate) : '?';
    parts.push(total ? `${formatDuration(seconds)}<${eta}` : formatDuration(seconds));
    return parts.join(' | ');
  }

  /**
   * Sets the count and the shown fields (`loss`, `lr`, …). Live: redraws; plain: prints a line when `every` units
   * have passed since the last one, or when `force` is set.
   */
  update(done: number, fields: Record<string, string> = {}, force = false): void {
    this.done = done;
    Object.assign(this.fields, fields);
    if (this.options.quiet) return;
    if (this.live) {
      const width = Math.max(20, (this.stream.columns ?? 120) - 1);
      this.stream.write(`\r\x1b[2K${this.line().slice(0, width)}`);
      this.shown = true;
    } else if (force || done - this.lastPlain >= this.every || done === this.options.total) {
      this.lastPlain = done;
      this.stream.write(`${this.line()}\n`);
    }
  }

  /** Restarts the clock at `done` units (a resumed run): rates and ETA count from here. */
  restart(done: number): void {
    this.startDone = done;
    this.done = done;
    this.lastPlain = done;
    this.started = this.now();
  }

  /** Prints a message on its own line (above the live line, which is redrawn). */
  message(text: string): void {
    if (this.options.quiet) return;
    if (this.live && this.shown) {
      this.stream.write(`\r\x1b[2K${text}\n${this.line()}`);
    } else this.stream.write(`${text}\n`);
  }

  /** Ends the display: the live line stays as the final state. */
  finish(): void {
    if (this.options.quiet) return;
    if (this.live && this.shown) this.stream.write('\n');
    this.shown = false;
  }
}
