# Shared by bench/verify-bench.sh and bench/export-scale.sh: the generated incident of
# EVENTS events with a foreach of ITEMS items (bench/gen-incident.sh), kept in
# target/scale-data and reused while its size matches. Source it after setting `events` and
# `items`; it sets `data`, `id` and `journal`.
data="$PWD/target/scale-data"
id="VERIFY-$events-$items"
journal="$data/incidents/$id/journal.jsonl"
# Checkpoint records (written every 20,000 events, as `stanch` does) come on top of EVENTS.
if [[ ! -f $journal ]] || [[ $(grep -vc '"kind":"checkpoint"' "$journal") -ne $events ]]; then
    bench/gen-incident.sh "$events" "$items" "$data" "$id" >/dev/null
fi
cargo build --quiet --release --bin stanch
