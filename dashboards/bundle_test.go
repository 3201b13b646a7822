package dashboards

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"testing"
)

// pluginSrc is the plugin's frontend source; webpack copies src/**/*.json into plugin/dist.
var pluginSrc = filepath.Join(repoRoot, "plugin", "src")

// The plugin bundles every dashboard as a committed copy in plugin/src/dashboards/ (the frontend
// build copies it into plugin/dist), listed in plugin.json's includes. The copies must not drift.
func TestBundle_PluginShipsExactCopiesOfEveryDashboard(t *testing.T) {
	raw, err := os.ReadFile(filepath.Join(pluginSrc, "plugin.json"))
	if err != nil {
		t.Fatal(err)
	}
	var manifest struct {
		ID       string `json:"id"`
		Includes []struct {
			Type, Name, Path string
		} `json:"includes"`
	}
	if err := json.Unmarshal(raw, &manifest); err != nil {
		t.Fatal(err)
	}
	if manifest.ID != marginPluginID {
		t.Fatalf("plugin.json id %q", manifest.ID)
	}
	included := map[string]string{} // path -> name
	for _, inc := range manifest.Includes {
		if inc.Type == "dashboard" {
			included[inc.Path] = inc.Name
		}
	}
	var want []string
	for _, d := range loadDashboards(t) {
		path := "dashboards/" + d.file
		want = append(want, path)
		if name, ok := included[path]; !ok {
			t.Errorf("plugin.json does not include %s", path)
		} else if name != str(d.doc["title"]) {
			t.Errorf("plugin.json names %s %q, its title is %q", path, name, d.doc["title"])
		}
		copied, err := os.ReadFile(filepath.Join(pluginSrc, path))
		if err != nil {
			t.Errorf("%v: run cp dashboards/*.json plugin/src/dashboards/", err)
		} else if !bytes.Equal(copied, d.raw) {
			t.Errorf("plugin/src/%s differs from dashboards/%s: run cp dashboards/*.json plugin/src/dashboards/", path, d.file)
		}
	}
	for path := range included {
		if !slices.Contains(want, path) {
			t.Errorf("plugin.json includes %s, which is not one of dashboards/*.json", path)
		}
	}
}
