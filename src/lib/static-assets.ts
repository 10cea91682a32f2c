/**
 * Files of `assets/` (wrangler.toml `[assets]`), read through the ASSETS binding. They are uploaded beside the
 * Worker, not bundled into it: the bundle every isolate loads stays smaller (README, "Bench"), and the few requests
 * that need a file pay one read of it per isolate. `run_worker_first` keeps every path with the Worker, so a file
 * is reachable only where the code serves it (a hosted page only when HOSTED_PAGES is on).
 *
 * A file is kept once read: the assets are uploaded together with the Worker's version and never change under it.
 */
const kept = new Map<string, Promise<string>>();

export function staticAsset(assets: Fetcher, path: string): Promise<string> {
	let text = kept.get(path);
	if (text === undefined) {
		text = read(assets, path);
		kept.set(path, text);
		// A failed read is not kept: the next request tries again.
		text.catch(() => kept.delete(path));
	}
	return text;
}

async function read(assets: Fetcher, path: string): Promise<string> {
	// The binding ignores the host; the path names the file (html_handling = "none": exactly this file).
	const response = await assets.fetch(`https://assets.invalid${path}`);
	if (!response.ok) {
		await response.body?.cancel();
		throw new Error(`static asset ${path}: ${response.status} (is it in assets/ and [assets] configured?)`);
	}
	return response.text();
}
