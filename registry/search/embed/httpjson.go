package embed

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// maxResponseBytes bounds a provider answer: 256 inputs × 3072 floats as JSON
// text stay well under it.
const maxResponseBytes = 64 << 20

// maxErrorMessage bounds the provider error text kept in a StatusError.
const maxErrorMessage = 512

// postJSON sends body as JSON and decodes a 2xx answer into out. A non-2xx
// answer becomes a *StatusError carrying the provider's message.
func postJSON(ctx context.Context, client *http.Client, provider, url, apiKey string, body, out any) error {
	b, err := json.Marshal(body)
	if err != nil {
		return fmt.Errorf("encode request: %w", err)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(b))
	if err != nil {
		return fmt.Errorf("build request: %w", err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json")
	if apiKey != "" {
		req.Header.Set("Authorization", "Bearer "+apiKey)
	}
	resp, err := client.Do(req)
	if err != nil {
		return fmt.Errorf("post %s: %w", provider, err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, maxResponseBytes+1))
	if err != nil {
		return fmt.Errorf("read %s response: %w", provider, err)
	}
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return &StatusError{
			Provider:   provider,
			Code:       resp.StatusCode,
			Message:    errorMessage(data),
			retryAfter: parseRetryAfter(resp.Header.Get("Retry-After")),
		}
	}
	if len(data) > maxResponseBytes {
		return fmt.Errorf("%w: %s response larger than %d bytes", ErrResponse, provider, maxResponseBytes)
	}
	if err := json.Unmarshal(data, out); err != nil {
		return fmt.Errorf("%w: decode %s response: %w", ErrResponse, provider, err)
	}
	return nil
}

// errorMessage extracts {"error":{"message":...}} (OpenAI), {"error":"..."}
// (Ollama) or {"message":...} (Bedrock), else the raw text, truncated.
func errorMessage(data []byte) string {
	var e struct {
		Error   json.RawMessage `json:"error"`
		Message string          `json:"message"`
	}
	msg := ""
	if json.Unmarshal(data, &e) == nil {
		var nested struct {
			Message string `json:"message"`
		}
		var flat string
		switch {
		case json.Unmarshal(e.Error, &nested) == nil && nested.Message != "":
			msg = nested.Message
		case json.Unmarshal(e.Error, &flat) == nil && flat != "":
			msg = flat
		default:
			msg = e.Message
		}
	}
	if msg == "" {
		msg = strings.TrimSpace(string(data))
	}
	// The text ends up in logs and errors: keep it valid UTF-8 and bounded.
	msg = strings.ToValidUTF8(msg, "\uFFFD")
	if len(msg) > maxErrorMessage {
		msg = strings.ToValidUTF8(msg[:maxErrorMessage], "") + "…"
	}
	return msg
}

// parseRetryAfter reads a Retry-After header in seconds or as an HTTP date.
func parseRetryAfter(v string) time.Duration {
	if v == "" {
		return 0
	}
	if s, err := strconv.Atoi(v); err == nil && s >= 0 {
		return time.Duration(s) * time.Second
	}
	if t, err := http.ParseTime(v); err == nil {
		if d := time.Until(t); d > 0 {
			return d
		}
	}
	return 0
}
