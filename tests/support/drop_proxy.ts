/**
 * A TCP proxy that loses replies: it forwards every connection to a target
 * server, and when armed, lets the next request carrying a marker reach the
 * server, waits until the server has answered (so the request ran), then
 * closes the client's connection without passing the answer on. The client
 * sees a connection closed before any response, as after a network fault,
 * and may re-send the request.
 */

/** A running proxy. */
export interface DropProxy {
  /** `http://127.0.0.1:<port>`. */
  url: string;
  /** Replies dropped so far. */
  readonly dropped: number;
  /** Drops the reply to the next request whose bytes contain `marker`. */
  dropNextReply(marker: string): void;
  /** Stops listening and closes every connection. */
  stop(): Promise<void>;
}

/** Starts a proxy on a free port of 127.0.0.1 in front of `target` (`http://host:port`). */
export function startDropProxy(target: string): DropProxy {
  const { hostname, port } = new URL(target);
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const connections = new Set<Deno.Conn>();
  let armed: Uint8Array | null = null;
  let dropped = 0;
  const encoder = new TextEncoder();

  const closeQuietly = (conn: Deno.Conn) => {
    connections.delete(conn);
    try {
      conn.close();
    } catch {
      // already closed by the other side
    }
  };

  const serve = async (client: Deno.Conn) => {
    const upstream = await Deno.connect({ hostname, port: Number(port) });
    connections.add(client).add(upstream);
    let dropThis = false;
    let tail = new Uint8Array();
    const forward = async () => {
      const buffer = new Uint8Array(64 * 1024);
      for (let n; (n = await client.read(buffer).catch(() => null)) !== null;) {
        const chunk = buffer.slice(0, n);
        if (armed !== null) {
          // Keep the end of the previous chunk, in case the marker straddles two.
          const seen = new Uint8Array([...tail, ...chunk]);
          if (contains(seen, armed)) {
            armed = null;
            dropThis = true;
          }
          tail = seen.slice(-256);
        }
        if (await upstream.write(chunk).catch(() => null) === null) break;
      }
      closeQuietly(upstream);
    };
    const back = async () => {
      const buffer = new Uint8Array(64 * 1024);
      for (let n; (n = await upstream.read(buffer).catch(() => null)) !== null;) {
        if (dropThis) {
          // The server answered: the request ran. The answer is lost with the connection.
          dropped++;
          break;
        }
        if (await client.write(buffer.slice(0, n)).catch(() => null) === null) break;
      }
      closeQuietly(client);
      closeQuietly(upstream);
    };
    await Promise.all([forward(), back()]);
  };

  const accepting = (async () => {
    for await (const conn of listener) serve(conn).catch(() => closeQuietly(conn));
  })();

  return {
    url: `http://127.0.0.1:${(listener.addr as Deno.NetAddr).port}`,
    get dropped() {
      return dropped;
    },
    dropNextReply(marker) {
      armed = encoder.encode(marker);
    },
    async stop() {
      listener.close();
      for (const conn of [...connections]) closeQuietly(conn);
      await accepting;
    },
  };
}

function contains(haystack: Uint8Array, needle: Uint8Array): boolean {
  outer: for (let i = 0; i + needle.length <= haystack.length; i++) {
    for (let j = 0; j < needle.length; j++) if (haystack[i + j] !== needle[j]) continue outer;
    return true;
  }
  return false;
}
