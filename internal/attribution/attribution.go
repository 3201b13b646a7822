// Package attribution resolves a source (an API key, project, workspace or OpenRouter key) to the
// Stripe customer it serves and the product feature it implements. It holds the resolution rules
// of DESIGN.md §3 and nothing else: no fetching, no money.
package attribution

import (
	"fmt"
	"regexp"
	"sort"

	"github.com/marginhq/margin/internal/usage"
)

// Resolution is the outcome for one source. Customer is "" when the source is unattributed.
type Resolution struct {
	Customer string
	Feature  string // "" when no feature is mapped
}

// Input is what resolution draws on.
type Input struct {
	// Config maps customer id → sources (highest priority).
	Config map[string][]usage.SourceRef
	// Metadata maps customer id → sources listed in its Stripe metadata.
	Metadata map[string][]usage.SourceRef
	// KnownCustomers is the set of Stripe customer ids; a cus_… id in a source name attributes
	// only when it is known. Nil means Stripe is not configured: any cus_… id is trusted.
	KnownCustomers map[string]bool
	// Names gives the provider-side name of each source.
	Names map[usage.SourceRef]string
	// Features maps a source to the feature it serves.
	Features map[usage.SourceRef]string
}

// Resolver answers Resolve; build it once per computation.
type Resolver struct {
	config, metadata map[usage.SourceRef]string
	names            map[usage.SourceRef]string
	known            map[string]bool
	features         map[usage.SourceRef]string
}

// New builds a resolver. The warnings name mappings that could not all be honoured, such as a
// source listed in the metadata of two customers.
func New(in Input) (*Resolver, []string) {
	r := &Resolver{
		config:   map[usage.SourceRef]string{},
		metadata: map[usage.SourceRef]string{},
		names:    in.Names,
		known:    in.KnownCustomers,
		features: in.Features,
	}
	var warnings []string
	invert := func(m map[string][]usage.SourceRef, into map[usage.SourceRef]string, what string) {
		customers := make([]string, 0, len(m))
		for c := range m {
			customers = append(customers, c)
		}
		sort.Strings(customers) // deterministic winner on conflicts: the lowest customer id
		for _, c := range customers {
			for _, ref := range m[c] {
				if prev, dup := into[ref]; dup && prev != c {
					warnings = append(warnings, fmt.Sprintf("%s: source %s is listed for both %s and %s; using %s", what, ref, prev, c, prev))
					continue
				}
				into[ref] = c
			}
		}
	}
	invert(in.Config, r.config, "customers")
	invert(in.Metadata, r.metadata, "stripe metadata margin_sources")
	return r, warnings
}

var customerIDPattern = regexp.MustCompile(`cus_[A-Za-z0-9]+`)

// Resolve attributes usage recorded under key inside scope (either may be ""). The most specific
// mapping wins: the key before its scope; at each level config, then Stripe metadata, then a
// customer id in the source's name.
func (r *Resolver) Resolve(key, scope usage.SourceRef) Resolution {
	res := Resolution{Feature: r.feature(key, scope)}
	for _, ref := range [2]usage.SourceRef{key, scope} {
		if ref == "" {
			continue
		}
		if c, ok := r.config[ref]; ok {
			res.Customer = c
			return res
		}
		if c, ok := r.metadata[ref]; ok {
			res.Customer = c
			return res
		}
		if c := r.fromName(ref); c != "" {
			res.Customer = c
			return res
		}
	}
	return res
}

func (r *Resolver) fromName(ref usage.SourceRef) string {
	name := r.names[ref]
	if name == "" {
		return ""
	}
	for _, id := range customerIDPattern.FindAllString(name, -1) {
		if r.known == nil || r.known[id] {
			return id
		}
	}
	return ""
}

func (r *Resolver) feature(key, scope usage.SourceRef) string {
	if f, ok := r.features[key]; ok && key != "" {
		return f
	}
	if f, ok := r.features[scope]; ok && scope != "" {
		return f
	}
	return ""
}
