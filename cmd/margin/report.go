package main

import (
	"context"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"io"
	"strconv"
	"strings"
	"text/tabwriter"

	"github.com/alecthomas/kingpin/v2"

	"github.com/marginhq/margin/internal/engine"
	"github.com/marginhq/margin/internal/ledger"
)

func reportCommand(app *kingpin.Application, env *cliEnv) (*kingpin.CmdClause, func(context.Context) error) {
	cmd := app.Command("report", "Cost, revenue and gross margin per customer, model, plan and feature, and the month-end forecast.")
	src := newSourceFlags(cmd, env)
	days := cmd.Flag("days", "The N complete UTC days before today (default: backfill_days, at most 365).").Default("0").Int()
	format := cmd.Flag("format", "Output format: table, json, csv, or html (one self-contained page).").Default("table").String()
	return cmd, func(ctx context.Context) error { return runReport(ctx, env, src, *days, *format) }
}

func runReport(ctx context.Context, env *cliEnv, src *sourceFlags, days int, format string) error {
	stdout, stderr := env.stdout, env.stderr
	switch format {
	case "table", "json", "csv", "html":
	default:
		return usageErr("--format %q: want table, json, csv or html", format)
	}
	if days < 0 {
		return usageErr("--days %d: want a positive number of days", days)
	}
	opts, err := src.engineOptions()
	if err != nil {
		return err
	}
	eng, err := engine.New(opts)
	if err != nil {
		return &exitError{code: 2, err: err}
	}
	w, note := eng.Window(days)
	if note != "" {
		fmt.Fprintln(stderr, "note:", note)
	}
	var progress engine.Progress
	if isTerminal(stderr) {
		fmt.Fprintf(stderr, "Reading %s for %s …\n", eng.SourceList(), w)
		progress = progressPrinter(stderr)
	}
	rep, err := eng.Report(ctx, w, progress)
	if err != nil {
		return fmt.Errorf("fetching:\n  %s", sourceFailures(err))
	}
	// The table prints its warnings; the other formats go to files and pipes, so say them here.
	if format != "table" {
		for _, w := range rep.Warnings {
			env.logger.Warn(w)
		}
	}
	switch format {
	case "html":
		return writeHTML(stdout, rep, w.Days())
	case "json":
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(rep)
	case "csv":
		return writeCSV(stdout, rep)
	}
	return writeTable(stdout, rep, w.Days())
}

// money formats an amount for people: "$1,234.57", "-$3.10".
func money(m ledger.Money) string {
	s := m.Cents()
	neg := strings.HasPrefix(s, "-")
	s = strings.TrimPrefix(s, "-")
	whole, frac, _ := strings.Cut(s, ".")
	var b strings.Builder
	for i, c := range whole {
		if i > 0 && (len(whole)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(c)
	}
	out := "$" + b.String() + "." + frac
	if neg {
		return "-" + out
	}
	return out
}

func percent(r *float64) string {
	if r == nil {
		return "n/a"
	}
	return strconv.FormatFloat(*r*100, 'f', 1, 64) + "%"
}

func count(n int64) string {
	switch {
	case n >= 10_000_000_000:
		return strconv.FormatInt(n/1_000_000_000, 10) + "B"
	case n >= 10_000_000:
		return strconv.FormatInt(n/1_000_000, 10) + "M"
	case n >= 10_000:
		return strconv.FormatInt(n/1_000, 10) + "k"
	}
	return strconv.FormatInt(n, 10)
}

func share(part, total ledger.Money) string {
	r, ok := ledger.Ratio(part, total)
	if !ok {
		return "n/a"
	}
	return percent(&r)
}

func writeTable(out io.Writer, rep *engine.Report, days int) error {
	tw := tabwriter.NewWriter(out, 2, 4, 2, ' ', 0)
	left := tabwriter.NewWriter(out, 2, 4, 2, ' ', 0)
	t := rep.Totals
	last := rep.To
	fmt.Fprintf(out, "Margin report: %s to %s exclusive (%d complete UTC days), %s\n\n", rep.From, last, days, strings.ToUpper(rep.Currency))
	fmt.Fprintf(left, "Revenue\t%s\n", money(t.Revenue))
	fmt.Fprintf(left, "LLM cost\t%s\t(billed %s, estimated %s)\n", money(t.Cost), money(t.Cost-t.Estimated), money(t.Estimated))
	fmt.Fprintf(left, "Gross margin\t%s\t%s of revenue\n", money(t.GrossMargin), percent(t.GrossMarginRatio))
	fmt.Fprintf(left, "Attributed\t%s\t%s of spend\n", money(t.Attributed), share(t.Attributed, t.Cost))
	fmt.Fprintf(left, "Unattributed\t%s\t%s of spend\n", money(t.Unattributed), share(t.Unattributed, t.Cost))
	left.Flush()

	fmt.Fprintln(out, "\nSpend by provider")
	fmt.Fprintln(tw, "PROVIDER\tCOST\tSHARE\tTOKENS\t")
	for _, p := range rep.Providers {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t\n", p.Provider, money(p.Cost), share(p.Cost, t.Cost), count(p.Tokens))
	}
	tw.Flush()

	fmt.Fprintln(out, "\nSpend by model")
	fmt.Fprintln(tw, "PROVIDER\tMODEL\tCOST\tTOKENS\tREQUESTS\tUNPRICED TOKENS\t")
	for _, m := range rep.Models {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t\n", m.Provider, m.Model, money(m.Cost), count(m.Tokens), count(m.Requests), count(m.UnpricedTokens))
	}
	tw.Flush()

	fmt.Fprintln(out, "\nCustomers (by LLM cost)")
	fmt.Fprintln(tw, "#\tCUSTOMER\tNAME\tPLAN\tREVENUE\tLLM COST\tMARGIN\tMARGIN %\tSHARE OF SPEND\tTOKENS\tREQUESTS\tCOST VS AVG\tTOKENS VS AVG\t")
	for _, c := range rep.Customers {
		fmt.Fprintf(tw, "%d\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t\n", c.Rank, c.CustomerID, c.Name, c.Plan, money(c.Revenue), money(c.Cost),
			money(c.GrossMargin), percent(c.GrossMarginRatio), percent(c.CostShare), count(c.Tokens), count(c.Requests), multiple(c.CostVsAverage), multiple(c.TokensVsAverage))
	}
	tw.Flush()

	fmt.Fprintln(out, "\nUnattributed spend: map these sources to customers (config `customers` or Stripe metadata `margin_sources`)")
	fmt.Fprintln(tw, "SOURCE\tNAME\tCOST\tTOKENS\t")
	for _, u := range rep.Unattributed {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t\n", u.Source, u.Name, money(u.Cost), count(u.Tokens))
	}
	tw.Flush()

	fmt.Fprintln(out, "\nCost by product feature (revenue: each customer's, split over its features by its spend on each)")
	fmt.Fprintln(tw, "FEATURE\tLLM COST\tSHARE OF SPEND\tCUSTOMERS\tREVENUE\tMARGIN\tMARGIN %\t")
	for _, f := range rep.Features {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%d\t%s\t%s\t%s\t\n", f.Feature, money(f.Cost), percent(f.CostShare), f.Customers, money(f.Revenue), money(f.GrossMargin), percent(f.GrossMarginRatio))
	}
	tw.Flush()

	if len(rep.Plans) > 0 {
		fmt.Fprintf(out, "\nPlans: price per customer for a %.0f%% gross margin (over the window)\n", rep.Plans[0].TargetMargin*100)
	}
	fmt.Fprintln(tw, "PLAN\tCUSTOMERS\tREVENUE/CUSTOMER\tCOST/CUSTOMER\tP90 COST\tMARGIN %\tPRICE FOR TARGET\tVS TODAY\t")
	for _, p := range rep.Plans {
		fmt.Fprintf(tw, "%s\t%d\t%s\t%s\t%s\t%s\t%s\t%s\t\n", p.Plan, p.Customers, money(p.RevenuePerCustomer), money(p.CostPerCustomer),
			money(p.CostPerCustomerP90), percent(p.GrossMarginRatio), money(p.PriceForTarget), multiple(p.PriceForTargetRatio))
	}
	tw.Flush()

	if fc := rep.Forecast; fc != nil {
		fmt.Fprintf(out, "\nMonth-end forecast %s (through %s, %d days left, trend of up to the last %d days; revenue: invoiced + subscription run-rate): %d projected underwater\n",
			fc.Month, fc.Through, fc.DaysLeft, fc.TrendDays, fc.Underwater)
		fmt.Fprintln(tw, "CUSTOMER\tNAME\tCOST SO FAR\tDAILY TREND\tTREND DAYS\tPROJECTED COST\tPROJECTED REVENUE\tOF WHICH RUN-RATE\tPROJECTED MARGIN\tBASIS\t\t")
		const shown = 10 // the worst margins; --format=json has every customer
		for i, c := range fc.Customers {
			if i == shown {
				fmt.Fprintf(tw, "… %d more (see --format=json)\t\t\t\t\t\t\t\t\t\t\t\n", len(fc.Customers)-shown)
				break
			}
			flag := ""
			if c.Underwater {
				flag = "UNDERWATER"
			}
			days := strconv.Itoa(c.TrendDays)
			if c.ShortHistory {
				days += " (short history: not extrapolated)"
			}
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t\n", c.CustomerID, c.Name, money(c.CostMonthToDate), money(c.DailyCostTrend),
				days, money(c.ProjectedCost), money(c.ProjectedRevenue), money(c.RunRateRevenue), money(c.ProjectedMargin), strings.Join(c.Basis, "+"), flag)
		}
		tw.Flush()
		for _, w := range fc.Warnings {
			fmt.Fprintln(out, "  -", w)
		}
	}

	fmt.Fprintln(out, "\nReconciliation (attributed + unattributed = billed)")
	fmt.Fprintln(tw, "PROVIDER\tBILLED\tATTRIBUTED\tUNATTRIBUTED\tESTIMATED\t")
	for _, r := range rep.Reconciliation {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t\n", r.Provider, money(r.Billed), money(r.Attributed), money(r.Unattributed), money(r.Estimated))
	}
	tw.Flush()

	if len(rep.Warnings) > 0 {
		fmt.Fprintln(out, "\nWarnings")
		for _, w := range rep.Warnings {
			fmt.Fprintln(out, "  -", w)
		}
	}
	return nil
}

func multiple(r *float64) string {
	if r == nil {
		return "n/a"
	}
	return strconv.FormatFloat(*r, 'f', 2, 64) + "×"
}

func ratioText(r *float64) string {
	if r == nil {
		return ""
	}
	return strconv.FormatFloat(*r, 'f', 6, 64)
}

// writeCSV writes one row per customer and one per unattributed source, for spreadsheets.
func writeCSV(out io.Writer, rep *engine.Report) error {
	w := csv.NewWriter(out)
	w.Write([]string{"kind", "customer_id", "name", "plan", "source", "revenue_usd", "cost_usd", "gross_margin_usd", "gross_margin_ratio", "cost_share", "tokens", "requests"})
	for _, c := range rep.Customers {
		w.Write([]string{"customer", c.CustomerID, c.Name, c.Plan, "", c.Revenue.String(), c.Cost.String(), c.GrossMargin.String(),
			ratioText(c.GrossMarginRatio), ratioText(c.CostShare), strconv.FormatInt(c.Tokens, 10), strconv.FormatInt(c.Requests, 10)})
	}
	for _, u := range rep.Unattributed {
		w.Write([]string{"unattributed", "", u.Name, "", string(u.Source), "0", u.Cost.String(), "", "", "", strconv.FormatInt(u.Tokens, 10), ""})
	}
	w.Flush()
	return w.Error()
}
