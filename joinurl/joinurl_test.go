package joinurl

import (
	"net/url"
	"testing"
)

func TestExpand(t *testing.T) {
	cases := []struct {
		name, tmpl string
		f          Fields
		want       string
		ok         bool
	}{
		{"Alias", "https://meet.example.com/webapp/#/?conference={alias}", Fields{Alias: "weekly"}, "https://meet.example.com/webapp/#/?conference=weekly", true},
		{"NumberInPath", "https://meet.example.com/join/{number}", Fields{Number: "1234"}, "https://meet.example.com/join/1234", true},
		{"NameEscaped", "https://m.example.com/j?c={name}&x=1", Fields{Name: "Weekly sync & a/b?c#d+e"}, "https://m.example.com/j?c=Weekly%20sync%20%26%20a%2Fb%3Fc%23d%2Be&x=1", true},
		{"MissingField", "https://m.example.com/{alias}", Fields{Number: "1234"}, "", false},
		{"Unset", "", Fields{Alias: "a"}, "", false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			tm, err := Parse(tc.tmpl)
			if err != nil {
				t.Fatal(err)
			}
			got, ok := tm.Expand(tc.f)
			if got != tc.want || ok != tc.ok {
				t.Errorf("Expand = %q, %v; want %q, %v", got, ok, tc.want, tc.ok)
			}
		})
	}
}

func TestParseRefuses(t *testing.T) {
	for _, s := range []string{
		"meet.example.com/{alias}", "ftp://x/{alias}", "https:///{alias}", "https://x/{pin}",
		"https://x/{alias", "https://x/alias}", "https://x/static", "https://u:p@x/{alias}", "https://x/{alias} y", "https://{name}.example.com/{number}",
	} {
		if _, err := Parse(s); err == nil {
			t.Errorf("Parse(%q) accepted it", s)
		}
	}
}

func TestFromRoom(t *testing.T) {
	if f := FromRoom("1234", "W"); f.Number != "1234" || f.Alias != "" || f.Name != "W" {
		t.Errorf("FromRoom(1234) = %+v", f)
	}
	if f := FromRoom("weekly", "W"); f.Alias != "weekly" || f.Number != "" {
		t.Errorf("FromRoom(weekly) = %+v", f)
	}
}

// FuzzParse: any template Parse accepts expands, for any values, to an http(s) URL on the
// template's own host: a value cannot move the link elsewhere.
func FuzzParse(f *testing.F) {
	f.Add("https://meet.example.com/webapp/#/?conference={alias}", "weekly")
	f.Add("https://{name}.example.com/{number}", "a/b")
	f.Add("http://x/{{alias}}", "@evil.test")
	f.Fuzz(func(t *testing.T, tmpl, v string) {
		tm, err := Parse(tmpl)
		if err != nil || tm.IsZero() {
			return
		}
		base, _ := url.Parse(expand(tm.raw, Fields{Alias: "a", Number: "1", Name: "n"}))
		got, ok := tm.Expand(Fields{Alias: v, Number: v, Name: v})
		if !ok {
			if v != "" {
				t.Fatalf("Expand refused non-empty values")
			}
			return
		}
		u, err := url.Parse(got)
		if err != nil {
			t.Fatalf("Expand(%q) = %q: %v", v, got, err)
		}
		if u.Scheme != base.Scheme || u.Host != base.Host {
			t.Fatalf("Expand(%q) = %q moved the link from %s://%s", v, got, base.Scheme, base.Host)
		}
	})
}
