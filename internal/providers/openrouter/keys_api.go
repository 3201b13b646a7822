package openrouter

import (
	"context"
	"iter"
	"net/url"
	"strconv"

	"github.com/marginhq/margin/internal/providers/apiclient"
)

const (
	keysEndpoint = "/keys"
	// keysPageSize is how many keys /keys returns per page; a shorter page is the last one, since
	// the response carries no has_more (provider-apis.md §3.3).
	keysPageSize = 100
	// maxKeyPages bounds the key listing at 100,000 keys; a server that never sends a short page
	// fails there instead of looping forever.
	maxKeyPages = 1000
)

// Key is an API key of the account as /keys lists it. Amounts are OpenRouter credits in USD; the
// daily, weekly and monthly counters cover the current UTC day, Monday-based week and month.
type Key struct {
	Hash     string `json:"hash"` // the key's id in /activity?api_key_hash= and in source references
	Name     string `json:"name"`
	Label    string `json:"label"` // a masked display form such as "sk-or-v1-0e6...1c96"
	Disabled bool   `json:"disabled"`
	Limit    *USD   `json:"limit"`
	// LimitRemaining is nil when the key has no limit.
	LimitRemaining *USD    `json:"limit_remaining"`
	LimitReset     *string `json:"limit_reset"` // "daily", "weekly", "monthly" or nil
	Usage          USD     `json:"usage"`
	UsageDaily     USD     `json:"usage_daily"`
	UsageWeekly    USD     `json:"usage_weekly"`
	UsageMonthly   USD     `json:"usage_monthly"`
	// BYOKUsage is spend on the account's own provider keys, estimated by OpenRouter and not billed by it.
	BYOKUsage   USD     `json:"byok_usage"`
	CreatedAt   string  `json:"created_at"`
	UpdatedAt   *string `json:"updated_at"`
	ExpiresAt   *string `json:"expires_at"`
	WorkspaceID string  `json:"workspace_id"`
}

// Idle reports whether the key has never been used: no OpenRouter credits and no BYOK inference
// over its lifetime. Its /activity is empty, so Margin does not ask for it (on a large account
// most keys are idle); should one have been used after all, the account-level /activity still
// carries that spend, as unlisted.
func (k Key) Idle() bool { return k.Usage == 0 && k.BYOKUsage == 0 }

// DisplayName returns the key's name, or its masked label when it has no name.
func (k Key) DisplayName() string {
	if k.Name != "" {
		return k.Name
	}
	return k.Label
}

// ListKeys yields every key of the default workspace, disabled ones included (their past activity
// still needs a name), paging with offset=0,100,200,… until a page holds fewer than 100 keys.
// A key that shows up again on a later page (keys created while paging shift the offsets) is
// yielded once. The iteration stops at the first error, which it yields: a *apiclient.PagingError
// when the pages never end or a full page brings no new key (a server that ignores offset).
// GET /keys
func (c *Client) ListKeys(ctx context.Context) iter.Seq2[Key, error] {
	return c.listKeys(ctx, "")
}

// ListWorkspaceKeys is ListKeys for one workspace: /keys lists the default workspace's keys
// unless given workspace_id (provider-apis.md, correction 8).
// GET /keys?workspace_id=
func (c *Client) ListWorkspaceKeys(ctx context.Context, workspaceID string) iter.Seq2[Key, error] {
	return c.listKeys(ctx, workspaceID)
}

func (c *Client) listKeys(ctx context.Context, workspaceID string) iter.Seq2[Key, error] {
	return func(yield func(Key, error) bool) {
		pager := c.api.NewPager(keysEndpoint, c.maxKeyPages)
		seen := map[string]bool{}
		for offset := 0; ; offset += keysPageSize {
			cursor := strconv.Itoa(offset)
			if err := pager.Next(cursor); err != nil {
				yield(Key{}, err)
				return
			}
			var page apiclient.Data[[]Key] // data null or missing is an error, not the end of the list
			q := url.Values{"include_disabled": {"true"}, "offset": {cursor}}
			if workspaceID != "" {
				q.Set("workspace_id", workspaceID)
			}
			if err := c.api.Get(ctx, keysEndpoint, q, &page); err != nil {
				yield(Key{}, err)
				return
			}
			fresh := 0
			for _, k := range *page.Data {
				if k.Hash == "" {
					yield(Key{}, errorf(keysEndpoint, "offset %d: a key without a hash", offset))
					return
				}
				if seen[k.Hash] {
					continue
				}
				seen[k.Hash] = true
				fresh++
				if !yield(k, nil) {
					return
				}
			}
			if len(*page.Data) < keysPageSize {
				return
			}
			if fresh == 0 {
				yield(Key{}, c.pagingError(keysEndpoint, "the page at offset "+cursor+" repeats keys already listed (offset ignored?)"))
				return
			}
		}
	}
}
