package recording_test

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/meetbot/meetbot/recording"
)

func TestCheckURL(t *testing.T) {
	good := []string{
		"rtmp://a.rtmp.youtube.com/live2/abcd-efgh-ijkl",
		"rtmps://a.rtmps.youtube.com:443/live2/abcd",
		"RTMP://live-push.bilivideo.com/live-bvc/?streamname=live_1_2&key=abc&schedule=rtmp",
		"rtmp://10.0.0.5:1935/live/room",
		"rtmp://[::1]:1935/live/key",
		"rtmp://recorder.example.com",
	}
	for _, u := range good {
		if err := recording.CheckURL(u); err != nil {
			t.Errorf("CheckURL(%q) = %v, want nil", u, err)
		}
	}
	bad := []struct {
		name, url, reason string
	}{
		{"Empty", "", "empty"},
		{"HTTP", "https://a.rtmp.youtube.com/live2/secretkey", "must start with rtmp:// or rtmps://"},
		{"NoScheme", "a.rtmp.youtube.com/live2/secretkey", "must start with rtmp:// or rtmps://"},
		{"SRT", "srt://host:9000?streamid=secretkey", "must start with rtmp:// or rtmps://"},
		{"RTMPT", "rtmpt://host/live/secretkey", "must start with rtmp:// or rtmps://"},
		{"NoHost", "rtmp:///live2/secretkey", "no host"},
		{"Space", "rtmp://host/live2/secret key", "space"},
		{"Newline", "rtmp://host/live2/secretkey\nBob: hi", "space"},
		{"Tab", "rtmp://host/live2/\tsecretkey", "space"},
		{"NoBreakSpace", "rtmp://host/live2/secret\u00a0key", "space"},
		{"Control", "rtmp://host/live2/secret\x00key", "control"},
		{"UserInfo", "rtmp://user:secretkey@host/live2/x", "user name or password"},
		{"BadPort", "rtmp://host:99999/live2/secretkey", "port"},
		{"BadEscape", "rtmp://host/live2/secretkey%zz", "not a valid URL"},
		{"NotUTF8", "rtmp://host/live2/secretkey\xff", "not valid text"},
		{"TooLong", "rtmp://host/live2/secretkey" + strings.Repeat("a", recording.MaxURLLength), "longer than"},
	}
	for _, tc := range bad {
		t.Run(tc.name, func(t *testing.T) {
			err := recording.CheckURL(tc.url)
			if !errors.Is(err, recording.ErrBadURL) {
				t.Fatalf("CheckURL = %v, want ErrBadURL", err)
			}
			var ue *recording.URLError
			if !errors.As(err, &ue) || !strings.Contains(ue.Reason, tc.reason) {
				t.Errorf("reason %q, want it to say %q", err, tc.reason)
			}
			if strings.Contains(err.Error(), "secret") {
				t.Errorf("error %q quotes the URL", err)
			}
		})
	}
}

func TestMask(t *testing.T) {
	cases := []struct{ in, want string }{
		{"rtmp://a.rtmp.youtube.com/live2/abcd-efgh", "rtmp://a.rtmp.youtube.com/live2/****"},
		{"rtmps://a.rtmps.youtube.com:443/live2/abcd-efgh", "rtmps://a.rtmps.youtube.com:443/live2/****"},
		{"rtmp://live-push.bilivideo.com/live-bvc/?streamname=live_1&key=k", "rtmp://live-push.bilivideo.com/live-bvc/****"},
		{"rtmp://host/app/stream?key=k#frag", "rtmp://host/app/****"},
		{"rtmp://host/app/key/", "rtmp://host/app/****"},
		{"rtmp://host/key", "rtmp://host/****"},
		{"rtmp://host?key=k", "rtmp://host/****"},
		{"rtmp://host#k", "rtmp://host/****"},
		{"rtmp://host", "rtmp://host"},
		{"rtmp://host/", "rtmp://host/"},
		{"rtmp://user:pw@host/app/key", "rtmp://****@host/app/****"},
		{"RTMP://Host/Live/Key", "RTMP://Host/Live/****"},
		{"rtmp://host/live2/****", "rtmp://host/live2/****"},
		{"a.rtmp.youtube.com/live2/abcd", "****"},
		{"", "****"},
	}
	for _, tc := range cases {
		if got := recording.Mask(tc.in); got != tc.want {
			t.Errorf("Mask(%q) = %q, want %q", tc.in, got, tc.want)
		}
		if got := recording.Mask(recording.Mask(tc.in)); got != recording.Mask(tc.in) {
			t.Errorf("Mask is not idempotent on %q: %q", tc.in, got)
		}
	}
}

func TestMaskText(t *testing.T) {
	cases := []struct{ name, in, want string }{
		{"LiveStart", "live start rtmp://a.rtmp.youtube.com/live2/abcd-efgh", "live start rtmp://a.rtmp.youtube.com/live2/****"},
		{"WithPresentation", "live start rtmp://a/live2/k1 presentation RTMPS://b:443/app/k2?x=y",
			"live start rtmp://a/live2/**** presentation RTMPS://b:443/app/****"},
		{"SlackLink", "live start <rtmp://a/live2/k1|rtmp://a/live2/k1>", "live start <rtmp://a/live2/****|rtmp://a/live2/****>"},
		{"Quoted", `dial "rtmp://a/live/k" now`, `dial "rtmp://a/live/****" now`},
		{"OtherRTMPSchemes", "rtmpt://a/b/k rtmpe://a/b/k", "rtmpt://a/b/**** rtmpe://a/b/****"},
		{"Multiline", "a\nrtmp://a/b/k\tb", "a\nrtmp://a/b/****\tb"},
		{"NonASCIIAfter", "rtmp://a/b/密钥，谢谢 ok", "rtmp://a/b/**** ok"},
		{"NoURL", "record start", "record start"},
		{"NotAScheme", "xrtmp://a/b/k and rtmp without colon", "xrtmp://a/b/k and rtmp without colon"},
		{"Empty", "", ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if got := recording.MaskText(tc.in); got != tc.want {
				t.Errorf("MaskText(%q) = %q, want %q", tc.in, got, tc.want)
			}
		})
	}
}

func TestParseTemplate(t *testing.T) {
	berlin, err := time.LoadLocation("Europe/Berlin")
	if err != nil {
		t.Skip("no time zone database:", err)
	}
	at := time.Date(2026, 12, 1, 23, 30, 5, 0, time.UTC) // already 2 December in Berlin
	vars := recording.Vars{Room: "1061", Alias: "weekly stand-up@example.com", At: at, Zone: berlin}
	good := []struct{ tmpl, want string }{
		{"rtmp://recorder.example.com/live/{room}-{date}", "rtmp://recorder.example.com/live/1061-2026-12-02"},
		{"rtmps://rec.example.com:443/{alias}/{date}_{time}", "rtmps://rec.example.com:443/weekly%20stand-up%40example.com/2026-12-02_003005"},
		{"rtmp://rec.example.com/app?name={room}&t={time}", "rtmp://rec.example.com/app?name=1061&t=003005"},
		{"rtmp://rec.example.com/live/fixed-key", "rtmp://rec.example.com/live/fixed-key"},
	}
	for _, tc := range good {
		tm, err := recording.ParseTemplate(tc.tmpl)
		if err != nil {
			t.Errorf("ParseTemplate(%q) = %v", tc.tmpl, err)
			continue
		}
		got, err := tm.Expand(vars)
		if err != nil || got != tc.want {
			t.Errorf("Expand(%q) = %q, %v, want %q", tc.tmpl, got, err, tc.want)
		}
	}
	t.Run("EscapesSegments", func(t *testing.T) {
		tm, _ := recording.ParseTemplate("rtmp://rec.example.com/live/{room}")
		got, err := tm.Expand(recording.Vars{Room: "../a/b?c=d&e#f 张"})
		if err != nil {
			t.Fatal(err)
		}
		if want := "rtmp://rec.example.com/live/..%2Fa%2Fb%3Fc%3Dd%26e%23f%20%E5%BC%A0"; got != want {
			t.Errorf("Expand = %q, want %q", got, want)
		}
	})
	t.Run("ZoneNilKeepsAtsOwn", func(t *testing.T) {
		tm, _ := recording.ParseTemplate("rtmp://rec.example.com/{date}")
		if got, _ := tm.Expand(recording.Vars{At: at}); got != "rtmp://rec.example.com/2026-12-01" {
			t.Errorf("Expand = %q", got)
		}
	})
	t.Run("ErrMissingValue", func(t *testing.T) {
		tm, _ := recording.ParseTemplate("rtmp://rec.example.com/{alias}")
		if !tm.Uses(recording.PlaceholderAlias) || tm.Uses(recording.PlaceholderRoom) {
			t.Error("Uses is wrong")
		}
		_, err := tm.Expand(recording.Vars{Room: "1061", At: at})
		if !errors.Is(err, recording.ErrMissingValue) || !strings.Contains(err.Error(), "{alias}") {
			t.Errorf("Expand without an alias = %v, want ErrMissingValue naming {alias}", err)
		}
	})
	t.Run("Unconfigured", func(t *testing.T) {
		tm, err := recording.ParseTemplate("")
		if err != nil || tm.Configured() {
			t.Errorf("ParseTemplate(\"\") = %v configured %v, want no error, not configured", err, tm.Configured())
		}
	})
	t.Run("StringMasks", func(t *testing.T) {
		tm, _ := recording.ParseTemplate("rtmp://rec.example.com/live/secretkey")
		if s := tm.String(); strings.Contains(s, "secret") {
			t.Errorf("String() = %q shows the key", s)
		}
	})
	bad := []struct{ name, tmpl, reason string }{
		{"UnknownPlaceholder", "rtmp://rec.example.com/live/{rooom}", "unknown placeholder {rooom}"},
		{"UnknownLongPlaceholder", "rtmp://rec.example.com/live/{secretsecretsecretsecret}", "unknown placeholder"},
		{"UnclosedBrace", "rtmp://rec.example.com/live/{room", "{ without its }"},
		{"NestedBrace", "rtmp://rec.example.com/live/{ro{room}}", "{ without its }"},
		{"StrayClose", "rtmp://rec.example.com/live/room}", "} without its {"},
		{"PlaceholderInHost", "rtmp://{room}.rec.example.com/live/x", "after the host"},
		{"PlaceholderInPort", "rtmp://rec.example.com:{room}/live", "after the host"},
		{"PlaceholderInScheme", "rtmp{room}://rec.example.com/live", "must start with rtmp:// or rtmps://"},
		{"HTTP", "https://rec.example.com/live/{room}", "must start with rtmp:// or rtmps://"},
		{"Space", "rtmp://rec.example.com/live/{room} secret", "space"},
	}
	for _, tc := range bad {
		t.Run(tc.name, func(t *testing.T) {
			_, err := recording.ParseTemplate(tc.tmpl)
			if !errors.Is(err, recording.ErrBadTemplate) || !strings.Contains(err.Error(), tc.reason) {
				t.Fatalf("ParseTemplate = %v, want ErrBadTemplate saying %q", err, tc.reason)
			}
			if !strings.HasPrefix(err.Error(), "MEET_RECORDER_URL: ") {
				t.Errorf("error %q does not name the setting", err)
			}
			if strings.Contains(err.Error(), "secretsecret") || strings.Contains(err.Error(), "} secret") {
				t.Errorf("error %q quotes the template", err)
			}
		})
	}
	t.Run("ExpandTooLong", func(t *testing.T) {
		tm, _ := recording.ParseTemplate("rtmp://rec.example.com/live/{room}")
		if _, err := tm.Expand(recording.Vars{Room: strings.Repeat("x", recording.MaxURLLength)}); !errors.Is(err, recording.ErrBadURL) {
			t.Errorf("Expand of a huge room name = %v, want ErrBadURL", err)
		}
	})
}
