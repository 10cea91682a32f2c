/**
 * The browser tests' Worker: `wrangler dev --env development` on a free port and its own fresh local state
 * (migrations applied), with the port-following vars moved to that port exactly as `npm run dev -- --port N` does.
 * Mail is read back from GET /dev/outbox. Node only (test/browser runs in Node's test runner, not workerd).
 */
import { type ChildProcess, spawn, spawnSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { unstable_readConfig } from "wrangler";
import { seedStatements } from "../../src/db/seed.ts";
import { parsePeppers } from "../../src/lib/password.ts";
import { portVarArgs } from "../../src/scripts/dev-port.ts";
import { generateDevVars } from "../../src/scripts/dev-vars.ts";

const root = fileURLToPath(new URL("../..", import.meta.url));
const wrangler = join(root, "node_modules", ".bin", process.platform === "win32" ? "wrangler.cmd" : "wrangler");

async function freePort(): Promise<number> {
	return new Promise((resolve, reject) => {
		const server = createServer();
		server.once("error", reject);
		server.listen(0, "127.0.0.1", () => {
			const address = server.address();
			server.close(() =>
				typeof address === "object" && address ? resolve(address.port) : reject(new Error("no port")),
			);
		});
	});
}

export interface RunningWorker {
	/** http://localhost:<port>: what the Worker's links use (issuer, PUBLIC_BASE_URL, DASHBOARD_URL). */
	origin: string;
	port: number;
	/** A JSON call to the API from Node, like curl: {status, body}. */
	call(method: string, path: string, body?: unknown, headers?: Record<string, string>): Promise<ApiReply>;
	/** The link to `path` (`<origin><path>?token=…`) in the newest mail to `to` that has one, once it is sent. */
	linkTo(to: string, path: string, after?: number): Promise<string>;
	stop(): Promise<void>;
}

export interface ApiReply {
	status: number;
	body: Record<string, unknown>;
	headers: Headers;
}

function wranglerSync(args: string[]) {
	const result = spawnSync(wrangler, args, { cwd: root, stdio: "pipe", env: { ...process.env, CI: "true" } });
	if (result.status !== 0) throw new Error(`wrangler ${args.join(" ")} failed:\n${result.stdout}\n${result.stderr}`);
}

export async function startWorker(): Promise<RunningWorker> {
	const state = mkdtempSync(join(tmpdir(), "edge-identity-browser-"));
	const envFile = join(state, "browser.env");
	const devVars = await generateDevVars();
	writeFileSync(envFile, devVars, { mode: 0o600 });
	wranglerSync(["d1", "migrations", "apply", "DB", "--local", "--env", "development", "--persist-to", state]);
	// The demo data `npm run dev` seeds (the API client and the partner key mint login links).
	const peppers = parsePeppers(devVars.match(/^PASSWORD_PEPPERS='(.*)'$/m)?.[1] ?? "");
	const seedFile = join(state, "seed.sql");
	writeFileSync(seedFile, (await seedStatements(peppers)).join("\n"));
	wranglerSync(["d1", "execute", "DB", "--local", "--env", "development", "--persist-to", state, `--file=${seedFile}`]);

	const port = await freePort();
	const args = ["--port", String(port)];
	const configVars = unstable_readConfig({ config: join(root, "wrangler.toml"), env: "development" }).vars;
	const portVars = portVarArgs({ args, configVars, devVarsKeys: new Set() });
	const worker: ChildProcess = spawn(
		wrangler,
		[
			"dev",
			"--env",
			"development",
			...args,
			"--ip",
			"127.0.0.1",
			"--persist-to",
			state,
			"--env-file",
			envFile,
			"--show-interactive-dev-session=false",
			...portVars,
		],
		{ cwd: root, stdio: ["ignore", "pipe", "pipe"], env: { ...process.env, CI: "true" }, detached: true },
	);
	let log = "";
	worker.stdout?.on("data", (d) => (log += d));
	worker.stderr?.on("data", (d) => (log += d));
	const exited = new Promise<void>((resolve) => worker.once("exit", () => resolve()));

	const direct = `http://127.0.0.1:${port}`;
	const started = Date.now();
	for (;;) {
		try {
			if ((await fetch(`${direct}/api`)).ok) break;
		} catch {
			// not up yet
		}
		if (worker.exitCode !== null || Date.now() - started > 90_000) {
			worker.kill("SIGTERM");
			throw new Error(`the Worker did not start within 90 s:\n${log.slice(-4000)}`);
		}
		await new Promise((r) => setTimeout(r, 250));
	}

	async function call(method: string, path: string, body?: unknown, headers: Record<string, string> = {}) {
		const res = await fetch(`${direct}${path}`, {
			method,
			headers: body === undefined ? headers : { "Content-Type": "application/json", ...headers },
			body: body === undefined ? undefined : JSON.stringify(body),
			redirect: "manual",
		});
		const text = await res.text();
		return {
			status: res.status,
			body: (text ? JSON.parse(text) : {}) as Record<string, unknown>,
			headers: res.headers,
		};
	}

	async function linkTo(to: string, path: string, after = 0): Promise<string> {
		const pattern = new RegExp(`https?://\\S+${path.replace(/[.*+?^${}()|[\]\\/]/g, "\\$&")}\\?token=[\\w-]+`);
		const until = Date.now() + 10_000;
		for (;;) {
			const res = await fetch(`${direct}/dev/outbox?to=${encodeURIComponent(to)}`);
			const list = (await res.json()) as { subject: string; text: string; createdAt: string }[];
			for (const mail of list) {
				const found = Date.parse(mail.createdAt) >= after ? mail.text.match(pattern)?.[0] : undefined;
				if (found) return found;
			}
			if (Date.now() > until) throw new Error(`no ${path} link mailed to ${to}; outbox: ${JSON.stringify(list)}`);
			await new Promise((r) => setTimeout(r, 100));
		}
	}

	async function stop() {
		if (worker.exitCode === null && worker.pid) {
			// wrangler starts workerd as its own child: end the whole group this script started.
			process.kill(-worker.pid, "SIGTERM");
			await Promise.race([exited, new Promise((r) => setTimeout(r, 5000))]);
			if (worker.exitCode === null) process.kill(-worker.pid, "SIGKILL");
		}
		rmSync(state, { recursive: true, force: true });
	}

	return { origin: `http://localhost:${port}`, port, call, linkTo, stop };
}
