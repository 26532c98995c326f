/** A TCP port that was free a moment ago on 127.0.0.1 (listen on port 0, then close): retry if it is taken. */
export function freePort(): number {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (listener.addr as Deno.NetAddr).port;
  listener.close();
  return port;
}
