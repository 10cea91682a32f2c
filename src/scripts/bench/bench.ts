/**
 * `npm run bench [-- --far | --scale | --profile] [--rounds N --duration S …]` (--help lists the options)
 *
 * Runs the Worker on workerd (Miniflare, direct sockets) beside floor Workers doing the least each kind of
 * request must do, loads each endpoint in turn with autocannon, and prints and saves (bench-results/latest.json)
 * throughput, latency, server CPU and D1 round trips per request, with the targets of each ratio; --profile
 * records a V8 CPU profile of each run instead, and prints where the Worker's CPU goes.
 * Exits 0 whatever the figures, unless --strict (then a failed target or a failed request exits 1).
 */
import { randomBytes } from "node:crypto";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { cpus, tmpdir } from "node:os";
import { dirname, join, relative, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { decodeJwt, importJWK, type JWK, SignJWT } from "jose";
import { generateSigningJwk } from "../dev-vars.ts";
import { type BundleSize, buildWorkers, measureBundle, type WorkerName } from "./build.ts";
import { type Endpoint, RefreshPool, runLoad, type Sample } from "./load.ts";
import { type Options, parseOptions } from "./options.ts";
import { type Analysis, analysisText, analyze, type CpuProfile, ModuleMap, profileLoad } from "./profile.ts";
import {
	FAR_COLUMNS,
	failures,
	LEGEND,
	type Measured,
	NORMAL_COLUMNS,
	pairedRatio,
	ratio,
	stealNote,
	summarize,
	type Target,
	table,
	target,
	targetLines,
} from "./report.ts";
import {
	type Account,
	grantRole,
	insertScaleUsers,
	PASSWORD,
	passwordHashOf,
	registerAccounts,
	signIn,
	userCount,
} from "./seed.ts";
import { type Secrets, type Server, startServer } from "./server.ts";

const root = join(dirname(fileURLToPath(import.meta.url)), "..", "..", "..");
const options = parseOptions(process.argv.slice(2));
const work = mkdtempSync(join(tmpdir(), "edge-identity-bench-"));
const notes: string[] = [];
const log = (line: string) => console.log(`bench: ${line}`);

async function makeSecrets(): Promise<Secrets> {
	const jwk = await generateSigningJwk("bench");
	const { d: _private, ...publicJwk } = jwk;
	return {
		JWT_PRIVATE_KEYS: JSON.stringify([jwk]),
		PASSWORD_PEPPERS: `bench:${randomBytes(32).toString("base64url")}`,
		publicJwks: JSON.stringify([publicJwk]),
	};
}

const json = { "content-type": "application/json" };
// The Bearer endpoints again, each request with a token the app has not verified lately (see distinctTokens).
const COLD_CHECK = "GET /sign/check (new token)";
const COLD_ME = "GET /api/users/me (new token)";
const bearer = (token: string) => ({ authorization: `Bearer ${token}` });

/** The two password sign-ins (ILD and KC7), rotating over `accounts`: every mode loads both. */
const signInEndpoints = (accounts: Account[]): Endpoint[] => [
	{
		name: "POST /sign/login",
		worker: "app",
		method: "POST",
		path: "/sign/login",
		headers: json,
		bodies: accounts.map((a) => JSON.stringify({ email: a.email, password: PASSWORD })),
	},
	{
		name: "POST /api/auth",
		worker: "app",
		method: "POST",
		path: "/api/auth",
		headers: json,
		bodies: accounts.map((a) => JSON.stringify({ username: a.username, password: PASSWORD })),
	},
];

type Run = (endpoint: Endpoint, load: { connections: number; durationS: number }, round: number) => Promise<Sample>;

/**
 * Runs every endpoint (those --only selects) once per round, after one short warm-up pass, in the same order each
 * round; `run` measures a round's run (the warm-up is always a plain runLoad).
 */
async function measure(
	server: Server,
	endpoints: () => Promise<Endpoint[]>,
	beforeRun: (endpoint: Endpoint) => Promise<void>,
	run: Run = (endpoint, load) => runLoad(server, endpoint, load),
): Promise<Record<string, Measured>> {
	const samples: Record<string, Sample[]> = {};
	const warmUpS = Math.min(1, options.durationS);
	for (let round = 0; round <= options.rounds; round++) {
		const list = (await endpoints()).filter((e) => options.only?.some((text) => e.name.includes(text)) ?? true);
		if (list.length === 0) throw new Error(`no endpoint name contains "${options.only?.join('" or "')}"`);
		log(round === 0 ? `warm-up (${warmUpS} s each)` : `round ${round}/${options.rounds}`);
		for (const endpoint of list) {
			await beforeRun(endpoint);
			const load = { connections: options.connections, durationS: round === 0 ? warmUpS : options.durationS };
			const sample = round === 0 ? await runLoad(server, endpoint, load) : await run(endpoint, load, round);
			if (round > 0) samples[endpoint.name] = [...(samples[endpoint.name] ?? []), sample];
		}
	}
	return Object.fromEntries(Object.entries(samples).map(([name, rounds]) => [name, summarize(rounds)]));
}

/** Keeps `connections` live sessions in the refresh pool (a run ends with some cookies in flight, lost). */
function refreshTopUp(server: Server, pool: RefreshPool, accounts: Account[]) {
	return async (endpoint: Endpoint) => {
		if (endpoint.refresh !== pool) return;
		for (let i = 0; pool.size < options.connections; i++) {
			const account = accounts[i % accounts.length] as Account;
			pool.give((await signIn(server.urls.app, account.email)).cookie);
		}
	};
}

interface Outcome {
	results: Record<string, Measured> | Record<string, Record<string, Measured>>;
	targets: Target[];
	printed: string;
	bundle?: BundleSize;
	profiles?: Record<string, { files: string[]; analysis: Analysis }>;
}

/** The app endpoints of the normal and profile modes, with a bearer token signed in for this round. */
/**
 * `count` distinct access tokens for the session of `token`: its claims with a `jti` each (which the app ignores),
 * signed with the bench's key as the app signs. Four times as many as the app keeps verified (VERIFIED_LIMIT in
 * src/lib/jwt.ts, 1024; not imported: that module compiles under the Workers' types only), used in rotation: every
 * request presents a token the app has not verified lately, so it checks a signature every time.
 */
async function distinctTokens(secrets: Secrets, token: string, count = 4096): Promise<string[]> {
	const [jwk] = JSON.parse(secrets.JWT_PRIVATE_KEYS) as JWK[];
	if (!jwk?.kid) throw new Error("bench key without kid");
	const key = await importJWK({ ...jwk, alg: "ES256" }, "ES256");
	const claims = decodeJwt(token);
	const tokens: string[] = [];
	for (let i = 0; i < count; i++)
		tokens.push(
			await new SignJWT({ ...claims, jti: `bench-${i}` })
				.setProtectedHeader({ alg: "ES256", kid: jwk.kid, typ: "at+jwt" })
				.sign(key),
		);
	return tokens;
}

const appEndpoints = (accounts: Account[], token: string, pool: RefreshPool, cold: string[]): Endpoint[] => {
	const coldHeaders = cold.map(bearer);
	return [
		...signInEndpoints(accounts),
		{ name: "GET /sign/check", worker: "app", method: "GET", path: "/sign/check", headers: bearer(token) },
		{
			name: COLD_CHECK,
			worker: "app",
			method: "GET",
			path: "/sign/check",
			headerSets: coldHeaders,
		},
		{ name: "GET /api", worker: "app", method: "GET", path: "/api" },
		{ name: "GET /api/users/me", worker: "app", method: "GET", path: "/api/users/me", headers: bearer(token) },
		{
			name: COLD_ME,
			worker: "app",
			method: "GET",
			path: "/api/users/me",
			headerSets: coldHeaders,
		},
		{ name: "GET /user/profile", worker: "app", method: "GET", path: "/user/profile", headers: bearer(token) },
		{ name: "GET /api/modules", worker: "app", method: "GET", path: "/api/modules" },
		{ name: "GET /sign/refresh", worker: "app", method: "GET", path: "/sign/refresh", refresh: pool },
	];
};

const GUARDED_D1_FLOOR = "floor: D1 PK read + session check";
const SIGN_IN_FLOOR = "floor: sign-in I/O + PBKDF2";

/**
 * The floor Workers' endpoints, by the app endpoint each is the floor of (the normal mode runs them right after it:
 * the machine's drift between the two stays small). `token` is the round's access token, signed in as `account`:
 * the JWT floor verifies it, and the D1 floor's second read runs behind the check of its session.
 */
function floorsAfter(accounts: Account[], token: string): Record<string, Endpoint[]> {
	const account = accounts[0] as Account;
	const { sid } = decodeJwt(token);
	if (typeof sid !== "string") throw new Error("access token without sid");
	const read = `/?id=${account.id}`;
	return {
		"POST /api/auth": [
			{ name: "floor: PBKDF2 100k", worker: "floor-pbkdf2", method: "GET", path: "/" },
			{
				name: SIGN_IN_FLOOR,
				worker: "floor-sign-in",
				method: "POST",
				path: "/",
				headers: json,
				// The same rotation over the accounts as the sign-ins (one rate-limiter object per account).
				bodies: accounts.map((a) => JSON.stringify({ email: a.email })),
			},
		],
		[COLD_CHECK]: [
			{ name: "floor: JWT verify", worker: "floor-jwt", method: "GET", path: "/", headers: bearer(token) },
		],
		"GET /api/modules": [
			{ name: "floor: hello (Hono)", worker: "floor-hello", method: "GET", path: "/" },
			{ name: "floor: hello + headers", worker: "floor-hello-headers", method: "GET", path: "/" },
		],
		"GET /user/profile": [
			{ name: "floor: D1 PK read", worker: "floor-d1", method: "GET", path: read },
			{
				name: GUARDED_D1_FLOOR,
				worker: "floor-d1",
				method: "GET",
				path: `${read}&session=${encodeURIComponent(sid)}`,
			},
		],
	};
}

/** Whether the hello + headers floor answers with the same header names as the app's `GET /api` (a note either way). */
async function headerFloorCheck(server: Server): Promise<string> {
	const names = async (url: string) => {
		const res = await fetch(url);
		await res.arrayBuffer();
		return [...res.headers.keys()].sort().join(", ");
	};
	const [app, floor] = await Promise.all([names(`${server.urls.app}/api`), names(server.urls["floor-hello-headers"])]);
	return app === floor
		? `hello + headers floor: the same header names as the app's GET /api (${app})`
		: `hello + headers floor: header names DIFFER from the app's GET /api — app: ${app}; floor: ${floor}`;
}

async function normalMode(server: Server, secrets: Secrets): Promise<Outcome> {
	const db = await server.db();
	const accounts = await registerAccounts(server.urls.app, db, options.connections);
	const first = accounts[0] as Account;
	const pool = new RefreshPool();
	notes.push(
		`GET /sign/refresh: one session per connection (${options.connections} sessions); each request presents the latest cookie of a session not in flight and returns the rotated one to the pool, so every refresh is a real rotation (never the 10 s grace answer); sessions whose answer was cut off at the end of a run are replaced by fresh sign-ins between runs (not measured)`,
		`sign-ins rotate over ${accounts.length} verified accounts (one rate-limiter object per account, as real traffic)`,
		`JWT floor verifies the same access token GET /sign/check gets, with the app's public key and options; secrets: ${secrets.PASSWORD_PEPPERS.split(":")[0]} pepper and a fresh ES256 key`,
		"Bearer endpoints send one token per round, as a client reuses its token for 15 minutes: after its first request the app serves it from the tokens it verified (src/lib/jwt.ts). The (new token) rows send a different token on every request (4,096 of the same session in rotation, 4 × what the app keeps), so each one pays for a signature check",
	);
	const endpoints = async (): Promise<Endpoint[]> => {
		const { token } = await signIn(server.urls.app, first.email);
		const floors = floorsAfter(accounts, token);
		const cold = await distinctTokens(secrets, token);
		return appEndpoints(accounts, token, pool, cold).flatMap((e) => [e, ...(floors[e.name] ?? [])]);
	};
	notes.push(await headerFloorCheck(server));
	const results = await measure(server, endpoints, refreshTopUp(server, pool, accounts));
	notes.push(`GET /sign/refresh: ${pool.answersWithoutCookie} 2xx answers without a rotated cookie (grace answers)`);
	const steal = stealNote(results);
	if (steal) notes.push(steal);
	const m = (name: string) => results[name]?.median;
	const cpuNote = "unavailable" in server.cpu ? server.cpu.unavailable : undefined;
	const cpuRatio = (a: string, b: string) => pairedRatio(results[a], results[b], (s) => s.cpuMsPerRequest);
	const rpsRatio = (a: string, b: string) => pairedRatio(results[a], results[b], (s) => s.reqPerSec);
	const bundle = measureBundle(root, join(work, "deploy"));
	const targets = [
		target(
			"POST /sign/login CPU/req ÷ PBKDF2 floor",
			"≤ 1.15",
			cpuRatio("POST /sign/login", "floor: PBKDF2 100k"),
			"max",
			1.15,
			cpuNote,
		),
		target(
			"POST /api/auth CPU/req ÷ PBKDF2 floor",
			"≤ 1.15",
			cpuRatio("POST /api/auth", "floor: PBKDF2 100k"),
			"max",
			1.15,
			cpuNote,
		),
		target("GET /sign/check req/s ÷ JWT floor", "≥ 0.9", rpsRatio("GET /sign/check", "floor: JWT verify"), "min", 0.9),
		target("GET /api req/s ÷ hello floor", "≥ 0.8", rpsRatio("GET /api", "floor: hello (Hono)"), "min", 0.8),
		target(
			"GET /api/users/me CPU/req ÷ D1 floor",
			"≤ 1.3",
			cpuRatio("GET /api/users/me", "floor: D1 PK read"),
			"max",
			1.3,
			cpuNote,
		),
		target(
			"GET /user/profile CPU/req ÷ D1 floor",
			"≤ 1.3",
			cpuRatio("GET /user/profile", "floor: D1 PK read"),
			"max",
			1.3,
			cpuNote,
		),
		target(
			"GET /api/modules req/s ÷ hello floor",
			"≥ 0.8",
			rpsRatio("GET /api/modules", "floor: hello (Hono)"),
			"min",
			0.8,
		),
		target(
			"GET /api/modules D1 round trips/req",
			"≤ 0.01",
			m("GET /api/modules")
				? (m("GET /api/modules")?.d1PrimaryPerRequest ?? 0) + (m("GET /api/modules")?.d1ReplicaPerRequest ?? 0)
				: null,
			"max",
			0.01,
		),
		target("bundle KiB gzip", "≤ 160", bundle.gzipKiB, "max", 160, bundle.error),
	];
	const rows = Object.entries(results).map(([name, r]) => [name, r.median] as [string, Sample]);
	const printed = [
		table(rows, NORMAL_COLUMNS),
		LEGEND,
		"",
		`bundle: ${bundle.gzipKiB === null ? `not measured (${bundle.error})` : `${bundle.gzipKiB.toFixed(1)} KiB gzip, ${bundle.rawKiB?.toFixed(1)} KiB raw`}${bundle.wranglerLine ? ` (wrangler: ${bundle.wranglerLine})` : ""}`,
		...bundleParts(bundle),
		"",
		targetLines(targets),
		...["GET /api", "GET /api/modules"].map(
			(name) =>
				`info  ${name} req/s ÷ hello + headers floor: ${rpsRatio(name, "floor: hello + headers")?.toFixed(3) ?? "n/a"} (the bare hello answering with this API's response headers, as constants)`,
		),
		`info  ${COLD_CHECK} req/s ÷ JWT floor: ${rpsRatio(COLD_CHECK, "floor: JWT verify")?.toFixed(3) ?? "n/a"} (every request verifies a signature, as the floor does)`,
		`info  ${COLD_ME} CPU/req ÷ D1 floor: ${cpuRatio(COLD_ME, "floor: D1 PK read")?.toFixed(3) ?? "n/a"} (every request verifies a signature)`,
		...["POST /sign/login", "POST /api/auth"].map(
			(name) =>
				`info  ${name} CPU/req ÷ sign-in I/O + PBKDF2 floor: ${cpuRatio(name, SIGN_IN_FLOOR)?.toFixed(3) ?? "n/a"} (a subset of the contract's sign-in by hand: account read, two limiter hits, PBKDF2, session + event batch, ES256, two refunds)`,
		),
		`info  ${SIGN_IN_FLOOR} CPU/req ÷ PBKDF2 floor: ${cpuRatio(SIGN_IN_FLOOR, "floor: PBKDF2 100k")?.toFixed(3) ?? "n/a"} (a lower bound of what the contract's I/O costs beside the hash on local workerd, where D1 and the Durable Object run in the same process)`,
		...["GET /api/users/me", "GET /user/profile"].map(
			(name) =>
				`info  ${name} CPU/req ÷ D1 + session check floor: ${cpuRatio(name, GUARDED_D1_FLOOR)?.toFixed(3) ?? "n/a"} (the D1 read folded into one statement behind the session check, as the app folds a Bearer request's first read)`,
		),
	].join("\n");
	return { results, targets, printed, bundle };
}

async function farMode(server: Server): Promise<Outcome> {
	const db = await server.db();
	const accounts = await registerAccounts(server.urls.app, db, Math.max(2, options.connections));
	const first = accounts[0] as Account;
	const pool = new RefreshPool();
	notes.push(
		`far: every D1 round trip waits ${options.primaryMs} ms (primary) or ${options.replicaMs} ms (replica), every rate-limiter Durable Object call ${options.doMs} ms, before it runs; ${options.connections} connections`,
		"far: a round trip counts as a replica one only when it is a read through withSession(…) with a constraint other than first-primary, or a bookmark (and not that session's first round trip under first-primary); every write and every call on the plain binding is primary",
	);
	let bookmarkNote = "";
	const endpoints = async (): Promise<Endpoint[]> => {
		const signedIn = await signIn(server.urls.app, first.email);
		// The bookmark of a previous answer: the profile's own if it sends one, else the sign-in's.
		const previous = await fetch(`${server.urls.app}/user/profile`, { headers: bearer(signedIn.token) });
		await previous.arrayBuffer();
		const bookmark = previous.headers.get("x-d1-bookmark") ?? signedIn.bookmark;
		bookmarkNote = bookmark
			? "bookmarked read sends the X-D1-Bookmark of a previous GET /user/profile (or sign-in) answer"
			: "the app sent no X-D1-Bookmark header (sign-in nor profile): the bookmarked read was sent without one";
		return [
			...signInEndpoints(accounts),
			{ name: "GET /sign/refresh", worker: "app", method: "GET", path: "/sign/refresh", refresh: pool },
			{
				name: "GET /user/profile (bookmark)",
				worker: "app",
				method: "GET",
				path: "/user/profile",
				headers: { ...bearer(signedIn.token), ...(bookmark ? { "x-d1-bookmark": bookmark } : {}) },
			},
			{
				name: "GET /user/profile",
				worker: "app",
				method: "GET",
				path: "/user/profile",
				headers: bearer(signedIn.token),
			},
			{
				name: "GET /api/users/me",
				worker: "app",
				method: "GET",
				path: "/api/users/me",
				headers: bearer(signedIn.token),
			},
			{ name: "GET /api/modules", worker: "app", method: "GET", path: "/api/modules" },
			{ name: "GET /sign/check", worker: "app", method: "GET", path: "/sign/check", headers: bearer(signedIn.token) },
			{ name: "GET /api", worker: "app", method: "GET", path: "/api" },
		];
	};
	const results = await measure(server, endpoints, refreshTopUp(server, pool, accounts));
	notes.push(`far: ${bookmarkNote}`);
	notes.push(`GET /sign/refresh: ${pool.answersWithoutCookie} 2xx answers without a rotated cookie (grace answers)`);
	const steal = stealNote(results);
	if (steal) notes.push(steal);
	const primary = (name: string) => results[name]?.median.d1PrimaryPerRequest ?? null;
	const targets = [
		target("POST /sign/login primary round trips/req", "≤ 2", primary("POST /sign/login"), "max", 2),
		target("POST /api/auth primary round trips/req", "≤ 2", primary("POST /api/auth"), "max", 2),
		target("GET /sign/refresh primary round trips/req", "≤ 1", primary("GET /sign/refresh"), "max", 1),
		target(
			"GET /user/profile (bookmark) primary round trips/req",
			"= 0",
			primary("GET /user/profile (bookmark)"),
			"max",
			0,
		),
		target("GET /api/modules primary round trips/req", "= 0", primary("GET /api/modules"), "max", 0),
	];
	const rows = Object.entries(results).map(([name, r]) => [name, r.median] as [string, Sample]);
	const printed = [table(rows, FAR_COLUMNS), "", targetLines(targets)].join("\n");
	return { results, targets, printed };
}

async function scaleMode(server: Server): Promise<Outcome> {
	const db = await server.db();
	const [donor, admin] = (await registerAccounts(server.urls.app, db, 2)) as [Account, Account];
	await grantRole(db, admin, "Admin");
	const hash = await passwordHashOf(db, donor);
	const lookups = Math.min(options.connections, 16);
	notes.push(
		`scale: users inserted straight into D1 (one statement per 10,000 rows, 4 bound parameters), all with one hash made by the API; sign-ins rotate over the ${lookups} last-inserted users and lookups ask for the last one, so a table scan would have the whole table to cross`,
	);
	let inserted = 0;
	const phases: Record<string, Record<string, Measured>> = {};
	for (const total of [options.smallUsers, options.largeUsers]) {
		const missing = total - (await userCount(db));
		if (missing > 0) {
			const started = Date.now();
			await insertScaleUsers(db, inserted + 1, inserted + missing, hash);
			inserted += missing;
			log(`${await userCount(db)} users (${missing} inserted in ${((Date.now() - started) / 1000).toFixed(1)} s)`);
		}
		const last = Array.from({ length: lookups }, (_, i) => {
			const n = inserted - i;
			return { id: 0, email: `scale-${n}@bench.test`, username: `scale_${n}` };
		});
		const lastOne = last[0] as Account;
		const endpoints = async (): Promise<Endpoint[]> => {
			const user = await signIn(server.urls.app, lastOne.email);
			const staff = await signIn(server.urls.app, admin.email);
			return [
				...signInEndpoints(last),
				{ name: "GET /api/users/me", worker: "app", method: "GET", path: "/api/users/me", headers: bearer(user.token) },
				{
					name: "GET /api/users/email/:email (Admin)",
					worker: "app",
					method: "GET",
					path: `/api/users/email/${encodeURIComponent(lastOne.email)}`,
					headers: bearer(staff.token),
				},
				{
					name: "GET /api/users/:username",
					worker: "app",
					method: "GET",
					path: `/api/users/${lastOne.username}`,
					headers: bearer(user.token),
				},
			];
		};
		log(`measuring at ${total} users`);
		phases[`${total} users`] = await measure(server, endpoints, async () => {});
	}
	const small = phases[`${options.smallUsers} users`] ?? {};
	const large = phases[`${options.largeUsers} users`] ?? {};
	const cpuNote = "unavailable" in server.cpu ? server.cpu.unavailable : undefined;
	const targets = Object.keys(small).map((name) =>
		target(
			`${name} CPU/req at ${options.largeUsers} ÷ at ${options.smallUsers} users`,
			"≤ 1.1",
			ratio(large[name]?.median.cpuMsPerRequest, small[name]?.median.cpuMsPerRequest),
			"max",
			1.1,
			cpuNote,
		),
	);
	const info = Object.keys(small).map(
		(name) =>
			`info  ${name}: req/s ×${ratio(large[name]?.median.reqPerSec, small[name]?.median.reqPerSec)?.toFixed(3) ?? "n/a"}, p50 ×${ratio(large[name]?.median.p50Ms, small[name]?.median.p50Ms)?.toFixed(3) ?? "n/a"} (large ÷ small)`,
	);
	const printed = [
		...Object.entries(phases).map(
			([phase, results]) =>
				`${phase}\n${table(
					Object.entries(results).map(([n, r]) => [n, r.median]),
					NORMAL_COLUMNS,
				)}\n`,
		),
		LEGEND,
		"",
		targetLines(targets),
		...info,
	].join("\n");
	return { results: phases, targets, printed };
}

/** The bundle's largest parts (minified bytes; gzip compresses across parts, so it has no share per part). */
function bundleParts(bundle: BundleSize, shown = 12): string[] {
	if (bundle.composition.length === 0) return [];
	const parts = bundle.composition.slice(0, shown);
	const rest = bundle.composition.slice(shown);
	const restKiB = rest.reduce((n, p) => n + p.rawKiB, 0);
	const restShare = rest.reduce((n, p) => n + p.share, 0);
	return [
		"bundle by part (minified KiB, share of the raw bundle):",
		...parts.map(
			(p) => `  ${p.part.padEnd(44)} ${p.rawKiB.toFixed(1).padStart(7)}  ${(p.share * 100).toFixed(1).padStart(5)}%`,
		),
		`  ${`(${rest.length} more parts)`.padEnd(44)} ${restKiB.toFixed(1).padStart(7)}  ${(restShare * 100).toFixed(1).padStart(5)}%`,
	];
}

/**
 * --profile: the app endpoints of the normal mode and the hello floor (a bare Hono app, to compare GET /api with),
 * each run under the V8 profiler of its Worker; prints where each one's CPU goes and writes the profiles.
 */
async function profileMode(server: Server, scripts: Record<WorkerName, string>, secrets: Secrets): Promise<Outcome> {
	const db = await server.db();
	const accounts = await registerAccounts(server.urls.app, db, options.connections);
	const first = accounts[0] as Account;
	const pool = new RefreshPool();
	const dir = join(dirname(resolve(root, options.out)), "profiles");
	mkdirSync(dir, { recursive: true });
	const runs: Record<string, { worker: WorkerName; profiles: CpuProfile[]; samples: Sample[]; files: string[] }> = {};
	const endpoints = async (): Promise<Endpoint[]> => {
		const { token } = await signIn(server.urls.app, first.email);
		return [
			...appEndpoints(accounts, token, pool, await distinctTokens(secrets, token)),
			...Object.values(floorsAfter(accounts, token)).flat(),
		];
	};
	const profiled: Run = async (endpoint, load, round) => {
		const { sample, profile } = await profileLoad(server, endpoint, load);
		const slug = endpoint.name
			.toLowerCase()
			.replace(/[^a-z0-9]+/g, "-")
			.replace(/^-|-$/g, "");
		const file = join(dir, `${slug}${round > 1 ? `-round-${round}` : ""}.cpuprofile`);
		writeFileSync(file, JSON.stringify(profile));
		const run = runs[endpoint.name] ?? { worker: endpoint.worker, profiles: [], samples: [], files: [] };
		run.profiles.push(profile);
		run.samples.push(sample);
		run.files.push(file);
		runs[endpoint.name] = run;
		return sample;
	};
	const results = await measure(server, endpoints, refreshTopUp(server, pool, accounts), profiled);
	const profiles: NonNullable<Outcome["profiles"]> = {};
	const texts: string[] = [];
	for (const [name, run] of Object.entries(runs)) {
		const requests = run.samples.reduce((n, s) => n + s.serverRequests, 0);
		const analysis = analyze(run.profiles, new ModuleMap(scripts[run.worker]), requests);
		profiles[name] = { files: run.files.map((f) => relative(root, f)), analysis };
		texts.push(analysisText(name, analysis, results[name]?.median as Sample));
	}
	notes.push(
		"profile: V8's sampling profiler on the endpoint's Worker isolate (workerd's inspector; one sample per 100 µs asked, each header gives the median interval obtained). V8 samples the isolate only while it runs JS or its own native calls: time = samples × the median interval; idle samples are left out. The isolate's time is a part of the workerd process CPU printed beside it: the rest is workerd's HTTP and I/O, the kernel, and locally D1's own Worker (SQLite)",
		"profile: a native function ([native]) bears the name V8 found for its C++ callback, which may be another method's (e.g. `set tracing` where the JS calls no such setter: workerd's callbacks look shared between methods): trust its JS caller more than its name",
		`profile: the .cpuprofile files (${relative(root, dir)}/) open in Chrome DevTools (Performance → Load profile)`,
	);
	// The isolate's own CPU per request (what a deployed Worker is billed for: D1's SQLite and, in production, the
	// limiter object run elsewhere), endpoint over floor.
	const isolateUs = (name: string) => {
		const a = profiles[name]?.analysis;
		return a && a.requests > 0 ? (a.busyMs * 1000) / a.requests : null;
	};
	const pairs: [string, string][] = [
		["POST /sign/login", "floor: PBKDF2 100k"],
		["POST /api/auth", "floor: PBKDF2 100k"],
		["GET /sign/check", "floor: JWT verify"],
		[COLD_CHECK, "floor: JWT verify"],
		["GET /api", "floor: hello (Hono)"],
		["GET /api", "floor: hello + headers"],
		["GET /api/modules", "floor: hello (Hono)"],
		["GET /api/modules", "floor: hello + headers"],
		["GET /api/users/me", "floor: D1 PK read"],
		[COLD_ME, "floor: D1 PK read"],
		["GET /user/profile", "floor: D1 PK read"],
		["GET /api/users/me", GUARDED_D1_FLOOR],
		["GET /user/profile", GUARDED_D1_FLOOR],
	];
	const isolateLines = pairs
		.filter(([a, b]) => isolateUs(a) !== null && isolateUs(b) !== null)
		.map(
			([a, b]) =>
				`info  ${a} isolate CPU/req ÷ ${b}'s: ${ratio(isolateUs(a), isolateUs(b))?.toFixed(3)} (${isolateUs(a)?.toFixed(0)} ÷ ${isolateUs(b)?.toFixed(0)} µs)`,
		);
	const rows = Object.entries(results).map(([name, r]) => [name, r.median] as [string, Sample]);
	const printed = [
		table(rows, NORMAL_COLUMNS),
		`${LEGEND}; all under the profiler, which slows the Worker`,
		"",
		...texts,
		"",
		...isolateLines,
	].join("\n");
	return { results, targets: [], printed, profiles };
}

async function main(): Promise<number> {
	const started = Date.now();
	log(
		`mode ${options.mode}; ${options.rounds} round(s) × ${options.durationS} s per endpoint, ${options.connections} connections; work dir ${work}`,
	);
	// Profiles need the unminified build: function names and esbuild's `// <module>` comments.
	const scripts = await buildWorkers(root, join(work, "build"), { readable: options.mode === "profile" });
	const secrets = await makeSecrets();
	const delays =
		options.mode === "far"
			? { primaryMs: options.primaryMs, replicaMs: options.replicaMs, doMs: options.doMs }
			: { primaryMs: 0, replicaMs: 0, doMs: 0 };
	const server = await startServer({
		root,
		state: join(work, "state"),
		scripts,
		secrets,
		delays,
		inspector: options.mode === "profile",
	});
	try {
		const hello = await fetch(`${server.urls.app}/api`);
		if (!hello.ok) throw new Error(`GET /api answered ${hello.status}: ${await hello.text()}\n${server.logTail()}`);
		if ("unavailable" in server.cpu) notes.push(`CPU per request not measured: ${server.cpu.unavailable}`);
		else log(`workerd pid ${server.cpu.pid}; app on ${server.urls.app}`);
		const outcome =
			options.mode === "far"
				? await farMode(server)
				: options.mode === "scale"
					? await scaleMode(server)
					: options.mode === "profile"
						? await profileMode(server, scripts, secrets)
						: await normalMode(server, secrets);
		const flat: Record<string, Measured> =
			options.mode === "scale"
				? Object.fromEntries(
						Object.entries(outcome.results as Record<string, Record<string, Measured>>).flatMap(([phase, r]) =>
							Object.entries(r).map(([name, m]) => [`${name} @ ${phase}`, m]),
						),
					)
				: (outcome.results as Record<string, Measured>);
		const failed = failures(flat);
		console.log(`\n${outcome.printed}\n`);
		for (const note of notes) console.log(`note: ${note}`);
		if (failed.length > 0) {
			console.log("\n!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!");
			console.log("!!! REQUESTS FAILED: the figures of these endpoints are not those of their job:");
			for (const line of failed) console.log(`!!!   ${line}`);
			console.log("!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!");
		}
		const out = resolve(root, options.out);
		mkdirSync(dirname(out), { recursive: true });
		const report = {
			mode: options.mode,
			finishedAt: new Date().toISOString(),
			durationS: (Date.now() - started) / 1000,
			options: { ...options } satisfies Options,
			machine: {
				node: process.version,
				cpus: cpus().length,
				cpuModel: cpus()[0]?.model ?? null,
				platform: process.platform,
			},
			loadGenerator: "autocannon (in the bench's Node process); workerd in its own process",
			results: outcome.results,
			targets: outcome.targets,
			bundle: outcome.bundle ?? null,
			...(outcome.profiles ? { profiles: outcome.profiles } : {}),
			failedRequests: failed,
			valid: failed.length === 0,
			notes,
		};
		writeFileSync(out, `${JSON.stringify(report, null, 2)}\n`);
		log(`wrote ${out} (${((Date.now() - started) / 1000).toFixed(0)} s in all)`);
		const failedTargets = outcome.targets.filter((t) => t.pass === false).length;
		return options.strict && (failedTargets > 0 || failed.length > 0) ? 1 : 0;
	} catch (error) {
		console.error(`bench: the Worker's last log lines:\n${server.logTail() || "(none)"}`);
		throw error;
	} finally {
		await server.dispose();
	}
}

let code = 1;
try {
	code = await main();
} catch (error) {
	console.error(`bench: ${(error as Error).stack ?? error}`);
} finally {
	rmSync(work, { recursive: true, force: true });
}
process.exit(code);
