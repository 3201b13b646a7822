// Command gpx_margin is the Margin Grafana datasource's backend, launched by Grafana over the
// plugin protocol.
package main

import (
	"os"

	"github.com/grafana/grafana-plugin-sdk-go/backend/datasource"
	"github.com/grafana/grafana-plugin-sdk-go/backend/log"
	"github.com/prometheus/common/version"

	"github.com/marginhq/margin/plugin/pkg/plugin"
)

func main() {
	// Set by `make plugin` from git, like the exporter's and the CLI's --version.
	log.DefaultLogger.Info("starting the margin datasource backend", "version", version.Info(), "build_context", version.BuildContext())
	if err := datasource.Manage(plugin.PluginID, plugin.NewDatasource, datasource.ManageOpts{}); err != nil {
		log.DefaultLogger.Error(err.Error())
		os.Exit(1)
	}
}
