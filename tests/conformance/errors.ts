// The errors group of the conformance suite.
import { group } from "./_case.ts";

const { cases } = group("errors");
/** The cases of the errors group. */
export { cases };
