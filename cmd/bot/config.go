package main

import (
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/meetbot/meetbot/chat"
	"github.com/meetbot/meetbot/joinurl"
	"github.com/meetbot/meetbot/recording"
)

// Config is every setting of the bot, read from the environment (and an optional .env file).
// .env.example documents each one.
type Config struct {
	APIServer    string // MEET_API_SERVER
	BotName      string // MEET_BOT_NAME
	DefaultCloud string // MEET_CLOUD: public | private
	StoreURL     string // STORE_URL
	SecretKey    chat.Secret
	HTTPAddr     string // HTTP_ADDR
	PprofAddr    string // PPROF_ADDR: net/http/pprof for operators; empty is off
	ReplicaID    string // REPLICA_ID
	ScheduleTZ   *time.Location
	Limits       ScheduleLimits // SCHEDULE_MAX_PER_CHANNEL, SCHEDULE_MIN_INTERVAL, AUDIT_RETENTION
	LogLevel     slog.Level

	// NodeHosts are the host names or suffixes (".example.com") the platform's nodes may have
	// (MEET_NODE_HOSTS); empty trusts checkJoin's answer.
	NodeHosts []string

	Slack  SlackConfig
	Matrix MatrixConfig

	// JoinURL is MEET_JOIN_URL: the platform's web join page with {alias}, {number} and {name};
	// unset, no Join buttons or links (and no Slack call cards) are shown.
	JoinURL joinurl.Template
	// Recorder is MEET_RECORDER_URL: the operator's RTMP recorder with {room}, {alias}, {date}
	// and {time}; the zero Template turns record off.
	Recorder recording.Template

	// SecretKeyPrevious is MEETBOT_SECRET_KEY_PREVIOUS: keys PINs may still be sealed under
	// (comma-separated); start-up reseals those links under SecretKey.
	SecretKeyPrevious chat.Secret

	Relay RelayConfig
}

// RelayConfig holds the settings of the meeting relay.
type RelayConfig struct {
	// RejoinAfterEnd is how long the relay stays out of a meeting that was ended before it
	// follows the room again (REJOIN_AFTER_END).
	RejoinAfterEnd time.Duration
	// SnapshotInterval is the least time between two slide snapshots of one meeting
	// (SNAPSHOT_INTERVAL).
	SnapshotInterval time.Duration
}

// SlackConfig holds the Slack settings; Enabled reports whether any are set.
type SlackConfig struct {
	BotToken      chat.Secret
	SigningSecret chat.Secret
	AppToken      chat.Secret
	Hosts         []string
	APIURL        string
	// MaxUnverifiedReads bounds the request bodies read at once before their signature is
	// checked (SLACK_MAX_UNVERIFIED_READS; 0: the adapter's default).
	MaxUnverifiedReads int
}

// Enabled reports whether the Slack adapter should run.
func (s SlackConfig) Enabled() bool { return s.BotToken != "" }

// MatrixConfig holds the Matrix settings; Enabled reports whether any are set.
type MatrixConfig struct {
	Homeserver  string
	UserID      string
	AccessToken chat.Secret
	Password    chat.Secret
	PickleKey   chat.Secret
	Allow       []string
	DataDir     string
	// RecoveryKey unlocks the bot's cross-signing identity (MATRIX_RECOVERY_KEY); RequireVerified
	// refuses commands from devices not cross-signed by their owner (MATRIX_REQUIRE_VERIFIED).
	RecoveryKey     chat.Secret
	RequireVerified bool
}

// Enabled reports whether the Matrix adapter should run.
func (m MatrixConfig) Enabled() bool { return m.Homeserver != "" }

// SettingError names the setting that stops start-up, in one line a person can act on.
type SettingError struct {
	Name   string
	Reason string
}

func (e *SettingError) Error() string { return e.Name + ": " + e.Reason }

func settingErr(name, format string, args ...any) error {
	return &SettingError{Name: name, Reason: fmt.Sprintf(format, args...)}
}

// defaultHTTPAddr is where the HTTP server listens when HTTP_ADDR is not set.
const defaultHTTPAddr = ":8080"

// loadConfig reads the settings through getenv. Secrets are read but never printed.
func loadConfig(getenv func(string) string) (Config, error) {
	get := func(name, def string) string {
		if v := strings.TrimSpace(getenv(name)); v != "" {
			return v
		}
		return def
	}
	c := Config{
		APIServer:    get("MEET_API_SERVER", ""),
		BotName:      get("MEET_BOT_NAME", "meetbot"),
		DefaultCloud: strings.ToLower(get("MEET_CLOUD", "public")),
		StoreURL:     get("STORE_URL", "sqlite:data/meetbot.db"),
		SecretKey:    chat.Secret(get("MEETBOT_SECRET_KEY", "")),
		HTTPAddr:     get("HTTP_ADDR", defaultHTTPAddr),
		PprofAddr:    get("PPROF_ADDR", ""),
		ReplicaID:    get("REPLICA_ID", defaultReplicaID()),
		Slack: SlackConfig{
			BotToken:      chat.Secret(get("SLACK_BOT_TOKEN", "")),
			SigningSecret: chat.Secret(get("SLACK_SIGNING_SECRET", "")),
			AppToken:      chat.Secret(get("SLACK_APP_TOKEN", "")),
			Hosts:         splitList(get("SLACK_HOSTS", "")),
			APIURL:        get("SLACK_API_URL", ""),
		},
		Matrix: MatrixConfig{
			Homeserver:  get("MATRIX_HOMESERVER", ""),
			UserID:      get("MATRIX_USER_ID", ""),
			AccessToken: chat.Secret(get("MATRIX_ACCESS_TOKEN", "")),
			Password:    chat.Secret(get("MATRIX_PASSWORD", "")),
			PickleKey:   chat.Secret(get("MATRIX_PICKLE_KEY", "")),
			Allow:       splitList(get("MATRIX_ALLOW", "")),
			DataDir:     get("MATRIX_DATA_DIR", "data"),
			RecoveryKey: chat.Secret(get("MATRIX_RECOVERY_KEY", "")),
		},
	}
	// Key rotation: the keys PINs were sealed under before MEETBOT_SECRET_KEY (checked by newApp).
	c.SecretKeyPrevious = chat.Secret(get("MEETBOT_SECRET_KEY_PREVIOUS", ""))
	if err := loadMatrixTrust(&c.Matrix, get); err != nil {
		return c, err
	}

	if c.APIServer != "" {
		if err := checkHTTPURL(c.APIServer); err != nil {
			return c, settingErr("MEET_API_SERVER", "%v", err)
		}
	}
	if len(c.BotName) > 50 {
		return c, settingErr("MEET_BOT_NAME", "at most 50 characters (the platform's limit)")
	}
	if c.DefaultCloud != "public" && c.DefaultCloud != "private" {
		return c, settingErr("MEET_CLOUD", "want public or private, not %q", c.DefaultCloud)
	}
	c.NodeHosts = splitList(get("MEET_NODE_HOSTS", ""))
	if err := checkNodeHosts(c.NodeHosts); err != nil {
		return c, settingErr("MEET_NODE_HOSTS", "%v", err)
	}
	rec, err := recording.ParseTemplate(get("MEET_RECORDER_URL", ""))
	if err != nil {
		// The error names the setting and never quotes the URL, which may carry a stream key.
		return c, settingErr("MEET_RECORDER_URL", "%v", strings.TrimPrefix(err.Error(), "MEET_RECORDER_URL: "))
	}
	c.Recorder = rec
	if err := c.loadJoinURL(get); err != nil {
		return c, err
	}
	tz := get("SCHEDULE_TZ", get("TZ", "Local"))
	loc, err := time.LoadLocation(tz)
	if err != nil {
		return c, settingErr("SCHEDULE_TZ", "unknown time zone %q", tz)
	}
	c.ScheduleTZ = loc
	if c.Limits, err = loadScheduleLimits(get); err != nil {
		return c, err
	}
	if err := c.LogLevel.UnmarshalText([]byte(get("LOG_LEVEL", "info"))); err != nil {
		return c, settingErr("LOG_LEVEL", "want debug, info, warn or error")
	}

	if err := loadRelayConfig(get, &c.Relay); err != nil {
		return c, err
	}

	if c.Slack.Enabled() {
		if !strings.HasPrefix(c.Slack.BotToken.Reveal(), "xoxb-") {
			return c, settingErr("SLACK_BOT_TOKEN", "want a bot token starting with xoxb-")
		}
		if c.Slack.AppToken == "" && c.Slack.SigningSecret == "" {
			return c, settingErr("SLACK_SIGNING_SECRET", "required to verify Slack's requests (or set SLACK_APP_TOKEN for Socket Mode)")
		}
		if c.Slack.AppToken != "" && !strings.HasPrefix(c.Slack.AppToken.Reveal(), "xapp-") {
			return c, settingErr("SLACK_APP_TOKEN", "want an app-level token starting with xapp-")
		}
	} else if c.Slack.SigningSecret != "" || c.Slack.AppToken != "" {
		return c, settingErr("SLACK_BOT_TOKEN", "required when other SLACK_ settings are set")
	}
	if v := get("SLACK_MAX_UNVERIFIED_READS", ""); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > 100000 {
			return c, settingErr("SLACK_MAX_UNVERIFIED_READS", "want a whole number from 1 to 100000, not %q", v)
		}
		c.Slack.MaxUnverifiedReads = n
	}
	if c.Slack.APIURL != "" {
		if err := checkHTTPURL(c.Slack.APIURL); err != nil {
			return c, settingErr("SLACK_API_URL", "%v", err)
		}
	}

	if c.Matrix.Enabled() {
		if err := checkHTTPURL(c.Matrix.Homeserver); err != nil {
			return c, settingErr("MATRIX_HOMESERVER", "%v", err)
		}
		if !strings.HasPrefix(c.Matrix.UserID, "@") || !strings.Contains(c.Matrix.UserID, ":") {
			return c, settingErr("MATRIX_USER_ID", "want a full user id such as @meetbot:example.org")
		}
		if c.Matrix.AccessToken == "" && c.Matrix.Password == "" {
			return c, settingErr("MATRIX_ACCESS_TOKEN", "set it or MATRIX_PASSWORD")
		}
		if c.Matrix.PickleKey == "" {
			return c, settingErr("MATRIX_PICKLE_KEY", "required: it protects the bot's encryption keys at rest")
		}
	} else if c.Matrix.UserID != "" || c.Matrix.AccessToken != "" || c.Matrix.Password != "" {
		return c, settingErr("MATRIX_HOMESERVER", "required when other MATRIX_ settings are set")
	}
	return c, nil
}

// loadMatrixTrust reads MATRIX_REQUIRE_VERIFIED.
func loadMatrixTrust(m *MatrixConfig, get func(name, def string) string) error {
	switch v := strings.ToLower(get("MATRIX_REQUIRE_VERIFIED", "false")); v {
	case "true", "yes", "1":
		m.RequireVerified = true
	case "false", "no", "0":
	default:
		return settingErr("MATRIX_REQUIRE_VERIFIED", "%q: want true or false", v)
	}
	return nil
}

// loadJoinURL reads MEET_JOIN_URL (Join buttons, links and Slack call cards).
func (c *Config) loadJoinURL(get func(name, def string) string) error {
	t, err := joinurl.Parse(get("MEET_JOIN_URL", ""))
	if err != nil {
		return settingErr("MEET_JOIN_URL", "%v (example: https://meet.example.com/webapp/#/?conference={alias})", err)
	}
	c.JoinURL = t
	return nil
}

// chatConfigured reports whether any chat service is set up; without one, the bot runs the demo.
func (c Config) chatConfigured() bool { return c.Slack.Enabled() || c.Matrix.Enabled() }

func checkHTTPURL(s string) error {
	u, err := url.Parse(s)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return errors.New("want an http:// or https:// URL with a host")
	}
	return nil
}

// ScheduleLimits bounds what schedules may do and how long their traces are kept.
type ScheduleLimits struct {
	MaxPerChannel  int           // SCHEDULE_MAX_PER_CHANNEL: schedules one channel may have
	MinInterval    time.Duration // SCHEDULE_MIN_INTERVAL: shortest gap between a cron schedule's runs
	AuditRetention time.Duration // AUDIT_RETENTION: audit entries and schedule runs older are pruned
}

// loadScheduleLimits reads the schedule limits and the audit retention. Each has a floor: cron
// cannot fire more often than once a minute, and an audit log kept for less than a day would be
// gone before anyone asked about yesterday.
func loadScheduleLimits(get func(name, def string) string) (ScheduleLimits, error) {
	var l ScheduleLimits
	n, err := strconv.Atoi(get("SCHEDULE_MAX_PER_CHANNEL", "50"))
	if err != nil || n < 1 {
		return l, settingErr("SCHEDULE_MAX_PER_CHANNEL", "want a whole number of 1 or more")
	}
	l.MaxPerChannel = n
	d, err := time.ParseDuration(get("SCHEDULE_MIN_INTERVAL", "5m"))
	if err != nil || d < time.Minute {
		return l, settingErr("SCHEDULE_MIN_INTERVAL", "want a duration of 1m or more, such as 5m or 1h")
	}
	l.MinInterval = d
	ret, err := parseDays(get("AUDIT_RETENTION", "90d"))
	if err != nil || ret < 24*time.Hour {
		return l, settingErr("AUDIT_RETENTION", "want a duration of a day or more, such as 90d or 2160h")
	}
	l.AuditRetention = ret
	return l, nil
}

// parseDays reads a Go duration, or a whole number of days written "90d".
func parseDays(s string) (time.Duration, error) {
	if days, ok := strings.CutSuffix(s, "d"); ok {
		n, err := strconv.Atoi(days)
		if err != nil || n < 0 || n > 100*365 {
			return 0, fmt.Errorf("days %q: want a whole number", days)
		}
		return time.Duration(n) * 24 * time.Hour, nil
	}
	return time.ParseDuration(s)
}

// splitList reads comma- or space-separated ids.
// checkNodeHosts accepts what meetings.ClientOptions.NodeHosts does: host names, or suffixes
// written ".example.com" or "*.example.com"; no scheme, port, path or user.
func checkNodeHosts(hosts []string) error {
	for _, h := range hosts {
		name := strings.TrimPrefix(strings.TrimPrefix(h, "*."), ".")
		if name == "" || name == "." || strings.ContainsAny(name, "/:@?#*[]") {
			return fmt.Errorf("%q: want a host name such as node1.example.com or a suffix such as .example.com", h)
		}
	}
	return nil
}

func splitList(s string) []string {
	return strings.FieldsFunc(s, func(r rune) bool { return r == ',' || r == ' ' || r == '\t' || r == '\n' })
}

func defaultReplicaID() string {
	host, err := os.Hostname()
	if err != nil {
		host = "bot"
	}
	return fmt.Sprintf("%s-%d", host, os.Getpid())
}

// loadRelayConfig reads the relay's settings.
func loadRelayConfig(get func(name, def string) string, r *RelayConfig) error {
	d, err := time.ParseDuration(get("REJOIN_AFTER_END", "60s"))
	if err != nil || d <= 0 || d > 24*time.Hour {
		return settingErr("REJOIN_AFTER_END", "want a duration between 1s and 24h, such as 60s or 5m")
	}
	r.RejoinAfterEnd = d
	d, err = time.ParseDuration(get("SNAPSHOT_INTERVAL", "30s"))
	// Below 5 s a presenter paging through slides would flood the thread with pictures.
	if err != nil || d < 5*time.Second || d > 24*time.Hour {
		return settingErr("SNAPSHOT_INTERVAL", "want a duration between 5s and 24h, such as 30s or 2m")
	}
	r.SnapshotInterval = d
	return nil
}
