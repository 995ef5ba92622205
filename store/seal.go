package store

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"strings"

	"github.com/meetbot/meetbot/chat"
)

// KeySize is the length in bytes of MEETBOT_SECRET_KEY once decoded.
const KeySize = 32

// sealVersion is the first byte of every sealed PIN, so the format can change later.
const sealVersion = 1

// ParseSecretKey decodes MEETBOT_SECRET_KEY: 32 bytes written as 64 hex digits or as base64
// (standard or URL alphabet, padded or not). Errors name the setting and never echo the value.
func ParseSecretKey(s string) ([]byte, error) { return parseKey("MEETBOT_SECRET_KEY", s) }

// ParsePreviousKeys decodes MEETBOT_SECRET_KEY_PREVIOUS: keys the bot sealed PINs under before,
// each written as ParseSecretKey reads it, separated by commas. Empty means none. Errors name the
// setting and the key's position, never the value.
func ParsePreviousKeys(s string) ([][]byte, error) {
	const setting = "MEETBOT_SECRET_KEY_PREVIOUS"
	if strings.TrimSpace(s) == "" {
		return nil, nil
	}
	parts := strings.Split(s, ",")
	keys := make([][]byte, 0, len(parts))
	for i, p := range parts {
		name := setting
		if len(parts) > 1 {
			name = fmt.Sprintf("%s (key %d of %d)", setting, i+1, len(parts))
		}
		k, err := parseKey(name, p)
		if err != nil {
			return nil, err
		}
		keys = append(keys, k)
	}
	return keys, nil
}

func parseKey(setting, s string) ([]byte, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return nil, fmt.Errorf("%s is not set: want 32 random bytes as hex or base64 (openssl rand -hex 32)", setting)
	}
	if len(s) == 2*KeySize {
		if k, err := hex.DecodeString(s); err == nil {
			return k, nil
		}
	}
	for _, enc := range []*base64.Encoding{base64.StdEncoding, base64.RawStdEncoding, base64.URLEncoding, base64.RawURLEncoding} {
		if k, err := enc.DecodeString(s); err == nil {
			if len(k) != KeySize {
				return nil, fmt.Errorf("%s decodes to %d bytes, want %d (openssl rand -hex 32)", setting, len(k), KeySize)
			}
			return k, nil
		}
	}
	return nil, fmt.Errorf("%s is neither 64 hex digits nor base64 of %d bytes (openssl rand -hex 32)", setting, KeySize)
}

// Sealer seals PINs at rest with AES-256-GCM under the secret key. Each sealed PIN carries a
// random nonce and is bound to its channel (as additional data), so it cannot be moved to another
// channel's row. It opens PINs sealed under the current key or any previous one (key rotation)
// and seals under the current key only. A Sealer is safe for concurrent use.
type Sealer struct {
	aead     cipher.AEAD   // the current key
	previous []cipher.AEAD // older keys, tried in order after the current one
}

// NewSealer returns a Sealer sealing under key and also opening what was sealed under each of
// previous; every key must be KeySize bytes.
func NewSealer(key []byte, previous ...[]byte) (*Sealer, error) {
	aead, err := newAEAD("MEETBOT_SECRET_KEY", key)
	if err != nil {
		return nil, err
	}
	s := &Sealer{aead: aead}
	for i, k := range previous {
		a, err := newAEAD(fmt.Sprintf("MEETBOT_SECRET_KEY_PREVIOUS (key %d)", i+1), k)
		if err != nil {
			return nil, err
		}
		s.previous = append(s.previous, a)
	}
	return s, nil
}

func newAEAD(setting string, key []byte) (cipher.AEAD, error) {
	if len(key) != KeySize {
		return nil, fmt.Errorf("%s: want %d bytes, got %d", setting, KeySize, len(key))
	}
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", setting, err)
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", setting, err)
	}
	return aead, nil
}

// channelAD is the additional data binding a sealed PIN to ch; each part is length-prefixed so
// no two channels share it.
func channelAD(ch chat.ChannelRef) []byte {
	var b []byte
	for _, p := range []string{ch.Platform, ch.Workspace, ch.Channel} {
		b = fmt.Appendf(b, "%d:%s;", len(p), p)
	}
	return b
}

// Seal returns pin sealed for channel ch. An empty PIN seals to nil, which Open reads back as empty.
func (s *Sealer) Seal(ch chat.ChannelRef, pin chat.Secret) ([]byte, error) {
	if pin == "" {
		return nil, nil
	}
	nonce := make([]byte, s.aead.NonceSize())
	if _, err := rand.Read(nonce); err != nil {
		return nil, fmt.Errorf("seal PIN: nonce: %w", err)
	}
	out := make([]byte, 0, 1+len(nonce)+len(pin)+s.aead.Overhead())
	out = append(out, sealVersion)
	out = append(out, nonce...)
	return s.aead.Seal(out, nonce, []byte(pin.Reveal()), channelAD(ch)), nil
}

// Open unseals a PIN sealed for channel ch under the current or a previous key. If no key opens
// it (another key, another channel, or altered), the error wraps ErrWrongKey.
func (s *Sealer) Open(ch chat.ChannelRef, sealed []byte) (chat.Secret, error) {
	pin, _, err := s.OpenKey(ch, sealed)
	return pin, err
}

// OpenKey is Open that also reports whether the PIN was sealed under a previous key, so it
// should be sealed again under the current one.
func (s *Sealer) OpenKey(ch chat.ChannelRef, sealed []byte) (pin chat.Secret, previous bool, err error) {
	if len(sealed) == 0 {
		return "", false, nil
	}
	ns := s.aead.NonceSize() // the same for every AES-GCM key
	if sealed[0] != sealVersion || len(sealed) < 1+ns+s.aead.Overhead() {
		return "", false, fmt.Errorf("unseal PIN of %s: unknown format: %w", ch, ErrWrongKey)
	}
	nonce, box, ad := sealed[1:1+ns], sealed[1+ns:], channelAD(ch)
	if p, err := s.aead.Open(nil, nonce, box, ad); err == nil {
		return chat.Secret(p), false, nil
	}
	for _, a := range s.previous {
		if p, err := a.Open(nil, nonce, box, ad); err == nil {
			return chat.Secret(p), true, nil
		}
	}
	return "", false, fmt.Errorf("unseal PIN of %s: %w", ch, ErrWrongKey)
}
