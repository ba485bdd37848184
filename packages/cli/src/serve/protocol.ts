/**
 * The wire format between the front (packages/syscalls/front/handoff.c) and `ns serve`, and
 * which calls a server runs: every decision about a handed-off call is made here, in
 * TypeScript; the front only carries the call and the exit status.
 *
 * Request, on a connected AF_UNIX stream socket: `NSH1`, three little-endian u32 (the body's
 * length, argc, envc), then the body: the working directory, argc arguments (the command line
 * without the program's name) and envc `KEY=value` entries, each ended by a NUL. The first
 * message carries the caller's descriptors 0, 1, 2 (SCM_RIGHTS, unix(7)).
 * Answer: `F` (refused: nothing ran, the front runs the call itself), or `R` when the call
 * starts and then its exit status as a little-endian i32. A front whose call has not started
 * within 3 s sends `Q`: a server reads it before it would start the call, and answers `F`.
 *
 * A front that can clone for the server (packages/syscalls/front/clone.c) says `NSH2` instead
 * of `NSH1`, and its body starts with its umask (octal, NUL-ended) before the working
 * directory; it may then be handed `create` too. After `R` the server sends tagged messages:
 * `S` (clone a child: src/native/spawn_via.cc has its format and the front's answer) and, to
 * end the call, `X` with two little-endian i32: the exit status and the pid of the container
 * process made for the caller (0 for none), which the front leaves alone.
 */

/** The request's first four bytes (a front that cannot clone). */
export const REQUEST_MAGIC = 'NSH1';
/** The request's first four bytes from a front that clones for the server (`S` messages). */
export const REQUEST_MAGIC_CLONES = 'NSH2';
/** The request header: magic and three u32. */
export const HEADER_BYTES = 16;
/** The largest body a server takes (argv, environment and working directory), as handoff.c. */
export const MAX_BODY = 1 << 20;
/** The descriptors a request carries: the caller's 0, 1 and 2. */
export const REQUEST_FDS = 3;
/**
 * From the front, after its request: it gives up waiting for the call to start (the server is
 * stopped or busy); a server that reads it before starting the call answers `F` instead.
 */
export const QUIT = 'Q'.charCodeAt(0);
/** Answer: refused, nothing ran. */
export const ANSWER_REFUSED = Buffer.from('F');
/** Answer: the call starts (its status follows). */
export const ANSWER_RUNNING = Buffer.from('R');

/** A call handed over by a front. */
export interface HandoffRequest {
  /** The caller's working directory (absolute). */
  cwd: string;
  /** The command line without the program's name (as `process.argv.slice(2)`). */
  argv: string[];
  /** The caller's environment. */
  env: Record<string, string>;
  /** The front clones for the server (`NSH2`): `create` may be handed over, the end is `X`. */
  clones?: boolean;
  /** The caller's umask (`NSH2`: the body's first string, in octal): files the call creates get it. */
  umask?: number;
}

/** A request that is not well formed: its connection is closed, nothing runs. */
export class MalformedRequest extends Error {}

/**
 * The length of the whole request once `head` (its first bytes) holds the header, or null
 * while fewer than {@link HEADER_BYTES} bytes have come.
 * @throws MalformedRequest for another magic or a body past {@link MAX_BODY}
 */
export function requestLength(head: Buffer): number | null {
  if (head.length < HEADER_BYTES) return null;
  const magic = head.toString('latin1', 0, 4);
  if (magic !== REQUEST_MAGIC && magic !== REQUEST_MAGIC_CLONES) throw new MalformedRequest('not a hand-off request (magic)');
  const body = head.readUInt32LE(4);
  if (body > MAX_BODY) throw new MalformedRequest(`a body of ${body} bytes (at most ${MAX_BODY})`);
  return HEADER_BYTES + body;
}

/**
 * Decode a complete request (header and body, exactly {@link requestLength} bytes).
 * @throws MalformedRequest when the counts do not match the body's NUL-ended strings, the
 *   working directory is not absolute, or an environment entry has no `=`
 */
export function decodeRequest(message: Buffer): HandoffRequest {
  const total = requestLength(message);
  if (total === null || total !== message.length) throw new MalformedRequest('a request cut short or too long');
  const argc = message.readUInt32LE(8);
  const envc = message.readUInt32LE(12);
  const body = message.subarray(HEADER_BYTES);
  if (body.length === 0 || body[body.length - 1] !== 0) throw new MalformedRequest('the body does not end with a NUL');
  const all = body.toString('utf8', 0, body.length - 1).split('\0');
  const clones = message.toString('latin1', 0, 4) === REQUEST_MAGIC_CLONES;
  // NSH2: the caller's umask first, in octal.
  let umask: number | undefined;
  if (clones) {
    const text = all.shift() ?? '';
    if (!/^[0-7]{1,4}$/.test(text)) throw new MalformedRequest('the umask is not an octal number');
    umask = Number.parseInt(text, 8) & 0o777;
  }
  const strings = all;
  if (strings.length !== 1 + argc + envc) {
    throw new MalformedRequest(`${strings.length} strings for 1 + ${argc} arguments + ${envc} environment entries`);
  }
  const cwd = strings[0]!;
  if (!cwd.startsWith('/')) throw new MalformedRequest('the working directory is not absolute');
  const env: Record<string, string> = {};
  for (const entry of strings.slice(1 + argc)) {
    const eq = entry.indexOf('=');
    if (eq <= 0) throw new MalformedRequest('an environment entry without KEY=');
    // The first of a repeated key wins, as getenv(3) finds it.
    const key = entry.slice(0, eq);
    if (!(key in env)) env[key] = entry.slice(eq + 1);
  }
  return { cwd, argv: strings.slice(1, 1 + argc), env, ...(clones ? { clones, umask: umask! } : {}) };
}

/** Encode a request as handoff.c does (for tests and for a client written in JavaScript). */
export function encodeRequest(request: HandoffRequest): Buffer {
  const env = Object.entries(request.env).map(([k, v]) => `${k}=${v}`);
  const umask = request.clones ? [(request.umask ?? 0o022).toString(8).padStart(4, '0')] : [];
  const body = Buffer.from([...umask, request.cwd, ...request.argv, ...env].map((s) => `${s}\0`).join(''), 'utf8');
  const head = Buffer.alloc(HEADER_BYTES);
  head.write(request.clones ? REQUEST_MAGIC_CLONES : REQUEST_MAGIC, 0, 'latin1');
  head.writeUInt32LE(body.length, 4);
  head.writeUInt32LE(request.argv.length, 8);
  head.writeUInt32LE(env.length, 12);
  return Buffer.concat([head, body]);
}

/**
 * The answer that ends a call: its exit status as a little-endian i32; to a front that clones,
 * `X`, the status and the pid of the container's process made for the caller (0: none).
 */
export function statusAnswer(status: number, clones = false, containerPid = 0): Buffer {
  if (!clones) {
    const b = Buffer.alloc(4);
    b.writeInt32LE(status);
    return b;
  }
  const b = Buffer.alloc(9);
  b.write('X', 0, 'latin1');
  b.writeInt32LE(status, 1);
  b.writeInt32LE(containerPid, 5);
  return b;
}

/** runc's global options that take a value (`--root DIR`, also as `--root=DIR`). */
const GLOBAL_WITH_VALUE = new Set(['--root', '--log', '--log-format', '--rootless']);
/** The global flags without a value. */
const GLOBAL_FLAGS = new Set(['--debug', '--systemd-cgroup']);

/**
 * The verbs a server runs: those that only read or signal state (pause and resume: the
 * cgroup's freezer). Each runs in the server's
 * process with the caller's descriptors, working directory and environment, and leaves no
 * process behind that a client would have to reap. `run` and `exec` are not among them:
 * their process must be the caller's child and the caller waits for it (docs/cli-start.md),
 * so the front runs them; `create` is taken from a front that clones (handedOff()).
 */
export const HANDED_OFF_VERBS: ReadonlySet<string> = new Set(['state', 'list', 'ls', 'kill', 'start', 'delete', 'rm', 'ps', 'pause', 'resume', 'features']);

/** `ns exec`'s options that take a value (packages/cli/src/index.ts), as separate words or `--opt=value`. */
const EXEC_WITH_VALUE = new Set(['-u', '--user', '-g', '--additional-gids', '-e', '--env', '--cwd', '--cap-add', '--cap-drop', '-c', '--cap', '-p', '--process', '--pid-file', '--console-socket']);
/** `ns exec`'s flags without a value, besides `-d` / `--detach`. */
const EXEC_FLAGS = new Set(['-t', '--tty', '--ignore-paused']);

/**
 * Whether the words after `exec` are a detached exec a server may run (runc exec `--detach`,
 * what conmon and containerd's shim call): `-d` or `--detach` among the options, which all
 * come before the container id (commander's passThroughOptions), no `--preserve-fds`, and
 * nothing the front cannot be sure of (combined short flags, an unknown option: Node's).
 */
function detachedExec(words: readonly string[]): boolean {
  let detach = false;
  for (let i = 0; i < words.length; i++) {
    const word = words[i]!;
    if (!word.startsWith('-') || word === '-') return detach; // the id: the options end
    const name = word.startsWith('--') && word.includes('=') ? word.slice(0, word.indexOf('=')) : word;
    if (word === '-d' || word === '--detach') detach = true;
    else if (EXEC_WITH_VALUE.has(name)) {
      if (name === word) i++;
    } else if (!EXEC_FLAGS.has(word)) return false; // --preserve-fds, --, -h, combined flags, unknown
  }
  return false; // no id
}

/**
 * Whether a server runs the call `argv` (the command line without the program's name): a verb
 * of {@link HANDED_OFF_VERBS}, `events` with `--stats` (one line, then exit), `create` and
 * a detached `exec` from a front that `clones` (without `--preserve-fds`), or only `--version` / `-V`, after runc's
 * global options. Anything else (another verb, an unknown
 * option before the verb, `--help` / `-h` anywhere before a `--`) is refused and the front
 * runs it in a Node of its own.
 */
export function handedOff(argv: readonly string[], clones = false): boolean {
  const at = verbAt(argv);
  if (at === null) return false;
  const { i, version } = at;
  return handedOffVerb(argv, i, version, clones);
}

/**
 * Where the verb is in `argv` (after runc's global options), and whether `--version` / `-V`
 * came before it; null for an unknown option before the verb. `i` is argv.length when there
 * is no verb.
 */
export function verbAt(argv: readonly string[]): { i: number; version: boolean } | null {
  let i = 0;
  let version = false;
  for (; i < argv.length; i++) {
    const word = argv[i]!;
    const name = word.startsWith('--') && word.includes('=') ? word.slice(0, word.indexOf('=')) : word;
    if (GLOBAL_WITH_VALUE.has(name)) {
      if (name === word) i++; // the value is the next word
    } else if (GLOBAL_FLAGS.has(word)) {
      // nothing to skip
    } else if (word === '--version' || word === '-V') {
      version = true;
    } else if (word.startsWith('-')) {
      return null;
    } else {
      break;
    }
  }
  return { i, version };
}

function handedOffVerb(argv: readonly string[], i: number, version: boolean, clones: boolean): boolean {
  if (i >= argv.length) return version;
  if (version) return false;
  const verb = argv[i]!;
  // Help is wrapped to the width of the terminal on *this process's* stdout (commander): the
  // caller's own Node gets it right, and help is never on a client's hot path.
  const words = argv.slice(i + 1);
  const end = words.indexOf('--');
  if ((end < 0 ? words : words.slice(0, end)).some((w) => w === '-h' || w === '--help')) return false;
  // `create` only from a front that clones (the container is the caller's child), and without
  // --preserve-fds (the front sends its 0, 1, 2 only).
  if (verb === 'create') return clones && !(end < 0 ? words : words.slice(0, end)).some((w) => w === '--preserve-fds' || w.startsWith('--preserve-fds='));
  if (verb === 'exec') return clones && detachedExec(words);
  if (verb === 'events') {
    const rest = argv.slice(i + 1);
    const dashes = rest.indexOf('--');
    return (dashes < 0 ? rest : rest.slice(0, dashes)).includes('--stats');
  }
  return HANDED_OFF_VERBS.has(verb);
}
