package commands

import (
	"strings"
	"unicode"
	"unicode/utf8"

	"golang.org/x/text/unicode/norm"
)

// Token is one word of a command as the user typed it. Text keeps the user's case and script (a
// participant's name is data); Quoted reports whether the user grouped it with quotes, which makes
// it a name even when it looks like a keyword (`mute "guests"`).
type Token struct {
	Text   string
	Quoted bool
}

// quotePairs are the quotes that group words, opening rune to closing rune. A quote opens a group
// only at the start of a word, so an apostrophe inside a name (O'Brien) is a letter.
var quotePairs = [...]struct{ open, close rune }{
	{'"', '"'},
	{'\'', '\''},
	{'“', '”'},
	{'‘', '’'},
	{'„', '“'},
	{'「', '」'},
	{'『', '』'},
	{'«', '»'},
	{'＂', '＂'},
	{'＇', '＇'},
}

// closerOf returns the closing quote for an opening one.
func closerOf(r rune) (rune, bool) {
	for _, p := range quotePairs {
		if p.open == r {
			return p.close, true
		}
	}
	return 0, false
}

// breaksWord reports whether r opens a quote even in the middle of a word: the CJK corner
// brackets and the typographic double quotes, which people type without a space before them
// (mute「张 伟」). Straight quotes and apostrophes open a group only at the start of a word.
func breaksWord(r rune) bool {
	switch r {
	case '「', '『', '“', '＂':
		return true
	}
	return false
}

// isSep reports whether r separates words: every Unicode space (the full-width space U+3000 too)
// and the zero-width spaces pasted text sometimes carries.
func isSep(r rune) bool {
	return unicode.IsSpace(r) || r == '\u200b' || r == '\ufeff'
}

// Tokenize splits a command line into words. Unicode spaces of any kind separate words; a word that
// starts with a quote (", ', “, ‘, 「, 『, «, full-width quotes) runs to the matching closing quote,
// or to the end of the text when the user forgot to close it. Text is never changed: names keep
// their case, width and script. Tokenize never fails; bad UTF-8 is carried through as it came.
func Tokenize(s string) []Token {
	var toks []Token
	i := 0
	for i < len(s) {
		r, size := utf8.DecodeRuneInString(s[i:])
		if isSep(r) {
			i += size
			continue
		}
		if closer, ok := closerOf(r); ok {
			start := i + size
			end := strings.IndexRune(s[start:], closer)
			if end < 0 {
				toks = append(toks, Token{Text: s[start:], Quoted: true})
				break
			}
			toks = append(toks, Token{Text: s[start : start+end], Quoted: true})
			i = start + end + utf8.RuneLen(closer)
			continue
		}
		start := i
		for i < len(s) {
			r, size := utf8.DecodeRuneInString(s[i:])
			if isSep(r) || breaksWord(r) && i > start {
				break
			}
			i += size
		}
		toks = append(toks, Token{Text: s[start:i]})
	}
	return toks
}

// Join writes words back as one command line that Tokenize reads as the same words: a word with
// spaces, an empty word, or a word that starts with a quote is quoted with a pair whose closing
// quote it does not contain.
func Join(words ...string) string {
	var b strings.Builder
	for i, w := range words {
		if i > 0 {
			b.WriteByte(' ')
		}
		b.WriteString(quote(w))
	}
	return b.String()
}

// quote returns w as one word of a command line.
func quote(w string) string {
	if !needsQuotes(w) {
		return w
	}
	return quoteAlways(w)
}

// quoteAlways returns w in quotes, as a word Tokenize reads back as quoted.
func quoteAlways(w string) string {
	for _, p := range quotePairs {
		if !strings.ContainsRune(w, p.close) {
			return string(p.open) + w + string(p.close)
		}
	}
	// Every closing quote occurs in w: no word Tokenize returns is like that, so this is the
	// caller's own text. Quote it plainly; the round trip is only promised for Tokenize's words.
	return `"` + w + `"`
}

func needsQuotes(w string) bool {
	if w == "" {
		return true
	}
	r, _ := utf8.DecodeRuneInString(w)
	if _, ok := closerOf(r); ok {
		return true
	}
	return strings.IndexFunc(w, func(r rune) bool { return isSep(r) || breaksWord(r) }) >= 0
}

// keyword folds a word for comparison with command words and other keywords: NFKC (full-width
// letters, digits and punctuation become their ASCII forms: "ｍｕｔｅ" is "mute", "１：７" is
// "1:7") and lower case.
func keyword(w string) string {
	return strings.ToLower(norm.NFKC.String(w))
}

// texts returns the words' texts.
func texts(toks []Token) []string {
	out := make([]string, len(toks))
	for i, t := range toks {
		out[i] = t.Text
	}
	return out
}
