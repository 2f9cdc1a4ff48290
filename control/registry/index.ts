/**
 * The embedded registry's public entry: everything outside control/registry/ imports from here. The wire
 * vocabulary it shares with the client (gRPC codes, etcd's error texts, key ranges, version) is control/etcd-wire.ts.
 */
export { startRegistry, type RegistryOptions, type RunningRegistry } from './server.js';
export { registerRegistryCommand } from './command.js';
