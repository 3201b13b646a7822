package openrouter

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"net/http"
	"reflect"
	"strings"
	"testing"

	"github.com/marginhq/margin/internal/providers/apiclient"
)

// activityBody writes a random /activity body: fields in any order, unknown fields, nulls, money
// as numbers or strings; spoil puts a value of the wrong kind in one row.
func activityBody(r *rand.Rand, spoil bool) []byte {
	var b bytes.Buffer
	b.WriteString(`{"data": [`)
	n := r.IntN(5)
	bad := -1
	if spoil && n > 0 {
		bad = r.IntN(n)
	}
	for i := range n {
		if i > 0 {
			b.WriteString(", ")
		}
		fields := []string{
			`"date": "2026-08-1` + fmt.Sprint(i) + `"`, `"model": "openai/gpt-4.1"`, `"model_permaslug": "openai/gpt-4.1-2025-04-14"`,
			`"endpoint_id": "ep_\u0031"`, `"provider_name": null`, `"requests": 12`, `"prompt_tokens": 100`,
			`"completion_tokens": 50`, `"reasoning_tokens": null`, `"unknown": {"a": [1, "x"]}`,
			[]string{`"usage": 0.0125`, `"usage": "0.5"`, `"usage": null`, `"usage": 1e-3`}[r.IntN(4)],
			[]string{`"byok_usage_inference": 0`, `"byok_usage_inference": "2"`}[r.IntN(2)],
		}
		if i == bad {
			fields[5+r.IntN(4)] = []string{`"requests": "12"`, `"prompt_tokens": 1.5`, `"completion_tokens": []`, `"reasoning_tokens": {}`}[r.IntN(4)]
		}
		r.Shuffle(len(fields), func(a, c int) { fields[a], fields[c] = fields[c], fields[a] })
		b.WriteString("{" + strings.Join(fields, ",\n ") + "}")
	}
	b.WriteString(`], "has_more": false}`)
	return b.Bytes()
}

// The streaming /activity decoder reads what encoding/json reads into the same types, and refuses
// what it refuses.
func TestActivity_DecodesAsEncodingJSON(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	f := newFakeServer(t)
	c, _ := f.client(t, nil)
	var body []byte
	f.handle("/activity", func(w http.ResponseWriter, _ *http.Request) { _, _ = w.Write(body) })
	refused := 0
	for i := range 300 {
		body = activityBody(r, i%5 == 0)
		var want apiclient.Data[[]ActivityItem]
		refErr := json.Unmarshal(body, &want)
		got, err := c.Activity(context.Background(), hashAcme)
		if (err != nil) != (refErr != nil) {
			t.Fatalf("%s: decoder error %v, encoding/json error %v", body, err, refErr)
		}
		if err != nil {
			refused++
			continue
		}
		if !reflect.DeepEqual(got, *want.Data) {
			t.Fatalf("%s:\ndecoder %+v\nencoding/json %+v", body, got, *want.Data)
		}
	}
	if refused == 0 {
		t.Fatal("no spoiled body was refused: the test checks nothing there")
	}
}
