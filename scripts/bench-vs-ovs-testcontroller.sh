#!/usr/bin/env bash
# Compares `rudder serve --app l2switch` with `ovs-testcontroller -O OpenFlow13` under `rudder bench`
# (issue 3's goals: >= 20x ovs-testcontroller's responses/s with 16 switches and 1000 MACs, and a p50
# under 30 us in latency mode with one switch), and prints the ratio.
#
# The machine is shared and its speed drifts by tens of percent within a minute, so the two
# controllers run alternately, round by round (the order flips every round), each pinned to core 0
# with the benchmark on core 1, and the figure is the median of the per-round ratios.
#
#   make bench-controller                       # or: scripts/bench-vs-ovs-testcontroller.sh
#   ROUNDS=7 LOOPS=5 OUT=/tmp/cmp scripts/bench-vs-ovs-testcontroller.sh
#
# Needs: a release build of rudder (RUDDER, default target/release/rudder), ovs-testcontroller
# (Debian package openvswitch-testcontroller), taskset, python3. Uses loopback ports 26653/26654 and
# 26680, and ends only the controllers it started.
set -euo pipefail

cd "$(dirname "$0")/.."
RUDDER=${RUDDER:-target/release/rudder}
ROUNDS=${ROUNDS:-5}
LOOPS=${LOOPS:-3}
WINDOW=${WINDOW:-256}
OUT=${OUT:-$(mktemp -d /tmp/rudder-bench-XXXXXX)}
mkdir -p "$OUT"

[ -x "$RUDDER" ] || { echo "no rudder binary at $RUDDER (cargo build --release -p rudder-controller)" >&2; exit 2; }
command -v ovs-testcontroller >/dev/null || { echo "ovs-testcontroller missing (apt-get install openvswitch-testcontroller)" >&2; exit 2; }
CORES=$(nproc)
if [ "$CORES" -lt 2 ]; then
    echo "warning: $CORES core; controller and benchmark share it" >&2
    PIN_CTL=0 PIN_BENCH=0
else
    PIN_CTL=0 PIN_BENCH=1
fi

CTL=
cleanup() { if [ -n "$CTL" ]; then kill "$CTL" 2>/dev/null || true; wait "$CTL" 2>/dev/null || true; fi; }
trap cleanup EXIT

start_controller() { # $1: rudder|ovs; sets CTL and PORT
    if [ "$1" = rudder ]; then
        PORT=26653
        RUST_LOG=warn taskset -c $PIN_CTL "$RUDDER" serve --app l2switch --listen 127.0.0.1:$PORT \
            --api-listen 127.0.0.1:26680 --port-stats-interval 0 >"$OUT/$1.log" 2>&1 &
    else
        PORT=26654
        taskset -c $PIN_CTL ovs-testcontroller -O OpenFlow13 ptcp:$PORT:127.0.0.1 >"$OUT/$1.log" 2>&1 &
    fi
    CTL=$!
    for _ in $(seq 50); do
        if (exec 3<>/dev/tcp/127.0.0.1/$PORT) 2>/dev/null; then return 0; fi
        sleep 0.1
    done
    echo "$1 did not start listening on $PORT; see $OUT/$1.log" >&2
    exit 1
}

run() { # $1: controller, $2: tp|lat, $3: round
    start_controller "$1"
    if [ "$2" = tp ]; then
        args=(--switches 16 --macs 1000 --loops "$LOOPS" --ms-per-test 1000 --window "$WINDOW" --warmup 1)
    else
        args=(--switches 1 --macs 1000 --loops "$LOOPS" --mode latency)
    fi
    taskset -c $PIN_BENCH "$RUDDER" bench -c 127.0.0.1:$PORT "${args[@]}" --controller-pid "$CTL" --json \
        >"$OUT/$1-$2-$3.json" 2>"$OUT/$1-$2-$3.err"
    cleanup
    CTL=
}

for round in $(seq "$ROUNDS"); do
    if [ $((round % 2)) = 1 ]; then order="rudder ovs"; else order="ovs rudder"; fi
    for who in $order; do
        for mode in tp lat; do
            printf 'round %s/%s: %-6s %s\n' "$round" "$ROUNDS" "$who" "$([ $mode = tp ] && echo throughput || echo latency)" >&2
            run "$who" "$mode" "$round"
        done
    done
done

python3 - "$OUT" "$ROUNDS" <<'EOF'
import json, statistics, sys
out, rounds = sys.argv[1], int(sys.argv[2])
def load(who, mode, r):
    with open(f"{out}/{who}-{mode}-{r}.json") as f:
        return json.load(f)
rows, ratios, p50s, ovs_p50s = [], [], [], []
for r in range(1, rounds + 1):
    rt, ot = load("rudder", "tp", r), load("ovs", "tp", r)
    rl, ol = load("rudder", "lat", r), load("ovs", "lat", r)
    rr, orr = rt["responses_per_sec"]["avg"], ot["responses_per_sec"]["avg"]
    lost = rt["lost"] + ot["lost"]
    ratios.append(rr / orr)
    p50s.append(rl["latency"]["p50_us"])
    ovs_p50s.append(ol["latency"]["p50_us"])
    rows.append(f"| {r} | {rr:,.0f} /s | {orr:,.0f} /s | {rr / orr:.1f}x | {p50s[-1]:.1f} | {ovs_p50s[-1]:.1f} | {lost} |")
print("| round | rudder l2switch | ovs-testcontroller | ratio | rudder p50 (us) | ovs-testcontroller p50 (us) | lost |")
print("|---|---|---|---|---|---|---|")
print("\n".join(rows))
ratio, p50 = statistics.median(ratios), statistics.median(p50s)
print(f"| median | | | **{ratio:.1f}x** | **{p50:.1f}** | {statistics.median(ovs_p50s):.1f} | |")
print()
print(f"throughput: {ratio:.1f}x ovs-testcontroller (median of {rounds} rounds; goal >= 20x): {'met' if ratio >= 20 else 'missed'}")
print(f"latency: p50 {p50:.1f} us (median of {rounds} rounds; goal < 30 us): {'met' if p50 < 30 else 'missed'}")
print(f"raw results: {out}")
EOF
