/**
 * Run as its own process by control-block.test.ts: waits for a durable epoch
 * that never comes, with nothing else keeping the event loop alive, then
 * prints how long it waited. Node exits at once (code 13, no output) if the
 * wait holds no handle, and hangs if the wait leaves one behind.
 */
import { ControlBlock } from './control-block.ts';

const timeoutMs = Number(process.argv[2]);
const control = new ControlBlock();
const started = performance.now();
await control.waitDurableEpochChange(control.durableEpoch, timeoutMs);
console.log(`waited ${Math.round(performance.now() - started)} ms`);
