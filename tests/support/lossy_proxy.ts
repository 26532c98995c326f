/**
 * A TCP proxy that loses replies after the server has run the request, to
 * test what clients do when a reply never arrives (they send it again).
 *
 * @module
 */

/** A running {@linkcode startReplyDroppingProxy}. */
export interface ReplyDroppingProxy {
  /** `http://127.0.0.1:<port>`: give this to the client instead of the bridge's URL. */
  readonly url: string;
  /** How many of the next replies to lose (each: the server ran the request, the client gets a closed connection). */
  drop: number;
  /** Replies lost so far. */
  readonly dropped: number;
  /** Requests (connections' first bytes and later chunks) forwarded so far: chunks sent upstream. */
  readonly forwarded: number;
  /** Closes the listener and every connection. */
  stop(): Promise<void>;
}

/**
 * A TCP proxy on 127.0.0.1 in front of `targetPort` (a bridge's HTTP port).
 * While `drop > 0`, the first reply bytes coming back on any connection are
 * thrown away and both sides of that connection are closed: the request has
 * reached the server and run, the client sees its connection close with no
 * reply, as after a network fault.
 */
export function startReplyDroppingProxy(targetPort: number): ReplyDroppingProxy {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const connections = new Set<Deno.Conn>();
  let dropped = 0;
  let forwarded = 0;
  const proxy = {
    url: `http://127.0.0.1:${(listener.addr as Deno.NetAddr).port}`,
    drop: 0,
    get dropped() {
      return dropped;
    },
    get forwarded() {
      return forwarded;
    },
    async stop() {
      listener.close();
      for (const conn of connections) closeQuietly(conn);
      await accepting;
    },
  };
  const closeQuietly = (conn: Deno.Conn) => {
    connections.delete(conn);
    try {
      conn.close();
    } catch {
      // already closed
    }
  };
  const pipe = async (from: Deno.Conn, to: Deno.Conn, replies: boolean) => {
    const buffer = new Uint8Array(64 * 1024);
    try {
      for (;;) {
        const n = await from.read(buffer);
        if (n === null) break;
        if (replies && proxy.drop > 0) {
          proxy.drop--;
          dropped++;
          break;
        }
        if (!replies) forwarded++;
        let written = 0;
        while (written < n) written += await to.write(buffer.subarray(written, n));
      }
    } catch {
      // a side closed
    }
    closeQuietly(from);
    closeQuietly(to);
  };
  const accepting = (async () => {
    try {
      for await (const client of listener) {
        connections.add(client);
        Deno.connect({ hostname: "127.0.0.1", port: targetPort }).then((upstream) => {
          connections.add(upstream);
          pipe(client, upstream, false);
          pipe(upstream, client, true);
        }, () => closeQuietly(client));
      }
    } catch {
      // listener closed
    }
  })();
  return proxy;
}
