package config

import (
	"errors"
	"fmt"
	"maps"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"

	"gopkg.in/yaml.v3"

	"github.com/marginhq/margin/internal/catalog"
	"github.com/marginhq/margin/internal/ledger"
	"github.com/marginhq/margin/internal/secret"
	"github.com/marginhq/margin/internal/usage"
)

// Problem is one thing wrong with a config file, at a key path ("providers.openai.admin_key",
// "customers.cus_A[1]") and line. Problems never quote a credential.
type Problem struct {
	Path string
	Line int // 0 when the problem has no single place (a cross-key check)
	Msg  string
}

func (p *Problem) Error() string {
	s := p.Msg
	if p.Path != "" {
		s = p.Path + ": " + s
	}
	if p.Line > 0 {
		s += fmt.Sprintf(" (line %d)", p.Line)
	}
	return s
}

// Parse parses and validates a config file's contents. It reports every problem at once, joined
// with errors.Join, each a *Problem naming its key path and line.
func Parse(data []byte, opts ParseOptions) (*Config, error) {
	if opts.LookupEnv == nil {
		opts.LookupEnv = func(string) (string, bool) { return "", false }
	}
	if opts.ReadFile == nil {
		opts.ReadFile = os.ReadFile
	}
	p := &parser{opts: opts, cfg: &Config{
		ReportingCurrency: DefaultReportingCurrency,
		BackfillDays:      DefaultBackfillDays,
		TargetMargin:      defaultTargetMargin,
		PollInterval:      DefaultPollInterval,
		StateFile:         defaultStateFile,
		OpenAI:            Source{BaseURL: DefaultOpenAIBaseURL},
		Anthropic:         Source{BaseURL: DefaultAnthropicBaseURL},
		OpenRouter:        Source{BaseURL: DefaultOpenRouterBaseURL},
		Stripe:            Source{BaseURL: DefaultStripeBaseURL},
		FXRates:           map[string]ledger.Rate{},
		Customers:         map[string][]usage.SourceRef{},
		Features:          map[usage.SourceRef]string{},
	}}
	var doc yaml.Node
	if err := yaml.Unmarshal(data, &doc); err != nil {
		// yaml.v3 syntax errors name a line and never the offending text.
		return nil, &Problem{Msg: strings.TrimPrefix(err.Error(), "yaml: ")}
	}
	if len(doc.Content) > 0 {
		p.root(doc.Content[0])
	}
	if err := errors.Join(p.errs...); err != nil {
		return nil, err
	}
	if !filepath.IsAbs(p.cfg.StateFile) && opts.BaseDir != "" {
		p.cfg.StateFile = filepath.Join(opts.BaseDir, p.cfg.StateFile)
	}
	return p.cfg, nil
}

type parser struct {
	opts ParseOptions
	cfg  *Config
	errs []error
}

func (p *parser) fail(path string, n *yaml.Node, format string, args ...any) {
	line := 0
	if n != nil {
		line = n.Line
	}
	p.errs = append(p.errs, &Problem{Path: path, Line: line, Msg: fmt.Sprintf(format, args...)})
}

func child(path, key string) string {
	if path == "" {
		return key
	}
	return path + "." + key
}

func deref(n *yaml.Node) *yaml.Node {
	for n != nil && n.Kind == yaml.AliasNode {
		n = n.Alias
	}
	return n
}

func isNull(n *yaml.Node) bool { return n.Kind == yaml.ScalarNode && n.Tag == "!!null" }

var kindNames = map[yaml.Kind]string{yaml.MappingNode: "a mapping", yaml.SequenceNode: "a list", yaml.ScalarNode: "a value", yaml.DocumentNode: "a document"}

// each calls fn for every key of the mapping n, in file order, rejecting duplicate keys. A null
// value counts as an empty mapping.
func (p *parser) each(path string, n *yaml.Node, fn func(key string, k, v *yaml.Node)) {
	n = deref(n)
	if isNull(n) {
		return
	}
	if n.Kind != yaml.MappingNode {
		p.fail(path, n, "want a mapping, got %s", kindNames[n.Kind])
		return
	}
	seen := map[string]bool{}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := deref(n.Content[i]), n.Content[i+1]
		if k.Kind != yaml.ScalarNode {
			p.fail(path, k, "keys must be plain values")
			continue
		}
		if seen[k.Value] {
			p.fail(child(path, k.Value), k, "duplicate key")
			continue
		}
		seen[k.Value] = true
		fn(k.Value, k, v)
	}
}

// fields walks a mapping with a fixed set of keys; any other key is an error.
func (p *parser) fields(path string, n *yaml.Node, handlers map[string]func(path string, v *yaml.Node)) {
	p.each(path, n, func(key string, k, v *yaml.Node) {
		h, ok := handlers[key]
		if !ok {
			p.fail(child(path, key), k, "unknown key")
			return
		}
		h(child(path, key), v)
	})
}

// scalar returns the text of a scalar with ${VAR} expanded; ok is false when n is null or when
// a problem was reported.
func (p *parser) scalar(path string, n *yaml.Node) (string, bool) {
	n = deref(n)
	if isNull(n) {
		return "", false
	}
	if n.Kind != yaml.ScalarNode {
		p.fail(path, n, "want a value, got %s", kindNames[n.Kind])
		return "", false
	}
	s, err := expandEnv(n.Value, p.opts.LookupEnv)
	if err != nil {
		p.fail(path, n, "%v", err)
		return "", false
	}
	return s, true
}

// expandEnv replaces ${VAR} with the variable's value and ${VAR:-default} with the value or the
// default when VAR is unset or empty; "$${" is a literal "${". An unset variable without a default
// is an error naming only the variable, never a value.
func expandEnv(s string, lookup func(string) (string, bool)) (string, error) {
	if !strings.Contains(s, "${") {
		return s, nil
	}
	var b strings.Builder
	for {
		i := strings.Index(s, "${")
		if i < 0 {
			b.WriteString(s)
			return b.String(), nil
		}
		if i > 0 && s[i-1] == '$' {
			b.WriteString(s[:i-1] + "${")
			s = s[i+2:]
			continue
		}
		b.WriteString(s[:i])
		end := strings.IndexByte(s[i:], '}')
		if end < 0 {
			return "", errors.New(`unterminated "${" (write "$${" for a literal "${")`)
		}
		expr := s[i+2 : i+end]
		name, def, hasDefault := strings.Cut(expr, ":-")
		if !envName.MatchString(name) {
			return "", fmt.Errorf("invalid environment variable name %q", name)
		}
		v, ok := lookup(name)
		switch {
		case ok && v != "":
		case hasDefault:
			v = def
		case !ok:
			return "", fmt.Errorf("environment variable %s is not set", name)
		}
		b.WriteString(v)
		s = s[i+end+1:]
	}
}

var envName = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)

func (p *parser) root(n *yaml.Node) {
	handlers := map[string]func(string, *yaml.Node){
		"reporting_currency": func(path string, v *yaml.Node) {
			s, ok := p.scalar(path, v)
			if !ok {
				return
			}
			if s = strings.ToLower(s); s != "usd" {
				p.fail(path, v, "%s is not supported: only usd", shown(v))
				return
			}
			p.cfg.ReportingCurrency = s
		},
		"backfill_days": p.intField(&p.cfg.BackfillDays, 1, usage.MaxBackfillDays, "want a whole number of days from 1 to 365 (OpenRouter documents 30 completed days; OpenAI and Anthropic document no limit)"),
		"poll_interval": p.durationField(&p.cfg.PollInterval, minPollInterval, "5m"),
		"target_margin": func(path string, v *yaml.Node) {
			s, ok := p.scalar(path, v)
			if !ok {
				return
			}
			r, err := ledger.ParseRate(s)
			if err != nil || r <= 0 || r >= ledger.RateOne {
				p.fail(path, v, "want a gross margin between 0 and 1 such as 0.65, got %s", shown(v))
				return
			}
			p.cfg.TargetMargin = r
		},
		"state_file": func(path string, v *yaml.Node) {
			if s, ok := p.scalar(path, v); ok {
				if s == "" {
					p.fail(path, v, "must not be empty")
					return
				}
				p.cfg.StateFile = s
			}
		},
		"providers": func(path string, v *yaml.Node) {
			p.fields(path, v, map[string]func(string, *yaml.Node){
				"openai":     func(path string, v *yaml.Node) { p.source(path, v, "admin_key", &p.cfg.OpenAI) },
				"anthropic":  func(path string, v *yaml.Node) { p.source(path, v, "admin_key", &p.cfg.Anthropic) },
				"openrouter": func(path string, v *yaml.Node) { p.source(path, v, "management_key", &p.cfg.OpenRouter) },
			})
		},
		"stripe":    func(path string, v *yaml.Node) { p.source(path, v, "api_key", &p.cfg.Stripe) },
		"fx_rates":  p.fxRates,
		"customers": p.customers,
		"features":  p.features,
		"prices":    p.prices,
	}
	maps.Copy(handlers, p.exporterKeys())
	p.fields("", n, handlers)
}

// source reads one API block: the key (inline or from keyName_file) and base_url.
func (p *parser) source(path string, n *yaml.Node, keyName string, dst *Source) {
	var inline, file *yaml.Node
	fileKey := keyName + "_file"
	checkKind := func(kp string, v *yaml.Node, key string) {
		name := path[strings.LastIndex(path, ".")+1:] // providers.openai → openai; stripe
		if msg := keyKindProblem(name, key); msg != "" {
			p.fail(kp, v, "%s", msg)
		}
	}
	p.fields(path, n, map[string]func(string, *yaml.Node){
		keyName: func(kp string, v *yaml.Node) {
			inline = v
			if s, ok := p.scalar(kp, v); ok {
				dst.Key = secret.String(s)
				checkKind(kp, v, s)
			}
		},
		fileKey: func(kp string, v *yaml.Node) {
			file = v
			name, ok := p.scalar(kp, v)
			if !ok || name == "" {
				return
			}
			if !filepath.IsAbs(name) && p.opts.BaseDir != "" {
				name = filepath.Join(p.opts.BaseDir, name)
			}
			data, err := p.opts.ReadFile(name)
			if err != nil {
				p.fail(kp, v, "%v", err)
				return
			}
			key := strings.TrimRight(string(data), "\r\n")
			if key == "" {
				p.fail(kp, v, "%s is empty", name)
				return
			}
			dst.Key = secret.String(key)
			checkKind(kp, v, key)
		},
		"base_url": func(kp string, v *yaml.Node) {
			s, ok := p.scalar(kp, v)
			if !ok {
				return
			}
			u, err := url.Parse(s)
			if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
				p.fail(kp, v, "want an absolute http or https URL, got %s", shown(v))
				return
			}
			dst.BaseURL = strings.TrimRight(s, "/")
		},
	})
	if inline != nil && file != nil && !isNull(deref(inline)) && !isNull(deref(file)) {
		p.fail(path, deref(n), "set %s or %s, not both", keyName, fileKey)
	}
}

// shown quotes a value for an error message: the text as written in the file, before ${VAR}
// expansion, so a credential taken from the environment never reaches an error, and with user
// info and anything shaped like a key masked, in case one was written inline.
func shown(n *yaml.Node) string { return strconv.Quote(redactURL(deref(n).Value)) }

// redactURL hides user info and anything that looks like a key before a URL goes into an error.
func redactURL(s string) string {
	if u, err := url.Parse(s); err == nil && u.User != nil {
		u.User = url.User("xxxxx") // the user name can be a token too, not only the password
		s = u.String()
	}
	return secret.Scrub(s)
}

var currencyCode = regexp.MustCompile(`^[a-z]{3}$`)

func (p *parser) fxRates(path string, n *yaml.Node) {
	p.each(path, n, func(code string, k, v *yaml.Node) {
		kp := child(path, code)
		if !currencyCode.MatchString(code) {
			p.fail(kp, k, "want a 3-letter lower-case currency code such as eur")
			return
		}
		s, ok := p.scalar(kp, v)
		if !ok {
			if isNull(deref(v)) {
				p.fail(kp, v, "missing rate")
			}
			return
		}
		r, err := ledger.ParseRate(s)
		if err != nil || r <= 0 {
			p.fail(kp, v, "want a positive rate (USD per unit), got %s", shown(v))
			return
		}
		p.cfg.FXRates[code] = r
	})
}

var stripeCustomerID = regexp.MustCompile(`^cus_[A-Za-z0-9]+$`)

func (p *parser) customers(path string, n *yaml.Node) {
	owner := map[usage.SourceRef]string{}
	p.each(path, n, func(id string, k, v *yaml.Node) {
		kp := child(path, id)
		if !stripeCustomerID.MatchString(id) {
			p.fail(kp, k, "want a Stripe customer id such as cus_ABC123")
		}
		v = deref(v)
		if v.Kind != yaml.SequenceNode {
			p.fail(kp, v, "want a list of source references, got %s", kindNames[v.Kind])
			return
		}
		refs := []usage.SourceRef{}
		for i, item := range v.Content {
			ip := fmt.Sprintf("%s[%d]", kp, i)
			s, ok := p.scalar(ip, item)
			if !ok {
				if isNull(deref(item)) {
					p.fail(ip, item, "empty source reference")
				}
				continue
			}
			if _, _, _, err := usage.ParseRef(s); err != nil {
				p.fail(ip, item, "%v", err)
				continue
			}
			ref := usage.SourceRef(s)
			if prev, dup := owner[ref]; dup {
				if prev == id {
					p.fail(ip, item, "source %s is listed twice", ref)
				} else {
					p.fail(ip, item, "source %s is mapped to both %s and %s", ref, prev, id)
				}
				continue
			}
			owner[ref] = id
			refs = append(refs, ref)
		}
		p.cfg.Customers[id] = refs
	})
}

func (p *parser) features(path string, n *yaml.Node) {
	p.each(path, n, func(ref string, k, v *yaml.Node) {
		kp := child(path, ref)
		if _, _, _, err := usage.ParseRef(ref); err != nil {
			p.fail(kp, k, "%v", err)
			return
		}
		name, ok := p.scalar(kp, v)
		if !ok || strings.TrimSpace(name) == "" {
			if ok || isNull(deref(v)) {
				p.fail(kp, v, "missing feature name")
			}
			return
		}
		p.cfg.Features[usage.SourceRef(ref)] = name
	})
}

func (p *parser) prices(path string, n *yaml.Node) {
	n = deref(n)
	if isNull(n) {
		return
	}
	if n.Kind != yaml.SequenceNode {
		p.fail(path, n, "want a list of price rows, got %s", kindNames[n.Kind])
		return
	}
	type rowID struct {
		provider usage.Provider
		model    string
		day      usage.Day
	}
	first := map[rowID]string{}
	for i, item := range n.Content {
		rp := fmt.Sprintf("%s[%d]", path, i)
		e, ok := p.priceRow(rp, item)
		if !ok {
			continue
		}
		id := rowID{e.Provider, e.Model, e.EffectiveFrom}
		if prev, dup := first[id]; dup {
			p.fail(rp, deref(item), "same provider, model and effective_from as %s", prev)
			continue
		}
		first[id] = rp
		p.cfg.Prices = append(p.cfg.Prices, e)
	}
}

func (p *parser) priceRow(path string, n *yaml.Node) (catalog.Entry, bool) {
	var e catalog.Entry
	before := len(p.errs)
	var sawProvider, sawModel bool
	handlers := p.priceFields(&e.Standard)
	handlers["provider"] = func(kp string, v *yaml.Node) {
		s, ok := p.scalar(kp, v)
		if !ok {
			return
		}
		sawProvider = true
		switch pr := usage.Provider(s); pr {
		case usage.OpenAI, usage.Anthropic:
			e.Provider = pr
		case usage.OpenRouter:
			p.fail(kp, v, "openrouter bills each request itself and takes no price rows")
		default:
			p.fail(kp, v, "want openai or anthropic, got %s", shown(v))
		}
	}
	handlers["model"] = func(kp string, v *yaml.Node) {
		if s, ok := p.scalar(kp, v); ok && s != "" {
			sawModel = true
			e.Model = s
		}
	}
	handlers["effective_from"] = func(kp string, v *yaml.Node) {
		s, ok := p.scalar(kp, v)
		if !ok {
			return
		}
		d, err := usage.ParseDay(s)
		if err != nil {
			p.fail(kp, v, "want a date as YYYY-MM-DD, got %s", shown(v))
			return
		}
		e.EffectiveFrom = d
	}
	handlers["batch"] = func(kp string, v *yaml.Node) {
		e.Batch = &catalog.Price{}
		p.fields(kp, v, p.priceFields(e.Batch))
	}
	handlers["long_context"] = func(kp string, v *yaml.Node) {
		e.LongContext = &catalog.Price{}
		p.fields(kp, v, p.priceFields(e.LongContext))
	}
	p.fields(path, n, handlers)
	if !sawProvider {
		p.fail(path+".provider", deref(n), "missing (openai or anthropic)")
	}
	if !sawModel {
		p.fail(path+".model", deref(n), "missing model id")
	}
	return e, len(p.errs) == before
}

// priceFields returns handlers for the five per-million prices of dst. The scalar's text goes to
// ledger.ParseDollars, so "0.075" is exactly 75,000,000 nano-dollars, never a float.
func (p *parser) priceFields(dst *catalog.Price) map[string]func(string, *yaml.Node) {
	field := func(m *ledger.Money) func(string, *yaml.Node) {
		return func(kp string, v *yaml.Node) {
			s, ok := p.scalar(kp, v)
			if !ok {
				return
			}
			amount, err := ledger.ParseDollars(s)
			if err != nil || amount < 0 {
				p.fail(kp, v, "want a non-negative amount of dollars per million tokens, got %s", shown(v))
				return
			}
			*m = amount
		}
	}
	return map[string]func(string, *yaml.Node){
		"input":          field(&dst.Input),
		"cached_input":   field(&dst.CachedInput),
		"cache_write_5m": field(&dst.CacheWrite5m),
		"cache_write_1h": field(&dst.CacheWrite1h),
		"output":         field(&dst.Output),
	}
}
