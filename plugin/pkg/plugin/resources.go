package plugin

import (
	"context"
	"encoding/json"
	"net/http"
	"sort"

	"github.com/grafana/grafana-plugin-sdk-go/backend"
	"github.com/grafana/grafana-plugin-sdk-go/backend/resource/httpadapter"

	"github.com/marginhq/margin/internal/engine"
)

// CustomerOption is one entry of GET resources/customers.
type CustomerOption struct {
	ID   string `json:"id"`
	Name string `json:"name"`
	Plan string `json:"plan"`
}

// ModelOption is one entry of GET resources/models.
type ModelOption struct {
	Provider string `json:"provider"`
	Model    string `json:"model"`
}

// newResources serves the editors' pickers: JSON arrays computed over the default window.
func (d *Datasource) newResources() backend.CallResourceHandler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /providers", func(w http.ResponseWriter, r *http.Request) {
		if !d.usable(w) {
			return
		}
		out := []string{}
		for _, p := range d.providers(nil) {
			out = append(out, string(p))
		}
		writeJSON(w, http.StatusOK, out)
	})
	mux.HandleFunc("GET /customers", d.withReport(func(rep *engine.Report) any {
		out := make([]CustomerOption, 0, len(rep.Customers))
		for _, c := range rep.Customers {
			out = append(out, CustomerOption{ID: c.CustomerID, Name: c.Name, Plan: c.Plan})
		}
		sort.Slice(out, func(i, j int) bool {
			if out[i].Name != out[j].Name {
				return out[i].Name < out[j].Name
			}
			return out[i].ID < out[j].ID
		})
		return out
	}))
	mux.HandleFunc("GET /models", d.withReport(func(rep *engine.Report) any {
		out := make([]ModelOption, 0, len(rep.Models))
		for _, m := range rep.Models {
			out = append(out, ModelOption{Provider: string(m.Provider), Model: m.Model})
		}
		sort.Slice(out, func(i, j int) bool {
			if out[i].Provider != out[j].Provider {
				return out[i].Provider < out[j].Provider
			}
			return out[i].Model < out[j].Model
		})
		return out
	}))
	mux.HandleFunc("GET /plans", d.withReport(func(rep *engine.Report) any {
		out := make([]string, 0, len(rep.Plans))
		for _, p := range rep.Plans { // sorted by plan
			out = append(out, p.Plan)
		}
		return out
	}))
	mux.HandleFunc("GET /features", d.withReport(func(rep *engine.Report) any {
		// The mapped names, even without spend in the window, and every feature with spend
		// ("unassigned" among them when some source is unmapped).
		seen := map[string]bool{}
		for _, f := range d.opts.Features {
			seen[f] = true
		}
		for _, l := range rep.Features {
			seen[l.Feature] = true
		}
		out := make([]string, 0, len(seen))
		for f := range seen {
			out = append(out, f)
		}
		sort.Strings(out)
		return out
	}))
	return httpadapter.New(mux)
}

// CallResource serves the editors' resource routes.
func (d *Datasource) CallResource(ctx context.Context, req *backend.CallResourceRequest, sender backend.CallResourceResponseSender) error {
	return d.resources.CallResource(ctx, req, sender)
}

// usable answers with the settings problem when there is one.
func (d *Datasource) usable(w http.ResponseWriter) bool {
	if d.settingsErr != nil {
		writeJSON(w, http.StatusBadRequest, map[string]string{"error": "the datasource settings need fixing: " + d.scrub(joinLines(d.settingsErr))})
		return false
	}
	return true
}

// withReport runs fn over the report of the default window: the last engine.DefaultBackfillDays
// days, today included.
func (d *Datasource) withReport(fn func(*engine.Report) any) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if !d.usable(w) {
			return
		}
		now := d.now()
		win, _ := d.eng.RangeWindow(now.AddDate(0, 0, -engine.DefaultBackfillDays), now)
		c, err := d.compute(r.Context(), d.providers(nil), win, false)
		if err != nil {
			writeJSON(w, statusFor(err), map[string]string{"error": d.explain(err)})
			return
		}
		writeJSON(w, http.StatusOK, fn(c.report()))
	}
}

// writeJSON sets the header and status before the body, so the status is not lost.
func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}
