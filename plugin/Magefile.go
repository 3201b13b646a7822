//go:build mage

// Magefile builds the backend with the Grafana plugin SDK's own targets (`mage -v build:linux`,
// `mage -v` for every platform) into dist/, reading the executable name from src/plugin.json.
// `make plugin` does the same for the three release platforms with plain `go build`.
package main

import (
	// mage:import
	build "github.com/grafana/grafana-plugin-sdk-go/build"
)

// Default builds the backend for every platform the SDK knows.
var Default = build.BuildAll
