package commands

import (
	"context"
	"fmt"
	"strings"

	"github.com/meetbot/meetbot/chat"
	"github.com/meetbot/meetbot/meetings"
)

// help answers help and help <command>, marking what the channel's linked meeting cannot do.
func (r *Router) help(ctx context.Context, c *call) (chat.Reply, error) {
	private := false
	if link, err := r.links.get(ctx, r.cfg.Store, c.req.Channel); err == nil {
		private = link.Cloud == string(meetings.PrivateCloud)
	}
	if len(c.args) == 0 {
		return r.helpAll(private), nil
	}
	cmd, ok := r.reg.lookup(c.word(0))
	if !ok {
		return unknownReply(r.reg, c.word(0)), nil
	}
	return chat.Reply{Text: helpCommand(cmd, private)}, nil
}

// helpAll is the list of every command, grouped by section.
func (r *Router) helpAll(private bool) chat.Reply {
	return chat.Reply{Text: helpList(r.reg, private)}
}

// helpList renders the command list. On a private-cloud node it marks what the node lacks.
func helpList(g *registry, private bool) string {
	var b strings.Builder
	b.WriteString("Commands (help <command> explains one):\n")
	if private {
		b.WriteString("This channel's meeting runs on a private-cloud node; commands marked * do not work there.\n")
	}
	for _, sec := range sections {
		fmt.Fprintf(&b, "\n%s\n", sec)
		for _, c := range g.commands {
			if c.section != sec {
				continue
			}
			mark := " "
			if private && (c.private.support == unsupported || c.private.support == noEffect) {
				mark = "*"
			}
			fmt.Fprintf(&b, "%s %s — %s", mark, strings.Join(c.usage, " | "), c.summary)
			if len(c.aliases) > 0 {
				fmt.Fprintf(&b, " (also %s)", strings.Join(c.aliases, ", "))
			}
			if c.rights > chat.Anyone {
				fmt.Fprintf(&b, " [%s]", c.rights)
			}
			b.WriteByte('\n')
		}
	}
	return strings.TrimRight(b.String(), "\n")
}

// helpCommand renders the long help of one command.
func helpCommand(c *command, private bool) string {
	var b strings.Builder
	for _, u := range c.usage {
		fmt.Fprintf(&b, "%s\n", u)
	}
	fmt.Fprintf(&b, "%s\n", c.help)
	if len(c.aliases) > 0 {
		fmt.Fprintf(&b, "Also: %s.\n", strings.Join(c.aliases, ", "))
	}
	fmt.Fprintf(&b, "Who may: %s.\n", rightsPhrase(c.rights))
	if note := privateNote(c); note != "" {
		if private {
			fmt.Fprintf(&b, "This channel's meeting runs on a private-cloud node: %s\n", note)
		} else {
			fmt.Fprintf(&b, "On a private-cloud node: %s\n", note)
		}
	}
	if len(c.examples) > 0 {
		b.WriteString("Examples:\n")
		for _, e := range c.examples {
			fmt.Fprintf(&b, "  %s\n", e)
		}
	}
	return strings.TrimRight(b.String(), "\n")
}

// privateNote says in one sentence what c does on a private-cloud node, or "" when it works as
// anywhere else.
func privateNote(c *command) string {
	switch rule := c.private; {
	case rule.support == unsupported:
		return fmt.Sprintf("not available (the node does not support %s).", rule.what)
	case rule.support == noEffect:
		return "no effect (the node accepts it and does nothing)."
	case rule.support == confirmOnly:
		return upperFirst(rule.what) + " The bot asks to confirm first."
	case len(rule.protocols) > 0:
		return fmt.Sprintf("only %s.", strings.Join(rule.protocols, " and "))
	}
	return ""
}

func rightsPhrase(r chat.Rights) string {
	switch r {
	case chat.Anyone:
		return "anyone"
	case chat.Member:
		return "members of the channel"
	case chat.Host:
		return "hosts"
	}
	return "channel admins"
}
