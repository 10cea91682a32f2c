import { HTTPException } from "hono/http-exception";

/**
 * The one error type: Hono's HTTPException carrying the contract's envelope. Anything thrown that is not
 * an ApiError becomes a 500 whose body says nothing about the cause (see middleware/error-handler.ts).
 */

export const REASON_PHRASES: Record<number, string> = {
	400: "Bad Request",
	401: "Unauthorized",
	403: "Forbidden",
	404: "Not Found",
	405: "Method Not Allowed",
	409: "Conflict",
	412: "Precondition Failed",
	413: "Payload Too Large",
	415: "Unsupported Media Type",
	429: "Too Many Requests",
	500: "Internal Server Error",
};

export interface ValidationIssue {
	path: string;
	message: string;
}

export type ErrorStatus = 400 | 401 | 403 | 404 | 405 | 409 | 412 | 413 | 415 | 429 | 500;

export class ApiError extends HTTPException {
	override readonly status: ErrorStatus;

	constructor(
		status: ErrorStatus,
		message: string,
		readonly details: { issues?: ValidationIssue[]; headers?: Record<string, string> } = {},
	) {
		super(status, { message });
		this.status = status;
		this.name = "ApiError";
	}

	/** The envelope as a response, so the error reads the same wherever Hono renders it. */
	override getResponse(): Response {
		const res = Response.json(this.body(), { status: this.status });
		for (const [name, value] of Object.entries(this.details.headers ?? {})) res.headers.set(name, value);
		return res;
	}

	body(): ErrorBody {
		const body: ErrorBody = { error: REASON_PHRASES[this.status] ?? "Error", message: this.message };
		if (this.details.issues) body.issues = this.details.issues;
		return body;
	}
}

export interface ErrorBody {
	error: string;
	message: string;
	issues?: ValidationIssue[];
}

export const badRequest = (message: string, issues?: ValidationIssue[]) => new ApiError(400, message, { issues });
export const conflict = (message: string) => new ApiError(409, message);

export function tooManyRequests(retryAfterSeconds: number, headers: Record<string, string> = {}) {
	return new ApiError(429, "Too many requests, try again later", {
		headers: { "Retry-After": String(retryAfterSeconds), ...headers },
	});
}
