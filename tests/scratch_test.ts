import { openStorage } from "../mod.ts";
import { runConformance } from "./conformance.ts";

let run = 0;
runConformance({
  name: "scratch",
  create: (options, place) => openStorage(`scratch:${run}-${place}`, options),
  teardown: () => Promise.resolve(void run++),
});
