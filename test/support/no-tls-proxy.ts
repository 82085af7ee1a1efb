/**
 * A TCP proxy in front of a real server that makes it look as if it offered no TLS: for
 * PostgreSQL it answers the client's SSLRequest with 'N' and itself speaks TLS to the server
 * (which, as RDS for PostgreSQL 15, takes TCP logins over TLS only), so the client's side is
 * plain; for MySQL it clears CLIENT_SSL in the server's greeting. Everything else passes through
 * unchanged, so engines can be shown to fall back to plain (ssl undefined) or refuse (ssl true)
 * against a server that offers no TLS.
 */
import net from 'node:net';
import os from 'node:os';
import tls from 'node:tls';
import { tlsOptions } from '../../src/engines/common';

export interface Proxy {
  port: number;
  /** Client connections that got as far as the server: every one plain on the client's side. */
  readonly plainSessions: number;
  close(): Promise<void>;
}

/** PostgreSQL's SSLRequest: length 8, code 80877103. */
const SSL_REQUEST = Buffer.from([0, 0, 0, 8, 0x04, 0xd2, 0x16, 0x2f]);
const CLIENT_SSL = 0x0800;

function clearMysqlSslFlag(greeting: Buffer): Buffer {
  // 3-byte length, 1-byte sequence, protocol version, NUL-terminated server version,
  // 4-byte thread id, 8 bytes of scramble, 1 filler byte, then the low capability flags.
  const versionEnd = greeting.indexOf(0, 5);
  const flagsAt = versionEnd + 1 + 4 + 8 + 1;
  const out = Buffer.from(greeting);
  out.writeUInt16LE(out.readUInt16LE(flagsAt) & ~CLIENT_SSL, flagsAt);
  return out;
}

/**
 * `listenHost` (default 127.0.0.1) lets a test reach the server through an address that is not
 * loopback, as a database on another machine would be.
 */
export async function startNoTlsProxy(
  family: 'postgres' | 'mysql',
  target: { host: string; port: number },
  listenHost = '127.0.0.1',
): Promise<Proxy> {
  const sockets = new Set<net.Socket>();
  let plainSessions = 0;
  const server = net.createServer((client) => {
    const upstream = net.connect(target.port, target.host);
    for (const s of [client, upstream]) {
      sockets.add(s);
      s.on('close', () => sockets.delete(s));
      s.on('error', () => {
        client.destroy();
        upstream.destroy();
      });
    }
    client.on('close', () => upstream.destroy());
    upstream.on('close', () => client.destroy());
    if (family === 'postgres') {
      client.once('data', (first: Buffer) => {
        // Hold what the client sends next until the server side speaks TLS.
        client.pause();
        let rest = first;
        if (first.subarray(0, 8).equals(SSL_REQUEST)) {
          client.write('N');
          rest = first.subarray(8);
        }
        upstream.write(SSL_REQUEST);
        upstream.once('data', (answer: Buffer) => {
          upstream.pause();
          if (answer[0] !== 0x53) {
            client.destroy();
            upstream.destroy();
            return;
          }
          const secure = tls.connect({ socket: upstream, host: target.host, ...tlsOptions({}) });
          sockets.add(secure);
          secure.on('error', () => {
            client.destroy();
            upstream.destroy();
          });
          secure.once('secureConnect', () => {
            plainSessions++;
            if (rest.length > 0) secure.write(rest);
            client.pipe(secure);
            secure.pipe(client);
          });
        });
      });
    } else {
      upstream.once('data', (greeting: Buffer) => {
        plainSessions++;
        client.write(clearMysqlSslFlag(greeting));
        upstream.pipe(client);
        client.pipe(upstream);
      });
    }
  });
  await new Promise<void>((resolve) => server.listen(0, listenHost, resolve));
  const address = server.address() as net.AddressInfo;
  return {
    port: address.port,
    get plainSessions() {
      return plainSessions;
    },
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  };
}

/** This machine's first IPv4 address that is not loopback: a path to a server that is "remote". */
export function externalIPv4(): string | undefined {
  return Object.values(os.networkInterfaces())
    .flat()
    .find((a) => a && a.family === 'IPv4' && !a.internal)?.address;
}
