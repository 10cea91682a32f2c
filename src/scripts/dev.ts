/**
 * `npm run dev`: everything a fresh clone needs, then `wrangler dev`.
 *   1. creates .dev.vars with fresh random secrets when it is missing;
 *   2. applies the D1 migrations to the local database;
 *   3. seeds the demo data (idempotent);
 *   4. starts `wrangler dev` (port 8787; `npm run dev -- --port N` passes arguments through, and the issuer,
 *      PUBLIC_BASE_URL and DASHBOARD_URL follow port N unless .dev.vars sets them: see dev-port.ts).
 * Runs on the Node that npm puts first on PATH (node_modules/.bin/node, Node 24): it strips types itself.
 */
import { spawn, spawnSync } from "node:child_process";
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { unstable_readConfig } from "wrangler";
import { seedStatements } from "../db/seed.ts";
import { parsePeppers } from "../lib/password.ts";
import { dotenvKeys, portVarArgs } from "./dev-port.ts";
import { generateDevVars } from "./dev-vars.ts";

const root = join(dirname(fileURLToPath(import.meta.url)), "..", "..");
const devVarsPath = join(root, ".dev.vars");
const wrangler = join(root, "node_modules", ".bin", process.platform === "win32" ? "wrangler.cmd" : "wrangler");

function run(args: string[]) {
	const result = spawnSync(wrangler, args, {
		cwd: root,
		stdio: "inherit",
		shell: process.platform === "win32",
		env: { ...process.env, CI: "true" },
	});
	if (result.status !== 0) {
		console.error(`\nwrangler ${args.join(" ")} failed (exit ${result.status}).`);
		process.exit(result.status ?? 1);
	}
}

function readVar(file: string, name: string): string {
	const line = file.split(/\r?\n/).find((l) => l.startsWith(`${name}=`));
	if (!line) throw new Error(`${name} is missing from .dev.vars (delete the file to regenerate it)`);
	return line.slice(name.length + 1).replace(/^'(.*)'$/, "$1");
}

if (!existsSync(devVarsPath)) {
	writeFileSync(devVarsPath, await generateDevVars(), { mode: 0o600 });
	console.log("Created .dev.vars with fresh random secrets.");
}

console.log("Applying D1 migrations to the local database…");
run(["d1", "migrations", "apply", "DB", "--local", "--env", "development"]);

console.log("Seeding demo data…");
const peppers = parsePeppers(readVar(readFileSync(devVarsPath, "utf8"), "PASSWORD_PEPPERS"));
const seedFile = join(root, ".wrangler", "seed.sql");
mkdirSync(dirname(seedFile), { recursive: true });
writeFileSync(seedFile, (await seedStatements(peppers)).join("\n"));
run(["d1", "execute", "DB", "--local", "--env", "development", `--file=${seedFile}`]);

// `--port N`: the vars naming the Worker's own address move to port N (unless .dev.vars sets them), so the
// tokens' issuer, login_link and mailed links point at the Worker that is running.
const args = process.argv.slice(2);
const devVarsFile = [`${devVarsPath}.development`, devVarsPath].find((path) => existsSync(path)) ?? devVarsPath;
const portVars = portVarArgs({
	args,
	configVars: unstable_readConfig({ config: join(root, "wrangler.toml"), env: "development" }).vars,
	devVarsKeys: dotenvKeys(readFileSync(devVarsFile, "utf8")),
});
for (let i = 1; i < portVars.length; i += 2) console.log(`Following --port: ${portVars[i]}`);

const child = spawn(wrangler, ["dev", "--env", "development", ...portVars, ...args], {
	cwd: root,
	stdio: "inherit",
	shell: process.platform === "win32",
});
for (const signal of ["SIGINT", "SIGTERM"] as const) process.on(signal, () => child.kill(signal));
child.on("exit", (code) => process.exit(code ?? 0));
