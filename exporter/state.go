package exporter

import (
	"cmp"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/marginhq/margin/internal/ledger"
	"github.com/marginhq/margin/internal/sortby"
	"github.com/marginhq/margin/internal/usage"
)

// tokenTypes are the token_type label values, in the order of every [numTokenTypes] array.
// cache_write adds the 5-minute and 1-hour cache writes; reasoning is a subset of output.
var tokenTypes = [numTokenTypes]string{"input", "cached_input", "cache_write", "output", "reasoning"}

const numTokenTypes = 5

type tokenCounts [numTokenTypes]int64

func tokensOf(t usage.Tokens) tokenCounts {
	return tokenCounts{t.Input, t.CachedInput, t.CacheWrite5m + t.CacheWrite1h, t.Output, t.Reasoning}
}

// costKey is one bucket of LLM spend: a day, provider, model, the true customer ("" when
// unattributed) and the source's feature ("" when unmapped). Buckets keep the true customer so
// max_customers can route later deltas anew.
type costKey struct {
	Day      usage.Day
	Provider string
	Model    string
	Customer string
	Feature  string
}

// costBucket is what has been counted for one bucket. Cost is the bucket's current value (a fall
// went to the adjustments counter); Requests and Tokens are the highest values seen, because those
// counters only count increases.
type costBucket struct {
	Cost     ledger.Money
	Requests int64
	Tokens   tokenCounts
}

type unpricedKey struct {
	Day      usage.Day
	Provider string
	Model    string
}

type revenueKey struct {
	Day      usage.Day
	Customer string
}

// revenueBucket keeps the highest value counted (the counter only counts increases) and the
// current value (for the month-to-date gauge, which may fall with a credit note).
type revenueBucket struct {
	Counted ledger.Money
	Current ledger.Money
}

// seriesKey is one exported label set of the per-customer counters; Customer is the exported
// value (a Stripe id, "unattributed" or "other"). Model and Feature stay in totals even when their
// labels are off, so drop_model_label and feature_label can change between restarts without
// breaking a counter: the snapshot sums over what it does not show.
type seriesKey struct {
	Provider string
	Model    string
	Customer string
	Feature  string // "" for sources no feature mapping names
}

type adjustmentKey struct {
	Provider string
	Customer string
}

type unpricedSeries struct {
	Provider string
	Model    string
	Type     int
}

// totals are the running counter values, per exported label set, since the state was created.
type totals struct {
	Cost        map[seriesKey]ledger.Money
	Adjustments map[adjustmentKey]ledger.Money
	Requests    map[seriesKey]int64
	Tokens      map[seriesKey]tokenCounts
	Unpriced    map[unpricedSeries]int64
	Revenue     map[string]ledger.Money
}

// State is the exporter's memory: what it has counted per bucket, the running totals, and per
// source the first day that may still be revised (Since). It is persisted to state_file so
// counters continue across restarts. It is not safe for concurrent use; the poller owns it.
//
// The invariant it enforces (docs/exporter.md, "Counter semantics"): every counter equals the sum
// over days of what was counted for that day, and a day is counted once. The state keeps, per
// bucket, what it has counted; a batch replaces only buckets of days it covers that are still
// revisable (day >= Since[source]), and the difference goes to the counters. Since never moves
// back, and prune forgets only days before it, so a day that left the state can never be counted
// again: a stale batch, replayed after an outage, a restart or a day change, adds nothing for days
// that became final after it was fetched, whatever the order of successes and failures.
type State struct {
	Since    map[string]usage.Day
	cost     map[costKey]costBucket
	unpriced map[unpricedKey]tokenCounts
	revenue  map[revenueKey]revenueBucket
	totals   totals
}

// newState returns an empty state: every counter starts at zero.
func newState() *State {
	return &State{
		Since:    map[string]usage.Day{},
		cost:     map[costKey]costBucket{},
		unpriced: map[unpricedKey]tokenCounts{},
		revenue:  map[revenueKey]revenueBucket{},
		totals: totals{
			Cost:        map[seriesKey]ledger.Money{},
			Adjustments: map[adjustmentKey]ledger.Money{},
			Requests:    map[seriesKey]int64{},
			Tokens:      map[seriesKey]tokenCounts{},
			Unpriced:    map[unpricedSeries]int64{},
			Revenue:     map[string]ledger.Money{},
		},
	}
}

// costValues are freshly computed bucket values for the days one provider's batch covers.
type costValues struct {
	Provider string
	Window   usage.Window
	Today    usage.Day // the engine's day when the batch was read
	Cost     map[costKey]costBucket
	Unpriced map[unpricedKey]tokenCounts
}

// applyCost counts the difference between v and what was counted before, for every bucket of the
// provider inside v.Window: a rise adds to the counters, a fall in cost adds to the adjustments
// counter; a bucket counted before and now absent has fallen to zero. route maps a true customer
// to its exported label value.
//
// Days before Since[v.Provider] are final and left alone, even when v covers them: a batch fetched
// before they became final must not count them again (see State).
func (s *State) applyCost(v *costValues, route func(string) string) {
	open := s.revisable(v.Provider)
	for k, nb := range v.Cost {
		if open(k.Day) {
			s.countCost(k, nb, route)
		}
	}
	for k, old := range s.cost {
		if k.Provider == v.Provider && v.Window.Contains(k.Day) && open(k.Day) {
			if _, ok := v.Cost[k]; !ok && old.Cost != 0 {
				s.countCost(k, costBucket{}, route)
			}
		}
	}
	for k, nt := range v.Unpriced {
		if open(k.Day) {
			s.countUnpriced(k, nt)
		}
	}
}

// revisable reports whether source's day d may still be counted: every day before the first
// poll, then only days from Since on.
func (s *State) revisable(source string) func(usage.Day) bool {
	since, ok := s.Since[source]
	return func(d usage.Day) bool { return !ok || d >= since }
}

func (s *State) countUnpriced(k unpricedKey, nt tokenCounts) {
	old := s.unpriced[k]
	for i := range nt {
		if d := nt[i] - old[i]; d > 0 {
			s.totals.Unpriced[unpricedSeries{k.Provider, k.Model, i}] += d
			old[i] = nt[i]
		}
	}
	s.unpriced[k] = old
}

func (s *State) countCost(k costKey, nb costBucket, route func(string) string) {
	old := s.cost[k]
	ser := seriesKey{Provider: k.Provider, Model: k.Model, Customer: route(k.Customer), Feature: k.Feature}
	switch d := nb.Cost - old.Cost; {
	case d > 0:
		s.totals.Cost[ser] += d
	case d < 0:
		s.totals.Adjustments[adjustmentKey{k.Provider, ser.Customer}] -= d
	}
	old.Cost = nb.Cost
	if d := nb.Requests - old.Requests; d > 0 {
		s.totals.Requests[ser] += d
		old.Requests = nb.Requests
	}
	var rise tokenCounts
	risen := false
	for i := range nb.Tokens {
		if d := nb.Tokens[i] - old.Tokens[i]; d > 0 {
			rise[i], risen = d, true
			old.Tokens[i] = nb.Tokens[i]
		}
	}
	if risen {
		t := s.totals.Tokens[ser]
		for i := range rise {
			t[i] += rise[i]
		}
		s.totals.Tokens[ser] = t
	}
	if old == (costBucket{}) {
		delete(s.cost, k)
		return
	}
	s.cost[k] = old
}

// applyRevenue counts recognised revenue for the days of w up to today: only rises count, since
// the counter never decreases; the current value follows every change.
// Days before Since[stripe] are final, as in applyCost.
func (s *State) applyRevenue(w usage.Window, today usage.Day, daily map[revenueKey]ledger.Money, route func(string) string) {
	open := s.revisable(sourceStripe)
	for k, amount := range daily {
		if k.Day > today || !w.Contains(k.Day) || !open(k.Day) {
			continue
		}
		b := s.revenue[k]
		if d := amount - b.Counted; d > 0 {
			s.totals.Revenue[route(k.Customer)] += d
			b.Counted = amount
		}
		b.Current = amount
		s.revenue[k] = b
	}
	for k, b := range s.revenue {
		if w.Contains(k.Day) && k.Day <= today && open(k.Day) {
			if _, ok := daily[k]; !ok {
				b.Current = 0
				s.revenue[k] = b
			}
		}
	}
}

// prune forgets the buckets of source that can no longer be revised (before since), except the
// current month's, which the month-to-date gauges still add up.
func (s *State) prune(source string, since, monthStart usage.Day) {
	keep := min(since, monthStart)
	if source == sourceStripe {
		s.revenue = pruned(s.revenue, func(k revenueKey) bool { return k.Day < keep })
		return
	}
	s.cost = pruned(s.cost, func(k costKey) bool { return k.Provider == source && k.Day < keep })
	s.unpriced = pruned(s.unpriced, func(k unpricedKey) bool { return k.Provider == source && k.Day < since })
}

// pruned deletes the entries of m whose key drop reports, and returns m, or a copy sized to what
// is left when more was deleted than is left. A Go map keeps the room of its largest size: the
// first fill's backfill window, then each month's days at the turn of the month, would stay
// allocated for the exporter's life (on the demo world 0.6 MB of cost buckets held 706 entries
// of 90 KB). Deletions come in bulk (a prune keeps the current month), so copies are rare.
func pruned[K comparable, V any](m map[K]V, drop func(K) bool) map[K]V {
	n := len(m)
	maps.DeleteFunc(m, func(k K, _ V) bool { return drop(k) })
	if n-len(m) <= len(m) {
		return m
	}
	c := make(map[K]V, len(m))
	maps.Copy(c, m)
	return c
}

// stateVersion changes whenever the file's meaning changes; another version is recounted. The
// feature fields were added without a change: a file without them reads as unmapped sources.
const stateVersion = 1

type stateFile struct {
	Version int                  `json:"version"`
	Since   map[string]usage.Day `json:"since"` // UTC day numbers
	Cost    []fileCost           `json:"cost_buckets"`
	Unprice []fileUnpriced       `json:"unpriced_buckets"`
	Revenue []fileRevenue        `json:"revenue_buckets"`
	Totals  fileTotals           `json:"totals"`
}

type fileCost struct {
	Day      usage.Day   `json:"day"`
	Provider string      `json:"provider"`
	Model    string      `json:"model"`
	Customer string      `json:"customer,omitempty"`
	Feature  string      `json:"feature,omitempty"`
	Cost     int64       `json:"cost_nanos"`
	Requests int64       `json:"requests"`
	Tokens   tokenCounts `json:"tokens"`
}

type fileUnpriced struct {
	Day      usage.Day   `json:"day"`
	Provider string      `json:"provider"`
	Model    string      `json:"model"`
	Tokens   tokenCounts `json:"tokens"`
}

type fileRevenue struct {
	Day      usage.Day `json:"day"`
	Customer string    `json:"customer"`
	Counted  int64     `json:"counted_nanos"`
	Current  int64     `json:"current_nanos"`
}

type fileSeries struct {
	Provider    string       `json:"provider,omitempty"`
	Model       string       `json:"model,omitempty"`
	Customer    string       `json:"customer,omitempty"`
	Feature     string       `json:"feature,omitempty"`
	Cost        int64        `json:"cost_nanos,omitempty"`
	Adjustments int64        `json:"adjustments_nanos,omitempty"`
	Revenue     int64        `json:"revenue_nanos,omitempty"`
	Requests    int64        `json:"requests,omitempty"`
	Tokens      *tokenCounts `json:"tokens,omitempty"`
}

type fileUnpricedSeries struct {
	Provider string `json:"provider"`
	Model    string `json:"model"`
	Type     string `json:"token_type"`
	Tokens   int64  `json:"tokens"`
}

type fileTotals struct {
	Series      []fileSeries         `json:"series"`
	Adjustments []fileSeries         `json:"adjustments"`
	Revenue     []fileSeries         `json:"revenue"`
	Unpriced    []fileUnpricedSeries `json:"unpriced"`
}

// Money is written as integer nano-dollars (ledger.Money's own JSON form is a decimal).
func (s *State) file() *stateFile {
	f := &stateFile{Version: stateVersion, Since: s.Since}
	for k, b := range s.cost {
		f.Cost = append(f.Cost, fileCost{k.Day, k.Provider, k.Model, k.Customer, k.Feature, int64(b.Cost), b.Requests, b.Tokens})
	}
	for k, t := range s.unpriced {
		f.Unprice = append(f.Unprice, fileUnpriced{k.Day, k.Provider, k.Model, t})
	}
	for k, b := range s.revenue {
		f.Revenue = append(f.Revenue, fileRevenue{k.Day, k.Customer, int64(b.Counted), int64(b.Current)})
	}
	series := map[seriesKey]*fileSeries{}
	at := func(k seriesKey) *fileSeries {
		fs := series[k]
		if fs == nil {
			fs = &fileSeries{Provider: k.Provider, Model: k.Model, Customer: k.Customer, Feature: k.Feature}
			series[k] = fs
		}
		return fs
	}
	for k, v := range s.totals.Cost {
		at(k).Cost = int64(v)
	}
	for k, v := range s.totals.Requests {
		at(k).Requests = v
	}
	for k, v := range s.totals.Tokens {
		at(k).Tokens = &v
	}
	for _, fs := range series {
		f.Totals.Series = append(f.Totals.Series, *fs)
	}
	for k, v := range s.totals.Adjustments {
		f.Totals.Adjustments = append(f.Totals.Adjustments, fileSeries{Provider: k.Provider, Customer: k.Customer, Adjustments: int64(v)})
	}
	for c, v := range s.totals.Revenue {
		f.Totals.Revenue = append(f.Totals.Revenue, fileSeries{Customer: c, Revenue: int64(v)})
	}
	for k, v := range s.totals.Unpriced {
		f.Totals.Unpriced = append(f.Totals.Unpriced, fileUnpricedSeries{k.Provider, k.Model, tokenTypes[k.Type], v})
	}
	// A stable order makes the file diffable and the write deterministic.
	sortby.Func(f.Cost, func(a, b fileCost) int {
		return cmp.Or(cmp.Compare(a.Day, b.Day), cmp.Compare(a.Provider, b.Provider), cmp.Compare(a.Model, b.Model),
			cmp.Compare(a.Customer, b.Customer), cmp.Compare(a.Feature, b.Feature))
	})
	sortby.Func(f.Unprice, func(a, b fileUnpriced) int {
		return cmp.Or(cmp.Compare(a.Day, b.Day), cmp.Compare(a.Provider, b.Provider), cmp.Compare(a.Model, b.Model))
	})
	sortby.Func(f.Revenue, func(a, b fileRevenue) int {
		return cmp.Or(cmp.Compare(a.Day, b.Day), cmp.Compare(a.Customer, b.Customer))
	})
	bySeries := func(a, b fileSeries) int {
		return cmp.Or(cmp.Compare(a.Provider, b.Provider), cmp.Compare(a.Model, b.Model), cmp.Compare(a.Customer, b.Customer),
			cmp.Compare(a.Feature, b.Feature))
	}
	sortby.Func(f.Totals.Series, bySeries)
	sortby.Func(f.Totals.Adjustments, bySeries)
	sortby.Func(f.Totals.Revenue, bySeries)
	sortby.Func(f.Totals.Unpriced, func(a, b fileUnpricedSeries) int {
		return cmp.Or(cmp.Compare(a.Provider, b.Provider), cmp.Compare(a.Model, b.Model), cmp.Compare(a.Type, b.Type))
	})
	return f
}

// Beside the state file live its previous good generation and, after a recovery or a reset, the
// unusable file set aside for inspection.
const (
	prevSuffix    = ".prev"
	corruptSuffix = ".corrupt"
)

// Save writes the state to path atomically and keeps the generation it replaces as path.prev: a
// temporary file in the same directory is written and synced, the current file is linked to
// path.prev, the temporary file is renamed over path, and the directory is synced, so a crash at
// any point leaves path (old or new) or, failing that, path.prev whole. The file being replaced is
// always good: it was loaded or written by this process (an unusable one was set aside at start).
func (s *State) Save(path string) error {
	data, err := json.Marshal(s.file())
	if err != nil {
		return fmt.Errorf("encoding state: %w", err)
	}
	dir := filepath.Dir(path)
	tmp, err := writeTemp(dir, filepath.Base(path), data)
	if err != nil {
		return fmt.Errorf("writing state file %s: %w", path, err)
	}
	defer os.Remove(tmp) // a no-op after the rename
	if err := keepPrevious(path); err != nil {
		return fmt.Errorf("keeping the previous generation of %s: %w", path, err)
	}
	if err := os.Rename(tmp, path); err != nil {
		return fmt.Errorf("replacing state file %s: %w", path, err)
	}
	// The rename is durable once the directory entry is; best effort where directories cannot be synced.
	syncDir(dir)
	return nil
}

// writeTemp writes data to a new synced file in dir and returns its name.
func writeTemp(dir, base string, data []byte) (string, error) {
	tmp, err := os.CreateTemp(dir, "."+base+".tmp-*")
	if err != nil {
		return "", err
	}
	_, err = tmp.Write(data)
	if err == nil {
		err = tmp.Sync()
	}
	// Close reports what a delayed write failed with; the first error wins.
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		_ = os.Remove(tmp.Name())
		return "", err
	}
	return tmp.Name(), nil
}

// keepPrevious makes path's current content path.prev. A hard link keeps path in place meanwhile;
// where links are not supported the file is renamed, and a crash before the new file lands leaves
// only path.prev, which openState recovers from.
func keepPrevious(path string) error {
	prev, link := path+prevSuffix, path+prevSuffix+".tmp"
	_ = os.Remove(link)
	err := os.Link(path, link)
	switch {
	case errors.Is(err, os.ErrNotExist):
		return nil // the first save
	case err == nil:
		return os.Rename(link, prev)
	}
	if err := os.Rename(path, prev); err != nil && !errors.Is(err, os.ErrNotExist) {
		return err
	}
	return nil
}

func syncDir(dir string) {
	if d, err := os.Open(dir); err == nil { // #nosec G304 -- the state file's own directory, from the config
		_ = d.Sync()
		_ = d.Close()
	}
}

// errNoState means there is no state file yet: the first start.
var errNoState = errors.New("no state file")

// openedState is how openState got its state.
type openedState struct {
	state     *State
	fresh     bool  // no state file yet: the first start
	recovered bool  // from path.prev: path was missing or unusable
	reset     bool  // nothing usable, and the operator allowed starting from zero
	problem   error // what was wrong, when recovered or reset
}

// openState loads the state file, falling back to its previous generation when it is missing or
// unusable. With neither usable it fails, naming both files, unless reset allows starting from
// zero. An unusable file is renamed to path.corrupt (never overwritten) before the first save.
// Temporary files a crash left behind are removed.
func openState(path string, reset bool) (*openedState, error) {
	removeTemps(path)
	st, err := loadState(path)
	if err == nil {
		return &openedState{state: st}, nil
	}
	prev, perr := loadState(path + prevSuffix)
	if errors.Is(err, errNoState) && errors.Is(perr, errNoState) {
		return &openedState{state: newState(), fresh: true}, nil
	}
	if perr == nil {
		if err := setAside(path); err != nil {
			return nil, err
		}
		return &openedState{state: prev, recovered: true, problem: fmt.Errorf("%s: %w", path, err)}, nil
	}
	problem := fmt.Errorf("state file %s: %w; previous generation %s: %w", path, err, path+prevSuffix, perr)
	if !reset {
		return nil, fmt.Errorf("%w: refusing to start from zero, which Prometheus would see as a counter reset "+
			"(increase() would count the backfill window again); restore the file, or start once with --state.reset", problem)
	}
	if err := setAside(path); err != nil {
		return nil, err
	}
	return &openedState{state: newState(), reset: true, problem: problem}, nil
}

// setAside renames an unusable state file to path.corrupt, keeping it for inspection.
func setAside(path string) error {
	err := os.Rename(path, path+corruptSuffix)
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("setting aside the unusable state file %s: %w", path, err)
	}
	return nil
}

// removeTemps removes the temporary files of path that a crash during Save left behind.
func removeTemps(path string) {
	dir, prefix := filepath.Dir(path), "."+filepath.Base(path)+".tmp-"
	entries, err := os.ReadDir(dir)
	if err != nil {
		return
	}
	for _, e := range entries {
		if strings.HasPrefix(e.Name(), prefix) && e.Type().IsRegular() {
			_ = os.Remove(filepath.Join(dir, e.Name()))
		}
	}
}

// loadState reads a state file written by Save. A missing file is errNoState; a file that does
// not parse, or was written by another version, is an error saying so.
func loadState(path string) (*State, error) {
	data, err := os.ReadFile(path) // #nosec G304 -- the operator's state_file
	if errors.Is(err, os.ErrNotExist) {
		return nil, errNoState
	}
	if err != nil {
		return nil, err
	}
	return decodeState(data)
}

// decodeState parses a state file's content.
func decodeState(data []byte) (*State, error) {
	var f stateFile
	if err := json.Unmarshal(data, &f); err != nil {
		return nil, fmt.Errorf("state file is not valid: %w", err)
	}
	if f.Version != stateVersion {
		return nil, fmt.Errorf("state file has version %d, this exporter writes version %d", f.Version, stateVersion)
	}
	s := newState()
	for src, d := range f.Since {
		s.Since[src] = d
	}
	for _, c := range f.Cost {
		s.cost[costKey{c.Day, c.Provider, c.Model, c.Customer, c.Feature}] = costBucket{ledger.Money(c.Cost), c.Requests, c.Tokens}
	}
	for _, u := range f.Unprice {
		s.unpriced[unpricedKey{u.Day, u.Provider, u.Model}] = u.Tokens
	}
	for _, r := range f.Revenue {
		s.revenue[revenueKey{r.Day, r.Customer}] = revenueBucket{ledger.Money(r.Counted), ledger.Money(r.Current)}
	}
	for _, fs := range f.Totals.Series {
		k := seriesKey{fs.Provider, fs.Model, fs.Customer, fs.Feature}
		if fs.Cost != 0 {
			s.totals.Cost[k] = ledger.Money(fs.Cost)
		}
		if fs.Requests != 0 {
			s.totals.Requests[k] = fs.Requests
		}
		if fs.Tokens != nil {
			s.totals.Tokens[k] = *fs.Tokens
		}
	}
	for _, fs := range f.Totals.Adjustments {
		s.totals.Adjustments[adjustmentKey{fs.Provider, fs.Customer}] = ledger.Money(fs.Adjustments)
	}
	for _, fs := range f.Totals.Revenue {
		s.totals.Revenue[fs.Customer] = ledger.Money(fs.Revenue)
	}
	for _, u := range f.Totals.Unpriced {
		i := slices.Index(tokenTypes[:], u.Type)
		if i < 0 {
			return nil, fmt.Errorf("state file is not valid: unknown token type %q", u.Type)
		}
		s.totals.Unpriced[unpricedSeries{u.Provider, u.Model, i}] = u.Tokens
	}
	if err := s.totals.check(); err != nil {
		return nil, fmt.Errorf("state file is not valid: %w", err)
	}
	return s, nil
}

// check refuses totals no exporter writes: a counter below zero.
func (t *totals) check() error {
	for k, v := range t.Cost {
		if v < 0 {
			return fmt.Errorf("negative cost counter for %s/%s/%s", k.Provider, k.Model, k.Customer)
		}
	}
	for k, v := range t.Adjustments {
		if v < 0 {
			return fmt.Errorf("negative adjustments counter for %s/%s", k.Provider, k.Customer)
		}
	}
	for k, v := range t.Requests {
		if v < 0 {
			return fmt.Errorf("negative requests counter for %s/%s/%s", k.Provider, k.Model, k.Customer)
		}
	}
	for k, v := range t.Tokens {
		for i, n := range v {
			if n < 0 {
				return fmt.Errorf("negative %s tokens counter for %s/%s/%s", tokenTypes[i], k.Provider, k.Model, k.Customer)
			}
		}
	}
	for c, v := range t.Revenue {
		if v < 0 {
			return fmt.Errorf("negative revenue counter for %s", c)
		}
	}
	for k, v := range t.Unpriced {
		if v < 0 {
			return fmt.Errorf("negative unpriced tokens counter for %s/%s", k.Provider, k.Model)
		}
	}
	return nil
}
