/**
 * Builds the browser example (app.ts bundled to agentstate.js) and serves it
 * on 127.0.0.1. Run with `deno task browser`; `PORT` picks the port (default
 * 8000, `0` for any free one).
 *
 * @module
 */
const here = new URL(".", import.meta.url).pathname;

const { code, stderr } = await new Deno.Command(Deno.execPath(), {
  args: ["bundle", "--platform", "browser", "--minify", "-o", `${here}agentstate.js`, `${here}app.ts`],
}).output();
if (code !== 0) {
  console.error(new TextDecoder().decode(stderr));
  Deno.exit(1);
}

const files: Record<string, [string, string]> = {
  "/": ["index.html", "text/html"],
  "/index.html": ["index.html", "text/html"],
  "/agentstate.js": ["agentstate.js", "text/javascript"],
};
const port = Number(Deno.env.get("PORT") ?? 8000);
Deno.serve({
  hostname: "127.0.0.1",
  port,
  onListen: ({ port }) => console.log(`agentstate chat example: http://127.0.0.1:${port}/`),
}, async (request) => {
  const file = files[new URL(request.url).pathname];
  if (!file) return new Response("not found", { status: 404 });
  return new Response(await Deno.readFile(`${here}${file[0]}`), {
    headers: { "content-type": `${file[1]}; charset=utf-8` },
  });
});
