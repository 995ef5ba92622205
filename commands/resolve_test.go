package commands

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestMatch(t *testing.T) {
	people := []person{
		{uuid: "3f2a1b9c-0000-4000-8000-000000000001", name: "Bob Smith"},
		{uuid: "3f2a77aa-0000-4000-8000-000000000002", name: "Bobby Tables"},
		{uuid: "a1b2c3d4-0000-4000-8000-000000000003", name: "Alice Zhang"},
		{uuid: "b0b0b0b0-0000-4000-8000-000000000004", name: "张伟"},
		{uuid: "c0c0c0c0-0000-4000-8000-000000000005", name: "张三丰"},
		{uuid: "d0d0d0d0-0000-4000-8000-000000000006", name: "Carol"},
		{uuid: "e0e0e0e0-0000-4000-8000-000000000007", name: "carol"},
		{uuid: "f0f0f0f0-0000-4000-8000-000000000008", name: "Ｄａｎ"},
		{uuid: "01010101-0000-4000-8000-000000000009", name: "Zoë Ünal"},
	}
	tests := []struct {
		name  string
		query string
		want  []int
	}{
		{"exact", "Bob Smith", []int{0}},
		{"exact beats case-insensitive", "Carol", []int{5}},
		{"case-insensitive", "ALICE ZHANG", []int{2}},
		{"full width folds", "dan", []int{7}},
		{"unique prefix", "ali", []int{2}},
		{"ambiguous prefix", "bob", []int{0, 1}},
		{"unique substring", "zhang", []int{2}},
		{"ambiguous substring", "an", []int{2, 7}},
		{"CJK prefix", "张伟", []int{3}},
		{"CJK prefix of one character is ambiguous", "张", []int{3, 4}},
		{"CJK substring", "三丰", []int{4}},
		{"accented", "zoë", []int{8}},
		{"uuid prefix", "3f2a1b", []int{0}},
		{"uuid prefix upper case", "A1B2C3D4", []int{2}},
		{"ambiguous uuid prefix", "3f2a", []int{0, 1}},
		{"whole uuid", "b0b0b0b0-0000-4000-8000-000000000004", []int{3}},
		{"at sign", "@alice", []int{2}},
		{"trailing ideographic full stop", "张伟。", []int{3}},
		{"spaces inside quotes", " Carol ", []int{5}},
		{"unknown", "Mallory", nil},
		{"punctuation only", "。", nil},
		{"empty", "", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := match(tt.query, people)
			if len(got) == 0 {
				got = nil
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("match(%q) (-want +got):\n%s", tt.query, diff)
			}
		})
	}
}

func TestMatchCJKPrefixFindsUniqueName(t *testing.T) {
	people := []person{{uuid: "1", name: "张伟"}, {uuid: "2", name: "Alice"}}
	if got := match("张", people); len(got) != 1 || got[0] != 0 {
		t.Errorf("match(张) = %v, want [0] (张伟)", got)
	}
}

// A word that may be a uuid prefix matches the uuids and the exact names alike, so a device named
// after someone's uuid prefix makes the prefix ambiguous instead of taking it over.
func TestMatchUUIDPrefixNamedDecoyIsAmbiguous(t *testing.T) {
	people := []person{
		{uuid: "3f2a1b9c-0000-4000-8000-000000000001", name: "Eve"},
		{uuid: "77777777-0000-4000-8000-000000000002", name: "3f2a1b9c"},
	}
	if got := match("3f2a1b9c", people); len(got) != 2 {
		t.Errorf("match(3f2a1b9c) = %v, want both Eve (by uuid) and the decoy (by name)", got)
	}
}

func TestParseIDRef(t *testing.T) {
	for _, tt := range []struct {
		tok  Token
		uuid string
		ok   bool
	}{
		{Token{Text: "id:3F2A1B9C-0000"}, "3f2a1b9c-0000", true},
		{Token{Text: "ＩＤ：abc"}, "abc", true},
		{Token{Text: "id:"}, "", true},
		{Token{Text: "id:3f2a", Quoted: true}, "", false}, // a person called "id:3f2a"
		{Token{Text: "3f2a1b9c"}, "", false},
		{Token{Text: "Idris"}, "", false},
	} {
		uuid, ok := parseIDRef(tt.tok)
		if uuid != tt.uuid || ok != tt.ok {
			t.Errorf("parseIDRef(%+v) = %q, %v; want %q, %v", tt.tok, uuid, ok, tt.uuid, tt.ok)
		}
	}
}

// FuzzParseIDRef feeds any button value word to the id reference parser: it never panics, it
// accepts only words that fold to id:…, and every uuid-shaped reference the bot writes reads back
// as its uuid whatever the case.
func FuzzParseIDRef(f *testing.F) {
	for _, s := range []string{"id:3f2a1b9c-0000-4000-8000-000000000001", "ID:", "id:id:x", "ｉｄ:\xff", "id"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		uuid, ok := parseIDRef(Token{Text: s})
		if ok && !strings.HasPrefix(keyword(s), idPrefix) {
			t.Fatalf("%q accepted as id reference %q", s, uuid)
		}
		// The uuid-shaped part of s, as the bot would write it.
		hex := strings.Map(func(r rune) rune {
			if r >= '0' && r <= '9' || r >= 'a' && r <= 'f' || r >= 'A' && r <= 'F' || r == '-' {
				return r
			}
			return -1
		}, s)
		toks := Tokenize(idRef(hex))
		if len(toks) != 1 {
			t.Fatalf("idRef(%q) = %q is %d words", hex, idRef(hex), len(toks))
		}
		if again, ok := parseIDRef(toks[0]); !ok || again != strings.ToLower(hex) {
			t.Fatalf("idRef(%q) reads back as %q, %v", hex, again, ok)
		}
	})
}
