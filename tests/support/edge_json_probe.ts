/** A Worker that reports what constructing a JsonStorage does there (tests/edge_worker_test.ts). */
import { JsonStorage } from "../../backends/json.ts";

export default {
  fetch(): Response {
    try {
      new JsonStorage({ dir: "sessions" });
      return Response.json({ constructed: true });
    } catch (error) {
      return Response.json({ name: (error as Error).name, message: (error as Error).message });
    }
  },
};
