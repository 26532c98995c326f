import assert from "node:assert/strict";
import { checkJson, cloneJson, copyCheckedJson, MAX_JSON_DEPTH } from "../session/_json.ts";

Deno.test("copyCheckedJson: equals the JSON round trip of every checked value, sharing no object", () => {
  const nullProto = Object.assign(Object.create(null), { a: [1, { b: null }] });
  const proto = JSON.parse('{"__proto__": {"polluted": true}, "x": 1}');
  const values: unknown[] = [
    null,
    true,
    -0,
    [0, -0, 1.5, -1e21, Number.MAX_SAFE_INTEGER],
    "plain",
    { text: "héllo 🦕 漢字", nested: { list: [[], {}, [null, false, "x"]] }, 2: "two", 1: "one" },
    nullProto,
    proto,
    { deep: JSON.parse("[".repeat(MAX_JSON_DEPTH - 1) + "]".repeat(MAX_JSON_DEPTH - 1)) },
  ];
  for (const value of values) {
    assert.ok(checkJson(value, [], []), "a checked value");
    const copy = copyCheckedJson(value);
    assert.equal(JSON.stringify(copy), JSON.stringify(value));
    assert.deepStrictEqual(copy, cloneJson(value));
    if (typeof value === "object" && value !== null) assert.notEqual(copy, value);
  }
  assert.ok(Object.is(copyCheckedJson(-0), 0), "-0 becomes 0, as JSON writes it");
  const copied = copyCheckedJson(proto) as Record<string, unknown>;
  assert.ok(Object.hasOwn(copied, "__proto__"), "a __proto__ key stays an own key");
  assert.equal(Object.getPrototypeOf(copied), Object.prototype);
  assert.equal(({} as Record<string, unknown>).polluted, undefined);
  assert.equal(Object.getPrototypeOf(copyCheckedJson(nullProto)), Object.prototype);
  const source = { a: { b: [1] } };
  const copy = copyCheckedJson(source);
  copy.a.b.push(2);
  assert.deepEqual(source, { a: { b: [1] } }, "the copy shares nothing with the source");
});
