/**
 * `npm run soak [-- --seconds 60 --concurrency 32 --port 8799]`
 *
 * Starts the Worker with `wrangler dev` on its own fresh local state (migrations applied, demo data
 * seeded), drives a mixed workload against it, then checks that every acknowledged write is
 * there: each registered user can sign in, each recorded score reads back, each uploaded image
 * streams back byte-identical. Exits non-zero on any 5xx or lost write. Only loopback is used.
 */
import { type ChildProcess, spawn, spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { DEMO_INTEGRATION_KEY, DEMO_MODULES, DEMO_PASSWORD, seedStatements } from "../db/seed.ts";
import { parsePeppers } from "../lib/password.ts";
import { generateDevVars } from "./dev-vars.ts";

const root = join(dirname(fileURLToPath(import.meta.url)), "..", "..");
const wrangler = join(root, "node_modules", ".bin", process.platform === "win32" ? "wrangler.cmd" : "wrangler");

function option(name: string, fallback: number): number {
	const index = process.argv.indexOf(`--${name}`);
	const raw = index >= 0 ? process.argv[index + 1] : process.env[`SOAK_${name.toUpperCase()}`];
	const value = raw === undefined ? fallback : Number(raw);
	if (!Number.isFinite(value) || value <= 0) throw new Error(`--${name} must be a positive number`);
	return value;
}

const SECONDS = option("seconds", 60);
const CONCURRENCY = option("concurrency", 32);
const PORT = option("port", 8799);
const BASE = `http://127.0.0.1:${PORT}`;

// ---------------------------------------------------------------------------------------------
// The Worker, on state of its own.

const state = mkdtempSync(join(tmpdir(), "edge-identity-soak-"));
const devVarsPath = join(root, ".dev.vars");
if (!existsSync(devVarsPath)) writeFileSync(devVarsPath, await generateDevVars(), { mode: 0o600 });
const devVars = readFileSync(devVarsPath, "utf8");
const envFile = join(state, "soak.env");
// Classrooms share an address, and so does this load: per-IP registration limits are lifted for the run.
writeFileSync(
	envFile,
	`${devVars}\nRATE_LIMITS='${JSON.stringify({ registerIp: { limit: 1_000_000, windowSeconds: 60 } })}'\n`,
);

function wranglerSync(args: string[]) {
	const result = spawnSync(wrangler, args, { cwd: root, stdio: "pipe", env: { ...process.env, CI: "true" } });
	if (result.status !== 0) throw new Error(`wrangler ${args.join(" ")} failed:\n${result.stderr}`);
}

const peppersLine = devVars.split(/\r?\n/).find((l) => l.startsWith("PASSWORD_PEPPERS=")) ?? "";
const peppers = parsePeppers(peppersLine.slice("PASSWORD_PEPPERS=".length).replace(/^'(.*)'$/, "$1"));
console.log(`soak: state in ${state}; applying migrations and demo data…`);
wranglerSync(["d1", "migrations", "apply", "DB", "--local", "--env", "development", "--persist-to", state]);
const seedFile = join(state, "seed.sql");
writeFileSync(seedFile, (await seedStatements(peppers)).join("\n"));
wranglerSync(["d1", "execute", "DB", "--local", "--env", "development", "--persist-to", state, `--file=${seedFile}`]);

let worker: ChildProcess | undefined;
function stop(code: number): never {
	worker?.kill("SIGTERM");
	rmSync(state, { recursive: true, force: true });
	process.exit(code);
}
process.on("SIGINT", () => stop(130));

worker = spawn(
	wrangler,
	[
		"dev",
		"--env",
		"development",
		"--port",
		String(PORT),
		"--ip",
		"127.0.0.1",
		"--persist-to",
		state,
		"--env-file",
		envFile,
		"--show-interactive-dev-session=false",
	],
	{ cwd: root, stdio: ["ignore", "pipe", "pipe"], env: { ...process.env, CI: "true" } },
);
let workerLog = "";
worker.stdout?.on("data", (d) => (workerLog += d));
worker.stderr?.on("data", (d) => (workerLog += d));

const startedAt = Date.now();
for (;;) {
	try {
		if ((await fetch(`${BASE}/api`)).ok) break;
	} catch {
		// not up yet
	}
	if (Date.now() - startedAt > 90_000) {
		console.error(`soak: the Worker did not start within 90 s\n${workerLog.slice(-4000)}`);
		stop(1);
	}
	await new Promise((r) => setTimeout(r, 250));
}

// ---------------------------------------------------------------------------------------------
// Bookkeeping: every request counted, every acknowledged write remembered.

const statuses = new Map<number, number>();
const serverErrors: string[] = [];
let requests = 0;

async function call(path: string, init: RequestInit & { expect?: number[] } = {}): Promise<Response> {
	requests += 1;
	let res: Response;
	try {
		res = await fetch(`${BASE}${path}`, { redirect: "manual", ...init });
	} catch (error) {
		statuses.set(0, (statuses.get(0) ?? 0) + 1);
		serverErrors.push(`${init.method ?? "GET"} ${path}: network error ${String(error)}`);
		throw error;
	}
	statuses.set(res.status, (statuses.get(res.status) ?? 0) + 1);
	if (res.status >= 500)
		serverErrors.push(`${init.method ?? "GET"} ${path} → ${res.status} ${await res.clone().text()}`);
	if (init.expect && !init.expect.includes(res.status)) {
		throw new Error(`${init.method ?? "GET"} ${path} → ${res.status} ${await res.text()}`);
	}
	return res;
}

const json = (body: unknown, headers: Record<string, string> = {}): RequestInit => ({
	method: "POST",
	headers: { "Content-Type": "application/json", ...headers },
	body: JSON.stringify(body),
});
const auth = (token: string) => ({ Authorization: `Bearer ${token}` });
const cookieOf = (res: Response) =>
	res.headers
		.getSetCookie()
		.find((c) => c.startsWith("refresh_token="))
		?.split(";")[0];

interface VirtualUser {
	id: number;
	email: string;
	password: string;
	token: string;
	cookie?: string;
	image?: { key: string; bytes: Uint8Array };
	scores: Map<number, number>;
}

const registered: VirtualUser[] = [];
const unexpected: string[] = [];

// A partner's view: an API-role token for scores and login links.
let apiToken = "";
async function refreshApiToken() {
	const res = await call("/api/auth", json({ username: "api", password: DEMO_PASSWORD }));
	apiToken = ((await res.json()) as { access_token: string }).access_token;
}
await refreshApiToken();
const apiTimer = setInterval(() => void refreshApiToken().catch(() => {}), 10 * 60 * 1000);

const PNG = Uint8Array.from(
	atob("iVBORw0KGgoAAAANSUhEUgAAAAIAAAACCAIAAAD91JpzAAAAFklEQVR4nGM8IWfDwMDAxMDAwMDAAAAOTgEmR2hJIgAAAABJRU5ErkJggg=="),
	(c) => c.charCodeAt(0),
);
function uniqueImage(): Uint8Array {
	// A real PNG with random trailing bytes: still a PNG by its signature, unique per upload.
	const tail = crypto.getRandomValues(new Uint8Array(16 + Math.floor(Math.random() * 2048)));
	const out = new Uint8Array(PNG.length + tail.length);
	out.set(PNG);
	out.set(tail, PNG.length);
	return out;
}

let seq = 0;
async function registerUser(worker: number): Promise<VirtualUser> {
	seq += 1;
	const email = `soak-${process.pid}-${worker}-${seq}@example.com`;
	const password = `soak-password-${worker}-${seq}`;
	const created = await call("/sign/register", {
		...json({ email, password, firstName: "Soak", lastName: `Worker${worker}` }),
		expect: [201],
	});
	const { id } = (await created.json()) as { id: number };
	// The verification mail is sent after the response: poll the outbox.
	let token: string | undefined;
	for (let i = 0; i < 100 && !token; i++) {
		const mails = (await (await call(`/dev/outbox?to=${encodeURIComponent(email)}`)).json()) as { text: string }[];
		token = mails[0]?.text.match(/token=([\w-]+)/)?.[1];
		if (!token) await new Promise((r) => setTimeout(r, 50));
	}
	if (!token) throw new Error(`no verification mail for ${email}`);
	await call("/sign/verify", { ...json({ token }), expect: [200] });
	const login = await call("/sign/login", { ...json({ email, password }), expect: [200] });
	const body = (await login.json()) as { token: string };
	const user: VirtualUser = { id, email, password, token: body.token, cookie: cookieOf(login), scores: new Map() };
	registered.push(user);
	return user;
}

const ACTIONS: [number, (u: VirtualUser, w: number) => Promise<unknown>][] = [
	[
		8,
		async (u) => {
			const res = await call("/sign/login", { ...json({ email: u.email, password: u.password }), expect: [200] });
			u.token = ((await res.json()) as { token: string }).token;
			u.cookie = cookieOf(res);
		},
	],
	[
		6,
		async (u) => {
			const res = await call("/api/auth", { ...json({ username: u.email, password: u.password }), expect: [200] });
			u.token = ((await res.json()) as { access_token: string }).access_token;
			u.cookie = cookieOf(res);
		},
	],
	[
		10,
		async (u) => {
			if (!u.cookie) return;
			const kc7 = Math.random() < 0.5;
			const res = await call(kc7 ? "/auth/refresh-token" : "/sign/refresh", {
				method: kc7 ? "POST" : "GET",
				headers: { Cookie: u.cookie },
				expect: [200],
			});
			u.cookie = cookieOf(res) ?? u.cookie;
		},
	],
	[12, (u) => call("/sign/check", { headers: auth(u.token), expect: [200] })],
	[12, (u) => call("/user/profile", { headers: auth(u.token), expect: [200] })],
	[6, (u) => call(`/user/profile/${u.id}`, { expect: [200] })],
	[6, (u) => call("/api/users/me", { headers: auth(u.token), expect: [200] })],
	[
		5,
		async (u) => {
			const bytes = uniqueImage();
			const form = new FormData();
			form.append("firstName", `Soak${Math.floor(Math.random() * 1000)}`);
			form.append("profileImage", new File([bytes], "me.png", { type: "image/png" }));
			const res = await call("/user/profile", { method: "PUT", headers: auth(u.token), body: form, expect: [200] });
			u.image = { key: ((await res.json()) as { profileImage: string }).profileImage, bytes };
		},
	],
	[
		4,
		async (u) => {
			if (!u.image) return;
			const res = await call(`/user/profile/stream/${u.image.key}`, { headers: auth(u.token), expect: [200] });
			await res.arrayBuffer();
		},
	],
	[
		8,
		async (u) => {
			const module = DEMO_MODULES[Math.floor(Math.random() * DEMO_MODULES.length)] as (typeof DEMO_MODULES)[number];
			const score = Math.floor(Math.random() * (module.maxScore + 1));
			await call(`/api/users/${u.id}/modules/${module.id}`, {
				...json({ score }, auth(apiToken)),
				method: "PUT",
				expect: [200],
			});
			u.scores.set(module.id, score);
		},
	],
	[6, (u) => call(`/api/users/${u.id}/modules`, { headers: auth(u.token), expect: [200] })],
	[
		3,
		async (u) => {
			const res = await call(`/api/users/${u.id}/magic-link`, {
				method: "POST",
				headers: { ...auth(apiToken), "X-Integration-Key": DEMO_INTEGRATION_KEY },
				expect: [200],
			});
			const link = new URL(((await res.json()) as { login_link: string }).login_link);
			const redeemed = await call(`/auth/token-login${link.search}`, { expect: [200] });
			u.cookie = cookieOf(redeemed) ?? u.cookie;
		},
	],
	[
		3,
		(u) =>
			call("/communities", { expect: [200] }).then(() =>
				call(`/user/community/join/${1 + (u.id % 3)}`, { method: "PATCH", headers: auth(u.token), expect: [200] }),
			),
	],
	[2, (_, w) => registerUser(w)],
];
const totalWeight = ACTIONS.reduce((n, [w]) => n + w, 0);
function pick() {
	let r = Math.random() * totalWeight;
	for (const [weight, action] of ACTIONS) {
		r -= weight;
		if (r <= 0) return action;
	}
	return (ACTIONS[0] as (typeof ACTIONS)[number])[1];
}

const deadline = Date.now() + SECONDS * 1000;
console.log(`soak: ${CONCURRENCY} workers for ${SECONDS} s against ${BASE}`);

async function runWorker(w: number) {
	// Each worker owns its users, so its writes to them are ordered and the last one must be what reads back.
	const mine = [await registerUser(w)];
	while (Date.now() < deadline) {
		const user = mine[Math.floor(Math.random() * mine.length)] as VirtualUser;
		const action = pick();
		try {
			const result = await action(user, w);
			if (result && typeof result === "object" && "scores" in result) mine.push(result as VirtualUser);
		} catch (error) {
			unexpected.push(String(error).slice(0, 300));
		}
	}
}

await Promise.all(Array.from({ length: CONCURRENCY }, (_, w) => runWorker(w).catch((e) => unexpected.push(String(e)))));
clearInterval(apiTimer);
const loadRequests = requests;

// ---------------------------------------------------------------------------------------------
// Every acknowledged write must be there.

console.log(`soak: load done (${loadRequests} requests); verifying ${registered.length} users…`);
await refreshApiToken();
const lost: string[] = [];
for (const u of registered) {
	const login = await call("/sign/login", json({ email: u.email, password: u.password }));
	if (login.status !== 200) {
		lost.push(`${u.email} cannot sign in (${login.status})`);
		continue;
	}
	const token = ((await login.json()) as { token: string }).token;
	for (const [moduleId, score] of u.scores) {
		const res = await call(`/api/users/${u.id}/modules/${moduleId}`, { headers: auth(apiToken) });
		const got = res.status === 200 ? ((await res.json()) as { score: number }).score : undefined;
		if (got !== score) lost.push(`user ${u.id} module ${moduleId}: wrote ${score}, reads ${got ?? res.status}`);
	}
	if (u.image) {
		const profile = (await (await call("/user/profile", { headers: auth(token) })).json()) as { profileImage: string };
		if (profile.profileImage !== u.image.key)
			lost.push(`user ${u.id}: image key ${profile.profileImage}, expected ${u.image.key}`);
		const res = await call(`/user/profile/stream/${u.image.key}`, { headers: auth(token) });
		const bytes = new Uint8Array(await res.arrayBuffer());
		if (res.status !== 200 || bytes.length !== u.image.bytes.length || bytes.some((b, i) => b !== u.image?.bytes[i])) {
			lost.push(
				`user ${u.id}: image ${u.image.key} does not stream back identical (${res.status}, ${bytes.length} bytes)`,
			);
		}
	}
}

// ---------------------------------------------------------------------------------------------

const byStatus = [...statuses.entries()]
	.sort(([a], [b]) => a - b)
	.map(([s, n]) => `${s}: ${n}`)
	.join(", ");
const scores = registered.reduce((n, u) => n + u.scores.size, 0);
const images = registered.filter((u) => u.image).length;
console.log("");
console.log(`requests:        ${requests} (${loadRequests} under load, ${(loadRequests / SECONDS).toFixed(0)}/s)`);
console.log(`statuses:        ${byStatus}`);
console.log(`5xx:             ${serverErrors.length}`);
console.log(`writes checked:  ${registered.length} users, ${scores} scores, ${images} images`);
console.log(`lost writes:     ${lost.length}`);
console.log(`unexpected answers (non-5xx): ${unexpected.length}`);
for (const line of [...serverErrors, ...lost, ...unexpected].slice(0, 20)) console.log(`  ${line}`);
stop(serverErrors.length > 0 || lost.length > 0 ? 1 : 0);
