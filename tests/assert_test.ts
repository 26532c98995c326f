import assert from "node:assert/strict";
import * as suite from "./_assert.ts";

Deno.test("the conformance suite's assertions fail when they should", () => {
  assert.throws(() => suite.equal(1, 2), suite.AssertionError);
  assert.throws(() => suite.notEqual(1, 1), suite.AssertionError);
  assert.throws(() => suite.ok(0), suite.AssertionError);
  assert.throws(() => suite.deepEqual({ a: [1, 2] }, { a: [1, 3] }), suite.AssertionError);
  assert.throws(() => suite.deepEqual({ a: 1 }, { a: 1, b: undefined }), suite.AssertionError);
  assert.throws(() => suite.deepEqual([1], { 0: 1 }), suite.AssertionError);
  assert.throws(() => suite.deepEqual(null, {}), suite.AssertionError);
  assert.throws(() => suite.equal(1, 2, "named"), /named: expected 2, got 1/);
  suite.deepEqual({ a: [1, { b: null }] }, { a: [1, { b: null }] });
  suite.equal(NaN, NaN);
  suite.ok(1);
  suite.notEqual(1, 2);
});
