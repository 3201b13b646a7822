package openai

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"testing"
	"time"

	"github.com/marginhq/margin/internal/providers/apiclient"
	"github.com/marginhq/margin/internal/simulator"
)

// benchPage is an indented completions page as the API sends it: 3 daily buckets of 1,000 keys ×
// 10 models (about 25 MB).
func benchPage(b *testing.B) []byte {
	b.Helper()
	type row struct {
		Object            string  `json:"object"`
		InputTokens       int64   `json:"input_tokens"`
		OutputTokens      int64   `json:"output_tokens"`
		InputCachedTokens int64   `json:"input_cached_tokens"`
		InputAudioTokens  int64   `json:"input_audio_tokens"`
		OutputAudioTokens int64   `json:"output_audio_tokens"`
		NumModelRequests  int64   `json:"num_model_requests"`
		ProjectID         string  `json:"project_id"`
		UserID            *string `json:"user_id"`
		APIKeyID          string  `json:"api_key_id"`
		Model             string  `json:"model"`
		Batch             bool    `json:"batch"`
		ServiceTier       string  `json:"service_tier"`
	}
	type bucket struct {
		Object    string `json:"object"`
		StartTime int64  `json:"start_time"`
		EndTime   int64  `json:"end_time"`
		Results   []row  `json:"results"`
	}
	page := struct {
		Object   string   `json:"object"`
		Data     []bucket `json:"data"`
		HasMore  bool     `json:"has_more"`
		NextPage *string  `json:"next_page"`
	}{Object: "page"}
	for d := range 3 {
		bk := bucket{Object: "bucket", StartTime: 1786233600 + int64(d)*86400, EndTime: 1786320000 + int64(d)*86400}
		for k := range 1000 {
			for m := range 10 {
				bk.Results = append(bk.Results, row{Object: "organization.usage.completions.result", InputTokens: int64(k*m + d), OutputTokens: int64(k + m),
					NumModelRequests: 3, ProjectID: fmt.Sprintf("proj_%06d", k/10), APIKeyID: fmt.Sprintf("key_%012d", k), Model: fmt.Sprintf("gpt-model-%d", m), ServiceTier: "default"})
			}
		}
		page.Data = append(page.Data, bk)
	}
	out, err := json.MarshalIndent(page, "", "  ")
	if err != nil {
		b.Fatal(err)
	}
	return out
}

func sumTokens(bk *UsageBucket) (n int64) {
	for _, r := range bk.Results {
		n += r.InputTokens + r.OutputTokens
	}
	return n
}

// BenchmarkDecodeUsagePage compares the decoders Margin could read a large usage page with: the
// byte scanner by hand (what it uses; jsontext by hand before it), encoding/json's streaming
// Decoder one bucket at a time, encoding/json's Token stream alone (no values kept: a lower bound
// of a Token-based decoder), and the io.ReadAll + json.Unmarshal it replaced.
func BenchmarkDecodeUsagePage(b *testing.B) {
	page := benchPage(b)
	b.Run("scanner", func(b *testing.B) {
		b.SetBytes(int64(len(page)))
		b.ReportAllocs()
		for b.Loop() {
			d := apiclient.NewDecoder(bytes.NewReader(page))
			hint := 0
			var total int64
			err := d.Object(func(name []byte) error {
				if string(name) != "data" {
					return d.Skip()
				}
				_, err := d.Array(func(int) error {
					var bk UsageBucket
					err := decodeUsageBucket(d, &bk, &hint, nil)
					total += sumTokens(&bk)
					return err
				})
				return err
			})
			if err != nil || total == 0 {
				b.Fatal(err)
			}
		}
	})
	b.Run("encoding_json_stream", func(b *testing.B) {
		b.SetBytes(int64(len(page)))
		b.ReportAllocs()
		for b.Loop() {
			dec := json.NewDecoder(bytes.NewReader(page))
			var total int64
			_, _ = dec.Token() // {
			for dec.More() {
				name, _ := dec.Token()
				if name != "data" {
					var skip json.RawMessage
					_ = dec.Decode(&skip)
					continue
				}
				_, _ = dec.Token() // [
				for dec.More() {
					var bk UsageBucket
					if err := dec.Decode(&bk); err != nil {
						b.Fatal(err)
					}
					total += sumTokens(&bk)
				}
				_, _ = dec.Token() // ]
			}
			if total == 0 {
				b.Fatal("nothing decoded")
			}
		}
	})
	b.Run("encoding_json_tokens_only", func(b *testing.B) {
		b.SetBytes(int64(len(page)))
		b.ReportAllocs()
		for b.Loop() {
			dec := json.NewDecoder(bytes.NewReader(page))
			n := 0
			for {
				_, err := dec.Token()
				if err == io.EOF {
					break
				}
				if err != nil {
					b.Fatal(err)
				}
				n++
			}
			if n == 0 {
				b.Fatal("no tokens")
			}
		}
	})
	b.Run("readall_unmarshal", func(b *testing.B) {
		b.SetBytes(int64(len(page)))
		b.ReportAllocs()
		for b.Loop() {
			body, _ := io.ReadAll(bytes.NewReader(page))
			var p apiclient.CursorEnvelope[UsageBucket]
			if err := json.Unmarshal(body, &p); err != nil {
				b.Fatal(err)
			}
			var total int64
			for i := range p.Data {
				total += sumTokens(&p.Data[i])
			}
			if total == 0 {
				b.Fatal("nothing decoded")
			}
		}
	})
}

// BenchmarkDecodeCostPage reads the simulated costs page of one day at 1,000 keys × 10 models
// (compact JSON, as the later-poll benchmark serves it) with the decoder Fetch uses.
func BenchmarkDecodeCostPage(b *testing.B) {
	now := time.Date(2026, 11, 26, 15, 30, 0, 0, time.UTC)
	w := simulator.New(simulator.Config{Now: now, ExtraOpenAIKeys: 1000, ModelsPerKey: 10})
	base, _, _, _ := simulator.BaseURLs("http://sim.invalid")
	day := now.Truncate(24 * time.Hour).Add(-24 * time.Hour).Unix()
	req, err := http.NewRequest(http.MethodGet, fmt.Sprintf("%s%s?start_time=%d&end_time=%d&bucket_width=1d&limit=1&group_by=project_id&group_by=api_key_id&group_by=line_item",
		base, costsEndpoint, day, day+86400), nil)
	if err != nil {
		b.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+simulator.OpenAIAdminKey)
	resp, err := (&http.Client{Transport: w.Transport()}).Do(req)
	if err != nil {
		b.Fatal(err)
	}
	page, err := io.ReadAll(resp.Body)
	if err != nil || resp.StatusCode != http.StatusOK {
		b.Fatal(resp.StatusCode, err)
	}
	b.SetBytes(int64(len(page)))
	b.ReportAllocs()
	hint := 0 // kept from one read to the next, as the client keeps it from one fetch to the next
	var texts valueTexts
	for b.Loop() {
		d := apiclient.NewDecoder(bytes.NewReader(page))
		rows := 0
		err := d.Object(func(name []byte) error {
			if string(name) != "data" {
				return d.Skip()
			}
			_, err := d.Array(func(int) error {
				var bk CostBucket
				err := decodeCostBucket(d, &bk, &hint, &texts)
				rows += len(bk.Results)
				return err
			})
			return err
		})
		if err != nil || rows < 10_000 {
			b.Fatal(rows, err)
		}
	}
}
