/**
 * Ctrl-C and SIGTERM on the command line: the first stops the work between steps (the trainer
 * checkpoints and records the stop), a second exits at once.
 */
/** Exit codes of a run stopped by a signal: 128 + the signal's number. */
export const SIGNAL_EXIT: Record<'SIGINT' | 'SIGTERM', number> = { SIGINT: 130, SIGTERM: 143 };

/** Where the signal handlers listen, write and exit: the process, or a test's stand-ins. */
export interface SignalEnv {
  target: Pick<NodeJS.EventEmitter, 'on' | 'off'>;
  write: (text: string) => void;
  exit: (code: number) => void;
}

const PROCESS_ENV: SignalEnv = { target: process, write: (t) => void process.stderr.write(t), exit: (c) => process.exit(c) };

/**
 * SIGINT / SIGTERM abort the run between steps (the trainer checkpoints and records the stop); a
 * second signal exits at once. `signal()` says which stopped the run; `release()` uninstalls.
 */
export function signalHandlers(env: SignalEnv = PROCESS_ENV): { abort: AbortSignal; signal: () => 'SIGINT' | 'SIGTERM' | null; release: () => void } {
  const ac = new AbortController();
  let caught: 'SIGINT' | 'SIGTERM' | null = null;
  const on = (sig: 'SIGINT' | 'SIGTERM') => {
    if (caught !== null) {
      env.write(`gradcond: ${sig} again: exiting now\n`);
      env.exit(SIGNAL_EXIT[sig]);
      return;
    }
    caught = sig;
    env.write(`gradcond: ${sig}: stopping after this step (${sig === 'SIGINT' ? 'Ctrl-C' : 'signal'} again to exit at once)\n`);
    ac.abort(sig);
  };
  const onInt = () => on('SIGINT');
  const onTerm = () => on('SIGTERM');
  env.target.on('SIGINT', onInt);
  env.target.on('SIGTERM', onTerm);
  return {
    abort: ac.signal,
    signal: () => caught,
    release: () => {
      env.target.off('SIGINT', onInt);
      env.target.off('SIGTERM', onTerm);
    },
  };
}
