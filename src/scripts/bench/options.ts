/** The bench's command line: `npm run bench -- [--far | --scale] [--rounds N] [--duration S] …`, with defaults per mode. */
import { parseArgs } from "node:util";

type Mode = "normal" | "far" | "scale";

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
	strict: boolean;
	out: string;
}

const HELP = `npm run bench -- [options]
  (default)          throughput, latency, CPU and D1 round trips of each endpoint against floor Workers
  --far              a far-away user: D1 and rate-limiter calls delayed; latency and primary round trips
  --scale            sign-in and lookups at --large-users vs --small-users seeded users
  --rounds N         rounds over all endpoints (default 3; --far 1: its counts do not vary)
  --duration S       seconds of load per endpoint per round (default 5)
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
	if (values.far && values.scale) throw new Error("--far and --scale are separate runs: choose one");
	const mode: Mode = values.far ? "far" : values.scale ? "scale" : "normal";
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
		rounds: Math.trunc(number("rounds", values.rounds, mode === "far" ? 1 : 3)),
		durationS: number("duration", values.duration, 5),
		connections: Math.trunc(number("connections", values.connections, mode === "far" ? 2 : 16)),
		primaryMs: number("primary-ms", values["primary-ms"], 150, 0),
		replicaMs: number("replica-ms", values["replica-ms"], 20, 0),
		doMs: number("do-ms", values["do-ms"], 150, 0),
		smallUsers,
		largeUsers,
		strict: values.strict,
		out: values.out ?? "bench-results/latest.json",
	};
}
