package store

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"errors"
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
func ParseSecretKey(s string) ([]byte, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return nil, errors.New("MEETBOT_SECRET_KEY is not set: want 32 random bytes as hex or base64 (openssl rand -hex 32)")
	}
	if len(s) == 2*KeySize {
		if k, err := hex.DecodeString(s); err == nil {
			return k, nil
		}
	}
	for _, enc := range []*base64.Encoding{base64.StdEncoding, base64.RawStdEncoding, base64.URLEncoding, base64.RawURLEncoding} {
		if k, err := enc.DecodeString(s); err == nil {
			if len(k) != KeySize {
				return nil, fmt.Errorf("MEETBOT_SECRET_KEY decodes to %d bytes, want %d (openssl rand -hex 32)", len(k), KeySize)
			}
			return k, nil
		}
	}
	return nil, fmt.Errorf("MEETBOT_SECRET_KEY is neither 64 hex digits nor base64 of %d bytes (openssl rand -hex 32)", KeySize)
}

// Sealer seals PINs at rest with AES-256-GCM under the secret key. Each sealed PIN carries a
// random nonce and is bound to its channel (as additional data), so it cannot be moved to another
// channel's row. A Sealer is safe for concurrent use.
type Sealer struct {
	aead cipher.AEAD
}

// NewSealer returns a Sealer for key, which must be KeySize bytes.
func NewSealer(key []byte) (*Sealer, error) {
	if len(key) != KeySize {
		return nil, fmt.Errorf("MEETBOT_SECRET_KEY: want %d bytes, got %d", KeySize, len(key))
	}
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, fmt.Errorf("MEETBOT_SECRET_KEY: %w", err)
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		return nil, fmt.Errorf("MEETBOT_SECRET_KEY: %w", err)
	}
	return &Sealer{aead: aead}, nil
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

// Open unseals a PIN sealed for channel ch. If it was sealed under another key, for another
// channel, or altered, the error wraps ErrWrongKey.
func (s *Sealer) Open(ch chat.ChannelRef, sealed []byte) (chat.Secret, error) {
	if len(sealed) == 0 {
		return "", nil
	}
	ns := s.aead.NonceSize()
	if sealed[0] != sealVersion || len(sealed) < 1+ns+s.aead.Overhead() {
		return "", fmt.Errorf("unseal PIN of %s: unknown format: %w", ch, ErrWrongKey)
	}
	pin, err := s.aead.Open(nil, sealed[1:1+ns], sealed[1+ns:], channelAD(ch))
	if err != nil {
		return "", fmt.Errorf("unseal PIN of %s: %w", ch, ErrWrongKey)
	}
	return chat.Secret(pin), nil
}
