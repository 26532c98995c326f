import assert from "node:assert/strict";
import { bareImports, parseNpmSpecifier, rewriteNpmSpecifiers } from "../scripts/build_npm.ts";

Deno.test("build_npm: npm: specifiers parse into name, range and subpath", () => {
  assert.deepEqual(parseNpmSpecifier("npm:zod@^4"), { name: "zod", range: "^4", sub: "" });
  assert.deepEqual(parseNpmSpecifier("npm:@libsql/client@^0.18/web"), {
    name: "@libsql/client",
    range: "^0.18",
    sub: "/web",
  });
  assert.deepEqual(parseNpmSpecifier("npm:idb-keyval"), { name: "idb-keyval", range: "*", sub: "" });
  assert.equal(parseNpmSpecifier("jsr:@std/path@1"), null);
  assert.equal(parseNpmSpecifier("./local.ts"), null);
});

Deno.test("build_npm: inline npm: specifiers become package names, their ranges recorded", () => {
  const found = new Map<string, string>();
  const out = rewriteNpmSpecifiers(
    `import { a } from "npm:@scope/pkg@^2/sub";\nconst b = await import('npm:other@1.2.3');\nimport "./x.ts";`,
    found,
  );
  assert.equal(out, `import { a } from "@scope/pkg/sub";\nconst b = await import('other');\nimport "./x.ts";`);
  assert.deepEqual([...found], [["@scope/pkg", "^2"], ["other", "1.2.3"]]);
});

Deno.test("build_npm: bare imports of emitted JavaScript, comments and node:/relative imports skipped", () => {
  const js = [
    `import { z } from "zod";`,
    `export { x } from "@libsql/client/web";`,
    `import "side-effect";`,
    `const { Redis } = await import("@upstash/redis");`,
    `import fs from "node:fs";`,
    `import { y } from "./y.js";`,
    `/**`,
    ` * import fc from "fast-check";`,
    ` */`,
    `// import { chromium } from "playwright-core";`,
    `const n = ("from" in previous ? previous.from : 0) + 1; const k = { kind: "replace" };`,
    `import {`,
    `  a,`,
    `  b,`,
    `} from "@scope/multi-line/sub";`,
  ].join("\n");
  assert.deepEqual([...bareImports(js)].sort(), [
    "@libsql/client",
    "@scope/multi-line",
    "@upstash/redis",
    "side-effect",
    "zod",
  ]);
});
