package openrouter

import (
	"context"
	"iter"
	"net/url"
	"strconv"
)

const (
	workspacesEndpoint = "/workspaces"
	// workspacesPageSize is the most workspaces a page may hold (the spec's limit maximum).
	workspacesPageSize = 100
	// maxWorkspacePages bounds the listing at 10,000 workspaces.
	maxWorkspacePages = 100
)

// Workspace is a workspace of the account as /workspaces lists it. Its ID is the workspace_id of
// /keys and /activity.
type Workspace struct {
	ID   string `json:"id"` // a UUID
	Name string `json:"name"`
	Slug string `json:"slug"`
}

// ListWorkspaces yields every workspace of the account, paging with offset and limit=100 until
// the listed count reaches total_count or a page comes back short. The iteration stops at the
// first error, which it yields: a *apiclient.PagingError when the pages never end or a full page
// brings no new workspace (a server that ignores offset).
// GET /workspaces
func (c *Client) ListWorkspaces(ctx context.Context) iter.Seq2[Workspace, error] {
	return func(yield func(Workspace, error) bool) {
		pager := c.api.NewPager(workspacesEndpoint, maxWorkspacePages)
		seen := map[string]bool{}
		for offset := 0; ; offset += workspacesPageSize {
			cursor := strconv.Itoa(offset)
			if err := pager.Next(cursor); err != nil {
				yield(Workspace{}, err)
				return
			}
			var page struct {
				Data       []Workspace `json:"data"`
				TotalCount *int        `json:"total_count"`
			}
			q := url.Values{"offset": {cursor}, "limit": {strconv.Itoa(workspacesPageSize)}}
			if err := c.api.Get(ctx, workspacesEndpoint, q, &page); err != nil {
				yield(Workspace{}, err)
				return
			}
			fresh := 0
			for _, ws := range page.Data {
				if ws.ID == "" {
					yield(Workspace{}, errorf(workspacesEndpoint, "offset %d: a workspace without an id", offset))
					return
				}
				if seen[ws.ID] {
					continue
				}
				seen[ws.ID] = true
				fresh++
				if !yield(ws, nil) {
					return
				}
			}
			if len(page.Data) < workspacesPageSize || (page.TotalCount != nil && len(seen) >= *page.TotalCount) {
				return
			}
			if fresh == 0 {
				yield(Workspace{}, c.pagingError(workspacesEndpoint, "the page at offset "+cursor+" repeats workspaces already listed (offset ignored?)"))
				return
			}
		}
	}
}
