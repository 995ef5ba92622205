package main

import (
	"errors"
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/meetbot/meetbot/chat"
)

// metrics are the bot's Prometheus series, on a registry of its own rather than the global one.
type metrics struct {
	registry        *prometheus.Registry
	commands        *prometheus.CounterVec
	notifications   *prometheus.CounterVec
	reconnects      prometheus.Counter
	tokenRefreshes  prometheus.Counter
	platformLatency *prometheus.HistogramVec
	// notificationLatency runs from a meeting event to the end of the post that reports it.
	notificationLatency prometheus.Histogram
	listening           prometheus.Gauge
	// dropped counts notifications the relay gave up on, by platform and why.
	dropped *prometheus.CounterVec
}

func newMetrics() *metrics {
	m := &metrics{
		registry: prometheus.NewRegistry(),
		commands: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "meetbot_commands_total",
			Help: "Commands handled, by command name and outcome (ok, refused, failed).",
		}, []string{"command", "outcome"}),
		notifications: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "meetbot_notifications_posted_total",
			Help: "Notifications posted to chat channels, by platform and outcome.",
		}, []string{"platform", "outcome"}),
		reconnects: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "meetbot_listener_reconnects_total",
			Help: "Times a meeting's event stream was reopened after a drop.",
		}),
		tokenRefreshes: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "meetbot_token_refreshes_total",
			Help: "Platform session tokens refreshed.",
		}),
		platformLatency: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "meetbot_platform_request_seconds",
			Help:    "Latency of platform API requests, by operation and outcome.",
			Buckets: []float64{.005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10},
		}, []string{"op", "outcome"}),
		notificationLatency: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "meetbot_notification_latency_seconds",
			Help:    "Time from a meeting event to the end of the post that reports it, pacing included.",
			Buckets: []float64{.005, .01, .05, .1, .5, 1, 2, 5, 10, 30},
		}),
		listening: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "meetbot_meetings_listening",
			Help: "Meetings whose event stream this replica follows.",
		}),
		dropped: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "meetbot_notifications_dropped_total",
			Help: "Meeting events never posted: the chat service refused their message for good (refused), or too many waited for an unreachable channel (overflow).",
		}, []string{"platform", "reason"}),
	}
	m.registry.MustRegister(m.commands, m.notifications, m.reconnects, m.tokenRefreshes, m.platformLatency,
		m.notificationLatency, m.listening, m.dropped,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return m
}

func (m *metrics) handler() http.Handler {
	return promhttp.HandlerFor(m.registry, promhttp.HandlerOpts{Registry: m.registry})
}

// RequestDone records one platform request (meetings.Observer).
func (m *metrics) RequestDone(op string, d time.Duration, err error) {
	outcome := "ok"
	if err != nil {
		outcome = "error"
	}
	m.platformLatency.WithLabelValues(op, outcome).Observe(d.Seconds())
}

// TokenRefreshed counts a token refresh (meetings.Observer).
func (m *metrics) TokenRefreshed() { m.tokenRefreshes.Inc() }

// StreamReconnected counts a reopened event stream (meetings.Observer).
func (m *metrics) StreamReconnected() { m.reconnects.Inc() }

// CommandDone counts one handled command.
func (m *metrics) CommandDone(command, outcome string, d time.Duration) {
	m.commands.WithLabelValues(command, outcome).Inc()
}

// relayMetrics receives the relay's hooks (relay.Observer).
type relayMetrics struct{ m *metrics }

// NotificationPosted counts one post and how long its oldest event waited.
func (r relayMetrics) NotificationPosted(ch chat.ChannelRef, events int, latency time.Duration) {
	r.m.notifications.WithLabelValues(ch.Platform, "ok").Inc()
	r.m.notificationLatency.Observe(latency.Seconds())
}

// PostFailed counts a refused post, which the relay retries.
func (r relayMetrics) PostFailed(ch chat.ChannelRef, err error) {
	outcome := "error"
	var rl *chat.RateLimitError
	switch {
	case errors.As(err, &rl):
		outcome = "rate_limited"
	case errors.Is(err, chat.ErrMessageRefused):
		outcome = "refused"
	case errors.Is(err, chat.ErrChannelGone):
		outcome = "channel_gone"
	}
	r.m.notifications.WithLabelValues(ch.Platform, outcome).Inc()
}

// NotificationDropped counts events the relay will never post to a channel.
func (r relayMetrics) NotificationDropped(ch chat.ChannelRef, events int, err error) {
	reason := "overflow"
	if errors.Is(err, chat.ErrMessageRefused) {
		reason = "refused"
	}
	r.m.dropped.WithLabelValues(ch.Platform, reason).Add(float64(events))
}

// StreamReconnected is counted by the platform client's hook; nothing to add here.
func (r relayMetrics) StreamReconnected(meeting string) {}

// Listening records how many meetings this replica listens to.
func (r relayMetrics) Listening(n int) { r.m.listening.Set(float64(n)) }
