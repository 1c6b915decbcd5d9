#!/bin/sh
# Seeds ofproto/fuzz/corpus/<target>/ with the Ryu OpenFlow 1.3 conformance vectors (one raw message
# per file). The corpus directory is gitignored: run this once before fuzzing.
#   ofproto/fuzz/seed-corpus.sh [DIR_WITH_.packet_FILES]
set -eu
here=$(cd "$(dirname "$0")" && pwd)
src=${1:-}
if [ -z "$src" ]; then
    for candidate in "$here/../tests/data/ryu-of13/packet" /work/shared/conformance/ryu-of13/packet; do
        if [ -d "$candidate" ]; then src=$candidate; break; fi
    done
fi
if [ -z "$src" ] || [ ! -d "$src" ]; then
    echo "seed-corpus.sh: no directory of .packet files found; pass one as the first argument" >&2
    exit 1
fi
for target in decode roundtrip dump; do
    mkdir -p "$here/corpus/$target"
    cp "$src"/*.packet "$here/corpus/$target/"
done
# The dump target also gets every vector concatenated: a raw message stream.
cat "$src"/*.packet > "$here/corpus/dump/all-messages.bin"
echo "seeded $(ls "$src"/*.packet | wc -l) vectors from $src into $here/corpus/{decode,roundtrip,dump}"
