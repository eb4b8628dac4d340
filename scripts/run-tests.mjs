// Runs tap and ends with the "N passed, N failed" line that tap itself does not print without a terminal.
import { spawn } from 'node:child_process';

const args = process.argv.slice(2);
const child = spawn(process.execPath, ['node_modules/tap/dist/esm/run.mjs', ...args], { stdio: ['ignore', 'pipe', 'inherit'] });
let tail = '';
child.stdout.on('data', (chunk) => {
  process.stdout.write(chunk);
  tail = (tail + chunk.toString()).slice(-4000);
});
child.on('close', (code) => {
  const match = [...tail.matchAll(/#\s*\{\s*total:\s*(\d+),\s*pass:\s*(\d+)(?:,\s*fail:\s*(\d+))?(?:,\s*todo:\s*(\d+))?(?:,\s*skip:\s*(\d+))?/g)].pop();
  if (match) {
    const [, total, pass, fail = '0', todo = '0', skip = '0'] = match;
    const failed = Number(fail) || (code !== 0 ? Number(total) - Number(pass) - Number(todo) - Number(skip) : 0);
    console.log(`${pass} passed, ${failed} failed${Number(skip) ? `, ${skip} skipped` : ''}`);
  } else {
    console.log(`0 passed, ${code === 0 ? 0 : 1} failed`);
  }
  process.exit(code ?? 1);
});
