package commands

import (
	"slices"
	"testing"
	"unicode/utf8"

	"github.com/google/go-cmp/cmp"
)

func TestTokenize(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want []Token
	}{
		{"plain", "mute Bob", []Token{{Text: "mute"}, {Text: "Bob"}}},
		{"extra spaces", "  mute \t  Bob  ", []Token{{Text: "mute"}, {Text: "Bob"}}},
		{"full-width space", "mute\u3000Bob", []Token{{Text: "mute"}, {Text: "Bob"}}},
		{"no-break and zero-width spaces", "mute\u00a0Bob\u200bSmith", []Token{{Text: "mute"}, {Text: "Bob"}, {Text: "Smith"}}},
		{"double quotes", `mute "Alice Zhang"`, []Token{{Text: "mute"}, {Text: "Alice Zhang", Quoted: true}}},
		{"single quotes", `mute 'Alice Zhang'`, []Token{{Text: "mute"}, {Text: "Alice Zhang", Quoted: true}}},
		{"curly quotes", "mute “Alice Zhang”", []Token{{Text: "mute"}, {Text: "Alice Zhang", Quoted: true}}},
		{"corner brackets", "mute「张 伟」", []Token{{Text: "mute"}, {Text: "张 伟", Quoted: true}}},
		{"full-width quotes", "mute ＂Alice Zhang＂", []Token{{Text: "mute"}, {Text: "Alice Zhang", Quoted: true}}},
		{"apostrophe inside a name", "mute O'Brien", []Token{{Text: "mute"}, {Text: "O'Brien"}}},
		{"unclosed quote takes the rest", `mute "Alice Zhang`, []Token{{Text: "mute"}, {Text: "Alice Zhang", Quoted: true}}},
		{"empty quotes", `mute ""`, []Token{{Text: "mute"}, {Text: "", Quoted: true}}},
		{"keeps case and script", "KICK 张伟 Ünal", []Token{{Text: "KICK"}, {Text: "张伟"}, {Text: "Ünal"}}},
		{"quote ends a word", `"a b"c`, []Token{{Text: "a b", Quoted: true}, {Text: "c"}}},
		{"empty", " \u3000 ", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if diff := cmp.Diff(tt.want, Tokenize(tt.in)); diff != "" {
				t.Errorf("Tokenize(%q) (-want +got):\n%s", tt.in, diff)
			}
		})
	}
}

func TestKeywordFoldsWidthAndCase(t *testing.T) {
	for in, want := range map[string]string{
		"MUTE": "mute", "ｍｕｔｅ": "mute", "Ｇｕｅｓｔｓ": "guests", "１：７": "1:7", "2:21": "2:21",
	} {
		if got := keyword(in); got != want {
			t.Errorf("keyword(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestJoinRoundTrips(t *testing.T) {
	for _, words := range [][]string{
		{"mute", "Alice Zhang"},
		{"say", `he said "hi"`, "it's"},
		{"x", `"quoted"`, "'single'", ""},
		{"张 伟", "「x」", "a\u3000b"},
	} {
		if got := texts(Tokenize(Join(words...))); !slices.Equal(got, words) {
			t.Errorf("Tokenize(Join(%q)) = %q", words, got)
		}
	}
}

// FuzzTokenize checks that the tokenizer never panics and that Join writes its words back to a
// line it reads as the same words.
func FuzzTokenize(f *testing.F) {
	for _, s := range []string{`mute "Alice Zhang"`, "mute\u3000张伟", `'a "b' “c”`, `"`, "「」『』", "\xff\xfe", "a\u200bb"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		toks := Tokenize(s)
		words := texts(toks)
		again := texts(Tokenize(Join(words...)))
		if !slices.Equal(words, again) {
			t.Fatalf("round trip of %q: %q, then %q", s, words, again)
		}
		for _, tok := range toks {
			if !tok.Quoted && (tok.Text == "" || !utf8.ValidString(tok.Text) && len(tok.Text) == 0) {
				t.Fatalf("empty bare word from %q", s)
			}
		}
	})
}

func TestNearest(t *testing.T) {
	g := newRegistry()
	for in, want := range map[string]string{
		"mte": "mute", "unmtue": "unmute", "hlep": "help", "kik": "kick", "lst": "who", "xyzzyplugh": "",
	} {
		if got := g.nearest(in); got != want {
			t.Errorf("nearest(%q) = %q, want %q", in, got, want)
		}
	}
}
