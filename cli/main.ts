#!/usr/bin/env -S deno run --allow-all
/**
 * `agentstate`: inspect, export, import and copy agent sessions on any
 * backend, and import Python agno's storage.
 *
 *   deno task cli ls file:sessions.db --user ada
 *   deno install -g -A -n agentstate jsr:@agentstate/storage/cli   # then: agentstate --help
 *
 * Exit codes: 0 ok, 1 failure, 2 usage error. Errors are one line on stderr.
 *
 * @module
 */
import { ValidationError } from "../mod.ts";
import { BACKENDS } from "../backends/registry.ts";
import { importAgno } from "./agno.ts";
import config from "../deno.json" with { type: "json" };
import { UsageError } from "./errors.ts";
import { exit, isBrokenPipe, isProgram, programArgs, writeStderr } from "./io.ts";
import { didYouMean, osMessage, printable } from "./text.ts";
import { ls, migrate, rename, rm, show } from "./inspect.ts";
import { purge } from "./purge.ts";
import { stats } from "./stats.ts";
import { print } from "./args.ts";
import { copy, exportCommand, importCommand } from "./transfer.ts";

const URLS = BACKENDS.filter((b) => b.runtimes.includes("deno")).flatMap((b) => b.urlForms).join(", ");
const TOKEN_ENVS = BACKENDS.flatMap((b) => b.tokenEnv ? [`$${b.tokenEnv}`] : []).join(" or ");
const COMMON = [
  "  --mode agent|team|workflow   kind of sessions (default agent)",
  `  --token T                    token for remote URLs (else ${TOKEN_ENVS})`,
  "  --table NAME                 libSQL table;  --prefix P   Upstash key prefix",
  "  -q, --quiet                  no progress on stderr;  -h, --help   this help",
].join("\n");
const ON_CONFLICT = "  --on-conflict skip|overwrite|fail   when a session with the same id exists";
const TTL = "  --ttl D                 sessions not written for D (30d, 12h, 1h30m, 500ms …) are expired: ";

interface Command {
  run: (args: string[]) => Promise<void>;
  usage: string;
  about: string;
  options?: string;
}

const COMMANDS: Record<string, Command> = {
  ls: {
    run: ls,
    usage: "ls <url> [--user U] [--entity E] [--name N] [--since T] [--until T] [--sort created|updated] " +
      "[--order asc|desc] [--limit N] [--cursor C] [--json] [--ttl D]",
    about: "List one page of sessions: a table (id, user, entity, name, version, created, updated), or JSON.",
    options: [
      "  --user U                only sessions of user U",
      "  --entity E              only sessions of this agent, team or workflow id (by --mode)",
      "  --name N                only sessions named N",
      "  --since T / --until T   created at or after T / before T (ISO date or epoch milliseconds)",
      "  --sort created|updated  (default created)   --order asc|desc (default desc)",
      "  --limit N               page size, 1-1000 (default 20); the next page's --cursor is printed",
      "  --cursor C              the page after the one that printed C",
      "  --json                  the page as JSON ({ sessions, nextCursor }) instead of a table",
      TTL + "not listed",
    ].join("\n"),
  },
  show: {
    run: show,
    usage: "show <url> <id> [--user U] [--runs N] [--json] [--ttl D]",
    about: "Print one session, its run count and its latest N runs (default 5).",
    options: [
      "  --user U   the session must belong to user U",
      "  --runs N   how many of the latest runs to print, 1-1000 (default 5)",
      "  --json     { session, runCount, lastRuns } as JSON",
      "  --ttl D    not found when the session was not written for D (e.g. 30d)",
    ].join("\n"),
  },
  rm: {
    run: rm,
    usage: "rm <url> <id> [--user U]",
    about: "Delete a session and its runs.",
    options: "  --user U   the session must belong to user U",
  },
  rename: {
    run: rename,
    usage: "rename <url> <id> <name> [--user U]",
    about: "Rename a session.",
    options: "  --user U   the session must belong to user U",
  },
  export: {
    run: exportCommand,
    usage: "export <url> [--out FILE] [--force] [--ttl D]",
    about: "Write every session with its runs as NDJSON (stdout by default), a page at a time.",
    options: "  --out FILE   written as FILE.partial, renamed to FILE once complete\n" +
      "  --force      overwrite an existing FILE (and remove a stale FILE.partial)\n" +
      "  --ttl D      leave out sessions not written for D (e.g. 30d)",
  },
  import: {
    run: importCommand,
    usage: "import <url> [--in FILE] [--on-conflict skip|overwrite|fail]",
    about: "Read NDJSON written by export (stdin by default). With fail (default) or overwrite the file is " +
      "checked first and a bad line imports nothing; with skip good lines are imported and bad ones reported.",
    options: ON_CONFLICT + " (default fail)\n  --mode M     default: the mode in the file's header",
  },
  copy: {
    run: copy,
    usage: "copy <from-url> <to-url> [--on-conflict skip|overwrite|fail] [--ttl D]",
    about: "Copy every session with its runs, keeping times and versions; with skip (the default) a re-run " +
      "after an interruption copies only what is missing.",
    options: ON_CONFLICT + " (default skip)\n  --ttl D   leave out sessions of the source not written for D (e.g. 30d)",
  },
  migrate: {
    run: migrate,
    usage: "migrate <url>",
    about: "Create the storage's layout or migrate it; prints libSQL schema versions before and after.",
  },
  stats: {
    run: stats,
    usage: "stats <url> [--json] [--by-user] [--ttl D]",
    about: "Count sessions, users and runs, and show times and sizes; for every mode unless --mode. It reads " +
      "every session (a full scan, 1 000 a page) and the latest run of each.",
    options: [
      "  --json      raw numbers (bytes, epoch milliseconds) as JSON, by mode",
      "  --by-user   sessions, runs and size per user (the 20 largest users; --json has all)",
      TTL + "counted apart, left out of the other numbers",
    ].join("\n"),
  },
  purge: {
    run: purge,
    usage: "purge <url> --ttl D [--dry-run]",
    about: "Delete the sessions (with their runs) not written for D; for every mode unless --mode.",
    options: [
      "  --ttl D         required: 30d, 12h, 1h30m, 500ms … (units w d h m s ms); expired when updatedAt <= now - D",
      "  -n, --dry-run   count what would be deleted, delete nothing",
    ].join("\n"),
  },
  "import-agno": {
    run: importAgno,
    usage: "import-agno <agno.db|agno-json-dir> <to-url> [--mode M] [--table T] [--target-table T] [--on-conflict …]",
    about: "Import Python agno v1 storage: a SqliteStorage database or a JsonStorage directory.",
    options: [
      "  --table T          agno's SQLite table (default <mode>_sessions, e.g. agent_sessions)",
      "  --target-table T   libSQL table of the target",
      ON_CONFLICT + " (default skip)",
    ].join("\n"),
  },
};

function help(): string {
  const lines = ["usage: agentstate <command> [options]", "", "commands:"];
  for (const [name, c] of Object.entries(COMMANDS)) lines.push(`  ${name.padEnd(12)} ${c.about.split(/[.;:] /)[0]}`);
  lines.push("", `storage URLs: ${URLS}`, "", "options of every command:", COMMON, "");
  lines.push("exit codes: 0 ok, 1 failure, 2 usage error.  agentstate <command> --help for more.");
  lines.push("agentstate --version prints the version. Times are shown in UTC.");
  return lines.join("\n");
}

function commandHelp(c: Command): string {
  const options = c.options ? `options:\n${c.options}\n\n` : "";
  return `usage: agentstate ${c.usage}\n\n${c.about}\n\n${options}options of every command:\n${COMMON}\n\n` +
    `storage URLs: ${URLS}`;
}

/** Runs the CLI with `args` (without the program name); returns the exit code. */
export async function main(args: string[]): Promise<number> {
  const [name, ...rest] = args;
  if (name === "--help" || name === "-h" || name === "help") {
    print(help());
    return 0;
  }
  if (name === "--version" || name === "-V" || name === "version") {
    print(`agentstate ${config.version}`);
    return 0;
  }
  if (name === undefined) {
    writeStderr(help() + "\n");
    return 2;
  }
  const command = COMMANDS[name];
  try {
    if (!command) {
      const hint = didYouMean(name, Object.keys(COMMANDS)) || "; see agentstate --help";
      throw new UsageError(`unknown command ${JSON.stringify(name)}${hint}`);
    }
    const end = rest.indexOf("--");
    if ((end === -1 ? rest : rest.slice(0, end)).some((a) => a === "--help" || a === "-h")) {
      print(commandHelp(command));
      return 0;
    }
    await command.run(rest);
    return 0;
  } catch (error) {
    const message = isBrokenPipe(error)
      ? "output closed before everything was written (broken pipe)"
      : osMessage(error instanceof Error ? error.message : String(error)).replace(/\s*\n\s*/g, " ");
    writeStderr(`agentstate: ${printable(message)}\n`);
    return error instanceof UsageError || error instanceof ValidationError ? 2 : 1;
  }
}

if (isProgram(import.meta)) exit(await main(programArgs()));
