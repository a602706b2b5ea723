/**
 * The argon2id verify rate at the project's parameters (config/default.ts), through the
 * project's own password module, one verify at a time — the bench pins this process to the
 * server's core. Prints one JSON line.
 */
import defaults from '../../config/default.js';
import { createPasswords } from '../../src/accounts/password.js';

const seconds = Number(process.argv[2] ?? 5);
const passwords = createPasswords(defaults.password);
const hash = await passwords.hash('Sirius2026load');
await passwords.verify(hash, 'Sirius2026load'); // warm-up
let verifies = 0;
const start = performance.now();
while (performance.now() - start < seconds * 1000) {
  if (!(await passwords.verify(hash, 'Sirius2026load'))) throw new Error('argon2 verify failed');
  verifies++;
}
const { argon2MemoryKiB, argon2TimeCost, argon2Parallelism } = defaults.password;
process.stdout.write(JSON.stringify({ verifiesPerSecond: verifies / ((performance.now() - start) / 1000), params: { argon2MemoryKiB, argon2TimeCost, argon2Parallelism } }) + '\n');
