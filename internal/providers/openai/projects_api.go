package openai

import (
	"context"
	"github.com/marginhq/margin/internal/providers/apiclient"
	"iter"
	"net/url"
)

const (
	projectsEndpoint = "/organization/projects"
	listLimit        = "100" // the most items a projects or keys page may hold
	// ownerProjectAccessAny lists a project's keys whatever their owner's access to it.
	ownerProjectAccessAny = "any"
)

// Project is an OpenAI project.
type Project struct {
	ID         string  `json:"id"` // proj_…
	Name       *string `json:"name"`
	Status     string  `json:"status"` // "active" or "archived"
	CreatedAt  int64   `json:"created_at"`
	ArchivedAt *int64  `json:"archived_at"`
}

// ProjectAPIKey is an API key of a project. Its ID is the api_key_id of the usage and costs
// endpoints.
type ProjectAPIKey struct {
	ID            string `json:"id"` // key_…
	Name          string `json:"name"`
	RedactedValue string `json:"redacted_value"` // a display hint such as "sk-proj-****Qm4x"
	CreatedAt     int64  `json:"created_at"`
	LastUsedAt    *int64 `json:"last_used_at"`
	// OwnerProjectAccess is "active" or "inactive" (the owner lost access to the project).
	OwnerProjectAccess string `json:"owner_project_access"`
}

// ListProjects yields every project of the organisation, archived ones included (their past usage
// still needs a name), following after=last_id while has_more. The iteration stops at the first
// error, which it yields.
// GET /organization/projects
func (c *Client) ListProjects(ctx context.Context) iter.Seq2[Project, error] {
	q := url.Values{"limit": {listLimit}, "include_archived": {"true"}}
	return apiclient.ListPages[Project](ctx, c.api, projectsEndpoint, q, maxPages, "after")
}

// ListProjectAPIKeys yields every API key of the project, following after=last_id while has_more.
// It sends owner_project_access=any: without it the endpoint applies membership-based visibility
// and may hide enabled keys whose owner lost access to the project (provider-apis.md,
// correction 3), and a hidden key's usage would have no name to attribute it by. The iteration
// stops at the first error, which it yields.
// GET /organization/projects/{project_id}/api_keys?owner_project_access=any
func (c *Client) ListProjectAPIKeys(ctx context.Context, projectID string) iter.Seq2[ProjectAPIKey, error] {
	endpoint := projectsEndpoint + "/" + projectID + "/api_keys"
	q := url.Values{"limit": {listLimit}, "owner_project_access": {ownerProjectAccessAny}}
	return apiclient.ListPages[ProjectAPIKey](ctx, c.api, endpoint, q, maxPages, "after")
}
