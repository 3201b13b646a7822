package engine

import (
	"sync"

	"github.com/marginhq/margin/internal/usage"
)

// rowSums is what SummarizeFor adds up over the rows. Its loop runs once per row (hundreds of
// thousands at scale), so it looks each distinct name up once: rows of one source and model come
// in runs, and one-entry caches (comparing the rows' Syms, integers) catch the repeats; lines are
// indexed by small integers from there on, and a name is turned into its text once per line. Large results are summed in two halves at once and merged: every sum is an integer,
// so the order of adding does not change it.
type rowSums struct {
	res        *Result
	from       usage.Day
	days       int
	totals     Totals
	provs      map[usage.Provider]*ProviderLine
	modelIdx   map[modelKey]int32
	modelKeys  []modelKey // by model line
	modelLines []ModelLine
	daily      []DailyLine // [model line × days + day of the window]; Day "" while unused
	outside    map[dayModel]*DailyLine
	custs      map[string]*CustomerLine
	custSyms   map[usage.Sym]*CustomerLine // custs by the rows' Sym
	unattr     map[usage.SourceRef]*UnattributedLine
	estimates  map[estimateKey]*EstimateLine
	features   *featureSpend
}

type modelKey struct {
	p usage.ProviderID
	m usage.Sym
}

type dayModel struct {
	d usage.Day
	m int32
}

type estimateKey struct {
	m    int32
	tier usage.ClassBits
	src  PriceSource
}

// parallelRows is the size from which rows are summed in two halves at once.
var parallelRows = 1 << 16 // a variable for the test that compares both ways

func sumRows(res *Result) *rowSums {
	rows := res.Rows
	if len(rows) < parallelRows {
		s := newRowSums(res)
		s.add(rows)
		return s
	}
	a, b := newRowSums(res), newRowSums(res)
	half := len(rows) / 2
	var wg sync.WaitGroup
	wg.Go(func() { b.add(rows[half:]) })
	a.add(rows[:half])
	wg.Wait()
	a.merge(b)
	return a
}

func newRowSums(res *Result) *rowSums {
	return &rowSums{
		res: res, from: res.Window.From, days: res.Window.Days(),
		provs: map[usage.Provider]*ProviderLine{}, modelIdx: map[modelKey]int32{}, outside: map[dayModel]*DailyLine{},
		custs: map[string]*CustomerLine{}, custSyms: map[usage.Sym]*CustomerLine{}, unattr: map[usage.SourceRef]*UnattributedLine{}, estimates: map[estimateKey]*EstimateLine{},
		features: newFeatureSpend(),
	}
}

func (s *rowSums) customer(id string) *CustomerLine {
	c := s.custs[id]
	if c == nil {
		info := s.res.Customers[id]
		c = &CustomerLine{CustomerID: id, Name: info.Name, Plan: info.Plan}
		s.custs[id] = c
	}
	return c
}

// customerOf is customer for a row's Sym.
func (s *rowSums) customerOf(id usage.Sym) *CustomerLine {
	c := s.custSyms[id]
	if c == nil {
		c = s.customer(id.String())
		s.custSyms[id] = c
	}
	return c
}

func (s *rowSums) model(k modelKey) int32 {
	mi, ok := s.modelIdx[k]
	if !ok {
		mi = int32(len(s.modelLines)) // #nosec G115 -- distinct models of one result
		s.modelIdx[k] = mi
		s.modelKeys = append(s.modelKeys, k)
		s.modelLines = append(s.modelLines, ModelLine{Provider: k.p.Name(), Model: k.m.String()})
		s.daily = append(s.daily, make([]DailyLine, s.days)...)
	}
	return mi
}

func (s *rowSums) day(d usage.Day, mi int32) *DailyLine {
	if off := int(d - s.from); d >= s.from && off < s.days {
		return &s.daily[int(mi)*s.days+off]
	}
	l := s.outside[dayModel{d, mi}]
	if l == nil {
		l = &DailyLine{}
		s.outside[dayModel{d, mi}] = l
	}
	return l
}

func (s *rowSums) add(rows []CostRow) {
	var (
		lastMK   modelKey
		lastM    int32 = -1
		lastProv *ProviderLine
		lastCust *CustomerLine
		lastCID  usage.Sym
		lastUn   *UnattributedLine
		lastUID  usage.Sym
	)
	for i := range rows {
		r := &rows[i]
		s.features.add(r)
		if lastM < 0 || r.Model != lastMK.m || r.Provider != lastMK.p {
			lastMK = modelKey{r.Provider, r.Model}
			lastM = s.model(lastMK)
		}
		mi := lastM
		tokens := r.Tokens.Total()
		if r.Estimated {
			k := estimateKey{mi, r.Tier, r.PriceSource}
			e := s.estimates[k]
			if e == nil {
				e = &EstimateLine{Provider: r.Provider.Name(), Model: r.Model.String(), Tier: r.ServiceTier(), PriceSource: r.PriceSource}
				s.estimates[k] = e
			}
			e.Cost += r.Cost
			e.Tokens += tokens
			if u := s.res.UnpricedOf(r); u != nil {
				e.UnpricedTokens += u.Total()
			}
		}
		t := &s.totals
		t.Cost += r.Cost
		t.Tokens += tokens
		t.Requests += r.Requests
		switch {
		case r.Estimated:
			t.Estimated += r.Cost
		case r.Customer == usage.NoSym:
			t.Unattributed += r.Cost
		default:
			t.Attributed += r.Cost
		}
		if p := r.Provider.Name(); lastProv == nil || lastProv.Provider != p {
			lastProv = s.provs[p]
			if lastProv == nil {
				lastProv = &ProviderLine{Provider: p}
				s.provs[p] = lastProv
			}
		}
		p := lastProv
		p.Cost += r.Cost
		p.Tokens += tokens
		if r.Estimated {
			p.Estimated += r.Cost
		}
		m := &s.modelLines[mi]
		m.Cost += r.Cost
		m.Tokens += tokens
		m.Requests += r.Requests
		if u := s.res.UnpricedOf(r); u != nil {
			m.UnpricedTokens += u.Total()
		}
		d := s.day(r.Day, mi)
		if d.Day == "" { // first row of the line
			d.Day, d.Provider, d.Model = r.Day.String(), m.Provider, m.Model
		}
		d.Cost += r.Cost
		d.Tokens += tokens
		if r.Customer != usage.NoSym {
			if lastCust == nil || lastCID != r.Customer {
				lastCust, lastCID = s.customerOf(r.Customer), r.Customer
			}
			c := lastCust
			c.Cost += r.Cost
			c.Tokens += tokens
			c.Requests += r.Requests
		} else {
			if lastUn == nil || lastUID != r.Source {
				src := r.Source.Ref()
				lastUn, lastUID = s.unattr[src], r.Source
				if lastUn == nil {
					lastUn = &UnattributedLine{Source: src, Name: s.res.Sources[src].Name, Provider: r.Provider.Name()}
					s.unattr[src] = lastUn
				}
			}
			u := lastUn
			u.Cost += r.Cost
			u.Tokens += tokens
		}
	}
	s.features.flush()
}

// merge adds o's sums into s.
func (s *rowSums) merge(o *rowSums) {
	t, ot := &s.totals, &o.totals
	t.Cost += ot.Cost
	t.Tokens += ot.Tokens
	t.Requests += ot.Requests
	t.Estimated += ot.Estimated
	t.Unattributed += ot.Unattributed
	t.Attributed += ot.Attributed
	for k, op := range o.provs {
		p := s.provs[k]
		if p == nil {
			p = &ProviderLine{Provider: k}
			s.provs[k] = p
		}
		p.Cost += op.Cost
		p.Tokens += op.Tokens
		p.Estimated += op.Estimated
	}
	remap := make([]int32, len(o.modelLines))
	for omi := range o.modelLines {
		om := &o.modelLines[omi]
		mi := s.model(o.modelKeys[omi])
		remap[omi] = mi
		m := &s.modelLines[mi]
		m.Cost += om.Cost
		m.Tokens += om.Tokens
		m.Requests += om.Requests
		m.UnpricedTokens += om.UnpricedTokens
		for off := range s.days {
			od := &o.daily[omi*s.days+off]
			if od.Day == "" {
				continue
			}
			d := &s.daily[int(mi)*s.days+off]
			if d.Day == "" {
				d.Day, d.Provider, d.Model = od.Day, od.Provider, od.Model
			}
			d.Cost += od.Cost
			d.Tokens += od.Tokens
		}
	}
	for k, od := range o.outside {
		d := s.day(k.d, remap[k.m])
		if d.Day == "" {
			d.Day, d.Provider, d.Model = od.Day, od.Provider, od.Model
		}
		d.Cost += od.Cost
		d.Tokens += od.Tokens
	}
	for k, oe := range o.estimates {
		k.m = remap[k.m]
		e := s.estimates[k]
		if e == nil {
			e = &EstimateLine{Provider: oe.Provider, Model: oe.Model, Tier: oe.Tier, PriceSource: oe.PriceSource}
			s.estimates[k] = e
		}
		e.Cost += oe.Cost
		e.Tokens += oe.Tokens
		e.UnpricedTokens += oe.UnpricedTokens
	}
	for id, oc := range o.custs {
		c := s.customer(id)
		c.Cost += oc.Cost
		c.Tokens += oc.Tokens
		c.Requests += oc.Requests
	}
	for ref, ou := range o.unattr {
		u := s.unattr[ref]
		if u == nil {
			u = &UnattributedLine{Source: ou.Source, Name: ou.Name, Provider: ou.Provider}
			s.unattr[ref] = u
		}
		u.Cost += ou.Cost
		u.Tokens += ou.Tokens
	}
	s.features.merge(o.features)
}
