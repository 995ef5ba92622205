package commands

import "slices"

// CommandWords returns every command name and alias, sorted, for adapters that complete what a
// person types (the console's Tab).
func (r *Router) CommandWords() []string {
	var words []string
	for _, c := range r.reg.commands {
		words = append(words, c.name)
		words = append(words, c.aliases...)
	}
	slices.Sort(words)
	return slices.Compact(words)
}
