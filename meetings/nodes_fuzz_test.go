package meetings

import (
	"net/url"
	"strings"
	"testing"
)

// FuzzNodeBase: mcuHost comes from checkJoin's answer, outside input. No value makes nodeBase
// panic, and whatever it accepts is a URL without user information, not plain http under an
// https apiServer, on a host NodeHosts allows.
func FuzzNodeBase(f *testing.F) {
	for _, s := range []string{
		"node1.example.com", "NODE1.EXAMPLE.COM.:8443", "https://node1.example.com/base/", "http://node1.example.com",
		"evil.test", "example.com", "user@node1.example.com", "https://user:pw@node1.example.com",
		"https://evil.test\\@node1.example.com", "https://node1.example.com.evil.test", "[::1]:443", "",
		"https://%6eode1.example.com", "https://node1.example.com#@evil.test", "api.example.com",
	} {
		f.Add(s)
	}
	c, err := NewClient("https://api.example.com", ClientOptions{NodeHosts: []string{".example.com", "meet.test"}})
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, node string) {
		base, err := c.nodeBase(node)
		if err != nil {
			return
		}
		u, err := url.Parse(base)
		if err != nil {
			t.Fatalf("nodeBase(%q) = %q, not a URL: %v", node, base, err)
		}
		host := strings.ToLower(strings.TrimSuffix(u.Hostname(), "."))
		switch {
		case u.User != nil:
			t.Errorf("nodeBase(%q) = %q carries user information", node, base)
		case u.Scheme != "https":
			t.Errorf("nodeBase(%q) = %q is not https under an https apiServer", node, base)
		case host != "api.example.com" && host != "meet.test" && !strings.HasSuffix(host, ".example.com"):
			t.Errorf("nodeBase(%q) = %q: host %q is not allowed", node, base, host)
		}
	})
}
