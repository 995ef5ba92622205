package main

import (
	"strconv"

	"github.com/prometheus/client_golang/prometheus"
)

// slackRefused registers meetbot_slack_refused_total and returns what the Slack adapter calls
// for each refused request, so a flood against /slack/* shows in the metrics.
func (m *metrics) slackRefused() func(endpoint string, status int) {
	c := prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "meetbot_slack_refused_total",
		Help: "Requests to /slack/* refused before they ran anything, by endpoint and HTTP status.",
	}, []string{"endpoint", "status"})
	m.registry.MustRegister(c)
	return func(endpoint string, status int) { c.WithLabelValues(endpoint, strconv.Itoa(status)).Inc() }
}
