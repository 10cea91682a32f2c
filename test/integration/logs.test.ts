import { env } from "cloudflare:workers";
import { afterEach, describe, expect, it, vi } from "vitest";
import { issueOneTimeToken } from "../../src/services/one-time-tokens.ts";
import { db } from "../helpers/d1.ts";
import { createUser } from "../helpers/factories.ts";
import { expectError, sendWith } from "../helpers/http.ts";

/** A D1 whose every statement fails, as a production outage would: Drizzle wraps it with the SQL and its parameters. */
function failingD1(): D1Database {
	const fail = () => Promise.reject(new Error("D1_ERROR: database is unavailable"));
	const statement = (): D1PreparedStatement =>
		({ bind: () => statement(), first: fail, all: fail, run: fail, raw: fail }) as unknown as D1PreparedStatement;
	return {
		prepare: () => statement(),
		batch: fail,
		exec: fail,
		dump: fail,
		withSession: () => failingD1(),
	} as unknown as D1Database;
}

describe("logs carry no secrets", () => {
	afterEach(() => vi.restoreAllMocks());

	it("a failing reset logs the route pattern and the cause, not the token, its hash or the email", async () => {
		const user = await createUser();
		const { token } = await issueOneTimeToken({ db: db(), env }, { purpose: "password-reset", userId: user.id });
		const logged: string[] = [];
		vi.spyOn(console, "error").mockImplementation((...args) => logged.push(args.map(String).join(" ")));
		const res = await sendWith({ DB: failingD1() }, `/sign/reset/${token}`, {
			method: "POST",
			headers: { "Content-Type": "application/json" },
			body: JSON.stringify({ password: "a-long-new-passphrase" }),
		});
		await expectError(res, 500, "An unexpected error occurred");
		const text = logged.join("\n");
		expect(text).toContain('"route":"/sign/reset/:token"');
		expect(text).toContain("database is unavailable");
		expect(text).not.toContain(token);
		expect(text).not.toMatch(/params:|Failed query/i);
	});

	it("a failing sign-in logs neither the email nor the SQL parameters", async () => {
		const user = await createUser();
		const logged: string[] = [];
		vi.spyOn(console, "error").mockImplementation((...args) => logged.push(args.map(String).join(" ")));
		const res = await sendWith({ DB: failingD1() }, "/sign/login", {
			method: "POST",
			headers: { "Content-Type": "application/json", "CF-Connecting-IP": "192.0.2.1" },
			body: JSON.stringify({ email: user.email, password: "the-password-typed" }),
		});
		await expectError(res, 500);
		const text = logged.join("\n");
		expect(text).toContain('"route":"/sign/login"');
		expect(text).not.toContain(user.email);
		expect(text).not.toContain("the-password-typed");
	});
});
