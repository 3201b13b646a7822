package anthropic

import (
	"bytes"
	"context"
	"encoding/json"
	"github.com/marginhq/margin/internal/providers/apiclient"
	"iter"
	"net/url"

	"github.com/marginhq/margin/internal/usage"
)

const (
	workspacesEndpoint = "/v1/organizations/workspaces"
	apiKeysEndpoint    = "/v1/organizations/api_keys"
)

// Workspace is an entry of the workspace list. The default workspace is never listed; the reports
// call it null.
type Workspace struct {
	Type       string  `json:"type"`
	ID         string  `json:"id"`
	Name       string  `json:"name"`
	CreatedAt  string  `json:"created_at"`
	ArchivedAt *string `json:"archived_at"`
}

// ListWorkspaces yields every workspace of the organisation, archived ones included because
// their past usage still appears in the reports, following after_id to the end.
// GET /v1/organizations/workspaces
func (c *Client) ListWorkspaces(ctx context.Context) iter.Seq2[Workspace, error] {
	q := url.Values{"include_archived": {"true"}, "limit": {listPageSize}}
	return apiclient.ListPages[Workspace](ctx, c.api, workspacesEndpoint, q, listMaxPages, "after_id")
}

// APIKey is an entry of the API key list. partial_key_hint is deliberately not decoded: Margin
// has no use for key fragments.
type APIKey struct {
	Type      string `json:"type"`
	ID        string `json:"id"`
	Name      string `json:"name"`
	Status    string `json:"status"`
	CreatedAt string `json:"created_at"`
	// WorkspaceID is deprecated: null for the default workspace, absent from newer responses.
	WorkspaceID OptionalString `json:"workspace_id"`
	// Scope carries the workspace's real id, even for the default workspace that the reports
	// call null.
	Scope *KeyScope `json:"scope"`
}

// KeyScope is where a key may act: {"type":"workspace","workspace_id":…} or {"type":"organization"}.
type KeyScope struct {
	Type        string `json:"type"`
	WorkspaceID string `json:"workspace_id"`
}

// OptionalString tells a JSON field that is absent from one that is null.
type OptionalString struct {
	Present bool    // the field was in the object
	Value   *string // nil for null
}

// UnmarshalJSON records presence; encoding/json calls it for null too.
func (o *OptionalString) UnmarshalJSON(b []byte) error {
	o.Present = true
	if bytes.Equal(bytes.TrimSpace(b), []byte("null")) {
		o.Value = nil
		return nil
	}
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		return err
	}
	o.Value = &s
	return nil
}

// WorkspaceRef returns the workspace the key's usage is reported under, as the reports name it.
// listed holds the ids of every listed workspace (archived included). The reports say null for the
// default workspace while scope.workspace_id gives its real id, which no list returns; so the
// deprecated workspace_id decides when present, and otherwise an id the list does not know is the
// default workspace. Organisation-scoped keys belong to no workspace and return "".
func (k APIKey) WorkspaceRef(listed map[string]bool) usage.SourceRef {
	if k.Scope != nil && k.Scope.Type == "organization" {
		return ""
	}
	if k.WorkspaceID.Present {
		return workspaceRef(stringOrEmpty(k.WorkspaceID.Value))
	}
	if k.Scope != nil && listed[k.Scope.WorkspaceID] {
		return workspaceRef(k.Scope.WorkspaceID)
	}
	return defaultWorkspaceRef
}

// ListAPIKeys yields every API key of the organisation, whatever its status (keys revoked since
// still carry usage in the reports), following after_id to the end.
// GET /v1/organizations/api_keys
func (c *Client) ListAPIKeys(ctx context.Context) iter.Seq2[APIKey, error] {
	return apiclient.ListPages[APIKey](ctx, c.api, apiKeysEndpoint, url.Values{"limit": {listPageSize}}, listMaxPages, "after_id")
}

// defaultWorkspaceRef names the default workspace, which has no id in the reports.
var defaultWorkspaceRef = usage.Ref(usage.Anthropic, usage.KindWorkspace, usage.DefaultWorkspaceID)

// defaultWorkspaceName is the Console's name for the default workspace.
const defaultWorkspaceName = "Default Workspace"

// workspaceRef returns the reference of a reported workspace id, the default one for nil or "".
func workspaceRef(id string) usage.SourceRef {
	if id == "" {
		return defaultWorkspaceRef
	}
	return usage.Ref(usage.Anthropic, usage.KindWorkspace, id)
}

// apiKeyRef returns the reference of a reported key id, "" for none (Console/Workbench).
func apiKeyRef(id string) usage.SourceRef {
	if id == "" {
		return ""
	}
	return usage.Ref(usage.Anthropic, usage.KindAPIKey, id)
}
