#!/usr/bin/env bash
# The tick-to-anomaly figures of one lent-H200 call (docs/benchmarks.md, issue 15): at 10,000
# ticks/s the tickerplant alone and the subscription (in a process of its own, and inline:
# ISOLATION = 'none') with its model on the GPU and on the CPU;
# at 1,000 ticks/s the tickerplant and the subscription (GPU); the same 10,000 ticks/s on two of
# the host's cores (taskset -c 0,1: every process of the run on them, as on a 2-core machine);
# then the kdb+ article's pattern (GPU), which takes longest. Run from the repository root with
# the missing wheels in .whl/ (PyKX's among them); figures and logs go to $OUT (or ./device-out).
#
#   bash benchmarks/device_tick_round.sh [TAG]
source benchmarks/device_setup.sh  # $out, $tag, the wheels installed
nproc
uptime
bench() {  # NAME ARGS...: one run, its figures in $out/tick_latency_h200_NAME_$tag.json
    local name=$1
    shift
    timeout 200 "$@" --seconds 3 --json "$out/tick_latency_h200_${name}_$tag.json" \
        2>&1 | tee "$out/$name.log" | grep -E "_p50|_p99|feed_ticks|batch_rows_mean|cpu_ms"
}
bench cuda python3 benchmarks/bench_tick_latency.py --rate 10000 --warmup 2000 --device cuda \
    --patterns tickerplant,indb,inline
bench cpu python3 benchmarks/bench_tick_latency.py --rate 10000 --warmup 2000 --device cpu \
    --patterns tickerplant,indb,inline
bench cuda_1k python3 benchmarks/bench_tick_latency.py --rate 1000 --warmup 500 --device cuda \
    --patterns tickerplant,indb,inline
bench cpu_2cores taskset -c 0,1 python3 benchmarks/bench_tick_latency.py --rate 10000 \
    --warmup 2000 --device cpu --patterns tickerplant,indb,inline
# last, on what is left of the call: the article's subscriber falls behind by tens of seconds
bench article python3 benchmarks/bench_tick_latency.py --rate 10000 --warmup 2000 --device cuda \
    --patterns article
uptime
