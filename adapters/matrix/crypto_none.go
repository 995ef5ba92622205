//go:build !goolm

package matrix

import (
	"context"
	"errors"
)

// setupCrypto fails in a build without the goolm tag: encryption needs the pure-Go olm.
func (a *Adapter) setupCrypto(context.Context) error {
	return errors.New("MATRIX_PICKLE_KEY is set but this binary was built without encryption (build with -tags goolm)")
}
