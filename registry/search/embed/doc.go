// Package embed turns text into vectors for the dense half of the registry's
// hybrid search.
//
// An Embedder is chosen by Config: the builtin static model (the default:
// pure Go, offline, embedded in the binary), any OpenAI-compatible
// /v1/embeddings endpoint (OpenAI, vLLM, TEI, LiteLLM, Ollama's /v1), Ollama's
// native /api/embed, or Amazon Titan Text Embeddings v2 on Bedrock.
//
// Every provider returns L2-normalised vectors in input order, so cosine
// similarity is a dot product. Vectors from different models live in
// different spaces: store ModelInfo.ID with every vector and re-index when it
// changes (ModelInfo.Compatible says whether two identities can be mixed).
//
// Remote providers batch, bound their concurrency, time out each call, and
// retry 429 and 5xx answers with jittered exponential backoff. An input that
// is empty, or (for the builtin model) has no known word, gets the zero vector:
// it has no dense score, and search falls back to its lexical half.
//
// The builtin table (model/uselite-static.semb) is produced by the recipe in
// ./distill (make embedder) and described in model/PROVENANCE.md; its
// licence notice is model/NOTICE. The table format and the pooling live in
// ./static, shared by serving and the trainer.
package embed
