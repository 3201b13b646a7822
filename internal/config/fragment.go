package config

import (
	"errors"
	"fmt"
	"net/url"
	"sort"
	"strings"

	"gopkg.in/yaml.v3"

	"github.com/marginhq/margin/internal/ledger"
	"github.com/marginhq/margin/internal/usage"
)

// The functions below validate single blocks of the config for front ends that hold them outside
// a config file (the Grafana datasource settings keep the customers block as YAML text). They apply
// exactly the rules Parse applies and name problems by path, prefixed with the caller's field name.
// They expand no ${VAR} and read no files: the text is taken literally.

// literalEnv makes the parser keep "${NAME}" as written, so a fragment never reads the environment.
func literalEnv(name string) (string, bool) { return "${" + name + "}", true }

// parseFragment parses text as one YAML block and hands its root node to walk.
func parseFragment(path, text string, walk func(p *parser, path string, n *yaml.Node)) (*Config, error) {
	p := &parser{opts: ParseOptions{LookupEnv: literalEnv, ReadFile: noFiles}, cfg: &Config{
		FXRates:   map[string]ledger.Rate{},
		Customers: map[string][]usage.SourceRef{},
		Features:  map[usage.SourceRef]string{},
	}}
	var doc yaml.Node
	if err := yaml.Unmarshal([]byte(text), &doc); err != nil {
		return nil, &Problem{Path: path, Msg: strings.TrimPrefix(err.Error(), "yaml: ")}
	}
	if len(doc.Content) > 0 {
		walk(p, path, doc.Content[0])
	}
	if err := errors.Join(p.errs...); err != nil {
		return nil, err
	}
	return p.cfg, nil
}

func noFiles(string) ([]byte, error) { return nil, errors.New("fragments read no files") }

// ParseCustomers parses YAML text shaped like the config's customers block
// (`cus_ABC: [openai:api_key:key_x]`) with the same validation. Problems are *Problem values whose
// paths start with path ("customerMapping.cus_A[1]"). Empty text is an empty mapping.
func ParseCustomers(path, text string) (map[string][]usage.SourceRef, error) {
	cfg, err := parseFragment(path, text, func(p *parser, path string, n *yaml.Node) { p.customers(path, n) })
	if err != nil {
		return nil, err
	}
	return cfg.Customers, nil
}

// ParseFeatures parses YAML text shaped like the config's features block (source → feature name)
// with the same validation. Empty text is an empty mapping.
func ParseFeatures(path, text string) (map[usage.SourceRef]string, error) {
	cfg, err := parseFragment(path, text, func(p *parser, path string, n *yaml.Node) { p.features(path, n) })
	if err != nil {
		return nil, err
	}
	return cfg.Features, nil
}

// ParseFXRates validates rates written as decimal text (currency code → USD per unit) like the
// config's fx_rates block. Problems are reported in code order, each a *Problem under path.
func ParseFXRates(path string, rates map[string]string) (map[string]ledger.Rate, error) {
	codes := make([]string, 0, len(rates))
	for code := range rates {
		codes = append(codes, code)
	}
	sort.Strings(codes)
	out := make(map[string]ledger.Rate, len(rates))
	var errs []error
	for _, code := range codes {
		kp := child(path, code)
		if !currencyCode.MatchString(code) {
			errs = append(errs, &Problem{Path: kp, Msg: "want a 3-letter lower-case currency code such as eur"})
			continue
		}
		text := strings.TrimSpace(rates[code])
		if text == "" {
			errs = append(errs, &Problem{Path: kp, Msg: "missing rate"})
			continue
		}
		r, err := ledger.ParseRate(text)
		if err != nil || r <= 0 {
			errs = append(errs, &Problem{Path: kp, Msg: fmt.Sprintf("want a positive rate (USD per unit), got %q", redactURL(text))})
			continue
		}
		out[code] = r
	}
	return out, errors.Join(errs...)
}

// CheckBaseURL validates a base URL like the config's base_url keys and returns it without a
// trailing slash. The error quotes the URL with user info and key-like text masked.
func CheckBaseURL(path, s string) (string, error) {
	u, err := url.Parse(s)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return "", &Problem{Path: path, Msg: fmt.Sprintf("want an absolute http or https URL, got %q", redactURL(s))}
	}
	return strings.TrimRight(s, "/"), nil
}
