/**
 * What is known not to run outside Deno yet, with the reason. A listed suite
 * that fails is reported as "expected to fail" (not counted as failed); a
 * listed suite that passes every case IS a failure, so the entry gets removed
 * here when the code is fixed. Keys are suite names of conformance.mjs and
 * the check names of run.sh.
 */
export const EXPECTED_TO_FAIL = {};
