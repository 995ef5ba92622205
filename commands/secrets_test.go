package commands

import (
	"context"
	"strings"
	"testing"

	"github.com/meetbot/meetbot/chat"
	"github.com/meetbot/meetbot/meetings/sim"
)

// replyStrings returns everything of a reply a chat service shows: its text, table cells, labels
// and prompts (not the commands behind buttons, which only run).
func replyStrings(rep chat.Reply) []string {
	out := []string{rep.Text}
	if rep.Table != nil {
		out = append(out, rep.Table.Columns...)
		for _, row := range rep.Table.Rows {
			out = append(out, row.Cells...)
			for _, a := range row.Actions {
				out = append(out, a.Label)
			}
		}
	}
	for _, a := range rep.Choices {
		out = append(out, a.Label)
	}
	if rep.Confirm != nil {
		out = append(out, rep.Confirm.Prompt, rep.Confirm.Label)
	}
	return out
}

// A PIN never reaches the audit log, the log or the reply, whatever the word order, parsed or
// not, typed, from a button or inside schedule; and the reply says the request carried one.
func TestPINNeverShownWhateverTheOrder(t *testing.T) {
	const (
		vault     = "7100"
		vaultPIN  = "482913"
		wrongPIN  = "999111"
		wideVault = "４８２９１３" // the PIN in full-width digits
	)
	tests := []struct {
		name    string
		linked  bool // the channel is linked to the public room first
		rights  chat.Rights
		text    string // %u is replaced with Bobby Tables' uuid
		pins    []string
		audited bool
	}{
		{"LinkCloudWordFirst", false, chat.Admin, "link " + vault + " private " + vaultPIN, nil, true},
		{"LinkCloudWordLast", false, chat.Admin, "link " + vault + " " + vaultPIN + " public", nil, true},
		{"LinkTooManyWords", false, chat.Admin, "link " + vault + " public " + vaultPIN + " " + wrongPIN, []string{wrongPIN}, true},
		{"LinkWrongPIN", false, chat.Admin, "link " + vault + " " + wrongPIN, []string{wrongPIN}, true},
		{"LinkQuotedPIN", false, chat.Admin, "link " + vault + ` "` + vaultPIN + `"`, nil, true},
		{"LinkFullWidthPIN", false, chat.Admin, "link " + vault + " " + wideVault, []string{wideVault}, true},
		{"LinkWithPrefix", false, chat.Admin, "/meet LINK " + vault + " " + vaultPIN, nil, true},
		{"LinkRefusedByRights", false, chat.Member, "link " + vault + " " + vaultPIN, nil, true},
		{"LinkTypo", false, chat.Admin, "lnik " + vault + " " + vaultPIN, nil, false},
		{"LinkWholeLineQuoted", false, chat.Admin, `"link ` + vault + " " + vaultPIN + `"`, nil, false},
		{"TransferNameWithoutQuotes", true, chat.Host, "transfer Alice Zhang " + vault + " " + vaultPIN, nil, true},
		{"TransferWellFormed", true, chat.Host, "transfer tables " + vault + " " + vaultPIN + " as chair", nil, true},
		{"TransferPINAfterRole", true, chat.Host, "transfer tables " + vault + " as chair " + vaultPIN, nil, true},
		{"TransferQuotedName", true, chat.Host, `transfer "Bobby Tables" ` + vault + " " + vaultPIN + " as host", nil, true},
		{"TransferFromAButton", true, chat.Host, "transfer id:%u " + vault + " " + vaultPIN, nil, true},
		{"TransferAmbiguousName", true, chat.Host, "transfer bob " + vault + " " + vaultPIN, nil, true},
		{"TransferUnknownName", true, chat.Host, "transfer nobody " + vault + " " + vaultPIN, nil, true},
		{"TransferRefusedByRights", true, chat.Member, "transfer tables " + vault + " " + vaultPIN, nil, true},
		{"ScheduleLink", true, chat.Host, `schedule "0 9 * * *" link ` + vault + " " + vaultPIN, nil, true},
		{"ScheduleTransfer", true, chat.Host, `schedule "0 9 * * *" transfer tables ` + vault + " " + vaultPIN, nil, true},
		{"ScheduleUnquotedCron", true, chat.Host, "schedule 0 9 * * * transfer tables " + vault + " " + vaultPIN, nil, true},
		{"ScheduleOneTimeTransfer", true, chat.Host, `schedule "2030-01-01 09:00" transfer Alice Zhang ` + vault + " " + vaultPIN, nil, true},
		{"ScheduleMalformedSpec", true, chat.Host, "schedule tomorrow link " + vault + " " + vaultPIN, nil, true},
		{"ScheduleTypo", true, chat.Host, `schedule "0 9 * * *" lnik ` + vault + " " + vaultPIN, nil, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t)
			f.sim.AddRoom(sim.RoomConfig{Number: vault, Name: "Vault", HostPIN: vaultPIN, GuestPIN: "730518"})
			if tt.linked {
				f.link(t, pubRoom+" "+hostPIN)
			}
			text := strings.ReplaceAll(tt.text, "%u", f.people["Bobby Tables"])
			rep := f.do(tt.rights, text)
			if !rep.CarriedSecret {
				t.Errorf("%q: CarriedSecret is not set", text)
			}
			es, err := f.store.RecentAudit(context.Background(), f.ch, 10)
			if err != nil {
				t.Fatal(err)
			}
			audit := ""
			for _, e := range es {
				audit += e.Command + "\n" + e.Outcome + "\n" + e.User.Name + "\n"
			}
			if tt.audited && !strings.Contains(audit, keyword(strings.Fields(strings.TrimPrefix(text, "/meet "))[0])) {
				t.Errorf("%q is not in the audit log:\n%s", text, audit)
			}
			pins := append([]string{vaultPIN}, tt.pins...)
			for _, pin := range pins {
				for _, s := range replyStrings(rep) {
					if strings.Contains(s, pin) {
						t.Errorf("%q: the reply shows the PIN: %q", text, s)
					}
				}
				if strings.Contains(audit, pin) {
					t.Errorf("%q: the audit log holds the PIN:\n%s", text, audit)
				}
				if logs := f.logs.String(); strings.Contains(logs, pin) {
					t.Errorf("%q: the log holds the PIN:\n%s", text, logs)
				}
			}
		})
	}
}

func TestCarriedSecretOnlyWhenAPINMayBeThere(t *testing.T) {
	g := newRegistry()
	for text, want := range map[string]bool{
		"mute Bob":                          false,
		"link 1061":                         false,
		"link 1061 private":                 false,
		"transfer Bob 1062":                 false,
		"transfer Bob 1062 as chair":        false,
		`schedule "0 9 * * *" lock`:         false,
		"say my pin is 1234":                false,
		"link 1061 1234":                    true,
		"transfer Bob 1062 4321":            true,
		`schedule "0 9 * * *" link 1 2`:     true,
		"/meet transfer Alice Zhang 1062 9": true,
	} {
		toks, _ := words(text)
		if got := g.carriesSecret(toks); got != want {
			t.Errorf("carriesSecret(%q) = %v, want %v", text, got, want)
		}
	}
}

func TestMaskDigits(t *testing.T) {
	for in, want := range map[string]string{
		"lnik": "lnik", "link 1061 9966": "link **** ****", "a１２b3": "a****b****", "": "",
	} {
		if got := maskDigits(in); got != want {
			t.Errorf("maskDigits(%q) = %q, want %q", in, got, want)
		}
	}
}

// An RTMP destination's stream key reaches the platform and nothing else.
func TestStreamKeyNeverShown(t *testing.T) {
	const key, pw, tok = "sk-8f3k2q", "pw-9x7", "tk-77aa"
	for _, tt := range []struct {
		name, room, text string
		dials            bool
	}{
		{"Dial", pubRoom, "dial rtmp://live.example.com/app/" + key + " rtmp", true},
		{"DialUserInfoAndQuery", pubRoom, "dial rtmps://user:" + pw + "@live.example.com/app/" + key + "?token=" + tok + " rtmp as guest", true},
		{"RefusedOnPrivateNode", privRoom, "dial rtmp://live.example.com/app/" + key + " rtmp", false},
		{"Scheduled", pubRoom, `schedule "0 9 * * *" dial rtmp://live.example.com/app/` + key + " rtmp", false},
		{"Typo", pubRoom, "dail rtmp://live.example.com/app/" + key, false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t)
			f.link(t, tt.room+" "+hostPIN)
			rep := f.do(chat.Host, tt.text)
			if !rep.CarriedSecret {
				t.Errorf("CarriedSecret is not set: %+v", rep)
			}
			if tt.dials && (rep.Failed || !strings.Contains(rep.Text, "live.example.com/app/****")) {
				t.Errorf("reply %q, want the destination without its key", rep.Text)
			}
			if len(f.sched.added) != 0 {
				t.Errorf("scheduled %+v", f.sched.added)
			}
			es, _ := f.store.RecentAudit(context.Background(), f.ch, 10)
			for _, secret := range []string{key, pw, tok} {
				for _, s := range replyStrings(rep) {
					if strings.Contains(s, secret) {
						t.Errorf("the reply shows %s: %q", secret, s)
					}
				}
				for _, e := range es {
					if strings.Contains(e.Command+e.Outcome, secret) {
						t.Errorf("the audit log holds %s: %+v", secret, e)
					}
				}
				if strings.Contains(f.logs.String(), secret) {
					t.Errorf("the log holds %s", secret)
				}
			}
			if tt.dials {
				var body string
				for _, r := range f.sim.Requests() {
					if r.Op == "dial" {
						body = string(r.Body)
					}
				}
				if !strings.Contains(body, key) {
					t.Errorf("the platform did not get the key: %s", body)
				}
			}
		})
	}
}

func TestMaskStreamURL(t *testing.T) {
	for in, want := range map[string]string{
		"rtmp://a.rtmp.youtube.com/live2/abcd-efgh":   "rtmp://a.rtmp.youtube.com/live2/****",
		"RTMPS://u:p@host:1935/app/key/more?x=1#frag": "RTMPS://****@host:1935/app/key/****",
		"rtmp://host/streamkey":                       "rtmp://host/****", // a service whose key is the only segment
		"rtmp://host/app/key/":                        "rtmp://host/app/****",
		"rtmp://host":                                 "rtmp://host",
		"sip:bob@example.com":                         "sip:bob@example.com",
		"bob@example.com":                             "bob@example.com",
		"https://example.com/a/b":                     "https://example.com/a/b",
	} {
		if got := maskStreamURL(in); got != want {
			t.Errorf("maskStreamURL(%q) = %q, want %q", in, got, want)
		}
	}
}
