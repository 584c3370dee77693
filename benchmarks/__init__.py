"""journeymine benchmarks: `make bench` runs every bench_*.py and rewrites RESULTS.md."""
