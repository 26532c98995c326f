/**
 * A Worker running the conformance suite on {@linkcode D1Storage} over its
 * `DB` binding, one case per request: `GET /cases` lists the case names,
 * `GET /run?case=<i>` runs case `i` and answers `{ ok, error? }`. The test
 * bundles this file and serves it in workerd through miniflare.
 */
import { type D1DatabaseLike, D1Storage } from "../../backends/d1.ts";
import { conformanceCases } from "../conformance/mod.ts";

interface Env {
  DB: D1DatabaseLike;
}

export default {
  async fetch(request: Request, env: Env): Promise<Response> {
    const cases = conformanceCases({
      name: "d1",
      create: (options, place) =>
        Promise.resolve(new D1Storage({ ...options, database: env.DB, table: `${place}_${options.mode}` })),
    });
    const url = new URL(request.url);
    if (url.pathname === "/cases") return Response.json(cases.map((c) => c.name));
    const chosen = cases[Number(url.searchParams.get("case"))];
    if (!chosen) return new Response("no such case", { status: 404 });
    try {
      await chosen.fn();
      return Response.json({ ok: true });
    } catch (error) {
      return Response.json({ ok: false, error: error instanceof Error ? error.stack ?? error.message : String(error) });
    }
  },
};
