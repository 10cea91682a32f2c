/**
 * `npm run dev -- --port N`: the vars that name the Worker's own address follow the port, so the tokens' issuer,
 * `login_link` and every mailed link point at the Worker that is actually running. Pure functions (the dev script
 * reads wrangler.toml and .dev.vars and passes what they hold), tested in test/node/dev-port.test.ts.
 */

/** wrangler dev's port when none is given, and the one wrangler.toml's development vars are written for. */
export const DEFAULT_DEV_PORT = 8787;

/** Vars that follow the port when they point at the Worker itself (http://localhost:8787 or 127.0.0.1). */
export const PORT_FOLLOWING_VARS = ["JWT_ISSUER", "PUBLIC_BASE_URL", "DASHBOARD_URL"] as const;

/** The port asked for with `--port N` or `--port=N` (the last one wins, as in wrangler); undefined when none. */
export function portFromArgs(args: readonly string[]): number | undefined {
	let raw: string | undefined;
	for (let i = 0; i < args.length; i++) {
		const arg = args[i] as string;
		if (arg === "--port") raw = args[i + 1];
		else if (arg.startsWith("--port=")) raw = arg.slice("--port=".length);
	}
	if (raw === undefined) return undefined;
	const port = Number(raw);
	if (!/^[0-9]{1,5}$/.test(raw) || port < 1 || port > 65535) throw new Error(`--port ${raw} is not a port number`);
	return port;
}

/** The names a dotenv file (.dev.vars) sets. */
export function dotenvKeys(text: string): Set<string> {
	const keys = new Set<string>();
	for (const line of text.split(/\r?\n/)) {
		const match = line.match(/^\s*(?:export\s+)?([A-Za-z_][A-Za-z0-9_]*)\s*=/);
		if (match?.[1]) keys.add(match[1]);
	}
	return keys;
}

/** The names the caller already set with `--var NAME:value` (or `--var=NAME:value`). */
function cliVarKeys(args: readonly string[]): Set<string> {
	const keys = new Set<string>();
	for (let i = 0; i < args.length; i++) {
		const arg = args[i] as string;
		const value = arg === "--var" ? args[i + 1] : arg.startsWith("--var=") ? arg.slice("--var=".length) : undefined;
		if (value) keys.add(value.split(":")[0] as string);
	}
	return keys;
}

const WORKER_ORIGIN = new RegExp(`^(http://(?:localhost|127\\.0\\.0\\.1)):${DEFAULT_DEV_PORT}(?=[/?#]|$)`);

/**
 * The `--var NAME:value` arguments that move the port-following vars to the requested port. A var is left alone
 * when no port (or the default one) is asked for, when it does not point at the Worker on the default port (a
 * DASHBOARD_URL on another app), or when .dev.vars or the caller's own `--var` already sets it.
 */
export function portVarArgs(input: {
	args: readonly string[];
	configVars: Readonly<Record<string, unknown>>;
	devVarsKeys: ReadonlySet<string>;
}): string[] {
	const port = portFromArgs(input.args);
	if (port === undefined || port === DEFAULT_DEV_PORT) return [];
	const callerKeys = cliVarKeys(input.args);
	const out: string[] = [];
	for (const name of PORT_FOLLOWING_VARS) {
		if (input.devVarsKeys.has(name) || callerKeys.has(name)) continue;
		const value = input.configVars[name];
		if (typeof value !== "string" || !WORKER_ORIGIN.test(value)) continue;
		out.push("--var", `${name}:${value.replace(WORKER_ORIGIN, `$1:${port}`)}`);
	}
	return out;
}
