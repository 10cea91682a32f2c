// CPU cost of verifying KC7's Werkzeug hashes (src/lib/werkzeug.ts), against the alternatives.
//
//   npx node src/scripts/bench-werkzeug.ts [--runs 5]
//
// Runs in Node, so it compares methods rather than predicting workerd to the millisecond (the same V8 runs both;
// test/unit/werkzeug.test.ts logs the chosen method's cost inside workerd). Each line is the median CPU time
// (user + system) of --runs runs after one warm-up. The native candidates are listed for reference only:
// production Workers refuse Web Crypto PBKDF2 above 100,000 iterations, and node:crypto's pbkdf2 (nodejs_compat)
// goes through the same check, so neither can verify Werkzeug's 260,000 or 600,000.

import { pbkdf2Sync, scryptSync } from "node:crypto";
import { parseArgs } from "node:util";
import { pbkdf2 } from "@noble/hashes/pbkdf2.js";
import { sha256 } from "@noble/hashes/sha2.js";
import { verifyWerkzeugHash, werkzeugKdf } from "../lib/werkzeug.ts";

const { values } = parseArgs({ options: { runs: { type: "string", default: "5" } } });
const runs = Number(values.runs);
if (!Number.isInteger(runs) || runs < 1) throw new Error("--runs must be a positive integer");

const encoder = new TextEncoder();
const password = "correct horse battery staple";
const passwordBytes = encoder.encode(password);
const saltText = "Cwe1RHtJ6yUN1tGo";
const salt = encoder.encode(saltText);

async function cpuMs(run: () => unknown): Promise<number> {
	await run();
	const times: number[] = [];
	for (let i = 0; i < runs; i++) {
		const start = process.cpuUsage();
		await run();
		const used = process.cpuUsage(start);
		times.push((used.user + used.system) / 1000);
	}
	times.sort((a, b) => a - b);
	return times[Math.floor(times.length / 2)] as number;
}

function report(label: string, ms: number, note = ""): void {
	console.log(`${label.padEnd(58)} ${ms.toFixed(1).padStart(8)} ms${note ? `  ${note}` : ""}`);
}

function werkzeugPbkdf2(hash: "sha1" | "sha256" | "sha512", iterations: number): string {
	const hex = pbkdf2Sync(passwordBytes, salt, iterations, { sha1: 20, sha256: 32, sha512: 64 }[hash], hash);
	return `pbkdf2:${hash}:${iterations}$${saltText}$${hex.toString("hex")}`;
}

async function webCryptoPbkdf2(iterations: number): Promise<void> {
	const key = await crypto.subtle.importKey("raw", passwordBytes, "PBKDF2", false, ["deriveBits"]);
	await crypto.subtle.deriveBits({ name: "PBKDF2", hash: "SHA-256", salt, iterations }, key, 256);
}

// The only PBKDF2 Web Crypto could do above the cap: one HMAC call per iteration (timed on a slice, scaled up).
async function webCryptoHmacChain(iterations: number): Promise<void> {
	const key = await crypto.subtle.importKey("raw", passwordBytes, { name: "HMAC", hash: "SHA-256" }, false, ["sign"]);
	let u: Uint8Array = salt;
	for (let i = 0; i < iterations; i++) u = new Uint8Array(await crypto.subtle.sign("HMAC", key, u));
}

console.log(`Node ${process.version}, median CPU time of ${runs} runs\n`);
for (const iterations of [260_000, 600_000]) {
	const stored = werkzeugPbkdf2("sha256", iterations);
	console.log(`PBKDF2-HMAC-SHA256, ${iterations.toLocaleString("en")} iterations`);
	report("  chosen: verifyWerkzeugHash (specialised JS loop)", await cpuMs(() => verifyWerkzeugHash(password, stored)));
	report(
		"  @noble/hashes pbkdf2 (generic JS)",
		await cpuMs(() => pbkdf2(sha256, passwordBytes, salt, { c: iterations, dkLen: 32 })),
	);
	const slice = 10_000;
	report(
		"  Web Crypto HMAC, one sign() per iteration",
		((await cpuMs(() => webCryptoHmacChain(slice))) * iterations) / slice,
		`(scaled from ${slice.toLocaleString("en")})`,
	);
	report(
		"  node:crypto pbkdf2Sync (native)",
		await cpuMs(() => pbkdf2Sync(passwordBytes, salt, iterations, 32, "sha256")),
		"capped at 100,000 in Workers",
	);
	report(
		"  Web Crypto deriveBits (native)",
		await cpuMs(() => webCryptoPbkdf2(iterations)),
		"capped at 100,000 in Workers",
	);
}

console.log("\nOther PBKDF2 digests, 260,000 iterations (@noble/hashes)");
for (const hash of ["sha1", "sha512"] as const) {
	const stored = werkzeugPbkdf2(hash, 260_000);
	report(`  verifyWerkzeugHash pbkdf2:${hash}`, await cpuMs(() => verifyWerkzeugHash(password, stored)));
}

console.log("\nscrypt N=32768 r=8 p=1 (Werkzeug 3's default), 64-byte key");
const scryptStored = `scrypt:32768:8:1$${saltText}$${Buffer.from(werkzeugKdf.scrypt(passwordBytes, salt, 32768, 8, 1)).toString("hex")}`;
report(
	"  chosen: verifyWerkzeugHash (@noble/hashes scrypt)",
	await cpuMs(() => verifyWerkzeugHash(password, scryptStored)),
);
report(
	"  node:crypto scryptSync (native)",
	await cpuMs(() => scryptSync(passwordBytes, salt, 64, { N: 32768, r: 8, p: 1, maxmem: 64 * 1024 * 1024 })),
	"needs nodejs_compat in Workers",
);
