#!/usr/bin/env -S deno run --allow-all
/**
 * `agentstate`: inspect, export, import and copy agent sessions on any
 * backend, and import Python agno's storage.
 *
 *   deno task cli ls file:sessions.db --user ada
 *   deno install -g -A -n agentstate cli/main.ts   # then: agentstate --help
 *
 * Exit codes: 0 ok, 1 failure, 2 usage error. Errors are one line on stderr.
 *
 * @module
 */
import { importAgno } from "./agno.ts";
import { UsageError } from "./errors.ts";
import { ls, migrate, rename, rm, show, stats } from "./inspect.ts";
import { copy, exportCommand, importCommand } from "./transfer.ts";

const URLS = "memory:, file:<path.db>, :memory:, libsql://…, http(s)://…, json:<dir>, upstash+https://<host>";
const COMMON =
  "  --mode agent|team|workflow (default agent)  --token T  --table NAME  --prefix P  -q/--quiet  -h/--help";

const COMMANDS: Record<string, { run: (args: string[]) => Promise<void>; usage: string; about: string }> = {
  ls: {
    run: ls,
    usage: "ls <url> [--user U] [--entity E] [--name N] [--since T] [--until T] [--sort created|updated] " +
      "[--order asc|desc] [--limit N] [--cursor C] [--json]",
    about: "List one page of sessions (a table, or JSON with --json).",
  },
  show: { run: show, usage: "show <url> <id> [--user U] [--json]", about: "Print one session and its latest runs." },
  rm: { run: rm, usage: "rm <url> <id> [--user U]", about: "Delete a session and its runs." },
  rename: { run: rename, usage: "rename <url> <id> <name> [--user U]", about: "Rename a session." },
  export: {
    run: exportCommand,
    usage: "export <url> [--out FILE]",
    about: "Write every session with its runs as NDJSON (stdout by default), streaming.",
  },
  import: {
    run: importCommand,
    usage: "import <url> [--in FILE] [--on-conflict skip|overwrite|fail]",
    about: "Read NDJSON from export. With fail (default) or overwrite, a bad line imports nothing.",
  },
  copy: {
    run: copy,
    usage: "copy <from-url> <to-url> [--on-conflict skip|overwrite|fail]",
    about: "Copy every session with its runs, keeping times and versions; skip (default) makes a re-run resume.",
  },
  migrate: { run: migrate, usage: "migrate <url>", about: "Create or migrate the storage layout; prints versions." },
  stats: { run: stats, usage: "stats <url> [--json]", about: "Counts per mode, users, oldest and newest, bytes." },
  "import-agno": {
    run: importAgno,
    usage: "import-agno <agno.db|agno-json-dir> <to-url> [--mode M] [--source-table T] [--on-conflict …]",
    about: "Import Python agno v1 storage (SQLite tables or JsonStorage files).",
  },
};

function help(): string {
  const lines = ["usage: agentstate <command> [options]", "", "commands:"];
  for (const [name, c] of Object.entries(COMMANDS)) lines.push(`  ${name.padEnd(12)} ${c.about}`);
  lines.push(
    "",
    `storage URLs: ${URLS}`,
    "options of every command:",
    COMMON,
    "",
    "agentstate <command> --help for more.",
  );
  return lines.join("\n");
}

/** Runs the CLI with `args`; returns the exit code. */
export async function main(args: string[]): Promise<number> {
  const [name, ...rest] = args;
  if (name === undefined || name === "--help" || name === "-h" || name === "help") {
    console.log(help());
    return name === undefined ? 2 : 0;
  }
  const command = COMMANDS[name];
  try {
    if (!command) throw new UsageError(`unknown command ${JSON.stringify(name)}; see agentstate --help`);
    if (rest.includes("--help") || rest.includes("-h")) {
      console.log(`usage: agentstate ${command.usage}\n\n${command.about}\n\nstorage URLs: ${URLS}\n${COMMON}`);
      return 0;
    }
    await command.run(rest);
    return 0;
  } catch (error) {
    const message = (error instanceof Error ? error.message : String(error)).replaceAll("\n", " ");
    console.error(`agentstate: ${message}`);
    return error instanceof UsageError ? 2 : 1;
  }
}

if (import.meta.main) Deno.exit(await main(Deno.args));
