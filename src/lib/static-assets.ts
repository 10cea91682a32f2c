/**
 * Files of `assets/` (wrangler.toml `[assets]`), read through the ASSETS binding. They are uploaded beside the
 * Worker, not bundled into it: the bundle every isolate loads stays smaller (README, "Bench"), and the few requests
 * that need a file pay one read of it per isolate. `run_worker_first` keeps every path with the Worker, so a file
 * is reachable only where the code serves it (a hosted page only when HOSTED_PAGES is on).
 *
 * A file is kept once read: the assets are uploaded together with the Worker's version and never change under it.
 * Only the finished text is kept, never a read in progress: a promise belongs to the request that started it, and
 * when that request ends early (its client went away) it may never settle — every later request awaiting it would
 * hang. Concurrent first requests of an isolate each read the file; that costs little and happens once.
 */
const kept = new Map<string, string>();

/** What is used of the ASSETS binding (a `Fetcher`): named by what it does, so Node scripts can import the names. */
export interface AssetReader {
	fetch(url: string): Promise<Response>;
}

export async function staticAsset(assets: AssetReader, path: string): Promise<string> {
	const known = kept.get(path);
	if (known !== undefined) return known;
	const text = await readStaticAsset(assets, path);
	kept.set(path, text);
	return text;
}

/** One read of the file, not kept (a failed read throws: the caller's request fails, the next one reads again). */
export async function readStaticAsset(assets: AssetReader, path: string): Promise<string> {
	// The binding ignores the host; the path names the file (html_handling = "none": exactly this file).
	const response = await assets.fetch(`https://assets.invalid${path}`);
	if (!response.ok) {
		await response.body?.cancel();
		throw new Error(`static asset ${path}: ${response.status} (is it in assets/ and [assets] configured?)`);
	}
	return response.text();
}
