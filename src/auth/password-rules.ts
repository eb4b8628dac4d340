import fs from 'node:fs';
import type { MessageKey } from '../i18n/index.js';

export const passwordLength = { min: 12, max: 128 } as const;

const listFile = new URL('./common-passwords.txt', import.meta.url);
let commonList: Set<string> | null = null;

export function commonPasswords(): Set<string> {
  commonList ??= new Set(
    fs
      .readFileSync(listFile, 'utf8')
      .split('\n')
      .map((line) => line.trim().toLowerCase())
      .filter((line) => line !== '' && !line.startsWith('#')),
  );
  return commonList;
}

const lookAlikes: Record<string, string> = { '@': 'a', '4': 'a', '0': 'o', '3': 'e', '1': 'i', '!': 'i', $: 's', '5': 's', '7': 't', '+': 't' };

function unLeet(value: string, one = 'i'): string {
  return [...value].map((c) => (c === '1' ? one : (lookAlikes[c] ?? c))).join('');
}

/** The password without the digits and symbols people add around a word ("Soleil2024!" → "soleil"). */
function coreOf(lower: string): string {
  return lower.replace(/^[\p{N}\p{P}\p{S}\s]+|[\p{N}\p{P}\p{S}\s]+$/gu, '');
}

function isRepetition(value: string): string | null {
  for (let size = 1; size <= value.length / 2; size++) {
    if (value.length % size !== 0) continue;
    const unit = value.slice(0, size);
    if (unit.repeat(value.length / size) === value) return unit;
  }
  return null;
}

/** "abcdefghijkl", "123456789012", "987654321098": each character one step from the previous. */
function isSequence(value: string): boolean {
  const codes = [...value].map((c) => c.codePointAt(0)!);
  if (codes.length < 3) return false;
  const digits = /^\d+$/.test(value);
  const step = (a: number, b: number) => (digits ? (((b - a) % 10) + 10) % 10 : b - a);
  const first = step(codes[0]!, codes[1]!);
  if (!(first === 1 || first === -1 || (digits && first === 9))) return false;
  return codes.every((code, i) => i === 0 || step(codes[i - 1]!, code) === first);
}

function isCommon(candidate: string, list: Set<string>): boolean {
  if (candidate === '') return false;
  if (list.has(candidate)) return true;
  const unit = isRepetition(candidate);
  return unit !== null && (unit.length <= 4 || list.has(unit));
}

export interface PasswordContext {
  email?: string;
  displayName?: string;
}

/**
 * NIST SP 800-63B style: length 12–128 (any characters, spaces welcome), and not a common or guessable password.
 * Returns the message key of the first rule broken, or null.
 */
export function checkPassword(password: string, context: PasswordContext = {}): MessageKey | null {
  const normalized = password.normalize('NFC');
  const length = [...normalized].length;
  if (length === 0) return 'error.account.password.required';
  if (length < passwordLength.min) return 'error.account.password.tooShort';
  if (length > passwordLength.max) return 'error.account.password.tooLong';

  const list = commonPasswords();
  const lower = normalized.toLowerCase();
  const squeezed = lower.replace(/\s+/g, '');
  const core = coreOf(squeezed);
  const candidates = new Set([squeezed, core, unLeet(squeezed), unLeet(core), unLeet(squeezed, 'l'), unLeet(core, 'l')]);
  for (const candidate of candidates) {
    if (isCommon(candidate, list) || isCommon(coreOf(candidate), list)) return 'error.account.password.common';
  }
  if (core === '' && (isRepetition(squeezed) || isSequence(squeezed))) return 'error.account.password.common';
  if (isSequence(squeezed) || isSequence(core)) return 'error.account.password.common';

  const email = context.email?.trim().toLowerCase() ?? '';
  const local = email.split('@')[0] ?? '';
  if (email && (squeezed === email || (local.length >= 4 && squeezed.includes(local.replace(/\s+/g, ''))))) {
    return 'error.account.password.personal';
  }
  const name = context.displayName?.trim().toLowerCase().replace(/\s+/g, '') ?? '';
  if (name.length >= 4 && squeezed.includes(name)) return 'error.account.password.personal';
  if (/relais/.test(core) && core.replace(/relais/g, '').length < 4) return 'error.account.password.common';
  return null;
}
