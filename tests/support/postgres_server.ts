/**
 * A throwaway PostgreSQL cluster for tests: `initdb` into a temporary
 * directory, `pg_ctl start` on a free 127.0.0.1 port (its unix socket in the
 * same directory), password (SCRAM) authentication for a superuser with a
 * random password, and settings that trade durability for speed (`fsync=off`:
 * fine for a test cluster, never for real data). Disposing it stops the
 * server and removes the directory.
 *
 * PostgreSQL refuses to run as root, so when the tests run as root the
 * binaries run as the `postgres` OS user (via `runuser`), and the temporary
 * directory is handed to that user.
 *
 * @module
 */
import { freePort } from "./ports.ts";

/** Where Debian installs PostgreSQL: one `<major>/bin` per installed version. */
const DEBIAN_ROOT = "/usr/lib/postgresql";

/** A running test cluster. */
export interface PostgresServer extends AsyncDisposable {
  /** `postgres://user:password@127.0.0.1:port/postgres`: the URL to give a driver. */
  readonly url: string;
  /** `127.0.0.1`. */
  readonly hostname: string;
  /** The TCP port it listens on. */
  readonly port: number;
  /** The superuser's name. */
  readonly user: string;
  /** The superuser's password. */
  readonly password: string;
  /** The database to connect to: `postgres`. */
  readonly database: string;
  /** The temporary directory holding the data directory, the socket and the log. */
  readonly dir: string;
  /** Stops the server (fast shutdown), keeping its data, so a test can see the server gone. */
  stop(): Promise<void>;
  /** Starts it again after {@linkcode stop}, on the same port with the same data. */
  start(): Promise<void>;
  /** Stops the server (immediate shutdown) and removes the directory. Idempotent. */
  dispose(): Promise<void>;
}

/**
 * The directory of the PostgreSQL binaries used by {@linkcode startPostgresServer}:
 * `PG_BIN` if set, else the newest `/usr/lib/postgresql/<major>/bin` (15 on Debian 12).
 */
export function postgresBinDir(): string {
  const chosen = Deno.env.get("PG_BIN");
  if (chosen) return chosen;
  let majors: number[] = [];
  try {
    majors = [...Deno.readDirSync(DEBIAN_ROOT)].map((entry) => Number(entry.name)).filter(Number.isInteger);
  } catch {
    // not installed: reported by postgresUnavailable
  }
  return `${DEBIAN_ROOT}/${majors.length ? Math.max(...majors) : 15}/bin`;
}

/**
 * Why the cluster cannot be started here (`undefined` when it can): the
 * binaries are missing, or we are root and there is no `postgres` user.
 */
export async function postgresUnavailable(): Promise<string | undefined> {
  const bin = postgresBinDir();
  for (const name of ["initdb", "pg_ctl", "postgres"]) {
    try {
      await Deno.stat(`${bin}/${name}`);
    } catch {
      return `${bin}/${name} is missing: run \`apt-get install -y postgresql\` (or set PG_BIN)`;
    }
  }
  if (Deno.uid() === 0 && (await osUser("postgres")) === undefined) {
    return "running as root and there is no `postgres` OS user to run PostgreSQL as";
  }
  return undefined;
}

/**
 * Whether tests needing PostgreSQL should be skipped: `true` (after printing
 * why) when it is unavailable outside CI. Under `CI=true` a missing
 * PostgreSQL throws instead, so CI fails loudly.
 */
export async function skipWithoutPostgres(what: string): Promise<boolean> {
  const reason = await postgresUnavailable();
  if (reason === undefined) return false;
  if (Deno.env.get("CI") === "true") throw new Error(`${what} need PostgreSQL: ${reason}`);
  console.warn(`skipping ${what}: ${reason}`);
  return true;
}

/** The uid and gid of an OS user, from /etc/passwd. */
async function osUser(name: string): Promise<{ uid: number; gid: number } | undefined> {
  const passwd = await Deno.readTextFile("/etc/passwd").catch(() => "");
  for (const line of passwd.split("\n")) {
    const [user, , uid, gid] = line.split(":");
    if (user === name && uid !== undefined && gid !== undefined) return { uid: Number(uid), gid: Number(gid) };
  }
  return undefined;
}

/** A random password of URL-safe characters. */
function randomPassword(): string {
  const bytes = crypto.getRandomValues(new Uint8Array(18));
  return btoa(String.fromCharCode(...bytes)).replaceAll("+", "-").replaceAll("/", "_");
}

/** The postmaster's pid, from the first line of `postmaster.pid`. */
async function postmasterPid(data: string): Promise<number | undefined> {
  const first = (await Deno.readTextFile(`${data}/postmaster.pid`).catch(() => "")).split("\n")[0];
  const pid = Number(first);
  return Number.isInteger(pid) && pid > 0 ? pid : undefined;
}

/** Waits (up to 10 s) until process `pid` has exited (a zombie counts as exited). */
async function exited(pid: number): Promise<void> {
  const deadline = Date.now() + 10_000;
  for (;;) {
    const status = await Deno.readTextFile(`/proc/${pid}/status`).catch(() => undefined);
    if (status === undefined || /^State:\s+Z/m.test(status)) return;
    if (Date.now() > deadline) throw new Error(`postgres (pid ${pid}) did not exit after pg_ctl stop`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

/** Settings for a fast, disposable test cluster. */
function settings(dir: string): string {
  return [
    "listen_addresses = '127.0.0.1'",
    `unix_socket_directories = '${dir}'`,
    "fsync = off",
    "synchronous_commit = off",
    "full_page_writes = off",
    "max_connections = 100",
    "shared_buffers = 32MB",
    "logging_collector = off",
    "log_min_messages = warning",
    "",
  ].join("\n");
}

/**
 * Initializes and starts a throwaway cluster; use it with `await using`.
 * Throws with the reason (and the server log) if it cannot be started.
 */
export async function startPostgresServer(): Promise<PostgresServer> {
  const reason = await postgresUnavailable();
  if (reason !== undefined) throw new Error(reason);
  const bin = postgresBinDir();
  const owner = Deno.uid() === 0 ? await osUser("postgres") : undefined;
  const dir = await Deno.makeTempDir({ prefix: "agentstate-pg-" });
  const data = `${dir}/data`;
  const log = `${dir}/server.log`;
  const user = "agentstate";
  const password = randomPassword();

  /** Runs a PostgreSQL binary (as `postgres` when we are root); throws with its output on failure. */
  const run = async (name: string, args: string[]): Promise<void> => {
    const command = owner ? "runuser" : `${bin}/${name}`;
    const argv = owner ? ["-u", "postgres", "--", `${bin}/${name}`, ...args] : args;
    const result = await new Deno.Command(command, { args: argv, stdin: "null", stdout: "piped", stderr: "piped" })
      .output();
    if (!result.success) {
      const output = new TextDecoder().decode(result.stdout) + new TextDecoder().decode(result.stderr);
      const serverLog = await Deno.readTextFile(log).catch(() => "");
      throw new Error(`${name} failed (exit ${result.code}):\n${output.trim()}\n${serverLog.slice(-4000)}`.trim());
    }
  };

  // If the test process exits without disposing, take the server down with it.
  const killOnUnload = () => {
    const command = owner ? "runuser" : `${bin}/pg_ctl`;
    const args = ["-D", data, "-m", "immediate", "-w", "stop"];
    try {
      new Deno.Command(command, {
        args: owner ? ["-u", "postgres", "--", `${bin}/pg_ctl`, ...args] : args,
        stdin: "null",
        stdout: "null",
        stderr: "null",
      }).outputSync();
      Deno.removeSync(dir, { recursive: true });
    } catch {
      // best effort
    }
  };

  let port = 0;
  let running = false;
  let disposing: Promise<void> | undefined;
  const startOn = async (chosen: number): Promise<void> => {
    await run("pg_ctl", ["-D", data, "-l", log, "-w", "-t", "60", "-o", `-p ${chosen}`, "start"]);
    port = chosen;
    running = true;
  };
  const stop = async (mode: "fast" | "immediate"): Promise<void> => {
    if (!running) return;
    const pid = await postmasterPid(data);
    await run("pg_ctl", ["-D", data, "-m", mode, "-w", "-t", "60", "stop"]);
    running = false;
    // pg_ctl returns once postmaster.pid is gone, a moment before the process itself.
    if (pid !== undefined) await exited(pid);
  };
  const dispose = (): Promise<void> =>
    disposing ??= (async () => {
      globalThis.removeEventListener("unload", killOnUnload);
      try {
        await stop("immediate");
      } finally {
        await Deno.remove(dir, { recursive: true });
      }
    })();

  try {
    if (owner) await Deno.chown(dir, owner.uid, owner.gid);
    const pwfile = `${dir}/pwfile`;
    await Deno.writeTextFile(pwfile, `${password}\n`, { mode: 0o600 });
    if (owner) await Deno.chown(pwfile, owner.uid, owner.gid);
    await run("initdb", [
      "-D",
      data,
      "-U",
      user,
      `--pwfile=${pwfile}`,
      "--auth=scram-sha-256",
      "--encoding=UTF8",
      "--locale=C",
      "--no-sync",
    ]);
    await Deno.remove(pwfile);
    const conf = `${data}/postgresql.conf`;
    await Deno.writeTextFile(conf, settings(dir), { append: true });
    globalThis.addEventListener("unload", killOnUnload);
    // The port was free a moment ago; if someone took it meanwhile, try another.
    let lastError: unknown;
    for (let attempt = 0; attempt < 3 && !running; attempt++) {
      try {
        await startOn(freePort());
      } catch (error) {
        lastError = error;
      }
    }
    if (!running) throw lastError;
  } catch (error) {
    await dispose().catch(() => {});
    throw error;
  }

  const database = "postgres";
  return {
    get url() {
      return `postgres://${user}:${encodeURIComponent(password)}@127.0.0.1:${port}/${database}`;
    },
    hostname: "127.0.0.1",
    get port() {
      return port;
    },
    user,
    password,
    database,
    dir,
    stop: () => stop("fast"),
    start: () => running ? Promise.resolve() : startOn(port),
    dispose,
    [Symbol.asyncDispose]: dispose,
  };
}
