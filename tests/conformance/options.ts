// The options group of the conformance suite.
import { group } from "./_case.ts";

const { cases } = group("options");
/** The cases of the options group. */
export { cases };
