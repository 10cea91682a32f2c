/**
 * The bench's command line: `npm run bench -- [--far | --scale | --profile] [--rounds N] [--duration S] …`, with
 * defaults per mode.
 */
import { parseArgs } from "node:util";

type Mode = "normal" | "far" | "scale" | "profile";

export interface Options {
	mode: Mode;
	/** Rounds over all endpoints; each endpoint's figures are the median round's. */
	rounds: number;
	/** Seconds of load per endpoint per round. */
	durationS: number;
	/** Open connections of the load generator, the same for every endpoint. */
	connections: number;
	/** --far: delay of each D1 round trip to the primary, to a replica, and of each rate-limiter call. */
	primaryMs: number;
	replicaMs: number;
	doMs: number;
	/** --scale: the two user counts compared. */
	smallUsers: number;
	largeUsers: number;
	/** Load only the endpoints whose name contains one of these (e.g. ["/api", "hello"]), or all of them. */
	only: string[] | null;
	strict: boolean;
	out: string;
}

const HELP = `npm run bench -- [options]
  (default)          throughput, latency, CPU and D1 round trips of each endpoint against floor Workers
  --far              a far-away user: D1 and rate-limiter calls delayed; latency and primary round trips
  --scale            sign-in and lookups at --large-users vs --small-users seeded users
  --profile          a V8 CPU profile of the Worker per endpoint: where its CPU goes (by function and module),
                     written to profiles/<endpoint>.cpuprofile beside --out (Chrome DevTools loads them)
  --only TEXT[,TEXT] load only the endpoints whose name contains a TEXT (e.g. --only /api, --only "GET /api,hello")
  --rounds N         rounds over all endpoints (default 5; --scale 3; --far and --profile 1)
  --duration S       seconds of load per endpoint per round (default 3; other modes 5)
  --connections N    connections of the load generator (default 16; --far 2)
  --primary-ms N     --far: delay per D1 round trip to the primary (default 150)
  --replica-ms N     --far: delay per D1 round trip to a replica (default 20)
  --do-ms N          --far: delay per rate-limiter Durable Object call (default 150)
  --small-users N    --scale: users in the small database (default 1000)
  --large-users N    --scale: users in the large database (default 100000)
  --strict           exit 1 when a target fails or a request failed
  --out FILE         where the JSON goes (default bench-results/latest.json)`;

export function parseOptions(argv: string[]): Options {
	const { values } = parseArgs({
		args: argv,
		options: {
			far: { type: "boolean", default: false },
			scale: { type: "boolean", default: false },
			profile: { type: "boolean", default: false },
			only: { type: "string" },
			rounds: { type: "string" },
			duration: { type: "string" },
			connections: { type: "string" },
			"primary-ms": { type: "string" },
			"replica-ms": { type: "string" },
			"do-ms": { type: "string" },
			"small-users": { type: "string" },
			"large-users": { type: "string" },
			strict: { type: "boolean", default: false },
			out: { type: "string" },
			help: { type: "boolean", default: false },
		},
	});
	if (values.help) {
		console.log(HELP);
		process.exit(0);
	}
	const modes = [values.far && "--far", values.scale && "--scale", values.profile && "--profile"].filter(Boolean);
	if (modes.length > 1) throw new Error(`${modes.join(" and ")} are separate runs: choose one`);
	const mode: Mode = values.far ? "far" : values.scale ? "scale" : values.profile ? "profile" : "normal";
	const number = (name: string, raw: string | undefined, fallback: number, min = 1) => {
		if (raw === undefined) return fallback;
		const value = Number(raw);
		if (!Number.isFinite(value) || value < min) throw new Error(`--${name} must be a number ≥ ${min}`);
		return value;
	};
	const smallUsers = Math.trunc(number("small-users", values["small-users"], 1_000));
	const largeUsers = Math.trunc(number("large-users", values["large-users"], 100_000));
	if (largeUsers <= smallUsers) throw new Error("--large-users must be above --small-users");
	return {
		mode,
		// The default mode's ratios are judged round by round (pairedRatio): more, shorter rounds steady their median.
		rounds: Math.trunc(number("rounds", values.rounds, mode === "normal" ? 5 : mode === "scale" ? 3 : 1)),
		durationS: number("duration", values.duration, mode === "normal" ? 3 : 5),
		connections: Math.trunc(number("connections", values.connections, mode === "far" ? 2 : 16)),
		primaryMs: number("primary-ms", values["primary-ms"], 150, 0),
		replicaMs: number("replica-ms", values["replica-ms"], 20, 0),
		doMs: number("do-ms", values["do-ms"], 150, 0),
		smallUsers,
		largeUsers,
		only: values.only ? values.only.split(",").filter(Boolean) : null,
		strict: values.strict,
		out: values.out ?? "bench-results/latest.json",
	};
}
