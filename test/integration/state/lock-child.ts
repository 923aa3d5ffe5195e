// Test-only entry for the run-lock tests: `node --import tsx lock-child.ts <mode> ...`.
//   hold  <statePath> <staleMs>            lock, print "locked", stay alive until killed
//   crash <statePath> <staleMs>            lock, print "locked", then die of an uncaught error
//   take  <statePath> <staleMs> <tries>    try every 100 ms; print one JSON line per try
//   race  <dir> <rounds> <staleMs>         per round r: wait for <dir>/go-r, try <dir>/r<r>.lock
//                                          once, print "r won|busy"; keep what was won
import { existsSync, readFileSync, writeSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import { RunLock } from '../../../src/state/lock.js';
import { StateStore } from '../../../src/state/store.js';

const [mode = '', target = '', a = '', b = ''] = process.argv.slice(2);
const say = (line: string): void => {
  writeSync(1, `${line}\n`);
};

if (mode === 'hold' || mode === 'crash') {
  StateStore.open(target, 'https://api.example.com').lock({ staleMs: Number(a) });
  say('locked');
  if (mode === 'crash')
    setTimeout(() => {
      throw new Error('boom: an uncaught error while the lock is held');
    }, 10);
  else setInterval(() => undefined, 60_000);
} else if (mode === 'take') {
  for (let i = 0; i < Number(b); i++) {
    try {
      const lock = StateStore.open(target, 'https://api.example.com').lock({ staleMs: Number(a) });
      say(JSON.stringify({ locked: true, pid: process.pid, tookOver: lock.tookOver }));
      process.exit(0);
    } catch (error) {
      say(JSON.stringify({ locked: false, message: (error as Error).message }));
    }
    await sleep(100);
  }
  process.exit(3);
} else if (mode === 'race') {
  const kept: RunLock[] = [];
  for (let r = 0; r < Number(a); r++) {
    const go = `${target}/go-${r}`;
    while (!existsSync(go)) await sleep(1);
    // Everyone starts at the same instant, spinning the last few milliseconds.
    const at = Number(readFileSync(go, 'utf8'));
    while (Date.now() < at);
    try {
      kept.push(RunLock.acquire(`${target}/r${r}.lock`, `round ${r}`, { staleMs: Number(b) }));
      say(`${r} won`);
    } catch (error) {
      if (!/another dirsync run/.test((error as Error).message)) throw error;
      say(`${r} busy`);
    }
  }
  while (!existsSync(`${target}/done`)) await sleep(5);
  process.exit(0);
}
