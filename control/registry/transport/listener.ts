import net from 'node:net';
import tls from 'node:tls';
import type http from 'node:http';
import * as grpc from '@grpc/grpc-js';
import { fixAuthority } from './h2-authority.js';

/**
 * One port, two protocols: a connection that opens with the HTTP/2 preface ("PRI * HTTP/2.0") goes to the
 * gRPC server, anything else to the HTTP/1.1 gateway. Under TLS, ALPN "h2" decides instead.
 */
export interface TlsFiles {
  cert: Buffer;
  key: Buffer;
  ca?: Buffer;
}

const PREFACE = Buffer.from('PRI * HTTP/2.0');
const PROTOCOL_TIMEOUT_MS = 10_000;

export function createSharedListener(
  httpServer: http.Server,
  grpcServer: grpc.Server,
  tlsFiles?: TlsFiles,
): { server: net.Server; close(): void } {
  const injector = grpcServer.createConnectionInjector(grpc.ServerCredentials.createInsecure());
  const sockets = new Set<net.Socket>();

  const route = (socket: net.Socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    let seen = Buffer.alloc(0);
    // A connection that never says which protocol it speaks is dropped instead of held forever.
    socket.setTimeout(PROTOCOL_TIMEOUT_MS, () => socket.destroy());
    const onData = (chunk: Buffer) => {
      seen = Buffer.concat([seen, chunk]);
      const n = Math.min(seen.length, PREFACE.length);
      if (n < PREFACE.length && seen.subarray(0, n).equals(PREFACE.subarray(0, n))) return;
      socket.off('data', onData);
      socket.setTimeout(0);
      socket.pause();
      socket.unshift(seen);
      if (seen.subarray(0, PREFACE.length).equals(PREFACE)) injector.injectConnection(fixAuthority(socket));
      else httpServer.emit('connection', socket);
      process.nextTick(() => socket.resume());
    };
    socket.on('data', onData);
    socket.on('error', () => socket.destroy());
  };

  let server: net.Server;
  if (tlsFiles) {
    server = tls.createServer({
      cert: tlsFiles.cert,
      key: tlsFiles.key,
      ca: tlsFiles.ca,
      requestCert: tlsFiles.ca !== undefined,
      rejectUnauthorized: tlsFiles.ca !== undefined,
      ALPNProtocols: ['h2', 'http/1.1'],
    });
    server.on('secureConnection', (socket: tls.TLSSocket) => {
      if (socket.alpnProtocol === 'h2') {
        sockets.add(socket);
        socket.on('close', () => sockets.delete(socket));
        injector.injectConnection(fixAuthority(socket));
      } else {
        route(socket);
      }
    });
    server.on('tlsClientError', () => {});
  } else {
    server = net.createServer(route);
  }
  return {
    server,
    close: () => {
      injector.destroy();
      for (const s of sockets) s.destroy();
    },
  };
}
