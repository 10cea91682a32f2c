/** Keys no client means to send: they would reach object prototypes if a handler ever merged the body. */
export const FORBIDDEN_KEYS = new Set(["__proto__", "constructor", "prototype"]);

/** `application/json; charset=utf-8` → `application/json` */
export const mediaTypeOf = (contentType: string) => contentType.split(";")[0]?.trim().toLowerCase() ?? "";

export const JSON_MEDIA_TYPE = /^application\/([\w.-]+\+)?json$/i;

/**
 * Finds what JSON.parse silently accepts but a client never means: a key given twice (the
 * last would win) and prototype-polluting keys. Expects text that is already valid JSON.
 */
export function suspiciousKey(text: string): string | null {
	const stack: { keys: Set<string>; expectKey: boolean }[] = [];
	for (let i = 0; i < text.length; i++) {
		const ch = text[i];
		if (ch === '"') {
			let j = i + 1;
			while (text[j] !== '"') j += text[j] === "\\" ? 2 : 1;
			const top = stack[stack.length - 1];
			if (top?.expectKey) {
				const key = JSON.parse(text.slice(i, j + 1)) as string;
				if (FORBIDDEN_KEYS.has(key)) return `Field "${key}" is not allowed`;
				if (top.keys.has(key)) return `Field "${key}" is given more than once`;
				top.keys.add(key);
				top.expectKey = false;
			}
			i = j;
		} else if (ch === "{") stack.push({ keys: new Set(), expectKey: true });
		else if (ch === "[") stack.push({ keys: new Set(), expectKey: false });
		else if (ch === "}" || ch === "]") stack.pop();
		else if (ch === ",") {
			const top = stack[stack.length - 1];
			if (top && top.keys.size > 0) top.expectKey = true;
		}
	}
	return null;
}
