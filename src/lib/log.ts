/**
 * What may be logged about an error. Logs must carry no secret: Drizzle's query errors put the
 * SQL *and its bound parameters* (emails, hashes, tokens) in `message`, and the first line of
 * `stack` repeats the message. So an error is described by its name, the message of its root
 * cause (D1's own wording names tables and constraints, not values), and stack frames only.
 */
export interface ErrorSummary {
	name: string;
	message: string;
	frames?: string[];
}

const MAX_DEPTH = 5;

function rootCause(error: unknown): unknown {
	let current = error;
	for (let depth = 0; depth < MAX_DEPTH; depth++) {
		const cause = (current as { cause?: unknown } | null)?.cause;
		if (cause === undefined || cause === null) break;
		current = cause;
	}
	return current;
}

/** Our own and the platform's messages are safe; a wrapper's "Failed query: … params: …" is not. */
function safeMessage(message: string): string {
	const cut = message.search(/\bparams:|Failed query:/i);
	return (cut >= 0 ? message.slice(0, cut) : message).trim().slice(0, 300) || "(message withheld)";
}

export function describeError(error: unknown): ErrorSummary {
	if (!(error instanceof Error)) return { name: typeof error, message: "(non-error thrown)" };
	const root = rootCause(error);
	const message = root instanceof Error ? root.message : String(root);
	const frames = (error.stack ?? "")
		.split("\n")
		.filter((line) => /^\s+at /.test(line))
		.slice(0, 8)
		.map((line) => line.trim());
	return { name: error.name, message: safeMessage(message), ...(frames.length ? { frames } : {}) };
}
