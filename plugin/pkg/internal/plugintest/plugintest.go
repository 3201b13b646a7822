// Package plugintest builds datasource settings for the simulated world, as a person would type
// them into the datasource's settings page, for the plugin's tests and benchmarks.
package plugintest

import (
	"encoding/json"
	"fmt"
	"sort"
	"strings"

	"github.com/marginhq/margin/internal/simengine"
	"github.com/marginhq/margin/internal/simulator"
	"github.com/marginhq/margin/internal/usage"
)

// Settings returns jsonData and decrypted secureJsonData for the world served at root: the four
// base URLs, the world's config mapping and features as YAML text, its FX rates, and the demo keys.
func Settings(w *simulator.World, root string) ([]byte, map[string]string) {
	opts := simengine.Options(w, root, nil)
	oa, an, or, st := simulator.BaseURLs(root)

	var mapping strings.Builder
	ids := make([]string, 0, len(opts.Customers))
	for id := range opts.Customers {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	for _, id := range ids {
		fmt.Fprintf(&mapping, "%s:\n", id)
		for _, ref := range opts.Customers[id] {
			fmt.Fprintf(&mapping, "  - %s\n", ref)
		}
	}
	var features strings.Builder
	refs := make([]string, 0, len(opts.Features))
	for ref := range opts.Features {
		refs = append(refs, string(ref))
	}
	sort.Strings(refs)
	for _, ref := range refs {
		fmt.Fprintf(&features, "%s: %s\n", ref, opts.Features[usage.SourceRef(ref)])
	}
	rates := map[string]string{}
	for code, r := range opts.FXRates {
		rates[code] = r.String()
	}
	jsonData, err := json.Marshal(map[string]any{
		"openaiBaseUrl":     oa,
		"anthropicBaseUrl":  an,
		"openrouterBaseUrl": or,
		"stripeBaseUrl":     st,
		"customerMapping":   mapping.String(),
		"featureMapping":    features.String(),
		"fxRates":           rates,
	})
	if err != nil {
		panic(err)
	}
	return jsonData, map[string]string{
		"openaiAdminKey":          simulator.OpenAIAdminKey,
		"anthropicAdminKey":       simulator.AnthropicAdminKey,
		"openrouterManagementKey": simulator.OpenRouterManagementKey,
		"stripeApiKey":            simulator.StripeAPIKey,
	}
}
