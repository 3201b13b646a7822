package stripe

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"

	stripego "github.com/stripe/stripe-go/v76"
	"github.com/stripe/stripe-go/v76/form"
)

// Stripe's objects as Margin reads them: the fields it uses, with stripe-go's names, JSON tags
// and enum types. Requests are stripe-go's params, encoded by its form package, paged by its
// list iterator (see api below); the response bodies are decoded into these instead of
// stripe-go's types. encoding/json builds and caches a decoder for every type reachable
// from the one it decodes into, and stripe-go's Customer, Invoice and Subscription reach most of
// the API: decoding the lists Margin reads into them left 1.4–1.9 MB in that cache for the life
// of the process. These types hold about ninety fields in all (0.27 MB of cache with the
// providers' types and the simulator's).

// apiRef is an expandable reference of which only the id is read: Stripe sends the id as a
// string, or the object when it is expanded.
type apiRef struct {
	ID string `json:"id"`
}

func (r *apiRef) UnmarshalJSON(data []byte) error {
	type ref apiRef
	return expandable(data, (*ref)(r), func(id string) { r.ID = id })
}

// expandable decodes into *v: an id string sets only the id, anything else is the object.
func expandable[T any](data []byte, v *T, setID func(string)) error {
	if id, ok := parseID(data); ok {
		setID(id)
		return nil
	}
	return json.Unmarshal(data, v)
}

// parseID is stripe-go's ParseID (what its types decide an expandable field by: the text between
// the quotes of a string, unescaped as stripe-go leaves it) without its copy of the whole value:
// for an expanded object that copy was a tenth of the bytes the first fill allocated.
func parseID(data []byte) (string, bool) {
	if len(data) < 2 || data[0] != '"' || data[len(data)-1] != '"' {
		return "", false
	}
	return string(data[1 : len(data)-1]), true
}

// apiList is a list page, or a list embedded in an object (an invoice's lines, a subscription's
// items). Its Data field is what the listing checks (bounds.go) and the iterator pages through.
type apiList[T any] struct {
	stripego.ListMeta
	Data []*T `json:"data"`
}

type apiCustomer struct {
	ID       string            `json:"id"`
	Currency stripego.Currency `json:"currency"`
	Deleted  bool              `json:"deleted"`
	Email    string            `json:"email"`
	Metadata map[string]string `json:"metadata"`
	Name     string            `json:"name"`
}

func (c *apiCustomer) UnmarshalJSON(data []byte) error {
	type customer apiCustomer
	return expandable(data, (*customer)(c), func(id string) { c.ID = id })
}

type apiProduct struct {
	ID   string `json:"id"`
	Name string `json:"name"`
}

func (p *apiProduct) UnmarshalJSON(data []byte) error {
	type product apiProduct
	return expandable(data, (*product)(p), func(id string) { p.ID = id })
}

type apiSubscription struct {
	ID                 string                        `json:"id"`
	CancelAt           int64                         `json:"cancel_at"`
	CancelAtPeriodEnd  bool                          `json:"cancel_at_period_end"`
	Created            int64                         `json:"created"`
	Currency           stripego.Currency             `json:"currency"`
	CurrentPeriodEnd   int64                         `json:"current_period_end"`
	CurrentPeriodStart int64                         `json:"current_period_start"`
	Customer           *apiRef                       `json:"customer"`
	Discount           *apiDiscount                  `json:"discount"`
	Discounts          []*apiDiscount                `json:"discounts"`
	Items              *apiList[apiSubscriptionItem] `json:"items"`
	LatestInvoice      *apiInvoice                   `json:"latest_invoice"`
	PauseCollection    *apiPauseCollection           `json:"pause_collection"`
	Status             stripego.SubscriptionStatus   `json:"status"`
	TrialEnd           int64                         `json:"trial_end"`
}

func (s *apiSubscription) UnmarshalJSON(data []byte) error {
	type subscription apiSubscription
	return expandable(data, (*subscription)(s), func(id string) { s.ID = id })
}

type apiPauseCollection struct {
	Behavior  string `json:"behavior"`
	ResumesAt int64  `json:"resumes_at"`
}

type apiSubscriptionItem struct {
	ID        string         `json:"id"`
	Deleted   bool           `json:"deleted"`
	Discounts []*apiDiscount `json:"discounts"`
	Price     *apiPrice      `json:"price"`
	Quantity  int64          `json:"quantity"`
}

func (it *apiSubscriptionItem) UnmarshalJSON(data []byte) error {
	type item apiSubscriptionItem
	return expandable(data, (*item)(it), func(id string) { it.ID = id })
}

type apiPrice struct {
	ID               string                      `json:"id"`
	BillingScheme    stripego.PriceBillingScheme `json:"billing_scheme"`
	Currency         stripego.Currency           `json:"currency"`
	CustomUnitAmount *struct{}                   `json:"custom_unit_amount"` // only whether it is set
	Nickname         string                      `json:"nickname"`
	Product          *apiProduct                 `json:"product"`
	Recurring        *apiPriceRecurring          `json:"recurring"`
	UnitAmount       int64                       `json:"unit_amount"`
}

func (p *apiPrice) UnmarshalJSON(data []byte) error {
	type price apiPrice
	return expandable(data, (*price)(p), func(id string) { p.ID = id })
}

type apiPriceRecurring struct {
	Interval      stripego.PriceRecurringInterval  `json:"interval"`
	IntervalCount int64                            `json:"interval_count"`
	UsageType     stripego.PriceRecurringUsageType `json:"usage_type"`
}

type apiDiscount struct {
	ID      string     `json:"id"`
	Coupon  *apiCoupon `json:"coupon"`
	Deleted bool       `json:"deleted"`
	End     int64      `json:"end"`
}

func (d *apiDiscount) UnmarshalJSON(data []byte) error {
	type discount apiDiscount
	return expandable(data, (*discount)(d), func(id string) { d.ID = id })
}

type apiCoupon struct {
	ID         string            `json:"id"`
	AmountOff  int64             `json:"amount_off"`
	Currency   stripego.Currency `json:"currency"`
	PercentOff float64           `json:"percent_off"`
}

func (c *apiCoupon) UnmarshalJSON(data []byte) error {
	type coupon apiCoupon
	return expandable(data, (*coupon)(c), func(id string) { c.ID = id })
}

type apiInvoice struct {
	ID                string                       `json:"id"`
	AutoAdvance       bool                         `json:"auto_advance"`
	Created           int64                        `json:"created"`
	Currency          stripego.Currency            `json:"currency"`
	Customer          *apiRef                      `json:"customer"`
	EffectiveAt       int64                        `json:"effective_at"`
	Lines             *apiList[apiInvoiceLine]     `json:"lines"`
	Status            stripego.InvoiceStatus       `json:"status"`
	StatusTransitions *apiInvoiceStatusTransitions `json:"status_transitions"`
	Subscription      *apiRef                      `json:"subscription"`
	TotalExcludingTax int64                        `json:"total_excluding_tax"`
}

func (inv *apiInvoice) UnmarshalJSON(data []byte) error {
	type invoice apiInvoice
	return expandable(data, (*invoice)(inv), func(id string) { inv.ID = id })
}

type apiInvoiceStatusTransitions struct {
	FinalizedAt int64 `json:"finalized_at"`
}

type apiInvoiceLine struct {
	ID                 string       `json:"id"`
	Amount             int64        `json:"amount"`
	AmountExcludingTax int64        `json:"amount_excluding_tax"`
	DiscountAmounts    []*apiAmount `json:"discount_amounts"`
	Period             *apiPeriod   `json:"period"`
}

// apiAmount is a discount's or a tax's amount, in minor units.
type apiAmount struct {
	Amount int64 `json:"amount"`
}

type apiPeriod struct {
	End   int64 `json:"end"`
	Start int64 `json:"start"`
}

type apiCreditNote struct {
	ID                string                    `json:"id"`
	Created           int64                     `json:"created"`
	Currency          stripego.Currency         `json:"currency"`
	Customer          *apiRef                   `json:"customer"`
	EffectiveAt       int64                     `json:"effective_at"`
	Invoice           *apiRef                   `json:"invoice"`
	Status            stripego.CreditNoteStatus `json:"status"`
	TaxAmounts        []*apiAmount              `json:"tax_amounts"`
	Total             int64                     `json:"total"`
	TotalExcludingTax int64                     `json:"total_excluding_tax"`
}

func (cn *apiCreditNote) UnmarshalJSON(data []byte) error {
	type creditNote apiCreditNote
	return expandable(data, (*creditNote)(cn), func(id string) { cn.ID = id })
}

type apiEvent struct {
	ID      string             `json:"id"`
	Created int64              `json:"created"`
	Data    *apiEventData      `json:"data"`
	Type    stripego.EventType `json:"type"`
}

// apiEventData keeps an event's data.object undecoded, as stripe-go's EventData.Raw does; the
// object is decoded by its type once the event is known to matter (eventObject).
type apiEventData struct {
	Raw json.RawMessage `json:"object"`
}

func (d *apiEventData) UnmarshalJSON(data []byte) error {
	type eventData apiEventData
	if err := json.Unmarshal(data, (*eventData)(d)); err != nil {
		return err
	}
	// stripe-go decodes the object into a map as well, so anything but an object (or null) fails
	// the page; so it does here, without building the map.
	if raw := bytes.TrimSpace(d.Raw); len(raw) > 0 && raw[0] != '{' && !bytes.Equal(raw, []byte("null")) {
		return errors.New("stripe: event data.object is not a JSON object")
	}
	return nil
}

type apiUsageRecordSummary struct {
	ID         string     `json:"id"`
	Period     *apiPeriod `json:"period"`
	TotalUsage int64      `json:"total_usage"`
}

// api reads Stripe with one account's key. A request is what stripe-go's backend sends for a GET:
// the params encoded by stripe-go's form package as the query, the key as a bearer token, and
// the API version stripe-go v76 is pinned to; it goes through the retrying client (retry.go).
// The backend itself is not used: it links stripe-go's Error, whose fields reach nearly every
// type of the API (0.8 MB of each Margin binary, and the exporter keeps its binary mapped), and
// it reads bodies whole and quotes them in its errors.
type api struct {
	hc   *http.Client
	base string // Stripe's API root, without a trailing slash
	key  string
}

// userAgent names Margin, and stripe-go as what builds its requests.
var userAgent = "margin (stripe-go/" + stripego.ClientVersion + ")"

// iter returns stripe-go's iterator over the list at path, its pages decoded as apiList[T]. It
// pages as stripe-go's resource clients do (has_more, starting_after the last id).
func iter[T any](a *api, path string, params stripego.ListParamsContainer) *stripego.Iter {
	return stripego.GetIter(params, func(p *stripego.Params, q *form.Values) ([]any, stripego.ListContainer, error) {
		page := &apiList[T]{}
		err := a.get(p.Context, path, q, page)
		ret := make([]any, len(page.Data))
		for i, v := range page.Data {
			ret[i] = v
		}
		return ret, page, err
	})
}

// getSubscription reads one subscription.
// GET /v1/subscriptions/{id}
func (a *api) getSubscription(id string, params *stripego.SubscriptionParams) (*apiSubscription, error) {
	q := &form.Values{}
	form.AppendTo(q, params)
	s := &apiSubscription{}
	return s, a.get(params.Context, stripego.FormatURLPath("/v1/subscriptions/%s", id), q, s)
}

// maxErrorBody is how far an error response is read: Stripe's error objects are a few hundred
// bytes, and a proxy's error page is not worth more.
const maxErrorBody = 64 << 10

// get reads GET base+path?query into out. A status outside 2xx is a *statusError; a body that is
// not one JSON value of out's shape is an error naming the status, and quoting none of the body.
func (a *api) get(ctx context.Context, path string, query *form.Values, out any) error {
	if ctx == nil {
		ctx = context.Background()
	}
	u := a.base + path
	if query != nil && !query.Empty() {
		u += "?" + query.Encode()
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return err
	}
	req.Header.Set("Authorization", "Bearer "+a.key)
	req.Header.Set("Stripe-Version", stripego.APIVersion)
	req.Header.Set("User-Agent", userAgent)
	resp, err := a.hc.Do(req)
	if err != nil {
		var ue *url.Error
		if errors.As(err, &ue) {
			ue.URL = a.base + path // the query (customer ids, cursors) stays out of errors and logs
		}
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return readStatusError(resp)
	}
	dec := json.NewDecoder(resp.Body)
	if err := dec.Decode(out); err != nil {
		return fmt.Errorf("decoding the HTTP %d response: %w", resp.StatusCode, err)
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		if err == nil {
			err = errors.New("data after the JSON value")
		}
		return fmt.Errorf("decoding the HTTP %d response: %w", resp.StatusCode, err)
	}
	return nil
}

// statusError is a response outside 2xx: its status, Stripe's request id, and Stripe's error
// object (https://docs.stripe.com/api/errors), empty when the body is not one.
type statusError struct {
	StatusCode int    `json:"-"`
	RequestID  string `json:"-"`
	Type       string `json:"type"`
	Code       string `json:"code"`
	Message    string `json:"message"`
}

func (e *statusError) Error() string {
	msg := "HTTP " + strconv.Itoa(e.StatusCode)
	if e.Type != "" {
		msg += " " + e.Type
	}
	if e.Message != "" {
		msg += ": " + e.Message
	}
	return msg
}

func readStatusError(resp *http.Response) *statusError {
	e := &statusError{StatusCode: resp.StatusCode, RequestID: resp.Header.Get("Request-Id")}
	body, _ := io.ReadAll(io.LimitReader(resp.Body, maxErrorBody))
	var env struct {
		Error *statusError `json:"error"`
	}
	env.Error = e
	_ = json.Unmarshal(body, &env) // not Stripe's error object: the status alone says it
	return e
}
