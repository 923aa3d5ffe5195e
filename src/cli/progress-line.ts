import { Writable } from 'node:stream';

/**
 * The progress line of a terminal (`dirsync: reading the directory...`, overwritten in place)
 * and a stream for log lines that never lands on it: a log line clears the progress line,
 * takes the whole line, and the progress is drawn again below it.
 */
export interface ProgressLine {
  /** Shows `message` as the progress; an empty message clears the line. */
  progress: (message: string) => void;
  /** The stream the logger writes to: a terminal, like the one it wraps. */
  logStream: NodeJS.WritableStream;
  /** Clears the progress if one is shown, so that what is written next starts its own line. */
  clear: () => void;
}

const CLEAR = '\r\x1b[K';

export function progressLine(terminal: NodeJS.WritableStream): ProgressLine {
  let shown = '';
  const logStream = new Writable({
    write(chunk: Buffer | string, _encoding, done): void {
      const text = typeof chunk === 'string' ? chunk : chunk.toString('utf8');
      terminal.write(shown === '' ? text : `${CLEAR}${text}${shown}`);
      done();
    },
  });
  // The logger picks its human format for a terminal.
  Object.assign(logStream, { isTTY: true });
  const progress = (message: string): void => {
    shown = message === '' ? '' : `dirsync: ${message}...`;
    terminal.write(`${CLEAR}${shown}`);
  };
  return {
    progress,
    logStream,
    clear: (): void => {
      if (shown !== '') progress('');
    },
  };
}
