// Package dashboards holds Margin's bundled Grafana dashboards (*.json), the Prometheus recording and
// alert rules with their promtool unit tests (alerts/), the Grafana provisioning of the
// docker-compose stack (provisioning/, compose/, prometheus/) and the tests that keep all of them
// consistent with what the exporter exposes and what the plugin serves. It has no Go API.
package dashboards
