// Package bench holds the daemon-level benchmarks of issue 7: idle RSS and
// CPU of "posagent run", binary sizes, and the time from exec to the first
// 200 of /healthz and /v1/status on a data_dir holding 100,000 checkouts
// and 100,000 queue jobs. They build and run the real binary, take minutes,
// and are meant to be read, not to gate CI, so they only build with the
// "bench" tag (plain "go test ./..." sees no test files here):
//
//	go test -tags bench -run TestIdle -v -count 1 ./tests/bench/
//	go test -tags bench -run TestBinarySize -v -count 1 ./tests/bench/
//	go test -tags bench -run TestStartup100k -v -count 1 -timeout 30m ./tests/bench/
//	go test -tags bench -run '^$' -bench BenchmarkStatus100k -benchtime 20x ./tests/bench/
//
// Knobs (environment): BENCH_IDLE_SETTLE (default 15s) and
// BENCH_IDLE_WINDOW (10s) for TestIdle; BENCH_CHECKOUTS (100000),
// BENCH_JOBS (100000), BENCH_PENDING (10000) and BENCH_RUNS (5) for
// TestStartup100k; BENCH_FIXTURE=DIR keeps the generated data_dir in DIR
// and reuses it on the next run (it takes minutes to build);
// BENCH_LDFLAGS are passed to the build of the measured binary (e.g.
// "-s -w"). Results are printed with t.Logf; see docs/BENCHMARKS.md.
package bench
