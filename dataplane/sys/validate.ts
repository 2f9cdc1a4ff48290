/** Argument checks shared by the sys wrappers; each throws VXTUN_ERR_INVALID_ARGUMENT naming the argument. */
import { isIP } from 'node:net';
import { VxtunError } from '../errors.js';
import { formatIpBytes, parseIpBytes } from '../address.js';

export function invalid(message: string): VxtunError {
  return new VxtunError('VXTUN_ERR_INVALID_ARGUMENT', message);
}

export function checkInt(name: string, value: unknown, min: number, max: number): number {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > max) {
    throw invalid(`${name} must be an integer in ${min}..${max}, got ${String(value)}`);
  }
  return value;
}

export function checkBool(name: string, value: unknown): boolean {
  if (typeof value !== 'boolean') throw invalid(`${name} must be true or false, got ${String(value)}`);
  return value;
}

export function checkFamily(name: string, value: unknown): 4 | 6 {
  if (value !== 4 && value !== 6) throw invalid(`${name} must be 4 or 6, got ${String(value)}`);
  return value;
}

/** Interface names: 1..15 bytes, no '/', ':' or whitespace (the kernel's dev_valid_name); '%d' lets the kernel pick. */
export function checkIfName(name: string, value: unknown): string {
  if (typeof value !== 'string' || !/^[A-Za-z0-9_.%-]{1,15}$/.test(value) || value === '.' || value === '..') {
    throw invalid(`${name} must be an interface name of 1-15 letters, digits, '_', '-', '.', got ${JSON.stringify(value)}`);
  }
  return value;
}

/** An address as a literal or as its bytes (4 or 16); returns the bytes. */
export function addressBytes(name: string, family: 4 | 6, value: unknown): Uint8Array {
  if (value instanceof Uint8Array && value.length === (family === 4 ? 4 : 16)) return value;
  const bytes = typeof value === 'string' && isIP(value) === family ? parseIpBytes(value) : null;
  if (bytes === null) throw invalid(`${name} must be an IPv${family} address, got ${String(value)}`);
  return bytes;
}

export function formatAddress(family: 4 | 6, value: string | Uint8Array): string {
  return typeof value === 'string' ? value : formatIpBytes(value, family);
}
